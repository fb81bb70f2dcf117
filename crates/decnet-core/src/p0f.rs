//! p0f v2 signatures (`wwww:ttt:D:ss:OOO:QQ:OS:Details`, spec §G.2): the
//! line format and DECNET's scoring, so p0f.fp files can be loaded into
//! decnet.os_signatures. The sensors write option orders without values
//! (`M,S,T,N,W`) but report MSS and window scale separately;
//! [`valued_options`] puts them back (`M1460,S,T,N,W7`), which is what makes
//! these signatures match real emitter output (§K.10).

use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Any,
    Mod(i64),
    Lit(i64),
}

impl Num {
    fn parse(s: &str) -> Option<Num> {
        match s {
            "*" => Some(Num::Any),
            _ => match s.strip_prefix('%') {
                Some(m) => m.parse().ok().filter(|&m| m > 0).map(Num::Mod),
                None => s.parse().ok().map(Num::Lit),
            },
        }
    }

    fn matches(self, v: i64) -> bool {
        match self {
            Num::Any => true,
            Num::Mod(m) => v % m == 0,
            Num::Lit(n) => v == n,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    Num(Num),
    /// a multiple of the MSS (`Sn`)
    Mss(i64),
    /// a multiple of the MTU, MSS + 40 (`Tn`)
    Mtu(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Opt {
    /// `N E S T P T0 M W ?`
    pub kind: String,
    /// `Some` for M, W and ? (which carry a value predicate).
    pub value: Option<Num>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct P0fSignature {
    pub window: Window,
    pub ttl: i64,
    pub df: Option<bool>,
    pub total_len: Num,
    /// `None` for `.` (no options).
    pub options: Option<Vec<Opt>>,
    pub quirks: BTreeSet<char>,
    pub os: String,
    pub flavor: String,
    pub userland: bool,
    pub approximate: bool,
    pub specificity: f64,
}

/// What the sensors saw: TTL as its initial bucket, options with values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct P0fObservation {
    pub window: Option<i64>,
    pub ttl: Option<i64>,
    pub df: Option<bool>,
    pub total_len: Option<i64>,
    pub options: Option<String>,
    pub quirks: BTreeSet<char>,
    pub mss: Option<i64>,
}

fn parse_option(tok: &str) -> Option<Opt> {
    match tok {
        "N" | "E" | "S" | "T" | "P" | "T0" => Some(Opt {
            kind: tok.into(),
            value: None,
        }),
        _ => {
            let kind = tok.get(..1)?;
            if !matches!(kind, "M" | "W" | "?") {
                return None;
            }
            Some(Opt {
                kind: kind.into(),
                value: Some(Num::parse(&tok[1..])?),
            })
        }
    }
}

fn split_options(s: &str) -> Vec<&str> {
    s.split([',', ' ']).filter(|t| !t.is_empty()).collect()
}

/// Parses one signature line; `Err` says what is wrong with it.
pub fn parse_line(line: &str) -> Result<P0fSignature, String> {
    let f: Vec<&str> = line.trim().splitn(8, ':').collect();
    if f.len() < 7 {
        return Err(format!(
            "{} fields, want 8 (wwww:ttt:D:ss:OOO:QQ:OS:Details)",
            f.len()
        ));
    }
    let window = match f[0].get(..1) {
        Some("S") => Window::Mss(
            f[0][1..]
                .parse()
                .map_err(|_| format!("bad window {:?}", f[0]))?,
        ),
        Some("T") => Window::Mtu(
            f[0][1..]
                .parse()
                .map_err(|_| format!("bad window {:?}", f[0]))?,
        ),
        _ => Window::Num(Num::parse(f[0]).ok_or_else(|| format!("bad window {:?}", f[0]))?),
    };
    let ttl = f[1].parse().map_err(|_| format!("bad ttl {:?}", f[1]))?;
    let df = match f[2] {
        "*" => None,
        "0" => Some(false),
        "1" => Some(true),
        d => return Err(format!("bad DF {d:?}")),
    };
    let total_len = Num::parse(f[3]).ok_or_else(|| format!("bad size {:?}", f[3]))?;
    let options = match f[4] {
        "." => None,
        o => Some(
            split_options(o)
                .into_iter()
                .map(|t| parse_option(t).ok_or_else(|| format!("bad option {t:?}")))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let quirks = if f[5] == "." {
        BTreeSet::new()
    } else {
        f[5].chars().collect()
    };
    let (mut os, mut userland, mut approximate) = (f[6], false, false);
    while let Some(c) = os.chars().next().filter(|c| matches!(c, '-' | '@' | '*')) {
        userland |= c == '-';
        approximate |= c == '@';
        os = &os[1..];
    }
    let mut sig = P0fSignature {
        window,
        ttl,
        df,
        total_len,
        options,
        quirks,
        os: os.into(),
        flavor: f.get(7).copied().unwrap_or("").into(),
        userland,
        approximate,
        specificity: 0.0,
    };
    sig.specificity = specificity(&sig);
    Ok(sig)
}

fn specificity(s: &P0fSignature) -> f64 {
    let window = match s.window {
        Window::Num(Num::Lit(_)) => 3.0,
        Window::Mss(_) | Window::Mtu(_) => 2.5,
        Window::Num(Num::Mod(_)) => 1.5,
        Window::Num(Num::Any) => 0.0,
    };
    let df = if s.df.is_some() { 1.0 } else { 0.0 };
    let total_len = match s.total_len {
        Num::Lit(_) => 1.0,
        Num::Mod(_) => 0.5,
        Num::Any => 0.0,
    };
    let options = match &s.options {
        None => 2.0,
        Some(o) if o.is_empty() => 2.0,
        Some(o) => {
            3.0 * o
                .iter()
                .filter(|t| !matches!(t.value, Some(Num::Any) | Some(Num::Mod(_))))
                .count() as f64
                / o.len() as f64
        }
    };
    let quirks = if s.quirks.is_empty() { 0.0 } else { 1.0 };
    ((window + 1.0 + df + total_len + options + quirks) / 10.0 * 1e4).round() / 1e4
}

impl P0fSignature {
    /// DECNET's score: the specificity when every hard predicate holds, else `None`.
    pub fn score(&self, o: &P0fObservation) -> Option<f64> {
        let w = o.window?;
        let window_ok = match self.window {
            Window::Num(n) => n.matches(w),
            Window::Mss(k) => o.mss.is_some_and(|m| w == m * k),
            Window::Mtu(k) => o.mss.is_some_and(|m| w == (m + 40) * k),
        };
        let options_ok = match (&self.options, o.options.as_deref()) {
            (None, obs) => obs.is_none_or(str::is_empty),
            (Some(_), None) => false,
            (Some(sig), Some(obs)) => {
                let obs = split_options(obs);
                sig.len() == obs.len()
                    && sig.iter().zip(obs).all(|(s, t)| {
                        let (kind, value) = token_parts(t);
                        s.kind == kind
                            && match s.value {
                                None => value.is_none(),
                                Some(p) => value
                                    .and_then(|v| v.parse::<i64>().ok())
                                    .is_some_and(|v| p.matches(v)),
                            }
                    })
            }
        };
        let ok = window_ok
            && o.ttl == Some(self.ttl)
            && (o.df.is_none() || self.df.is_none() || o.df == self.df)
            && o.total_len.is_none_or(|l| self.total_len.matches(l))
            && options_ok
            && self.quirks == o.quirks;
        ok.then_some(self.specificity)
    }
}

/// An observed option token as (kind, value): `M1460` → (`M`, `1460`), `T0` and `S` → no value.
fn token_parts(t: &str) -> (&str, Option<&str>) {
    match t.split_at_checked(1) {
        Some((kind, value)) if t != "T0" && !value.is_empty() => (kind, Some(value)),
        _ => (t, None),
    }
}

/// The best-scoring signature (ties keep the first), stopping at a perfect 1.0.
pub fn best_match<'a>(
    signatures: &'a [P0fSignature],
    o: &P0fObservation,
) -> Option<(&'a P0fSignature, f64)> {
    let mut best: Option<(&P0fSignature, f64)> = None;
    for s in signatures {
        if let Some(score) = s.score(o) {
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((s, score));
                if score >= 1.0 {
                    break;
                }
            }
        }
    }
    best
}

/// Letter-only options with the separately reported MSS and window scale put
/// back: `("M,S,T,N,W", 1460, 7)` gives `M1460,S,T,N,W7`.
pub fn valued_options(letters: &str, mss: Option<i64>, wscale: Option<i64>) -> String {
    split_options(letters)
        .into_iter()
        .map(|t| match (t, mss, wscale) {
            ("M", Some(m), _) => format!("M{m}"),
            ("W", _, Some(w)) => format!("W{w}"),
            _ => t.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    //! decnet-cases §6.6 (format, signature, provider), except the vendored
    //! file counts and the provider environment switch, which have no
    //! counterpart here (no p0f files are shipped; see docs/behavior.md).
    use super::*;

    const LINUX: &str = "5840:64:1:60:M1460,S,T,N,W7:.:Linux:2.6.x kernel";

    fn obs(window: i64, options: &str) -> P0fObservation {
        P0fObservation {
            window: Some(window),
            ttl: Some(64),
            df: Some(true),
            total_len: Some(60),
            options: Some(options.into()),
            mss: Some(1460),
            ..Default::default()
        }
    }

    #[test]
    fn format() {
        let s = parse_line(LINUX).unwrap();
        assert_eq!(
            (s.os.as_str(), s.flavor.as_str(), s.ttl, s.df),
            ("Linux", "2.6.x kernel", 64, Some(true))
        );
        assert_eq!(
            (s.window, s.total_len),
            (Window::Num(Num::Lit(5840)), Num::Lit(60))
        );
        let o = s.options.clone().unwrap();
        assert_eq!(
            (o.len(), o[0].clone()),
            (
                5,
                Opt {
                    kind: "M".into(),
                    value: Some(Num::Lit(1460))
                }
            )
        );
        assert!(s.quirks.is_empty() && !s.userland);
        let w = parse_line("*:128:1:*:M*,S,T,N,W*:.:Windows:XP SP1+").unwrap();
        assert_eq!(
            (w.window, w.total_len, w.options.unwrap()[0].value),
            (Window::Num(Num::Any), Num::Any, Some(Num::Any))
        );
        assert_eq!(
            parse_line("S4:64:1:60:.:.:x:y").unwrap().window,
            Window::Mss(4)
        );
        assert_eq!(
            parse_line("T3:64:1:60:.:.:x:y").unwrap().window,
            Window::Mtu(3)
        );
        assert_eq!(
            parse_line("%8192:64:1:60:.:.:x:y").unwrap().window,
            Window::Num(Num::Mod(8192))
        );
        let n = parse_line("1024:64:0:40:.:.:-nmap:syn stealth").unwrap();
        assert_eq!((n.userland, n.os.as_str()), (true, "nmap"));
        let f = parse_line("1024:64:0:40:.:.:-@Windows:fuzzy match").unwrap();
        assert_eq!(
            (f.userland, f.approximate, f.os.as_str()),
            (true, true, "Windows")
        );
        assert_eq!(
            parse_line("1024:64:0:40:.:PZ:x:y").unwrap().quirks,
            BTreeSet::from(['P', 'Z'])
        );
        assert_eq!(parse_line("1024:64:0:40:.:.:x:y").unwrap().options, None);
        assert_eq!(
            parse_line("1024:64:0:40:M*,T0:.:x:y")
                .unwrap()
                .options
                .unwrap()[1]
                .kind,
            "T0"
        );
        assert_eq!(
            parse_line("1024:64:0:40:M*,?47:.:x:y")
                .unwrap()
                .options
                .unwrap()[1],
            Opt {
                kind: "?".into(),
                value: Some(Num::Lit(47))
            }
        );
        assert_eq!(
            parse_line("1024:64:0:40:.:.:x").unwrap().flavor,
            "",
            "7 fields: empty details"
        );
        for bad in [
            "5840:64:1:60",
            "5840:64:X:60:.:.:x:y",
            "Kfoo:64:1:60:.:.:x:y",
            "5840:64:1:60:!!!wat:.:x:y",
        ] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
        let file = "# comment\n\n5840:64:1:60:M1460,S,T,N,W7:.:Linux:2.6\ngarbage line\n*:128:1:*:M*,S,T,N,W*:.:Windows:XP\n";
        let sigs: Vec<_> = file
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| parse_line(l).ok())
            .collect();
        assert_eq!(
            sigs.iter().map(|s| s.os.as_str()).collect::<Vec<_>>(),
            ["Linux", "Windows"]
        );
        assert!(sigs.iter().all(|s| (0.0..=1.0).contains(&s.specificity)));
    }

    #[test]
    fn scoring() {
        let lit = parse_line(LINUX).unwrap();
        let wild = parse_line("*:64:1:*:M*,S,T,N,W*:.:Linux:any").unwrap();
        let base = obs(5840, "M1460,S,T,N,W7");
        assert!(lit.score(&base).unwrap() >= 0.9);
        assert!(lit.score(&base).unwrap() > wild.score(&base).unwrap());
        assert_eq!(lit.score(&obs(64240, "M1460,S,T,N,W7")), None);
        assert_eq!(
            lit.score(&P0fObservation {
                ttl: Some(128),
                ..base.clone()
            }),
            None
        );
        assert_eq!(
            lit.score(&P0fObservation {
                df: Some(false),
                ..base.clone()
            }),
            None
        );
        let any_df = parse_line("5840:64:*:60:M1460,S,T,N,W7:.:Linux:x").unwrap();
        assert!(any_df
            .score(&P0fObservation {
                df: Some(false),
                ..base.clone()
            })
            .is_some());
        assert!(lit
            .score(&P0fObservation {
                df: None,
                ..base.clone()
            })
            .is_some());
        assert!(lit
            .score(&P0fObservation {
                total_len: None,
                ..base.clone()
            })
            .is_some());
        assert_eq!(lit.score(&obs(5840, "S,T,M1460,N,W7")), None);
        assert_eq!(lit.score(&obs(5840, "M1460,S,T,N")), None);
        let pz = parse_line("5840:64:1:60:M1460,S,T,N,W7:PZ:x:y").unwrap();
        assert!(pz
            .score(&P0fObservation {
                quirks: BTreeSet::from(['P', 'Z']),
                ..base.clone()
            })
            .is_some());
        assert_eq!(
            pz.score(&P0fObservation {
                quirks: BTreeSet::from(['P']),
                ..base.clone()
            }),
            None
        );
        assert_eq!(
            pz.score(&P0fObservation {
                quirks: BTreeSet::from(['P', 'Z', 'I']),
                ..base.clone()
            }),
            None
        );
        let s4 = parse_line("S4:64:1:60:M*,S,T,N,W7:.:x:y").unwrap();
        assert!(s4.score(&base).is_some());
        assert!(s4
            .score(&P0fObservation {
                window: Some(2144),
                mss: Some(536),
                ..base.clone()
            })
            .is_some());
        assert_eq!(
            s4.score(&P0fObservation {
                mss: Some(536),
                ..base.clone()
            }),
            None
        );
        let m = parse_line("%8192:64:1:60:M1460,S,T,N,W7:.:x:y").unwrap();
        assert!(
            m.score(&obs(32768, "M1460,S,T,N,W7")).is_some()
                && m.score(&obs(40960, "M1460,S,T,N,W7")).is_some()
        );
        assert_eq!(m.score(&obs(32769, "M1460,S,T,N,W7")), None);
        let dot = parse_line("5840:64:1:60:.:.:x:y").unwrap();
        assert!(
            dot.score(&obs(5840, "")).is_some()
                && dot
                    .score(&P0fObservation {
                        options: None,
                        ..base.clone()
                    })
                    .is_some()
        );
        assert_eq!(dot.score(&obs(5840, "M1460")), None);
        assert_eq!(
            lit.score(&P0fObservation {
                window: None,
                ..base.clone()
            }),
            None
        );
        assert_eq!(
            lit.score(&P0fObservation {
                ttl: None,
                ..base.clone()
            }),
            None
        );
        assert!(wild.score(&obs(5840, "M536,S,T,N,W2")).is_some());
        let m4 = parse_line("5840:64:1:60:M%4,S,T,N,W7:.:x:y").unwrap();
        assert!(m4.score(&obs(5840, "M1460,S,T,N,W7")).is_some());
        assert_eq!(m4.score(&obs(5840, "M1461,S,T,N,W7")), None);
        // §K.10: a value-less observed token never satisfies M/W, which is why the letters need their values back
        assert_eq!(lit.score(&obs(5840, "M,S,T,N,W")), None);
        assert!(lit
            .score(&obs(
                5840,
                &valued_options("M,S,T,N,W", Some(1460), Some(7))
            ))
            .is_some());
    }

    #[test]
    fn provider() {
        let sigs: Vec<P0fSignature> = [
            LINUX,
            "*:128:1:*:M*,S,T,N,W*:.:Windows:XP SP1+",
            "S22:64:1:60:M*,S,T,N,W0:AT:Linux:2.6 (newer, 3)",
        ]
        .iter()
        .map(|l| parse_line(l).unwrap())
        .collect();
        let (s, conf) = best_match(&sigs, &obs(5840, "M1460,S,T,N,W7")).unwrap();
        assert_eq!(s.os, "Linux");
        assert!(conf >= 0.6);
        assert!(best_match(&sigs, &obs(999_999, "?255,?254")).is_none());
        let synack = P0fObservation {
            window: Some(22 * 1460),
            options: Some("M1460,S,T,N,W0".into()),
            quirks: BTreeSet::from(['A', 'T']),
            ..obs(0, "")
        };
        assert_eq!(
            best_match(&sigs, &synack).unwrap().0.flavor,
            "2.6 (newer, 3)"
        );
        assert_eq!(
            valued_options("M,N,W,N,N,S", Some(1460), None),
            "M1460,N,W,N,N,S"
        );
        assert_eq!(valued_options("", Some(1460), Some(7)), "");
    }
}
