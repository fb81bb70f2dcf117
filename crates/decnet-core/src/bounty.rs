//! Bounties and credentials of one parsed log event (spec §E.2–E.4).
//!
//! The ingest statement trigger calls this (through `decnet.log_bounties`) for
//! every new line, and `decnet.rebuild()` for every stored line, so both see
//! exactly the same extraction.

use crate::addr::parse_ip;
use regex::{Regex, RegexBuilder};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;

pub struct LogEvent<'a> {
    pub service: &'a str,
    pub event_type: &'a str,
    pub attacker_ip: Option<&'a str>,
    pub fields: Fields<'a>,
}

/// The fields of a line, as the ingest trigger has them (just parsed) or as
/// rebuild() reads them back (the stored `fields` jsonb). Both give the same
/// strings, so both extract the same bounties; the first spares every line a
/// JSON object built only to be read.
#[derive(Clone, Copy)]
pub enum Fields<'a> {
    Parsed(&'a [(Cow<'a, str>, Cow<'a, str>)]),
    Stored(&'a Map<String, Value>),
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a str> {
        match *self {
            Fields::Parsed(pairs) => pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_ref()),
            Fields::Stored(map) => map.get(key).and_then(Value::as_str),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    /// `credential` rows go to decnet.credentials, everything else to decnet.bounties.
    pub bounty_type: &'static str,
    pub attacker_ip: Option<String>,
    pub payload: Value,
}

/// Proxies whose forwarding headers are trusted (no ip_leak/spoofed_source from them).
#[derive(Debug, Default, Clone)]
pub struct Config {
    pub trusted_proxies: Vec<(IpAddr, u8)>,
}

impl Config {
    /// A comma list of addresses or CIDRs, as `DECNET_TRUSTED_PROXIES`. Bad entries are ignored.
    pub fn with_trusted_proxies(list: &str) -> Self {
        let trusted_proxies = list
            .split(',')
            .filter_map(|item| {
                let item = item.trim();
                let (addr, bits) = match item.split_once('/') {
                    Some((a, b)) => (a, b.parse().ok()?),
                    None => (item, 128),
                };
                let ip: IpAddr = addr.parse().ok()?;
                let max = if ip.is_ipv4() { 32 } else { 128 };
                Some((ip, bits.min(max)))
            })
            .collect();
        Config { trusted_proxies }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|&(net, bits)| in_net(ip, net, bits))
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits as u32)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits as u32)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl LogEvent<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key)
    }

    /// Python truthiness of a string field.
    fn truthy(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|s| !s.is_empty())
    }

    fn or_null(&self, key: &str) -> Value {
        self.truthy(key)
            .map_or(Value::Null, |s| Value::String(s.to_owned()))
    }

    fn raw(&self, key: &str) -> Value {
        self.get(key)
            .map_or(Value::Null, |s| Value::String(s.to_owned()))
    }
}

