//! Recorded sessions: the CLI loader, keystroke profiles, similarity by typist,
//! the multi-index-hashing query against a brute-force scan, and the PII rule
//! (no typed text in any derived column).

use decnet_core::keystroke::parse_shard;
use decnet_it::typist::{Typist, PLAYBOOK};
use decnet_it::*;
use postgres::Client;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const TYPISTS: usize = 6;
const SESSIONS_PER_TYPIST: usize = 8;

fn typists() -> Vec<Typist> {
    [0.07, 0.1, 0.14, 0.2, 0.28, 0.4]
        .iter()
        .enumerate()
        .map(|(i, &base)| Typist {
            seed: 1000 + i as u64,
            base,
        })
        .collect()
}

fn sid(typist: usize, k: usize) -> String {
    format!("t{typist}-s{k}")
}

fn decnet(args: &[&str], dsn: &str) -> String {
    let bin = std::env::var("DECNET_BIN").expect("DECNET_BIN is not set: run through `./x test`");
    let out = Command::new(bin)
        .args(args)
        .env("DECNET_DSN", dsn)
        .output()
        .expect("decnet runs");
    assert!(
        out.status.success(),
        "decnet {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes every typist's sessions as shards `<dir>/<decky>/ssh/<date>.jsonl`
/// (typist i types on decky honey-i), with malformed lines mixed in and the
/// last session of typist 0 split over two dates. Returns the shard paths.
fn write_shards(dir: &Path) -> Vec<String> {
    let mut rng = Rng::new(7);
    let mut paths = Vec::new();
    for (i, t) in typists().iter().enumerate() {
        let shard_dir = dir.join(format!("honey-{i}/ssh"));
        std::fs::create_dir_all(&shard_dir).unwrap();
        let mut day1: Vec<u8> = Vec::new();
        let mut day2: Vec<u8> = Vec::new();
        for k in 0..SESSIONS_PER_TYPIST {
            let text = t.session(&sid(i, k), PLAYBOOK, &mut rng);
            if i == 0 && k == SESSIONS_PER_TYPIST - 1 {
                let lines: Vec<&str> = text.lines().collect();
                let half = lines.len() / 2;
                day1.extend(
                    lines[..half]
                        .iter()
                        .flat_map(|l| format!("{l}\n").into_bytes()),
                );
                day2.extend(
                    lines[half..]
                        .iter()
                        .flat_map(|l| format!("{l}\n").into_bytes()),
                );
            } else {
                day1.extend(text.as_bytes());
            }
            // hostile lines between sessions: not JSON, invalid UTF-8, a bad time, no sid
            day1.extend(b"this is not json\n\xff\xfe\x00binary\n{\"sid\":\"x\",\"t\":\"soon\",\"ch\":\"i\",\"d\":\"a\"}\n{\"t\":1,\"ch\":\"i\",\"d\":\"a\"}\n");
        }
        for (day, data) in [("2026-01-01", &day1), ("2026-01-02", &day2)] {
            if !data.is_empty() {
                let p = shard_dir.join(format!("{day}.jsonl"));
                std::fs::write(&p, data).unwrap();
                paths.push(p.to_string_lossy().into_owned());
            }
        }
    }
    paths
}

fn typist_of(sid: &str) -> usize {
    sid[1..sid.find('-').unwrap()].parse().unwrap()
}

#[test]
fn cli_loads_shards_and_sessions_cluster_by_typist() {
    let db = "it_sessions";
    let mut c = migrated_db(db);
    // the sessrec line that names the attacker of one session arrives with the logs
    ingest_bytes(
        &mut c,
        b"<134>1 2026-01-01T10:00:00+00:00 honey-1 sessrec - session_recorded [relay@55555 sid=\"t1-s0\" service=\"ssh\" src_ip=\"198.51.100.23\" duration_s=\"40.000\" bytes=\"900\" truncated=\"false\"]\n",
    );
    let dir = scratch_file("shards");
    let _ = std::fs::remove_dir_all(&dir);
    let paths = write_shards(&dir);
    let mut args = vec!["ingest-sessions", "--quiet"];
    args.extend(paths.iter().map(String::as_str));
    let total = TYPISTS * SESSIONS_PER_TYPIST;
    // 4 hostile lines after each session; the "x" line has a sid but a bad time
    let out = decnet(&args, &dsn_for(db));
    assert!(
        out.contains(&format!("loaded {total} of {total} sessions")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{} malformed lines skipped", 4 * total)),
        "{out}"
    );
    let again = decnet(&args, &dsn_for(db));
    assert!(
        again.contains(&format!("loaded 0 of {total} sessions"))
            && again.contains(&format!("{total} already loaded")),
        "{again}"
    );

    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.session_profiles WHERE kd_simhash IS NOT NULL"
        ),
        total as i64
    );
    // the session split over two shard files is whole: every key of the playbook plus one Enter per command
    let keys: usize = PLAYBOOK.iter().map(|cmd| cmd.chars().count() + 1).sum();
    let split = sid(0, SESSIONS_PER_TYPIST - 1);
    let r = c
        .query_one("SELECT input_events, total_keystrokes, decky, service, started_at = '2026-01-01T00:00:00Z' FROM decnet.session_profiles WHERE sid = $1", &[&split])
        .unwrap();
    assert_eq!(
        (r.get::<_, i32>(0) as usize, r.get::<_, i32>(1) as usize),
        (keys, keys)
    );
    assert_eq!(
        (
            r.get::<_, String>(2),
            r.get::<_, String>(3),
            r.get::<_, bool>(4)
        ),
        ("honey-0".into(), "ssh".into(), true)
    );
    // the attacker comes from the session_recorded line
    let ip: String = c
        .query_one(
            "SELECT host(attacker_ip) FROM decnet.session_profiles WHERE sid = 't1-s0'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ip, "198.51.100.23");
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);

    // Similar sessions (≤ 8 bits) are always the same typist, and linking them
    // gives back exactly the typists.
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    fn root(p: &mut BTreeMap<String, String>, x: &str) -> String {
        let up = p.get(x).cloned().unwrap_or_else(|| x.to_string());
        if up == x {
            up
        } else {
            let r = root(p, &up);
            p.insert(x.to_string(), r.clone());
            r
        }
    }
    let mut edges = 0;
    for i in 0..TYPISTS {
        for k in 0..SESSIONS_PER_TYPIST {
            let me = sid(i, k);
            let rows = c
                .query(
                    "SELECT similar_sid, distance FROM decnet.similar_sessions($1)",
                    &[&me],
                )
                .unwrap();
            let mut last = 0;
            for row in rows {
                let (other, d): (String, i32) = (row.get(0), row.get(1));
                assert!(
                    d <= 8 && d >= last,
                    "{me} → {other}: distance {d} after {last}"
                );
                last = d;
                assert_eq!(
                    typist_of(&other),
                    i,
                    "{me} matched {other} of another typist at distance {d}"
                );
                let (a, b) = (root(&mut parent, &me), root(&mut parent, &other));
                parent.insert(a, b);
                edges += 1;
            }
        }
    }
    assert!(edges > 0);
    for i in 0..TYPISTS {
        let roots: BTreeSet<String> = (0..SESSIONS_PER_TYPIST)
            .map(|k| root(&mut parent, &sid(i, k)))
            .collect();
        assert_eq!(roots.len(), 1, "typist {i}'s sessions form one cluster");
    }
    let roots: BTreeSet<String> = (0..TYPISTS)
        .map(|i| root(&mut parent, &sid(i, 0)))
        .collect();
    assert_eq!(roots.len(), TYPISTS, "no two typists share a cluster");

    // errors carry a SQLSTATE and a hint
    let err = c
        .query("SELECT * FROM decnet.similar_sessions('nope')", &[])
        .unwrap_err();
    let db_err = err.as_db_error().unwrap();
    assert_eq!(
        (db_err.code().code(), db_err.hint().is_some()),
        ("P0002", true)
    );
    let err = c
        .query("SELECT * FROM decnet.similar_sessions('t0-s0', 65)", &[])
        .unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "22023");
}

