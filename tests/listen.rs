//! Issue 17: `decnet listen` with real senders: `logger` over UDP and over TCP
//! with both RFC 6587 framings, and rsyslog forwarding a file with
//! octet-counted framing (the configuration docs/ingest.md shows).

use decnet_it::*;
use postgres::Client;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

struct Listener {
    child: Child,
    stdout: BufReader<ChildStdout>,
    udp: u16,
    tcp: u16,
    relp: Option<u16>,
    tls: Option<u16>,
}

/// `decnet listen` on free loopback ports, as a decnet_ingest login role
/// (and on a RELP port, 0 for a free one).
fn listen(db: &str, admin: &mut Client) -> Listener {
    create_sensor(db, admin);
    start_listener(db, None)
}

fn create_sensor(db: &str, admin: &mut Client) {
    let sensor = format!("{db}_sensor");
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {sensor}; CREATE ROLE {sensor} LOGIN IN ROLE decnet_ingest"
        ))
        .unwrap();
}

fn start_listener(db: &str, relp_port: Option<u16>) -> Listener {
    start_listener_with(db, relp_port, &[])
}

fn start_listener_with(db: &str, relp_port: Option<u16>, extra: &[String]) -> Listener {
    let dsn = dsn_for(db).replace("user=postgres", &format!("user={db}_sensor"));
    let mut args = vec![
        "--dsn".to_string(),
        dsn,
        "listen".into(),
        "--udp".into(),
        "127.0.0.1:0".into(),
        "--tcp".into(),
        "127.0.0.1:0".into(),
    ];
    if let Some(p) = relp_port {
        args.extend(["--relp".to_string(), format!("127.0.0.1:{p}")]);
    }
    args.extend(["--status-every".to_string(), "0".into()]);
    args.extend(extra.iter().cloned());
    let mut child = Command::new(
        std::env::var("DECNET_BIN").expect("DECNET_BIN is not set: run through `./x test`"),
    )
    .env_remove("DECNET_DSN")
    .args(&args)
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
    let relp = relp_port.map(|_| port("relp"));
    let tls = (!extra.is_empty()).then(|| port("tls"));
    Listener {
        child,
        stdout,
        udp,
        tcp,
        relp,
        tls,
    }
}

