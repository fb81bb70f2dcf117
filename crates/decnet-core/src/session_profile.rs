//! Keystroke profile of one recorded session (issue 7, seeds 000/001, spec
//! §H.1/§H.3): timing and character-class aggregates only, never typed text.
//! Every definition is written down in docs/keystrokes.md.

use crate::behavior::median;
use crate::keystroke::{digraph_simhash, Event, IKI_THINK_MAX_S};
use std::collections::HashMap;

/// Bumped whenever a definition below changes meaning, so stored profiles of
/// different versions are never compared as if they were alike.
pub const SCHEMA_VERSION: i32 = 1;
/// Pause histogram edges (seconds): burst < 0.2 ≤ think < 1.5 ≤ distracted.
pub const PAUSE_BURST_MAX_S: f64 = 0.2;
pub const PAUSE_THINK_MAX_S: f64 = IKI_THINK_MAX_S;
/// An input gap longer than this starts a new action.
pub const START_OF_ACTION_IDLE_S: f64 = 2.0;
/// An input event of at least this many characters is a paste (§H.3), unless it is one escape sequence.
pub const PASTE_MIN_CHARS: usize = 4;
pub const TOP_BIGRAMS: usize = 32;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionProfile {
    pub simhash: Option<u64>,
    pub simhash_confidence: Option<f64>,
    pub iki_mean: Option<f64>,
    pub iki_stdev: Option<f64>,
    pub iki_p50: Option<f64>,
    pub iki_p95: Option<f64>,
    pub enter_latency_p50: Option<f64>,
    pub enter_latency_p95: Option<f64>,
    pub pause_burst: i32,
    pub pause_think: i32,
    pub pause_distracted: i32,
    pub start_of_action_latency: Option<f64>,
    pub max_pause: Option<f64>,
    pub backspace_rate: Option<f64>,
    pub wkill_rate: Option<f64>,
    pub ukill_rate: Option<f64>,
    pub abort_rate: Option<f64>,
    pub eof_rate: Option<f64>,
    pub arrow_rate: Option<f64>,
    pub tab_rate: Option<f64>,
    /// `(bigram, count, mean flight in seconds)`, most frequent first, at most 32.
    pub top_bigrams: Vec<(String, i64, f64)>,
    pub total_keystrokes: i32,
    pub paste_events: i32,
    pub input_events: i32,
    pub output_events: i32,
    pub duration_s: f64,
}

