//! The `decnet` binary: real runs against the test cluster, and its one-line errors.

use decnet_it::*;
use std::process::{Command, Output};

fn decnet(args: &[&str], dsn: Option<&str>) -> Output {
    let bin = std::env::var("DECNET_BIN").expect("DECNET_BIN is not set: run through `./x test`");
    let mut cmd = Command::new(bin);
    cmd.env_remove("DECNET_DSN");
    if let Some(d) = dsn {
        cmd.args(["--dsn", d]);
    }
    cmd.args(args).output().expect("decnet runs")
}

/// Exit 1, exactly one stderr line with a hint, no panic.
fn assert_one_line_error(out: &Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "{err}");
    assert!(err.contains("(hint: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_connection_strings_give_one_line_with_a_hint() {
    let out = decnet(&["migrate"], Some("this is not a connection string"));
    assert_one_line_error(&out, "invalid connection string");
    let out = decnet(&["migrate"], Some("host=/nonexistent/socket/dir port=1 dbname=x user=nobody"));
    let err = assert_one_line_error(&out, "cannot connect");
    assert!(err.contains("server running"), "{err}");
    let out = decnet(&["migrate"], None);
    assert_one_line_error(&out, "no connection string");
}

#[test]
fn ingest_before_migrate_says_so() {
    fresh_db("it_cli_unmigrated");
    let tmp = scratch_file("one-line.log");
    std::fs::write(&tmp, "<134>1 2026-05-01T00:00:00+00:00 d s - e -\n").unwrap();
    let out = decnet(&["ingest", "--quiet", tmp.to_str().unwrap()], Some(&dsn_for("it_cli_unmigrated")));
    let err = assert_one_line_error(&out, "does not exist [SQLSTATE");
    assert!(err.contains("decnet migrate"), "{err}");
    let out = decnet(&["ingest", "/nonexistent/file.log"], Some(&dsn_for("it_cli_unmigrated")));
    assert_one_line_error(&out, "cannot open /nonexistent/file.log");
}

#[test]
fn migrate_ingest_report_through_the_binary() {
    fresh_db("it_cli_run");
    let dsn = dsn_for("it_cli_run");
    let out = decnet(&["migrate"], Some(&dsn));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("V1__logs"));
    let path = corpus(2_000, 3);
    let out = decnet(&["ingest", path.to_str().unwrap()], Some(&dsn));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("ingested 2000 lines"), "{stdout}");
    let mut c = connect(&dsn);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs"), 2000);
    let out = decnet(&["report"], Some(&dsn));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("decnet.logs: 2000 lines"), "{report}");
    let ok = count(&mut c, "SELECT count(*) FROM decnet.logs WHERE parse_status = 'ok'");
    assert!(report.contains(&format!("parsed ok {ok} ")), "{report}");
}
