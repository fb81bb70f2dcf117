//! Small statements merge once per transaction (issue 16). A statement of
//! fewer than [`DEFER_BELOW_ROWS`] lines does not merge at its end: its delta
//! joins its transaction's pending delta, and a deferred constraint trigger
//! (`logs_merge_at_commit`, one event per transaction) merges that at commit.
//! `BEGIN; 1,000 × INSERT; COMMIT` then runs the merge once, not 1,000 times.
//!
//! Pending deltas are kept per subtransaction: ROLLBACK TO SAVEPOINT drops
//! the deltas of the statements it undoes, and a released savepoint hands its
//! delta to its parent (a subtransaction callback). Reads inside the
//! transaction see the derived tables without its deferred lines until commit,
//! or until `SET CONSTRAINTS decnet.logs_merge_at_commit IMMEDIATE`, which
//! merges them and makes every later statement merge at its end.

use crate::statement::{take, COMMANDS_KEPT_PER_END};
use decnet_core::profile::StatementDelta;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;

/// Statements with fewer lines than this merge at commit; larger ones (COPY
/// batches) merge at their end, so their memory stays bounded.
pub const DEFER_BELOW_ROWS: i64 = 1_000;

/// A subtransaction's pending delta merges at the end of the statement that
/// takes it to this many lines: many small statements in one transaction keep
/// bounded memory too.
pub const PENDING_FLUSH_ROWS: i64 = 10_000;

struct Pending {
    lxid: pg_sys::LocalTransactionId,
    subxid: pg_sys::SubTransactionId,
    delta: StatementDelta,
}

thread_local! {
    static PENDING: RefCell<Vec<Pending>> = const { RefCell::new(Vec::new()) };
    /// Pending lines merged inside a savepoint, to put back if it rolls back:
    /// (transaction, savepoint, the enclosing levels' entries as they were).
    static RESTORE: RefCell<Vec<(pg_sys::LocalTransactionId, pg_sys::SubTransactionId, Vec<Pending>)>> = const { RefCell::new(Vec::new()) };
    /// The (transaction, subtransaction) that queued this transaction's commit-time merge event.
    static EVENT: RefCell<Option<(pg_sys::LocalTransactionId, pg_sys::SubTransactionId)>> = const { RefCell::new(None) };
}

fn current() -> (pg_sys::LocalTransactionId, pg_sys::SubTransactionId) {
    unsafe { ((*pg_sys::MyProc).lxid, pg_sys::GetCurrentSubTransactionId()) }
}

/// Keeps only the entries of the running transaction (an ended one leaves its entries behind).
fn with_pending<R>(f: impl FnOnce(&mut Vec<Pending>) -> R) -> R {
    let (lxid, _) = current();
    PENDING.with_borrow_mut(|p| {
        p.retain(|e| e.lxid == lxid);
        f(p)
    })
}

/// After statement_take(): keeps the taken delta for the commit-time merge
/// when the statement was small, and returns true (logs_derive then stops).
/// Returns false, with the delta still taken, for a statement to merge now:
/// a large one, or one that brings its subtransaction's pending lines to
/// PENDING_FLUSH_ROWS (the taken delta then holds those too).
#[pg_extern(volatile, parallel_unsafe)]
fn defer_taken() -> bool {
    let rows = crate::statement::taken_rows();
    let (lxid, subxid) = current();
    // Defer only while this transaction's commit-time event is queued: with
    // the trigger set IMMEDIATE it fires at the end of each statement, before
    // this statement trigger runs, and nothing would merge a deferred delta.
    let event_queued = EVENT.with_borrow(|e| e.is_some_and(|(l, _)| l == lxid));
    if rows == 0 || rows >= DEFER_BELOW_ROWS || !event_queued {
        return false;
    }
    let delta = take();
    with_pending(|pending| {
        let at = match pending.iter().position(|e| e.subxid == subxid) {
            Some(i) => i,
            None => {
                pending.push(Pending {
                    lxid,
                    subxid,
                    delta: StatementDelta::default(),
                });
                pending.len() - 1
            }
        };
        pending[at].delta.absorb(delta, COMMANDS_KEPT_PER_END);
        if pending[at].delta.rows >= PENDING_FLUSH_ROWS {
            crate::statement::put_taken(pending.remove(at).delta);
            false
        } else {
            true
        }
    })
}

/// WHEN clause of the commit-time trigger: true for the first line of a
/// transaction (or the first after its event was undone or fired), so each
/// transaction queues one event, not one per line.
#[pg_extern(volatile, parallel_unsafe)]
fn merge_event_needed() -> bool {
    let now = current();
    EVENT.with_borrow_mut(|e| match *e {
        Some((lxid, _)) if lxid == now.0 => false,
        _ => {
            *e = Some(now);
            true
        }
    })
}