/// One hand-timed session: every column against values worked out by hand.
#[test]
fn profile_columns_hold_the_documented_definitions() {
    let mut c = migrated_db("it_session_columns");
    let ev = |t: f64, ch: &str, d: &str| {
        format!(
            "{{\"sid\":\"h\",\"t\":{t},\"ch\":\"{ch}\",\"d\":{}}}\n",
            serde_json::to_string(d).unwrap()
        )
    };
    // times are binary fractions, so every gap is exact
    let events = [
        ev(0.0, "o", "$ "),
        ev(1.0, "i", "l"),
        ev(1.125, "i", "s"),
        ev(1.25, "i", "\x7f"),
        ev(1.5, "i", "\r"),
        ev(1.625, "o", "file\r\n$ "),
        ev(4.5, "i", "\x1b[A"),
        ev(4.75, "i", "\t"),
        ev(5.0, "i", "cat /etc/hostname"),
        ev(7.0, "i", "\r"),
        "{broken\n".to_string(),
    ]
    .concat();
    c.execute("INSERT INTO decnet.session_recordings (sid, attacker_ip, events) VALUES ('h', '192.0.2.1', $1)", &[&events]).unwrap();
    let r = c
        .query_one(
            "SELECT pause_burst, pause_think, pause_distracted, max_pause_s, iki_mean_s, iki_p50_s, enter_latency_p50_s,
                    start_of_action_latency_s, total_keystrokes, paste_events, backspace_rate, arrow_rate, tab_rate,
                    duration_s, malformed_lines, kd_simhash IS NULL, top_bigrams::text, schema_version, input_events, output_events
             FROM decnet.session_profiles WHERE sid = 'h'",
            &[],
        )
        .unwrap();
    // input gaps: 0.125 0.125 0.25 3.0 0.25 0.25 2.0
    assert_eq!(
        (r.get::<_, i32>(0), r.get::<_, i32>(1), r.get::<_, i32>(2)),
        (2, 3, 2)
    );
    let f = |i: usize| r.get::<_, f64>(i);
    assert_eq!(f(3), 3.0, "max pause");
    assert_eq!(f(4), 0.2, "iki mean over the five gaps under 1.5 s");
    assert_eq!(f(5), 0.25, "iki p50");
    assert_eq!(f(6), (0.25 + 2.0) / 2.0, "enter latency p50");
    // actions start at t=1.0 (1.0 s after the prompt) and t=4.5 (2.875 s after the output)
    assert_eq!(f(7), (1.0 + 2.875) / 2.0, "start of action");
    // keys: l s ⌫ ⏎ ↑ ⇥ ⏎ = 7; the paste is one paste event, not keys
    assert_eq!((r.get::<_, i32>(8), r.get::<_, i32>(9)), (7, 1));
    assert_eq!((f(10), f(11), f(12)), (1.0 / 7.0, 1.0 / 7.0, 1.0 / 7.0));
    assert_eq!(f(13), 7.0);
    assert_eq!((r.get::<_, i32>(14), r.get::<_, bool>(15)), (1, true));
    // the arrow and the paste break the bigram chain
    let bigrams: serde_json::Value = serde_json::from_str(r.get(16)).unwrap();
    assert_eq!(
        bigrams,
        serde_json::json!([
            ["ls", 1, 0.125],
            ["s\u{7f}", 1, 0.125],
            ["\u{7f}\r", 1, 0.25]
        ])
    );
    assert_eq!(
        (
            r.get::<_, i32>(17),
            r.get::<_, i32>(18),
            r.get::<_, i32>(19)
        ),
        (1, 8, 2)
    );
}

