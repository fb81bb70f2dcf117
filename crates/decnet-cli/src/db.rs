//! Connecting and migrating: `CREATE EXTENSION decnet` (the code), then the
//! refinery migrations (the data schema), recorded in decnet.schema_migrations,
//! then the live definitions (the views, migrations/live/), recorded with
//! their checksums in decnet.live_definitions.

use crate::CliError;
use postgres::{Client, NoTls};

refinery::embed_migrations!("../../migrations");

pub const MIGRATION_TABLE: &str = "decnet.schema_migrations";

/// The live definition files, in the order they are applied: one list for
/// this crate and the #[pg_test]s.
pub const LIVE_DEFINITIONS: &[(&str, &str)] = include!("../../../migrations/live/files.rs");

/// Connects with `dsn` completed as libpq would (crate::conninfo).
pub fn connect(dsn: &str) -> Result<Client, CliError> {
    let config = crate::conninfo::resolve(dsn, &|k| std::env::var(k).ok())?;
    config
        .connect(NoTls)
        .map_err(|e| CliError::from_db("cannot connect", e))
}

/// [`connect`] for long-running loaders: while the server cannot be reached
/// (not started yet, restarting), waits and tries again, with backoff up to
/// 10 s. What the server refuses (authentication, a missing database) is
/// final, and so is a stop request (crate::daemon) while waiting.
pub fn connect_patiently(dsn: &str) -> Result<Client, CliError> {
    let config = crate::conninfo::resolve(dsn, &|k| std::env::var(k).ok())?;
    let mut backoff = crate::daemon::Backoff::default();
    loop {
        if crate::daemon::stop_requested() {
            return Err(CliError::new(
                "stopped while the database was unreachable",
                "nothing was lost: what was not stored is read or sent again on the next start",
            ));
        }
        match config.connect(NoTls) {
            Ok(c) => return Ok(c),
            Err(e) if e.as_db_error().is_some() => {
                return Err(CliError::from_db("cannot connect", e))
            }
            Err(e) => {
                eprintln!(
                    "cannot connect yet ({}); retrying in {:.1} s",
                    CliError::from_db("", e).message.trim_start_matches(": "),
                    backoff.next().as_secs_f64()
                );
                backoff.sleep();
            }
        }
    }
}

/// Idempotent: creates or updates the extension, then applies pending
/// migrations, then the live definitions if any changed. Returns the names of
/// the migrations (and, as `live/FILE`, the live files) applied by this call. Refuses a
/// database whose migrations ran but whose extension objects are gone (DROP
/// EXTENSION decnet CASCADE drops the triggers and views the migrations made:
/// lines would be stored unparsed and never counted).
pub fn migrate(client: &mut Client) -> Result<Vec<String>, CliError> {
    let q = |client: &mut Client, sql: &str| -> Result<bool, CliError> {
        Ok(client
            .query_one(sql, &[])
            .map_err(|e| CliError::from_db("reading the catalogue failed", e))?
            .get(0))
    };
    let migrated_before = q(
        client,
        &format!("SELECT to_regclass('{MIGRATION_TABLE}') IS NOT NULL"),
    )? && q(
        client,
        &format!("SELECT EXISTS (SELECT 1 FROM {MIGRATION_TABLE})"),
    )?;
    let had_extension = q(
        client,
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'decnet')",
    )?;
    if migrated_before && (!had_extension || !q(client, PARSE_TRIGGER_EXISTS)?) {
        return Err(CliError::new(
            "this database was migrated, but the decnet extension (or the ingest trigger it provides) was dropped since: \
             its triggers and views are gone, and new lines would be stored unparsed",
            "restore the database from a dump; or, to start over, DROP SCHEMA decnet CASCADE (this deletes every line) and migrate again",
        ));
    }
    client
        .batch_execute("CREATE EXTENSION IF NOT EXISTS decnet")
        .map_err(|e| CliError::from_db("CREATE EXTENSION decnet failed", e))?;
    // Brings an older installed version up to the one on disk; a no-op otherwise.
    let outdated: bool = client
        .query_one(
            "SELECT installed_version IS DISTINCT FROM default_version FROM pg_available_extensions WHERE name = 'decnet'",
            &[],
        )
        .map_err(|e| CliError::from_db("reading the extension version failed", e))?
        .get(0);
    if outdated {
        client
            .batch_execute("ALTER EXTENSION decnet UPDATE")
            .map_err(|e| CliError::from_db("ALTER EXTENSION decnet UPDATE failed", e))?;
    }
    let report = migrations::runner()
        .set_migration_table_name(MIGRATION_TABLE)
        .run(client)
        .map_err(|e| {
            CliError::new(
                format!("migration failed: {}", chain(&e)),
                "fix the failing migration; applied ones are recorded in decnet.schema_migrations",
            )
        })?;
    let mut applied: Vec<String> = report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect();
    applied.extend(apply_live_definitions(client, !applied.is_empty())?);
    Ok(applied)
}

