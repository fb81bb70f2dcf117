//! Eight writers COPYing overlapping attackers at once, and the per-statement NOTIFY.

use decnet_it::*;
use postgres::fallible_iterator::FallibleIterator;
use std::fmt::Write as _;
use std::time::Duration;

const WRITERS: usize = 8;
const LINES: usize = 200_000;
const STATEMENT_LINES: usize = 2_500;

#[test]
fn eight_concurrent_writers_lose_nothing_and_never_deadlock() {
    let mut c = migrated_db("it_concurrency");
    let data = std::fs::read(corpus(LINES, 11)).unwrap();
    let lines = file_lines(&data);
    let deadlocks_before = count(
        &mut c,
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
    );

    // line i goes to writer i % 8: every busy attacker is written by several writers at once
    let handles = spawn_writers(&dsn_for("it_concurrency"), &lines, WRITERS, STATEMENT_LINES);
    let stored: u64 = handles
        .into_iter()
        .map(|h| h.join().expect("a writer failed"))
        .sum();
    assert_eq!(stored, LINES as u64);

    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.logs"),
        LINES as i64
    );
    let deadlocks_after = count(
        &mut c,
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
    );
    assert_eq!(deadlocks_after, deadlocks_before, "deadlocks");
    // no lost count: the totals add up, and every derived row equals its recomputation
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
    let multi_writer = count(
        &mut c,
        "SELECT count(*) FROM decnet.attackers WHERE event_count >= 2 * 8",
    );
    assert!(
        multi_writer > 100,
        "{multi_writer} attackers were written by several writers"
    );
    let diff = c
        .query(
            "SELECT relation, row_key::text FROM decnet.verify() LIMIT 5",
            &[],
        )
        .unwrap();
    let diff: Vec<(String, String)> = diff.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(diff.is_empty(), "{diff:?}");
}

#[test]
fn one_notification_per_statement_through_the_outbox() {
    let mut c = migrated_db("it_notify");
    let mut listener = connect(&dsn_for("it_notify"));
    listener.batch_execute("LISTEN decnet_attacker").unwrap();

    // statement 1: 5,000 new attackers; statement 2: the same attackers again plus one new
    let mut first = String::new();
    for i in 0..5_000 {
        first += &format!("<134>1 2026-05-01T00:00:00+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"10.{}.{}.1\"]\n", i / 256, i % 256);
    }
    ingest_bytes(&mut c, first.as_bytes());
    let second = format!("{first}<134>1 2026-05-01T00:00:01+00:00 decky-02 ssh - connection [relay@55555 src_ip=\"2001:db8::5\"]\n");
    ingest_bytes(&mut c, second.as_bytes());
    c.batch_execute("INSERT INTO decnet.logs (raw_line) VALUES ('no attacker here')")
        .unwrap();

    let mut got = Vec::new();
    let mut n = listener.notifications();
    let mut it = n.timeout_iter(Duration::from_secs(5));
    while let Some(note) = it.next().unwrap() {
        assert_eq!(note.channel(), "decnet_attacker");
        got.push(notification(&mut c, "decnet_attacker", note.payload()));
        if got.len() == 3 {
            break;
        }
    }
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        (
            got[0]["rows"].as_i64(),
            got[0]["new_count"].as_i64(),
            got[0]["updated_count"].as_i64()
        ),
        (Some(5000), Some(5000), Some(0))
    );
    assert_eq!(
        (
            got[0]["new"].as_array().unwrap().len(),
            got[0]["new_truncated"].as_bool()
        ),
        (100, Some(true))
    );
    assert_eq!(
        (
            got[1]["new_count"].as_i64(),
            got[1]["updated_count"].as_i64()
        ),
        (Some(1), Some(5000))
    );
    assert_eq!(got[1]["new"], serde_json::json!(["2001:db8::5"]));
    assert_eq!(
        (got[2]["rows"].as_i64(), got[2]["new_count"].as_i64()),
        (Some(1), Some(0))
    );
}

#[test]
fn an_aborted_copy_does_not_leak_into_the_next_transaction() {
    let mut c = migrated_db("it_abort");
    let good = "<134>1 2026-05-01T00:00:01+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"5.5.5.5\"]\n";
    // a COPY that fails after its first row (a NULL raw_line breaks NOT NULL)
    let mut tx = c.transaction().unwrap();
    let mut w = tx
        .copy_in("COPY decnet.logs (raw_line) FROM STDIN")
        .unwrap();
    use std::io::Write;
    w.write_all(format!("{good}\\N\n").as_bytes()).unwrap();
    assert!(w.finish().is_err());
    drop(tx);
    // the next transaction on the same connection sees only its own lines
    ingest_bytes(&mut c, "<134>1 2026-05-01T00:00:02+00:00 decky-02 ssh - connection [relay@55555 src_ip=\"4.4.4.4\"]\n".as_bytes());
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.attackers WHERE ip = '5.5.5.5'"
        ),
        0
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT event_count FROM decnet.attackers WHERE ip = '4.4.4.4'"
        ),
        1
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}

