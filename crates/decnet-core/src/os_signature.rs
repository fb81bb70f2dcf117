//! p0f-style OS signatures over what the sensors really emit (spec §G.2,
//! §D.11, §K.10): the sniffer's SYN and the prober's SYN-ACK give a TTL, a
//! window, MSS, window scale and a letter-only option order such as
//! `M,S,T,N,W`. A signature is a conjunction of predicates on those; the first
//! matching signature in priority order names the OS. Users add rows to
//! `decnet.os_signatures`; the built-in rows come from [`BUILTIN`].

use crate::behavior::initial_ttl;
use crate::p0f::{parse_line, valued_options, P0fObservation, P0fSignature};
use regex::Regex;
use serde_json::Value;

/// What a sensor saw of one TCP handshake packet.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observation {
    /// `syn` (sniffer, the attacker's SYN) or `synack` (prober, the attacker host's SYN-ACK).
    pub context: String,
    /// The observed TTL; signatures compare its initial-TTL bucket (32/64/128/255).
    pub ttl: Option<i64>,
    pub window: Option<i64>,
    pub mss: Option<i64>,
    pub wscale: Option<i64>,
    /// Letter-only option order, `""` for none; `None` when the sensor did not report it.
    pub options: Option<String>,
}

/// One signature; `None` means "any".
#[derive(Debug, Clone)]
pub struct Signature {
    pub label: String,
    pub context: String,
    pub initial_ttl: Option<i64>,
    pub windows: Option<Vec<i64>>,
    pub window_min: Option<i64>,
    pub mss: Option<Vec<i64>>,
    pub wscales: Option<Vec<i64>>,
    /// A regular expression the whole option order must match (it is anchored).
    pub options: Option<Regex>,
    pub sack: Option<bool>,
    pub timestamps: Option<bool>,
    pub eol: Option<bool>,
    /// A p0f v2 signature line that must also score (spec §G.2), against the
    /// options with their MSS and scale values put back.
    pub p0f: Option<P0fSignature>,
}

/// Anchors an options pattern so `M,S` never matches inside `M,S,T`.
pub fn options_regex(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

fn has(options: &Option<String>, letter: &str) -> Option<bool> {
    options.as_ref().map(|o| o.split(',').any(|x| x == letter))
}

impl Signature {
    pub fn matches(&self, o: &Observation) -> bool {
        let any_of = |set: &Option<Vec<i64>>, v: Option<i64>| {
            set.as_ref()
                .is_none_or(|s| v.is_some_and(|v| s.contains(&v)))
        };
        let flag = |want: Option<bool>, letter: &str| {
            want.is_none_or(|w| has(&o.options, letter) == Some(w))
        };
        self.context == o.context
            && self.initial_ttl.is_none_or(|t| {
                o.ttl.is_some_and(|ttl| {
                    i64::from(initial_ttl(i32::try_from(ttl).unwrap_or(i32::MAX))) == t
                })
            })
            && any_of(&self.windows, o.window)
            && self
                .window_min
                .is_none_or(|m| o.window.is_some_and(|w| w >= m))
            && any_of(&self.mss, o.mss)
            && any_of(&self.wscales, o.wscale)
            && self
                .options
                .as_ref()
                .is_none_or(|r| o.options.as_deref().is_some_and(|opts| r.is_match(opts)))
            && flag(self.sack, "S")
            && flag(self.timestamps, "T")
            && flag(self.eol, "E")
            && self.p0f.as_ref().is_none_or(|p| {
                let obs = P0fObservation {
                    window: o.window,
                    ttl: o
                        .ttl
                        .map(|t| i64::from(initial_ttl(i32::try_from(t).unwrap_or(i32::MAX)))),
                    options: o
                        .options
                        .as_deref()
                        .map(|l| valued_options(l, o.mss, o.wscale)),
                    mss: o.mss,
                    ..Default::default()
                };
                p.score(&obs).is_some()
            })
    }

    /// A signature from a `decnet.os_signatures` row as jsonb; `None` when its options pattern does not compile.
    pub fn from_json(v: &Value) -> Option<Signature> {
        let int = |k: &str| v.get(k).and_then(Value::as_i64);
        let ints = |k: &str| {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_i64).collect())
        };
        let boolean = |k: &str| v.get(k).and_then(Value::as_bool);
        let options = match v.get("options").and_then(Value::as_str) {
            Some(p) => Some(options_regex(p).ok()?),
            None => None,
        };
        let p0f = match v.get("p0f").and_then(Value::as_str) {
            Some(line) => Some(parse_line(line).ok()?),
            None => None,
        };
        Some(Signature {
            label: v.get("label")?.as_str()?.to_owned(),
            context: v
                .get("context")
                .and_then(Value::as_str)
                .unwrap_or("syn")
                .to_owned(),
            initial_ttl: int("initial_ttl"),
            windows: ints("windows"),
            window_min: int("window_min"),
            mss: ints("mss"),
            wscales: ints("wscales"),
            options,
            sack: boolean("sack"),
            timestamps: boolean("timestamps"),
            eol: boolean("eol"),
            p0f,
        })
    }
}