pub fn extract(ev: &LogEvent<'_>, cfg: &Config) -> Vec<Extracted> {
    let mut out = Vec::new();
    let own_ip = ev.attacker_ip.map(str::to_owned);
    let mut push = |bounty_type: &'static str, attacker_ip: Option<String>, payload: Value| {
        out.push(Extracted {
            bounty_type,
            attacker_ip,
            payload,
        });
    };
    if let Some(cred) = credential(ev) {
        push("credential", own_ip.clone(), cred);
    }
    let headers = headers_of(ev);
    // 1. User-Agent, any service
    if let Some(ua) =
        header_exact(&headers, "User-Agent").or_else(|| header_exact(&headers, "user-agent"))
    {
        let c = classify_ua(ua);
        let signals = if c.signals.is_empty() {
            Value::Null
        } else {
            json!(c.signals)
        };
        push(
            "fingerprint",
            own_ip.clone(),
            json!({"fingerprint_type": "http_useragent", "value": ua, "category": c.category, "tool": c.tool,
                   "signals": signals, "method": ev.raw("method"), "path": ev.raw("path")}),
        );
    }
    // 2. forwarding-header claims, 3. header order/casing quirks
    if ev.service == "http" && !headers.is_empty() {
        if let Some((bounty_type, payload)) = source_claim(&headers, ev.attacker_ip, cfg) {
            push(bounty_type, own_ip.clone(), payload);
        }
        push("fingerprint", own_ip.clone(), http_quirks(&headers));
    }
    // 4.
    if let (Some(v), "version") = (ev.truthy("client_version"), ev.event_type) {
        push(
            "fingerprint",
            own_ip.clone(),
            json!({"fingerprint_type": "vnc_client_version", "value": v}),
        );
    }
    if ev.service == "sniffer" {
        if let Some(ja3) = ev.truthy("ja3") {
            push(
                "fingerprint",
                own_ip.clone(),
                json!({"fingerprint_type": "ja3", "ja3": ja3, "ja3s": ev.raw("ja3s"),
                "ja4": ev.raw("ja4"), "ja4s": ev.raw("ja4s"), "tls_version": ev.raw("tls_version"),
                "sni": ev.or_null("sni"), "alpn": ev.or_null("alpn"), "dst_port": ev.raw("dst_port"),
                "raw_ciphers": ev.raw("raw_ciphers"), "raw_extensions": ev.raw("raw_extensions")}),
            );
        }
        if let Some(rtt) = ev.truthy("ja4l_rtt_ms") {
            push(
                "fingerprint",
                own_ip.clone(),
                json!({"fingerprint_type": "ja4l", "rtt_ms": rtt, "client_ttl": ev.raw("ja4l_client_ttl")}),
            );
        }
        if let Some(m) = ev.truthy("resumption") {
            push(
                "fingerprint",
                own_ip.clone(),
                json!({"fingerprint_type": "tls_resumption", "mechanisms": m}),
            );
        }
        if let Some(cn) = ev.truthy("subject_cn") {
            push(
                "fingerprint",
                own_ip.clone(),
                json!({"fingerprint_type": "tls_certificate", "subject_cn": cn,
                "issuer": ev.raw("issuer"), "self_signed": ev.raw("self_signed"), "not_before": ev.raw("not_before"),
                "not_after": ev.raw("not_after"), "sans": ev.raw("sans"), "sni": ev.or_null("sni")}),
            );
        }
    }
    if ev.service == "prober" {
        prober_bounties(ev, &mut push);
    }
    // 14. captured artifacts
    if let Some(stored_as) = ev.truthy("stored_as") {
        let p = match ev.event_type {
            "file_captured" => Some(
                json!({"kind": "file", "stored_as": stored_as, "sha256": ev.raw("sha256"),
                "size": ev.raw("size"), "orig_path": ev.raw("orig_path"), "attribution": ev.raw("attribution"),
                "writer_comm": ev.raw("writer_comm")}),
            ),
            "message_stored" => Some(
                json!({"kind": "mail", "stored_as": stored_as, "sha256": ev.raw("sha256"),
                "size": ev.raw("size"), "subject": ev.raw("subject"), "from_hdr": ev.raw("from_hdr"), "to_hdr": ev.raw("to_hdr"),
                "mail_from": ev.raw("mail_from"), "rcpt_to": ev.raw("rcpt_to"), "attachment_count": ev.raw("attachment_count"),
                "content_type": ev.raw("content_type")}),
            ),
            _ => None,
        };
        if let Some(p) = p {
            push("artifact", own_ip.clone(), p);
        }
    }
    // 15.–17. HTTP/QUIC protocol fingerprints
    match ev.event_type {
        "http_request_fingerprint" => {
            if let Some(ja4h) = ev.truthy("ja4h") {
                let protocol = ev.truthy("proto").or(ev.truthy("protocol")).unwrap_or("h1");
                push(
                    "fingerprint",
                    own_ip.clone(),
                    json!({"fingerprint_type": "ja4h", "ja4h": ja4h, "protocol": protocol,
                    "method": ev.raw("method"), "path": ev.raw("path"), "remote_port": ev.raw("remote_port")}),
                );
            }
        }
        t @ ("http2_settings" | "http3_settings") => {
            let protocol = if t == "http2_settings" { "h2" } else { "h3" };
            push(
                "fingerprint",
                own_ip.clone(),
                json!({"fingerprint_type": t, "settings": ev.raw("settings"),
                "frame_order": ev.raw("frame_order"), "protocol": protocol, "remote_port": ev.raw("remote_port")}),
            );
        }
        "quic_client_hello" => {
            if let Some(q) = ev.truthy("ja4_quic") {
                push(
                    "fingerprint",
                    own_ip.clone(),
                    json!({"fingerprint_type": "ja4_quic", "ja4_quic": q,
                    "sni": ev.or_null("sni"), "alpn": ev.or_null("alpn"), "raw_ciphers": ev.raw("raw_ciphers")}),
                );
            }
        }
        _ => {}
    }
    out
}

