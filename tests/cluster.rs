//! The throwaway cluster: pg_cron preloaded, migrations idempotent and recorded.

use decnet_it::*;

#[test]
fn pg_cron_runs_the_scheduled_rollup() {
    let main = std::env::var("DECNET_MAIN_DSN")
        .expect("DECNET_MAIN_DSN is not set: run through `./x test`");
    let mut c = connect(&main);
    let libs: String = c
        .query_one("SHOW shared_preload_libraries", &[])
        .unwrap()
        .get(0);
    assert!(libs.contains("pg_cron"), "{libs}");
    decnet_cli::db::migrate(&mut c).expect("migrate the main database");
    for (job, schedule) in [
        ("decnet-rollup", "* * * * *"),
        ("decnet-ptr", "* * * * *"),
        ("decnet-identities", "17 * * * *"),
        ("decnet-campaigns", "*/10 * * * *"),
        ("decnet-partitions", "7 3 * * *"),
    ] {
        assert_eq!(count(&mut c, &format!("SELECT count(*) FROM cron.job WHERE jobname = '{job}' AND schedule = '{schedule}'")), 1, "{job}");
    }
    // the partitions of this month and the next three exist; the scheduled job finds nothing left to do
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.log_partitions()
                              WHERE received_before > now() AND received_from <= now() + interval '3 months'"), 4);
    assert_eq!(
        count(&mut c, "SELECT decnet.create_log_partitions()::bigint"),
        0
    );
    // issue 15: where pg_cron serves the database, every job is there, and schedule_jobs() keeps them (idempotent)
    assert_eq!(
        column::<Vec<String>>(&mut c, "SELECT missing_jobs FROM decnet.stats()"),
        vec![Vec::<String>::new()]
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.schedule_jobs()"),
        5
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM cron.job WHERE jobname LIKE 'decnet-%'"
        ),
        5
    );
    // a beacon to classify; nothing calls rollup() but pg_cron
    let mut lines = String::new();
    for i in 0..11 {
        lines += &format!("<134>1 2026-05-01T01:{i:02}:00+00:00 decky-02 dns - query [relay@55555 src_ip=\"198.18.7.7\" qname=\"c2.example.org\"]\n");
    }
    ingest_bytes(&mut c, lines.as_bytes());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(150);
    loop {
        let class: Option<String> = c
            .query_opt("SELECT behavior_class FROM decnet.attacker_behavior WHERE attacker_ip = '198.18.7.7'", &[])
            .unwrap()
            .map(|r| r.get(0));
        if let Some(class) = class {
            assert_eq!(class, "beaconing");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pg_cron did not run decnet.rollup() within 150 s"
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    assert!(count(&mut c, "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'decnet-rollup' AND d.status = 'succeeded'") >= 1);
    // the reverse-DNS job runs beside it; the throwaway cluster has decnet.ptr_enabled off, so the attacker stays queued
    let ptr_runs = "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'decnet-ptr' AND d.status = 'succeeded'";
    while count(&mut c, ptr_runs) == 0 {
        assert!(
            std::time::Instant::now() < deadline + std::time::Duration::from_secs(60),
            "pg_cron did not run decnet.resolve_pending_ptr()"
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.attackers WHERE host(ip) = '198.18.7.7' AND ptr_attempted_at IS NULL"), 1);
    // the scheduler keeps a background worker
    assert!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'"
        ) >= 1
    );
}

#[test]
fn migrate_is_idempotent_and_recorded() {
    let mut c = fresh_db("it_migrate");
    let first = decnet_cli::db::migrate(&mut c).unwrap();
    assert_eq!(first, decnet_cli::db::known_migrations());
    assert!(!first.is_empty());
    let second = decnet_cli::db::migrate(&mut c).unwrap();
    assert!(second.is_empty(), "{second:?}");
    let live = decnet_cli::db::LIVE_DEFINITIONS.len();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.schema_migrations"),
        (first.len() - live) as i64
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.live_definitions"),
        live as i64
    );
    // a live file that changed is applied again, with the files after it
    c.batch_execute(
        "COMMENT ON VIEW decnet.ingest_sources IS NULL;
         UPDATE decnet.live_definitions SET md5 = 'an older text' WHERE file = 'operations.sql'",
    )
    .unwrap();
    let third = decnet_cli::db::migrate(&mut c).unwrap();
    assert_eq!(third.len(), live, "{third:?}");
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM pg_description WHERE objoid = 'decnet.ingest_sources'::regclass AND objsubid = 0"),
        1
    );
    assert!(decnet_cli::db::migrate(&mut c).unwrap().is_empty());
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_extension WHERE extname = 'decnet'"
        ),
        1
    );
    // the trigger is attached and the table is ready for COPY
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'decnet.logs'::regclass AND tgname = 'logs_parse'"), 1);
}

/// Issue 15: a database pg_cron does not serve is told so, and told how.
#[test]
fn jobs_missing_where_pg_cron_does_not_serve_the_database() {
    let mut c = migrated_db("it_cluster_nocron");
    let missing: Vec<String> = c
        .query_one("SELECT missing_jobs FROM decnet.stats()", &[])
        .unwrap()
        .get(0);
    assert_eq!(missing.len(), 5, "{missing:?}");
    let err = c
        .query("SELECT * FROM decnet.schedule_jobs()", &[])
        .unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "55000");
    let hint = db.hint().unwrap();
    assert!(hint.contains("cron.schedule_in_database('decnet-rollup', '* * * * *', 'CALL decnet.rollup_backlog()', 'it_cluster_nocron')"), "{hint}");
}

/// Issue 15: with decnet preloaded, its settings are known from a session's start
/// (SHOW works before any decnet call), and a line received in 1970 breaks nothing.
#[test]
fn settings_are_known_at_login_and_odd_received_times_are_harmless() {
    let mut c = migrated_db("it_cluster_settings");
    let mut fresh = connect(&dsn_for("it_cluster_settings"));
    let timeout: String = fresh
        .query_one("SHOW decnet.ptr_timeout_ms", &[])
        .unwrap()
        .get(0);
    assert_eq!(timeout, "2000");
    let proxies: String = fresh
        .query_one("SHOW decnet.trusted_proxies", &[])
        .unwrap()
        .get(0);
    assert_eq!(proxies, "");
    // only an operator can choose received_at; a far past one lands in the default partition
    c.batch_execute("INSERT INTO decnet.logs (raw_line, received_at) VALUES ('<134>1 2026-05-01T00:00:00+00:00 d ssh - connection [relay@55555 src_ip=\"203.0.113.90\"]', '1970-01-01')").unwrap();
    c.batch_execute("INSERT INTO decnet.logs (raw_line) VALUES ('<134>1 2026-05-01T00:00:01+00:00 d ssh - connection [relay@55555 src_ip=\"203.0.113.90\"]')").unwrap();
    let r = c
        .query_one(
            "SELECT lines_ingested, attackers, ingest_idle < interval '1 hour' FROM decnet.stats()",
            &[],
        )
        .unwrap();
    assert_eq!(
        (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, bool>(2)),
        (2, 1, true)
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs_default"), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}
