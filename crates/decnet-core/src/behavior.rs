//! Behaviour primitives (spec §D.7, §D.8, §D.9 cadence table, §G.1, §G.2 TTL):
//! pure functions the behaviour rollup (issue 5) is built from.

/// Python's `round(x, digits)`: correctly rounded, ties to even, on the exact
/// binary value (`round(2.675, 2) == 2.67`). Rust's decimal formatting rounds
/// the same way.
pub fn py_round(x: f64, digits: usize) -> f64 {
    format!("{x:.digits$}").parse().expect("formatted float parses")
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
    [32, 64, 128, 255].into_iter().find(|&b| ttl <= b).unwrap_or(255)
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
    let duration_s = if n == 0 { 0.0 } else { py_round((t[n - 1] - t[0]) as f64 / 1e6, 3) };
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
    iats.sort_by(f64::total_cmp);
    let k = iats.len();
    let median = if k % 2 == 1 { iats[k / 2] } else { (iats[k / 2 - 1] + iats[k / 2]) / 2.0 };
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
pub fn behavior_class(event_count: usize, mean_iat_s: Option<f64>, cv: Option<f64>, services: usize) -> &'static str {
    let n = event_count;
    let Some(mean) = mean_iat_s else { return "unknown" };
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
    let (Some(mean), Some(cv)) = (mean_iat_s, cv) else { return Vec::new() };
    TABLE
        .iter()
        .filter(|(_, interval, tol, jitter, jtol)| (mean - interval).abs() <= *tol && (cv - jitter).abs() <= *jtol)
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
        assert_eq!(seq_class(&[12345, 0xABCD, 0x1234, 0xFFFF, 0x00FF, 0x7F7F]), "random");
        assert_eq!(seq_class(&[42, 42, 42, 99]), "random");
        assert_eq!(seq_class(&[65533, 65534, 65535, 3]), "random"); // wrap-around
    }

    #[test]
    fn initial_ttl_buckets() {
        assert_eq!([0, 32, 33, 52, 64, 65, 119, 128, 129, 255, 300].map(initial_ttl), [32, 32, 64, 64, 64, 128, 128, 128, 255, 255, 255]);
        assert_eq!((hop_distance(52), hop_distance(119), hop_distance(300)), (12, 9, 0));
    }

    /// First event at 0, then interval + jitter for odd i and interval - jitter for even i.
    fn beacon(count: usize, interval: f64, jitter: f64) -> Vec<i64> {
        let mut t = 0.0;
        (0..count)
            .map(|i| {
                if i > 0 {
                    t += if i % 2 == 1 { interval + jitter } else { interval - jitter };
                }
                (t * 1e6).round() as i64
            })
            .collect()
    }

    fn every(count: usize, step: f64) -> Vec<i64> {
        (0..count).map(|i| (i as f64 * step * 1e6).round() as i64).collect()
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
        assert_eq!((s.event_count, s.mean_iat_s, s.cv, s.stdev_iat_s), (10, Some(60.0), Some(0.0), Some(0.0)));
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
        assert_eq!(cadence_tools(Some(60.0), Some(0.25)), vec!["cobalt_strike", "sliver"]);
    }
}
