//! Reverse DNS against a real DNS server on loopback (tests/dns.rs): answers,
//! NXDOMAIN, SERVFAIL, a server that never answers (timeout and cancel),
//! IPv6, the kill switch, bounded concurrency, and ingest never waiting on DNS.

use decnet_it::dns::{Answer, DnsServer};
use decnet_it::*;
use postgres::Client;
use std::net::IpAddr;
use std::time::{Duration, Instant};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A connection whose lookups go to `server` (decnet.ptr_nameservers is superuser-only; tests run as postgres).
fn using(db: &str, server: &DnsServer, timeout_ms: u32) -> Client {
    let mut c = connect(&dsn_for(db));
    c.batch_execute(&format!(
        "SET decnet.ptr_enabled = on; SET decnet.ptr_nameservers = '{}'; SET decnet.ptr_timeout_ms = {timeout_ms};",
        server.addr
    ))
    .unwrap();
    c
}

fn ptr(c: &mut Client, addr: &str) -> Option<String> {
    c.query_one("SELECT decnet.enrich_ptr($1::text::inet)", &[&addr])
        .unwrap()
        .get(0)
}

#[test]
fn answers_failures_ipv6_private_and_the_kill_switch() {
    let db = "it_ptr_answers";
    drop(migrated_db(db));
    let server = DnsServer::start(vec![
        (ip("8.8.8.8"), Answer::Ptr("dns.google.", Duration::ZERO)),
        (ip("1.1.1.1"), Answer::ServFail),
        (
            ip("2606:4700:4700::1111"),
            Answer::Ptr("one.one.one.one.", Duration::ZERO),
        ),
    ]);
    let mut c = using(db, &server, 2000);
    assert_eq!(ptr(&mut c, "8.8.8.8").as_deref(), Some("dns.google"));
    assert_eq!(ptr(&mut c, "9.9.9.9"), None, "NXDOMAIN");
    assert_eq!(ptr(&mut c, "1.1.1.1"), None, "SERVFAIL");
    assert_eq!(
        ptr(&mut c, "2606:4700:4700::1111").as_deref(),
        Some("one.one.one.one")
    );
    let asked = server.queries();
    assert!(asked >= 4, "{asked} queries reached the server");
    // private, loopback, link-local, multicast and documentation addresses never reach DNS
    for private in [
        "10.0.0.1",
        "127.0.0.1",
        "169.254.1.1",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "192.0.2.1",
    ] {
        assert_eq!(ptr(&mut c, private), None, "{private}");
    }
    assert_eq!(server.queries(), asked);
    // the kill switch: NULL, and no query leaves
    c.batch_execute("SET decnet.ptr_enabled = off").unwrap();
    assert_eq!(ptr(&mut c, "8.8.8.8"), None);
    assert_eq!(server.queries(), asked);
    // a bad nameserver list is an error with a hint, not a silent NULL
    c.batch_execute("SET decnet.ptr_enabled = on; SET decnet.ptr_nameservers = 'not-a-server'")
        .unwrap();
    let err = c
        .query_one("SELECT decnet.enrich_ptr('8.8.8.8')", &[])
        .unwrap_err();
    let e = err.as_db_error().unwrap();
    assert_eq!((e.code().code(), e.hint().is_some()), ("22023", true));
}

#[test]
fn a_silent_server_times_out_and_cancel_stops_a_lookup() {
    let db = "it_ptr_timeout";
    drop(migrated_db(db));
    let server = DnsServer::start(vec![(ip("4.4.4.4"), Answer::Silent)]);
    // the lookup's own timeout
    let mut c = using(db, &server, 300);
    let t = Instant::now();
    assert_eq!(ptr(&mut c, "4.4.4.4"), None);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "a 300 ms timeout took {:?}",
        t.elapsed()
    );
    // statement_timeout interrupts a lookup whose own timeout is far away
    let mut c = using(db, &server, 60_000);
    c.batch_execute("SET statement_timeout = '400ms'").unwrap();
    let t = Instant::now();
    let err = c
        .query_one("SELECT decnet.enrich_ptr('4.4.4.4')", &[])
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("57014"));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "statement_timeout took {:?}",
        t.elapsed()
    );
    // pg_cancel_backend from another session
    let mut c = using(db, &server, 60_000);
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let mut admin = connect(&base_dsn());
        admin
            .query_one("SELECT pg_cancel_backend($1)", &[&pid])
            .unwrap();
    });
    let t = Instant::now();
    let err = c
        .query_one("SELECT decnet.enrich_ptr('4.4.4.4')", &[])
        .unwrap_err();
    canceller.join().unwrap();
    assert_eq!(err.code().map(|c| c.code()), Some("57014"));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "cancel took {:?}",
        t.elapsed()
    );
    // the backend is fine afterwards
    assert_eq!(count(&mut c, "SELECT 1::bigint"), 1);
}

