//! pg_isolation_regress (from Debian's postgresql-server-dev) over the specs in
//! isolation/specs: ingest interleaved with rollup(), rebuild() and
//! drop_logs_before(). Expected outputs are in isolation/expected.

use decnet_it::*;
use std::path::PathBuf;
use std::process::Command;

fn dsn_part(dsn: &str, key: &str) -> String {
    dsn.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} missing from {dsn}"))
        .to_string()
}

#[test]
fn ingest_against_rollup_rebuild_and_retention() {
    let mut c = migrated_db("it_isolation");
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs"), 0);
    drop(c);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("target/isolation");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let bindir = pg_bin("");
    let tool = bindir.join("../lib/pgxs/src/test/isolation/pg_isolation_regress");
    let base = base_dsn();
    let status = Command::new(&tool)
        .arg("--use-existing")
        .arg(format!("--host={}", dsn_part(&base, "host")))
        .arg(format!("--port={}", dsn_part(&base, "port")))
        .arg(format!("--user={}", dsn_part(&base, "user")))
        .arg("--dbname=it_isolation")
        .arg(format!("--bindir={}", bindir.display()))
        .arg(format!("--inputdir={}", root.join("isolation").display()))
        .arg(format!("--outputdir={}", out.display()))
        .args(["ingest_rollup", "ingest_rebuild", "ingest_drop"])
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}", tool.display()));
    let diffs = std::fs::read_to_string(out.join("regression.diffs")).unwrap_or_default();
    assert!(status.success(), "isolation specs failed:\n{diffs}");
}
