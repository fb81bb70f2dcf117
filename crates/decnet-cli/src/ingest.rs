//! `decnet ingest FILE…`: streams raw lines into decnet.logs with COPY.
//! Lines are sent byte-exact: clean lines as text, NUL/invalid-UTF-8 lines as a
//! lossy text plus their original bytes (see decnet_core::copy_text).

use crate::positions::{self, FileId, Position};
use crate::CliError;
use decnet_core::copy_text;
use decnet_core::follow::{self, Head, Resume};
use indicatif::{ProgressBar, ProgressStyle};
use postgres::{Client, Transaction};
use std::io::{BufRead, Write};
use std::io::{Read, Seek, SeekFrom};

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
    let mut tx = client
        .transaction()
        .map_err(|e| CliError::from_db("BEGIN failed", e))?;
    let stats = copy_lines_in(&mut tx, copy_sql, reader, progress)?;
    tx.commit()
        .map_err(|e| CliError::from_db("COMMIT failed", e))?;
    Ok(stats)
}

/// [`copy_lines`] inside the caller's transaction.
pub fn copy_lines_in(
    tx: &mut Transaction<'_>,
    copy_sql: &str,
    reader: &mut dyn BufRead,
    progress: &ProgressBar,
) -> Result<IngestStats, CliError> {
    let mut stats = IngestStats::default();
    let mut buf = Vec::with_capacity(CHUNK_BYTES + 64 * 1024);
    let mut line = Vec::with_capacity(4096);
    let mut stored = 0;
    let mut at_eof = false;
    while !at_eof {
        let mut writer = tx
            .copy_in(copy_sql)
            .map_err(|e| CliError::from_db("COPY failed to start", e))?;
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
        stored += writer
            .finish()
            .map_err(|e| CliError::from_db("COPY failed", e))?;
    }
    if stored != stats.lines {
        return Err(CliError::new(
            format!("COPY stored {stored} rows for {} lines", stats.lines),
            "this is a bug: report it with the input file",
        ));
    }
    Ok(stats)
}

fn copy_io_error(e: std::io::Error) -> CliError {
    CliError::new(
        format!("COPY stream failed: {e}"),
        "the server closed the connection; see its log",
    )
}

/// Ingests files (`-` is standard input), one transaction each, with a
/// progress bar on stderr. A file's stored position (decnet.ingest_positions)
/// is honoured and moved in the same transaction: a file loaded before adds
/// only what was appended since; `from_start` reads it whole again on purpose.
pub fn ingest_files(
    client: &mut Client,
    paths: &[String],
    show_progress: bool,
    from_start: bool,
) -> Result<IngestStats, CliError> {
    let mut total = IngestStats::default();
    for path in paths {
        let bar = if show_progress {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar.set_message(path.clone());
        let (stats, skipped) = if path == "-" {
            (
                copy_lines(client, COPY_LOGS, &mut std::io::stdin().lock(), &bar)?,
                0,
            )
        } else {
            ingest_file(client, path, from_start, &bar)?
        };
        bar.finish_and_clear();
        if show_progress {
            let resumed = if skipped > 0 {
                format!("; {skipped} bytes stored before were skipped")
            } else {
                String::new()
            };
            eprintln!(
                "{path}: {} lines ({} kept as raw bytes){resumed}",
                stats.lines, stats.lossy_lines
            );
        }
        total.lines += stats.lines;
        total.lossy_lines += stats.lossy_lines;
        total.bytes += stats.bytes;
    }
    Ok(total)
}

/// One file, from its stored position to its current end, and the new position.
/// Returns the stats and how many bytes were skipped as stored before.
fn ingest_file(
    client: &mut Client,
    path: &str,
    from_start: bool,
    bar: &ProgressBar,
) -> Result<(IngestStats, u64), CliError> {
    let cannot = |e: std::io::Error| {
        CliError::new(
            format!("cannot read {path}: {e}"),
            "check the file path and permissions",
        )
    };
    let mut file = std::fs::File::open(path).map_err(|e| {
        CliError::new(
            format!("cannot open {path}: {e}"),
            "check the file path and permissions",
        )
    })?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        // a pipe or device has no position: load it whole
        return Ok((
            copy_lines(client, COPY_LOGS, &mut std::io::BufReader::new(file), bar)?,
            0,
        ));
    }
    let id = FileId::of(&meta);
    let size = meta.len();
    let mut tx = client
        .transaction()
        .map_err(|e| CliError::from_db("BEGIN failed", e))?;
    let stored = positions::load(&mut tx, id, true)?;
    let start = positions::read_head(&file, size).map_err(cannot)?;
    let resume = match &stored {
        _ if from_start => Resume::FromStart,
        Some(p) => follow::resume(Some((&p.head, p.offset)), size, &start),
        None => Resume::FromStart,
    };
    let (offset, lines_before) = match (resume, &stored) {
        (Resume::At(offset), Some(p)) => (offset, p.lines),
        _ => (0, 0),
    };
    bar.set_length(size - offset);
    file.seek(SeekFrom::Start(offset)).map_err(cannot)?;
    // up to the size seen now: a line appended meanwhile waits for the next run
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file.take(size - offset));
    let stats = copy_lines_in(&mut tx, COPY_LOGS, &mut reader, bar)?;
    let end = offset + stats.bytes;
    let file = reader.into_inner().into_inner();
    let head = Head::of(&positions::read_head(&file, end).map_err(cannot)?);
    let path = absolute(path);
    positions::save(
        &mut tx,
        id,
        &Position {
            path,
            head,
            offset: end,
            lines: lines_before + stats.lines,
        },
    )?;
    tx.commit()
        .map_err(|e| CliError::from_db("COMMIT failed", e))?;
    Ok((stats, offset))
}

/// The path a position records: absolute, as given (a symlink stays a symlink).
pub fn absolute(path: &str) -> String {
    std::path::absolute(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string())
}
