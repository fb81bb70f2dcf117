//! The three roles, logged in as real users: what each can do, and what it
//! cannot (SQLSTATE 42501). Plus search_path hijack attempts.

use decnet_it::*;
use postgres::error::SqlState;
use postgres::Client;

const LINE: &str = "<134>1 2026-05-01T00:00:01+00:00 mail-relay-01 smtp - rcpt_denied [relay@55555 src=\"91.92.240.7\" value=\"<Bob@ACME.com>\"]";

/// Users are named after their database: tests in parallel never share one.
fn login(db: &str, who: &str) -> Client {
    connect(&dsn_for(db).replace("user=postgres", &format!("user={db}_{who}")))
}

fn denied(c: &mut Client, sql: &str) {
    let err = c.batch_execute(sql).expect_err(sql);
    assert_eq!(
        err.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{sql}: {err}"
    );
}

fn setup(db: &str) -> Client {
    let mut admin = migrated_db(db);
    for (who, role) in [
        ("ingest", "decnet_ingest"),
        ("analyst", "decnet_analyst"),
        ("gossip", "decnet_gossip"),
        ("mallory", ""),
    ] {
        let user = format!("{db}_{who}");
        admin
            .batch_execute(&format!("DROP ROLE IF EXISTS {user}"))
            .unwrap();
        let member = if role.is_empty() {
            String::new()
        } else {
            format!(" IN ROLE {role}")
        };
        admin
            .batch_execute(&format!("CREATE ROLE {user} LOGIN{member}"))
            .unwrap();
    }
    admin
}