/// A password typed at a no-echo prompt and another on a command line: no
/// column of any derived table holds them, nor any 3-character piece of them.
#[test]
fn no_derived_column_holds_typed_secrets() {
    let mut c = migrated_db("it_session_pii");
    // every 3-character piece has a letter that hex or a number cannot contain
    let secrets = ["Tr0uxy!orZ3", "S3cretPw!x"];
    let t = Typist {
        seed: 42,
        base: 0.12,
    };
    let mut rng = Rng::new(3);
    let text = t.session(
        "pii",
        &[
            "passwd",
            secrets[0],
            secrets[0],
            &format!("mysql -uroot -p{}", secrets[1]),
        ],
        &mut rng,
    );
    c.execute("INSERT INTO decnet.session_recordings (sid, attacker_ip, decky, service, events) VALUES ('pii', '192.0.2.7', 'honey-9', 'ssh', $1)", &[&text])
        .unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.session_profiles WHERE sid = 'pii' AND kd_simhash IS NOT NULL"), 1);
    let tables: Vec<String> = c
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'decnet' AND c.relkind IN ('r', 'v', 'm') AND c.relname NOT IN ('logs', 'session_recordings')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        tables.contains(&"session_profiles".to_string())
            && tables.contains(&"recomputed_session_profiles".to_string())
    );
    for secret in secrets {
        let chars: Vec<char> = secret.chars().collect();
        let pieces: Vec<String> = chars.windows(3).map(|w| w.iter().collect()).collect();
        for table in &tables {
            for piece in &pieces {
                let n = count(
                    &mut c,
                    &format!(
                        "SELECT count(*) FROM decnet.{table} r WHERE strpos(r::text, '{}') > 0",
                        piece.replace('\'', "''")
                    ),
                );
                assert_eq!(n, 0, "decnet.{table} holds {piece:?} of a typed secret");
            }
        }
    }
    // ... while the recording itself (like decnet.logs) does hold them, one key per event
    let recording: String = c
        .query_one(
            "SELECT events FROM decnet.session_recordings WHERE sid = 'pii'",
            &[],
        )
        .unwrap()
        .get(0);
    let typed: String = parse_shard(&recording, Some("pii"))
        .0
        .iter()
        .filter(|e| e.input)
        .map(|e| e.data.as_str())
        .collect();
    assert!(secrets.iter().all(|s| typed.contains(s)), "{typed}");
}

