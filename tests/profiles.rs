//! Attacker profiles on a 100k-line corpus, ingested out of order in ten COPY
//! statements, against values computed here from the stored lines by the
//! tests' own reader (decnet_it::oracle), and against decnet.verify().

use decnet_it::oracle;
use decnet_it::*;
use std::collections::{BTreeMap, BTreeSet};

const N: usize = 100_000;
const KEPT: usize = 50; // decnet.commands_kept_per_end()

/// Microseconds since the epoch of the generator's ISO timestamps (UTC offset or naive).
fn micros(ts: &str) -> Option<i64> {
    let body = ts.strip_suffix("+00:00").unwrap_or(ts); // naive means UTC
    let (date, time) = body.split_once('T')?;
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if d.len() != 3 || t.len() != 3 || d[0] != 2026 || d[1] != 5 {
        return None; // the corpus spans a few hours of 2026-05
    }
    let frac: i64 = format!("{frac:0<6}")[..6].parse().ok()?;
    let days = 20574 + (d[2] - 1); // 2026-05-01 is day 20574 of the epoch
    Some(((days * 24 + t[0]) * 60 + t[1]) * 60_000_000 + t[2] * 1_000_000 + frac)
}

#[derive(Default)]
struct Expected {
    events: i64,
    first: Option<i64>,
    last: Option<i64>,
    services: BTreeSet<String>,
    deckies: BTreeMap<String, (Option<i64>, i64)>,
    commands: Vec<(Option<i64>, i64, String)>,
    credentials: BTreeSet<(Option<String>, Option<String>, String, String)>,
    /// One bounty per User-Agent, whatever the requests (correction #47).
    user_agents: BTreeSet<String>,
    smtp: BTreeMap<String, i64>,
}

/// The tests' own reading of spec §D.4: domain of a recipient address.
fn smtp_domain(v: &str) -> Option<String> {
    let re = regex::Regex::new(r"<?[^\s<>@]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})>?").unwrap();
    let d = re.captures(v.trim())?[1]
        .to_lowercase()
        .trim_matches('.')
        .to_string();
    let tld = d.rsplit('.').next()?.to_string();
    (!d.is_empty() && !["invalid", "test", "localhost", "local", "example"].contains(&tld.as_str()))
        .then_some(d)
}

