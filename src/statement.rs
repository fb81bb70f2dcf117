//! Per-statement accumulation of profile deltas, between the row trigger (which
//! parses each line and adds it here) and the AFTER STATEMENT trigger (which
//! takes the delta and merges it into the derived tables with one grouped
//! upsert per table; sql/ingest_merge.sql).
//!
//! State is backend-local. A frame belongs to one statement: the BEFORE
//! STATEMENT trigger pushes it, the AFTER STATEMENT trigger pops it, so nested
//! statements get their own frames. A frame left behind by a statement that
//! failed is recognised and dropped: its transaction is over (other local
//! transaction id) or its subtransaction was rolled back (no longer active).

use crate::datum::{InetAddr, Jsonb};
use crate::functions::{field_str, to_timestamptz};
use decnet_core::bounty::Config;
use decnet_core::profile::{self, StatementDelta};
use decnet_core::syslog::ParsedLine;
use pgrx::datum::JsonB;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;

/// Commands kept per attacker at each end (first N, last N by time).
pub const COMMANDS_KEPT_PER_END: usize = 50;

struct Frame {
    lxid: pg_sys::LocalTransactionId,
    subxid: pg_sys::SubTransactionId,
    /// decnet.trusted_proxies as it was when the statement began.
    config: Config,
    delta: StatementDelta,
}

thread_local! {
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
    static TAKEN: RefCell<StatementDelta> = RefCell::new(StatementDelta::default());
}

fn current_lxid() -> pg_sys::LocalTransactionId {
    unsafe { (*pg_sys::MyProc).lxid }
}

fn live(f: &Frame, lxid: pg_sys::LocalTransactionId) -> bool {
    f.lxid == lxid && unsafe { pg_sys::SubTransactionIsActive(f.subxid) }
}

fn with_live_frames<R>(f: impl FnOnce(&mut Vec<Frame>) -> R) -> R {
    let lxid = current_lxid();
    FRAMES.with_borrow_mut(|frames| {
        frames.retain(|fr| live(fr, lxid));
        f(frames)
    })
}

/// Opens a frame; the settings are read here, once per statement, not per line.
fn push_frame(frames: &mut Vec<Frame>) {
    frames.push(Frame {
        lxid: current_lxid(),
        subxid: unsafe { pg_sys::GetCurrentSubTransactionId() },
        config: Config::with_trusted_proxies(&crate::gucs::trusted_proxies()),
        delta: StatementDelta::default(),
    });
}

/// Called by the row trigger for every stored line. Returns false if the
/// (pure Rust) grouping panicked: the line is still stored, and flagged.
pub fn record(log_id: i64, line: &ParsedLine<'_>) -> bool {
    with_live_frames(|frames| {
        if frames.is_empty() {
            push_frame(frames); // statement triggers disabled: still account for the row
        }
        let top = frames.last_mut().expect("non-empty");
        let (delta, cfg) = (&mut top.delta, &top.config);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            delta.add(log_id, line, cfg, COMMANDS_KEPT_PER_END)
        }))
        .is_ok()
    })
}

/// BEFORE INSERT FOR EACH STATEMENT on decnet.logs: open this statement's frame.
#[pg_trigger]
fn logs_statement_begin<'a>(
    _trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    with_live_frames(push_frame);
    Ok(None)
}

/// The taken delta, moved out (src/pending.rs keeps it for the commit-time merge).
pub fn take() -> StatementDelta {
    TAKEN.with_borrow_mut(std::mem::take)
}

/// Makes `delta` the taken delta the statement_* functions read.
pub fn put_taken(delta: StatementDelta) {
    TAKEN.with_borrow_mut(|t| *t = delta);
}

/// Adds `delta` to the taken delta (queued lines merged with a transaction's own).
pub fn absorb_taken(delta: StatementDelta) {
    TAKEN.with_borrow_mut(|t| t.absorb(delta, COMMANDS_KEPT_PER_END));
}

pub fn taken_rows() -> i64 {
    TAKEN.with_borrow(|t| t.rows)
}

/// Lines in the taken delta (a statement's, or a transaction's pending lines).
#[pg_extern(volatile, parallel_unsafe)]
fn statement_rows() -> i64 {
    taken_rows()
}

