//! `decnet`: migrate a database, ingest log files, run the demo or the benchmark.

use clap::{Parser, Subcommand};
use decnet_cli::{
    backlog_bench, bench, daemon, db, enrich, export, follow, identity_bench, ingest, listen,
    live_bench, notify, report, rollup_bench, sessions, CliError,
};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "decnet",
    version,
    about = "decnet-pg: honeypot logs to attacker intelligence inside PostgreSQL"
)]
struct Cli {
    /// Connection string (key=value or postgresql:// URL). Default: $DECNET_DSN; what it
    /// leaves out comes from PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD and
    /// ~/.pgpass (PGPASSFILE), as with psql.
    #[arg(long, global = true, env = "DECNET_DSN", hide_env_values = true)]
    dsn: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// CREATE EXTENSION decnet (or update it) and apply pending migrations.
    Migrate,
    /// Share what decnet knows: a STIX 2.1 bundle, a MISP event or an ATT&CK Navigator layer
    /// of the attackers active in a window (or of listed addresses), or a table as CSV or
    /// JSON Lines (docs/sharing.md).
    Export {
        #[arg(value_enum)]
        format: export::Format,
        /// csv: attackers, credentials or smtp_domains; jsonl: a table or view of schema decnet.
        what: Option<String>,
        /// stix/misp/navigator: attackers active at or after this time (a PostgreSQL timestamptz).
        #[arg(long)]
        since: Option<String>,
        /// stix/misp/navigator: attackers active before this time.
        #[arg(long)]
        until: Option<String>,
        /// stix/misp/navigator: only these addresses (repeatable).
        #[arg(long = "ip")]
        addresses: Vec<String>,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Deliver queued alerts (decnet.alert_outbox) to their webhooks until SIGTERM, at least
    /// once each, retrying with backoff. Connect as a member of decnet_notifier.
    Notify {
        /// Stop once nothing is due instead of waiting for more.
        #[arg(long)]
        once: bool,
        /// Give up on one request after this many milliseconds (connect to last byte).
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
        timeout_ms: u64,
        /// A claimed delivery is not given to another notifier for this many seconds.
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        lease_s: u64,
        /// The wait after a first failure; doubled per attempt.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
        backoff_ms: u64,
        /// The longest wait between attempts.
        #[arg(long, default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
        backoff_max_ms: u64,
        /// Wait this long when nothing is due.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
        poll_ms: u64,
    },
    /// COPY raw log lines from files (`-` for stdin) into decnet.logs. A file's position is
    /// stored with its lines: loading it again adds only what was appended since.
    Ingest {
        #[arg(required = true)]
        files: Vec<String>,
        /// No progress bar (no status lines with --follow).
        #[arg(long)]
        quiet: bool,
        /// Keep reading the files as they grow, like `tail -F` (rotation by rename or
        /// copytruncate included), committing micro-batches until SIGTERM or SIGINT.
        #[arg(long)]
        follow: bool,
        /// Ignore stored positions: read the files from their start again.
        #[arg(long)]
        from_start: bool,
        /// With --follow: commit a batch this many milliseconds after its first line.
        #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..=60_000))]
        batch_ms: u64,
        /// With --follow: commit a batch once it holds this many lines.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        batch_lines: u64,
        /// With --follow: print a status line every this many seconds (0: never).
        #[arg(long, default_value_t = 10)]
        status_every: u64,
    },
    /// Receive syslog (RFC 5424 over UDP, and over TCP with octet-counted or LF framing)
    /// and store it in micro-batches. Binds to loopback unless told otherwise.
    Listen {
        /// UDP address to listen on (repeatable; port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:5514")]
        udp: Vec<std::net::SocketAddr>,
        /// TCP address to listen on (repeatable).
        #[arg(long, default_value = "127.0.0.1:5514")]
        tcp: Vec<std::net::SocketAddr>,
        /// RELP address to listen on (repeatable; none by default). A message is
        /// acknowledged only once it is stored.
        #[arg(long)]
        relp: Vec<std::net::SocketAddr>,
        /// TLS address to listen on (RFC 5425; repeatable; none by default).
        #[arg(long, requires_all = ["tls_cert", "tls_key"])]
        tls: Vec<std::net::SocketAddr>,
        /// PEM file of the TLS server certificate (chain).
        #[arg(long)]
        tls_cert: Option<std::path::PathBuf>,
        /// PEM file of the TLS server key.
        #[arg(long)]
        tls_key: Option<std::path::PathBuf>,
        /// Commit a batch this many milliseconds after its first message.
        #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..=60_000))]
        batch_ms: u64,
        /// Commit a batch once it holds this many messages.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        batch_lines: u64,
        /// Print a status line every this many seconds (0: never).
        #[arg(long, default_value_t = 10)]
        status_every: u64,
    },
    /// Load recorded sessions (sessrec JSONL shards, …/<decky>/<service>/<date>.jsonl) into
    /// decnet.session_recordings; their keystroke profiles are derived on insert.
    IngestSessions {
        #[arg(required = true)]
        files: Vec<String>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Load RIR delegated-statistics files (delegated-<rir>-[extended-]latest, unchanged) for country lookups.
    LoadRir {
        #[arg(required = true)]
        files: Vec<String>,
        #[arg(long)]
        quiet: bool,
        /// Load even if a registry would shrink to less than half of what it holds.
        #[arg(long)]
        force: bool,
    },
    /// Load iptoasn TSV files (ip2asn-v4.tsv[.gz], ip2asn-v6.tsv[.gz]) for AS lookups.
    LoadAsn {
        #[arg(required = true)]
        files: Vec<String>,
        #[arg(long)]
        quiet: bool,
        /// Load even if an address family would shrink to less than half of what it holds.
        #[arg(long)]
        force: bool,
    },
    /// Print the ingest report.
    Report,
    /// Migrate, ingest a corpus, print the report.
    Demo {
        #[arg(long)]
        corpus: String,
    },
    /// COPY a corpus into an untriggered copy of decnet.logs and through the pipeline; print both rates.
    Bench {
        #[arg(long)]
        corpus: String,
    },
    /// Only the live-ingestion part of `bench`: ingest --follow and listen on a backlog, and
    /// write-to-commit latency at 5,000 lines/s. Empties the decnet tables first.
    BenchLive {
        #[arg(long)]
        corpus: String,
    },
    /// Only the rollup part of `bench`: the full rollup of a 100k-line corpus against its ingest, and the
    /// backlog's age under 5 minutes of 50 new attackers a second. Empties the decnet tables first.
    BenchBacklog {
        #[arg(long)]
        corpus: String,
    },
    /// Only the single-row and multi-row-transaction INSERT part of `bench`. Empties the decnet tables first.
    BenchInserts {
        #[arg(long)]
        corpus: String,
    },
    /// Plant 100k attackers / 10M lines and time rollups of 1,000 dirty attackers at 1M and 10M lines, and rebuild().
    /// Empties the decnet tables first: run it on a throwaway database.
    BenchRollup,
    /// Plant 100k attackers (20k actors of 5 addresses) and time the full and the incremental identity pass.
    /// Empties the decnet tables first: run it on a throwaway database.
    BenchIdentities,
}

fn run(cli: Cli) -> Result<(), CliError> {
    let dsn = cli.dsn.unwrap_or_default();
    let long_running = matches!(
        cli.command,
        Command::Listen { .. }
            | Command::Ingest { follow: true, .. }
            | Command::Notify { once: false, .. }
    );
    let mut client = if long_running {
        // Before the first connection: a stop that arrives while connecting
        // must end the loader cleanly, not kill it.
        daemon::install_stop_handlers();
        db::connect_patiently(&dsn)?
    } else {
        db::connect(&dsn)?
    };
    match cli.command {
        Command::Migrate => {
            let applied = db::migrate(&mut client)?;
            println!(
                "migrated: {} migration(s) applied{}",
                applied.len(),
                list(&applied)
            );
            warn_unscheduled(&mut client)?;
        }
        Command::Export {
            format,
            what,
            since,
            until,
            addresses,
            output,
        } => {
            let opts = export::ExportOptions {
                format,
                what,
                since,
                until,
                addresses,
            };
            match output {
                Some(path) => {
                    let file = std::fs::File::create(&path).map_err(|e| {
                        CliError::new(
                            format!("cannot create {}: {e}", path.display()),
                            "check the path",
                        )
                    })?;
                    let mut out = std::io::BufWriter::new(file);
                    let n = export::export(&mut client, &opts, &mut out)?;
                    std::io::Write::flush(&mut out).map_err(|e| {
                        CliError::new(
                            format!("cannot write {}: {e}", path.display()),
                            "check free space",
                        )
                    })?;
                    eprintln!("exported {n} line(s) to {}", path.display());
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut out = std::io::BufWriter::new(stdout.lock());
                    export::export(&mut client, &opts, &mut out)?;
                    let _ = std::io::Write::flush(&mut out);
                }
            }
        }
        Command::Notify {
            once,
            timeout_ms,
            lease_s,
            backoff_ms,
            backoff_max_ms,
            poll_ms,
        } => {
            use std::time::Duration;
            let opts = notify::NotifyOptions {
                once,
                timeout: Duration::from_millis(timeout_ms),
                lease: Duration::from_secs(lease_s),
                backoff: Duration::from_millis(backoff_ms),
                backoff_max: Duration::from_millis(backoff_max_ms),
                batch: 20,
                poll: Duration::from_millis(poll_ms),
            };
            let n = notify::run(&mut client, &opts)?;
            println!(
                "stopped: {} delivered, {} failed attempts",
                n.delivered, n.failed
            );
        }
        Command::Ingest {
            files,
            quiet,
            follow: true,
            from_start,
            batch_ms,
            batch_lines,
            status_every,
        } => {
            if files.iter().any(|f| f == "-") {
                return Err(CliError::new(
                    "--follow reads files, not standard input",
                    "name the log files to follow",
                ));
            }
            let opts = follow::FollowOptions {
                batch_interval: std::time::Duration::from_millis(batch_ms),
                batch_lines: batch_lines as usize,
                from_start,
                status_every: (!quiet && status_every > 0)
                    .then(|| std::time::Duration::from_secs(status_every)),
            };
            let stored = follow::Follower::new(&dsn, client, &files, opts)?.run()?;
            println!("stopped: {stored} lines stored");
        }
        Command::Ingest {
            files,
            quiet,
            follow: false,
            from_start,
            ..
        } => {
            let stats = ingest::ingest_files(&mut client, &files, !quiet, from_start)?;
            println!(
                "ingested {} lines ({} kept as raw bytes)",
                stats.lines, stats.lossy_lines
            );
        }
        Command::Listen {
            udp,
            tcp,
            relp,
            tls,
            tls_cert,
            tls_key,
            batch_ms,
            batch_lines,
            status_every,
        } => {
            let opts = listen::ListenOptions {
                udp,
                tcp,
                relp,
                tls,
                tls_cert,
                tls_key,
                batch_interval: std::time::Duration::from_millis(batch_ms),
                batch_lines: batch_lines as usize,
                status_every: (status_every > 0)
                    .then(|| std::time::Duration::from_secs(status_every)),
            };
            // fail now, not at the first batch, if the loader cannot write
            let can: bool = client
                .query_one(
                    "SELECT has_column_privilege('decnet.logs', 'raw_line', 'INSERT')",
                    &[],
                )
                .map_err(|e| CliError::from_db("decnet.logs is not usable", e))?
                .get(0);
            if !can {
                return Err(CliError::new(
                    "this role cannot insert into decnet.logs",
                    "connect as a member of decnet_ingest",
                ));
            }
            let stored = listen::run(&dsn, client, opts)?;
            println!("stopped: {stored} messages stored");
        }
        Command::IngestSessions { files, quiet } => {
            let s = sessions::ingest_session_files(&mut client, &files, !quiet)?;
            println!(
                "loaded {} of {} sessions ({} events) from {} file(s); {} already loaded; {} malformed lines skipped",
                s.sessions - s.already_loaded, s.sessions, s.events, s.files, s.already_loaded, s.malformed_lines
            );
        }
        Command::LoadRir {
            files,
            quiet,
            force,
        } => {
            for line in enrich::load_files(&mut client, enrich::Source::Rir, &files, !quiet, force)?
            {
                println!("{line}");
            }
        }
        Command::LoadAsn {
            files,
            quiet,
            force,
        } => {
            for line in
                enrich::load_files(&mut client, enrich::Source::Iptoasn, &files, !quiet, force)?
            {
                println!("{line}");
            }
        }
        Command::Report => print!("{}", report::ingest_report(&mut client)?),
        Command::Demo { corpus } => {
            let applied = db::migrate(&mut client)?;
            println!(
                "migrated: {} migration(s) applied{}",
                applied.len(),
                list(&applied)
            );
            let start = std::time::Instant::now();
            let stats =
                ingest::ingest_files(&mut client, std::slice::from_ref(&corpus), true, false)?;
            let secs = start.elapsed().as_secs_f64();
            println!(
                "ingested {} lines from {corpus} in {secs:.2} s ({:.0} lines/s)\n",
                stats.lines,
                stats.lines as f64 / secs
            );
            print!("{}", report::ingest_report(&mut client)?);
            print!("{}", report::behavior_report(&mut client)?);
            print!("{}", report::stats_report(&mut client)?);
        }
        Command::Bench { corpus } => {
            let data = bench_corpus(&mut client, &corpus)?;
            let (payload, lines) = bench::encode_corpus(&data);
            println!("{}", bench::run(&mut client, &payload, lines)?.render());
            println!("{}", bench::heavy_attacker(&mut client, 500_000, 100_000)?);
            println!("{}", bench::single_rows(&mut client, &dsn, &data)?);
            println!("{}", live_bench::run(&mut client, &dsn, &data)?);
            println!("{}", backlog_bench::corpus_rollup(&mut client, &data)?);
            println!("{}", backlog_bench::sustained_feed(&mut client, &dsn)?);
            println!("{}", bench::gossip(&mut client, 1_000_000, 2_000)?);
            println!("{}", bench::similar_sessions(&mut client)?);
            println!("{}", bench::enrichment_lookups(&mut client)?);
        }
        Command::BenchInserts { corpus } => {
            let data = bench_corpus(&mut client, &corpus)?;
            println!("{}", bench::single_rows(&mut client, &dsn, &data)?);
        }
        Command::BenchLive { corpus } => {
            let data = bench_corpus(&mut client, &corpus)?;
            println!("{}", live_bench::run(&mut client, &dsn, &data)?);
        }
        Command::BenchBacklog { corpus } => {
            let data = bench_corpus(&mut client, &corpus)?;
            println!("{}", backlog_bench::corpus_rollup(&mut client, &data)?);
            println!("{}", backlog_bench::sustained_feed(&mut client, &dsn)?);
        }
        Command::BenchRollup => {
            db::migrate(&mut client)?;
            print!("{}", rollup_bench::run(&mut client)?);
        }
        Command::BenchIdentities => {
            db::migrate(&mut client)?;
            print!("{}", identity_bench::run(&mut client)?);
        }
    }
    Ok(())
}

/// After a migrate: pg_cron serves one database, and without its jobs nothing
/// rolls up, resolves or makes partitions. Said on stderr, whatever the verbosity.
fn warn_unscheduled(client: &mut postgres::Client) -> Result<(), CliError> {
    let missing = db::missing_jobs(client)?;
    if !missing.is_empty() {
        eprintln!(
            "decnet: WARNING: pg_cron does not run {} for this database: no rollup, identity pass, reverse DNS or new \
             log partitions will happen. pg_cron serves the database named by cron.database_name; run \
             `SELECT * FROM decnet.schedule_jobs()` there (its error hint lists the calls for another database).",
            missing.join(", ")
        );
    }
    Ok(())
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(": {}", names.join(", "))
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("decnet: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What every benchmark starts with: a migrated database and its corpus.
fn bench_corpus(client: &mut postgres::Client, corpus: &str) -> Result<Vec<u8>, CliError> {
    db::migrate(client)?;
    std::fs::read(corpus).map_err(|e| {
        CliError::new(
            format!("cannot read {corpus}: {e}"),
            "generate it with gen_corpus.py",
        )
    })
}