fn attacker_lines(ips: &[String]) -> String {
    ips.iter().map(|ip| format!("<134>1 2026-05-01T00:00:01+00:00 web-01 ssh - connection [relay@55555 src_ip=\"{ip}\"]\n")).collect()
}

#[test]
fn queued_attackers_resolve_concurrently_and_ingest_never_waits_for_dns() {
    let db = "it_ptr_queue";
    let mut admin = migrated_db(db);
    // 200 attackers whose names each take 200 ms
    let ips: Vec<String> = (0..200)
        .map(|i| format!("5.5.{}.{}", i / 100, i % 100 + 1))
        .collect();
    let server = DnsServer::start(
        ips.iter()
            .map(|a| {
                (
                    ip(a),
                    Answer::Ptr("slow.example.net.", Duration::from_millis(200)),
                )
            })
            .collect(),
    );
    // ingest with the DNS server unreachable: new attackers are only queued
    let mut ingest = using(db, &server, 2000);
    ingest
        .batch_execute("SET decnet.ptr_nameservers = '127.0.0.1:9'")
        .unwrap();
    let t = Instant::now();
    ingest_bytes(&mut ingest, attacker_lines(&ips).as_bytes());
    let ingest_time = t.elapsed();
    assert!(
        ingest_time < Duration::from_secs(2),
        "ingest of 200 new attackers took {ingest_time:?}: DNS on the ingest path?"
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM decnet.attackers WHERE ptr_attempted_at IS NULL"
        ),
        200
    );

    let mut c = using(db, &server, 2000);
    c.batch_execute("SET decnet.ptr_concurrency = 10").unwrap();
    let t = Instant::now();
    let r = c
        .query_one(
            "SELECT attempted, resolved, remaining FROM decnet.resolve_pending_ptr(1000)",
            &[],
        )
        .unwrap();
    let took = t.elapsed();
    assert_eq!(
        (r.get::<_, i32>(0), r.get::<_, i32>(1), r.get::<_, i64>(2)),
        (200, 200, 0)
    );
    // 200 × 0.2 s / 10 in flight ≈ 4 s; one at a time would be 40 s
    assert!(
        took < Duration::from_secs(20),
        "200 lookups of 200 ms at concurrency 10 took {took:?}"
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM decnet.attackers WHERE ptr_record = 'slow.example.net'"
        ),
        200
    );
    assert_eq!(server.queries(), 200, "each attacker is looked up once");
    // a second run finds nothing to do; "attempted, no answer" stays apart from "never attempted"
    let r = c
        .query_one(
            "SELECT attempted FROM decnet.resolve_pending_ptr(1000)",
            &[],
        )
        .unwrap();
    assert_eq!(r.get::<_, i32>(0), 0);
    ingest_bytes(
        &mut admin,
        attacker_lines(&["9.9.9.9".to_string(), "10.1.1.1".to_string()]).as_bytes(),
    );
    c.query_one(
        "SELECT attempted FROM decnet.resolve_pending_ptr(1000)",
        &[],
    )
    .unwrap();
    let rows = c
        .query("SELECT host(ip), ptr_record, ptr_attempted_at IS NOT NULL FROM decnet.attackers WHERE host(ip) IN ('9.9.9.9', '10.1.1.1') ORDER BY ip", &[])
        .unwrap();
    let got: Vec<(String, Option<String>, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        [
            ("9.9.9.9".to_string(), None, true),
            ("10.1.1.1".to_string(), None, true)
        ]
    );
    // with the kill switch off, the queue is left alone
    ingest_bytes(
        &mut admin,
        attacker_lines(&["7.7.7.7".to_string()]).as_bytes(),
    );
    c.batch_execute("SET decnet.ptr_enabled = off").unwrap();
    let r = c
        .query_one(
            "SELECT attempted, remaining FROM decnet.resolve_pending_ptr(1000)",
            &[],
        )
        .unwrap();
    assert_eq!((r.get::<_, i32>(0), r.get::<_, i64>(1)), (0, 1));
    assert_eq!(count(&mut admin, "SELECT count(*) FROM decnet.verify()"), 0);
}
