//! Keystroke dynamics: the digraph SimHash of a recorded session (spec §H.2,
//! §H.4, §H.5), bit-exact with DECNET's `motor.digraph_simhash`.

use crate::behavior::median;
use md5::{Digest, Md5};
use serde_json::Value;
use std::collections::HashMap;

/// Flights longer than this (seconds) are thinking, not typing.
pub const IKI_THINK_MAX_S: f64 = 1.5;
pub const MIN_DIGRAPHS: usize = 8;
pub const MIN_SAMPLES: usize = 20;
const BUCKET_EDGES: [f64; 6] = [0.03, 0.06, 0.12, 0.25, 0.5, 1.0];

/// One event of a session recording: seconds since the start, channel `i`/`o`, data.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub t: f64,
    pub input: bool,
    pub data: String,
}

/// Reads a sessrec JSONL shard (§H.2): the header and every malformed line are
/// skipped (and counted); `r` (resize) events are dropped. Only events of
/// `sid` are kept when it is given.
pub fn parse_shard(text: &str, sid: Option<&str>) -> (Vec<Event>, usize) {
    let mut events = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse_event(line, sid) {
            Some(Some(e)) => events.push(e),
            Some(None) => {}
            None => skipped += 1,
        }
    }
    (events, skipped)
}

/// `None`: malformed; `Some(None)`: well-formed but not an input/output event of this session.
fn parse_event(line: &str, sid: Option<&str>) -> Option<Option<Event>> {
    let v: Value = serde_json::from_str(line).ok()?;
    let obj = v.as_object()?;
    if obj.contains_key("hdr") {
        return Some(None);
    }
    if let Some(want) = sid {
        if obj.get("sid").and_then(Value::as_str) != Some(want) {
            return Some(None);
        }
    }
    let t = obj.get("t")?.as_f64()?;
    let input = match obj.get("ch")?.as_str()? {
        "i" => true,
        "o" => false,
        "r" => return Some(None),
        _ => return None,
    };
    let data = match obj.get("d") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return None,
    };
    Some(Some(Event { t, input, data }))
}

/// The lines of one session taken out of a shard file.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardSession {
    pub sid: String,
    /// `hdr.timestamp` (Unix seconds) when the header was seen.
    pub started_at_unix: Option<f64>,
    /// The session's lines (header included), newline-terminated, in file order.
    pub lines: String,
    pub events: usize,
}

/// Splits a shard file into its sessions, in order of first appearance. A line
/// that is not a JSON object with a string `sid`, or a malformed event, is
/// counted in the second value and dropped.
pub fn split_shard(text: &str) -> (Vec<ShardSession>, usize) {
    let mut sessions: Vec<ShardSession> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut malformed = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let sid = serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|v| v.get("sid").and_then(Value::as_str).map(str::to_owned));
        let (Some(sid), Some(parsed)) = (sid, parse_event(line, None)) else {
            malformed += 1;
            continue;
        };
        let i = *index.entry(sid.clone()).or_insert_with(|| {
            sessions.push(ShardSession {
                sid,
                started_at_unix: None,
                lines: String::new(),
                events: 0,
            });
            sessions.len() - 1
        });
        let s = &mut sessions[i];
        if parsed.is_none() {
            let ts = serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v.pointer("/hdr/timestamp").and_then(Value::as_f64));
            s.started_at_unix = s.started_at_unix.or(ts);
        } else {
            s.events += 1;
        }
        s.lines.push_str(line);
        s.lines.push('\n');
    }
    (sessions, malformed)
}

/// Width of one multi-index-hashing chunk: a SimHash is four 16-bit chunks.
pub const CHUNK_BITS: u32 = 16;

/// Every 16-bit value within `radius` differing bits of `v`, `v` first. Two
/// hashes within distance d share a chunk within d / 4 bits (pigeonhole), so
/// probing these values per chunk finds every candidate.
pub fn chunk_neighbors(v: u16, radius: u32) -> Vec<u16> {
    fn flip(v: u16, from: u32, left: u32, out: &mut Vec<u16>) {
        if left == 0 {
            return;
        }
        for bit in from..CHUNK_BITS {
            let w = v ^ (1 << bit);
            out.push(w);
            flip(w, bit + 1, left - 1, out);
        }
    }
    let mut out = vec![v];
    flip(v, 0, radius.min(CHUNK_BITS), &mut out);
    out
}