/// Linear-interpolation percentile (PostgreSQL's `percentile_cont`) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// Sample standard deviation (n − 1); `None` below two values.
fn stdev(v: &[f64]) -> Option<f64> {
    if v.len() < 2 {
        return None;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    Some((v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt())
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// One escape sequence (an arrow, a function key): ESC then at most 7 more characters, no second ESC.
fn is_escape_sequence(d: &str) -> bool {
    d.starts_with('\x1b') && d.chars().count() <= 8 && d.matches('\x1b').count() == 1
}

fn is_arrow(d: &str) -> bool {
    matches!(
        d,
        "\x1b[A" | "\x1b[B" | "\x1b[C" | "\x1b[D" | "\x1bOA" | "\x1bOB" | "\x1bOC" | "\x1bOD"
    )
}

fn is_paste(d: &str) -> bool {
    d.chars().count() >= PASTE_MIN_CHARS && !is_escape_sequence(d)
}

/// Keys in a non-paste input event: an escape sequence is one key, otherwise one per character.
fn keys(d: &str) -> usize {
    if is_escape_sequence(d) {
        1
    } else {
        d.chars().count()
    }
}

pub fn profile(events: &[Event]) -> SessionProfile {
    let inputs: Vec<&Event> = events.iter().filter(|e| e.input).collect();
    let mut p = SessionProfile {
        input_events: inputs.len() as i32,
        output_events: (events.len() - inputs.len()) as i32,
        ..Default::default()
    };
    if let Some(start) = events.iter().map(|e| e.t).reduce(f64::min) {
        let end = events.iter().map(|e| e.t).fold(start, f64::max);
        p.duration_s = (end - start).max(0.0);
    }
    if let Some((h, c)) = digraph_simhash(events) {
        p.simhash = Some(h);
        p.simhash_confidence = Some(c);
    }

    // Gaps between consecutive input events (§H.3): every one lands in the pause histogram.
    let gaps: Vec<f64> = inputs
        .windows(2)
        .map(|w| (w[1].t - w[0].t).max(0.0))
        .collect();
    for &g in &gaps {
        match g {
            g if g < PAUSE_BURST_MAX_S => p.pause_burst += 1,
            g if g < PAUSE_THINK_MAX_S => p.pause_think += 1,
            _ => p.pause_distracted += 1,
        }
    }
    p.max_pause = gaps.iter().copied().reduce(f64::max);
    // Inter-key intervals are the typing gaps (< 1.5 s): one long break would otherwise swamp mean and stdev.
    let ikis = sorted(
        gaps.iter()
            .copied()
            .filter(|&g| g < PAUSE_THINK_MAX_S)
            .collect(),
    );
    if !ikis.is_empty() {
        p.iki_mean = Some(ikis.iter().sum::<f64>() / ikis.len() as f64);
    }
    p.iki_stdev = stdev(&ikis);
    p.iki_p50 = percentile(&ikis, 0.5);
    p.iki_p95 = percentile(&ikis, 0.95);

    // Enter latency: the gap from the previous input event to an Enter key (\r or \n).
    let enter = sorted(
        inputs
            .windows(2)
            .filter(|w| matches!(w[1].data.as_str(), "\r" | "\n" | "\r\n"))
            .map(|w| (w[1].t - w[0].t).max(0.0))
            .collect(),
    );
    p.enter_latency_p50 = percentile(&enter, 0.5);
    p.enter_latency_p95 = percentile(&enter, 0.95);

    // Start of action: the first key, and every key after an input gap over 2 s;
    // its latency is measured from the last event of either channel before it
    // (usually the end of the previous command's output, or the session start).
    let mut starts = Vec::new();
    let mut last_any: Option<f64> = None;
    let mut last_input: Option<f64> = None;
    for e in events {
        if e.input {
            let new_action = last_input.is_none_or(|li| e.t - li > START_OF_ACTION_IDLE_S);
            if new_action {
                if let Some(la) = last_any {
                    starts.push((e.t - la).max(0.0));
                }
            }
            last_input = Some(e.t);
        }
        last_any = Some(e.t);
    }
    if !starts.is_empty() {
        p.start_of_action_latency = Some(median(&mut starts));
    }

    // Key counts and control-key rates over typed (non-paste) input.
    let (mut bs, mut wk, mut uk, mut ab, mut eof, mut arrow, mut tab) = (0, 0, 0, 0, 0, 0, 0);
    for e in &inputs {
        if is_paste(&e.data) {
            p.paste_events += 1;
            continue;
        }
        p.total_keystrokes += keys(&e.data) as i32;
        if is_arrow(&e.data) {
            arrow += 1;
        } else if !is_escape_sequence(&e.data) {
            for c in e.data.chars() {
                match c {
                    '\x7f' | '\x08' => bs += 1,
                    '\x17' => wk += 1,
                    '\x15' => uk += 1,
                    '\x03' => ab += 1,
                    '\x04' => eof += 1,
                    '\t' => tab += 1,
                    _ => {}
                }
            }
        }
    }
    let rate = |n: i32| (p.total_keystrokes > 0).then(|| n as f64 / p.total_keystrokes as f64);
    (p.backspace_rate, p.wkill_rate, p.ukill_rate) = (rate(bs), rate(wk), rate(uk));
    (p.abort_rate, p.eof_rate, p.arrow_rate, p.tab_rate) =
        (rate(ab), rate(eof), rate(arrow), rate(tab));

    p.top_bigrams = top_bigrams(&inputs);
    p
}

/// Bigrams of consecutive single-character input events with a flight in
/// (0, 1.5] s, the same chain as the SimHash (§H.4): count and mean flight.
fn top_bigrams(inputs: &[&Event]) -> Vec<(String, i64, f64)> {
    let mut flights: HashMap<String, (i64, f64)> = HashMap::new();
    let mut prev: Option<(f64, char)> = None;
    for e in inputs {
        let mut chars = e.data.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            prev = None;
            continue;
        };
        if let Some((pt, pc)) = prev {
            let dt = e.t - pt;
            if 0.0 < dt && dt <= IKI_THINK_MAX_S {
                let f = flights.entry(format!("{pc}{c}")).or_default();
                f.0 += 1;
                f.1 += dt;
            }
        }
        prev = Some((e.t, c));
    }
    let mut top: Vec<(String, i64, f64)> = flights
        .into_iter()
        .map(|(b, (n, sum))| (b, n, sum / n as f64))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(TOP_BIGRAMS);
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: f64, input: bool, d: &str) -> Event {
        Event {
            t,
            input,
            data: d.into(),
        }
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn percentile_interpolates_like_percentile_cont() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[3.0], 0.95), Some(3.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert!(close(percentile(&[0.0, 10.0], 0.95), 9.5));
    }

    #[test]
    fn pauses_iki_and_enter_latency() {
        // prompt output, then "ls\r" typed, a 3 s break, "pwd\r"
        let events = [
            ev(0.0, false, "$ "),
            ev(1.0, true, "l"),
            ev(1.1, true, "s"),
            ev(1.4, true, "\r"),
            ev(1.5, false, "file\r\n$ "),
            ev(4.5, true, "p"),
            ev(4.6, true, "w"),
            ev(4.7, true, "d"),
            ev(6.5, true, "\r"),
        ];
        let p = profile(&events);
        // gaps: 0.1 0.3 3.1 0.1 0.1 1.8
        assert_eq!(
            (p.pause_burst, p.pause_think, p.pause_distracted),
            (3, 1, 2)
        );
        assert!(close(p.max_pause, 3.1));
        assert!(close(p.iki_mean, 0.15)); // 0.1 0.1 0.1 0.3
        assert!(close(p.iki_p50, 0.1));
        assert!(close(p.enter_latency_p50, (0.3 + 1.8) / 2.0));
        // actions: the first key (1.0 s after the prompt) and "p" (3.0 s after the output)
        assert!(close(p.start_of_action_latency, 2.0));
        assert_eq!(
            (p.total_keystrokes, p.input_events, p.output_events),
            (7, 7, 2)
        );
        assert!(close(Some(p.duration_s), 6.5));
        assert_eq!(p.simhash, None); // far too few digraphs
        assert_eq!(p.top_bigrams.len(), 4); // ls s\r pw wd (d\r is 1.8 s, over 1.5)
        assert_eq!(p.top_bigrams[0].1, 1);
    }

    #[test]
    fn control_keys_arrows_and_pastes() {
        let events = [
            ev(0.0, true, "a"),
            ev(0.1, true, "\x7f"),
            ev(0.2, true, "\x1b[A"),
            ev(0.3, true, "\t"),
            ev(0.4, true, "\x17"),
            ev(0.5, true, "\x03"),
            ev(0.6, true, "wget http://x/y.sh"),
            ev(0.7, true, "\x04"),
        ];
        let p = profile(&events);
        assert_eq!((p.total_keystrokes, p.paste_events), (7, 1));
        for r in [
            p.backspace_rate,
            p.arrow_rate,
            p.tab_rate,
            p.wkill_rate,
            p.abort_rate,
            p.eof_rate,
        ] {
            assert!(close(r, 1.0 / 7.0));
        }
        assert!(close(p.ukill_rate, 0.0));
    }

    #[test]
    fn empty_session_has_no_timing() {
        let p = profile(&[]);
        assert_eq!(
            (
                p.iki_mean,
                p.max_pause,
                p.backspace_rate,
                p.start_of_action_latency
            ),
            (None, None, None, None)
        );
        assert_eq!((p.total_keystrokes, p.duration_s), (0, 0.0));
    }

    #[test]
    fn top_bigrams_rank_by_count_then_text_and_cap_at_32() {
        let mut events = Vec::new();
        let mut t = 0.0;
        for c in "abababcd"
            .chars()
            .chain(('A'..='z').filter(char::is_ascii_alphabetic))
        {
            events.push(ev(t, true, &c.to_string()));
            t += 0.1;
        }
        let top = profile(&events).top_bigrams;
        assert_eq!(top.len(), TOP_BIGRAMS);
        assert_eq!((top[0].0.as_str(), top[0].1), ("ab", 4)); // three in "abababcd", one in the alphabet
        assert_eq!((top[1].0.as_str(), top[1].1), ("ba", 2));
        assert!(close(Some(top[0].2), 0.1));
    }
}
