//! The benchmark harness (not a test): the same COPY payload into an untriggered
//! copy of decnet.logs and through the full pipeline, in one run, on one server.

use crate::ingest::{COPY_LOGS, STATEMENT_LINES};
use crate::CliError;
use decnet_core::copy_text;
use postgres::Client;
use std::io::Write;
use std::time::{Duration, Instant};

pub const RAW_TABLE: &str = "public.bench_raw_logs";

/// Empties decnet.logs and everything derived from it (the bench database is throwaway).
pub const TRUNCATE_PIPELINE: &str = "TRUNCATE decnet.logs, decnet.attackers, decnet.attacker_services, decnet.attacker_deckies, decnet.attacker_commands, decnet.bounties, decnet.credentials, decnet.smtp_targets, decnet.dirty_attackers, decnet.attacker_behavior, decnet.fingerprint_state, decnet.fingerprint_rotations, decnet.attacker_ipv6_leaks, decnet.identity_signals, decnet.identity_members, decnet.attacker_identities, decnet.campaigns, decnet.identity_runs, decnet.identity_link_signals, decnet.merge_queue";

#[derive(Debug, Clone)]
pub struct BenchResult {
    pub lines: u64,
    pub raw: Duration,
    pub pipeline: Duration,
    /// Each COPY statement's elapsed time, in order.
    pub raw_statements: Vec<Duration>,
    pub pipeline_statements: Vec<Duration>,
    /// CPU time (user + system) of the backend during each run, if readable:
    /// steadier than elapsed time on a shared machine.
    pub raw_cpu: Option<Duration>,
    pub pipeline_cpu: Option<Duration>,
    /// Peak resident memory of the backend that ran the pipeline COPY (VmHWM), if readable.
    pub backend_peak_kib: Option<u64>,
}

impl BenchResult {
    pub fn ratio(&self) -> f64 {
        self.pipeline.as_secs_f64() / self.raw.as_secs_f64()
    }

