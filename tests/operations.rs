//! Production operations (issue 9): a postmaster killed with SIGKILL in the
//! middle of a large COPY (its own throwaway cluster), and pg_dump / pg_restore
//! of a populated database into a fresh one.

use decnet_it::*;
use postgres::Client;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Every derived table the tests compare, in a stable text form.
const DERIVED: [&str; 15] = [
    "attackers",
    "attacker_services",
    "attacker_deckies",
    "attacker_commands",
    "bounties",
    "credentials",
    "smtp_targets",
    "attacker_behavior",
    "fingerprint_state",
    "fingerprint_rotations",
    "attacker_ipv6_leaks",
    "attacker_identities",
    "identity_members",
    "campaigns",
    "session_profiles",
];

fn fingerprint(c: &mut Client, table: &str) -> (i64, String) {
    fingerprint_without(c, table, &[])
}

/// The same, leaving out columns that differ by design (random uuids, ids).
fn fingerprint_without(c: &mut Client, table: &str, columns: &[&str]) -> (i64, String) {
    let row = format!("(to_jsonb(t) - '{{{}}}'::text[])::text", columns.join(","));
    let r = c
        .query_one(&format!("SELECT count(*), coalesce(md5(string_agg({row}, '|' ORDER BY {row})), '') FROM decnet.{table} t"), &[])
        .unwrap_or_else(|e| panic!("{table}: {e}"));
    (r.get(0), r.get(1))
}

fn ingest_file(c: &mut Client, path: &Path, lines: usize) -> u64 {
    let data = std::fs::read(path).unwrap();
    let text: Vec<&[u8]> = file_lines(&data).into_iter().take(lines).collect();
    ingest_bytes(c, &text.join(&b'\n')).lines
}

#[test]
fn dump_and_restore_give_identical_derived_tables_and_a_working_ingest() {
    let corpus = corpus(20_000, 11);
    let mut a = migrated_db("it_dump_src");
    ingest_file(&mut a, &corpus, 15_000);
    a.batch_execute(
        "SELECT * FROM decnet.rollup(100000); SELECT * FROM decnet.cluster_campaigns()",
    )
    .unwrap();
    assert!(count(&mut a, "SELECT count(*) FROM decnet.identity_members") > 100);

    let dump = scratch_file("decnet.dump");
    let ok = Command::new(pg_bin("pg_dump"))
        .args(["-Fc", "-f"])
        .arg(&dump)
        .arg(dsn_for("it_dump_src"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "pg_dump");
    drop(fresh_db("it_dump_dst"));
    let out = Command::new(pg_bin("pg_restore"))
        .args(["--exit-on-error", "-d"])
        .arg(dsn_for("it_dump_dst"))
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&dump).ok();

    let mut b = connect(&dsn_for("it_dump_dst"));
    for table in DERIVED {
        assert_eq!(
            fingerprint(&mut b, table),
            fingerprint(&mut a, table),
            "{table} after restore"
        );
    }
    assert_eq!(count(&mut b, "SELECT count(*) FROM decnet.verify()"), 0);
    // the restored database knows its migrations and keeps ingesting through the trigger
    decnet_cli::db::migrate(&mut b).expect("nothing left to migrate");
    let data = std::fs::read(&corpus).unwrap();
    let rest: Vec<&[u8]> = file_lines(&data).into_iter().skip(15_000).collect();
    for c in [&mut a, &mut b] {
        ingest_bytes(c, &rest.join(&b'\n'));
    }
    assert_eq!(count(&mut b, "SELECT count(*) FROM decnet.logs"), 20_000);
    assert_eq!(count(&mut b, "SELECT count(*) FROM decnet.verify()"), 0);
    // new attackers get random uuids (and credentials link them): compare without them
    for (table, differ) in [
        ("attacker_services", &[][..]),
        ("bounties", &["id"][..]),
        ("credentials", &["id", "attacker_uuid"][..]),
        ("smtp_targets", &[][..]),
        ("fingerprint_rotations", &[][..]),
        ("attackers", &["uuid", "created_at", "updated_at"][..]),
    ] {
        assert_eq!(
            fingerprint_without(&mut b, table, differ),
            fingerprint_without(&mut a, table, differ),
            "{table} after ingesting into both"
        );
    }
}

