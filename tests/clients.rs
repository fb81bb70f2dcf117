//! Real syslog clients writing into decnet.logs: rsyslog (Debian package)
//! with the configuration docs/ingest.md shows, through the decnet_ingest role.

use decnet_it::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The value of `key` in the test cluster's key=value DSN.
fn dsn_value(key: &str) -> String {
    base_dsn()
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("DECNET_TEST_DSN has no {key}="))
}

/// The rsyslog configuration block of docs/ingest.md.
fn documented_rsyslog_conf() -> String {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/ingest.md"),
    )
    .unwrap();
    let start = doc
        .find("```rsyslog\n")
        .expect("docs/ingest.md has an rsyslog block")
        + "```rsyslog\n".len();
    let len = doc[start..].find("```").unwrap();
    doc[start..start + len].to_string()
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = scratch_file(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn rsyslog_ompgsql_inserts_every_line_through_the_ingest_role() {
    let db = "it_rsyslog_pgsql";
    let mut admin = migrated_db(db);
    let sensor = format!("{db}_sensor");
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {sensor}; CREATE ROLE {sensor} LOGIN IN ROLE decnet_ingest"
        ))
        .unwrap();

    let dir = scratch_dir("rsyslog-pgsql");
    let log = dir.join("decnet.log");
    let data = std::fs::read(corpus(3_000, 29)).unwrap();
    std::fs::write(&log, &data).unwrap();
    let conninfo = format!(
        "postgresql:///{db}?host={}&port={}&user={sensor}",
        dsn_value("host"),
        dsn_value("port")
    );
    let conf = format!("global(workDirectory=\"{}\")\n", dir.display())
        + &documented_rsyslog_conf()
            .replace("/var/log/decnet/decnet.log", log.to_str().unwrap())
            .replace(
                "postgresql:///decnet?host=/run/postgresql&user=decnet_sensor",
                &conninfo,
            );
    let conf_path = dir.join("rsyslog.conf");
    std::fs::write(&conf_path, conf).unwrap();

    // what ompgsql can carry: imfile skips empty lines, and a NUL cannot be in its SQL string
    let lines = file_lines(&data);
    let expected: Vec<&[u8]> = lines
        .iter()
        .copied()
        .filter(|l| !l.is_empty() && !l.contains(&0))
        .collect();
    assert!(expected.len() > 2_900);

    let mut rsyslogd = Command::new("rsyslogd")
        .args(["-n", "-f"])
        .arg(&conf_path)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rsyslogd runs (Debian rsyslog, rsyslog-pgsql)");
    let start = Instant::now();
    let want = expected.len() as i64;
    loop {
        let have = count(&mut admin, "SELECT count(*) FROM decnet.logs");
        if have >= want || start.elapsed() > Duration::from_secs(120) {
            break;
        }
        if let Some(status) = rsyslogd.try_wait().unwrap() {
            panic!(
                "rsyslogd exited early ({status}): {:?}",
                rsyslogd.stderr.take().map(std::io::read_to_string)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(1_000)); // nothing more arrives
                                                      // SAFETY: kill(2) of our own child
    unsafe { libc::kill(rsyslogd.id() as i32, libc::SIGTERM) };
    let out = rsyslogd.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);

    let stored = stored_lines(&mut admin);
    let mut have: HashMap<&[u8], usize> = HashMap::new();
    for l in &stored {
        *have.entry(l.as_slice()).or_default() += 1;
    }
    let mut want_counts: HashMap<&[u8], usize> = HashMap::new();
    for l in &expected {
        *want_counts.entry(*l).or_default() += 1;
    }
    let wrong: Vec<_> = want_counts
        .iter()
        .filter(|(l, n)| have.get(*l) != Some(n))
        .take(3)
        .collect();
    assert!(
        wrong.is_empty(),
        "lines not stored exactly once, byte for byte: {wrong:?}\nrsyslogd: {stderr}"
    );
    assert_eq!(stored.len(), expected.len(), "rsyslogd: {stderr}");
    assert_eq!(count(&mut admin, "SELECT count(*) FROM decnet.verify()"), 0);
    assert!(count(&mut admin, "SELECT count(*) FROM decnet.attackers") > 10);
}
