//! The throwaway cluster: pg_cron preloaded, migrations idempotent and recorded.

use decnet_it::*;

#[test]
fn pg_cron_is_preloaded_and_installed() {
    let mut admin = connect(&base_dsn());
    let libs: String = admin.query_one("SHOW shared_preload_libraries", &[]).unwrap().get(0);
    assert!(libs.contains("pg_cron"), "{libs}");
    assert_eq!(count(&mut admin, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'"), 1);
    // the scheduler really runs: it keeps a background worker
    assert!(count(&mut admin, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'") >= 1);
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