/// Takes this statement's delta for the statement_* functions; returns its line count.
#[pg_extern(volatile, parallel_unsafe)]
fn statement_take() -> i64 {
    let delta = with_live_frames(|frames| frames.pop())
        .map(|f| f.delta)
        .unwrap_or_default();
    let rows = delta.rows;
    TAKEN.with_borrow_mut(|t| *t = delta);
    rows
}

/// What the taken statement delta holds, part by part: logs_derive skips the
/// steps with nothing to merge (a one-line INSERT has at most one of commands,
/// bounties, credentials, recipients, probes or leaks).
#[pg_extern(volatile, parallel_unsafe)]
fn statement_parts() -> TableIterator<
    'static,
    (
        name!(attackers, i64),
        name!(commands, i64),
        name!(bounties, i64),
        name!(credentials, i64),
        name!(smtp_targets, i64),
        name!(probes, i64),
        name!(ipv6_leaks, i64),
    ),
> {
    let row = TAKEN.with_borrow(|t| {
        let n = |len: usize| len as i64;
        (
            n(t.attackers.len()),
            t.command_rows() as i64,
            n(t.bounties.len()),
            n(t.credentials.len()),
            n(t.smtp_targets.len()),
            n(t.probes.len()),
            n(t.ipv6_leaks.len()),
        )
    });
    TableIterator::once(row)
}

/// The smallest decnet.logs id of the taken statement delta.
#[pg_extern(volatile, parallel_unsafe)]
fn statement_first_log_id() -> i64 {
    TAKEN.with_borrow(|t| t.first_log_id)
}

fn ts(us: Option<i64>) -> Option<TimestampWithTimeZone> {
    us.and_then(to_timestamptz)
}

#[pg_extern(volatile, parallel_unsafe)]
fn statement_attackers() -> TableIterator<
    'static,
    (
        name!(ip, InetAddr),
        name!(events, i64),
        name!(commands, i64),
        name!(first_seen, Option<TimestampWithTimeZone>),
        name!(last_seen, Option<TimestampWithTimeZone>),
    ),
> {
    let rows: Vec<_> = TAKEN
        .with_borrow_mut(|t| std::mem::take(&mut t.attackers))
        .into_iter()
        .map(|(ip, a)| {
            (
                InetAddr(ip),
                a.events,
                a.commands,
                ts(a.span.first),
                ts(a.span.last),
            )
        })
        .collect();
    TableIterator::new(rows)
}

#[pg_extern(volatile, parallel_unsafe)]
fn statement_services() -> TableIterator<
    'static,
    (
        name!(attacker_ip, InetAddr),
        name!(service, String),
        name!(events, i64),
        name!(interaction, i64),
        name!(scan, i64),
        name!(noise, i64),
        name!(first_seen, Option<TimestampWithTimeZone>),
        name!(last_seen, Option<TimestampWithTimeZone>),
    ),
> {
    let rows: Vec<_> = TAKEN
        .with_borrow_mut(|t| std::mem::take(&mut t.services))
        .into_iter()
        .map(|((ip, service), s)| {
            (
                InetAddr(ip),
                service,
                s.events,
                s.interaction,
                s.scan,
                s.noise,
                ts(s.span.first),
                ts(s.span.last),
            )
        })
        .collect();
    TableIterator::new(rows)
}

#[pg_extern(volatile, parallel_unsafe)]
fn statement_deckies() -> TableIterator<
    'static,
    (
        name!(attacker_ip, InetAddr),
        name!(decky, String),
        name!(first_seen, Option<TimestampWithTimeZone>),
        name!(first_log_id, i64),
        name!(last_seen, Option<TimestampWithTimeZone>),
        name!(events, i64),
    ),
> {
    let rows: Vec<_> = TAKEN
        .with_borrow_mut(|t| std::mem::take(&mut t.deckies))
        .into_iter()
        .map(|((ip, decky), d)| {
            (
                InetAddr(ip),
                decky,
                ts(d.span.first),
                d.first_log_id,
                ts(d.span.last),
                d.events,
            )
        })
        .collect();
    TableIterator::new(rows)
}

#[pg_extern(volatile, parallel_unsafe)]
fn statement_commands() -> TableIterator<
    'static,
    (
        name!(attacker_ip, InetAddr),
        name!(log_id, i64),
        name!(ts, Option<TimestampWithTimeZone>),
        name!(service, Option<String>),
        name!(decky, Option<String>),
        name!(command, String),
    ),
