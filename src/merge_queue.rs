//! Merge behind (issue 16, decnet.merge_behind_ms): a small transaction that
//! commits soon after another merge queues its lines' ids in
//! decnet.merge_queue instead of merging them; the next merge (the next
//! commit after the window, or decnet.rollup()) takes the queue, parses the
//! queued lines again and merges them with its own, once. A queue entry is
//! deleted in the transaction that merges it: never merged twice, never lost.

use crate::statement::{absorb_taken, take, COMMANDS_KEPT_PER_END};
use decnet_core::bounty::Config;
use decnet_core::profile::StatementDelta;
use decnet_core::syslog;
use pgrx::prelude::*;

/// decnet.merge_behind_ms, for the SQL that decides.
#[pg_extern(stable, parallel_safe)]
fn merge_behind_ms() -> i32 {
    crate::gucs::merge_behind_ms()
}

/// Forgets the taken delta once merge_taken() has merged it.
#[pg_extern(volatile, parallel_unsafe)]
fn discard_taken() {
    drop(take());
}

/// Takes the taken delta off the merge and returns its lines' ids, to queue.
#[pg_extern(volatile, parallel_unsafe)]
fn take_log_ids() -> Vec<i64> {
    take().log_ids
}

/// Parses queued lines (`ids` with their `lines`, as stored) and adds them to
/// the taken delta, as the row trigger did when they were inserted. Returns
/// how many were added.
#[pg_extern(volatile, parallel_unsafe)]
fn absorb_lines(ids: Vec<i64>, lines: Vec<Option<String>>) -> i64 {
    let cfg = Config::with_trusted_proxies(&crate::gucs::trusted_proxies());
    let mut delta = StatementDelta::default();
    for (id, line) in ids.into_iter().zip(lines) {
        pgrx::check_for_interrupts!();
        let Some(line) = line else { continue };
        // a line whose grouping panicked at insert was flagged and left out then: leave it out again
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            delta.add(id, &syslog::parse_line(&line), &cfg, COMMANDS_KEPT_PER_END)
        }));
    }
    let rows = delta.rows;
    absorb_taken(delta);
    rows
}
