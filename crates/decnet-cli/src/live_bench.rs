//! `./x bench`, live ingestion (issue 17): how fast `ingest --follow` and
//! `listen` store a backlog, as ratios to `decnet ingest` of the same finished
//! file in the same run; and, at a steady 5,000 lines/s written to a followed
//! file, the time from a line's write to its commit (its attacker row is
//! updated in the same transaction as the line and its file position).

use crate::bench::TRUNCATE_PIPELINE;
use crate::ingest;
use crate::CliError;
use decnet_core::copy_text;
use postgres::Client;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Lines of the backlog runs.
const BACKLOG_LINES: usize = 200_000;
/// The steady rate and length of the latency run.
const STEADY_RATE: usize = 5_000;
const STEADY_SECS: usize = 20;

fn db(context: &'static str) -> impl Fn(postgres::Error) -> CliError {
    move |e| CliError::from_db(context, e)
}

fn reset(client: &mut Client) -> Result<(), CliError> {
    client
        .batch_execute(&format!(
            "{TRUNCATE_PIPELINE}, decnet.ingest_positions, decnet.notifications; CHECKPOINT"
        ))
        .map_err(db("live bench reset failed"))
}

fn stored_by_positions(client: &mut Client) -> Result<i64, CliError> {
    Ok(client
        .query_one(
            "SELECT coalesce(sum(lines), 0)::bigint FROM decnet.ingest_positions",
            &[],
        )
        .map_err(db("reading positions failed"))?
        .get(0))
}

/// Lines merged so far, from the merges' notifications (a small table: a
/// count(*) of decnet.logs every 20 ms would compete with the run for CPU).
fn stored_by_notifications(client: &mut Client) -> Result<i64, CliError> {
    Ok(client
        .query_one(
            "SELECT coalesce(sum((payload->>'rows')::bigint), 0)::bigint FROM decnet.notifications WHERE channel = 'decnet_attacker'",
            &[],
        )
        .map_err(db("reading notifications failed"))?
        .get(0))
}

fn spawn_cli(dsn: &str, args: &[&str]) -> Result<Child, CliError> {
    let exe = std::env::current_exe()?;
    Ok(Command::new(exe)
        .arg("--dsn")
        .arg(dsn)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?)
}

fn stop(mut child: Child) -> Result<(), CliError> {
    // SAFETY: kill(2) of our own child
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait()?;
    if !status.success() {
        return Err(CliError::new(
            format!("a bench child exited with {status}"),
            "see its stderr above",
        ));
    }
    Ok(())
}