> {
    let rows: Vec<_> = TAKEN.with_borrow_mut(|t| {
        t.kept_commands(COMMANDS_KEPT_PER_END)
            .map(|(ip, c)| {
                (
                    InetAddr(ip),
                    c.log_id,
                    ts(c.ts),
                    c.service.clone(),
                    c.decky.clone(),
                    c.command.clone(),
                )
            })
            .collect()
    });
    TableIterator::new(rows)
}

#[pg_extern(volatile, parallel_unsafe)]
fn statement_bounties() -> TableIterator<
    'static,
    (
        name!(ord, i64),
        name!(bounty_type, String),
        name!(attacker_ip, Option<InetAddr>),
        name!(payload, Jsonb),
        name!(payload_key, Vec<u8>),
        name!(decky, Option<String>),
        name!(service, Option<String>),
        name!(first_seen, Option<TimestampWithTimeZone>),
        name!(last_seen, Option<TimestampWithTimeZone>),
        name!(first_log_id, i64),
        name!(seen, i64),
    ),
> {
    // Sorted here by the dedup key, so SQL can lock rows in key order by sorting a bigint.
    let mut all: Vec<_> = TAKEN
        .with_borrow_mut(|t| std::mem::take(&mut t.bounties))
        .into_iter()
        .collect();
    all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let rows: Vec<_> = all
        .into_iter()
        .enumerate()
        .map(|(i, ((bounty_type, ip, key), b))| {
            (
                i as i64,
                bounty_type.to_owned(),
                ip.map(InetAddr),
                Jsonb(b.payload),
                key.to_vec(),
                b.decky,
                b.service,
                ts(b.span.first),
                ts(b.span.last),
                b.first_log_id,
                b.seen,
            )
        })
        .collect();
    TableIterator::new(rows)
}

#[pg_extern(volatile, parallel_unsafe)]
fn statement_credentials() -> TableIterator<
    'static,
    (
        name!(ord, i64),
        name!(attacker_ip, Option<InetAddr>),
        name!(decky, Option<String>),
        name!(service, Option<String>),
        name!(principal, Option<String>),
        name!(secret_kind, String),
        name!(secret_sha256, String),
        name!(secret_b64, Option<String>),
        name!(secret_printable, Option<String>),
        name!(outcome, Option<String>),
        name!(outcome_log_id, Option<i64>),
        name!(first_seen, Option<TimestampWithTimeZone>),
        name!(last_seen, Option<TimestampWithTimeZone>),
        name!(first_log_id, i64),
        name!(attempts, i64),
    ),