#[test]
fn two_rollups_never_process_the_same_attackers() {
    let mut c = migrated_db("it_rollup_lock");
    let mut lines = String::new();
    for i in 0..50 {
        lines += &format!("<134>1 2026-05-01T00:00:{:02}+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"10.9.{}.{}\"]\n", i % 60, i / 10, i % 10);
    }
    ingest_bytes(&mut c, lines.as_bytes());
    // another rollup is running (it holds the rollup lock inside its transaction)
    let mut other = connect(&dsn_for("it_rollup_lock"));
    let mut tx = other.transaction().unwrap();
    tx.batch_execute("SELECT pg_advisory_xact_lock(hashtext('decnet.rollup'))")
        .unwrap();
    let r = c
        .query_one("SELECT attackers, remaining FROM decnet.rollup()", &[])
        .unwrap();
    assert_eq!((r.get::<_, i32>(0), r.get::<_, i64>(1)), (0, 50));
    tx.commit().unwrap();
    // one at a time, in batches: every attacker exactly once
    let first = c
        .query_one("SELECT attackers, remaining FROM decnet.rollup(30)", &[])
        .unwrap();
    assert_eq!((first.get::<_, i32>(0), first.get::<_, i64>(1)), (30, 20));
    let second = c
        .query_one("SELECT attackers, remaining FROM decnet.rollup(30)", &[])
        .unwrap();
    assert_eq!((second.get::<_, i32>(0), second.get::<_, i64>(1)), (20, 0));
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.attacker_behavior"),
        50
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT sum(attackers)::bigint FROM decnet.rollup_runs"
        ),
        50
    );
}

/// Issue 16: a transaction of single-row INSERTs merges once, at commit;
/// reads inside it lag its own lines; savepoints rolled back take their lines'
/// contributions with them, released ones keep them.
#[test]
fn small_statements_merge_at_commit_and_savepoints_undo_theirs() {
    let mut c = migrated_db("it_merge_at_commit");
    let line = |ip: &str, s: u32| {
        format!("<134>1 2026-05-01T00:00:{s:02}+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"{ip}\"]")
    };
    let notes_before = count(&mut c, "SELECT count(*) FROM decnet.notifications");
    let mut tx = c.transaction().unwrap();
    for s in 0..5 {
        tx.execute(
            "INSERT INTO decnet.logs (raw_line) VALUES ($1)",
            &[&line("203.0.113.110", s)],
        )
        .unwrap();
    }
    let seen: i64 = tx
        .query_one("SELECT count(*) FROM decnet.attackers", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        seen, 0,
        "inside the transaction the profile waits for commit"
    );
    tx.batch_execute("SAVEPOINT a").unwrap();
    tx.execute(
        "INSERT INTO decnet.logs (raw_line) VALUES ($1)",
        &[&line("203.0.113.111", 10)],
    )
    .unwrap();
    tx.batch_execute("ROLLBACK TO SAVEPOINT a; SAVEPOINT b")
        .unwrap();
    tx.execute(
        "INSERT INTO decnet.logs (raw_line) VALUES ($1)",
        &[&line("203.0.113.112", 11)],
    )
    .unwrap();
    tx.batch_execute("SAVEPOINT c").unwrap(); // nested, released into b, then b into the transaction
    tx.execute(
        "INSERT INTO decnet.logs (raw_line) VALUES ($1)",
        &[&line("203.0.113.110", 12)],
    )
    .unwrap();
    tx.batch_execute("RELEASE SAVEPOINT c; RELEASE SAVEPOINT b")
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT event_count FROM decnet.attackers WHERE ip = '203.0.113.110'"
        ),
        6
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT event_count FROM decnet.attackers WHERE ip = '203.0.113.112'"
        ),
        1
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.attackers WHERE ip = '203.0.113.111'"
        ),
        0
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.notifications") - notes_before,
        1,
        "one merge for the transaction"
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs"), 7);
    // a transaction rolled back whole leaves nothing pending for the next one
    let mut tx = c.transaction().unwrap();
    tx.execute(
        "INSERT INTO decnet.logs (raw_line) VALUES ($1)",
        &[&line("203.0.113.113", 13)],
    )
    .unwrap();
    tx.rollback().unwrap();
    c.execute(
        "INSERT INTO decnet.logs (raw_line) VALUES ($1)",
        &[&line("203.0.113.114", 14)],
    )
    .unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.attackers WHERE ip IN ('203.0.113.113', '203.0.113.114')"
        ),
        1
    );
    // SET CONSTRAINTS … IMMEDIATE inside a savepoint that is then rolled back:
    // the merge it ran is undone, the pending lines are not lost
    let mut tx = c.transaction().unwrap();
    tx.execute(
        "INSERT INTO decnet.logs (raw_line) VALUES ($1)",
        &[&line("203.0.113.116", 16)],
    )
    .unwrap();
    tx.batch_execute("SAVEPOINT d; SET CONSTRAINTS ALL IMMEDIATE; ROLLBACK TO SAVEPOINT d; SET CONSTRAINTS ALL DEFERRED").unwrap();
    tx.execute(
        "INSERT INTO decnet.logs (raw_line) VALUES ($1)",
        &[&line("203.0.113.116", 17)],
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT event_count FROM decnet.attackers WHERE ip = '203.0.113.116'"
        ),
        2
    );
    // … and released: the merge it ran stands, nothing is left pending at commit
    let mut tx = c.transaction().unwrap();
    tx.execute(
        "INSERT INTO decnet.logs (raw_line) VALUES ($1)",
        &[&line("203.0.113.117", 18)],
    )
    .unwrap();
    tx.batch_execute("SAVEPOINT e; SET CONSTRAINTS ALL IMMEDIATE; RELEASE SAVEPOINT e")
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT event_count FROM decnet.attackers WHERE ip = '203.0.113.117'"
        ),
        1
    );
    // a session that takes the commit-time event for itself (no trigger queued)
    // cannot commit lines nobody merges: its own transaction fails, nothing is lost
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("SELECT decnet.merge_event_needed()")
        .unwrap();
    tx.execute(
        "INSERT INTO decnet.logs (raw_line) VALUES ($1)",
        &[&line("203.0.113.115", 15)],
    )
    .unwrap();
    let err = tx.commit().unwrap_err();
    assert_eq!(
        err.as_db_error().map(|d| d.code().code()),
        Some("55000"),
        "{}",
        db_message(&err)
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.logs WHERE raw_line LIKE '%203.0.113.115%'"
        ),
        0
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}

