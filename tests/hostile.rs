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
            GOOD.replace("hunter2", payloads[rng.below(payloads.len())]).into_bytes()
        }
        Kind::CopyControl => {
            // what COPY's text format would read as end-of-data, NULL, or escapes
            let payloads: [&[u8]; 6] = [b"\\.", b"\\N", b"a\tb\tc", b"\\x41\\101\\n", b"\\", b"end\\"];
            payloads[rng.below(payloads.len())].to_vec()
        }
        Kind::CarriageReturn => GOOD.replace("root", "ro\rot").into_bytes(),
    }
}

#[test]
fn a_thousand_hostile_lines_all_stored() {
    let kinds = [Kind::Truncated, Kind::Oversized, Kind::Nul, Kind::InvalidUtf8, Kind::SqlInjection, Kind::CopyControl, Kind::CarriageReturn];
    let mut rng = Rng::new(0x9e3779b97f4a7c15);
    let mut lines: Vec<(Kind, Vec<u8>)> = Vec::new();
    while lines.len() < 1000 {
        // oversized lines are few (1 MiB each); the rest are drawn evenly
        let kind = if lines.len() % 100 == 50 { Kind::Oversized } else { kinds[rng.below(kinds.len())] };
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
        let (status, reason, has_bytes): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
        let binary = line.contains(&0) || std::str::from_utf8(line).is_err();
        assert_eq!(has_bytes, binary, "{kind:?}");
        match kind {
            Kind::Nul | Kind::InvalidUtf8 => assert!(reason.contains("lossy_text"), "{kind:?} {reason}"),
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
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs WHERE raw_line = '\\.'"), stored.iter().filter(|l| l.as_slice() == b"\\.").count() as i64);
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
        c.execute("INSERT INTO decnet.logs (raw_line) VALUES ($1)", &[&s]).unwrap();
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs"), inputs.len() as i64);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs WHERE length(raw_line) > 1000000 AND parse_reason = 'oversized' AND length(fields->>'secret_printable') = 1048576"), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs WHERE parse_reason = 'bad_timestamp' AND ts IS NULL"), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs WHERE parse_reason = 'unterminated_sd'"), 1);
    // a duplicated key: the later value wins, as in DECNET
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs WHERE host(attacker_ip) = '5.6.7.8'"), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs WHERE raw_line = '' AND parse_reason = 'empty'"), 1);
}
