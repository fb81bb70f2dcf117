//! Offline enrichment: RIR and iptoasn files in their published formats,
//! loaded through the CLI and SQL; country and AS lookups (decnet-cases §5.1,
//! §5.2, §5.5); attackers enriched when they appear and again when data is
//! reloaded; rebuild() keeps it; stale data is flagged.

use decnet_it::*;
use postgres::Client;
use std::io::Write;
use std::process::Command;

fn decnet(args: &[&str], dsn: &str) -> String {
    let bin = std::env::var("DECNET_BIN").expect("DECNET_BIN is not set: run through `./x test`");
    let out = Command::new(bin)
        .args(args)
        .env("DECNET_DSN", dsn)
        .output()
        .expect("decnet runs");
    assert!(
        out.status.success(),
        "decnet {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A whole delegated-statistics file of these record lines (version and summary lines counted).
fn rir(records: &[&str]) -> String {
    decnet_core::enrich::rir_file_with_summary(
        "arin",
        &records.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
    )
}

/// `decnet` with its exit status and stderr.
fn decnet_status(args: &[&str], dsn: &str) -> (bool, String) {
    let bin = std::env::var("DECNET_BIN").expect("DECNET_BIN is not set: run through `./x test`");
    let out = Command::new(bin)
        .args(args)
        .env("DECNET_DSN", dsn)
        .output()
        .expect("decnet runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn country(c: &mut Client, ip: &str) -> Option<String> {
    c.query_one("SELECT decnet.country_of($1::text::inet)", &[&ip])
        .unwrap()
        .get(0)
}

fn asn(c: &mut Client, ip: &str) -> Option<(i64, Option<String>, String)> {
    c.query_opt(
        "SELECT asn, as_name, bgp_prefix::text FROM decnet.asn_of($1::text::inet)",
        &[&ip],
    )
    .unwrap()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
}

/// An extended-format RIR file as published: version line, summaries,
/// comments, `*` rows, ASN and IPv6 rows, opaque ids and extra columns.
const RIPE_EXTENDED: &str = "2.3|ripencc|1763769600|8|19830705|20261121|+0100
ripencc|*|ipv4|*|6|summary
ripencc|*|asn|*|1|summary
ripencc|*|ipv6|*|1|summary
# a comment
ripencc||ipv4|5.0.0.0|256|20200101|available|
ripencc|DE|ipv4|85.214.0.0|65536|20060814|allocated|a1b2c3d4-aaaa
ripencc|GB|ipv4|46.101.0.0|65536|20120101|assigned|e5f6
ripencc|ZZ|ipv4|6.0.0.0|256|20200101|reserved|ripencc
ripencc|IT|asn|12345|1|20100101|allocated|x
ripencc|FR|ipv6|2a01::|16|20100101|allocated|ghi|extra
ripencc|AU|ipv4|1.0.0.0|256|20100101|allocated|first
ripencc|CN|ipv4|1.0.0.0|256|20100101|allocated|second
";

#[test]
fn rir_and_iptoasn_files_load_unchanged_and_answer_lookups() {
    let db = "it_enrich_lookup";
    let mut c = migrated_db(db);
    let dir = scratch_file("enrich");
    std::fs::create_dir_all(&dir).unwrap();
    let ripe = dir.join("delegated-ripencc-extended-latest");
    std::fs::write(&ripe, RIPE_EXTENDED).unwrap();
    let arin = dir.join("delegated-arin-extended-latest");
    std::fs::write(&arin, "2|arin|20261121|1|19700101|20261121|-0500\narin|*|ipv4|*|1|summary\narin|US|ipv4|8.8.8.0|256|20000101|allocated|xyz\n").unwrap();
    let out = decnet(
        &[
            "load-rir",
            "--quiet",
            ripe.to_str().unwrap(),
            arin.to_str().unwrap(),
        ],
        &dsn_for(db),
    );
    assert!(
        out.contains("4 ranges of ripencc") && out.contains("1 ranges of arin"),
        "{out}"
    );

    // decnet-cases §5.2 (and IPv6, which DECNET never answers)
    for (ip, want) in [
        ("8.8.8.8", Some("US")),
        ("85.214.128.1", Some("DE")),
        ("46.101.10.20", Some("GB")),
        ("9.0.0.0", None),
        ("10.0.0.1", None),
        ("192.168.1.1", None),
        ("172.16.0.1", None),
        ("127.0.0.1", None),
        ("0.0.0.0", None),
        ("2001:db8::1", None),
        ("::1", None),
        ("1.0.0.5", Some("CN")),
        ("8.8.8.0", Some("US")),
        ("8.8.8.255", Some("US")),
        ("8.8.9.0", None),
        ("2a01:e0a::1", Some("FR")),
        ("6.0.0.1", None),
        ("5.0.0.1", None),
    ] {
        assert_eq!(country(&mut c, ip).as_deref(), want, "{ip}");
    }

    // iptoasn, gzipped as published (§5.5)
    let tsv = "1.0.0.0\t1.0.0.191\t13335\tUS\tCLOUDFLARENET\n8.8.8.0\t8.8.8.255\t15169\tUS\tGOOGLE\n\
               100.64.0.0\t100.127.255.255\t0\tNone\tNot routed\ngarbage\tnonsense\t12345\tXX\twhatever\n\
               10.0.0.10\t10.0.0.5\t99999\tXX\tBackwards\n46.101.0.0\t46.101.255.255\t14061\tDE\t\n\
               1.2.3.4\t1.2.3.4\t1\tUS\tONE\n1.2.3.4\t1.2.3.4\t2\tUS\tTWO\n";
    let gz = dir.join("ip2asn-v4.tsv.gz");
    let mut enc = flate2_writer(std::fs::File::create(&gz).unwrap());
    enc.write_all(tsv.as_bytes()).unwrap();
    enc.finish().unwrap();
    let out = decnet(&["load-asn", "--quiet", gz.to_str().unwrap()], &dsn_for(db));
    assert!(out.contains("4 AS ranges"), "{out}");
    assert_eq!(
        asn(&mut c, "8.8.8.8"),
        Some((15169, Some("GOOGLE".into()), "8.8.8.0/24".into()))
    );
    assert_eq!(asn(&mut c, "8.8.8.255").unwrap().2, "8.8.8.0/24");
    assert_eq!(
        asn(&mut c, "1.0.0.5"),
        Some((13335, Some("CLOUDFLARENET".into()), "1.0.0.0/25".into()))
    );
    assert_eq!(asn(&mut c, "1.0.0.130").unwrap().2, "1.0.0.128/26");
    assert_eq!(
        asn(&mut c, "46.101.10.20"),
        Some((14061, None, "46.101.0.0/16".into()))
    );
    assert_eq!(
        asn(&mut c, "1.2.3.4"),
        Some((2, Some("TWO".into()), "1.2.3.4/32".into())),
        "the last duplicate wins"
    );
    for ip in [
        "9.0.0.0",
        "10.0.0.1",
        "0.0.0.0",
        "2606:4700::1",
        "100.64.0.1",
        "1.0.0.192",
    ] {
        assert_eq!(asn(&mut c, ip), None, "{ip}");
    }
    // ranges_of (the set-based lookup of the ingest trigger) answers as the two per-address functions
    let probes = "ARRAY['8.8.8.8', '8.8.8.0', '8.8.8.255', '8.8.9.0', '1.0.0.5', '1.0.0.130', '1.0.0.191', '1.0.0.192',
                        '1.2.3.4', '46.101.10.20', '85.214.128.1', '9.0.0.0', '10.0.0.1', '100.64.0.1', '0.0.0.0',
                        '2a01:e0a::1', '2606:4700::1', '2001:db8::1', '::1', '255.255.255.255']::inet[]";
    let disagree = count(&mut c, &format!(
        "SELECT count(*) FROM decnet.ranges_of({probes}) r LEFT JOIN LATERAL decnet.asn_of(r.ip) x ON true
         WHERE r.country_code IS DISTINCT FROM decnet.country_of(r.ip)
            OR (r.asn, r.as_name, r.bgp_prefix, r.as_country) IS DISTINCT FROM (x.asn, x.as_name, x.bgp_prefix, x.country)"));
    assert_eq!(disagree, 0);
    assert_eq!(count(&mut c, &format!("SELECT count(*) FROM decnet.ranges_of({probes}) WHERE country_code IS NOT NULL AND asn IS NOT NULL")), 7);
    let rows = c
        .query(
            "SELECT source, ranges, stale FROM decnet.enrichment_status ORDER BY source",
            &[],
        )
        .unwrap();
    let status: Vec<(String, i64, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        status,
        [
            ("iptoasn-v4".into(), 4, false),
            ("rir:arin".into(), 1, false),
            ("rir:ripencc".into(), 4, false)
        ]
    );
    c.batch_execute("UPDATE decnet.enrichment_loads SET loaded_at = now() - interval '31 days' WHERE source = 'rir:arin'").unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.enrichment_status WHERE stale"
        ),
        1
    );
}

fn flate2_writer(f: std::fs::File) -> flate2::write::GzEncoder<std::fs::File> {
    flate2::write::GzEncoder::new(f, flate2::Compression::default())
}

fn line(ip: &str) -> String {
    format!(
        "<134>1 2026-05-01T00:00:01+00:00 web-01 ssh - connection [relay@55555 src_ip=\"{ip}\"]\n"
    )
}

#[test]
fn attackers_are_enriched_when_they_appear_and_when_data_is_reloaded() {
    let mut c = migrated_db("it_enrich_attackers");
    // no data yet: attackers still arrive, unenriched
    ingest_bytes(&mut c, line("8.8.8.8").as_bytes());
    c.query(
        "SELECT * FROM decnet.load_rir($1)",
        &[&rir(&[
            "arin|US|ipv4|8.8.8.0|256|20000101|allocated|x",
            "arin|US|ipv4|9.9.9.0|256|20000101|allocated|x",
        ])],
    )
    .unwrap();
    c.query(
        "SELECT decnet.load_iptoasn($1)",
        &[&"8.8.8.0\t8.8.8.255\t15169\tUS\tGOOGLE\n"],
    )
    .unwrap();
    // the load refreshed the existing attacker; a new one is enriched by its own INSERT
    ingest_bytes(
        &mut c,
        [line("9.9.9.9"), line("192.168.1.9")].concat().as_bytes(),
    );
    let rows = c
        .query("SELECT host(ip), country_code, country_source, asn, as_name, asn_source FROM decnet.attackers ORDER BY ip", &[])
        .unwrap();
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
    );
    let got: Vec<Row> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    let us = || Some("US".to_string());
    assert_eq!(
        got,
        vec![
            (
                "8.8.8.8".into(),
                us(),
                Some("rir".into()),
                Some(15169),
                Some("GOOGLE".into()),
                Some("iptoasn".into())
            ),
            // a country but no AS: one lookup failing never holds back the other
            ("9.9.9.9".into(), us(), Some("rir".into()), None, None, None),
            ("192.168.1.9".into(), None, None, None, None, None),
        ]
    );
    // new data moves an attacker: reloading the registry replaces its ranges and refreshes the row
    c.query(
        "SELECT * FROM decnet.load_rir($1)",
        &[&rir(&["arin|CA|ipv4|9.9.9.0|256|20000101|allocated|x"])],
    )
    .unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.attackers WHERE host(ip) = '9.9.9.9' AND country_code = 'CA'"), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.attackers WHERE host(ip) = '8.8.8.8' AND country_code IS NULL"), 1, "8.8.8.0/24 left the data");
    // rebuild() recomputes from the lines and keeps what enrichment set; verify() agrees
    c.batch_execute("SELECT * FROM decnet.rebuild()").unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.attackers WHERE asn = 15169 AND country_code IS NULL"
        ),
        1
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.attackers WHERE country_code = 'CA'"
        ),
        1
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}