/// A test that fails leaves no listener running.
impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Listener {
    fn kill(mut self) {
        // SAFETY: kill(2) of our own child
        unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
        self.child.wait().unwrap();
    }

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

/// Every line of `data` the sender can carry (imfile skips empty lines;
/// omrelp, which passes messages as C strings, cannot carry a NUL).
fn expected_lines(data: &[u8], carries_nul: bool) -> Vec<&[u8]> {
    file_lines(data)
        .into_iter()
        .filter(|l| !l.is_empty() && (carries_nul || !l.contains(&0)))
        .collect()
}

/// What was stored of the lines of `data` the sender can carry; nothing
/// nobody wrote may be stored.
fn stored_counts(admin: &mut Client, data: &[u8], carries_nul: bool) -> Tally {
    let t = tally(admin, &expected_lines(data, carries_nul));
    let unknown: Vec<String> = t
        .unknown
        .iter()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    assert!(unknown.is_empty(), "stored lines nobody wrote: {unknown:?}");
    t
}

/// A block's documented port setting, replaced by the listener's port.
fn port(documented: &'static str, port: u16) -> (&'static str, String) {
    (documented, format!("port=\"{port}\""))
}

/// rsyslogd runs the documented block `tag` on `data` into listener `l`:
/// every line it can carry arrives once, byte for byte, and verify() is empty.
fn assert_rsyslog_delivers_once(
    admin: &mut Client,
    l: Listener,
    tag: &str,
    data: &[u8],
    carries_nul: bool,
    replacements: &[(&str, String)],
) {
    let mut r = rsyslogd(&format!("listen-{tag}"), tag, data, replacements);
    let n = expected_lines(data, carries_nul).len();
    wait_for_rsyslog(admin, &mut r, n as i64, 90);
    std::thread::sleep(Duration::from_millis(500));
    stop_rsyslog(r);
    l.stop();
    let t = stored_counts(admin, data, carries_nul);
    let wrong = t.not_once();
    assert_eq!(
        wrong, 0,
        "{wrong} distinct lines not stored exactly once, byte for byte"
    );
    assert_eq!(t.stored, n);
    assert_eq!(count(admin, "SELECT count(*) FROM decnet.verify()"), 0);
}

#[test]
fn rsyslog_forwards_a_file_byte_for_byte_over_octet_counted_tcp() {
    let db = "it_listen_rsyslog";
    let mut admin = migrated_db(db);
    let l = listen(db, &mut admin);
    let data = std::fs::read(corpus(5_000, 31)).unwrap();
    assert!(
        file_lines(&data).iter().any(|l| l.contains(&0)),
        "the corpus holds NUL lines"
    );
    let tcp = l.tcp;
    assert_rsyslog_delivers_once(
        &mut admin,
        l,
        "rsyslog-forward",
        &data,
        true,
        &[port("port=\"5514\"", tcp)],
    );
}

#[test]
fn rsyslog_forwards_over_tls_with_certificate_checking() {
    let db = "it_listen_tls";
    let mut admin = migrated_db(db);
    create_sensor(db, &mut admin);
    let dir = scratch_dir("listen-tls-cert");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=decnet.example",
        ])
        .args(["-addext", "subjectAltName=DNS:decnet.example", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(made.success());
    let extra = [
        "--tls",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]
    .map(String::from);
    let l = start_listener_with(db, None, &extra);
    let data = std::fs::read(corpus(3_000, 61)).unwrap();
    let replacements = [
        port("port=\"6514\"", l.tls.unwrap()),
        ("/etc/decnet/ca.pem", cert.to_str().unwrap().to_string()),
    ];
    assert_rsyslog_delivers_once(&mut admin, l, "rsyslog-tls", &data, true, &replacements);
}

#[test]
fn rsyslog_over_relp_delivers_every_line_once() {
    let db = "it_listen_relp";
    let mut admin = migrated_db(db);
    create_sensor(db, &mut admin);
    let l = start_listener(db, Some(0));
    let data = std::fs::read(corpus(5_000, 37)).unwrap();
    let relp = l.relp.unwrap();
    assert_rsyslog_delivers_once(
        &mut admin,
        l,
        "rsyslog-relp",
        &data,
        false,
        &[port("port=\"2514\"", relp)],
    );
}

/// A port outside the kernel's ephemeral range (32768 and up), free now: a
/// restarted listener gets it back, and no other test's port 0 can take it.
fn fixed_free_port(salt: u16) -> u16 {
    let base = 20_000 + (std::process::id() % 4_000) as u16 * 3 + salt;
    (base..base + 500)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port")
}

/// A RELP client as the protocol asks one to behave: a window of frames, and
/// after a broken session, every frame not answered is sent again in a new
/// one. Returns how many sessions it needed.
fn relp_send_all(port: u16, lines: &[&[u8]], window: usize) -> usize {
    use decnet_core::relp::RelpDecoder;
    use std::io::Read;
    let mut next = 0; // first line not yet answered
    let mut sessions = 0;
    while next < lines.len() {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        sessions += 1;
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let offers = b"relp_version=0\nrelp_software=decnet-it\ncommands=syslog";
        let mut out = [
            format!("1 open {} ", offers.len()).as_bytes(),
            offers,
            b"\n",
        ]
        .concat();
        let mut txnr = 1u64;
        let mut decoder = RelpDecoder::new();
        let mut buf = vec![0u8; 65_536];
        let mut answered: Vec<u64> = Vec::new();
        let ok = (|| -> std::io::Result<()> {
            while next < lines.len() {
                // one window: the frames after `next`
                let end = (next + window).min(lines.len());
                let first = txnr + 1;
                for l in &lines[next..end] {
                    txnr += 1;
                    out.extend_from_slice(format!("{txnr} syslog {} ", l.len()).as_bytes());
                    out.extend_from_slice(l);
                    out.push(b'\n');
                }
                s.write_all(&out)?;
                out.clear();
                while answered.last().is_none_or(|t| *t < txnr) {
                    let n = s.read(&mut buf)?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    decoder
                        .feed(&buf[..n], |f| {
                            if f.command == "rsp" && f.data.starts_with(b"200") {
                                answered.push(f.txnr)
                            }
                        })
                        .map_err(|e| std::io::Error::other(e.0))?;
                }
                // answers come in order: the whole window is stored
                assert!(answered.iter().filter(|t| **t >= first).count() >= end - next);
                next = end;
            }
            Ok(())
        })();
        if ok.is_err() {
            continue; // a new session sends the unanswered window again
        }
    }
    sessions
}

/// The listener is SIGKILLed and restarted (same port) while a RELP client
/// sends: every line answered is stored, and every line arrives at least
/// once. A line is stored twice only when a kill fell between its batch's
/// commit and its answer: at most one window per kill.
#[test]
fn relp_answers_only_what_is_stored_across_sigkill() {
    let db = "it_listen_relp_kill";
    let mut admin = migrated_db(db);
    create_sensor(db, &mut admin);
    let port = fixed_free_port(0);
    let mut l = start_listener(db, Some(port));
    let data = std::fs::read(corpus(20_000, 53)).unwrap();
    let lines: Vec<&[u8]> = file_lines(&data)
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
    let n = lines.len();
    let owned: Vec<Vec<u8>> = lines.iter().map(|l| l.to_vec()).collect();
    let sender = std::thread::spawn(move || {
        let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        relp_send_all(port, &refs, 64)
    });
    let mut kills = 0i64;
    while !sender.is_finished() && kills < 6 {
        std::thread::sleep(Duration::from_millis(300 + 100 * kills as u64));
        if sender.is_finished() {
            break;
        }
        l.kill();
        kills += 1;
        l = start_listener(db, Some(port));
    }
    let sessions = sender.join().unwrap();
    l.stop();
    let t = stored_counts(&mut admin, &data, true);
    assert_eq!(t.missing(), 0, "an answered line is never lost");
    let stored = t.stored;
    let duplicates = stored as i64 - n as i64;
    println!("RELP under {kills} SIGKILLs ({sessions} sessions): {n} lines, {stored} stored, {duplicates} duplicates");
    assert!(
        kills >= 2,
        "the sender finished before the listener was killed twice"
    );
    assert!(
        duplicates <= kills * 64,
        "at most one window of unanswered frames per kill: {duplicates}"
    );
    assert_eq!(count(&mut admin, "SELECT count(*) FROM decnet.verify()"), 0);
}

/// PostgreSQL stalls (a transaction holds decnet.logs locked): the listener's
/// queue fills, its TCP reader stops reading and the sender blocks instead of
/// the listener buffering without bound. Once the lock goes, every message
/// arrives, once.
#[test]
fn a_stalled_database_holds_tcp_senders_back_and_loses_nothing() {
    let db = "it_listen_backpressure";
    let mut admin = migrated_db(db);
    let l = listen(db, &mut admin);
    let mut blocker = connect(&dsn_for(db));
    blocker
        .batch_execute("BEGIN; LOCK TABLE decnet.logs IN EXCLUSIVE MODE")
        .unwrap();
    let n = 100_000usize;
    let frames: Vec<u8> = (0..n)
        .flat_map(|i| {
            let m = format!("<134>1 2026-05-01T00:00:00Z decky-01 ssh - connection [relay@55555 src_ip=\"198.51.100.{}\" src_port=\"{i}\"]", i % 250);
            [format!("{} ", m.len()).into_bytes(), m.into_bytes()].concat()
        })
        .collect();
    let port = l.tcp;
    let sender = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(&frames).unwrap();
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !sender.is_finished(),
        "the sender was held back while the database stalled"
    );
    let rss_kib = std::fs::read_to_string(format!("/proc/{}/status", l.child.id()))
        .unwrap()
        .lines()
        .find_map(|line| {
            line.strip_prefix("VmRSS:")
                .map(|v| v.trim().trim_end_matches(" kB").parse::<u64>().unwrap())
        })
        .unwrap();
    assert!(
        rss_kib < 200 * 1024,
        "the listener buffers boundedly: {rss_kib} KiB resident"
    );
    blocker.batch_execute("COMMIT").unwrap();
    sender.join().unwrap();
    wait_for(&mut admin, "SELECT count(*) FROM decnet.logs", n as i64);
    l.stop();
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(DISTINCT raw_line) FROM decnet.logs"
        ),
        n as i64
    );
    assert_eq!(count(&mut admin, "SELECT count(*) FROM decnet.verify()"), 0);
}