> {
    let mut all: Vec<_> = TAKEN
        .with_borrow_mut(|t| std::mem::take(&mut t.credentials))
        .into_iter()
        .collect();
    all.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let rows: Vec<_> = all
        .into_iter()
        .enumerate()
        .map(|(i, ((ip, decky, service, principal, kind, sha), c))| {
            (
                i as i64,
                ip.map(InetAddr),
                decky,
                service,
                principal,
                kind,
                sha,
                c.secret_b64,
                c.secret_printable,
                c.outcome,
                c.outcome_log_id,
                ts(c.span.first),
                ts(c.span.last),
                c.first_log_id,
                c.attempts,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// This statement's prober hash observations, in (attacker, probe type, port, ts, hash) order.
#[pg_extern(volatile, parallel_unsafe)]
fn statement_probes() -> TableIterator<
    'static,
    (
        name!(attacker_ip, InetAddr),
        name!(probe_type, String),
        name!(port, i32),
        name!(ts, TimestampWithTimeZone),
        name!(hash, String),
        name!(log_id, i64),
    ),
> {
    let mut all = TAKEN.with_borrow_mut(|t| std::mem::take(&mut t.probes));
    all.sort_unstable_by(|a, b| {
        (a.attacker_ip, a.probe_type, a.port, a.ts, &a.hash).cmp(&(
            b.attacker_ip,
            b.probe_type,
            b.port,
            b.ts,
            &b.hash,
        ))
    });
    let rows: Vec<_> = all
        .into_iter()
        .filter_map(|p| {
            Some((
                InetAddr(p.attacker_ip),
                p.probe_type.to_owned(),
                p.port,
                to_timestamptz(p.ts)?,
                p.hash,
                p.log_id,
            ))
        })
        .collect();
    TableIterator::new(rows)
}

/// This statement's IPv6 link-local leaks per (attacker, link-local address).
#[pg_extern(volatile, parallel_unsafe)]
fn statement_ipv6_leaks() -> TableIterator<
    'static,
    (
        name!(attacker_ip, InetAddr),
        name!(link_local, InetAddr),
        name!(leaks, i64),
        name!(first_seen, Option<TimestampWithTimeZone>),
        name!(last_seen, Option<TimestampWithTimeZone>),
        name!(attacker_v4, Vec<InetAddr>),
    ),
> {
    let rows: Vec<_> = TAKEN
        .with_borrow_mut(|t| std::mem::take(&mut t.ipv6_leaks))
        .into_iter()
        .map(|((ip, ll), l)| {
            (
                InetAddr(ip),
                InetAddr(ll),
                l.leaks,
                ts(l.span.first),
                ts(l.span.last),
                l.attacker_v4.into_iter().map(InetAddr).collect(),
            )
        })
        .collect();
    TableIterator::new(rows)
}

// ---- the rules, exposed for the recomputation views (one definition, in decnet-core) ----

#[pg_extern(immutable, strict, parallel_safe)]
fn is_sensor_service(service: &str) -> bool {
    profile::is_sensor_service(service)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn is_infrastructure_decky(decky: &str) -> bool {
    profile::is_infrastructure_decky(decky)
}

#[pg_extern(immutable, parallel_safe)]
fn command_text(event_type: Option<&str>, fields: Option<JsonB>) -> Option<String> {
    let fields = fields?;
    profile::command_text(event_type, |k| field_str(Some(&fields), k)).map(str::to_owned)
}

#[pg_extern(immutable, parallel_safe)]
fn command_event_types() -> Vec<&'static str> {
    profile::COMMAND_EVENT_TYPES.to_vec()
}

#[pg_extern(immutable, parallel_safe)]
fn bounty_keys() -> Vec<&'static str> {
    profile::BOUNTY_KEYS.to_vec()
}

#[pg_extern(immutable, parallel_safe)]
fn bounty_event_types() -> Vec<&'static str> {
    profile::BOUNTY_EVENT_TYPES.to_vec()
}

/// The dedup key of a bounty payload (decnet_core::bounty::payload_key).
#[pg_extern(immutable, strict, parallel_safe)]
fn payload_key(payload: JsonB) -> Vec<u8> {
    decnet_core::bounty::payload_key(&payload.0).to_vec()
}

#[pg_extern(immutable, parallel_safe)]
fn commands_kept_per_end() -> i32 {
    COMMANDS_KEPT_PER_END as i32
}

#[pg_extern(volatile, parallel_unsafe)]
fn statement_smtp_targets() -> TableIterator<
    'static,
    (
        name!(attacker_ip, InetAddr),
        name!(domain, String),
        name!(recipients, i64),
        name!(first_seen, Option<TimestampWithTimeZone>),
        name!(last_seen, Option<TimestampWithTimeZone>),
    ),
> {
    let rows: Vec<_> = TAKEN
        .with_borrow_mut(|t| std::mem::take(&mut t.smtp_targets))
        .into_iter()
        .map(|((ip, domain), s)| {
            (
                InetAddr(ip),
                domain,
                s.recipients,
                ts(s.span.first),
                ts(s.span.last),
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// The victim domain of a recipient address (or a bare domain), as DECNET
/// normalises it; NULL when there is none. Local parts are never returned.
#[pg_extern(immutable, strict, parallel_safe)]
fn normalize_smtp_domain(address: &str) -> Option<String> {
    decnet_core::smtp::normalize_smtp_domain(address)
}

/// The event types recipient_domain reads (the recomputation's pre-filter).
#[pg_extern(immutable, parallel_safe)]
fn recipient_event_types() -> Vec<&'static str> {
    decnet_core::smtp::RECIPIENT_EVENT_TYPES.to_vec()
}

/// The recipient domain one stored line adds to decnet.smtp_targets (for the recomputation).
#[pg_extern(immutable, parallel_safe)]
fn recipient_domain(
    service: Option<&str>,
    event_type: Option<&str>,
    fields: Option<JsonB>,
) -> Option<String> {
    let value = field_str(fields.as_ref(), "value");
    decnet_core::smtp::recipient_domain(service?, event_type?, value)
}
