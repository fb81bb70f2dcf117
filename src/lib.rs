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

// Hand-written SQL: helpers and the derivation trigger, then COMMENT ON for everything.
extension_sql_file!(
    "../sql/enrich.sql",
    name = "enrich",
    requires = [
        rir_ranges,
        iptoasn_ranges,
        range_prefix,
        is_public_address,
        resolve_ptrs
    ]
);
extension_sql_file!(
    "../sql/derive.sql",
    name = "derive",
    requires = [
        "enrich",
        "identity",
        log_bounties,
        classify_event_kind,
        service_families,
        bounty_keys,
        bounty_event_types,
        command_text,
        is_sensor_service,
        timing_stats,
        behavior_class,
        cadence_tools,
        jitter_pct,
        behavior_details,
        behavior_details_of,
        os_signature_match,
        p0f_signatures
    ]
);
extension_sql_file!(
    "../sql/identity.sql",
    name = "identity",
    requires = [
        identity_link_reasons,
        identity_edge_pairs,
        statement_probes,
        statement_ipv6_leaks,
        ipv6_iid_kind,
        ipv6_mac_oui,
        ipv6_eui64_mac,
        fingerprint_summary,
        identity_edge,
        campaign_edge,
        command_phase,
        c2_endpoints,
        connected_components,
        keep_previous_groups,
        "kd_centroid"
    ]
);
extension_sql_file!(
    "../sql/sessions.sql",
    name = "sessions",
    requires = [keystroke_profile, kd_chunk_neighbors, kd_hamming]
);
extension_sql_file!(
    "../sql/sharing.sql",
    name = "sharing",
    requires = [
        "derive",
        "identity",
        stix_bundle,
        misp_event,
        navigator_layer,
        csv_line
    ]
);
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