/// MD5-based 64-bit SimHash of weighted tokens; ties and empty input give 0 bits.
pub fn simhash64<'a>(tokens: impl IntoIterator<Item = (&'a str, i64)>) -> u64 {
    let mut bits = [0i64; 64];
    for (tok, w) in tokens {
        if w <= 0 {
            continue;
        }
        let digest = Md5::digest(tok.as_bytes());
        let h = u64::from_be_bytes(digest[..8].try_into().expect("md5 has 16 bytes"));
        for (i, b) in bits.iter_mut().enumerate() {
            if (h >> i) & 1 == 1 {
                *b += w;
            } else {
                *b -= w;
            }
        }
    }
    bits.iter().enumerate().fold(
        0u64,
        |acc, (i, &b)| if b > 0 { acc | (1 << i) } else { acc },
    )
}

pub fn hamming64(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// Strict per-bit majority of a set of SimHashes (ties give 0); `None` for none.
pub fn centroid(hashes: &[u64]) -> Option<u64> {
    if hashes.is_empty() {
        return None;
    }
    let n = hashes.len();
    Some((0..64).fold(0u64, |acc, i| {
        let set = hashes.iter().filter(|&&h| (h >> i) & 1 == 1).count();
        if set * 2 > n {
            acc | (1 << i)
        } else {
            acc
        }
    }))
}

fn bucket(s: f64) -> usize {
    BUCKET_EDGES
        .iter()
        .position(|&e| s < e)
        .unwrap_or(BUCKET_EDGES.len())
}

/// The digraph SimHash of a session's input events and its confidence, or
/// `None` below 8 distinct digraphs or 20 flight samples (§H.4).
pub fn digraph_simhash(events: &[Event]) -> Option<(u64, f64)> {
    let mut flights: HashMap<String, Vec<f64>> = HashMap::new();
    let mut prev: Option<(f64, char)> = None;
    for e in events.iter().filter(|e| e.input) {
        let mut chars = e.data.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            prev = None; // a paste, an escape sequence or an empty event breaks the chain
            continue;
        };
        if let Some((pt, pc)) = prev {
            let dt = e.t - pt;
            if 0.0 < dt && dt <= IKI_THINK_MAX_S {
                flights.entry(format!("{pc}{c}")).or_default().push(dt);
            }
        }
        prev = Some((e.t, c));
    }
    let samples: usize = flights.values().map(Vec::len).sum();
    if flights.len() < MIN_DIGRAPHS || samples < MIN_SAMPLES {
        return None;
    }
    let tokens: Vec<(String, i64)> = flights
        .iter_mut()
        .map(|(digraph, dts)| {
            let n = dts.len() as i64;
            (format!("{digraph}:{}", bucket(median(dts))), n)
        })
        .collect();
    let confidence = (0.40 + 0.05 * flights.len() as f64).min(0.95);
    Some((
        simhash64(tokens.iter().map(|(t, w)| (t.as_str(), *w))),
        confidence,
    ))
}

#[cfg(test)]
mod tests {
    //! Golden values of spec §H.4/§H.5 and decnet-cases.md §7.1–7.2.
    use super::*;

    #[test]
    fn simhash_golden_values() {
        assert_eq!(
            simhash64([("th", 3), ("he", 2), ("er", 1)]),
            0x0f9c0f892402ce45
        );
        assert_eq!(simhash64([("a", 1)]), 0x0cc175b9c0f1b6a8);
        assert_eq!(
            simhash64([("x", 1), ("y", 2), ("z", 5)]),
            0xfbade9e36a3f36d3
        );
        assert_eq!(simhash64(std::iter::empty()), 0);
        assert_eq!(simhash64([("a", 0), ("b", -3)]), 0);
    }

    /// One char per event from t = 0, each `dt` after the previous (t accumulates: t += dt).
    fn typed(phrase: &str, dt: f64) -> Vec<Event> {
        let mut t = 0.0;
        phrase
            .chars()
            .map(|c| {
                let e = Event {
                    t,
                    input: true,
                    data: c.to_string(),
                };
                t += dt;
                e
            })
            .collect()
    }

    const PHRASE: &str = "ls -la /etc; cat /etc/passwd; whoami; uname -a; netstat -tlnp\r";

    #[test]
    fn digraph_simhash_golden_values() {
        for (dt, want) in [
            (0.05, 0x79cee850589fb992u64),
            (0.12, 0xf9d670bc8189924c),
            (0.45, 0xd7ff8d5f23619c6d),
        ] {
            let (h, conf) = digraph_simhash(&typed(PHRASE, dt)).expect("enough digraphs");
            assert_eq!(h, want, "dt {dt}: {h:016x}");
            assert_eq!(conf, 0.95);
        }
    }

