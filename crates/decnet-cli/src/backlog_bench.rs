//! `./x bench`, the rollup against the feed (issue 18): what rolling up every
//! attacker of a corpus costs against ingesting it, in the same run; and
//! whether pg_cron's scheduled job (`CALL decnet.rollup_backlog()`, every
//! minute) keeps the oldest dirty mark young under a sustained feed of new
//! attackers.

use crate::bench::{encode_corpus, timed_copy, TRUNCATE_PIPELINE};
use crate::ingest::COPY_LOGS;
use crate::CliError;
use decnet_core::copy_text;
use postgres::Client;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Lines of the corpus whose attackers are rolled up.
const ROLLUP_LINES: usize = 100_000;
/// The sustained feed: new attackers per second, lines each, for how long.
const FEED_ATTACKERS_PER_S: u32 = 50;
const FEED_LINES_EACH: u32 = 6;
const FEED_SECS: u64 = 300;
/// Micro-batches per second (a follower commits every 250 ms or so).
const FEED_BATCHES_PER_S: u32 = 5;

fn db(context: &'static str) -> impl Fn(postgres::Error) -> CliError {
    move |e| CliError::from_db(context, e)
}

/// Turns pg_cron's rollup job off or on (a no-op where it is not scheduled).
fn scheduled_rollup(client: &mut Client, active: bool) -> Result<(), CliError> {
    client
        .execute(
            "SELECT cron.alter_job(jobid, active => $1) FROM cron.job
             WHERE jobname = 'decnet-rollup' AND database = current_database()",
            &[&active],
        )
        .map_err(db("switching the decnet-rollup job failed"))?;
    Ok(())
}

/// Ingests the first ROLLUP_LINES lines of the corpus, then rolls up every
/// attacker they made, batch by batch as the scheduled job does.
pub fn corpus_rollup(client: &mut Client, corpus: &[u8]) -> Result<String, CliError> {
    let head: Vec<&[u8]> = copy_text::split_lines(corpus).take(ROLLUP_LINES).collect();
    let (payload, lines) = encode_corpus(&head.join(&b'\n'));
    scheduled_rollup(client, false)?;
    client
        .batch_execute(&format!("{TRUNCATE_PIPELINE}; CHECKPOINT"))
        .map_err(db("rollup bench reset failed"))?;
    let (ingest, _, _) = timed_copy(client, COPY_LOGS, &payload)?;
    let start = Instant::now();
    let (mut attackers, mut batches) = (0i64, 0);
    loop {
        let r = client
            .query_one("SELECT attackers, remaining FROM decnet.rollup(1000)", &[])
            .map_err(db("rollup failed"))?;
        attackers += i64::from(r.get::<_, i32>(0));
        batches += 1;
        if r.get::<_, i64>(1) == 0 || r.get::<_, i32>(0) == 0 {
            break;
        }
    }
    let rollup = start.elapsed();
    let identity_ms: f64 = client
        .query_one(
            "SELECT coalesce(sum(duration_ms), 0)::float8 FROM decnet.identity_runs WHERE mode = 'incremental'",
            &[],
        )
        .map_err(db("reading identity runs failed"))?
        .get(0);
    scheduled_rollup(client, true)?;
    let ratio = rollup.as_secs_f64() / ingest.as_secs_f64();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "rollup of every attacker of {lines} corpus lines: {attackers} attackers in {batches} batches, {:.2} s \
         ({:.2} ms per attacker; identity passes {:.2} s of it), against their ingest {:.2} s: ratio {ratio:.2} \
         (target <= 0.5)",
        rollup.as_secs_f64(),
        rollup.as_secs_f64() * 1000.0 / attackers.max(1) as f64,
        identity_ms / 1000.0,
        ingest.as_secs_f64()
    );
    Ok(out)
}

