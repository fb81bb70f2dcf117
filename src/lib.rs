//! The `decnet` PostgreSQL extension: a thin pgrx layer over `decnet-core`.
//!
//! Functions live here; tables live in the refinery migrations (`migrations/`),
//! so pg_dump keeps their rows and data upgrades are versioned separately.

// pgrx's TableIterator return types name every column: long by design.
#![allow(clippy::type_complexity)]

use pgrx::prelude::*;

mod behavior;
mod datum;
mod enrich;
mod functions;
mod gucs;
mod identity;
mod ingest;
mod keystroke;
mod merge_queue;
mod pending;
mod ptr;
mod sharing;
mod statement;

::pgrx::pg_module_magic!(name, version);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
    pending::init();
    // Errors reach users as a SQLSTATE, a message and a hint, never a Rust
    // backtrace: pgrx puts a captured one into the error's DETAIL, and
    // captures whenever RUST_BACKTRACE is set in the server's environment.
    // SAFETY: _PG_init runs once per process, before the backend starts any thread.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    // the parser's loops over one line's content honour cancel and statement_timeout
    decnet_core::bound::set_interrupt_check(check_for_interrupts);
}

fn check_for_interrupts() {
    pgrx::check_for_interrupts!();
}

// Hand-written SQL, one file per topic, then COMMENT ON for everything. No
// `requires` lists: PostgreSQL runs an extension script with
// check_function_bodies off, so a function body may name a function defined
// later in the script (or a table the migrations make afterwards); only
// comments.sql, which names every function, must come last.
extension_sql_file!("../sql/enrich.sql", name = "enrich");
extension_sql_file!("../sql/ingest_merge.sql", name = "ingest_merge");
extension_sql_file!("../sql/verify_rebuild.sql", name = "verify_rebuild");
extension_sql_file!("../sql/smtp.sql", name = "smtp");
extension_sql_file!("../sql/rollup.sql", name = "rollup");
extension_sql_file!("../sql/identity.sql", name = "identity");
extension_sql_file!("../sql/sessions.sql", name = "sessions");
extension_sql_file!("../sql/sharing.sql", name = "sharing");
extension_sql_file!("../sql/operations.sql", name = "operations");
extension_sql_file!("../sql/comments.sql", name = "comments", finalize);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    // pgrx's #[pg_schema] needs an inline module; the tests live in their own file.
    include!("pg_tests.rs");
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
