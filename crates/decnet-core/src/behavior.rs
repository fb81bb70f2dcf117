//! Behaviour primitives (spec §D.7, §D.8, §D.9 cadence table, §G.1, §G.2 TTL):
//! pure functions the behaviour rollup (issue 5) is built from.

/// Python's `round(x, digits)`: correctly rounded, ties to even, on the exact
/// binary value (`round(2.675, 2) == 2.67`). Rust's decimal formatting rounds
/// the same way.
pub fn py_round(x: f64, digits: usize) -> f64 {
    format!("{x:.digits$}")
        .parse()
        .expect("formatted float parses")
}

/// Python's `statistics.median`: the middle value, or the mean of the middle two. Sorts `v`.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// §G.1: IP-ID / ISN sequence class of samples in arrival order.
pub fn seq_class(samples: &[i64]) -> &'static str {
    if samples.len() < 4 {
        "unknown"
    } else if samples.iter().all(|&s| s == 0) {
        "zero"
    } else if samples.iter().all(|&s| s == samples[0]) {
        "constant"
    } else if samples.windows(2).all(|w| {
        let d = w[1] - w[0];
        0 < d && d <= 0x1000
    }) {
        "incremental"
    } else {
        "random"
    }
}

/// §G.2: the initial TTL a sender used, from the TTL seen.
pub fn initial_ttl(ttl: i32) -> i32 {
    [32, 64, 128, 255]
        .into_iter()
        .find(|&b| ttl <= b)
        .unwrap_or(255)
}

pub fn hop_distance(ttl: i32) -> i32 {
    (initial_ttl(ttl) - ttl).clamp(0, 64)
}

/// §D.7 timing statistics, rounded as DECNET rounds them.
#[derive(Debug, Clone, PartialEq)]
pub struct TimingStats {
    pub event_count: usize,
    pub duration_s: f64,
    pub mean_iat_s: Option<f64>,
    pub median_iat_s: Option<f64>,
    pub stdev_iat_s: Option<f64>,
    pub min_iat_s: Option<f64>,
    pub max_iat_s: Option<f64>,
    pub cv: Option<f64>,
}

/// From event times in microseconds (any order).
pub fn timing_stats(times_us: &[i64]) -> TimingStats {
    let mut t = times_us.to_vec();
    t.sort_unstable();
    let n = t.len();
    let duration_s = if n == 0 {
        0.0
    } else {
        py_round((t[n - 1] - t[0]) as f64 / 1e6, 3)
    };
    let empty = TimingStats {
        event_count: n,
        duration_s,
        mean_iat_s: None,
        median_iat_s: None,
        stdev_iat_s: None,
        min_iat_s: None,
        max_iat_s: None,
        cv: None,
    };
    if n < 2 {
        return empty;
    }
    let mut iats: Vec<f64> = t.windows(2).map(|w| (w[1] - w[0]) as f64 / 1e6).collect();
    let mean = iats.iter().sum::<f64>() / iats.len() as f64;
    let stdev = if iats.len() > 1 {
        (iats.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / iats.len() as f64).sqrt()
    } else {
        0.0
    };
    let median = median(&mut iats); // sorts iats
    let k = iats.len();
    TimingStats {
        mean_iat_s: Some(py_round(mean, 3)),
        median_iat_s: Some(py_round(median, 3)),
        stdev_iat_s: Some(py_round(stdev, 3)),
        min_iat_s: Some(py_round(iats[0], 3)),
        max_iat_s: Some(py_round(iats[k - 1], 3)),
        cv: (mean > 0.0).then(|| py_round(stdev / mean, 4)),
        ..empty
    }
}

/// §D.8 in the code's order, on the rounded mean and cv. (Which services count
/// is the caller's choice; decnet-pg leaves the sensors out, correction #20.)
pub fn behavior_class(
    event_count: usize,
    mean_iat_s: Option<f64>,
    cv: Option<f64>,
    services: usize,
) -> &'static str {
    let n = event_count;
    let Some(mean) = mean_iat_s else {
        return "unknown";
    };
    if n < 3 {
        "unknown"
    } else if services >= 2 && mean >= 10.0 && n >= 4 {
        "slow_scan"
    } else if (services >= 3 && mean < 10.0) || (services >= 2 && mean < 2.0) {
        "scanning"
    } else if services == 1 && n >= 8 && mean < 5.0 && cv.is_some_and(|c| c < 0.6) {
        "brute_force"
    } else if cv.is_some_and(|c| c < 0.35) && mean >= 5.0 && n >= 4 {
        "beaconing"
    } else if cv.is_some_and(|c| c >= 0.5) && mean < 5.0 && n >= 6 {
        "interactive"
    } else {
        "mixed"
    }
}