    #[test]
    fn shard_times_rounded_to_microseconds_change_the_bucket() {
        // sessrec writes t with %.6f: the same phrase at 0.12 s lands differently (§H.4)
        let text: String = PHRASE
            .chars()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "{{\"sid\":\"s1\",\"t\":{:.6},\"ch\":\"i\",\"d\":{}}}\n",
                    i as f64 * 0.12,
                    serde_json::to_string(&c.to_string()).unwrap()
                )
            })
            .collect();
        let (events, skipped) = parse_shard(&text, Some("s1"));
        assert_eq!((events.len(), skipped), (PHRASE.chars().count(), 0));
        assert_eq!(digraph_simhash(&events).unwrap().0, 0x73d5f08d818991dc);
    }

    #[test]
    fn shard_times_at_full_precision_read_back_exactly() {
        // Python's json.dumps writes the shortest text that reads back as the
        // same float (17 significant digits for 0.12 * 5 accumulated); Rust's
        // `{}` writes the same. Read back one unit in the last place off, the
        // phrase at 0.12 s gives another SimHash than DECNET's.
        let events = typed(PHRASE, 0.12);
        assert!(
            events
                .iter()
                .any(|e| e.t.to_string().trim_start_matches("0.").len() >= 16),
            "17-digit times"
        );
        let text: String = events
            .iter()
            .map(|e| {
                format!(
                    "{{\"sid\":\"s1\",\"t\":{},\"ch\":\"i\",\"d\":{}}}\n",
                    e.t,
                    serde_json::to_string(&e.data).unwrap()
                )
            })
            .collect();
        let (read, skipped) = parse_shard(&text, Some("s1"));
        assert_eq!(skipped, 0);
        assert!(
            read.iter()
                .zip(&events)
                .all(|(a, b)| a.t.to_bits() == b.t.to_bits()),
            "every time bit-exact"
        );
        assert_eq!(digraph_simhash(&read).unwrap().0, 0xf9d670bc8189924c);
    }

    #[test]
    fn shard_times_that_are_no_finite_number_are_skipped() {
        // Python reads true as 1, and NaN and 1e400 as floats (correction #56)
        for t in ["true", "NaN", "Infinity", "-1e400", "1e400", "\"1.5\""] {
            let (events, skipped) = parse_shard(
                &format!("{{\"sid\":\"s\",\"t\":{t},\"ch\":\"i\",\"d\":\"a\"}}"),
                None,
            );
            assert_eq!((events.len(), skipped), (0, 1), "t = {t}");
        }
    }

    #[test]
    fn thresholds_and_chain_breaks() {
        assert_eq!(digraph_simhash(&typed("abcdefg", 0.1)), None); // 6 digraphs
        let short = typed("abcdefghij", 0.1); // 9 digraphs but 9 samples
        assert_eq!(digraph_simhash(&short), None);
        // flights over 1.5 s or of 0 s are dropped, but still move the chain on
        let mut slow = typed(PHRASE, 2.0);
        assert_eq!(digraph_simhash(&slow), None);
        slow.insert(
            3,
            Event {
                t: 5.0,
                input: true,
                data: "paste".into(),
            },
        );
        assert_eq!(digraph_simhash(&slow), None);
    }

    #[test]
    fn shard_parsing_skips_and_counts_bad_lines() {
        let text = "{\"sid\":\"s\",\"hdr\":{\"version\":2}}\n{\"sid\":\"s\",\"t\":0.5,\"ch\":\"i\",\"d\":\"l\"}\nnot json\n{\"sid\":\"s\",\"t\":\"x\",\"ch\":\"i\"}\n{\"sid\":\"s\",\"t\":1,\"ch\":\"r\",\"d\":\"80x24\"}\n{\"sid\":\"other\",\"t\":1,\"ch\":\"i\",\"d\":\"x\"}\n{\"sid\":\"s\",\"t\":1.0,\"ch\":\"o\"}\n";
        let (events, skipped) = parse_shard(text, Some("s"));
        assert_eq!(skipped, 2);
        assert_eq!(
            events,
            vec![
                Event {
                    t: 0.5,
                    input: true,
                    data: "l".into()
                },
                Event {
                    t: 1.0,
                    input: false,
                    data: String::new()
                }
            ]
        );
    }

    #[test]
    fn cases_7_1_similarity_properties() {
        let base: Vec<(String, i64)> = (0..40).map(|i| (format!("dg{i}"), (i % 5) + 1)).collect();
        let h = |v: &[(String, i64)]| simhash64(v.iter().map(|(t, w)| (t.as_str(), *w)));
        assert_eq!(hamming64(h(&base), h(&base.clone())), 0);
        let mut more = base.clone();
        more.push(("NEW_PAIR".into(), 1));
        assert!(hamming64(h(&base), h(&more)) <= 8);
        let a: Vec<(String, i64)> = (0..30).map(|i| (format!("a{i}"), 2)).collect();
        let b: Vec<(String, i64)> = (0..30).map(|i| (format!("b{i}"), 2)).collect();
        assert!(hamming64(h(&a), h(&b)) >= 20);
    }

    #[test]
    fn cases_3_7_sessions() {
        let same = digraph_simhash(&typed(PHRASE, 0.12)).unwrap().0;
        assert_eq!(
            hamming64(same, digraph_simhash(&typed(PHRASE, 0.12)).unwrap().0),
            0
        );
        let fast = digraph_simhash(&typed(PHRASE, 0.05)).unwrap().0;
        let slow = digraph_simhash(&typed(PHRASE, 0.45)).unwrap().0;
        assert!(hamming64(fast, slow) > 0);
        let pasted: Vec<Event> = (0..10)
            .map(|i| Event {
                t: i as f64,
                input: true,
                data: "sudo apt-get update".into(),
            })
            .collect();
        assert_eq!(digraph_simhash(&pasted), None);
        assert_eq!(digraph_simhash(&typed("ls\r", 0.1)), None);
        let (conf_ok, conf) = (digraph_simhash(&typed(PHRASE, 0.12)).unwrap().1, 0.95);
        assert!(conf_ok > 0.0 && conf_ok <= conf);
    }

    #[test]
    fn cases_7_2_centroid() {
        let ones = u64::MAX;
        assert_eq!(
            centroid(&[0xDEAD_BEEF_CAFE_F00D]),
            Some(0xDEAD_BEEF_CAFE_F00D)
        );
        assert_eq!(centroid(&[ones, ones, 0]), Some(ones));
        assert_eq!(centroid(&[ones, 0]), Some(0));
        assert_eq!(
            u64::from_be_bytes(0xDEAD_BEEF_CAFE_F00Du64.to_be_bytes()),
            0xDEAD_BEEF_CAFE_F00D
        );
    }

    #[test]
    fn hamming_and_centroid() {
        assert_eq!(hamming64(0, u64::MAX), 64);
        assert_eq!(hamming64(0b1011, 0b0001), 2);
        assert_eq!(centroid(&[]), None);
        assert_eq!(centroid(&[0b110, 0b011, 0b010]), Some(0b010));
        assert_eq!(centroid(&[0b1, 0b0]), Some(0)); // a tie is 0
        assert_eq!(centroid(&[0xdead_beef]), Some(0xdead_beef));
    }

    #[test]
    fn split_shard_groups_sessions_and_counts_bad_lines() {
        let text = "{\"sid\":\"a\",\"hdr\":{\"version\":2,\"timestamp\":1700000000}}\n{\"sid\":\"a\",\"t\":0.1,\"ch\":\"i\",\"d\":\"l\"}\n{\"sid\":\"b\",\"t\":0.2,\"ch\":\"o\",\"d\":\"$\"}\n{\"t\":1,\"ch\":\"i\"}\n{\"sid\":\"a\",\"t\":\"bad\",\"ch\":\"i\"}\n\u{fffd}garbage\n{\"sid\":\"a\",\"t\":0.3,\"ch\":\"i\",\"d\":\"s\"}\n";
        let (sessions, malformed) = split_shard(text);
        assert_eq!(malformed, 3);
        assert_eq!(sessions.len(), 2);
        assert_eq!(
            (
                sessions[0].sid.as_str(),
                sessions[0].events,
                sessions[0].started_at_unix
            ),
            ("a", 2, Some(1.7e9))
        );
        assert_eq!(sessions[0].lines.lines().count(), 3);
        assert_eq!(
            (
                sessions[1].sid.as_str(),
                sessions[1].events,
                sessions[1].started_at_unix
            ),
            ("b", 1, None)
        );
    }

    #[test]
    fn chunk_neighbors_cover_the_ball() {
        assert_eq!(chunk_neighbors(7, 0), vec![7]);
        for (r, n) in [(1, 17), (2, 137), (3, 697)] {
            let mut v = chunk_neighbors(0xa5a5, r);
            assert_eq!(v.len(), n);
            assert!(v.iter().all(|&w| (w ^ 0xa5a5).count_ones() <= r));
            v.sort();
            v.dedup();
            assert_eq!(v.len(), n, "no duplicates");
        }
    }
}