/// The first signature (in the given order) that matches.
pub fn first_match<'a>(signatures: &'a [Signature], o: &Observation) -> Option<&'a Signature> {
    signatures.iter().find(|s| s.matches(o))
}

/// A built-in row: label, context, initial TTL, windows, window_min, mss,
/// wscales, options pattern, sack, timestamps, eol. Listed in priority order.
pub type BuiltinRow = (
    &'static str,
    &'static str,
    Option<i64>,
    Option<&'static [i64]>,
    Option<i64>,
    Option<&'static [i64]>,
    Option<&'static [i64]>,
    Option<&'static str>,
    Option<bool>,
    Option<bool>,
    Option<bool>,
);

const NMAP_WINDOWS: &[i64] = &[1024, 2048, 3072, 4096, 31337, 32768, 65535];

/// The sniffer's own SYN table (§G.2 rules 1–10, same order), plus nmap's
/// option-less SYN (what p0f v2 called "NMAP syn scan", §K.10) and SYN-ACK
/// rows for the prober by initial TTL and options.
pub const BUILTIN: &[BuiltinRow] = &[
    (
        "nmap",
        "syn",
        Some(64),
        Some(NMAP_WINDOWS),
        None,
        Some(&[1460]),
        Some(&[10]),
        Some("M,W,T,S,S"),
        None,
        None,
        None,
    ),
    (
        "nmap",
        "syn",
        Some(64),
        Some(NMAP_WINDOWS),
        None,
        None,
        None,
        Some("M,W,T,S.*"),
        None,
        None,
        None,
    ),
    (
        "nmap",
        "syn",
        Some(64),
        Some(NMAP_WINDOWS),
        None,
        None,
        None,
        Some(""),
        None,
        None,
        None,
    ),
    (
        "macos_ios",
        "syn",
        Some(64),
        Some(&[65535]),
        None,
        None,
        Some(&[6]),
        Some("M,N,W,N,N,T,S,E"),
        None,
        None,
        None,
    ),
    (
        "macos_ios",
        "syn",
        Some(64),
        Some(&[65535]),
        None,
        None,
        Some(&[5, 6]),
        Some(".*E"),
        None,
        Some(true),
        None,
    ),
    (
        "freebsd",
        "syn",
        Some(64),
        Some(&[65535]),
        None,
        None,
        Some(&[6]),
        None,
        Some(true),
        Some(true),
        Some(false),
    ),
    (
        "linux",
        "syn",
        Some(64),
        None,
        Some(5000),
        None,
        Some(&[6, 7, 8, 9, 10, 11, 12, 13, 14]),
        None,
        Some(true),
        Some(true),
        None,
    ),
    (
        "openbsd",
        "syn",
        Some(64),
        Some(&[16384, 16960]),
        None,
        None,
        Some(&[3, 4, 5, 6]),
        None,
        None,
        None,
        None,
    ),
    (
        "windows",
        "syn",
        Some(128),
        None,
        Some(8192),
        None,
        Some(&[2, 6, 7, 8]),
        None,
        Some(true),
        None,
        None,
    ),
    (
        "windows",
        "syn",
        Some(128),
        Some(&[8192, 16384, 65535]),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ),
    (
        "embedded",
        "syn",
        Some(255),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ),
    (
        "linux",
        "synack",
        Some(64),
        None,
        Some(5000),
        None,
        None,
        None,
        Some(true),
        Some(true),
        None,
    ),
    (
        "windows",
        "synack",
        Some(128),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ),
    (
        "embedded",
        "synack",
        Some(255),
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ),
];

