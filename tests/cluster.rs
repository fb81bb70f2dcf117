//! The throwaway cluster: pg_cron preloaded, migrations idempotent and recorded.

use decnet_it::*;

#[test]
fn pg_cron_runs_the_scheduled_rollup() {
    let main = std::env::var("DECNET_MAIN_DSN").expect("DECNET_MAIN_DSN is not set: run through `./x test`");
    let mut c = connect(&main);
    let libs: String = c.query_one("SHOW shared_preload_libraries", &[]).unwrap().get(0);
    assert!(libs.contains("pg_cron"), "{libs}");
    decnet_cli::db::migrate(&mut c).expect("migrate the main database");
    for (job, schedule) in [("decnet-rollup", "* * * * *"), ("decnet-ptr", "* * * * *"), ("decnet-identities", "17 * * * *"),
                            ("decnet-campaigns", "*/10 * * * *"), ("decnet-partitions", "7 3 * * *")] {
        assert_eq!(count(&mut c, &format!("SELECT count(*) FROM cron.job WHERE jobname = '{job}' AND schedule = '{schedule}'")), 1, "{job}");
    }
    // the partitions of this month and the next three exist; the scheduled job finds nothing left to do
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.log_partitions()
                              WHERE received_before > now() AND received_from <= now() + interval '3 months'"), 4);
    assert_eq!(count(&mut c, "SELECT decnet.create_log_partitions()::bigint"), 0);
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
        assert!(std::time::Instant::now() < deadline, "pg_cron did not run decnet.rollup() within 150 s");
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    assert!(count(&mut c, "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'decnet-rollup' AND d.status = 'succeeded'") >= 1);
    // the reverse-DNS job runs beside it; the throwaway cluster has decnet.ptr_enabled off, so the attacker stays queued
    let ptr_runs = "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'decnet-ptr' AND d.status = 'succeeded'";
    while count(&mut c, ptr_runs) == 0 {
        assert!(std::time::Instant::now() < deadline + std::time::Duration::from_secs(60), "pg_cron did not run decnet.resolve_pending_ptr()");
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.attackers WHERE host(ip) = '198.18.7.7' AND ptr_attempted_at IS NULL"), 1);
    // the scheduler keeps a background worker
    assert!(count(&mut c, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'") >= 1);
}

#[test]
fn migrate_is_idempotent_and_recorded() {
    let mut c = fresh_db("it_migrate");
    let first = decnet_cli::db::migrate(&mut c).unwrap();
    assert_eq!(first, decnet_cli::db::known_migrations());
    assert!(!first.is_empty());
    let second = decnet_cli::db::migrate(&mut c).unwrap();
    assert!(second.is_empty(), "{second:?}");
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.schema_migrations"), first.len() as i64);
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_extension WHERE extname = 'decnet'"), 1);
    // the trigger is attached and the table is ready for COPY
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'decnet.logs'::regclass AND tgname = 'logs_parse'"), 1);
}
