//! `decnet ingest-sessions FILE…`: loads sessrec JSONL shards (spec §H.2) into
//! decnet.session_recordings, one row per session; the table's trigger derives
//! decnet.session_profiles. Malformed lines are counted and skipped.

use crate::CliError;
use decnet_core::keystroke::{split_shard, ShardSession};
use indicatif::{ProgressBar, ProgressStyle};
use postgres::Client;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SessionStats {
    pub files: usize,
    pub sessions: usize,
    /// Sessions whose sid was already in decnet.session_recordings: left as they were.
    pub already_loaded: usize,
    pub events: usize,
    pub malformed_lines: usize,
}

/// Sessions per INSERT statement.
const BATCH: usize = 500;

const INSERT: &str =
    "INSERT INTO decnet.session_recordings (sid, decky, service, started_at, events, source)
    SELECT s.sid, s.decky, s.service, to_timestamp(s.started_at), s.events, s.source
    FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::text[], $6::text[])
         AS s (sid, decky, service, started_at, events, source)
    ORDER BY s.sid
    ON CONFLICT (sid) DO NOTHING
    RETURNING sid";

/// Decky and service of a shard stored as `…/<decky>/<service>/<date>.jsonl`.
pub fn decky_and_service(path: &Path) -> (Option<String>, Option<String>) {
    let mut dirs = path
        .parent()
        .into_iter()
        .flat_map(|p| p.iter().rev())
        .map(|s| s.to_string_lossy().into_owned());
    let service = dirs
        .next()
        .filter(|s| !s.is_empty() && s != "." && s != "/");
    let decky = dirs
        .next()
        .filter(|s| !s.is_empty() && s != "." && s != "/");
    match (decky, service) {
        (Some(d), Some(s)) => (Some(d), Some(s)),
        _ => (None, None),
    }
}

struct Pending {
    session: ShardSession,
    decky: Option<String>,
    service: Option<String>,
    source: String,
}

/// Reads every shard, joins the parts of a session found in several files (a
/// session that crosses midnight spans two date shards), and inserts the
/// sessions in one transaction.
pub fn ingest_session_files(
    client: &mut Client,
    paths: &[String],
    show_progress: bool,
) -> Result<SessionStats, CliError> {
    let mut stats = SessionStats {
        files: paths.len(),
        ..Default::default()
    };
    let total: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = if show_progress {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    let mut order: Vec<String> = Vec::new();
    let mut by_sid: HashMap<String, Pending> = HashMap::new();
    for path in paths {
        bar.set_message(format!("reading {path}"));
        let bytes = std::fs::read(path).map_err(|e| {
            CliError::new(
                format!("cannot read {path}: {e}"),
                "check the shard path and permissions",
            )
        })?;
        bar.inc(bytes.len() as u64);
        // Invalid UTF-8 becomes U+FFFD: the event keeps its timing, only that character changes.
        let (sessions, malformed) = split_shard(&String::from_utf8_lossy(&bytes));
        stats.malformed_lines += malformed;
        let (decky, service) = decky_and_service(Path::new(path));
        for s in sessions {
            stats.events += s.events;
            match by_sid.get_mut(&s.sid) {
                Some(p) => {
                    p.session.lines.push_str(&s.lines);
                    p.session.events += s.events;
                    p.session.started_at_unix = p.session.started_at_unix.or(s.started_at_unix);
                    p.source = format!("{}, {path}", p.source);
                }
                None => {
                    order.push(s.sid.clone());
                    by_sid.insert(
                        s.sid.clone(),
                        Pending {
                            session: s,
                            decky: decky.clone(),
                            service: service.clone(),
                            source: path.clone(),
                        },
                    );
                }
            }
        }
    }
    bar.finish_and_clear();
    stats.sessions = order.len();

    let bar = if show_progress {
        ProgressBar::new(order.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("inserting sessions [{bar:30}] {pos}/{len}")
            .expect("static template"),
    );
    let mut tx = client
        .transaction()
        .map_err(|e| CliError::from_db("BEGIN failed", e))?;
    for chunk in order.chunks(BATCH) {
        let rows: Vec<&Pending> = chunk.iter().map(|sid| &by_sid[sid]).collect();
        let sids: Vec<&str> = rows.iter().map(|p| p.session.sid.as_str()).collect();
        let deckies: Vec<Option<&str>> = rows.iter().map(|p| p.decky.as_deref()).collect();
        let services: Vec<Option<&str>> = rows.iter().map(|p| p.service.as_deref()).collect();
        let started: Vec<Option<f64>> = rows.iter().map(|p| p.session.started_at_unix).collect();
        let events: Vec<&str> = rows.iter().map(|p| p.session.lines.as_str()).collect();
        let sources: Vec<&str> = rows.iter().map(|p| p.source.as_str()).collect();
        let inserted = tx
            .query(
                INSERT,
                &[&sids, &deckies, &services, &started, &events, &sources],
            )
            .map_err(|e| CliError::from_db("inserting session recordings failed", e))?
            .len();
        stats.already_loaded += chunk.len() - inserted;
        bar.inc(chunk.len() as u64);
    }
    tx.commit()
        .map_err(|e| CliError::from_db("COMMIT failed", e))?;
    bar.finish_and_clear();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decky_and_service_come_from_the_shard_path() {
        let p = |s: &str| decky_and_service(Path::new(s));
        assert_eq!(
            p("/var/lib/decnet/sessrec/web-01/ssh/2026-05-01.jsonl"),
            (Some("web-01".into()), Some("ssh".into()))
        );
        assert_eq!(
            p("web-01/telnet/2026-05-01.jsonl"),
            (Some("web-01".into()), Some("telnet".into()))
        );
        assert_eq!(p("2026-05-01.jsonl"), (None, None));
        assert_eq!(p("ssh/2026-05-01.jsonl"), (None, None));
    }
}