/// §D.9 C2 cadence profiles matching (mean, cv), in table order.
pub fn cadence_tools(mean_iat_s: Option<f64>, cv: Option<f64>) -> Vec<&'static str> {
    const TABLE: [(&str, f64, f64, f64, f64); 4] = [
        ("cobalt_strike", 60.0, 8.0, 0.20, 0.05),
        ("sliver", 60.0, 10.0, 0.30, 0.08),
        ("havoc", 45.0, 8.0, 0.10, 0.03),
        ("mythic", 30.0, 6.0, 0.15, 0.03),
    ];
    let (Some(mean), Some(cv)) = (mean_iat_s, cv) else {
        return Vec::new();
    };
    TABLE
        .iter()
        .filter(|(_, interval, tol, jitter, jtol)| {
            (mean - interval).abs() <= *tol && (cv - jitter).abs() <= *jtol
        })
        .map(|(name, ..)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    //! decnet-cases.md §6.1 (seq_class) and §3.1 (timing, classification, cadence).
    use super::*;

    #[test]
    fn python_rounding() {
        assert_eq!(py_round(2.675, 2), 2.67);
        assert_eq!(py_round(0.0005, 3), 0.001); // 0.0005 is slightly above half in binary
        assert_eq!(py_round(0.125, 2), 0.12); // an exact tie goes to even
        assert_eq!(py_round(1.23456, 4), 1.2346);
    }

    #[test]
    fn cases_6_1_seq_class() {
        assert_eq!(seq_class(&[]), "unknown");
        assert_eq!(seq_class(&[10, 20, 30]), "unknown");
        assert_eq!(seq_class(&[0, 0, 0, 0, 0]), "zero");
        assert_eq!(seq_class(&[0; 8]), "zero");
        assert_eq!(seq_class(&[42, 42, 42, 42]), "constant");
        assert_ne!(seq_class(&[42, 42, 43, 42]), "constant");
        assert_eq!(seq_class(&[100, 101, 102, 103, 104]), "incremental");
        assert_eq!(seq_class(&[1000, 1003, 1010, 1012, 1015]), "incremental");
        assert_ne!(seq_class(&[500, 400, 300, 200]), "incremental");
        assert_eq!(seq_class(&[0, 0x2000, 0x4000, 0x6000]), "random");
        assert_eq!(
            seq_class(&[12345, 0xABCD, 0x1234, 0xFFFF, 0x00FF, 0x7F7F]),
            "random"
        );
        assert_eq!(seq_class(&[42, 42, 42, 99]), "random");
        assert_eq!(seq_class(&[65533, 65534, 65535, 3]), "random"); // wrap-around
    }

    #[test]
    fn initial_ttl_buckets() {
        assert_eq!(
            [0, 32, 33, 52, 64, 65, 119, 128, 129, 255, 300].map(initial_ttl),
            [32, 32, 64, 64, 64, 128, 128, 128, 255, 255, 255]
        );
        assert_eq!(
            (hop_distance(52), hop_distance(119), hop_distance(300)),
            (12, 9, 0)
        );
    }

    /// First event at 0, then interval + jitter for odd i and interval - jitter for even i.
    fn beacon(count: usize, interval: f64, jitter: f64) -> Vec<i64> {
        let mut t = 0.0;
        (0..count)
            .map(|i| {
                if i > 0 {
                    t += if i % 2 == 1 {
                        interval + jitter
                    } else {
                        interval - jitter
                    };
                }
                (t * 1e6).round() as i64
            })
            .collect()
    }

    fn every(count: usize, step: f64) -> Vec<i64> {
        (0..count)
            .map(|i| (i as f64 * step * 1e6).round() as i64)
            .collect()
    }

    fn class(times: &[i64], services: usize) -> &'static str {
        let s = timing_stats(times);
        behavior_class(s.event_count, s.mean_iat_s, s.cv, services)
    }

    #[test]
    fn cases_3_1_timing() {
        let s = timing_stats(&[]);
        assert_eq!((s.event_count, s.mean_iat_s, s.cv), (0, None, None));
        let s = timing_stats(&[5]);
        assert_eq!((s.event_count, s.duration_s, s.mean_iat_s), (1, 0.0, None));
        let s = timing_stats(&beacon(10, 60.0, 0.0));
        assert_eq!(
            (s.event_count, s.mean_iat_s, s.cv, s.stdev_iat_s),
            (10, Some(60.0), Some(0.0), Some(0.0))
        );
        let s = timing_stats(&beacon(20, 60.0, 12.0));
        assert!((s.mean_iat_s.unwrap() - 60.0).abs() < 2.0);
        assert!(s.cv.unwrap() > 0.10 && s.cv.unwrap() < 0.50);
        // identical timestamps: mean 0, cv None
        let s = timing_stats(&[7, 7, 7]);
        assert_eq!((s.mean_iat_s, s.cv), (Some(0.0), None));
    }

    #[test]
    fn cases_3_1_classification() {
        assert_eq!(class(&beacon(2, 60.0, 0.0), 1), "unknown");
        assert_eq!(class(&beacon(10, 60.0, 3.0), 1), "beaconing");
        let offsets = [0.0, 0.2, 0.5, 1.0, 5.0, 5.1, 5.3, 10.0, 10.1, 10.2, 12.0];
        assert_eq!(class(&offsets.map(|o| (o * 1e6) as i64), 1), "interactive");
        assert_eq!(class(&every(10, 0.2), 5), "scanning");
        assert_eq!(class(&every(8, 0.5), 1), "brute_force");
        assert_eq!(class(&every(10, 2.0), 1), "brute_force");
        assert_eq!(class(&every(6, 15.0), 3), "slow_scan");
        assert!(["mixed", "interactive"].contains(&class(&beacon(6, 20.0, 10.0), 1)));
        // correction #20 in action: a single fast service is never scanning
        assert_ne!(class(&every(10, 0.5), 1), "scanning");
        assert_eq!(class(&[7, 7, 7], 1), "mixed");
    }

    #[test]
    fn cases_3_1_cadence() {
        assert!(cadence_tools(Some(60.0), Some(0.20)).contains(&"cobalt_strike"));
        assert_eq!(cadence_tools(Some(45.0), Some(0.10)), vec!["havoc"]);
        assert_eq!(cadence_tools(Some(30.0), Some(0.15)), vec!["mythic"]);
        assert!(cadence_tools(Some(5.0), Some(0.10)).is_empty());
        assert!(cadence_tools(None, None).is_empty());
        assert!(cadence_tools(Some(60.0), None).is_empty());
        assert_eq!(
            cadence_tools(Some(60.0), Some(0.25)),
            vec!["cobalt_strike", "sliver"]
        );
    }
}

