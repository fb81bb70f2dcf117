//! Issue 21: exports real consumers accept, and alerts that reach a flaky
//! webhook once each (by key) across a notifier crash (docs/sharing.md).

use decnet_it::*;
use postgres::Client;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "decnet failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs the real consumer libraries (stix2, pymisp) from ./x's venv on a script.
fn python(script: &str, args: &[&Path]) -> String {
    let py =
        std::env::var("DECNET_PYTHON").expect("DECNET_PYTHON is not set: run through `./x test`");
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn line(ts: &str, host: &str, app: &str, msgid: &str, sd: &str) -> String {
    format!("<134>1 {ts} {host} {app} - {msgid} [relay@55555 {sd}]\n")
}

/// Planted on top of a corpus: a credential a spreadsheet would run as a
/// formula, and a watched SMTP victim domain.
fn planted() -> String {
    let mut out = String::new();
    out += &line(
        "2026-05-01T00:00:01+00:00",
        "ssh-03",
        "auth-helper",
        "auth_attempt",
        r#"username="=HYPERLINK(1)+@SUM(A1)" principal="=HYPERLINK(1)+@SUM(A1)" secret_printable="x" secret_b64="eA==" src_ip="203.0.113.77""#,
    );
    out += &line(
        "2026-05-01T00:00:02+00:00",
        "mail-relay-01",
        "smtp",
        "rcpt_denied",
        r#"src="203.0.113.78" value="<ceo@acme-watch.com>""#,
    );
    out
}

const CHECK_EXPORTS: &str = r#"
import json, sys
import stix2
from pymisp import MISPEvent

bundle = stix2.parse(open(sys.argv[1]).read(), allow_custom=False)
types = {}
for o in bundle.objects:
    types[o.type] = types.get(o.type, 0) + 1
    if o.type in ("ipv4-addr", "ipv6-addr"):
        cls = stix2.IPv4Address if o.type == "ipv4-addr" else stix2.IPv6Address
        assert cls(value=o.value).id == o.id, ("address id", o.id)
event = MISPEvent()
event.load_file(sys.argv[2])
attrs = {}
for a in event.attributes:
    attrs[a.type] = attrs.get(a.type, 0) + 1
print(json.dumps({"stix": types, "misp": attrs, "misp_uuid": event.uuid}))
"#;

#[test]
fn exports_load_in_stix2_and_pymisp_with_stable_ids() {
    let db = "it_sharing_export";
    let mut c = migrated_db(db);
    let dsn = dsn_for(db);
    let mut data = std::fs::read(corpus(5_000, 21)).unwrap();
    data.extend_from_slice(planted().as_bytes());
    ingest_bytes(&mut c, &data);
    c.batch_execute(
        "SELECT * FROM decnet.rollup(100000); SELECT * FROM decnet.recluster_identities()",
    )
    .unwrap();
    let attackers = count(&mut c, "SELECT count(*) FROM decnet.attackers");
    let multi = count(
        &mut c,
        "SELECT count(*) FROM decnet.attacker_identities WHERE member_count > 1 AND merged_into IS NULL",
    );
    assert!(
        attackers > 100 && multi > 0,
        "{attackers} attackers, {multi} identities"
    );

    let dir = scratch_dir("sharing");
    let export = |format: &str, file: &str| {
        let path = dir.join(file);
        ok(decnet_command(&dsn)
            .args(["export", format, "-o"])
            .arg(&path)
            .output()
            .unwrap());
        path
    };
    let stix = export("stix", "bundle.json");
    let misp = export("misp", "event.json");
    let stix_again = export("stix", "bundle-again.json");
    assert_eq!(
        std::fs::read(&stix).unwrap(),
        std::fs::read(&stix_again).unwrap(),
        "exporting twice gives the same bundle, ids included"
    );

    let seen: serde_json::Value =
        serde_json::from_str(&python(CHECK_EXPORTS, &[&stix, &misp])).unwrap();
    let n = |v: &serde_json::Value| v.as_i64().unwrap_or(0);
    let stix_types = &seen["stix"];
    assert_eq!(
        n(&stix_types["ipv4-addr"]) + n(&stix_types["ipv6-addr"]),
        attackers
    );
    assert_eq!(n(&stix_types["observed-data"]), attackers);
    assert!(
        n(&stix_types["indicator"]) > attackers,
        "fingerprint indicators too"
    );
    assert_eq!(n(&stix_types["infrastructure"]), multi);
    assert_eq!(n(&seen["misp"]["ip-src"]), attackers);
    assert!(n(&seen["misp"]["hassh-md5"]) + n(&seen["misp"]["ja3-fingerprint-md5"]) > 0);

    // ATT&CK Navigator: attackers per technique
    let layer: serde_json::Value = serde_json::from_str(&ok(decnet_command(&dsn)
        .args(["export", "navigator"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(layer["domain"], "enterprise-attack");
    let score = |t: &str| {
        layer["techniques"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["techniqueID"] == t)
            .and_then(|x| x["score"].as_i64())
    };
    assert_eq!(
        score("T1110.001"),
        Some(count(
            &mut c,
            "SELECT count(*) FROM decnet.attackers WHERE credential_count > 0"
        ))
    );
    // an independent reading of one rule: uname, hostname, lscpu… are system information discovery
    let discovery = count(
        &mut c,
        "SELECT count(DISTINCT attacker_ip) FROM decnet.attacker_commands
         WHERE lower(command) ~ '(uname|hostname|/proc/cpuinfo|lscpu|nproc|uptime|free -|df -|cat /etc/os-release)'",
    );
    assert!(discovery > 0);
    assert_eq!(score("T1082"), Some(discovery));

    // a window and a list of addresses narrow the export
    let one: serde_json::Value = serde_json::from_str(&ok(decnet_command(&dsn)
        .args(["export", "stix", "--ip", "203.0.113.77"])
        .output()
        .unwrap()))
    .unwrap();
    let addrs: Vec<&str> = one["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "ipv4-addr")
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert_eq!(addrs, ["203.0.113.77"]);
    let none: serde_json::Value = serde_json::from_str(&ok(decnet_command(&dsn)
        .args(["export", "misp", "--since", "2100-01-01"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(none["Event"]["Attribute"].as_array().unwrap().len(), 0);

    // CSV: one line per row plus the header, formulas defused
    let csv = ok(decnet_command(&dsn)
        .args(["export", "csv", "attackers"])
        .output()
        .unwrap());
    assert_eq!(csv.lines().count() as i64, attackers + 1);
    let creds = ok(decnet_command(&dsn)
        .args(["export", "csv", "credentials"])
        .output()
        .unwrap());
    let hostile = creds
        .lines()
        .find(|l| l.starts_with("203.0.113.77,"))
        .expect("the planted credential");
    assert!(hostile.contains(",'=HYPERLINK(1)+@SUM(A1),"), "{hostile}");
    assert!(!creds
        .lines()
        .any(|l| l.split(',').any(|f| f.starts_with('='))));
    let smtp = ok(decnet_command(&dsn)
        .args(["export", "csv", "smtp_domains"])
        .output()
        .unwrap());
    assert!(
        smtp.lines()
            .any(|l| l.starts_with("acme-watch.com,203.0.113.78,1,")),
        "{smtp}"
    );
    // JSON Lines of any table, and a clear error for what is not one
    let jsonl = ok(decnet_command(&dsn)
        .args(["export", "jsonl", "attacker_behavior"])
        .output()
        .unwrap());
    assert_eq!(
        jsonl.lines().count() as i64,
        count(&mut c, "SELECT count(*) FROM decnet.attacker_behavior")
    );
    for l in jsonl.lines() {
        let row: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(row["behavior_class"].is_string());
    }
    let bad = decnet_command(&dsn)
        .args(["export", "jsonl", "pg_authid"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("42P01"));
}

/// What the webhook saw: every request, and which ones it acknowledged.
#[derive(Default)]
struct Seen {
    /// (path, Idempotency-Key, body) of every complete request
    requests: Vec<(String, String, String)>,
    /// (path, key) answered 2xx
    acknowledged: Vec<(String, String)>,
}

/// A webhook on loopback that answers 500 to about a quarter of the requests
/// and hangs (no answer for 3 s, then a closed connection) on about a sixth.
fn flaky_webhook(listener: TcpListener, seen: Arc<Mutex<Seen>>) {
    std::thread::spawn(move || {
        let mut n = 0u64;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            n += 1;
            let seen = seen.clone();
            std::thread::spawn(move || serve(stream, n, &seen));
        }
    });
}

fn serve(mut s: TcpStream, n: u64, seen: &Mutex<Seen>) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let len: usize = header("content-length").parse().unwrap_or(0);
    while buf.len() < head_end + len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    let key = header("idempotency-key");
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
    seen.lock()
        .unwrap()
        .requests
        .push((path.clone(), key.clone(), body));
    // a fixed pseudo-random mix, the same every run
    let roll = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58; // 0..63
    if roll < 11 {
        std::thread::sleep(Duration::from_secs(3)); // hang past the client's timeout
        return;
    }
    let status = if roll < 27 {
        "500 Internal Server Error"
    } else {
        "200 OK"
    };
    let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    if s.write_all(reply.as_bytes()).is_ok() && status.starts_with("200") {
        seen.lock().unwrap().acknowledged.push((path, key));
    }
}

/// The notifier, its complaints going to `log` (a pipe nobody reads could fill up).
fn notifier(dsn: &str, log: &Path) -> Child {
    decnet_command(dsn)
        .args([
            "notify",
            "--timeout-ms",
            "400",
            "--lease-s",
            "2",
            "--backoff-ms",
            "50",
            "--backoff-max-ms",
            "300",
            "--poll-ms",
            "50",
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

#[test]
fn alerts_reach_a_flaky_webhook_once_each_across_a_crash() {
    let db = "it_sharing_alerts";
    let mut c = migrated_db(db);
    let user = format!("{db}_notifier");
    c.batch_execute(&format!(
        "DROP ROLE IF EXISTS {user}; CREATE ROLE {user} LOGIN IN ROLE decnet_notifier"
    ))
    .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    flaky_webhook(listener, seen.clone());
    // a third endpoint nobody listens on until the notifier has been killed
    let late_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    c.batch_execute(&format!(
        "INSERT INTO decnet.alert_webhooks (name, url, format) VALUES
             ('soc', 'http://127.0.0.1:{port}/soc', 'json'),
             ('chat', 'http://127.0.0.1:{port}/chat', 'slack'),
             ('late', 'http://127.0.0.1:{late_port}/late', 'misp');
         UPDATE decnet.alert_rules SET watch = '{{acme-watch.com}}' WHERE kind = 'smtp_domain';"
    ))
    .unwrap();

    let mut data = std::fs::read(corpus(3_000, 22)).unwrap();
    data.extend_from_slice(planted().as_bytes());
    ingest_bytes(&mut c, &data);
    c.batch_execute("SELECT * FROM decnet.rollup(100000)")
        .unwrap();
    let alerts: BTreeMap<String, String> = c
        .query("SELECT uuid::text, kind FROM decnet.alerts", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let kinds: BTreeSet<&str> = alerts.values().map(String::as_str).collect();
    for kind in ["interacted", "traversal", "smtp_domain"] {
        assert!(kinds.contains(kind), "no {kind} alert among {kinds:?}");
    }
    let n = alerts.len() as i64;
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.alert_outbox"),
        3 * n
    );
    assert_eq!(
        count(&mut c, "SELECT alerts_queued FROM decnet.stats()"),
        3 * n
    );
    // a second look at the same attackers raises nothing new
    assert_eq!(
        count(
            &mut c,
            "SELECT decnet.raise_alerts(ARRAY(SELECT ip FROM decnet.attackers))::bigint"
        ),
        0
    );

    // the notifier runs as decnet_notifier; it is SIGKILLed once mid-way
    let dsn = dsn_for(db).replace("user=postgres", &format!("user={user}"));
    let log = scratch_dir("notify").join("notify.log");
    let child = notifier(&dsn, &log);
    // it runs until every delivery to the unreachable endpoint has been tried
    // and refused (they all wait, none dropped), then dies mid-work
    let start = Instant::now();
    while count(
        &mut c,
        "SELECT count(*) FROM decnet.alert_outbox WHERE webhook = 'late' AND last_error IS NOT NULL",
    ) < n
    {
        assert!(start.elapsed() < Duration::from_secs(120), "late never tried");
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait_with_output();
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.alert_outbox WHERE webhook = 'late'"
        ),
        n
    );
    flaky_webhook(
        TcpListener::bind(("127.0.0.1", late_port)).unwrap(),
        seen.clone(),
    );
    let mut child = notifier(&dsn, &log);
    let start = Instant::now();
    while count(&mut c, "SELECT count(*) FROM decnet.alert_outbox") > 0 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the notifier stopped ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "the outbox did not drain"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: as above
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());

    let seen = seen.lock().unwrap();
    for path in ["/soc", "/chat", "/late"] {
        let acked: BTreeSet<&str> = seen
            .acknowledged
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, k)| k.as_str())
            .collect();
        let expected: BTreeSet<&str> = alerts.keys().map(String::as_str).collect();
        assert_eq!(
            acked, expected,
            "{path}: every alert acknowledged, by its own key"
        );
    }
    // every request for one key carried the same alert: retries are repeats, never new alerts
    let mut bodies: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for (path, key, body) in &seen.requests {
        bodies.entry((path, key)).or_default().insert(body);
        if path == "/soc" {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(
                v["id"].as_str(),
                Some(key.as_str()),
                "the key is the alert's id"
            );
        }
    }
    assert!(bodies.values().all(|b| b.len() == 1));
    // the misp webhook got MISP events PyMISP loads, each named after its alert
    let misp_bodies: Vec<&(String, String, String)> = seen
        .requests
        .iter()
        .filter(|(p, _, _)| p == "/late")
        .collect();
    for (_, key, body) in &misp_bodies {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["Event"]["info"].as_str().unwrap().contains(key.as_str()));
    }
    let sample = scratch_dir("notify").join("misp-alert.json");
    std::fs::write(&sample, &misp_bodies[0].2).unwrap();
    let loaded = python(
        "import sys\nfrom pymisp import MISPEvent\ne = MISPEvent()\ne.load_file(sys.argv[1])\n\
         print(\",\".join(sorted({a.type for a in e.attributes})))",
        &[&sample],
    );
    assert!(loaded.trim().split(',').any(|t| t == "ip-src"), "{loaded}");
    assert!(
        seen.requests.len() > seen.acknowledged.len(),
        "the webhook failed some requests ({} requests)",
        seen.requests.len()
    );
    let slack: serde_json::Value = serde_json::from_str(
        &seen
            .requests
            .iter()
            .find(|(p, _, b)| p == "/chat" && b.contains("acme-watch.com"))
            .expect("the watched domain reached the chat")
            .2,
    )
    .unwrap();
    assert!(slack["text"]
        .as_str()
        .unwrap()
        .contains("smtp_domain 203.0.113.78"));
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.alert_deliveries"),
        3 * n
    );
    // stats(): nothing queued, so no age either
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.stats() WHERE alerts_queued = 0 AND oldest_queued_alert_age IS NULL"),
        1
    );
    let _ = Client::close(c);
}