/// Hostile senders (issue 15's rule for the network): an absurd octet count,
/// a line of 3 MiB without a newline, a connection that sends nothing, and a
/// maximal UDP datagram of garbage neither take the listener down nor hold
/// back an honest sender. Each piece of the long line is stored, bounded.
#[test]
fn hostile_senders_neither_stop_nor_stall_the_listener() {
    use std::net::{TcpStream, UdpSocket};
    let db = "it_listen_hostile";
    let mut admin = migrated_db(db);
    let mut l = listen(db, &mut admin);
    let tcp = ("127.0.0.1", l.tcp);

    // a connection that opens and says nothing, kept open throughout
    let idle = TcpStream::connect(tcp).unwrap();
    // an octet count of 100 GB: the listener ends that connection
    let mut huge = TcpStream::connect(tcp).unwrap();
    huge.write_all(b"99999999999 <13>1 - - - - - - x").unwrap();
    huge.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 16];
    let closed = matches!(std::io::Read::read(&mut huge, &mut buf), Ok(0) | Err(_));
    assert!(closed, "the connection with a bad octet count is closed");
    // 3 MiB without a newline, then one: three pieces of the longest message
    let max = decnet_core::syslog_frame::MAX_MESSAGE_BYTES;
    let mut long = TcpStream::connect(tcp).unwrap();
    long.write_all(&vec![b'A'; 3 * max]).unwrap();
    long.write_all(b"\n").unwrap();
    drop(long);
    // a datagram as large as UDP carries, of bytes that are no syslog
    let garbage: Vec<u8> = (0..65_507u32).map(|i| (i * 7 % 251) as u8 | 1).collect();
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(&garbage, ("127.0.0.1", l.udp))
        .unwrap();
    // the honest sender still gets through, whole and once
    let honest: Vec<String> = (0..100)
        .map(|i| format!("honest message {i} from 198.51.100.9"))
        .collect();
    logger(
        &[
            "--rfc5424",
            "-T",
            "-n",
            "127.0.0.1",
            "-P",
            &l.tcp.to_string(),
        ],
        &honest,
    );
    wait_for(&mut admin, "SELECT count(*) FROM decnet.logs", 104);
    assert!(
        l.child.try_wait().unwrap().is_none(),
        "the listener is still up"
    );
    drop(idle);
    let out = l.stop();
    assert!(out.contains("stopped: 104 messages stored"), "{out}");
    assert_eq!(
        count(
            &mut admin,
            &format!("SELECT count(*) FROM decnet.logs WHERE raw_line ~ '^A+$' AND length(raw_line) = {max}")
        ),
        3
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM decnet.logs WHERE msg LIKE 'honest message %'"
        ),
        100
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(DISTINCT msg) FROM decnet.logs WHERE msg LIKE 'honest message %'"
        ),
        100
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM decnet.logs WHERE parse_status = 'unparsed'"
        ),
        4,
        "the three pieces and the datagram are stored, flagged"
    );
    assert_eq!(count(&mut admin, "SELECT count(*) FROM decnet.verify()"), 0);
}