/// E.2: a `secret_b64` field with valid base64 is a captured credential.
fn credential(ev: &LogEvent<'_>) -> Option<Value> {
    use base64::engine::{general_purpose::GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    let b64 = ev.get("secret_b64")?;
    // ^[A-Za-z0-9+/]*={0,2}$
    let body = b64.trim_end_matches('=');
    if b64.len() - body.len() > 2
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    {
        return None;
    }
    // Python's b64decode(validate=True) accepts non-zero trailing bits.
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let secret = engine.decode(b64).ok()?;
    let principal = ev.truthy("principal").or(ev.truthy("username"));
    Some(json!({
        "principal": principal.map(|p| truncate_chars(p, 256)),
        "secret_kind": ev.truthy("secret_kind").unwrap_or("plaintext"),
        "secret_sha256": hex(&Sha256::digest(&secret)),
        "secret_b64": truncate_chars(b64, 2048),
        "secret_printable": ev.get("secret_printable").map(|p| truncate_chars(p, 512)),
        "outcome": ev.raw("outcome"),
    }))
}

fn truncate_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// Payload members that describe one sighting of a fingerprint (the request,
/// the client's port), not the fingerprint itself: the dedup key leaves them
/// out, so a fingerprint is stored once per attacker with its first sighting's
/// values (correction #47). DECNET keys on them, which stores a "fingerprint"
/// per request path or per connection.
pub fn sighting_members(payload: &Value) -> &'static [&'static str] {
    match payload.get("fingerprint_type").and_then(Value::as_str) {
        Some("http_useragent") => &["method", "path"],
        Some("ja4h") => &["method", "path", "remote_port"],
        Some("http2_settings" | "http3_settings") => &["remote_port"],
        _ => &[],
    }
}

