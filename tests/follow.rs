//! Issue 17: file positions and `decnet ingest --follow`. Every line of a
//! growing, rotating file is stored exactly once, across re-runs, SIGKILL and
//! restarts; the real `decnet` binary is the client.

use decnet_it::*;
use postgres::Client;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn ingest(dsn: &str, args: &[&str]) {
    let out = decnet_command(dsn)
        .arg("ingest")
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn follow(dsn: &str, path: &Path) -> Child {
    decnet_command(dsn)
        .args(["ingest", "--follow", "--quiet"])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The database's clock, to tell a new connection from older ones.
fn now(c: &mut Client) -> String {
    c.query_one("SELECT clock_timestamp()::text", &[])
        .unwrap()
        .get(0)
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: a plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// Waits until decnet.logs holds `n` lines (or panics after `secs`).
fn wait_for_lines(c: &mut Client, n: i64, secs: u64) {
    let start = Instant::now();
    loop {
        let have = count(c, "SELECT count(*) FROM decnet.logs");
        if have == n {
            return;
        }
        assert!(have < n, "more lines stored than written: {have} > {n}");
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "only {have} of {n} lines after {secs} s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stored lines compared with written ones as multisets: every line once.
fn assert_each_line_once(c: &mut Client, written: &[Vec<u8>]) {
    let written: Vec<&[u8]> = written.iter().map(Vec::as_slice).collect();
    let t = tally(c, &written);
    let missing = t.not_once();
    assert_eq!(
        missing, 0,
        "{missing} distinct lines stored a different number of times than written"
    );
    assert_eq!(t.stored, written.len());
}

/// Derived counts that a doubled line would change.
fn counts(c: &mut Client) -> Vec<i64> {
    column::<i64>(
        c,
        "SELECT x FROM (VALUES
            ((SELECT count(*) FROM decnet.logs)),
            ((SELECT count(*) FROM decnet.attackers)),
            ((SELECT coalesce(sum(event_count), 0)::bigint FROM decnet.attackers)),
            ((SELECT coalesce(sum(attempt_count), 0)::bigint FROM decnet.credentials)),
            ((SELECT coalesce(sum(seen_count), 0)::bigint FROM decnet.bounties)),
            ((SELECT coalesce(sum(count), 0)::bigint FROM decnet.smtp_targets))) v(x)",
    )
}

#[test]
fn loading_a_file_twice_adds_nothing_and_a_grown_file_adds_its_tail() {
    let db = "it_follow_twice";
    let mut c = migrated_db(db);
    let dsn = dsn_for(db);
    let data = std::fs::read(corpus(100_000, 17)).unwrap();
    let lines = file_lines(&data);
    let cut = data
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .nth(59_999)
        .unwrap()
        .0
        + 1;
    let path = scratch_dir("twice").join("decnet.log");
    std::fs::write(&path, &data[..cut]).unwrap();

    ingest(&dsn, &[path.to_str().unwrap()]);
    let first = counts(&mut c);
    assert_eq!(first[0], 60_000);
    ingest(&dsn, &[path.to_str().unwrap()]);
    assert_eq!(
        counts(&mut c),
        first,
        "a second load of the same file changed the counts"
    );

    // the file grows: only the tail is added
    OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(&data[cut..])
        .unwrap();
    ingest(&dsn, &[path.to_str().unwrap()]);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.logs"),
        lines.len() as i64
    );
    let all = counts(&mut c);
    ingest(&dsn, &[path.to_str().unwrap()]);
    assert_eq!(counts(&mut c), all);
    assert_each_line_once(
        &mut c,
        &lines.iter().map(|l| l.to_vec()).collect::<Vec<_>>(),
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);

    // the operators' view shows where the file stands
    let r = c
        .query_one(
            "SELECT path, byte_offset, lines FROM decnet.ingest_sources",
            &[],
        )
        .unwrap();
    assert_eq!(r.get::<_, String>(0), path.to_str().unwrap());
    assert_eq!(r.get::<_, i64>(1), data.len() as i64);
    assert_eq!(r.get::<_, i64>(2), lines.len() as i64);
}

#[test]
fn from_start_and_a_rewritten_file_are_read_again() {
    let db = "it_follow_rewrite";
    let mut c = migrated_db(db);
    let dsn = dsn_for(db);
    let path = scratch_dir("rewrite").join("decnet.log");
    let a = "<134>1 2026-05-01T00:00:01+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"203.0.113.7\" src_port=\"1\"]\n";
    std::fs::write(&path, a.repeat(3)).unwrap();
    ingest(&dsn, &[path.to_str().unwrap()]);
    ingest(&dsn, &["--from-start", path.to_str().unwrap()]);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.logs"),
        6,
        "--from-start reads the file again on purpose"
    );
    // same inode, same size, other content: a new file, read whole
    let b = a.replace("203.0.113.7", "203.0.113.8");
    std::fs::write(&path, b.repeat(3)).unwrap();
    ingest(&dsn, &[path.to_str().unwrap()]);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.logs WHERE attacker_ip = '203.0.113.8'"
        ),
        3
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}

#[test]
fn follow_waits_for_the_file_and_for_each_newline_and_stops_cleanly() {
    let db = "it_follow_partial";
    let mut c = migrated_db(db);
    let dsn = dsn_for(db);
    let path = scratch_dir("partial").join("decnet.log");
    let mut child = follow(&dsn, &path); // the file does not exist yet
    std::thread::sleep(Duration::from_millis(500));
    let mut f = File::create(&path).unwrap();
    let line = b"<134>1 2026-05-01T00:00:01+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"203.0.113.9\" src_port=\"1\"]";
    f.write_all(line).unwrap();
    f.write_all(b"\n\x00raw\xff bytes\n<134>1 2026-05-01T00:00:02+00:00 decky-01 ssh - conn")
        .unwrap();
    f.flush().unwrap();
    wait_for_lines(&mut c, 2, 20);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.logs"),
        2,
        "a partial line waits for its newline"
    );
    f.write_all(b"ection [relay@55555 src_ip=\"203.0.113.9\" src_port=\"2\"]\n")
        .unwrap();
    wait_for_lines(&mut c, 3, 20);

    signal(&child, libc::SIGTERM);
    let out = std::mem::replace(&mut child, follow(&dsn, Path::new("/nonexistent/never")))
        .wait_with_output()
        .unwrap();
    signal(&child, libc::SIGKILL);
    let _ = child.wait();
    assert!(
        out.status.success(),
        "SIGTERM ends --follow cleanly: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("3 lines stored"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stored = stored_lines(&mut c);
    assert_eq!(
        stored[1], b"\x00raw\xff bytes",
        "raw bytes are stored byte for byte"
    );
    assert!(stored[2].ends_with(b"src_port=\"2\"]"));
    assert_eq!(
        count(
            &mut c,
            "SELECT event_count FROM decnet.attackers WHERE ip = '203.0.113.9'"
        ),
        2
    );
}

/// A DECNET-style writer appends while --follow runs; it rotates by rename
/// every 1,500 lines and by copytruncate twice. The follower is SIGKILLed and
/// restarted every 0.3–1.1 s. In the end every line is stored exactly once.
#[test]
fn follow_survives_rotation_and_sigkill_with_every_line_once() {
    let db = "it_follow_crash";
    let mut c = migrated_db(db);
    let dsn = dsn_for(db);
    let dir = scratch_dir("crash");
    let path = dir.join("decnet.log");
    let data = std::fs::read(corpus(20_000, 23)).unwrap();
    let lines: Vec<Vec<u8>> = file_lines(&data).into_iter().map(|l| l.to_vec()).collect();

    let writer = {
        let (path, dir, lines) = (path.clone(), dir.clone(), lines.clone());
        std::thread::spawn(move || {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap();
            let mut generation = 0;
            for (i, l) in lines.iter().enumerate() {
                f.write_all(&[l.as_slice(), b"\n"].concat()).unwrap();
                if i % 1_500 == 1_499 {
                    generation += 1;
                    if generation % 4 == 2 {
                        // copytruncate, as logrotate does it (no write in between here)
                        std::fs::copy(&path, dir.join(format!("decnet.log.{generation}"))).unwrap();
                        f.set_len(0).unwrap();
                    } else {
                        std::fs::rename(&path, dir.join(format!("decnet.log.{generation}")))
                            .unwrap();
                        f = OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&path)
                            .unwrap();
                    }
                }
                if i % 20 == 0 {
                    std::thread::sleep(Duration::from_millis(5)); // about 4,000 lines/s
                }
            }
        })
    };

    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut kills = 0;
    let mut spawned_at = now(&mut c);
    let mut child = follow(&dsn, &path);
    while !writer.is_finished() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(300 + seed % 800));
        signal(&child, libc::SIGKILL);
        child.wait().unwrap();
        kills += 1;
        spawned_at = now(&mut c);
        child = follow(&dsn, &path);
    }
    writer.join().unwrap();
    wait_for_lines(&mut c, lines.len() as i64, 120);
    // The last follower may have been started a moment ago: stop it only once
    // it is connected, so the SIGTERM tests the clean stop, not the start-up.
    let connected = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' \
         AND application_name = 'decnet' AND backend_start >= '{spawned_at}'"
    );
    let start = Instant::now();
    while count(&mut c, &connected) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the follower never connected"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(kills >= 4, "the follower was killed {kills} times");
    assert_each_line_once(&mut c, &lines);
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
    // and a plain re-load of every generation adds nothing
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let copies = files
        .iter()
        .filter(|f| f.ends_with(".2") || f.ends_with(".6") || f.ends_with(".10"))
        .count();
    assert!(copies > 0);
    let before = counts(&mut c);
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    ingest(&dsn, &args);
    let after = counts(&mut c);
    assert_eq!(
        after, before,
        "every generation was stored before: a re-load adds nothing"
    );
}
