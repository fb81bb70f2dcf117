// #[pg_test]s: SQL signatures, STRICT/NULL behaviour, SQLSTATEs, and the ingest
// trigger's effect on real rows of decnet.logs (created from the real migration).
use pgrx::prelude::*;

fn migrate() {
    Spi::run(include_str!("../migrations/V1__logs.sql")).expect("V1 migration applies");
}

fn one<T: IntoDatum + FromDatum>(sql: &str) -> Option<T> {
    Spi::get_one::<T>(sql).expect(sql)
}

#[pg_test]
fn parse_log_reads_an_a8_line() {
    let row = Spi::get_three::<String, String, String>(
        r#"SELECT decky, event_type, host(attacker_ip) FROM decnet.parse_log('<132>1 2026-05-01T03:31:40.220981+00:00 mail-relay-01 smtp - rcpt_denied [relay@55555 src="91.92.240.7" value="<Bob@ACME.com>"]')"#,
    )
    .unwrap();
    assert_eq!(row, (Some("mail-relay-01".into()), Some("rcpt_denied".into()), Some("91.92.240.7".into())));
    assert_eq!(
        one::<String>(r#"SELECT fields->>'value' FROM decnet.parse_log('<132>1 2026-05-01T03:31:40+00:00 m smtp - rcpt_denied [relay@55555 src="1.1.1.1" value="<Bob@ACME.com>"]')"#),
        Some("<Bob@ACME.com>".into())
    );
    assert_eq!(
        one::<bool>("SELECT ts = '2026-05-01 08:00:00+00' FROM decnet.parse_log('<134>1 2026-05-01T10:00:00+02:00 d s - e -')"),
        Some(true)
    );
}

#[pg_test]
fn parse_log_is_strict_and_flags_garbage() {
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.parse_log(NULL)"), Some(0));
    let row = Spi::get_two::<String, String>("SELECT parse_status, parse_reason FROM decnet.parse_log('this is not a syslog line')").unwrap();
    assert_eq!(row, (Some("unparsed".into()), Some("not_syslog".into())));
    assert_eq!(one::<String>("SELECT fields::text FROM decnet.parse_log('')"), Some("{}".into()));
}

#[pg_test]
fn functions_are_immutable_strict_parallel_safe() {
    let n = one::<i64>(
        "SELECT count(*) FROM pg_proc WHERE pronamespace = 'decnet'::regnamespace
           AND proname IN ('parse_log','classify_event_kind','bucket_services')
           AND provolatile = 'i' AND proisstrict AND proparallel = 's'",
    );
    assert_eq!(n, Some(3));
    let undocumented = one::<i64>(
        "SELECT count(*) FROM pg_proc WHERE pronamespace = 'decnet'::regnamespace
           AND obj_description(oid, 'pg_proc') IS NULL",
    );
    assert_eq!(undocumented, Some(0));
}

#[pg_test]
fn classify_event_kind_sql() {
    assert_eq!(one::<String>("SELECT decnet.classify_event_kind('rcpt_to')"), Some("interaction".into()));
    assert_eq!(one::<String>("SELECT decnet.classify_event_kind('startup')"), Some("noise".into()));
    assert_eq!(one::<String>("SELECT decnet.classify_event_kind('-')"), Some("scan".into()));
    assert_eq!(one::<String>("SELECT decnet.classify_event_kind('')"), Some("scan".into()));
    assert_eq!(one::<String>("SELECT decnet.classify_event_kind(NULL)"), None);
}

#[pg_test]
fn bucket_services_sql() {
    let row = Spi::get_two::<Vec<String>, Vec<String>>(
        "SELECT interacted, scanned FROM decnet.bucket_services(
            ARRAY['http','http','ssh','ssh','ssh','ftp','mongo','bus'],
            ARRAY['connection','get_request','connection','auth_attempt','shell_input','retr','connection','startup'])",
    )
    .unwrap();
    assert_eq!(row, (Some(vec!["ftp".into(), "ssh".into()]), Some(vec!["http".into(), "mongo".into()])));
}

#[pg_test(error = "services has 2 elements but event_types has 1")]
fn bucket_services_rejects_ragged_arrays() {
    Spi::run("SELECT * FROM decnet.bucket_services(ARRAY['a','b'], ARRAY['x'])").unwrap();
}

