//! `decnet load-rir FILE…` and `decnet load-asn FILE…`: load enrichment data
//! files unchanged (RIR delegated statistics; iptoasn TSV, `.gz` or not)
//! through decnet.load_rir() / decnet.load_iptoasn(), with a progress bar.

use crate::CliError;
use indicatif::{ProgressBar, ProgressStyle};
use postgres::Client;
use std::io::Read;

/// A data file as text: gunzipped when its name ends in `.gz`; invalid UTF-8 becomes U+FFFD.
pub fn read_data_file(path: &str) -> Result<String, CliError> {
    let raw = std::fs::read(path).map_err(|e| {
        CliError::new(
            format!("cannot read {path}: {e}"),
            "check the file path and permissions",
        )
    })?;
    let bytes = if path.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| {
                CliError::new(
                    format!("{path} is not valid gzip: {e}"),
                    "pass the file as downloaded, or gunzip it first",
                )
            })?;
        out
    } else {
        raw
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Rir,
    Iptoasn,
}

/// Loads each file in its own transaction; returns one line per file.
/// Each load is checked by the database (decnet.load_rir_file/load_iptoasn_file): a file
/// with no usable range, a truncated RIR file, or one that would shrink a
/// source to less than half (unless `force`) is refused, and so the command fails.
pub fn load_files(
    client: &mut Client,
    source: Source,
    paths: &[String],
    show_progress: bool,
    force: bool,
) -> Result<Vec<String>, CliError> {
    let bar = if show_progress {
        ProgressBar::new(paths.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} files")
            .expect("static template")
            .progress_chars("=> "),
    );
    let mut report = Vec::new();
    for path in paths {
        bar.set_message(path.clone());
        let text = read_data_file(path)?;
        let what = match source {
            Source::Rir => client
                .query(
                    "SELECT registry, ranges FROM decnet.load_rir_file($1, $2)",
                    &[&text, &force],
                )
                .map_err(|e| CliError::from_db(&format!("loading {path}"), e))?
                .iter()
                .map(|r| format!("{} ranges of {}", r.get::<_, i64>(1), r.get::<_, String>(0)))
                .collect::<Vec<_>>()
                .join(", "),
            Source::Iptoasn => {
                let n: i64 = client
                    .query_one("SELECT decnet.load_iptoasn_file($1, $2)", &[&text, &force])
                    .map_err(|e| CliError::from_db(&format!("loading {path}"), e))?
                    .get(0);
                format!("{n} AS ranges")
            }
        };
        report.push(format!("{path}: {what}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(report)
}