/// Applies every live definition file, in order, in one transaction, when
/// one of them changed since it was last applied or when `after_migrations`
/// (a numbered migration may have dropped a view to change its columns). A
/// file only replaces views (`CREATE OR REPLACE VIEW`), so applying all of
/// them again is harmless; skipping unchanged ones spares the exclusive lock
/// each replaced view takes. Returns the files applied, as `live/FILE`.
fn apply_live_definitions(
    client: &mut Client,
    after_migrations: bool,
) -> Result<Vec<String>, CliError> {
    let fail = |what: &str, e: postgres::Error| CliError::from_db(what, e);
    let mut tx = client
        .transaction()
        .map_err(|e| fail("applying the live definitions failed", e))?;
    // two migrations at once: the second waits, then finds nothing changed
    tx.batch_execute("LOCK TABLE decnet.live_definitions IN EXCLUSIVE MODE")
        .map_err(|e| fail("locking decnet.live_definitions failed", e))?;
    let mut changed = after_migrations;
    for (file, sql) in LIVE_DEFINITIONS {
        let same: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM decnet.live_definitions WHERE file = $1 AND md5 = md5($2))",
                &[file, sql],
            )
            .map_err(|e| fail("reading decnet.live_definitions failed", e))?
            .get(0);
        changed |= !same;
    }
    if !changed {
        return Ok(Vec::new());
    }
    let mut applied = Vec::new();
    for (file, sql) in LIVE_DEFINITIONS {
        tx.batch_execute(sql).map_err(|e| {
            let mut err = fail(&format!("live definition {file} failed"), e);
            err.hint = "a view whose columns change is dropped by a numbered migration first \
                        (docs/contributing.md, \"Live definitions\")"
                .into();
            err
        })?;
        tx.execute(
            "INSERT INTO decnet.live_definitions (file, md5) VALUES ($1, md5($2))
             ON CONFLICT (file) DO UPDATE SET md5 = excluded.md5, applied_at = now()",
            &[file, sql],
        )
        .map_err(|e| fail("recording a live definition failed", e))?;
        applied.push(format!("live/{file}"));
    }
    tx.commit()
        .map_err(|e| fail("committing the live definitions failed", e))?;
    Ok(applied)
}

/// Whether decnet.logs has its parse trigger (made by the migrations from the extension's function).
const PARSE_TRIGGER_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid \
     WHERE t.tgrelid = to_regclass('decnet.logs') AND p.proname = 'logs_parse_trigger')";

/// The pg_cron jobs of decnet.cron_jobs() not scheduled for this database (as decnet.stats() reports them).
pub fn missing_jobs(client: &mut Client) -> Result<Vec<String>, CliError> {
    Ok(client
        .query_one("SELECT decnet.missing_cron_jobs()", &[])
        .map_err(|e| CliError::from_db("reading the pg_cron jobs failed", e))?
        .get(0))
}

/// Applies the migrations up to `version` only, leaving the extension as it
/// is: how the upgrade test rebuilds an older release's schema.
pub fn migrate_up_to(client: &mut Client, version: u32) -> Result<Vec<String>, CliError> {
    let mut runner = migrations::runner().set_target(refinery::Target::Version(version));
    runner.set_migration_table_name(MIGRATION_TABLE);
    let report = runner.run(client).map_err(|e| {
        CliError::new(
            format!("migration failed: {}", chain(&e)),
            "fix the failing migration",
        )
    })?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}

/// An error and its causes on one line (refinery's own message hides the server's).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// Names of every embedded migration, in order, then the live definition
/// files (what a fresh install applies).
pub fn known_migrations() -> Vec<String> {
    let mut all = migrations::runner().get_migrations().clone();
    all.sort_by_key(|m| m.version());
    let mut names: Vec<String> = all.iter().map(|m| m.to_string()).collect();
    names.extend(LIVE_DEFINITIONS.iter().map(|(f, _)| format!("live/{f}")));
    names
}