/// Issue 16: 8 connections of 50-row transactions of single-row INSERTs on
/// overlapping attackers: no deadlock, no lost count.
#[test]
fn eight_writers_of_small_transactions_lose_nothing() {
    let mut c = migrated_db("it_small_tx");
    let data = std::fs::read(corpus(8_000, 12)).unwrap();
    let lines: Vec<String> = file_lines(&data)
        .iter()
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter(|l| !l.contains('\0'))
        .map(str::to_owned)
        .collect();
    let deadlocks_before = count(
        &mut c,
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
    );
    let dsn = dsn_for("it_small_tx");
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let mine: Vec<String> = lines.iter().skip(w).step_by(8).cloned().collect();
            let dsn = dsn.clone();
            std::thread::spawn(move || {
                let mut client = connect(&dsn);
                let insert = client
                    .prepare("INSERT INTO decnet.logs (raw_line) VALUES ($1)")
                    .unwrap();
                for chunk in mine.chunks(50) {
                    let mut tx = client.transaction().unwrap();
                    for l in chunk {
                        tx.execute(&insert, &[l]).unwrap();
                    }
                    tx.commit().unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a writer failed");
    }
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.logs"),
        lines.len() as i64
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        ),
        deadlocks_before
    );
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

/// Issue 18: the scheduled job drains the whole backlog, one committed batch
/// at a time, and waits out a pass that holds the rollup lock instead of
/// leaving the backlog to the next minute.
#[test]
fn the_scheduled_rollup_drains_the_backlog_batch_by_batch() {
    let name = "it_rollup_backlog";
    let mut c = migrated_db(name);
    let mut lines = String::new();
    for i in 0..2_500u32 {
        let _ = writeln!(
            lines,
            "<134>1 2026-05-01T00:00:{:02}+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"10.9.{}.{}\"]",
            i % 60,
            i / 250,
            i % 250
        );
    }
    ingest_bytes(&mut c, lines.as_bytes());
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.dirty_attackers"),
        2_500
    );
    c.batch_execute("TRUNCATE decnet.rollup_runs").unwrap();

    // another pass holds the rollup lock for a while: the job waits, then drains
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut other = connect(&dsn_for(name));
        let mut tx = other.transaction().unwrap();
        tx.batch_execute("SELECT pg_advisory_xact_lock(hashtext('decnet.rollup'))")
            .unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2_500));
        tx.commit().unwrap();
    });
    locked_rx.recv().unwrap();
    let started = std::time::Instant::now();
    c.batch_execute("CALL decnet.rollup_backlog(60000, 1000)")
        .unwrap();
    let waited = started.elapsed();
    holder.join().unwrap();
    assert!(
        waited >= std::time::Duration::from_secs(2),
        "it waited for the lock: {waited:?}"
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.dirty_attackers"),
        0
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.attacker_behavior"),
        2_500
    );
    // three batches, each committed by its own transaction
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.rollup_runs"), 3);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(DISTINCT xmin::text) FROM decnet.rollup_runs"
        ),
        3
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);

    let e = c
        .batch_execute("CALL decnet.rollup_backlog(-1)")
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some(&postgres::error::SqlState::INVALID_PARAMETER_VALUE),
        "{}",
        db_message(&e)
    );
}