/// The dedup key of a bounty payload: SHA-256 of its JSON with object keys
/// sorted at every level and no whitespace, less its sighting members. The
/// same content gives the same key whether it comes from the extractor or back
/// out of a jsonb column.
pub fn payload_key(payload: &Value) -> [u8; 32] {
    // Written straight into a buffer (no sorted copy of the payload): scalars
    // and keys by serde_json itself, so the text is what to_string() gives.
    fn write_sorted(v: &Value, skip: &[&str], out: &mut Vec<u8>) {
        match v {
            Value::Object(m) => {
                let mut entries: Vec<(&String, &Value)> = m
                    .iter()
                    .filter(|(k, _)| !skip.contains(&k.as_str()))
                    .collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push(b'{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, k).expect("writing to a Vec cannot fail");
                    out.push(b':');
                    write_sorted(v, &[], out);
                }
                out.push(b'}');
            }
            Value::Array(a) => {
                out.push(b'[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_sorted(v, &[], out);
                }
                out.push(b']');
            }
            scalar => {
                serde_json::to_writer(&mut *out, scalar).expect("writing to a Vec cannot fail")
            }
        }
    }
    let mut text = Vec::with_capacity(256);
    write_sorted(payload, sighting_members(payload), &mut text);
    Sha256::digest(&text).into()
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// `fields.headers` as an ordered map (a JSON object, or a string holding one).
fn headers_of(ev: &LogEvent<'_>) -> Vec<(String, String)> {
    let owned;
    let stored = match ev.fields {
        Fields::Stored(map) => map.get("headers"),
        Fields::Parsed(_) => None,
    };
    let text = ev.fields.get("headers");
    let obj = match (stored, text) {
        (Some(Value::Object(o)), _) => o,
        (_, Some(s)) => match crate::json::parse_untrusted(s) {
            Some(Value::Object(o)) => {
                owned = o;
                &owned
            }
            _ => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    obj.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect()
}

fn header_exact<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

const PROXY_HEADERS: [&str; 5] = [
    "Forwarded",
    "X-Forwarded-For",
    "X-Real-IP",
    "True-Client-IP",
    "CF-Connecting-IP",
];

/// E.3 #2: a forwarding header claiming another client address.
fn source_claim(
    headers: &[(String, String)],
    source: Option<&str>,
    cfg: &Config,
) -> Option<(&'static str, Value)> {
    let source_ip = source.filter(|s| !s.is_empty())?;
    if parse_ip(source_ip).is_some_and(|ip| cfg.trusts(ip)) {
        return None;
    }
    let lookup = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let mut seen = Map::new();
    for name in PROXY_HEADERS {
        if let Some((_, raw)) = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            seen.insert(name.to_owned(), Value::String(raw.clone()));
        }
    }
    let (header, claim) = PROXY_HEADERS.iter().find_map(|&name| {
        let value = lookup(name)?;
        let ip = if name == "Forwarded" {
            value.split([',', ';']).find_map(|part| {
                let (k, v) = part.trim().split_once('=')?;
                if !k.trim().eq_ignore_ascii_case("for") {
                    return None;
                }
                forwarded_addr(v.trim().trim_matches('"'))
            })
        } else {
            value.split(',').find_map(|t| parse_ip(t.trim()))
        }?;
        Some((name, ip))
    })?;
    if parse_ip(source_ip) == Some(claim) || source_ip == claim.to_string() {
        return None;
    }
    let category = ip_category(claim);
    if category == "public" {
        Some((
            "ip_leak",
            json!({"source_ip": source_ip, "source_header": header, "headers_seen": seen,
            "real_ip_claim": claim.to_string()}),
        ))
    } else {
        Some((
            "fingerprint",
            json!({"fingerprint_type": "spoofed_source", "source_ip": source_ip,
            "claimed_ip": claim.to_string(), "source_header": header, "headers_seen": seen, "claim_category": category}),
        ))
    }
}

/// RFC 7239 node: `1.2.3.4`, `1.2.3.4:80`, `[v6]`, `[v6]:80`.
fn forwarded_addr(v: &str) -> Option<IpAddr> {
    crate::addr::parse_addr(v).map(|(ip, _)| ip)
}

/// Python `ipaddress` predicates in DECNET's order (E.3 #2).
pub fn ip_category(ip: IpAddr) -> &'static str {
    let nets4: &[(&str, &[(u32, u8)])] = &[
        ("unspecified", &[(0, 32)]),
        ("loopback", &[(0x7f00_0000, 8)]),
        ("link_local", &[(0xa9fe_0000, 16)]),
        ("multicast", &[(0xe000_0000, 4)]),
        ("reserved", &[(0xf000_0000, 4)]),
        (
            "private",
            &[
                (0, 8),
                (0x0a00_0000, 8),
                (0xac10_0000, 12),
                (0xc000_0000, 29),
                (0xc000_00aa, 31),
                (0xc000_0200, 24),
                (0xc0a8_0000, 16),
                (0xc612_0000, 15),
                (0xc633_6400, 24),
                (0xcb00_7100, 24),
                (0xffff_ffff, 32),
            ],
        ),
    ];
    let nets6: &[(&str, &[(u128, u8)])] = &[
        ("unspecified", &[(0, 128)]),
        ("loopback", &[(1, 128)]),
        ("link_local", &[(0xfe80 << 112, 10)]),
        ("multicast", &[(0xff00 << 112, 8)]),
        (
            "reserved",
            &[
                (0, 8),
                (0x0100 << 112, 8),
                (0x0200 << 112, 7),
                (0x0400 << 112, 6),
                (0x0800 << 112, 5),
                (0x1000 << 112, 4),
                (0x4000 << 112, 3),
                (0x6000 << 112, 3),
                (0x8000 << 112, 3),
                (0xa000 << 112, 3),
                (0xc000 << 112, 3),
                (0xe000 << 112, 4),
                (0xf000 << 112, 5),
                (0xf800 << 112, 6),
                (0xfe00 << 112, 9),
            ],
        ),
        (
            "private",
            &[
                (0xffff_0000_0000, 96),
                (0x0100 << 112, 64),
                (0x2001 << 112, 23),
                ((0x2001 << 112) | (0x2 << 96), 48),
                ((0x2001 << 112) | (0xdb8 << 96), 32),
                ((0x2001 << 112) | (0x10 << 96), 28),
                (0xfc00 << 112, 7),
            ],
        ),
    ];
    match ip {
        IpAddr::V4(v4) => {
            let a = u32::from(v4);
            for (name, nets) in nets4 {
                if nets
                    .iter()
                    .any(|&(n, b)| in_net(IpAddr::V4(a.into()), IpAddr::V4(n.into()), b))
                {
                    return name;
                }
            }
        }
        IpAddr::V6(v6) => {
            for (name, nets) in nets6 {
                if nets
                    .iter()
                    .any(|&(n, b)| in_net(IpAddr::V6(v6), IpAddr::V6(n.into()), b))
                {
                    return name;
                }
            }
        }
    }
    "public"
}

const VOLATILE_HEADERS: [&str; 11] = [
    "content-length",
    "cookie",
    "authorization",
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "x-request-id",
    "x-correlation-id",
    "x-amzn-trace-id",
];

/// E.3 #3: order and casing of the stable request headers.
pub fn http_quirks(headers: &[(String, String)]) -> Value {
    let stable: Vec<&str> = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !VOLATILE_HEADERS.contains(&k.to_lowercase().as_str()))
        .collect();
    let lower: Vec<String> = stable.iter().map(|k| k.to_lowercase()).collect();
    let casings: Vec<&str> = stable.iter().map(|k| casing_category(k)).collect();
    let mut distinct = casings.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let dominant = match distinct.as_slice() {
        [] => "empty",
        [one] => one,
        _ => "mixed",
    };
    json!({"fingerprint_type": "http_quirks", "order_hash": short_hash(&lower.join("\n")), "order": stable,
        "casing_hash": short_hash(&casings.join("\n")), "casing_category": dominant, "stable_count": stable.len(),
        "tool_guess": guess_tool_from_order(&lower)})
}