// ---- per-attacker details over its events (spec §D.9 headers, §D.10, §D.11) ----

use crate::os_signature::{first_match, Observation, Signature};
use crate::timestamp::iso_utc;
use serde_json::{json, Map, Value};

/// Lines of one attacker a rollup reads: its latest this many by log id. An
/// attacker can have millions of lines, and every one in one value exceeded
/// jsonb's 1 GB limit and took gigabytes per attempt (issue 15). Behaviour of
/// a heavier attacker is computed over its latest lines, its event count over
/// all of them.
pub const ROLLUP_LINES_MAX: usize = 20_000;

/// One stored line of the attacker, in ingestion (log id) order.
pub struct EventRow<'a> {
    pub ts_us: Option<i64>,
    pub event_type: &'a str,
    pub service: &'a str,
    pub fields: &'a Map<String, Value>,
}

impl EventRow<'_> {
    fn get(&self, k: &str) -> Option<&str> {
        self.fields
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Details {
    pub os_guess: Option<String>,
    pub hop_distance: Option<i64>,
    pub tcp_fingerprint: Value,
    pub retransmit_count: i64,
    pub kex_order_raw: Vec<String>,
    pub ssh_client_banners: Vec<String>,
    pub phase_sequence: Value,
    pub header_tools: Vec<&'static str>,
}

/// §D.9 header signatures: (tool, header, pattern); `^` means a prefix match, else a substring, both case-insensitive.
const HEADER_TOOLS: [(&str, &str, &str); 14] = [
    ("nmap", "user-agent", "Nmap Scripting Engine"),
    ("gophish", "x-mailer", "gophish"),
    ("nikto", "user-agent", "Nikto"),
    ("sqlmap", "user-agent", "sqlmap"),
    ("nuclei", "user-agent", "Nuclei"),
    ("masscan", "user-agent", "masscan"),
    ("zgrab", "user-agent", "zgrab"),
    ("metasploit", "user-agent", "Metasploit"),
    ("curl", "user-agent", "^curl/"),
    ("python_requests", "user-agent", "python-requests"),
    ("gobuster", "user-agent", "gobuster"),
    ("dirbuster", "user-agent", "DirBuster"),
    ("hydra", "user-agent", "hydra"),
    ("wfuzz", "user-agent", "Wfuzz"),
];

fn headers_lower(raw: &str) -> Option<Vec<(String, String)>> {
    // JSON, or (legacy) a Python dict repr with single quotes
    let parsed = serde_json::from_str::<Value>(raw)
        .ok()
        .or_else(|| serde_json::from_str::<Value>(&raw.replace('\'', "\"")).ok())?;
    let obj = parsed.as_object()?;
    Some(
        obj.iter()
            .map(|(k, v)| {
                (
                    k.to_lowercase(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect(),
    )
}

fn header_tools(events: &[EventRow<'_>]) -> Vec<&'static str> {
    let mut found = Vec::new();
    for e in events.iter().filter(|e| e.event_type == "request") {
        let Some(headers) = e.get("headers").and_then(headers_lower) else {
            continue;
        };
        for (tool, header, pattern) in HEADER_TOOLS {
            if found.contains(&tool) {
                continue;
            }
            let Some((_, value)) = headers.iter().find(|(k, _)| k == header) else {
                continue;
            };
            let (value, pattern) = (value.to_lowercase(), pattern.to_lowercase());
            let hit = match pattern.strip_prefix('^') {
                Some(prefix) => value.starts_with(prefix),
                None => value.contains(&pattern),
            };
            if hit {
                found.push(tool);
            }
        }
    }
    found
}

/// §D.10: end of reconnaissance, start of exfiltration, the latency between, large payloads.
fn phase_sequence(events: &[EventRow<'_>]) -> Value {
    const RECON: [&str; 7] = [
        "scan",
        "connection",
        "banner",
        "probe",
        "login_attempt",
        "auth",
        "auth_failure",
    ];
    const EXFIL: [&str; 8] = [
        "download",
        "upload",
        "file_transfer",
        "data_exfil",
        "command",
        "exec",
        "query",
        "shell_input",
    ];
    let mut timed: Vec<&EventRow<'_>> = events.iter().filter(|e| e.ts_us.is_some()).collect();
    timed.sort_by_key(|e| e.ts_us); // stable: ingestion order on ties
    let (mut recon_end, mut exfil_start, mut large) = (None, None, 0);
    for e in &timed {
        if RECON.contains(&e.event_type) {
            recon_end = e.ts_us;
        } else if EXFIL.contains(&e.event_type) && exfil_start.is_none() {
            exfil_start = e.ts_us;
        }
        let size = ["bytes", "size", "content_length"]
            .iter()
            .find_map(|k| e.get(k).and_then(|v| v.trim().parse::<i64>().ok()));
        if size.is_some_and(|s| s >= 1_048_576) {
            large += 1;
        }
    }
    let latency = match (recon_end, exfil_start) {
        (Some(r), Some(x)) if x >= r => Some(py_round((x - r) as f64 / 1e6, 3)),
        _ => None,
    };
    json!({"recon_end_ts": recon_end.map(iso_utc), "exfil_start_ts": exfil_start.map(iso_utc),
           "exfil_latency_s": latency, "large_payload_count": large})
}

/// DECNET's `_os_from_ttl` hint.
pub fn os_from_ttl(ttl: i64) -> Option<&'static str> {
    match ttl {
        55..=70 => Some("linux"),
        115..=135 => Some("windows"),
        235..=255 => Some("embedded"),
        _ => None,
    }
}

/// The most frequent value, ties to the first seen (Python's Counter.most_common(1)).
fn modal<'a>(values: &[&'a str]) -> Option<&'a str> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for v in values {
        match counts.iter_mut().find(|(k, _)| k == v) {
            Some(c) => c.1 += 1,
            None => counts.push((v, 1)),
        }
    }
    counts
        .iter()
        .fold(None, |best: Option<(&str, usize)>, &(k, n)| match best {
            Some((_, bn)) if bn >= n => best,
            _ => Some((k, n)),
        })
        .map(|(k, _)| k)
}

/// `signatures`: decnet.os_signatures in priority order, tried first on the last TCP fingerprint.
pub fn details(
    events: &[EventRow<'_>],
    cadence: &[&'static str],
    signatures: &[Signature],
) -> Details {
    let (mut labels, mut ttls, mut hops) = (Vec::new(), Vec::new(), Vec::new());
    let mut tcp_fp = Map::new();
    let (mut context, mut options): (&str, Option<&str>) = ("syn", None);
    let (mut ipid, mut isn): (Option<String>, Option<String>) = (None, None);
    let (mut retransmits, mut kex, mut banners) =
        (0i64, Vec::<String>::new(), Vec::<String>::new());
    let int = |e: &EventRow<'_>, k: &str| {
        e.get(k)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map_or(Value::Null, Value::from)
    };
    for e in events {
        match e.event_type {
            "tcp_syn_fingerprint" => {
                if let Some(l) = e.get("os_guess").filter(|l| *l != "unknown") {
                    labels.push(l);
                }
                if let Some(t) = e.get("ttl").or_else(|| e.get("initial_ttl")) {
                    ttls.push(t);
                }
                if let Some(h) = e
                    .get("hop_distance")
                    .and_then(|h| h.trim().parse::<i64>().ok())
                    .filter(|&h| h > 0)
                {
                    hops.push(h as f64);
                }
                for (slot, key) in [(&mut ipid, "ipid_class"), (&mut isn, "isn_class")] {
                    if let Some(c) = e.get(key).filter(|c| *c != "unknown") {
                        *slot = Some(c.to_owned());
                    }
                }
                tcp_fp = json!({"window": int(e, "window"), "wscale": int(e, "wscale"), "mss": int(e, "mss"),
                    "options_sig": e.get("options_sig").unwrap_or(""), "has_sack": e.get("has_sack") == Some("true"),
                    "has_timestamps": e.get("has_timestamps") == Some("true"), "tos": int(e, "tos"), "dscp": int(e, "dscp"),
                    "ecn": int(e, "ecn"), "ipid_class": ipid, "isn_class": isn})
                .as_object()
                .cloned()
                .expect("object");
                (context, options) = ("syn", e.fields.get("options_sig").and_then(Value::as_str));
            }
            "tcp_flow_timing" => {
                retransmits += e
                    .get("retransmits")
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .unwrap_or(0)
            }
            "hassh_fingerprint" => {
                if let Some(k) = e
                    .get("kex_algorithms")
                    .filter(|k| !kex.iter().any(|x| x == k))
                {
                    kex.push(k.to_owned());
                }
            }
            "ssh_client_banner" => {
                if let Some(b) = e
                    .get("ssh_version")
                    .filter(|b| !banners.iter().any(|x| x == b))
                {
                    banners.push(b.to_owned());
                }
            }
            "tcpfp_fingerprint" => {
                if let Some(t) = e.get("ttl") {
                    ttls.push(t);
                    if let Ok(ttl) = t.trim().parse::<i64>() {
                        if let Some(hint) = os_from_ttl(ttl) {
                            let hop = [("linux", 64), ("windows", 128), ("embedded", 255)]
                                .iter()
                                .find(|(h, _)| *h == hint)
                                .expect("hint")
                                .1
                                - ttl;
                            if hop > 0 {
                                hops.push(hop as f64);
                            }
                        }
                    }
                }
                tcp_fp = json!({"window": int(e, "window_size"), "wscale": int(e, "window_scale"), "mss": int(e, "mss"),
                    "options_sig": e.get("options_order").unwrap_or(""), "has_sack": e.get("sack_ok") == Some("1"),
                    "has_timestamps": e.get("timestamp") == Some("1"), "tos": int(e, "tos"), "dscp": int(e, "dscp"), "ecn": int(e, "ecn")})
                .as_object()
                .cloned()
                .expect("object");
                (context, options) = (
                    "synack",
                    e.fields.get("options_order").and_then(Value::as_str),
                );
            }
            _ => {}
        }
    }
    // OS (§D.11 chain, with signatures that match real emitter output, §K.10):
    // the first signature matching the last TCP fingerprint and the modal TTL,
    // else the sensors' own labels, else the TTL hint.
    let modal_ttl = modal(&ttls).and_then(|t| t.trim().parse::<i64>().ok());
    let signature = (!tcp_fp.is_empty())
        .then(|| {
            let n = |k: &str| tcp_fp.get(k).and_then(Value::as_i64);
            let obs = Observation {
                context: context.into(),
                ttl: modal_ttl,
                window: n("window"),
                mss: n("mss"),
                wscale: n("wscale"),
                options: options.map(str::to_owned),
            };
            first_match(signatures, &obs).map(|s| s.label.clone())
        })
        .flatten();
    let os_guess = signature
        .or_else(|| modal(&labels).map(str::to_owned))
        .or_else(|| modal_ttl.and_then(os_from_ttl).map(str::to_owned));
    let hop_distance = (!hops.is_empty()).then(|| median(&mut hops) as i64);
    let mut tools: Vec<&'static str> = Vec::new();
    for t in cadence.iter().copied().chain(header_tools(events)) {
        if !tools.contains(&t) {
            tools.push(t);
        }
    }
    if os_guess.as_deref() == Some("nmap") && !tools.contains(&"nmap") {
        tools.insert(0, "nmap");
    }
    Details {
        os_guess,
        hop_distance,
        tcp_fingerprint: Value::Object(tcp_fp),
        retransmit_count: retransmits,
        kex_order_raw: kex,
        ssh_client_banners: banners,
        phase_sequence: phase_sequence(events),
        header_tools: tools,
    }
}

#[cfg(test)]
mod detail_tests {
    //! decnet-cases.md §3.1: detect_tools_from_headers, phase_sequence, sniffer_rollup, build_behavior_record.
    use super::*;

    fn ev(
        ts_s: f64,
        event_type: &'static str,
        fields: Value,
    ) -> (Option<i64>, &'static str, Map<String, Value>) {
        (
            Some((ts_s * 1e6) as i64),
            event_type,
            fields.as_object().unwrap().clone(),
        )
    }

    type Ev = (Option<i64>, &'static str, Map<String, Value>);

    fn run(evs: &[Ev], cadence: &[&'static str]) -> Details {
        run_with(evs, cadence, &crate::os_signature::builtin())
    }

    fn run_with(evs: &[Ev], cadence: &[&'static str], signatures: &[Signature]) -> Details {
        let rows: Vec<EventRow<'_>> = evs
            .iter()
            .map(|(t, e, f)| EventRow {
                ts_us: *t,
                event_type: e,
                service: "x",
                fields: f,
            })
            .collect();
        details(&rows, cadence, signatures)
    }

    fn ua(v: &str) -> Value {
        json!({"headers": serde_json::to_string(&json!({"User-Agent": v})).unwrap()})
    }

    #[test]
    fn header_tools_cases() {
        let t =
            |evs: Vec<(Option<i64>, &'static str, Map<String, Value>)>| run(&evs, &[]).header_tools;
        assert_eq!(t(vec![ev(0.0, "request", ua("Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"))]), vec!["nmap"]);
        assert_eq!(
            t(vec![ev(
                0.0,
                "request",
                json!({"headers": "{\"X-Mailer\": \"gophish\"}"})
            )]),
            vec!["gophish"]
        );
        assert_eq!(
            t(vec![ev(
                0.0,
                "request",
                ua("sqlmap/1.7.9#stable (https://sqlmap.org)")
            )]),
            vec!["sqlmap"]
        );
        assert_eq!(t(vec![ev(0.0, "request", ua("curl/8.1.2"))]), vec!["curl"]);
        assert!(t(vec![ev(0.0, "request", ua("not-curl/1.0"))]).is_empty());
        assert_eq!(
            t(vec![ev(
                0.0,
                "request",
                json!({"headers": "{\"user-agent\": \"Nikto/2.1.6\"}"})
            )]),
            vec!["nikto"]
        );
        assert_eq!(
            t(vec![
                ev(0.0, "request", ua("Nmap Scripting Engine")),
                ev(
                    1.0,
                    "request",
                    json!({"headers": "{\"X-Mailer\": \"gophish\"}"})
                )
            ]),
            vec!["nmap", "gophish"]
        );
        assert!(t(vec![ev(0.0, "connection", json!({}))]).is_empty());
        assert!(t(vec![ev(
            0.0,
            "request",
            ua("Mozilla/5.0 (Windows NT 10.0)")
        )])
        .is_empty());
        assert_eq!(
            t(vec![
                ev(0.0, "request", ua("sqlmap/1")),
                ev(1.0, "request", ua("sqlmap/2"))
            ]),
            vec!["sqlmap"]
        );
        assert_eq!(
            t(vec![ev(
                0.0,
                "request",
                json!({"headers": "{'User-Agent': 'Nmap Scripting Engine'}"})
            )]),
            vec!["nmap"]
        );
    }

    #[test]
    fn phase_sequence_cases() {
        let d = run(
            &[
                ev(0.0, "scan", json!({})),
                ev(10.0, "login_attempt", json!({})),
                ev(20.0, "auth_failure", json!({})),
                ev(120.0, "exec", json!({})),
                ev(150.0, "download", json!({})),
            ],
            &[],
        );
        assert_eq!(d.phase_sequence["exfil_latency_s"], 100.0);
        assert_eq!(
            d.phase_sequence["recon_end_ts"],
            "1970-01-01T00:00:20+00:00"
        );
        let d = run(
            &[ev(0.0, "scan", json!({})), ev(10.0, "scan", json!({}))],
            &[],
        );
        assert_eq!(
            (
                d.phase_sequence["exfil_start_ts"].clone(),
                d.phase_sequence["exfil_latency_s"].clone()
            ),
            (Value::Null, Value::Null)
        );
        let d = run(
            &[
                ev(0.0, "download", json!({"bytes": "2097152"})),
                ev(1.0, "download", json!({"bytes": "500"})),
                ev(2.0, "upload", json!({"size": "10485760"})),
            ],
            &[],
        );
        assert_eq!(d.phase_sequence["large_payload_count"], 2);
        assert_eq!(
            iso_utc(1_777_629_600_512_334),
            "2026-05-01T10:00:00.512334+00:00"
        );
    }

    #[test]
    fn sniffer_rollup_cases() {
        let syn = |os: &str, hop: &str, win: &str| {
            ev(
                0.0,
                "tcp_syn_fingerprint",
                json!({"os_guess": os, "hop_distance": hop, "window": win, "mss": "1460"}),
            )
        };
        let d = run(
            &[
                syn("linux", "3", "29200"),
                syn("linux", "3", "29200"),
                syn("windows", "8", "64240"),
            ],
            &[],
        );
        assert_eq!(
            (
                d.os_guess.as_deref(),
                d.hop_distance,
                d.tcp_fingerprint["window"].as_i64()
            ),
            (Some("linux"), Some(3), Some(64240))
        );
        let d = run(
            &[
                ev(0.0, "tcp_flow_timing", json!({"retransmits": "2"})),
                ev(1.0, "tcp_flow_timing", json!({"retransmits": "5"})),
                ev(2.0, "tcp_flow_timing", json!({"retransmits": "0"})),
            ],
            &[],
        );
        assert_eq!(d.retransmit_count, 7);
        let d = run(&[], &[]);
        assert_eq!(
            (
                d.os_guess,
                d.hop_distance,
                d.retransmit_count,
                d.tcp_fingerprint.clone()
            ),
            (None, None, 0, json!({}))
        );
        for (ttl, win, os) in [
            ("64", "29200", "linux"),
            ("128", "64240", "windows"),
            ("255", "1024", "embedded"),
        ] {
            let d = run(
                &[ev(
                    0.0,
                    "tcp_syn_fingerprint",
                    json!({"os_guess": "unknown", "ttl": ttl, "window": win}),
                )],
                &[],
            );
            assert_eq!(d.os_guess.as_deref(), Some(os), "{ttl}");
        }
        assert_eq!(
            run(&[syn("linux", "0", "1"), syn("linux", "0", "1")], &[]).hop_distance,
            None
        );
        assert_eq!(
            run(
                &[ev(
                    0.0,
                    "tcp_syn_fingerprint",
                    json!({"os_guess": "macos_ios", "ttl": "64", "window": "65535"})
                )],
                &[]
            )
            .os_guess
            .as_deref(),
            Some("macos_ios")
        );
        let d = run(
            &[ev(
                0.0,
                "tcpfp_fingerprint",
                json!({"ttl": "121", "window_size": "64240", "mss": "1460", "window_scale": "8",
            "sack_ok": "1", "timestamp": "0", "options_order": "M,N,W,N,N,S"}),
            )],
            &[],
        );
        assert_eq!(
            (d.os_guess.as_deref(), d.hop_distance),
            (Some("windows"), Some(7))
        );
        let d = run(
            &[ev(
                0.0,
                "tcpfp_fingerprint",
                json!({"ttl": "60", "window_size": "29200", "mss": "1460", "window_scale": "7",
            "sack_ok": "1", "timestamp": "1", "options_order": "M,N,W,N,N,T,S,E"}),
            )],
            &[],
        );
        assert_eq!(
            d.tcp_fingerprint,
            json!({"window": 29200, "wscale": 7, "mss": 1460, "options_sig": "M,N,W,N,N,T,S,E",
            "has_sack": true, "has_timestamps": true, "tos": null, "dscp": null, "ecn": null})
        );
        let (ka, kb) = (
            "curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha1",
            "curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256",
        );
        let d = run(
            &[
                ev(0.0, "hassh_fingerprint", json!({"kex_algorithms": ka})),
                ev(1.0, "hassh_fingerprint", json!({"kex_algorithms": ka})),
                ev(2.0, "hassh_fingerprint", json!({"kex_algorithms": kb})),
            ],
            &[],
        );
        assert_eq!(d.kex_order_raw, vec![ka, kb]);
        let d = run(
            &[
                ev(
                    0.0,
                    "ssh_client_banner",
                    json!({"ssh_version": "SSH-2.0-OpenSSH_9.2p1 Debian-2"}),
                ),
                ev(
                    1.0,
                    "ssh_client_banner",
                    json!({"ssh_version": "SSH-2.0-OpenSSH_9.2p1 Debian-2"}),
                ),
                ev(
                    2.0,
                    "ssh_client_banner",
                    json!({"ssh_version": "SSH-2.0-libssh2_1.10.0"}),
                ),
            ],
            &[],
        );
        assert_eq!(
            d.ssh_client_banners,
            vec!["SSH-2.0-OpenSSH_9.2p1 Debian-2", "SSH-2.0-libssh2_1.10.0"]
        );
        assert_eq!(
            run(
                &[ev(
                    0.0,
                    "tcp_syn_fingerprint",
                    json!({"os_guess": "linux", "ttl": "64"})
                )],
                &[]
            )
            .os_guess
            .as_deref(),
            Some("linux")
        );
    }

    #[test]
    fn os_signatures_come_first_and_match_letter_only_options() {
        // §K.10: an option-less nmap SYN the sniffer could not label is nmap, and promotes the tool
        let bare = ev(
            0.0,
            "tcp_syn_fingerprint",
            json!({"os_guess": "unknown", "ttl": "58", "window": "1024", "mss": "0",
            "wscale": "", "options_sig": ""}),
        );
        let d = run(&[bare], &[]);
        assert_eq!(
            (d.os_guess.as_deref(), d.header_tools.clone()),
            (Some("nmap"), vec!["nmap"])
        );
        // a user signature outranks the built-ins and the sensor's label, for a SYN-ACK too
        let masscan = Signature::from_json(
            &json!({"label": "masscan", "initial_ttl": 255, "windows": [1024], "options": ""}),
        )
        .unwrap();
        let syn = [ev(
            0.0,
            "tcp_syn_fingerprint",
            json!({"os_guess": "embedded", "ttl": "247", "window": "1024", "options_sig": ""}),
        )];
        assert_eq!(
            run_with(&syn, &[], &[masscan]).os_guess.as_deref(),
            Some("masscan")
        );
        assert_eq!(run(&syn, &[]).os_guess.as_deref(), Some("embedded"));
        let d = run(
            &[ev(
                0.0,
                "tcpfp_fingerprint",
                json!({"ttl": "52", "window_size": "64240", "mss": "1460", "window_scale": "7",
            "sack_ok": "1", "timestamp": "1", "options_order": "M,S,T,N,W"}),
            )],
            &[],
        );
        assert_eq!(d.os_guess.as_deref(), Some("linux"));
        // without signatures the chain falls back to the label, then the TTL hint
        assert_eq!(
            run_with(&syn, &[], &[]).os_guess.as_deref(),
            Some("embedded")
        );
    }

    #[test]
    fn tool_guesses_combine_cadence_headers_and_nmap_os() {
        let d = run(
            &[ev(0.0, "request", ua("Nmap Scripting Engine"))],
            &["cobalt_strike"],
        );
        assert_eq!(d.header_tools, vec!["cobalt_strike", "nmap"]);
        let syn = ev(
            0.0,
            "tcp_syn_fingerprint",
            json!({"os_guess": "nmap", "window": "31337", "ttl": "58"}),
        );
        assert_eq!(run(&[syn.clone(), syn], &[]).header_tools, vec!["nmap"]);
    }
}