/// One micro-batch of the feed: `n` new attackers from `first`, each with a
/// connection and login attempts on an SSH decky.
fn feed_batch(first: u32, n: u32) -> Vec<u8> {
    let mut payload = Vec::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    for i in first..first + n {
        let ip = format!("100.{}.{}.{}", 64 + i / 65_536 % 64, i / 256 % 256, i % 256);
        for k in 0..FEED_LINES_EACH {
            let (service, event) = if k == 0 {
                ("ssh", "connection")
            } else {
                ("auth-helper", "auth_attempt")
            };
            let line = format!(
                "<134>1 {} decky-{:02} {service} - {event} [relay@55555 src_ip=\"{ip}\" username=\"root\" password=\"pw{k}\"]",
                decnet_core::timestamp::iso_utc(now as i64 * 1_000_000 + i64::from(k) * 700_000),
                i % 12
            );
            copy_text::push_row(&mut payload, line.as_bytes());
        }
    }
    payload
}

/// FEED_ATTACKERS_PER_S new attackers a second for FEED_SECS, in micro-batches,
/// with pg_cron's job doing the rollups; samples the backlog every second.
pub fn sustained_feed(client: &mut Client, dsn: &str) -> Result<String, CliError> {
    let mut sampler = crate::db::connect(dsn)?;
    client
        .batch_execute(&format!(
            "{TRUNCATE_PIPELINE}; TRUNCATE decnet.rollup_runs; CHECKPOINT"
        ))
        .map_err(db("feed bench reset failed"))?;
    scheduled_rollup(client, true)?;
    let per_batch = FEED_ATTACKERS_PER_S / FEED_BATCHES_PER_S;
    let tick = Duration::from_millis(1000 / u64::from(FEED_BATCHES_PER_S));
    let start = Instant::now();
    let (mut sent, mut ages, mut max_backlog, mut late_ticks) = (0u32, Vec::new(), 0i64, 0);
    let mut next = start;
    while start.elapsed() < Duration::from_secs(FEED_SECS) {
        let mut w = client.copy_in(COPY_LOGS).map_err(db("feed COPY failed"))?;
        std::io::Write::write_all(&mut w, &feed_batch(sent, per_batch))
            .map_err(|e| CliError::new(format!("COPY stream failed: {e}"), "see the server log"))?;
        w.finish().map_err(db("feed COPY failed"))?;
        sent += per_batch;
        if sent % FEED_ATTACKERS_PER_S == 0 {
            let r = sampler
                .query_one(
                    "SELECT count(*), coalesce(extract(epoch FROM now() - min(marked_at)), 0)::float8 FROM decnet.dirty_attackers",
                    &[],
                )
                .map_err(db("sampling the backlog failed"))?;
            max_backlog = max_backlog.max(r.get::<_, i64>(0));
            ages.push(r.get::<_, f64>(1));
        }
        next += tick;
        match next.checked_duration_since(Instant::now()) {
            Some(wait) => std::thread::sleep(wait),
            None => late_ticks += 1,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let runs = client
        .query_one(
            "SELECT count(*), coalesce(sum(attackers), 0)::bigint, coalesce(max(duration_ms), 0)::float8
             FROM decnet.rollup_runs",
            &[],
        )
        .map_err(db("reading rollup runs failed"))?;
    ages.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        ages.get(((ages.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    Ok(format!(
        "sustained feed: {sent} new attackers ({:.1}/s, {FEED_LINES_EACH} lines each) for {elapsed:.0} s, pg_cron's \
         decnet-rollup (CALL decnet.rollup_backlog()) draining: oldest dirty mark p50 {:.0} s, max {:.0} s (target < 120 s); \
         backlog at most {max_backlog} attackers; {} rollup batches rolled up {} attackers, the longest {:.0} ms; \
         {late_ticks} late feed ticks\n",
        f64::from(sent) / elapsed,
        pct(0.5),
        pct(1.0),
        runs.get::<_, i64>(0),
        runs.get::<_, i64>(1),
        runs.get::<_, f64>(2),
    ))
}