#[pg_test]
fn trigger_parses_every_inserted_line() {
    migrate();
    Spi::run(
        r#"INSERT INTO decnet.logs (raw_line, ts, decky) VALUES
          ('<134>1 2026-05-01T00:00:00+00:00 decky-01 http - request [relay@55555 path="/a\]b" remote_addr="[2001:db8::1]:443"]', '1999-01-01', 'spoofed'),
          ('garbage', NULL, NULL),
          ('<14>1 2026-05-02T06:22:48.089309+00:00 omega-decky 1 - - -  2026-05-02T06:22:48.089286+00:00 SRV-DELTA-77 bash - command [timeQuality tzKnown="1"] CMD uid=0 user=root src=192.168.1.5 pwd=/root cmd=ls /var/www/html', NULL, NULL)"#,
    )
    .unwrap();
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.logs"), Some(3));
    // parsed values overwrite what the inserter supplied
    let r = Spi::get_three::<String, String, String>(
        "SELECT decky, fields->>'path', host(attacker_ip) FROM decnet.logs WHERE service = 'http'",
    )
    .unwrap();
    assert_eq!(r, (Some("decky-01".into()), Some("/a]b".into()), Some("2001:db8::1".into())));
    assert_eq!(one::<bool>("SELECT ts = '2026-05-01 00:00:00+00' FROM decnet.logs WHERE service = 'http'"), Some(true));
    assert_eq!(one::<String>("SELECT fields->>'remote_port' FROM decnet.logs WHERE service = 'http'"), Some("443".into()));
    let bad = Spi::get_two::<String, String>("SELECT parse_status, parse_reason FROM decnet.logs WHERE raw_line = 'garbage'").unwrap();
    assert_eq!(bad, (Some("unparsed".into()), Some("not_syslog".into())));
    let cmd = Spi::get_two::<String, String>("SELECT decky, fields->>'command' FROM decnet.logs WHERE event_type = 'command'").unwrap();
    assert_eq!(cmd, (Some("SRV-DELTA-77".into()), Some("ls /var/www/html".into())));
    // the trigger and parse_log agree column for column
    assert_eq!(
        one::<i64>(
            "SELECT count(*) FROM decnet.logs l, decnet.parse_log(l.raw_line) p
             WHERE (l.parse_status, l.parse_reason, l.ts, l.decky, l.service, l.event_type, l.attacker_ip, l.fields, l.msg)
                   IS NOT DISTINCT FROM (p.parse_status, p.parse_reason, p.ts, p.decky, p.service, p.event_type, p.attacker_ip, p.fields, p.msg)"
        ),
        Some(3)
    );
}

#[pg_test]
fn trigger_flags_lossy_lines_and_reparses_updates() {
    migrate();
    Spi::run(r#"INSERT INTO decnet.logs (raw_line, raw_bytes) VALUES (E'<134>1 2026-05-01T00:00:00+00:00 d ssh - connection [relay@55555 src_ip="1.2.3.4"] \uFFFD', '\x3c3133343e00ff'::bytea)"#).unwrap();
    let r = Spi::get_three::<String, String, String>("SELECT parse_status, parse_reason, host(attacker_ip) FROM decnet.logs").unwrap();
    assert_eq!(r, (Some("partial".into()), Some("lossy_text".into()), Some("1.2.3.4".into())));
    Spi::run(r#"UPDATE decnet.logs SET raw_line = '<134>1 2026-05-01T00:00:00+00:00 d ssh - connection [relay@55555 src_ip="5.6.7.8"]', raw_bytes = NULL"#).unwrap();
    let r = Spi::get_two::<String, String>("SELECT parse_status, host(attacker_ip) FROM decnet.logs").unwrap();
    assert_eq!(r, (Some("ok".into()), Some("5.6.7.8".into())));
}

#[pg_test]
fn service_buckets_view() {
    migrate();
    Spi::run(
        r#"INSERT INTO decnet.logs (raw_line) VALUES
          ('<134>1 2026-05-01T00:00:00+00:00 d1 ssh - connection [relay@55555 src_ip="1.1.1.1"]'),
          ('<134>1 2026-05-01T00:00:01+00:00 d1 ssh - command [relay@55555 src_ip="1.1.1.1" command="id"]'),
          ('<134>1 2026-05-01T00:00:02+00:00 d1 http - request [relay@55555 remote_addr="1.1.1.1:5555"]'),
          ('<134>1 2026-05-01T00:00:03+00:00 d1 postgres - startup [relay@55555 src="1.1.1.1"]'),
          ('<134>1 2026-05-01T00:00:04+00:00 d2 ftp - connection [relay@55555 src_ip="2.2.2.2"]')"#,
    )
    .unwrap();
    let r = Spi::get_two::<Vec<String>, Vec<String>>(
        "SELECT interacted, scanned FROM decnet.service_buckets WHERE attacker_ip = '1.1.1.1'",
    )
    .unwrap();
    // host:port is the same attacker; postgres startup is noise and dropped
    assert_eq!(r, (Some(vec!["ssh".into()]), Some(vec!["http".into()])));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.service_buckets"), Some(2));
}