pub fn short_hash(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes())[..8])
}

pub fn casing_category(name: &str) -> &'static str {
    if name.is_empty() {
        "empty"
    } else if name == name.to_uppercase() {
        "upper"
    } else if name == name.to_lowercase() {
        "lower"
    } else if name.split('-').filter(|p| !p.is_empty()).all(|p| {
        let mut cs = p.chars();
        let first = cs.next().expect("non-empty");
        let rest: String = cs.collect();
        first.is_uppercase() && rest == rest.to_lowercase()
    }) {
        "title"
    } else {
        "mixed"
    }
}

pub fn guess_tool_from_order(lower: &[String]) -> Option<&'static str> {
    let table: [(&str, &[&str]); 4] = [
        ("curl", &["host", "user-agent", "accept"]),
        (
            "python-requests",
            &[
                "host",
                "user-agent",
                "accept-encoding",
                "accept",
                "connection",
            ],
        ),
        ("go-http-client", &["host", "user-agent", "accept-encoding"]),
        ("nmap-nse", &["host", "user-agent"]),
    ];
    table
        .iter()
        .find(|(_, prefix)| {
            lower.len() >= prefix.len() && lower.iter().zip(prefix.iter()).all(|(a, b)| a == b)
        })
        .map(|(t, _)| *t)
}