/// [`BUILTIN`] as signatures.
pub fn builtin() -> Vec<Signature> {
    BUILTIN
        .iter()
        .map(
            |&(
                label,
                context,
                ttl,
                windows,
                window_min,
                mss,
                wscales,
                options,
                sack,
                timestamps,
                eol,
            )| Signature {
                label: label.into(),
                context: context.into(),
                initial_ttl: ttl,
                windows: windows.map(<[i64]>::to_vec),
                window_min,
                mss: mss.map(<[i64]>::to_vec),
                wscales: wscales.map(<[i64]>::to_vec),
                options: options.map(|p| options_regex(p).expect("built-in pattern compiles")),
                sack,
                timestamps,
                eol,
                p0f: None,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn(ttl: i64, window: i64, mss: i64, wscale: Option<i64>, options: &str) -> Observation {
        Observation {
            context: "syn".into(),
            ttl: Some(ttl),
            window: Some(window),
            mss: Some(mss),
            wscale,
            options: Some(options.into()),
        }
    }

    fn guess(o: &Observation) -> Option<String> {
        first_match(&builtin(), o).map(|s| s.label.clone())
    }

    #[test]
    fn cases_6_2_guess_os() {
        for (o, want) in [
            (syn(64, 29200, 1460, Some(7), "M,S,T,N,W"), Some("linux")),
            (
                syn(128, 64240, 1460, Some(8), "M,N,W,N,N,T,S"),
                Some("windows"),
            ),
            (
                syn(64, 65535, 1460, Some(6), "M,N,W,N,N,T,S,E"),
                Some("macos_ios"),
            ),
            (syn(64, 1024, 1460, Some(10), "M,W,T,S,S"), Some("nmap")),
            (syn(64, 31337, 1460, Some(10), "M,W,T,S,S"), Some("nmap")),
            (syn(250, 4128, 536, None, "M"), Some("embedded")),
            (syn(50, 100, 0, None, ""), None),
        ] {
            assert_eq!(guess(&o).as_deref(), want, "{o:?}");
        }
    }

    #[test]
    fn real_emitter_shapes_match() {
        // the corpus's SYN profiles (letter-only options, as the sniffer writes them)
        assert_eq!(
            guess(&syn(64, 64240, 1460, Some(7), "M,S,T,N,W")).as_deref(),
            Some("linux")
        );
        assert_eq!(
            guess(&syn(64, 16384, 1460, Some(3), "M,N,N,S,N,W,N,N,T")).as_deref(),
            Some("openbsd")
        );
        assert_eq!(guess(&syn(58, 1024, 0, None, "")).as_deref(), Some("nmap")); // option-less nmap SYN, 6 hops away
        assert_eq!(guess(&syn(64, 100, 0, None, "")), None);
        // the prober's SYN-ACKs
        let synack = |ttl, window, options: &str| Observation {
            context: "synack".into(),
            ttl: Some(ttl),
            window: Some(window),
            options: Some(options.into()),
            ..Default::default()
        };
        assert_eq!(
            guess(&synack(52, 64240, "M,S,T,N,W")).as_deref(),
            Some("linux")
        );
        assert_eq!(
            guess(&synack(113, 65535, "M,N,W,N,N,S")).as_deref(),
            Some("windows")
        );
        assert_eq!(guess(&synack(240, 4128, "M")).as_deref(), Some("embedded"));
        // a SYN row never labels a SYN-ACK, and the reverse
        assert_eq!(guess(&synack(64, 1024, "")), None);
    }

    #[test]
    fn predicates() {
        let sig = |v: Value| Signature::from_json(&v).expect("valid");
        let masscan = sig(
            serde_json::json!({"label": "masscan", "initial_ttl": 255, "windows": [1024], "options": ""}),
        );
        assert!(masscan.matches(&syn(247, 1024, 0, None, "")));
        assert!(
            !masscan.matches(&syn(247, 1024, 1460, None, "M")),
            "options are anchored"
        );
        assert!(!masscan.matches(&syn(60, 1024, 0, None, "")), "ttl bucket");
        let any = sig(serde_json::json!({"label": "x"}));
        assert!(any.matches(&syn(1, 1, 1, None, "?")));
        assert!(
            !any.matches(&Observation {
                context: "synack".into(),
                ..Default::default()
            }),
            "context defaults to syn"
        );
        let flags =
            sig(serde_json::json!({"label": "f", "sack": true, "eol": false, "window_min": 1000}));
        assert!(flags.matches(&syn(64, 1000, 0, None, "M,S")));
        assert!(!flags.matches(&syn(64, 1000, 0, None, "M,S,E")));
        assert!(!flags.matches(&syn(64, 999, 0, None, "M,S")));
        assert!(
            !flags.matches(&Observation {
                context: "syn".into(),
                options: Some("S".into()),
                ..Default::default()
            }),
            "no window"
        );
        assert!(
            !flags.matches(&Observation {
                window: Some(2000),
                ..syn(64, 0, 0, None, "")
            }),
            "no sack"
        );
        assert!(
            !masscan.matches(&Observation {
                options: None,
                ..syn(247, 1024, 0, None, "")
            }),
            "options not reported"
        );
        assert!(
            Signature::from_json(&serde_json::json!({"label": "bad", "options": "("})).is_none()
        );
        assert!(
            Signature::from_json(&serde_json::json!({"options": "M"})).is_none(),
            "a label is required"
        );
        // a p0f v2 line matches the letter-only options once MSS and scale are put back (§K.10)
        let p0f =
            sig(serde_json::json!({"label": "Linux", "p0f": "S4:64:1:*:M*,S,T,N,W7:.:Linux:2.6"}));
        assert!(p0f.matches(&syn(58, 5840, 1460, Some(7), "M,S,T,N,W")));
        assert!(!p0f.matches(&syn(58, 5840, 1460, Some(6), "M,S,T,N,W")));
        assert!(!p0f.matches(&syn(58, 5840, 1460, Some(7), "M,S,T,N")));
        assert!(
            Signature::from_json(&serde_json::json!({"label": "bad", "p0f": "5840:64"})).is_none()
        );
    }
}