/// The commit-time trigger takes the transaction's pending lines (every
/// subtransaction's that was not rolled back) for the merge; returns how many.
#[pg_extern(volatile, parallel_unsafe)]
fn take_pending() -> i64 {
    EVENT.with_borrow_mut(|e| *e = None); // a later line queues a new event
    let (lxid, subxid) = current();
    let mut all = StatementDelta::default();
    with_pending(|pending| {
        // Fired inside a savepoint (SET CONSTRAINTS … IMMEDIATE there): a
        // rollback to it undoes this merge, so the lines of the enclosing
        // levels must come back then (on_subxact); the savepoint's own lines
        // go with it.
        if unsafe { pg_sys::GetCurrentTransactionNestLevel() } > 1 {
            let outer: Vec<Pending> = pending
                .iter()
                .filter(|e| e.subxid != subxid)
                .map(|e| Pending {
                    lxid: e.lxid,
                    subxid: e.subxid,
                    delta: e.delta.clone(),
                })
                .collect();
            if !outer.is_empty() {
                RESTORE.with_borrow_mut(|r| r.push((lxid, subxid, outer)));
            }
        }
        for e in pending.drain(..) {
            all.absorb(e.delta, COMMANDS_KEPT_PER_END);
        }
    });
    let rows = all.rows;
    crate::statement::put_taken(all);
    rows
}

/// Subtransaction ends: a rollback drops what its statements deferred (and
/// the merge event it queued); a commit hands both to the parent.
#[pg_guard]
unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    let lxid = unsafe { (*pg_sys::MyProc).lxid };
    match event {
        pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB => {
            PENDING.with_borrow_mut(|p| p.retain(|e| e.lxid == lxid && e.subxid != my_subid));
            // a merge this savepoint ran is undone: its lines of enclosing levels are pending again
            let restored: Vec<Pending> = RESTORE.with_borrow_mut(|r| {
                r.retain(|(l, _, _)| *l == lxid);
                let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(r)
                    .into_iter()
                    .partition(|(_, s, _)| *s == my_subid);
                *r = rest;
                mine.into_iter()
                    .flat_map(|(_, _, entries)| entries)
                    .collect()
            });
            PENDING.with_borrow_mut(|p| {
                for entry in restored {
                    match p.iter_mut().find(|e| e.subxid == entry.subxid) {
                        Some(e) => e.delta.absorb(entry.delta, COMMANDS_KEPT_PER_END),
                        None => p.push(entry),
                    }
                }
            });
            EVENT.with_borrow_mut(|e| {
                if e.is_some_and(|(_, s)| s == my_subid) {
                    *e = None;
                }
            });
        }
        pg_sys::SubXactEvent::SUBXACT_EVENT_COMMIT_SUB => {
            PENDING.with_borrow_mut(|p| {
                p.retain(|e| e.lxid == lxid);
                if let Some(i) = p.iter().position(|e| e.subxid == my_subid) {
                    let child = p.remove(i);
                    match p.iter_mut().find(|e| e.subxid == parent_subid) {
                        Some(parent) => parent.delta.absorb(child.delta, COMMANDS_KEPT_PER_END),
                        None => p.push(Pending {
                            subxid: parent_subid,
                            ..child
                        }),
                    }
                }
            });
            EVENT.with_borrow_mut(|e| {
                if let Some((lxid, s)) = *e {
                    if s == my_subid {
                        *e = Some((lxid, parent_subid));
                    }
                }
            });
            // a released savepoint's merge now stands or falls with its parent
            RESTORE.with_borrow_mut(|r| {
                r.retain(|(l, _, _)| *l == lxid);
                for (_, s, _) in r.iter_mut() {
                    if *s == my_subid {
                        *s = parent_subid;
                    }
                }
            });
        }
        _ => {}
    }
}

/// Before commit (after the deferred triggers fired): lines still pending
/// would never be merged, so the commit fails instead. That happens only if
/// logs_merge_at_commit was disabled, or a session called
/// merge_event_needed() itself to skip its event: it hurts only itself.
#[pg_guard]
unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    if !matches!(
        event,
        pg_sys::XactEvent::XACT_EVENT_PRE_COMMIT | pg_sys::XactEvent::XACT_EVENT_PRE_PREPARE
    ) {
        return;
    }
    let unmerged: i64 = with_pending(|p| p.iter().map(|e| e.delta.rows).sum());
    if unmerged > 0 {
        PENDING.with_borrow_mut(Vec::clear);
        pgrx::pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("{unmerged} line(s) of this transaction were not merged into the attacker profiles"),
            "decnet::pending",
        )
        .set_hint("The deferred trigger logs_merge_at_commit on decnet.logs did not run: enable it (ALTER TABLE decnet.logs ENABLE TRIGGER logs_merge_at_commit) and retry.")
        .report(PgLogLevel::ERROR);
    }
}

/// Called once from _PG_init.
pub fn init() {
    unsafe {
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
    }
}