/// Plants 20k profiles with known SimHashes: the chunk-index query returns
/// exactly what a full scan returns, at every distance, and uses the indexes.
#[test]
fn similar_sessions_equals_a_full_scan_and_uses_the_chunk_indexes() {
    let mut c = migrated_db("it_session_mih");
    decnet_cli::bench::plant_session_profiles(&mut c, "p", 200, 100, 11).unwrap();
    c.batch_execute("ANALYZE decnet.session_profiles").unwrap();
    let probes: Vec<String> = c
        .query(
            "SELECT sid FROM decnet.session_profiles ORDER BY sid LIMIT 400",
            &[],
        )
        .unwrap()
        .iter()
        .step_by(37)
        .map(|r| r.get(0))
        .collect();
    let scans_before = index_scans(&mut c);
    for d in [0, 3, 8, 12, 19, 24] {
        for probe in &probes {
            let fast: Vec<(String, i32)> = c
                .query(
                    "SELECT similar_sid, distance FROM decnet.similar_sessions($1, $2)",
                    &[probe, &d],
                )
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let slow: Vec<(String, i32)> = c
                .query(
                    "SELECT o.sid, decnet.kd_hamming(o.kd_simhash, me.kd_simhash) AS d
                     FROM decnet.session_profiles o, decnet.session_profiles me
                     WHERE me.sid = $1 AND o.sid <> me.sid AND decnet.kd_hamming(o.kd_simhash, me.kd_simhash) <= $2
                     ORDER BY d, o.sid",
                    &[probe, &d],
                )
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            assert_eq!(fast, slow, "probe {probe} at distance {d}");
            if d == 8 {
                assert!(!fast.is_empty(), "planted neighbours within 8 bits");
            }
        }
    }
    assert!(
        index_scans(&mut c) > scans_before,
        "similar_sessions used the chunk indexes"
    );
}

fn index_scans(c: &mut Client) -> i64 {
    c.batch_execute("SELECT pg_stat_force_next_flush()")
        .unwrap();
    count(c, "SELECT coalesce(sum(idx_scan), 0)::bigint FROM pg_stat_user_indexes WHERE indexrelname LIKE 'session_profiles_chunk%'")
}
