//! `decnet export`: the SQL exports (`decnet.export_stix`, `export_misp`,
//! `export_csv`, `export_jsonl`, sql/sharing.sql) written to a file or stdout.

use crate::CliError;
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Stix,
    Misp,
    /// an ATT&CK Navigator layer
    Navigator,
    Csv,
    Jsonl,
}

pub struct ExportOptions {
    pub format: Format,
    /// csv: attackers, credentials or smtp_domains; jsonl: a table or view of schema decnet.
    pub what: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub addresses: Vec<String>,
}

/// Writes the export to `out`; returns the number of lines written.
pub fn export(
    client: &mut Client,
    opts: &ExportOptions,
    out: &mut dyn Write,
) -> Result<u64, CliError> {
    let db = |e| CliError::from_db("export failed", e);
    // a reader that stops early (`| head`) ends the export, it is no error
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::BrokenPipe => None,
        _ => Some(CliError::new(
            format!("cannot write the export: {e}"),
            "check the output path and free space",
        )),
    };
    let addresses = (!opts.addresses.is_empty()).then_some(&opts.addresses);
    match opts.format {
        Format::Stix | Format::Misp | Format::Navigator => {
            if opts.what.is_some() {
                return Err(CliError::new(
                    "stix, misp and navigator export attackers; they take no table name",
                    "choose attackers with --since, --until and --ip",
                ));
            }
            let function = match opts.format {
                Format::Stix => "export_stix",
                Format::Misp => "export_misp",
                _ => "export_navigator",
            };
            let sql = format!(
                "SELECT decnet.{function}($1::text::timestamptz, $2::text::timestamptz, $3::text[]::inet[])::text"
            );
            let row = client
                .query_one(&sql, &[&opts.since, &opts.until, &addresses])
                .map_err(db)?;
            if let Err(e) = writeln!(out, "{}", row.get::<_, &str>(0)) {
                return io(e).map_or(Ok(0), Err);
            }
            Ok(1)
        }
        Format::Csv | Format::Jsonl => {
            if opts.since.is_some() || opts.until.is_some() || addresses.is_some() {
                return Err(CliError::new(
                    "csv and jsonl export whole tables",
                    "filter the JSON Lines with jq, or use stix/misp for a window",
                ));
            }
            let Some(what) = &opts.what else {
                return Err(CliError::new(
                    "name what to export",
                    "csv: attackers, credentials or smtp_domains; jsonl: any table or view of schema decnet",
                ));
            };
            let sql = if opts.format == Format::Csv {
                "SELECT line FROM decnet.export_csv($1) AS line"
            } else {
                "SELECT line FROM decnet.export_jsonl($1) AS line"
            };
            let mut rows = client.query_raw(sql, [what]).map_err(db)?;
            let mut n = 0;
            while let Some(row) = rows.next().map_err(db)? {
                if let Err(e) = writeln!(out, "{}", row.get::<_, &str>(0)) {
                    return io(e).map_or(Ok(n), Err);
                }
                n += 1;
            }
            Ok(n)
        }
    }
}