/// A throwaway cluster of this test alone: killing its postmaster harms no other test.
struct OwnCluster {
    data: PathBuf,
    sock: PathBuf,
    port: u16,
}

fn as_postgres(program: &Path) -> Command {
    // Postgres refuses to run as root: run it as the postgres user then.
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl OwnCluster {
    fn start(name: &str) -> OwnCluster {
        let root = PathBuf::from(format!("/tmp/decnet-it-{name}-{}", std::process::id()));
        let (data, sock) = (root.join("data"), root.join("run"));
        let port = 29_000 + (std::process::id() % 500) as u16;
        let _ = std::fs::remove_dir_all(&root);
        assert!(as_postgres(Path::new("mkdir"))
            .arg("-p")
            .arg(&sock)
            .status()
            .unwrap()
            .success());
        let ok = as_postgres(&pg_bin("initdb"))
            .args(["-D"])
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ])
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let c = OwnCluster { data, sock, port };
        c.pg_ctl_start();
        c
    }

    fn pg_ctl_start(&self) {
        let ok = as_postgres(&pg_bin("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.data.join("../postgres.log"))
            .args([
                "-o",
                &format!(
                    "-p {} -k {} -c decnet.ptr_enabled=off",
                    self.port,
                    self.sock.display()
                ),
                "-w",
                "start",
            ])
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
    }

    fn dsn(&self, db: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={db}",
            self.sock.display(),
            self.port
        )
    }

    fn postmaster_pid(&self) -> i32 {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        text.lines().next().unwrap().trim().parse().unwrap()
    }

    /// SIGKILL the postmaster, then every process it left (a power cut, as far as the server can tell).
    fn kill_everything(&self) {
        let pm = self.postmaster_pid();
        let all: Vec<i32> = std::iter::once(pm).chain(children_of(pm)).collect();
        for pid in &all {
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        // gone for good (reaped), so the restart finds neither a live pid nor attached shared memory
        let deadline = Instant::now() + Duration::from_secs(20);
        while all
            .iter()
            .any(|pid| Path::new(&format!("/proc/{pid}")).exists())
        {
            assert!(
                Instant::now() < deadline,
                "processes survived SIGKILL: {:?}",
                all.iter().filter(|p| is_zombie(**p)).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Processes whose parent is `parent`, from /proc (no procps needed).
fn children_of(parent: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| stat_field(*pid, 1).as_deref() == Some(&parent.to_string()))
        .collect()
}

fn is_zombie(pid: i32) -> bool {
    stat_field(pid, 0).as_deref() == Some("Z")
}

/// Field `n` after the command name in /proc/<pid>/stat (0: state, 1: ppid).
fn stat_field(pid: i32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(n)
        .map(str::to_owned)
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = as_postgres(&pg_bin("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(self.data.parent().unwrap());
    }
}

#[test]
fn sigkill_during_a_large_copy_loses_no_committed_line() {
    let cluster = OwnCluster::start("crash");
    let mut admin = connect(&cluster.dsn("postgres"));
    admin.batch_execute("CREATE DATABASE crash").unwrap();
    let mut c = connect(&cluster.dsn("crash"));
    decnet_cli::db::migrate(&mut c).expect("migrate");
    let corpus = corpus(200_000, 12);
    let data = std::fs::read(&corpus).unwrap();
    let lines = file_lines(&data);
    let committed = ingest_bytes(&mut c, &lines[..20_000].join(&b'\n')).lines as i64;

    // a 180k-line COPY (two statements, one transaction), killed while it runs
    let big: Vec<u8> = lines[20_000..].join(&b'\n');
    let dsn = cluster.dsn("crash");
    let copy = std::thread::spawn(move || {
        let mut c = connect(&dsn);
        let mut reader = std::io::BufReader::new(big.as_slice());
        decnet_cli::ingest::copy_lines(
            &mut c,
            decnet_cli::ingest::COPY_LOGS,
            &mut reader,
            &indicatif::ProgressBar::hidden(),
        )
        .is_ok()
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&mut admin, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY decnet.logs%' AND state = 'active'") == 0 {
        assert!(Instant::now() < deadline, "the COPY never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    cluster.kill_everything();
    let copy_committed = copy.join().unwrap();
    drop((admin, c));

    cluster.pg_ctl_start(); // crash recovery replays the WAL
    let mut c = connect(&cluster.dsn("crash"));
    let expected = committed + if copy_committed { 180_000 } else { 0 };
    assert!(!copy_committed, "the COPY was meant to be interrupted");
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.logs"),
        expected,
        "every committed line, nothing else"
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.verify()"),
        0,
        "derived tables agree with the lines"
    );
    // ingest continues where it stopped
    let more = ingest_bytes(&mut c, &lines[20_000..30_000].join(&b'\n')).lines as i64;
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.logs"),
        expected + more
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
    assert!(
        count(
            &mut c,
            "SELECT attackers::bigint FROM decnet.rollup(100000)"
        ) > 0
    );
}

/// Issue 15: partition maintenance under 8 writers. The current month's
/// partition is gone, so the writers' lines land in the default partition
/// while create_log_partitions() moves them into a new one; it and
/// drop_logs_before() run in a loop the whole time. Every line ends up stored
/// once, in its partition, and verify() is empty.
#[test]
fn partition_maintenance_under_eight_writers_loses_no_line() {
    const WRITERS: usize = 8;
    const LINES: usize = 80_000;
    let db = "it_partitions_load";
    let mut c = decnet_it::migrated_db(db);
    let current: String = c
        .query_one("SELECT partition_name FROM decnet.log_partitions() WHERE received_from <= now() AND received_before > now()", &[])
        .unwrap()
        .get(0);
    c.batch_execute(&format!(
        "ALTER TABLE decnet.logs DETACH PARTITION decnet.{current}; DROP TABLE decnet.{current}"
    ))
    .unwrap();

    let data = std::fs::read(corpus(LINES, 21)).unwrap();
    let lines = file_lines(&data);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let dsn = dsn_for(db);
    let writers = spawn_writers(&dsn, &lines, WRITERS, 500);
    let maintenance = {
        let (dsn, done) = (dsn.clone(), done.clone());
        std::thread::spawn(move || {
            let mut client = connect(&dsn);
            let mut made = 0;
            let mut rounds = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                made += client
                    .query_one("SELECT decnet.create_log_partitions()", &[])
                    .expect("create_log_partitions")
                    .get::<_, i32>(0);
                client
                    .query(
                        "SELECT * FROM decnet.drop_logs_before(now() - interval '10 years')",
                        &[],
                    )
                    .expect("drop_logs_before");
                rounds += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            (made, rounds)
        })
    };
    let stored: u64 = writers
        .into_iter()
        .map(|h| h.join().expect("a writer failed"))
        .sum();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (made, rounds) = maintenance.join().expect("maintenance failed");
    assert_eq!(stored, LINES as u64);
    assert!(
        made >= 1 && rounds >= 2,
        "the partition was re-created under load ({made} made, {rounds} rounds)"
    );

    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.logs"),
        LINES as i64,
        "every line, once"
    );
    assert_eq!(
        count(&mut c, "SELECT count(DISTINCT id) FROM decnet.logs"),
        LINES as i64
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs_default WHERE received_at >= date_trunc('month', now())"), 0,
               "lines of the new partition's range all moved out of the default partition");
    assert_eq!(
        count(
            &mut c,
            "SELECT sum(event_count)::bigint FROM decnet.attackers"
        ),
        count(
            &mut c,
            "SELECT count(*) FROM decnet.logs WHERE attacker_ip IS NOT NULL"
        )
    );
    let diff: Vec<String> = column(
        &mut c,
        "SELECT relation || ' ' || row_key::text FROM decnet.verify() LIMIT 5",
    );
    assert!(diff.is_empty(), "{diff:?}");
}
