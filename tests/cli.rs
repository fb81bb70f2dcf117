//! The `decnet` binary: real runs against the test cluster, and its one-line errors.

use decnet_it::*;
use std::process::{Command, Output};

fn decnet(args: &[&str], dsn: Option<&str>) -> Output {
    let bin = std::env::var("DECNET_BIN").expect("DECNET_BIN is not set: run through `./x test`");
    let mut cmd = Command::new(bin);
    for var in [
        "DECNET_DSN",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGPASSFILE",
    ] {
        cmd.env_remove(var);
    }
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
    let out = decnet(
        &["migrate"],
        Some("host=/nonexistent/socket/dir port=1 dbname=x user=nobody"),
    );
    let err = assert_one_line_error(&out, "cannot connect");
    assert!(err.contains("server running"), "{err}");
    // no connection string: libpq's defaults, as psql (the Debian socket directory here has no server)
    let out = decnet(&["migrate"], None);
    assert_one_line_error(&out, "cannot connect");
}

/// Issue 15: --help never prints the environment's connection string (it may hold a password).
#[test]
fn help_never_echoes_the_connection_string() {
    let bin = std::env::var("DECNET_BIN").expect("DECNET_BIN is not set: run through `./x test`");
    let out = Command::new(bin)
        .arg("--help")
        .env("DECNET_DSN", "host=db user=u password=hunter2-secret")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && help.contains("--dsn"), "{help}");
    assert!(!help.contains("hunter2-secret"), "{help}");
}

/// The libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE) is enough to connect, as with psql.
#[test]
fn libpq_environment_variables_connect() {
    let mut c = migrated_db("it_cli_pgenv");
    c.batch_execute("INSERT INTO decnet.logs (raw_line) VALUES ('<134>1 2026-05-01T00:00:00+00:00 d ssh - e [relay@55555 src_ip=\"45.83.12.9\"]')").unwrap();
    let dsn = dsn_for("it_cli_pgenv");
    let part = |key: &str| {
        dsn.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .unwrap()
            .to_owned()
    };
    let bin = std::env::var("DECNET_BIN").unwrap();
    let out = Command::new(bin)
        .arg("report")
        .env_remove("DECNET_DSN")
        .envs([
            ("PGHOST", part("host")),
            ("PGPORT", part("port")),
            ("PGUSER", part("user")),
            ("PGDATABASE", part("dbname")),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("decnet.logs: 1 lines"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Issue 15: CREATE EXTENSION alone, or a dropped extension, never leaves a silently broken install.
#[test]
fn unmigrated_or_dropped_extension_is_refused_with_a_hint() {
    let mut c = fresh_db("it_cli_ext_only");
    c.batch_execute("CREATE EXTENSION decnet").unwrap();
    let e = c.query("SELECT * FROM decnet.stats()", &[]).unwrap_err();
    let db = e.as_db_error().unwrap();
    assert_eq!(db.code().code(), "55000");
    assert!(
        db.message().contains("not migrated") && db.hint().unwrap().contains("decnet migrate"),
        "{db:?}"
    );

    let dsn = dsn_for("it_cli_ext_only");
    let out = decnet(&["migrate"], Some(&dsn));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.batch_execute("DROP EXTENSION decnet CASCADE").unwrap();
    let out = decnet(&["migrate"], Some(&dsn));
    let err = assert_one_line_error(
        &out,
        "extension (or the ingest trigger it provides) was dropped",
    );
    assert!(err.contains("restore"), "{err}");
    // and it stays refused: the extension it did not re-create is still absent
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_extension WHERE extname = 'decnet'"
        ),
        0
    );
}

#[test]
fn ingest_before_migrate_says_so() {
    fresh_db("it_cli_unmigrated");
    let tmp = scratch_file("one-line.log");
    std::fs::write(&tmp, "<134>1 2026-05-01T00:00:00+00:00 d s - e -\n").unwrap();
    let out = decnet(
        &["ingest", "--quiet", tmp.to_str().unwrap()],
        Some(&dsn_for("it_cli_unmigrated")),
    );
    let err = assert_one_line_error(&out, "does not exist [SQLSTATE");
    assert!(err.contains("decnet migrate"), "{err}");
    let out = decnet(
        &["ingest", "/nonexistent/file.log"],
        Some(&dsn_for("it_cli_unmigrated")),
    );
    assert_one_line_error(&out, "cannot open /nonexistent/file.log");
}

#[test]
fn migrate_ingest_report_through_the_binary() {
    fresh_db("it_cli_run");
    let dsn = dsn_for("it_cli_run");
    let out = decnet(&["migrate"], Some(&dsn));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("V1__logs"));
    // issue 15: pg_cron serves another database here, and migrate says so on stderr
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(
        warning.contains("WARNING: pg_cron does not run decnet-rollup")
            && warning.contains("schedule_jobs"),
        "{warning}"
    );
    let path = corpus(2_000, 3);
    let out = decnet(&["ingest", path.to_str().unwrap()], Some(&dsn));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ingested 2000 lines"), "{stdout}");
    let mut c = connect(&dsn);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs"), 2000);
    let out = decnet(&["report"], Some(&dsn));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("decnet.logs: 2000 lines"), "{report}");
    let ok = count(
        &mut c,
        "SELECT count(*) FROM decnet.logs WHERE parse_status = 'ok'",
    );
    assert!(report.contains(&format!("parsed ok {ok} ")), "{report}");
}