/// Polls `count` until it reaches `n`; returns when it did.
fn wait_until(
    client: &mut Client,
    n: i64,
    count: fn(&mut Client) -> Result<i64, CliError>,
) -> Result<Instant, CliError> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if count(client)? >= n {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            return Err(CliError::new(
                format!(
                    "only {} of {n} lines stored after 10 minutes",
                    count(client)?
                ),
                "see the server log",
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn run(client: &mut Client, dsn: &str, corpus: &[u8]) -> Result<String, CliError> {
    let dir = std::env::temp_dir().join(format!("decnet-live-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run_in(client, dsn, corpus, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(client: &mut Client, dsn: &str, corpus: &[u8], dir: &Path) -> Result<String, CliError> {
    let lines: Vec<&[u8]> = copy_text::split_lines(corpus).take(BACKLOG_LINES).collect();
    let n = lines.len() as i64;
    let mut file_bytes = Vec::with_capacity(corpus.len());
    for l in &lines {
        file_bytes.extend_from_slice(l);
        file_bytes.push(b'\n');
    }
    let backlog = |name: &str| -> Result<PathBuf, CliError> {
        let p = dir.join(name);
        std::fs::write(&p, &file_bytes)?;
        Ok(p)
    };
    let mut out = vec![format!(
        "live ingestion ({n}-line backlog, then {STEADY_RATE} lines/s for {STEADY_SECS} s):"
    )];

    // 1. decnet ingest of the finished file
    reset(client)?;
    let finished = backlog("finished.log")?;
    let start = Instant::now();
    let stats = ingest::ingest_files(
        client,
        &[finished.to_string_lossy().into_owned()],
        false,
        false,
    )?;
    let ingest_secs = start.elapsed().as_secs_f64();
    let ingest_rate = stats.lines as f64 / ingest_secs;
    out.push(format!(
        "  decnet ingest of the finished file: {ingest_secs:.2} s, {ingest_rate:.0} lines/s"
    ));

    // 2. ingest --follow catching up on the same lines (a new file: no position)
    reset(client)?;
    let followed = backlog("followed.log")?;
    let start = Instant::now();
    let child = spawn_cli(
        dsn,
        &["ingest", "--follow", "--quiet", &followed.to_string_lossy()],
    )?;
    let done = wait_until(client, n, stored_by_positions)?;
    stop(child)?;
    let follow_rate = n as f64 / (done - start).as_secs_f64();
    out.push(format!(
        "  ingest --follow, backlog: {:.2} s, {follow_rate:.0} lines/s, ratio to ingest {:.2}",
        (done - start).as_secs_f64(),
        follow_rate / ingest_rate
    ));

    // 3. listen, one TCP connection sending the lines octet-counted as fast as it can
    reset(client)?;
    let mut child = spawn_cli(
        dsn,
        &[
            "listen",
            "--udp",
            "127.0.0.1:0",
            "--tcp",
            "127.0.0.1:0",
            "--status-every",
            "0",
        ],
    )?;
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut tcp = String::new();
    while !tcp.starts_with("listening tcp ") {
        tcp.clear();
        stdout.read_line(&mut tcp)?;
    }
    let addr = tcp.trim().trim_start_matches("listening tcp ").to_string();
    let start = Instant::now();
    let mut frames = Vec::with_capacity(file_bytes.len() + lines.len() * 8);
    for l in &lines {
        frames.extend_from_slice(format!("{} ", l.len()).as_bytes());
        frames.extend_from_slice(l);
    }
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        let mut s = std::net::TcpStream::connect(addr)?;
        s.write_all(&frames)
    });
    // an empty message carries nothing and is not stored
    let messages = lines.iter().filter(|l| !l.is_empty()).count() as i64;
    let done = wait_until(client, messages, stored_by_notifications)?;
    sender
        .join()
        .map_err(|_| CliError::new("the sender panicked", "this is a bug"))??;
    stop(child)?;
    let listen_rate = messages as f64 / (done - start).as_secs_f64();
    out.push(format!(
        "  listen (TCP, octet-counted), backlog: {:.2} s, {listen_rate:.0} lines/s, ratio to ingest {:.2}",
        (done - start).as_secs_f64(),
        listen_rate / ingest_rate
    ));

    // 4. latency at a steady rate: a writer appends 50 lines every 10 ms
    reset(client)?;
    let live = dir.join("live.log");
    std::fs::write(&live, b"")?;
    let child = spawn_cli(
        dsn,
        &["ingest", "--follow", "--quiet", &live.to_string_lossy()],
    )?;
    std::thread::sleep(Duration::from_millis(500));
    let per_tick = STEADY_RATE / 100;
    let ticks = STEADY_SECS * 100;
    let steady: Vec<Vec<u8>> = (0..ticks * per_tick)
        .map(|i| [lines[i % lines.len()], b"\n"].concat())
        .collect();
    let writer = std::thread::spawn(move || -> std::io::Result<Vec<(i64, Instant)>> {
        let mut f = std::fs::OpenOptions::new().append(true).open(&live)?;
        let mut written = Vec::with_capacity(ticks);
        let t0 = Instant::now();
        for (k, chunk) in steady.chunks(per_tick).enumerate() {
            let due = t0 + Duration::from_millis(10 * k as u64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            f.write_all(&chunk.concat())?;
            written.push((((k + 1) * per_tick) as i64, Instant::now()));
        }
        Ok(written)
    });
    let mut seen: Vec<(Instant, i64)> = Vec::new();
    let total = (ticks * per_tick) as i64;
    let deadline = Instant::now() + Duration::from_secs(STEADY_SECS as u64 + 120);
    while seen.last().is_none_or(|(_, c)| *c < total) && Instant::now() < deadline {
        seen.push((Instant::now(), stored_by_positions(client)?));
        std::thread::sleep(Duration::from_millis(5));
    }
    let written = writer
        .join()
        .map_err(|_| CliError::new("the writer panicked", "this is a bug"))??;
    stop(child)?;
    let mut latencies: Vec<Duration> = written
        .iter()
        .filter_map(|(upto, at)| {
            seen.iter()
                .find(|(_, c)| c >= upto)
                .map(|(t, _)| t.saturating_duration_since(*at))
        })
        .collect();
    if latencies.len() < written.len() {
        return Err(CliError::new(
            format!(
                "{} of {} writes never became visible",
                written.len() - latencies.len(),
                written.len()
            ),
            "see the follower's stderr",
        ));
    }
    latencies.sort();
    let wrote_secs = (written.last().expect("ticks").1 - written[0].1).as_secs_f64();
    out.push(format!(
        "  ingest --follow at {:.0} lines/s written: write to commit p50 {} ms, p99 {} ms, max {} ms (polled every 5 ms)",
        total as f64 / wrote_secs,
        percentile(&latencies, 0.5).as_millis(),
        percentile(&latencies, 0.99).as_millis(),
        latencies.last().expect("latencies").as_millis()
    ));
    let diff: i64 = client
        .query_one("SELECT count(*) FROM decnet.verify()", &[])
        .map_err(db("verify failed"))?
        .get(0);
    out.push(format!("  verify() rows after the live runs: {diff}"));
    reset(client)?;
    Ok(out.join("\n"))
}