fn prober_bounties(ev: &LogEvent<'_>, push: &mut impl FnMut(&'static str, Option<String>, Value)) {
    // The prober probes the attacker: target_ip is the attacker. The line's own
    // attacker address (the parser's choice among the IP fields) wins when it has
    // one, so a bounty never names an address its line is not keyed on.
    let target = ev
        .attacker_ip
        .map(str::to_owned)
        .or_else(|| ev.truthy("target_ip").map(str::to_owned));
    let (tip, tport) = (ev.raw("target_ip"), ev.raw("target_port"));
    if let Some(h) = ev.truthy("jarm_hash") {
        push(
            "fingerprint",
            target.clone(),
            json!({"fingerprint_type": "jarm", "hash": h, "target_ip": tip, "target_port": tport}),
        );
    }
    if let Some(cn) = ev.truthy("subject_cn") {
        push(
            "fingerprint",
            target.clone(),
            json!({"fingerprint_type": "tls_certificate", "subject_cn": cn, "issuer": ev.raw("issuer"),
            "self_signed": ev.raw("self_signed"), "not_before": ev.raw("not_before"), "not_after": ev.raw("not_after"),
            "sans": ev.raw("sans"), "cert_sha256": ev.raw("cert_sha256"), "target_ip": tip, "target_port": tport}),
        );
    }
    if let Some(h) = ev.truthy("hassh_server_hash") {
        push(
            "fingerprint",
            target.clone(),
            json!({"fingerprint_type": "hassh_server", "hash": h, "target_ip": tip, "target_port": tport,
            "ssh_banner": ev.raw("ssh_banner"), "kex_algorithms": ev.raw("kex_algorithms"), "encryption_s2c": ev.raw("encryption_s2c"),
            "mac_s2c": ev.raw("mac_s2c"), "compression_s2c": ev.raw("compression_s2c")}),
        );
    }
    if let Some(h) = ev.truthy("tcpfp_hash") {
        push(
            "fingerprint",
            target.clone(),
            json!({"fingerprint_type": "tcpfp", "hash": h, "raw": ev.raw("tcpfp_raw"), "target_ip": tip,
            "target_port": tport, "ttl": ev.raw("ttl"), "window_size": ev.raw("window_size"), "df_bit": ev.raw("df_bit"),
            "mss": ev.raw("mss"), "window_scale": ev.raw("window_scale"), "sack_ok": ev.raw("sack_ok"),
            "timestamp": ev.raw("timestamp"), "options_order": ev.raw("options_order")}),
        );
    }
    let icmp_ip = target.clone();
    let probe = |returned: &str, rtt: &str, hop: Option<&str>| {
        let mut o = json!({"returned": ev.get(returned) == Some("1"), "rtt_ms": ev.or_null(rtt)});
        if let Some(h) = hop {
            o["src_ip"] = ev.or_null(h);
        }
        o
    };
    if let Some(h) = ev.truthy("icmp_fp_hash") {
        push(
            "fingerprint",
            icmp_ip.clone(),
            json!({"fingerprint_type": "icmp_error", "matrix": ev.raw("icmp_matrix"), "fp_hash": h,
            "errors": {
                "port_unreachable": probe("icmp_port_unreach", "icmp_port_unreach_rtt_ms", None),
                "time_exceeded": probe("icmp_time_exceeded", "icmp_time_exceeded_rtt_ms", Some("icmp_time_exceeded_hop")),
                "frag_needed": probe("icmp_frag_needed", "icmp_frag_needed_rtt_ms", None),
                "param_problem": probe("icmp_param_problem", "icmp_param_problem_rtt_ms", None)},
            "target_ip": tip, "target_port": tport}),
        );
    }
    if let Some(h) = ev.truthy("icmp6_fp_hash") {
        push(
            "fingerprint",
            icmp_ip,
            json!({"fingerprint_type": "icmp6_error", "matrix": ev.raw("icmp6_matrix"), "fp_hash": h,
            "errors": {
                "port_unreachable_v6": probe("icmp6_port_unreach", "icmp6_port_unreach_rtt_ms", None),
                "hop_limit_exceeded": probe("icmp6_hop_limit_exceeded", "icmp6_hop_limit_exceeded_rtt_ms", Some("icmp6_hop_limit_exceeded_hop")),
                "unknown_next_header": probe("icmp6_unknown_next_header", "icmp6_unknown_next_header_rtt_ms", None),
                "bad_dest_option": probe("icmp6_bad_dest_option", "icmp6_bad_dest_option_rtt_ms", None)},
            "target_ip": tip, "target_port": tport}),
        );
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UaClass {
    pub category: &'static str,
    pub tool: Option<&'static str>,
    pub signals: Vec<&'static str>,
}

fn ci(pattern: &str) -> Regex {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .expect("static regex")
}

/// E.4 `_classify_ua`.
pub fn classify_ua(ua: &str) -> UaClass {
    // A sensor fleet sees few distinct User-Agents, each many times: remember
    // the last few thousand answers (the regex tables were a quarter of the
    // ingest trigger's bounty time). Bounded, so hostile variety cannot grow it.
    const CACHED: usize = 4096;
    const CACHED_LEN: usize = 512;
    thread_local! {
        static SEEN: std::cell::RefCell<std::collections::HashMap<String, UaClass>> = Default::default();
    }
    if ua.len() > CACHED_LEN {
        return classify_ua_uncached(ua);
    }
    if let Some(c) = SEEN.with_borrow(|seen| seen.get(ua).cloned()) {
        return c;
    }
    let c = classify_ua_uncached(ua);
    SEEN.with_borrow_mut(|seen| {
        if seen.len() >= CACHED {
            seen.clear();
        }
        seen.insert(ua.to_owned(), c.clone());
    });
    c
}

fn classify_ua_uncached(ua: &str) -> UaClass {
    if ua.is_empty() {
        return UaClass {
            category: "empty",
            tool: None,
            signals: Vec::new(),
        };
    }
    let mut signals = Vec::new();
    let chars = ua.chars().count();
    if chars < 8 {
        signals.push("suspicious_short");
    }
    if chars > 512 {
        signals.push("suspicious_long");
    }
    if ua.chars().any(|c| (c as u32) < 32 && c != '\t') {
        signals.push("nonprintable");
    }
    let low = ua.to_lowercase();
    if [
        "<script",
        "';",
        "' or '",
        "' or 1",
        "1=1",
        "' --",
        "/../",
        "/etc/passwd",
        "${jndi:",
        "{{",
    ]
    .iter()
    .any(|n| low.contains(n))
    {
        signals.push("injection_like");
    }
    type Table = Vec<(Regex, Option<&'static str>)>;
    static TABLES: OnceLock<[Table; 4]> = OnceLock::new();
    let [scanner, cli, library, other] = TABLES.get_or_init(|| {
        let scanners = [
            "nmap",
            "masscan",
            "zgrab",
            "zmap",
            "Nuclei",
            "sqlmap",
            "gobuster",
            "dirb",
            "dirbuster",
            "nikto",
            "feroxbuster",
            "wfuzz",
            "ffuf",
            "wpscan",
            "katana",
            "Burp",
            "Acunetix",
            "Nessus",
            "OpenVAS",
            "Arachni",
            "WhatWeb",
            "Wappalyzer",
            "SploitScan",
        ];
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        [
            scanners
                .iter()
                .map(|n| (ci(&format!(r"\b{n}\b")), Some(leak(n.to_lowercase()))))
                .collect(),
            [
                ("^curl/", "curl"),
                ("^Wget/", "wget"),
                ("^HTTPie/", "httpie"),
                ("^xh/", "xh"),
                ("^fetch/", "fetch"),
            ]
            .iter()
            .map(|(p, t)| (ci(p), Some(*t)))
            .collect(),
            [
                ("^python-requests/", "python-requests"),
                ("^aiohttp/", "aiohttp"),
                ("^httpx/", "httpx"),
                ("^urllib/", "urllib"),
                ("^Python-urllib/", "urllib"),
                (r"^Python/\d", "python-stdlib"),
                ("^Go-http-client/", "go-stdlib"),
                ("^go-resty/", "go-resty"),
                (r"^Java/\d", "java-stdlib"),
                ("^okhttp/", "okhttp"),
                ("^Apache-HttpClient/", "apache-httpclient"),
                ("^Jersey/", "jersey"),
                ("^axios/", "axios"),
                ("^node-fetch/", "node-fetch"),
                (r"^got\s?\(|^got/", "got"),
                ("^undici", "undici"),
                (r"^PHP/\d", "php-stdlib"),
                ("GuzzleHttp/", "guzzle"),
                (r"^Ruby\b", "ruby-stdlib"),
                (r"^Faraday\b", "faraday"),
                ("^HTTParty", "httparty"),
                (r"^\.NET/|System\.Net\.Http|RestSharp/", "dotnet"),
                ("^PostmanRuntime/", "postman"),
                ("^Insomnia/", "insomnia"),
            ]
            .iter()
            .map(|(p, t)| (ci(p), Some(*t)))
            .collect(),
            vec![
                (ci("(bot|crawler|spider|slurp|monitor)"), None),
                (ci(r"^Mozilla/\d"), None),
            ],
        ]
    });
    let hit = |table: &Table| {
        table
            .iter()
            .find(|(re, _)| re.is_match(ua))
            .map(|(_, t)| *t)
    };
    let (category, tool) = if let Some(t) = hit(scanner) {
        ("scanner", t)
    } else if let Some(t) = hit(cli) {
        ("cli", t)
    } else if let Some(t) = hit(library) {
        ("library", t)
    } else if other[0].0.is_match(ua) {
        ("bot", None)
    } else if other[1].0.is_match(ua) {
        ("browser", None)
    } else {
        ("nonstandard", None)
    };
    UaClass {
        category,
        tool,
        signals,
    }
}