#[test]
fn each_role_can_do_its_job_and_nothing_else() {
    let mut admin = setup("it_roles");
    // ingest: COPY and INSERT, through the real loader; reads nothing
    let mut ingest = login("it_roles", "ingest");
    ingest_bytes(&mut ingest, format!("{LINE}\n").as_bytes());
    ingest
        .execute("INSERT INTO decnet.logs (raw_line) VALUES ($1)", &[&LINE])
        .unwrap();
    assert_eq!(
        count(
            &mut admin,
            "SELECT count FROM decnet.smtp_targets WHERE domain = 'acme.com'"
        ),
        2
    );
    for sql in [
        "SELECT * FROM decnet.logs",
        "SELECT * FROM decnet.attackers",
        "SELECT * FROM decnet.smtp_targets",
        "UPDATE decnet.attackers SET event_count = 0",
        "SELECT * FROM decnet.smtp_target_seen('acme.com')",
        "SELECT decnet.parse_log('x')",
        "SELECT * FROM decnet.rebuild()",
    ] {
        denied(&mut ingest, sql);
    }

    // analyst: reads everything derived (and the lines), changes nothing
    let mut analyst = login("it_roles", "analyst");
    assert_eq!(
        count(&mut analyst, "SELECT count(*) FROM decnet.attackers"),
        1
    );
    assert_eq!(count(&mut analyst, "SELECT count(*) FROM decnet.logs"), 2);
    assert_eq!(
        count(&mut analyst, "SELECT count(*) FROM decnet.service_buckets"),
        1
    );
    assert_eq!(
        count(&mut analyst, "SELECT count(*) FROM decnet.verify()"),
        0
    );
    for sql in [
        "INSERT INTO decnet.logs (raw_line) VALUES ('x')",
        "UPDATE decnet.attackers SET event_count = 0",
        "DELETE FROM decnet.smtp_targets",
        "TRUNCATE decnet.bounties",
        "SELECT * FROM decnet.rebuild()",
        "CREATE TABLE decnet.mine (x int)",
    ] {
        denied(&mut analyst, sql);
    }

    // gossip: the aggregate answer and nothing else
    let mut gossip = login("it_roles", "gossip");
    let r = gossip
        .query_one(
            "SELECT seen, count FROM decnet.smtp_target_seen('ACME.com')",
            &[],
        )
        .unwrap();
    assert_eq!((r.get::<_, bool>(0), r.get::<_, i64>(1)), (true, 2));
    let r = gossip
        .query_one(
            "SELECT seen, count, first_seen IS NULL FROM decnet.smtp_target_seen('nobody.org')",
            &[],
        )
        .unwrap();
    assert_eq!(
        (r.get::<_, bool>(0), r.get::<_, i64>(1), r.get::<_, bool>(2)),
        (false, 0, true)
    );
    for sql in [
        "SELECT * FROM decnet.smtp_targets",
        "SELECT * FROM decnet.attackers",
        "SELECT * FROM decnet.logs",
        "SELECT * FROM decnet.credentials",
        "SELECT * FROM decnet.service_buckets",
        "SELECT decnet.normalize_smtp_domain('a@b.com')",
        "SELECT * FROM decnet.verify()",
        "INSERT INTO decnet.logs (raw_line) VALUES ('x')",
    ] {
        denied(&mut gossip, sql);
    }
    // recorded sessions: ingest loads them (and its profile appears), analysts read
    // profiles and ask for similar sessions, gossip sees none of it
    ingest
        .execute(
            "INSERT INTO decnet.session_recordings (sid, events) VALUES ('r1', $1)",
            &[&"{\"sid\":\"r1\",\"t\":0,\"ch\":\"i\",\"d\":\"l\"}"],
        )
        .unwrap();
    assert_eq!(
        count(
            &mut analyst,
            "SELECT input_events::bigint FROM decnet.session_profiles WHERE sid = 'r1'"
        ),
        1
    );
    assert_eq!(
        count(
            &mut analyst,
            "SELECT count(*) FROM decnet.similar_sessions('r1')"
        ),
        0
    );
    for sql in [
        "SELECT * FROM decnet.session_profiles",
        "SELECT * FROM decnet.session_recordings",
        "UPDATE decnet.session_recordings SET events = ''",
        "INSERT INTO decnet.session_profiles (sid) VALUES ('x')",
    ] {
        denied(&mut ingest, sql);
    }
    for sql in [
        "INSERT INTO decnet.session_recordings (sid, events) VALUES ('a', '')",
        "DELETE FROM decnet.session_profiles",
    ] {
        denied(&mut analyst, sql);
    }
    for sql in [
        "SELECT * FROM decnet.session_profiles",
        "SELECT * FROM decnet.similar_sessions('r1')",
        "SELECT * FROM decnet.session_recordings",
    ] {
        denied(&mut gossip, sql);
    }

    // enrichment: analysts look up, only the owner loads data
    assert_eq!(
        count(&mut analyst, "SELECT count(decnet.country_of('8.8.8.8'))"),
        0
    );
    for sql in [
        "SELECT * FROM decnet.load_rir('')",
        "SELECT decnet.load_iptoasn('')",
        "DELETE FROM decnet.country_ranges",
    ] {
        denied(&mut analyst, sql);
        denied(&mut ingest, sql);
    }
    denied(&mut gossip, "SELECT decnet.country_of('8.8.8.8')");

    // identities: analysts read them, only the owner (and pg_cron) runs the passes
    admin
        .batch_execute("SELECT * FROM decnet.rollup()")
        .unwrap();
    assert_eq!(
        count(&mut analyst, "SELECT count(*) FROM decnet.identity_summary"),
        1
    );
    assert_eq!(
        count(
            &mut analyst,
            "SELECT count(*) FROM decnet.fingerprint_rotations"
        ),
        0
    );
    for sql in [
        "SELECT * FROM decnet.recluster_identities()",
        "SELECT * FROM decnet.cluster_campaigns()",
        "SELECT * FROM decnet.resolve_identities('{}')",
        "DELETE FROM decnet.identity_members",
    ] {
        denied(&mut analyst, sql);
        denied(&mut ingest, sql);
    }
    for sql in [
        "SELECT * FROM decnet.identity_summary",
        "SELECT * FROM decnet.campaign_summary",
        "SELECT * FROM decnet.attacker_identities",
    ] {
        denied(&mut gossip, sql);
        denied(&mut ingest, sql);
    }

    // the answer carries no attacker detail: exactly these four columns
    let cols: Vec<String> = gossip
        .prepare("SELECT * FROM decnet.smtp_target_seen('acme.com')")
        .unwrap()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(cols, ["seen", "count", "first_seen", "last_seen"]);
}