    pub fn render(&self) -> String {
        let rate = |d: Duration| self.lines as f64 / d.as_secs_f64();
        let mem = self
            .backend_peak_kib
            .map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into());
        let each = |v: &[Duration]| {
            v.iter()
                .map(|d| format!("{:.2}", d.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let cpu = match (self.raw_cpu, self.pipeline_cpu) {
            (Some(r), Some(p)) => format!(
                "{:.2} s raw, {:.2} s pipeline, ratio {:.2}",
                r.as_secs_f64(),
                p.as_secs_f64(),
                p.as_secs_f64() / r.as_secs_f64()
            ),
            _ => "n/a".into(),
        };
        format!(
            "lines {}\nraw COPY (untriggered copy of decnet.logs): {:>8.3} s {:>10.0} lines/s\nfull pipeline (decnet.logs):                 {:>8.3} s {:>10.0} lines/s\nratio pipeline/raw: {:.2} (pipeline runs at {:.0}% of raw COPY speed)\nper statement, raw (s):      {}\nper statement, pipeline (s): {}\nbackend CPU time: {cpu}\npipeline backend peak RSS (VmHWM): {mem}",
            self.lines,
            self.raw.as_secs_f64(),
            rate(self.raw),
            self.pipeline.as_secs_f64(),
            rate(self.pipeline),
            self.ratio(),
            100.0 / self.ratio(),
            each(&self.raw_statements),
            each(&self.pipeline_statements),
        )
    }
}

/// Encodes a corpus as COPY payloads of [`STATEMENT_LINES`] lines each (as the
/// loader sends them), so both runs send identical bytes in identical statements.
pub fn encode_corpus(data: &[u8]) -> (Vec<Vec<u8>>, u64) {
    let mut statements = Vec::new();
    let mut payload = Vec::new();
    let mut lines = 0;
    for line in copy_text::split_lines(data) {
        copy_text::push_row(&mut payload, line);
        lines += 1;
        if lines % STATEMENT_LINES == 0 {
            statements.push(std::mem::take(&mut payload));
        }
    }
    if !payload.is_empty() {
        statements.push(payload);
    }
    (statements, lines)
}

/// One transaction, one COPY per payload: the elapsed time, each statement's, and the rows stored.
pub fn timed_copy(
    client: &mut Client,
    sql: &str,
    statements: &[Vec<u8>],
) -> Result<(Duration, Vec<Duration>, u64), CliError> {
    let start = Instant::now();
    let mut each = Vec::with_capacity(statements.len());
    let mut tx = client
        .transaction()
        .map_err(|e| CliError::from_db("BEGIN failed", e))?;
    let mut rows = 0;
    for payload in statements {
        let t = Instant::now();
        let mut w = tx
            .copy_in(sql)
            .map_err(|e| CliError::from_db("COPY failed to start", e))?;
        for chunk in payload.chunks(1 << 20) {
            w.write_all(chunk).map_err(|e| {
                CliError::new(format!("COPY stream failed: {e}"), "see the server log")
            })?;
        }
        rows += w
            .finish()
            .map_err(|e| CliError::from_db("COPY failed", e))?;
        each.push(t.elapsed());
    }
    tx.commit()
        .map_err(|e| CliError::from_db("COMMIT failed", e))?;
    Ok((start.elapsed(), each, rows))
}

/// Runs both COPYs on a migrated database. Leaves both tables truncated.
pub fn run(client: &mut Client, payload: &[Vec<u8>], lines: u64) -> Result<BenchResult, CliError> {
    let sql = format!(
        "DROP TABLE IF EXISTS {RAW_TABLE};
         CREATE TABLE {RAW_TABLE} (LIKE decnet.logs INCLUDING ALL);
         {TRUNCATE_PIPELINE};
         CHECKPOINT;"
    );
    client
        .batch_execute(&sql)
        .map_err(|e| CliError::from_db("bench setup failed", e))?;
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .map_err(|e| CliError::from_db("bench", e))?
        .get(0);
    let cpu0 = read_cpu(pid);
    let (raw, raw_statements, raw_rows) = timed_copy(
        client,
        &format!("COPY {RAW_TABLE} (raw_line, raw_bytes) FROM STDIN"),
        payload,
    )?;
    let cpu1 = read_cpu(pid);
    client
        .batch_execute("CHECKPOINT")
        .map_err(|e| CliError::from_db("CHECKPOINT failed", e))?;
    let cpu2 = read_cpu(pid);
    let (pipeline, pipeline_statements, rows) = timed_copy(client, COPY_LOGS, payload)?;
    let cpu3 = read_cpu(pid);
    let backend_peak_kib = read_vm_hwm(pid);
    let spent = |a: Option<Duration>, b: Option<Duration>| Some(b? - a?);
    if raw_rows != lines || rows != lines {
        return Err(CliError::new(
            format!("bench stored {raw_rows}/{rows} rows for {lines} lines"),
            "this is a bug",
        ));
    }
    client
        .batch_execute(&format!("TRUNCATE {RAW_TABLE}; {TRUNCATE_PIPELINE}"))
        .map_err(|e| CliError::from_db("bench cleanup failed", e))?;
    Ok(BenchResult {
        lines,
        raw,
        pipeline,
        raw_statements,
        pipeline_statements,
        raw_cpu: spent(cpu0, cpu1),
        pipeline_cpu: spent(cpu2, cpu3),
        backend_peak_kib,
    })
}

/// CPU time (utime + stime) of a local backend process so far, if readable.
fn read_cpu(pid: i32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // fields after the parenthesised command name; utime and stime are the 14th and 15th overall
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    const USER_HZ: u64 = 100; // the unit of /proc times on Linux, whatever the kernel's own HZ
    Some(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// VmHWM of a local backend process (works when the server runs on this machine).
fn read_vm_hwm(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Latency of decnet.smtp_target_seen() over `rows` synthetic smtp_targets rows
/// (10 attackers per domain), measured client-side over `queries` calls, plus
/// the plan and execution time of the lookup it runs.
pub fn gossip(client: &mut Client, rows: i64, queries: usize) -> Result<String, CliError> {
    let db = |e| CliError::from_db("gossip bench", e);
    client
        .batch_execute(&format!(
            "TRUNCATE decnet.smtp_targets;
             INSERT INTO decnet.smtp_targets (attacker_ip, domain, count, first_seen, last_seen)
             SELECT '10.0.0.0'::inet + (i % 10), 'victim' || (i / 10) || '.org', 1 + i % 7, now() - interval '1 day', now()
             FROM generate_series(0, {rows} - 1) i;"
        ))
        .map_err(db)?;
    client
        .batch_execute("VACUUM ANALYZE decnet.smtp_targets")
        .map_err(db)?;
    let stmt = client
        .prepare("SELECT seen, count FROM decnet.smtp_target_seen($1)")
        .map_err(db)?;
    let domains = rows / 10;
    let start = Instant::now();
    let mut hits = 0;
    for i in 0..queries {
        let domain = format!("<x@VICTIM{}.org>", (i as i64 * 7919) % (domains * 2)); // half of them unknown
        let seen: bool = client.query_one(&stmt, &[&domain]).map_err(db)?.get(0);
        hits += seen as usize;
    }
    let per_call = start.elapsed() / queries as u32;
    let plan: Vec<String> = client
        .query(
            "EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON)
             SELECT coalesce(sum(t.count), 0), min(t.first_seen), max(t.last_seen) FROM decnet.smtp_targets t WHERE t.domain = 'victim4242.org'",
            &[],
        )
        .map_err(db)?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let scan = plan
        .iter()
        .find(|l| l.contains("Scan"))
        .map(|l| l.trim().to_string())
        .unwrap_or_default();
    let exec = plan
        .iter()
        .find(|l| l.starts_with("Execution Time"))
        .cloned()
        .unwrap_or_default();
    client
        .batch_execute("TRUNCATE decnet.smtp_targets")
        .map_err(db)?;
    Ok(format!(
        "smtp_target_seen over {rows} smtp_targets rows: {queries} calls, {hits} seen, {:.1} µs per call (client round trip)\n  lookup plan: {scan}; {exec}",
        per_call.as_secs_f64() * 1e6
    ))
}

/// splitmix64: a tiny deterministic generator for planted benchmark and test data.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Plants `typists × per_typist` session profiles named `<prefix><typist>-<k>`:
/// each SimHash is its typist's random hash with 0–4 bits flipped. The
/// recordings are empty; the hashes are written into the profiles directly.
pub fn plant_session_profiles(
    client: &mut Client,
    prefix: &str,
    typists: usize,
    per_typist: usize,
    seed: u64,
) -> Result<(), CliError> {
    let db = |e| CliError::from_db("planting session profiles", e);
    let mut rng = SplitMix64(seed);
    let (mut sids, mut hashes) = (Vec::new(), Vec::new());
    for t in 0..typists {
        let centre = rng.next_u64();
        for k in 0..per_typist {
            let mut h = centre;
            for _ in 0..rng.next_u64() % 5 {
                h ^= 1 << (rng.next_u64() % 64);
            }
            sids.push(format!("{prefix}{t}-{k}"));
            hashes.push(h.to_be_bytes().to_vec());
        }
    }
    client
        .execute(
            "INSERT INTO decnet.session_recordings (sid, events) SELECT unnest($1::text[]), ''",
            &[&sids],
        )
        .map_err(db)?;
    client
        .execute(
            "UPDATE decnet.session_profiles p SET kd_simhash = h.hash
             FROM unnest($1::text[], $2::bytea[]) AS h (sid, hash) WHERE p.sid = h.sid",
            &[&sids, &hashes],
        )
        .map_err(db)?;
    client
        .batch_execute("VACUUM ANALYZE decnet.session_profiles")
        .map_err(db)?;
    Ok(())
}

/// Latency of decnet.similar_sessions() over 100k planted profiles (1,000
/// typists × 100 sessions): at distance 8 through the chunk indexes, and at 20,
/// where it scans the table, for comparison.
pub fn similar_sessions(client: &mut Client) -> Result<String, CliError> {
    let db = |e| CliError::from_db("similar_sessions bench", e);
    let (typists, per_typist) = (1_000, 100);
    plant_session_profiles(client, "bench-", typists, per_typist, 99)?;
    let stmt = client
        .prepare("SELECT count(*) FROM decnet.similar_sessions($1, $2)")
        .map_err(db)?;
    let mut timed = |max_distance: i32, queries: usize| -> Result<(f64, f64), CliError> {
        let start = Instant::now();
        let mut found = 0;
        for i in 0..queries {
            let sid = format!("bench-{}-{}", (i * 7919) % typists, i % per_typist);
            found += client
                .query_one(&stmt, &[&sid, &max_distance])
                .map_err(db)?
                .get::<_, i64>(0);
        }
        Ok((
            start.elapsed().as_secs_f64() * 1e3 / queries as f64,
            found as f64 / queries as f64,
        ))
    };
    let (mih_ms, mih_found) = timed(8, 1_000)?;
    let (scan_ms, _) = timed(20, 50)?;
    client
        .batch_execute("DELETE FROM decnet.session_recordings WHERE sid LIKE 'bench-%'")
        .map_err(db)?;
    Ok(format!(
        "similar_sessions over {} session profiles: {mih_ms:.2} ms per call at distance 8 ({mih_found:.1} sessions found), \
         {scan_ms:.1} ms per call at distance 20 (full scan)",
        typists * per_typist
    ))
}

/// Country and AS lookups per second over 250k loaded ranges each (synthetic
/// ranges of 256 addresses every 1,024 from 1.0.0.0; 200k random addresses in
/// that span, a quarter of them in a range), plus the load times.
pub fn enrichment_lookups(client: &mut Client) -> Result<String, CliError> {
    let db = |e| CliError::from_db("enrichment bench", e);
    let ranges: u32 = 250_000;
    let first = u32::from(std::net::Ipv4Addr::new(1, 0, 0, 0));
    let start = |i: u32| std::net::Ipv4Addr::from(first + i * 1024);
    let mut rir = String::from(
        "2|arin|20261122|250000|19700101|20261122|+0000\narin|*|ipv4|*|250000|summary\n",
    );
    let mut asn = String::new();
    for i in 0..ranges {
        rir.push_str(&format!(
            "arin|US|ipv4|{}|256|20200101|allocated|x{i}\n",
            start(i)
        ));
        asn.push_str(&format!(
            "{}\t{}\t{}\tUS\tAS-{i}\n",
            start(i),
            std::net::Ipv4Addr::from(first + i * 1024 + 255),
            64_512 + i % 1000
        ));
    }
    let timed = |client: &mut Client, sql: &str, text: &str| -> Result<f64, CliError> {
        let t = Instant::now();
        client.query(sql, &[&text]).map_err(db)?;
        Ok(t.elapsed().as_secs_f64())
    };
    let load_rir = timed(client, "SELECT * FROM decnet.load_rir($1)", &rir)?;
    let load_asn = timed(client, "SELECT decnet.load_iptoasn($1)", &asn)?;
    client
        .batch_execute("ANALYZE decnet.country_ranges, decnet.asn_ranges")
        .map_err(db)?;
    let span = u64::from(ranges) * 1024;
    let lookups = 200_000;
    let per_second = |client: &mut Client, sql: String| -> Result<(f64, i64), CliError> {
        let t = Instant::now();
        let hits: i64 = client.query_one(&sql, &[]).map_err(db)?.get(0);
        Ok((lookups as f64 / t.elapsed().as_secs_f64(), hits))
    };
    let addr = format!("'1.0.0.0'::inet + (hashint8(g) & x'7fffffff'::bigint) % {span}");
    let (country, country_hits) = per_second(
        client,
        format!("SELECT count(decnet.country_of({addr})) FROM generate_series(1, {lookups}) g"),
    )?;
    let (asn_rate, asn_hits) =
        per_second(client, format!("SELECT count(x.asn) FROM generate_series(1, {lookups}) g, LATERAL decnet.asn_of({addr}) x"))?;
    client
        .batch_execute("TRUNCATE decnet.country_ranges, decnet.asn_ranges, decnet.enrichment_loads")
        .map_err(db)?;
    Ok(format!(
        "enrichment over {ranges} ranges each: load_rir {load_rir:.1} s, load_iptoasn {load_asn:.1} s; \
         country_of {country:.0} lookups/s ({country_hits} of {lookups} found), asn_of {asn_rate:.0} lookups/s ({asn_hits} found)"
    ))
}

/// Issue 15 (#6): lines of an attacker that already has many against lines of
/// a new one, each next to the same lines COPYed into the untriggered table.
/// An index whose cost grows with an attacker's line count shows as a ratio
/// well above the new attacker's.
pub fn heavy_attacker(
    client: &mut Client,
    existing: usize,
    measured: usize,
) -> Result<String, CliError> {
    let db = |e| CliError::from_db("heavy attacker bench", e);
    let lines_of = |ip: &str, n: usize| -> Vec<Vec<u8>> {
        let mut text = Vec::with_capacity(n * 110);
        for i in 0..n {
            let _ = writeln!(
                text,
                "<134>1 2026-05-01T{:02}:{:02}:{:02}.{:06}+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"{ip}\"]",
                i / 3_600_000 % 24, i / 60_000 % 60, i / 1000 % 60, i % 1000
            );
        }
        encode_corpus(&text).0
    };
    client
        .batch_execute(&format!("DROP TABLE IF EXISTS {RAW_TABLE}; CREATE TABLE {RAW_TABLE} (LIKE decnet.logs INCLUDING ALL); {TRUNCATE_PIPELINE}"))
        .map_err(db)?;
    let (history, _, _) = timed_copy(client, COPY_LOGS, &lines_of("198.51.100.250", existing))?;
    client
        .batch_execute("ANALYZE decnet.logs; CHECKPOINT")
        .map_err(db)?;
    let mut rows = Vec::new();
    for (who, ip) in [
        ("heavy attacker (existing lines)", "198.51.100.250"),
        ("new attacker", "198.51.100.251"),
    ] {
        let payload = lines_of(ip, measured);
        let (raw, _, _) = timed_copy(
            client,
            &format!("COPY {RAW_TABLE} (raw_line, raw_bytes) FROM STDIN"),
            &payload,
        )?;
        let (pipeline, _, _) = timed_copy(client, COPY_LOGS, &payload)?;
        client.batch_execute("CHECKPOINT").map_err(db)?;
        rows.push(format!(
            "  {who}: {measured} lines raw {:.3} s, pipeline {:.3} s, ratio {:.2}",
            raw.as_secs_f64(),
            pipeline.as_secs_f64(),
            pipeline.as_secs_f64() / raw.as_secs_f64()
        ));
    }
    client
        .batch_execute(&format!("TRUNCATE {RAW_TABLE}; {TRUNCATE_PIPELINE}"))
        .map_err(db)?;
    Ok(format!(
        "heavy attacker: {measured} more lines for one attacker that has {existing} (loaded in {:.1} s), and for a new one\n{}",
        history.as_secs_f64(),
        rows.join("\n")
    ))
}

/// Issue 16: what a writer that INSERTs row by row pays. The same lines go
/// into the untriggered copy and into decnet.logs, with a prepared INSERT and
/// one round trip per row: one statement per transaction with
/// synchronous_commit off and on, and 1,000 rows per transaction. Then 8
/// connections of single-row INSERTs on overlapping attackers (aggregate
/// rate; verify() must stay empty). Ratios are pipeline time / raw time.
pub fn single_rows(client: &mut Client, dsn: &str, corpus: &[u8]) -> Result<String, CliError> {
    let db = |e| CliError::from_db("single-row bench", e);
    let lines: Vec<&str> = copy_text::split_lines(corpus)
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter(|l| !l.contains('\0'))
        .collect();
    client
        .batch_execute(&format!("DROP TABLE IF EXISTS {RAW_TABLE}; CREATE TABLE {RAW_TABLE} (LIKE decnet.logs INCLUDING ALL); {TRUNCATE_PIPELINE}"))
        .map_err(db)?;
    // rows: how many lines; per_tx: rows per transaction; sync: synchronous_commit;
    // behind: decnet.merge_behind_ms (the time includes draining the queue at the end)
    let run = |client: &mut Client,
               table: &str,
               rows: &[&str],
               per_tx: usize,
               sync: &str,
               behind: i32|
     -> Result<Duration, CliError> {
        client
            .batch_execute(&format!(
                "SET synchronous_commit = {sync}; SET decnet.merge_behind_ms = {behind}"
            ))
            .map_err(db)?;
        let insert = client
            .prepare(&format!("INSERT INTO {table} (raw_line) VALUES ($1)"))
            .map_err(db)?;
        let start = Instant::now();
        if per_tx == 1 {
            // autocommit: one round trip per row, as rsyslog's ompgsql or pgbench send them
            for line in rows {
                client.execute(&insert, &[line]).map_err(db)?;
            }
        } else {
            for chunk in rows.chunks(per_tx) {
                let mut tx = client.transaction().map_err(db)?;
                for line in chunk {
                    tx.execute(&insert, &[line]).map_err(db)?;
                }
                tx.commit().map_err(db)?;
            }
        }
        if behind > 0 && table == "decnet.logs" {
            client
                .batch_execute("SELECT decnet.merge_queued()")
                .map_err(db)?;
        }
        Ok(start.elapsed())
    };
    let mut out = vec![
        "single-row INSERT (prepared, one round trip per row), raw = untriggered copy:".to_string(),
    ];
    let cases: [(&str, usize, usize, &str, i32); 5] = [
        (
            "1 row per transaction, synchronous_commit off",
            5_000,
            1,
            "off",
            0,
        ),
        (
            "1 row per transaction, synchronous_commit on",
            1_000,
            1,
            "on",
            0,
        ),
        (
            "1 row per transaction, synchronous_commit off, merge_behind_ms 100",
            5_000,
            1,
            "off",
            100,
        ),
        (
            "1 row per transaction, synchronous_commit on, merge_behind_ms 100",
            1_000,
            1,
            "on",
            100,
        ),
        (
            "1,000 rows per transaction, synchronous_commit on",
            20_000,
            1_000,
            "on",
            0,
        ),
    ];
    let mut offset = 0;
    for (name, n, per_tx, sync, behind) in cases {
        let rows = &lines[offset..offset + n];
        offset += n;
        let raw = run(client, RAW_TABLE, rows, per_tx, sync, behind)?;
        let pipeline = run(client, "decnet.logs", rows, per_tx, sync, behind)?;
        out.push(format!(
            "  {name}: {n} rows, raw {:.0} rows/s, pipeline {:.0} rows/s, ratio {:.2}",
            n as f64 / raw.as_secs_f64(),
            n as f64 / pipeline.as_secs_f64(),
            pipeline.as_secs_f64() / raw.as_secs_f64()
        ));
    }
    client
        .batch_execute("RESET synchronous_commit; RESET decnet.merge_behind_ms")
        .map_err(db)?;

    // 8 connections, single-row INSERTs, line i to connection i % 8 (busy attackers on several at once)
    for behind in [0, 100] {
        let n = 16_000.min(lines.len() - offset);
        let rows: Vec<String> = lines[offset..offset + n]
            .iter()
            .map(|s| s.to_string())
            .collect();
        offset += n;
        out.push(eight_writers(client, dsn, rows, behind)?);
    }
    client
        .batch_execute(&format!("TRUNCATE {RAW_TABLE}; {TRUNCATE_PIPELINE}"))
        .map_err(db)?;
    Ok(out.join("\n"))
}

/// 8 connections of single-row autocommit INSERTs (synchronous_commit off),
/// line i on connection i % 8; then verify(). `behind`: decnet.merge_behind_ms.
fn eight_writers(
    client: &mut Client,
    dsn: &str,
    rows: Vec<String>,
    behind: i32,
) -> Result<String, CliError> {
    let db = |e| CliError::from_db("single-row bench", e);
    let n = rows.len();
    let deadlocks = |client: &mut Client| -> Result<i64, CliError> {
        Ok(client
            .query_one(
                "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
                &[],
            )
            .map_err(db)?
            .get(0))
    };
    let before = deadlocks(client)?;
    let start = Instant::now();
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let mine: Vec<String> = rows.iter().skip(w).step_by(8).cloned().collect();
            let dsn = dsn.to_owned();
            std::thread::spawn(move || -> Result<(), CliError> {
                let err = |e| CliError::from_db("writer", e);
                let mut c = crate::db::connect(&dsn)?;
                c.batch_execute(&format!(
                    "SET synchronous_commit = off; SET decnet.merge_behind_ms = {behind}"
                ))
                .map_err(err)?;
                let insert = c
                    .prepare("INSERT INTO decnet.logs (raw_line) VALUES ($1)")
                    .map_err(err)?;
                for line in &mine {
                    c.execute(&insert, &[line]).map_err(err)?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| CliError::new("a writer thread panicked", "this is a bug"))??;
    }
    client
        .batch_execute("SELECT decnet.merge_queued()")
        .map_err(db)?;
    let elapsed = start.elapsed();
    let diff: i64 = client
        .query_one("SELECT count(*) FROM decnet.verify()", &[])
        .map_err(db)?
        .get(0);
    Ok(format!(
        "  8 connections, 1 row per transaction, synchronous_commit off, merge_behind_ms {behind}: {n} rows, {:.0} rows/s in all; deadlocks {}, verify() rows {diff}",
        n as f64 / elapsed.as_secs_f64(),
        deadlocks(client)? - before
    ))
}