#[test]
fn corpus_100k_profiles_match_an_independent_computation() {
    let mut c = migrated_db("it_profiles");
    let data = std::fs::read(corpus(N, 5)).unwrap();
    let lines = file_lines(&data);
    let chunks: Vec<&[&[u8]]> = lines.chunks(N / 10).collect();
    for chunk in chunks.iter().rev() {
        let mut buf = Vec::new();
        for l in chunk.iter() {
            buf.extend_from_slice(l);
            buf.push(b'\n');
        }
        ingest_bytes(&mut c, &buf);
    }

    let mut exp: BTreeMap<String, Expected> = BTreeMap::new();
    let rows = c.query("SELECT id, coalesce(convert_from(raw_bytes, 'UTF8'), raw_line) FROM decnet.logs WHERE raw_bytes IS NULL ORDER BY id", &[]).unwrap();
    for r in &rows {
        let (id, raw): (i64, String) = (r.get(0), r.get(1));
        let Some(line) = oracle::read(&raw) else {
            continue;
        };
        let Some(ip) = line.ip else { continue };
        let e = exp.entry(ip.to_string()).or_default();
        let ts = micros(&line.ts);
        e.events += 1;
        if let Some(t) = ts {
            e.first = Some(e.first.map_or(t, |f| f.min(t)));
            e.last = Some(e.last.map_or(t, |l| l.max(t)));
        }
        if let Some(s) = line
            .service
            .as_ref()
            .filter(|s| *s != "sniffer" && *s != "prober")
        {
            e.services.insert(s.clone());
        }
        if let Some(d) = line.decky.as_ref().filter(|d| !d.starts_with("decnet-")) {
            let slot = e.deckies.entry(d.clone()).or_insert((ts, id));
            slot.0 = match (slot.0, ts) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            slot.1 = slot.1.min(id);
        }
        if let Some(cmd) = line.command() {
            e.commands.push((ts, id, cmd.to_string()));
        }
        if let Some(b64) = line.fields.get("secret_b64") {
            let principal = line
                .fields
                .get("principal")
                .or(line.fields.get("username"))
                .filter(|p| !p.is_empty())
                .cloned()
                .unwrap_or_default();
            e.credentials.insert((
                line.decky.clone(),
                line.service.clone(),
                b64.clone(),
                principal,
            ));
        }
        let smtp_service = matches!(line.service.as_deref(), Some("smtp" | "smtp_relay"));
        if smtp_service && matches!(line.event_type.as_deref(), Some("rcpt_to" | "rcpt_denied")) {
            if let Some(d) = line.fields.get("value").and_then(|v| smtp_domain(v)) {
                *e.smtp.entry(d).or_default() += 1;
            }
        }
        if let Some(h) = line.fields.get("headers") {
            if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(h) {
                if let Some(ua) = m
                    .get("User-Agent")
                    .or(m.get("user-agent"))
                    .and_then(|v| v.as_str())
                {
                    e.user_agents.insert(ua.to_string());
                }
            }
        }
    }
    // binary lines carry no attacker in this corpus; they are checked in tests/hostile.rs
    assert!(exp.len() > 3_000, "{} attackers", exp.len());

    let got = c
        .query(
            "SELECT host(ip), event_count, (extract(epoch FROM first_seen) * 1000000)::bigint, (extract(epoch FROM last_seen) * 1000000)::bigint,
                    services, deckies, traversal_path, is_traversal, command_count,
                    ARRAY(SELECT x->>'command' FROM jsonb_array_elements(commands) x), credential_count,
                    (SELECT count(*) FROM decnet.bounties b WHERE b.attacker_ip = a.ip AND b.fingerprint_type = 'http_useragent'),
                    service_count, decky_count
             FROM decnet.attackers a",
            &[],
        )
        .unwrap();
    assert_eq!(got.len(), exp.len(), "attacker count");
    let (mut traversals, mut with_commands, mut with_creds) = (0, 0, 0);
    for r in &got {
        let ip: String = r.get(0);
        let e = exp
            .get(&ip)
            .unwrap_or_else(|| panic!("unexpected attacker {ip}"));
        assert_eq!(r.get::<_, i64>(1), e.events, "{ip} events");
        assert_eq!(
            (r.get::<_, Option<i64>>(2), r.get::<_, Option<i64>>(3)),
            (e.first, e.last),
            "{ip} first/last"
        );
        // the programs seen here, counted as their service families (correction #55)
        let programs: Vec<&str> = e.services.iter().map(String::as_str).collect();
        let families = decnet_core::family::service_families(&programs);
        let services: Vec<String> = r.get(4);
        assert_eq!(services, families, "{ip} services");
        assert_eq!(r.get::<_, i32>(12) as usize, families.len());
        let mut deckies: Vec<(&String, &(Option<i64>, i64))> = e.deckies.iter().collect();
        deckies.sort_by_key(|(_, &(ts, id))| (ts.is_none(), ts, id));
        let deckies: Vec<String> = deckies.into_iter().map(|(d, _)| d.clone()).collect();
        assert_eq!(r.get::<_, Vec<String>>(5), deckies, "{ip} deckies");
        assert_eq!(r.get::<_, i32>(13) as usize, deckies.len());
        let path = (deckies.len() >= 2).then(|| deckies.join(" → "));
        assert_eq!(r.get::<_, Option<String>>(6), path, "{ip} path");
        assert_eq!(r.get::<_, bool>(7), deckies.len() >= 2);
        traversals += (deckies.len() >= 2) as usize;
        let mut cmds = e.commands.clone();
        cmds.sort_by_key(|(ts, id, _)| (ts.is_none(), *ts, *id));
        let n = cmds.len();
        let kept: Vec<String> = cmds
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i < KEPT || *i >= n.saturating_sub(KEPT))
            .map(|(_, c)| c.2)
            .collect();
        assert_eq!(r.get::<_, i64>(8) as usize, n, "{ip} command_count");
        assert_eq!(r.get::<_, Vec<String>>(9), kept, "{ip} commands");
        with_commands += (n > 0) as usize;
        assert_eq!(
            r.get::<_, i64>(10) as usize,
            e.credentials.len(),
            "{ip} credentials"
        );
        with_creds += (!e.credentials.is_empty()) as usize;
        assert_eq!(
            r.get::<_, i64>(11) as usize,
            e.user_agents.len(),
            "{ip} user-agent bounties"
        );
    }
    assert!(
        traversals > 100 && with_commands > 50 && with_creds > 500,
        "{traversals} {with_commands} {with_creds}"
    );
    // recipients per (attacker, victim domain), counted here from rcpt_to/rcpt_denied lines
    let expected_smtp: BTreeMap<(String, String), i64> = exp
        .iter()
        .flat_map(|(ip, e)| {
            e.smtp
                .iter()
                .map(move |(d, n)| ((ip.clone(), d.clone()), *n))
        })
        .collect();
    let got_smtp: BTreeMap<(String, String), i64> = c
        .query(
            "SELECT host(attacker_ip), domain, count FROM decnet.smtp_targets",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    assert!(expected_smtp.len() > 100, "{}", expected_smtp.len());
    assert_eq!(got_smtp, expected_smtp);
    let relay_domains = count(&mut c, "SELECT count(*) FROM decnet.smtp_targets t JOIN decnet.logs l ON l.attacker_ip = t.attacker_ip AND l.service = 'smtp_relay' AND l.event_type = 'rcpt_to'");
    assert!(
        relay_domains > 0,
        "smtp_relay recipients count (DECNET ignores them)"
    );

    // no attacker is keyed host:port and the prober never appears as a decky
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.attackers WHERE 'decnet-prober' = ANY (deckies) OR 'sniffer' = ANY (services)"), 0);
    assert!(count(&mut c, "SELECT count(*) FROM decnet.bounties") > 1_000);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}

#[test]
fn an_attacker_with_many_commands_stays_bounded() {
    let mut c = migrated_db("it_commands");
    let mut data = Vec::new();
    for i in 0..20_000 {
        data.extend_from_slice(
            format!("<134>1 2026-05-01T{:02}:{:02}:{:02}+00:00 decky-01 ssh - command [relay@55555 src_ip=\"6.6.6.6\" command=\"echo {i}\"]\n", i / 3600, i / 60 % 60, i % 60)
                .as_bytes(),
        );
    }
    for chunk in data
        .split_inclusive(|&b| b == b'\n')
        .collect::<Vec<_>>()
        .chunks(4_000)
    {
        ingest_bytes(&mut c, &chunk.concat());
    }
    assert_eq!(
        count(&mut c, "SELECT command_count FROM decnet.attackers"),
        20_000
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.attacker_commands"),
        2 * KEPT as i64
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT jsonb_array_length(commands)::bigint FROM decnet.attackers"
        ),
        2 * KEPT as i64
    );
    let first: String = c
        .query_one("SELECT commands->0->>'command' FROM decnet.attackers", &[])
        .unwrap()
        .get(0);
    let last: String = c
        .query_one("SELECT commands->-1->>'command' FROM decnet.attackers", &[])
        .unwrap()
        .get(0);
    assert_eq!((first.as_str(), last.as_str()), ("echo 0", "echo 19999"));
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}
