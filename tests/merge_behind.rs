//! Issue 16: decnet.merge_behind_ms. Single-row transactions committing soon
//! after a merge queue their lines; the next merge takes them, once. Nothing
//! is lost or counted twice: not with concurrent writers, not across
//! rollup(), rebuild() or a rolled-back transaction.

use decnet_it::*;
use postgres::Client;

fn lines(n: usize, seed: u64) -> Vec<String> {
    let data = std::fs::read(corpus(n, seed)).unwrap();
    file_lines(&data)
        .into_iter()
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter(|l| !l.contains('\0'))
        .map(str::to_string)
        .collect()
}

fn insert_one_by_one(c: &mut Client, lines: &[String]) {
    let insert = c
        .prepare("INSERT INTO decnet.logs (raw_line) VALUES ($1)")
        .unwrap();
    for l in lines {
        c.execute(&insert, &[l]).unwrap();
    }
}

fn queued_lines(c: &mut Client) -> i64 {
    count(
        c,
        "SELECT coalesce(sum(cardinality(log_ids)), 0)::bigint FROM decnet.merge_queue",
    )
}

#[test]
fn single_row_commits_inside_the_window_are_queued_and_merged_once() {
    let mut c = migrated_db("it_merge_behind");
    let lines = lines(2_000, 41);
    c.batch_execute("SET decnet.merge_behind_ms = 10000")
        .unwrap();
    insert_one_by_one(&mut c, &lines[..500]);
    // the first commit merged (no merge before it); the rest waited in the queue
    let queued = queued_lines(&mut c);
    assert_eq!(
        queued, 499,
        "every commit after the first one inside the window is queued"
    );
    assert_eq!(
        count(&mut c, "SELECT merge_queue_lines FROM decnet.stats()"),
        499,
        "operators see the queue"
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.logs"), 500);
    assert!(
        count(&mut c, "SELECT count(*) FROM decnet.verify()") > 0,
        "queued lines are not in the profiles yet"
    );

    // a rolled-back transaction queues nothing
    c.batch_execute(&format!(
        "BEGIN; INSERT INTO decnet.logs (raw_line) VALUES ('{}'); ROLLBACK",
        lines[500].replace('\'', "''")
    ))
    .unwrap();
    assert_eq!(queued_lines(&mut c), 499);

    assert_eq!(count(&mut c, "SELECT decnet.merge_queued()"), 499);
    assert_eq!(queued_lines(&mut c), 0);
    assert_eq!(
        count(&mut c, "SELECT merge_queue_lines FROM decnet.stats()"),
        0
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
    assert_eq!(
        count(&mut c, "SELECT decnet.merge_queued()"),
        0,
        "a second drain finds nothing"
    );

    // the rollup drains the queue before its batch; rebuild() recomputes queued lines once
    insert_one_by_one(&mut c, &lines[501..900]);
    assert!(queued_lines(&mut c) > 0);
    c.batch_execute("SELECT * FROM decnet.rollup()").unwrap();
    assert_eq!(queued_lines(&mut c), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
    insert_one_by_one(&mut c, &lines[900..1_200]);
    assert!(queued_lines(&mut c) > 0);
    c.batch_execute("SELECT * FROM decnet.rebuild()").unwrap();
    assert_eq!(
        queued_lines(&mut c),
        0,
        "rebuild() recomputed the queued lines: their entries are gone"
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);

    // off again: every commit merges
    c.batch_execute("SET decnet.merge_behind_ms = 0").unwrap();
    insert_one_by_one(&mut c, &lines[1_200..1_300]);
    assert_eq!(queued_lines(&mut c), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}

/// A session whose last statement merged lines, then drains what other
/// sessions queued: its merged lines are not merged again.
#[test]
fn draining_the_queue_after_a_merge_in_the_same_session_counts_nothing_twice() {
    let db = "it_merge_behind_drain";
    let mut c = migrated_db(db);
    let lines = lines(2_000, 59);
    // a 1,000-line statement merges at its end in this session
    ingest_bytes(
        &mut c,
        lines[..1_000]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .as_bytes(),
    );
    let mut writer = connect(&dsn_for(db));
    writer
        .batch_execute("SET decnet.merge_behind_ms = 10000")
        .unwrap();
    insert_one_by_one(&mut writer, &lines[1_000..1_100]);
    assert!(queued_lines(&mut c) > 0);
    // the writer's first commit merged (no merge at commit before it); 99 were queued
    assert_eq!(count(&mut c, "SELECT decnet.merge_queued()"), 99);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}

#[test]
fn a_commit_after_the_window_merges_the_queue_with_its_own_lines() {
    let mut c = migrated_db("it_merge_behind_window");
    let lines = lines(500, 43);
    // a window no debug build under load outlasts while queueing, then one
    // that is surely over: the test does not depend on how fast inserts run
    c.batch_execute("SET decnet.merge_behind_ms = 10000")
        .unwrap();
    insert_one_by_one(&mut c, &lines[..50]);
    assert!(queued_lines(&mut c) > 0);
    c.batch_execute("SET decnet.merge_behind_ms = 1").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    insert_one_by_one(&mut c, &lines[50..51]);
    assert_eq!(
        queued_lines(&mut c),
        0,
        "the first commit after the window merged everyone's lines"
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}

#[test]
fn eight_single_row_writers_with_merge_behind_lose_and_double_nothing() {
    let db = "it_merge_behind_writers";
    let mut c = migrated_db(db);
    c.batch_execute(&format!(
        "ALTER DATABASE {db} SET decnet.merge_behind_ms = 20"
    ))
    .unwrap();
    let lines = lines(8_000, 47);
    let handles: Vec<_> = (0..8)
        .map(|w| {
            let mine: Vec<String> = lines.iter().skip(w).step_by(8).cloned().collect();
            let dsn = dsn_for(db);
            std::thread::spawn(move || {
                let mut c = connect(&dsn);
                insert_one_by_one(&mut c, &mine);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    c.batch_execute("SELECT decnet.merge_queued()").unwrap();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.logs"),
        lines.len() as i64
    );
    assert_eq!(queued_lines(&mut c), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
    let with_attacker = count(
        &mut c,
        "SELECT count(*) FROM decnet.logs WHERE attacker_ip IS NOT NULL",
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT sum(event_count)::bigint FROM decnet.attackers"
        ),
        with_attacker
    );
}