#[test]
fn shadowing_functions_and_operators_cannot_hijack_decnet() {
    let mut admin = setup("it_hijack");
    admin
        .batch_execute("GRANT CREATE ON SCHEMA public TO it_hijack_mallory, it_hijack_gossip")
        .unwrap();
    admin
        .execute("INSERT INTO decnet.logs (raw_line) VALUES ($1)", &[&LINE])
        .unwrap();

    let mut mallory = login("it_hijack", "mallory");
    mallory
        .batch_execute(
            "CREATE FUNCTION public.normalize_smtp_domain(text) RETURNS text LANGUAGE sql AS $$ SELECT 'acme.com' $$;
             CREATE FUNCTION public.sum(bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT 999::bigint $$;
             CREATE FUNCTION public.coalesce_hack(bigint, bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT 999::bigint $$;
             CREATE FUNCTION public.texteq_evil(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
             CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.texteq_evil);",
        )
        .unwrap();
    // the gossip user walks into a session whose search_path prefers the attacker's objects
    let mut gossip = login("it_hijack", "gossip");
    gossip
        .batch_execute(
            "SET search_path = public, pg_temp, pg_catalog;
             CREATE TEMP TABLE smtp_targets (attacker_ip inet, domain text, count bigint, first_seen timestamptz, last_seen timestamptz);
             INSERT INTO smtp_targets VALUES ('6.6.6.6', 'evil.org', 666, now(), now());",
        )
        .unwrap();
    for (domain, seen, n) in [
        ("ACME.com", true, 1),
        ("evil.org", false, 0),
        ("nobody.org", false, 0),
    ] {
        let r = gossip
            .query_one(
                "SELECT seen, count FROM decnet.smtp_target_seen($1)",
                &[&domain],
            )
            .unwrap();
        assert_eq!(
            (r.get::<_, bool>(0), r.get::<_, i64>(1)),
            (seen, n),
            "{domain}"
        );
    }
    // every SECURITY DEFINER function pins search_path, with pg_temp last
    assert_eq!(
        count(&mut admin, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'decnet'::regnamespace AND prosecdef
                           AND NOT coalesce(proconfig, '{}') @> ARRAY['search_path=pg_catalog, pg_temp']"),
        0
    );
    assert!(count(&mut admin, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'decnet'::regnamespace AND prosecdef") >= 3);
}

/// The `SECURITY DEFINER` functions docs/security.md lists, from its marked table.
fn documented_security_definers() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md"))
        .unwrap();
    let table = doc
        .split("<!-- security-definer")
        .nth(1)
        .unwrap()
        .split("<!-- end security-definer -->")
        .next()
        .unwrap();
    let mut names: Vec<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| l.split('(').next().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Issue 15: the catalogue is what docs/security.md says, function by function
/// and relation by relation; nothing a role cannot do by the doc is granted.
#[test]
fn the_catalogue_follows_the_security_document() {
    let mut admin = setup("it_roles_doc");
    let definers: Vec<String> = column(
        &mut admin,
        "SELECT proname::text FROM pg_proc WHERE pronamespace = 'decnet'::regnamespace AND prosecdef ORDER BY 1",
    );
    assert_eq!(definers, documented_security_definers());
    assert_eq!(definers.len(), 4);
    // analysts execute exactly the functions that cannot write
    let wrong: Vec<String> = column(
        &mut admin,
        "SELECT p.oid::regprocedure::text || ' ' || p.provolatile::text FROM pg_proc p
         WHERE p.pronamespace = 'decnet'::regnamespace AND p.prokind = 'f'
           AND has_function_privilege('decnet_analyst', p.oid, 'EXECUTE') <> (p.provolatile <> 'v')",
    );
    assert!(
        wrong.is_empty(),
        "analyst EXECUTE differs from the rule: {wrong:?}"
    );
    // every table and view is readable by analysts (probe_observations, identity_signals, recomputed_* included)
    // but the webhooks, whose URLs and Authorization values are secrets
    let unreadable: Vec<String> = column(
        &mut admin,
        "SELECT c.relname::text FROM pg_class c WHERE c.relnamespace = 'decnet'::regnamespace
           AND c.relkind IN ('r', 'p', 'v') AND NOT c.relispartition AND NOT has_table_privilege('decnet_analyst', c.oid, 'SELECT')",
    );
    assert_eq!(unreadable, ["alert_webhooks"]);
    // the notifier reads the alerts and works off the outbox, nothing else
    let notifier: Vec<String> = column(
        &mut admin,
        "SELECT c.relname::text || ' ' || p.privilege FROM pg_class c
         CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p(privilege)
         WHERE c.relnamespace = 'decnet'::regnamespace AND c.relkind IN ('r', 'p', 'v')
           AND has_table_privilege('decnet_notifier', c.oid, p.privilege) ORDER BY 1",
    );
    assert_eq!(
        notifier,
        [
            "alert_deliveries INSERT",
            "alert_outbox DELETE",
            "alert_outbox SELECT",
            "alert_outbox UPDATE",
            "alert_rules SELECT",
            "alert_webhooks SELECT",
            "alerts SELECT"
        ]
    );
    // ingest and gossip execute nothing but what the doc names
    let extra: Vec<String> = column(
        &mut admin,
        "SELECT r || ' ' || p.oid::regprocedure::text FROM pg_proc p CROSS JOIN unnest(ARRAY['decnet_ingest', 'decnet_gossip', 'decnet_notifier', 'public']) r
         WHERE p.pronamespace = 'decnet'::regnamespace AND has_function_privilege(r, p.oid, 'EXECUTE')
           AND NOT (r = 'decnet_gossip' AND p.proname = 'smtp_target_seen')
           AND NOT (r = 'decnet_ingest' AND p.proname = 'merge_event_needed')",
    );
    assert!(extra.is_empty(), "{extra:?}");
    // procedures (the scheduled rollup) are the owner's and pg_cron's alone
    let procedures: Vec<String> = column(
        &mut admin,
        "SELECT r || ' ' || p.oid::regprocedure::text FROM pg_proc p
         CROSS JOIN unnest(ARRAY['decnet_analyst', 'decnet_ingest', 'decnet_gossip', 'decnet_notifier', 'public']) r
         WHERE p.pronamespace = 'decnet'::regnamespace AND p.prokind = 'p' AND has_function_privilege(r, p.oid, 'EXECUTE')",
    );
    assert!(procedures.is_empty(), "{procedures:?}");
    assert_eq!(
        count(&mut admin, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'decnet'::regnamespace AND prokind = 'p'"),
        1,
        "rollup_backlog"
    );
}

/// Issue 15: what analysts, sensors and anyone who can connect cannot do:
/// write, send DNS, change stored results through settings, read notification payloads.
#[test]
fn no_role_writes_sends_packets_or_reads_payloads_beyond_its_rights() {
    let mut admin = setup("it_roles_deny");
    let mut analyst = login("it_roles_deny", "analyst");
    for sql in [
        "SELECT * FROM decnet.rollup()",
        "SELECT decnet.enrich_attackers('{}')",
        "SELECT * FROM decnet.resolve_pending_ptr(1000000)",
        "SELECT decnet.enrich_ptr('8.8.8.8')",
        "SELECT * FROM decnet.resolve_ptrs('{8.8.8.8}')",
        "SELECT decnet.create_log_partitions()",
        "SELECT * FROM decnet.schedule_jobs()",
        "SELECT decnet.mark_dirty('{1.2.3.4}')",
        "SELECT decnet.notify('decnet_attacker', '{}')",
        "SELECT decnet.statement_take()",
        "SELECT * FROM decnet.recluster_identities()",
        "SELECT * FROM decnet.load_rir('')",
    ] {
        denied(&mut analyst, sql);
    }
    // settings that send packets or change results: superuser or server configuration only
    analyst
        .batch_execute("SELECT decnet.classify_event_kind('connection')")
        .unwrap(); // the library is loaded
    for sql in [
        "SET decnet.ptr_enabled = on",
        "SET decnet.ptr_timeout_ms = 1",
        "SET decnet.ptr_concurrency = 100",
    ] {
        denied(&mut analyst, sql);
    }
    let err = admin
        .batch_execute("SET decnet.trusted_proxies = '0.0.0.0/0'")
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::CANT_CHANGE_RUNTIME_PARAM),
        "{err}"
    );

    // a sensor that asks for every proxy to be trusted at login gets no such thing
    let spoof = "<134>1 2026-05-01T00:00:00+00:00 decky-06 http - request [relay@55555 method=\"GET\" path=\"/\" remote_addr=\"203.0.113.70\" headers=\"{\\\"X-Forwarded-For\\\": \\\"1.2.3.4\\\"}\"]";
    let sensor_dsn = format!(
        "{} options='-c decnet.trusted_proxies=0.0.0.0/0'",
        dsn_for("it_roles_deny").replace("user=postgres", "user=it_roles_deny_ingest")
    );
    match postgres::Client::connect(&sensor_dsn, postgres::NoTls) {
        Ok(mut sensor) => sensor
            .execute("INSERT INTO decnet.logs (raw_line) VALUES ($1)", &[&spoof])
            .map(|_| ())
            .unwrap(),
        Err(e) => {
            assert!(
                db_message(&e).contains("trusted_proxies"),
                "{}",
                db_message(&e)
            );
            login("it_roles_deny", "ingest")
                .execute("INSERT INTO decnet.logs (raw_line) VALUES ($1)", &[&spoof])
                .unwrap();
        }
    }
    assert!(count(&mut admin, "SELECT count(*) FROM decnet.bounties WHERE host(attacker_ip) = '203.0.113.70'
                                AND (bounty_type = 'ip_leak' OR payload->>'fingerprint_type' = 'spoofed_source')") >= 1);
    assert_eq!(count(&mut admin, "SELECT count(*) FROM decnet.verify()"), 0);

    // sensors write lines, not the time they were received
    let mut ingest = login("it_roles_deny", "ingest");
    denied(
        &mut ingest,
        "INSERT INTO decnet.logs (raw_line, received_at) VALUES ('x', '1970-01-01')",
    );

    // LISTEN: a gossip user hears sequence numbers only, and cannot read what they stand for
    let mut gossip = login("it_roles_deny", "gossip");
    gossip.batch_execute("LISTEN decnet_attacker").unwrap();
    ingest
        .execute("INSERT INTO decnet.logs (raw_line) VALUES ($1)", &[&LINE])
        .unwrap();
    let mut heard = Vec::new();
    {
        let mut n = gossip.notifications();
        let mut it = n.timeout_iter(std::time::Duration::from_secs(5));
        use postgres::fallible_iterator::FallibleIterator;
        if let Some(note) = it.next().unwrap() {
            heard.push(note.payload().to_owned());
        }
    }
    assert_eq!(heard.len(), 1);
    assert!(heard[0].bytes().all(|b| b.is_ascii_digit()), "{heard:?}");
    denied(&mut gossip, "SELECT * FROM decnet.notifications");
    let payload = notification(&mut analyst, "decnet_attacker", &heard[0]);
    assert_eq!(payload["new"], serde_json::json!(["91.92.240.7"]));
}