/// Issue 15: a wrong, truncated or tiny file never replaces loaded data
/// silently, and the command says so with a non-zero exit.
#[test]
fn bad_enrichment_files_fail_loudly_and_keep_the_data() {
    let db = "it_enrich_refused";
    let mut c = migrated_db(db);
    let dir = scratch_file("enrich-bad");
    std::fs::create_dir_all(&dir).unwrap();
    let records: Vec<String> = (0..40)
        .map(|i| format!("apnic|JP|ipv4|1.0.{i}.0|256|20110101|allocated"))
        .collect();
    let whole = decnet_core::enrich::rir_file_with_summary("apnic", &records);
    let file = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let good = file("delegated-apnic-latest", &whole);
    assert!(decnet_status(&["load-rir", "--quiet", &good], &dsn_for(db)).0);
    let held = || {
        count(
            &mut connect(&dsn_for(db)),
            "SELECT count(*) FROM decnet.country_ranges WHERE registry = 'apnic'",
        )
    };
    assert_eq!(held(), 40);

    // not an RIR file at all, an iptoasn file, a two-line fragment, a download cut short
    let garbage = file("bad.txt", "hello\nworld\n");
    let iptoasn = file(
        "ip2asn-v4.tsv",
        "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n",
    );
    let fragment = file("two-lines", &records[..2].join("\n"));
    let truncated = file("cut-short", &whole[..whole.len() / 2]);
    for (path, why) in [
        (&garbage, "no version line"),
        (&iptoasn, "no version line"),
        (&fragment, "no version line"),
        (&truncated, "summary counts"),
    ] {
        let (ok, err) = decnet_status(&["load-rir", "--quiet", path], &dsn_for(db));
        assert!(!ok, "{path} loaded");
        assert!(err.contains(why) && err.contains("hint:"), "{path}: {err}");
    }
    assert_eq!(held(), 40, "a refused file changes nothing");

    // a whole file that would shrink the registry to less than half: refused, unless --force
    let small = file(
        "delegated-apnic-small",
        &decnet_core::enrich::rir_file_with_summary("apnic", &records[..5]),
    );
    let (ok, err) = decnet_status(&["load-rir", "--quiet", &small], &dsn_for(db));
    assert!(
        !ok && err.contains("would shrink from 40 to 5") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(held(), 40);
    assert!(decnet_status(&["load-rir", "--quiet", "--force", &small], &dsn_for(db)).0);
    assert_eq!(held(), 5);

    // load-asn given an RIR file (or nothing usable): refused, exit non-zero
    for path in [&good, &garbage] {
        let (ok, err) = decnet_status(&["load-asn", "--quiet", path], &dsn_for(db));
        assert!(!ok && err.contains("no usable ranges"), "{path}: {err}");
    }
    // the same rules through SQL
    assert!(c
        .query(
            "SELECT * FROM decnet.load_rir($1)",
            &[&records[..2].join("\n")]
        )
        .is_err());
    assert!(c.query("SELECT decnet.load_iptoasn($1)", &[&""]).is_err());
}
