//! `decnet ingest FILE…`: streams raw lines into decnet.logs with COPY.
//! Lines are sent byte-exact: clean lines as text, NUL/invalid-UTF-8 lines as a
//! lossy text plus their original bytes (see decnet_core::copy_text).

use crate::CliError;
use decnet_core::copy_text;
use indicatif::{ProgressBar, ProgressStyle};
use postgres::Client;
use std::io::{BufRead, Write};

pub const COPY_LOGS: &str = "COPY decnet.logs (raw_line, raw_bytes) FROM STDIN";

/// Flush the COPY buffer to the server at this size.
const CHUNK_BYTES: usize = 1 << 20;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestStats {
    pub lines: u64,
    pub lossy_lines: u64,
    pub bytes: u64,
}

/// Lines per COPY statement: each statement's in-memory delta (and the merge
/// that follows it) stays bounded however large the file is.
pub const STATEMENT_LINES: u64 = 100_000;

/// COPYs every line of `reader` into the table of `copy_sql`, one transaction,
/// one COPY statement per [`STATEMENT_LINES`] lines. `progress` advances by bytes read.
pub fn copy_lines(
    client: &mut Client,
    copy_sql: &str,
    reader: &mut dyn BufRead,
    progress: &ProgressBar,
) -> Result<IngestStats, CliError> {
    let mut stats = IngestStats::default();
    let mut tx = client.transaction().map_err(|e| CliError::from_db("BEGIN failed", e))?;
    let mut buf = Vec::with_capacity(CHUNK_BYTES + 64 * 1024);
    let mut line = Vec::with_capacity(4096);
    let mut stored = 0;
    let mut at_eof = false;
    while !at_eof {
        let mut writer = tx.copy_in(copy_sql).map_err(|e| CliError::from_db("COPY failed to start", e))?;
        let mut in_statement = 0;
        while in_statement < STATEMENT_LINES {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                at_eof = true;
                break;
            }
            progress.inc(n as u64);
            stats.bytes += n as u64;
            let content = line.strip_suffix(b"\n").unwrap_or(&line);
            if copy_text::line_text(content).1 {
                stats.lossy_lines += 1;
            }
            copy_text::push_row(&mut buf, content);
            stats.lines += 1;
            in_statement += 1;
            if buf.len() >= CHUNK_BYTES {
                writer.write_all(&buf).map_err(copy_io_error)?;
                buf.clear();
            }
        }
        writer.write_all(&buf).map_err(copy_io_error)?;
        buf.clear();
        stored += writer.finish().map_err(|e| CliError::from_db("COPY failed", e))?;
    }
    tx.commit().map_err(|e| CliError::from_db("COMMIT failed", e))?;
    if stored != stats.lines {
        return Err(CliError::new(
            format!("COPY stored {stored} rows for {} lines", stats.lines),
            "this is a bug: report it with the input file",
        ));
    }
    Ok(stats)
}

fn copy_io_error(e: std::io::Error) -> CliError {
    CliError::new(format!("COPY stream failed: {e}"), "the server closed the connection; see its log")
}

/// Ingests files (`-` is standard input), one COPY each, with a progress bar on stderr.
pub fn ingest_files(client: &mut Client, paths: &[String], show_progress: bool) -> Result<IngestStats, CliError> {
    let mut total = IngestStats::default();
    for path in paths {
        let (mut reader, len): (Box<dyn BufRead>, u64) = if path == "-" {
            (Box::new(std::io::stdin().lock()), 0)
        } else {
            let f = std::fs::File::open(path)
                .map_err(|e| CliError::new(format!("cannot open {path}: {e}"), "check the file path and permissions"))?;
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            (Box::new(std::io::BufReader::with_capacity(1 << 20, f)), len)
        };
        let bar = if show_progress { ProgressBar::new(len) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(path.clone());
        let stats = copy_lines(client, COPY_LOGS, &mut reader, &bar)?;
        bar.finish_and_clear();
        if show_progress {
            eprintln!("{path}: {} lines ({} kept as raw bytes)", stats.lines, stats.lossy_lines);
        }
        total.lines += stats.lines;
        total.lossy_lines += stats.lossy_lines;
        total.bytes += stats.bytes;
    }
    Ok(total)
}
