//! Real syslog clients writing into decnet.logs: rsyslog (Debian package)
//! with the configuration docs/ingest.md shows, through the decnet_ingest role.

use decnet_it::*;
use std::time::Duration;

/// The value of `key` in the test cluster's key=value DSN.
fn dsn_value(key: &str) -> String {
    base_dsn()
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("DECNET_TEST_DSN has no {key}="))
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

    let data = std::fs::read(corpus(3_000, 29)).unwrap();
    let conninfo = format!(
        "postgresql:///{db}?host={}&port={}&user={sensor}",
        dsn_value("host"),
        dsn_value("port")
    );

    // what ompgsql can carry: imfile skips empty lines, and a NUL cannot be in its SQL string
    let lines = file_lines(&data);
    let expected: Vec<&[u8]> = lines
        .iter()
        .copied()
        .filter(|l| !l.is_empty() && !l.contains(&0))
        .collect();
    assert!(expected.len() > 2_900);

    let replacement = [(
        "postgresql:///decnet?host=/run/postgresql&user=decnet_sensor",
        conninfo,
    )];
    let mut rsyslogd = rsyslogd("rsyslog-pgsql", "rsyslog", &data, &replacement);
    wait_for_rsyslog(&mut admin, &mut rsyslogd, expected.len() as i64, 120);
    std::thread::sleep(Duration::from_millis(1_000)); // nothing more arrives
    let stderr = stop_rsyslog(rsyslogd);

    let t = tally(&mut admin, &expected);
    assert_eq!(
        t.not_once(),
        0,
        "lines not stored exactly once, byte for byte\nrsyslogd: {stderr}"
    );
    assert_eq!(t.stored, expected.len(), "rsyslogd: {stderr}");
    assert_eq!(count(&mut admin, "SELECT count(*) FROM decnet.verify()"), 0);
    assert!(count(&mut admin, "SELECT count(*) FROM decnet.attackers") > 10);
}
