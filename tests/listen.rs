//! Issue 17: `decnet listen` with real senders: `logger` over UDP and over TCP
//! with both RFC 6587 framings, and rsyslog forwarding a file with
//! octet-counted framing (the configuration docs/ingest.md shows).

use decnet_it::*;
use postgres::Client;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

struct Listener {
    child: Child,
    stdout: BufReader<ChildStdout>,
    udp: u16,
    tcp: u16,
}

/// `decnet listen` on free loopback ports, as a decnet_ingest login role.
fn listen(db: &str, admin: &mut Client) -> Listener {
    let sensor = format!("{db}_sensor");
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {sensor}; CREATE ROLE {sensor} LOGIN IN ROLE decnet_ingest"
        ))
        .unwrap();
    let dsn = dsn_for(db).replace("user=postgres", &format!("user={sensor}"));
    let mut child = Command::new(
        std::env::var("DECNET_BIN").expect("DECNET_BIN is not set: run through `./x test`"),
    )
    .env_remove("DECNET_DSN")
    .args([
        "--dsn",
        &dsn,
        "listen",
        "--udp",
        "127.0.0.1:0",
        "--tcp",
        "127.0.0.1:0",
        "--status-every",
        "0",
    ])
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut port = |proto: &str| -> u16 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix(&format!("listening {proto} "))
            .unwrap_or_else(|| panic!("{line:?}"));
        addr.rsplit(':').next().unwrap().parse().unwrap()
    };
    let (udp, tcp) = (port("udp"), port("tcp"));
    Listener {
        child,
        stdout,
        udp,
        tcp,
    }
}

impl Listener {
    /// SIGTERM: the batch in hand is stored, exit 0; returns the final stdout line.
    fn stop(mut self) -> String {
        // SAFETY: kill(2) of our own child
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
        assert!(self.child.wait().unwrap().success());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        rest
    }
}

fn wait_for(c: &mut Client, sql: &str, n: i64) {
    let start = Instant::now();
    while count(c, sql) < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{sql}: {} of {n} after 60 s",
            count(c, sql)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `logger` reading messages from stdin, one per line.
fn logger(args: &[&str], messages: &[String]) {
    let mut child = Command::new("logger")
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .expect("logger (bsdutils) runs");
    let mut stdin = child.stdin.take().unwrap();
    for m in messages {
        writeln!(stdin, "{m}").unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn logger_messages_arrive_once_over_udp_and_both_tcp_framings() {
    let db = "it_listen_logger";
    let mut admin = migrated_db(db);
    let l = listen(db, &mut admin);
    let (udp, tcp) = (l.udp.to_string(), l.tcp.to_string());
    let batch = |tag: &str| {
        (0..200)
            .map(|i| format!("{tag} message {i} from 198.51.100.{}", i % 7))
            .collect::<Vec<_>>()
    };
    logger(
        &["--rfc5424", "-d", "-n", "127.0.0.1", "-P", &udp],
        &batch("udp"),
    );
    logger(
        &["--rfc5424", "-T", "-n", "127.0.0.1", "-P", &tcp],
        &batch("tcp-lf"),
    );
    logger(
        &[
            "--rfc5424",
            "-T",
            "--octet-count",
            "-n",
            "127.0.0.1",
            "-P",
            &tcp,
        ],
        &batch("tcp-octet"),
    );
    // UDP can lose datagrams before they reach the listener (kernel buffers); on loopback at this rate it does not
    wait_for(&mut admin, "SELECT count(*) FROM decnet.logs", 600);
    let out = l.stop();
    assert!(out.contains("stopped: 600 messages stored"), "{out}");
    let msgs: Vec<String> = column(
        &mut admin,
        "SELECT msg FROM decnet.logs WHERE parse_status = 'ok'",
    );
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for m in &msgs {
        *seen.entry(m.as_str()).or_default() += 1;
    }
    for tag in ["udp", "tcp-lf", "tcp-octet"] {
        for m in batch(tag) {
            assert_eq!(seen.get(m.as_str()), Some(&1), "{m}");
        }
    }
    // RFC 5424 headers parsed from what logger wrote
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM decnet.logs WHERE raw_line LIKE '<13>1 %' AND ts IS NOT NULL"
        ),
        600
    );
}

#[test]
fn rsyslog_forwards_a_file_byte_for_byte_over_octet_counted_tcp() {
    let db = "it_listen_rsyslog";
    let mut admin = migrated_db(db);
    let l = listen(db, &mut admin);
    let dir = scratch_file("listen-rsyslog");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("decnet.log");
    let data = std::fs::read(corpus(5_000, 31)).unwrap();
    std::fs::write(&log, &data).unwrap();
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/ingest.md"),
    )
    .unwrap();
    let start = doc
        .find("```rsyslog-forward\n")
        .expect("docs/ingest.md has the forwarding block")
        + "```rsyslog-forward\n".len();
    let block = &doc[start..start + doc[start..].find("```").unwrap()];
    let conf = format!("global(workDirectory=\"{}\")\n", dir.display())
        + &block
            .replace("/var/log/decnet/decnet.log", log.to_str().unwrap())
            .replace("port=\"5514\"", &format!("port=\"{}\"", l.tcp));
    std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
    let mut rsyslogd = Command::new("rsyslogd")
        .arg("-n")
        .arg("-f")
        .arg(dir.join("rsyslog.conf"))
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("rsyslogd runs");

    // imfile skips empty lines; every other line, NUL and all, arrives as written
    let expected: Vec<&[u8]> = file_lines(&data)
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
    assert!(
        expected.iter().any(|l| l.contains(&0)),
        "the corpus holds NUL lines"
    );
    let started = Instant::now();
    while count(&mut admin, "SELECT count(*) FROM decnet.logs") < expected.len() as i64 {
        if let Some(status) = rsyslogd.try_wait().unwrap() {
            panic!(
                "rsyslogd exited ({status}): {:?}",
                rsyslogd.stderr.take().map(std::io::read_to_string)
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "only {} of {} lines",
            count(&mut admin, "SELECT count(*) FROM decnet.logs"),
            expected.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) of our own child
    unsafe { libc::kill(rsyslogd.id() as i32, libc::SIGTERM) };
    rsyslogd.wait().unwrap();
    l.stop();

    let stored = stored_lines(&mut admin);
    let mut have: HashMap<&[u8], usize> = HashMap::new();
    for s in &stored {
        *have.entry(s.as_slice()).or_default() += 1;
    }
    let mut want: HashMap<&[u8], usize> = HashMap::new();
    for e in &expected {
        *want.entry(*e).or_default() += 1;
    }
    let wrong = want.iter().filter(|(l, n)| have.get(*l) != Some(n)).count();
    assert_eq!(
        wrong, 0,
        "{wrong} distinct lines not stored exactly once, byte for byte"
    );
    assert_eq!(stored.len(), expected.len());
    assert_eq!(count(&mut admin, "SELECT count(*) FROM decnet.verify()"), 0);
}
