//! Helpers for the integration tests. `./x test` starts a throwaway cluster with
//! the extension installed and pg_cron preloaded, and exports DECNET_TEST_DSN
//! (its `postgres` database), DECNET_SHARED and DECNET_BIN.

use postgres::{Client, NoTls};
use std::path::PathBuf;

pub fn base_dsn() -> String {
    std::env::var("DECNET_TEST_DSN").expect("DECNET_TEST_DSN is not set: run the integration tests through `./x test`")
}

/// The DSN of database `name` on the test cluster.
pub fn dsn_for(name: &str) -> String {
    let base = base_dsn();
    assert!(base.contains("dbname=postgres"), "DECNET_TEST_DSN must name dbname=postgres");
    base.replace("dbname=postgres", &format!("dbname={name}"))
}

pub fn connect(dsn: &str) -> Client {
    Client::connect(dsn, NoTls).unwrap_or_else(|e| panic!("connect {dsn}: {e}"))
}

/// A new empty database (dropped first if a previous run left it).
pub fn fresh_db(name: &str) -> Client {
    let mut admin = connect(&base_dsn());
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    connect(&dsn_for(name))
}

/// A new database with the extension created and every migration applied.
pub fn migrated_db(name: &str) -> Client {
    let mut c = fresh_db(name);
    decnet_cli::db::migrate(&mut c).expect("migrate");
    c
}

/// A generated corpus (cached under target/), from the shared generator.
pub fn corpus(n: usize, seed: u64) -> PathBuf {
    let shared = PathBuf::from(std::env::var("DECNET_SHARED").expect("DECNET_SHARED is not set: run through `./x test`"));
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/it-corpus");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("corpus-{n}-{seed}.log"));
    if !out.exists() {
        let tmp = out.with_extension("tmp");
        let ok = std::process::Command::new("python3")
            .arg(shared.join("corpus/gen_corpus.py"))
            .args(["--n", &n.to_string(), "--seed", &seed.to_string(), "-o"])
            .arg(&tmp)
            .status()
            .expect("python3 runs")
            .success();
        assert!(ok, "gen_corpus.py failed");
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

/// Lines of a file as the loader must see them: split at `\n`, no trailing empty line.
pub fn file_lines(data: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Ingests bytes through the same loader the CLI uses.
pub fn ingest_bytes(client: &mut Client, data: &[u8]) -> decnet_cli::ingest::IngestStats {
    let mut reader = std::io::BufReader::new(data);
    decnet_cli::ingest::copy_lines(client, decnet_cli::ingest::COPY_LOGS, &mut reader, &indicatif::ProgressBar::hidden())
        .expect("COPY through the loader")
}

/// Every stored line, in id order, as its exact original bytes.
pub fn stored_lines(client: &mut Client) -> Vec<Vec<u8>> {
    client
        .query("SELECT raw_line, raw_bytes FROM decnet.logs ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| match r.get::<_, Option<Vec<u8>>>(1) {
            Some(bytes) => bytes,
            None => r.get::<_, String>(0).into_bytes(),
        })
        .collect()
}

pub fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}
