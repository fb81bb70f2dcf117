//! What one INSERT/COPY statement adds to the attacker profiles, accumulated row
//! by row while the lines are parsed, and merged into the derived tables once
//! per statement (sql/ingest_merge.sql). Grouping happens here, in memory, so the
//! database sees one row per key instead of one per line.

use crate::bounty::{self, Config};
use crate::kinds::{classify_event_kind, EventKind};
use crate::syslog::ParsedLine;
use foldhash::HashMap; // seeded per process: attacker-chosen keys cannot aim at collisions
use serde_json::Value;
use std::collections::hash_map::Entry;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// Services that are sensors observing the attacker, not services it used.
pub fn is_sensor_service(service: &str) -> bool {
    matches!(service, "sniffer" | "prober")
}

/// DECNET's own hosts (decnet-prober, decnet-correlator) are never deckies.
pub fn is_infrastructure_decky(decky: &str) -> bool {
    decky.starts_with("decnet-")
}

/// Event types whose command text is kept (spec §D.3), and the fields it may be in.
pub const COMMAND_EVENT_TYPES: [&str; 9] = [
    "command",
    "exec",
    "query",
    "input",
    "shell_input",
    "execute",
    "run",
    "sql_query",
    "redis_command",
];
pub const COMMAND_FIELDS: [&str; 6] = ["command", "query", "input", "line", "sql", "cmd"];

pub fn command_text<'a>(
    event_type: Option<&str>,
    field: impl Fn(&str) -> Option<&'a str>,
) -> Option<&'a str> {
    if !COMMAND_EVENT_TYPES.contains(&event_type?) {
        return None;
    }
    COMMAND_FIELDS
        .iter()
        .find_map(|k| field(k).filter(|v| !v.is_empty()))
}

/// Keys that can yield a bounty or credential; lines without any are not examined.
pub const BOUNTY_KEYS: [&str; 15] = [
    "secret_b64",
    "headers",
    "ja3",
    "ja4l_rtt_ms",
    "resumption",
    "subject_cn",
    "jarm_hash",
    "hassh_server_hash",
    "tcpfp_hash",
    "icmp_fp_hash",
    "icmp6_fp_hash",
    "client_version",
    "stored_as",
    "ja4h",
    "ja4_quic",
];

/// Event types that yield a bounty whatever their fields (spec §E.3 #16).
pub const BOUNTY_EVENT_TYPES: [&str; 2] = ["http2_settings", "http3_settings"];

pub fn may_have_bounty(event_type: Option<&str>, has_key: impl Fn(&str) -> bool) -> bool {
    BOUNTY_KEYS.iter().any(|k| has_key(k))
        || event_type.is_some_and(|t| BOUNTY_EVENT_TYPES.contains(&t))
}

/// Time span of a group: `ts` may be NULL (unparseable), and then does not count.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Span {
    pub first: Option<i64>,
    pub last: Option<i64>,
}

impl Span {
    fn join(&mut self, other: Span) {
        self.add(other.first);
        self.add(other.last);
    }

    fn add(&mut self, ts: Option<i64>) {
        if let Some(t) = ts {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct AttackerDelta {
    pub events: i64,
    pub commands: i64,
    pub span: Span,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ServiceDelta {
    pub events: i64,
    pub interaction: i64,
    pub scan: i64,
    pub noise: i64,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeckyDelta {
    pub events: i64,
    pub first_log_id: i64,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandRow {
    pub log_id: i64,
    pub ts: Option<i64>,
    pub service: Option<String>,
    pub decky: Option<String>,
    pub command: String,
}

impl CommandRow {
    /// (ts, id) with NULL times last: the order "first" and "last" commands are taken in.
    fn order_key(&self) -> (bool, i64, i64) {
        (self.ts.is_none(), self.ts.unwrap_or(0), self.log_id)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BountyDelta {
    pub payload: Value,
    pub decky: Option<String>,
    pub service: Option<String>,
    pub first_log_id: i64,
    pub seen: i64,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CredentialDelta {
    pub secret_b64: Option<String>,
    pub secret_printable: Option<String>,
    pub outcome: Option<String>,
    pub outcome_log_id: Option<i64>,
    pub first_log_id: i64,
    pub attempts: i64,
    pub span: Span,
}

impl BountyDelta {
    /// Adds the sightings of `other`: counts add, the span widens, and the
    /// first sighting's decky, service and payload (request, port) are kept.
    fn join(&mut self, other: BountyDelta) {
        self.seen += other.seen;
        self.span.join(other.span);
        if other.first_log_id < self.first_log_id {
            (self.first_log_id, self.decky, self.service, self.payload) = (
                other.first_log_id,
                other.decky,
                other.service,
                other.payload,
            );
        }
    }
}

impl CredentialDelta {
    /// Adds the attempts of `other`: counts add, the span widens, and the
    /// outcome of the latest line that had one is kept.
    fn join(&mut self, other: CredentialDelta) {
        self.attempts += other.attempts;
        self.first_log_id = self.first_log_id.min(other.first_log_id);
        self.span.join(other.span);
        if other.outcome_log_id > self.outcome_log_id {
            (self.outcome, self.outcome_log_id) = (other.outcome, other.outcome_log_id);
        }
    }
}

/// (attacker_ip, decky, service, principal, secret_kind, secret_sha256), as decnet.credentials dedups.
pub type CredentialKey = (
    Option<IpAddr>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
);

#[derive(Debug, Default, Clone)]
pub struct StatementDelta {
    pub rows: i64,
    /// The smallest decnet.logs id of the statement (0 when it had no rows).
    pub first_log_id: i64,
    pub attackers: HashMap<IpAddr, AttackerDelta>,
    pub services: HashMap<(IpAddr, String), ServiceDelta>,
    pub deckies: HashMap<(IpAddr, String), DeckyDelta>,
    commands: HashMap<IpAddr, Vec<CommandRow>>,
    /// Keyed by (bounty_type, attacker_ip, bounty::payload_key(payload)), as decnet.bounties dedups.
    pub bounties: HashMap<(&'static str, Option<IpAddr>, [u8; 32]), BountyDelta>,
    pub credentials: HashMap<CredentialKey, CredentialDelta>,
    /// Recipients per (attacker, victim domain).
    pub smtp_targets: HashMap<(IpAddr, String), SmtpDelta>,
    /// Prober hash observations (fingerprint rotation), one per line.
    pub probes: Vec<ProbeRow>,
    /// IPv6 link-local leaks per (attacker, link-local address).
    pub ipv6_leaks: HashMap<(IpAddr, IpAddr), LeakDelta>,
    /// The decnet.logs ids of the lines, in the order added: a delta whose
    /// merge is put off (decnet.merge_queue) is rebuilt from them.
    pub log_ids: Vec<i64>,
}

/// One prober line's hash for (attacker, probe type, port), spec G.3.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRow {
    pub attacker_ip: IpAddr,
    pub probe_type: &'static str,
    pub port: i32,
    pub hash: String,
    pub ts: i64,
    pub log_id: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeakDelta {
    pub leaks: i64,
    pub span: Span,
    /// The IPv4 addresses the sensor tied the leak to.
    pub attacker_v4: BTreeSet<IpAddr>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct SmtpDelta {
    pub recipients: i64,
    pub span: Span,
}

impl StatementDelta {
    /// Adds one stored line (`log_id` is its decnet.logs id).
    pub fn add(&mut self, log_id: i64, p: &ParsedLine<'_>, cfg: &Config, keep_commands: usize) {
        self.rows += 1;
        self.first_log_id = if self.rows == 1 {
            log_id
        } else {
            self.first_log_id.min(log_id)
        };
        self.log_ids.push(log_id);
        let owned = |s: Option<&str>| s.map(str::to_owned);
        if let Some(ip) = p.attacker_ip {
            let a = self.attackers.entry(ip).or_default();
            a.events += 1;
            a.span.add(p.ts);
            if let Some(service) = p.service.filter(|s| !is_sensor_service(s)) {
                let s = self.services.entry((ip, service.to_owned())).or_default();
                s.events += 1;
                s.span.add(p.ts);
                match classify_event_kind(p.event_type.unwrap_or("-")) {
                    EventKind::Interaction => s.interaction += 1,
                    EventKind::Scan => s.scan += 1,
                    EventKind::Noise => s.noise += 1,
                }
            }
            if let Some(decky) = p.decky.filter(|d| !is_infrastructure_decky(d)) {
                let d = self
                    .deckies
                    .entry((ip, decky.to_owned()))
                    .or_insert(DeckyDelta {
                        events: 0,
                        first_log_id: log_id,
                        span: Span::default(),
                    });
                d.events += 1;
                d.first_log_id = d.first_log_id.min(log_id);
                d.span.add(p.ts);
            }
            if let Some(domain) = p
                .service
                .zip(p.event_type)
                .and_then(|(service, event_type)| {
                    crate::smtp::recipient_domain(service, event_type, p.field("value"))
                })
            {
                let t = self.smtp_targets.entry((ip, domain)).or_default();
                t.recipients += 1;
                t.span.add(p.ts);
            }
            if let Some(command) = command_text(p.event_type, |k| p.field(k)) {
                a.commands += 1;
                let kept = self.commands.entry(ip).or_default();
                kept.push(CommandRow {
                    log_id,
                    ts: p.ts,
                    service: owned(p.service),
                    decky: owned(p.decky),
                    command: command.to_owned(),
                });
                if kept.len() > 4 * keep_commands.max(1) {
                    trim_commands(kept, keep_commands);
                }
            }
        }
        if may_have_bounty(p.event_type, |k| p.field(k).is_some()) {
            self.add_bounties(log_id, p, cfg);
        }
        if let (Some(ip), Some(ts)) = (p.attacker_ip, p.ts) {
            if let Some((probe_type, port, hash)) =
                crate::identity::probe_observation(p.event_type, |k| p.field(k))
            {
                self.probes.push(ProbeRow {
                    attacker_ip: ip,
                    probe_type,
                    port,
                    hash: hash.into_owned(),
                    ts,
                    log_id,
                });
            }
        }
        if let Some((ip, link_local)) = ipv6_leak(p) {
            let l = self
                .ipv6_leaks
                .entry((ip, link_local))
                .or_insert(LeakDelta {
                    leaks: 0,
                    span: Span::default(),
                    attacker_v4: BTreeSet::new(),
                });
            l.leaks += 1;
            l.span.add(p.ts);
            l.attacker_v4
                .extend(crate::identity::leak_attacker_v4(p.field("attacker_v4")));
        }
    }

    fn add_bounties(&mut self, log_id: i64, p: &ParsedLine<'_>, cfg: &Config) {
        let own_ip = p.attacker_ip.map(|ip| ip.to_string());
        let ev = bounty::LogEvent {
            service: p.service.unwrap_or(""),
            event_type: p.event_type.unwrap_or(""),
            attacker_ip: own_ip.as_deref(),
            fields: bounty::Fields::Parsed(&p.fields),
        };
        for b in bounty::extract(&ev, cfg) {
            let ip = b.attacker_ip.as_deref().and_then(crate::addr::parse_ip);
            if b.bounty_type == "credential" {
                let s = |k: &str| b.payload.get(k).and_then(Value::as_str).map(str::to_owned);
                let key = (
                    ip,
                    p.decky.map(str::to_owned),
                    p.service.map(str::to_owned),
                    s("principal"),
                    s("secret_kind").unwrap_or_default(),
                    s("secret_sha256").unwrap_or_default(),
                );
                let outcome = s("outcome");
                let mut span = Span::default();
                span.add(p.ts);
                let attempt = CredentialDelta {
                    secret_b64: s("secret_b64"),
                    secret_printable: s("secret_printable"),
                    outcome_log_id: outcome.is_some().then_some(log_id),
                    outcome,
                    first_log_id: log_id,
                    attempts: 1,
                    span,
                };
                match self.credentials.entry(key) {
                    Entry::Vacant(slot) => {
                        slot.insert(attempt);
                    }
                    Entry::Occupied(mut slot) => slot.get_mut().join(attempt),
                }
            } else {
                let key = bounty::payload_key(&b.payload);
                let mut span = Span::default();
                span.add(p.ts);
                let sighting = BountyDelta {
                    payload: b.payload,
                    decky: p.decky.map(str::to_owned),
                    service: p.service.map(str::to_owned),
                    first_log_id: log_id,
                    seen: 1,
                    span,
                };
                match self.bounties.entry((b.bounty_type, ip, key)) {
                    Entry::Vacant(slot) => {
                        slot.insert(sighting);
                    }
                    Entry::Occupied(mut slot) => slot.get_mut().join(sighting),
                }
            }
        }
    }

    /// Adds the lines of `other` (a later statement of the same transaction):
    /// the result is the delta of both statements' lines, as if one statement
    /// had stored them all. Lets small statements merge once per transaction.
    pub fn absorb(&mut self, other: StatementDelta, keep_commands: usize) {
        if other.rows == 0 {
            return;
        }
        self.first_log_id = if self.rows == 0 {
            other.first_log_id
        } else {
            self.first_log_id.min(other.first_log_id)
        };
        self.rows += other.rows;
        self.log_ids.extend(other.log_ids);
        for (ip, a) in other.attackers {
            let mine = self.attackers.entry(ip).or_default();
            mine.events += a.events;
            mine.commands += a.commands;
            mine.span.join(a.span);
        }
        for (key, s) in other.services {
            let mine = self.services.entry(key).or_default();
            mine.events += s.events;
            mine.interaction += s.interaction;
            mine.scan += s.scan;
            mine.noise += s.noise;
            mine.span.join(s.span);
        }
        for (key, d) in other.deckies {
            let mine = self.deckies.entry(key).or_insert(DeckyDelta {
                events: 0,
                first_log_id: d.first_log_id,
                span: Span::default(),
            });
            mine.events += d.events;
            mine.first_log_id = mine.first_log_id.min(d.first_log_id);
            mine.span.join(d.span);
        }
        for (ip, rows) in other.commands {
            let mine = self.commands.entry(ip).or_default();
            mine.extend(rows);
            trim_commands(mine, keep_commands);
        }
        for (key, b) in other.bounties {
            match self.bounties.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(b);
                }
                Entry::Occupied(mut slot) => slot.get_mut().join(b),
            }
        }
        for (key, c) in other.credentials {
            match self.credentials.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(c);
                }
                Entry::Occupied(mut slot) => slot.get_mut().join(c),
            }
        }
        for (key, t) in other.smtp_targets {
            let mine = self.smtp_targets.entry(key).or_default();
            mine.recipients += t.recipients;
            mine.span.join(t.span);
        }
        self.probes.extend(other.probes);
        for (key, l) in other.ipv6_leaks {
            let mine = self.ipv6_leaks.entry(key).or_insert(LeakDelta {
                leaks: 0,
                span: Span::default(),
                attacker_v4: BTreeSet::new(),
            });
            mine.leaks += l.leaks;
            mine.span.join(l.span);
            mine.attacker_v4.extend(l.attacker_v4);
        }
    }

    /// Command rows held, before trimming to the kept ends.
    pub fn command_rows(&self) -> usize {
        self.commands.values().map(Vec::len).sum()
    }

    /// The commands that can be among an attacker's first or last `keep`, per attacker.
    pub fn kept_commands(&mut self, keep: usize) -> impl Iterator<Item = (IpAddr, &CommandRow)> {
        for rows in self.commands.values_mut() {
            trim_commands(rows, keep);
        }
        self.commands
            .iter()
            .flat_map(|(ip, rows)| rows.iter().map(move |r| (*ip, r)))
    }
}

/// The (attacker, link-local source) of an IPv6 leak line (spec G.6).
pub fn ipv6_leak(p: &ParsedLine<'_>) -> Option<(IpAddr, IpAddr)> {
    Some((
        p.attacker_ip?,
        crate::identity::leaked_link_local(p.event_type, p.field("src_ip"))?,
    ))
}

/// Sorts by (ts, id) and keeps the first and last `keep`.
fn trim_commands(rows: &mut Vec<CommandRow>, keep: usize) {
    rows.sort_by_key(CommandRow::order_key);
    if rows.len() > 2 * keep {
        rows.drain(keep..rows.len() - keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syslog::parse_line;

    fn delta(lines: &[&str]) -> StatementDelta {
        let mut d = StatementDelta::default();
        for (i, l) in lines.iter().enumerate() {
            d.add(i as i64 + 1, &parse_line(l), &Config::default(), 2);
        }
        d
    }

    /// A delta built from statements one after another and absorbed equals the
    /// delta of one statement holding every line (what per-transaction merging relies on).
    #[test]
    fn absorbed_statements_equal_one_statement() {
        let corpus: Vec<String> = vec![
            r#"<134>1 2026-05-01T00:00:01Z decky-01 ssh - connection [relay@55555 src_ip="45.83.12.9"]"#.into(),
            r#"<134>1 2026-05-01T00:00:02Z decky-02 auth-helper - auth_attempt [relay@55555 username="root" secret_printable="toor" src_ip="45.83.12.9" outcome="failure"]"#.into(),
            r#"<134>1 2026-05-01T00:00:03Z decky-02 auth-helper - auth_attempt [relay@55555 username="root" secret_printable="toor" src_ip="45.83.12.9" outcome="success"]"#.into(),
            r#"<134>1 2026-05-01T00:00:04Z decky-02 ssh - command [relay@55555 src_ip="45.83.12.9" command="uname -a"]"#.into(),
            r#"<134>1 2026-05-01T00:00:05Z decky-06 http - request [relay@55555 method="GET" path="/a" remote_addr="45.83.12.9" headers="{"User-Agent": "curl/8"}"]"#.into(),
            r#"<134>1 2026-05-01T00:00:00Z decky-06 http - request [relay@55555 method="GET" path="/b" remote_addr="45.83.12.9" headers="{"User-Agent": "curl/8"}"]"#.into(),
            r#"<132>1 2026-05-01T00:00:06Z mail-relay-01 smtp - rcpt_to [relay@55555 src="91.92.240.7" value="x@victim.de"]"#.into(),
            r#"<134>1 2026-05-01T00:00:07Z decnet-prober prober - hassh_fingerprint [relay@55555 target_ip="61.201.61.17" target_port="22" hassh_server_hash="aa"]"#.into(),
            r#"<134>1 2026-05-01T00:00:08Z decky-03 sniffer - ipv6_link_local_leak [relay@55555 src_ip="fe80::aabb:ccff:fedd:eeff" attacker_v4="45.83.12.9"]"#.into(),
            r#"<134>1 2026-05-01T00:00:09Z decky-02 ssh - command [relay@55555 src_ip="45.83.12.9" command="id"]"#.into(),
        ];
        let parsed: Vec<_> = corpus.iter().map(|l| parse_line(l)).collect();
        let cfg = Config::default();
        for split in 0..=parsed.len() {
            let mut whole = StatementDelta::default();
            let (mut first, mut second) = (StatementDelta::default(), StatementDelta::default());
            for (i, p) in parsed.iter().enumerate() {
                whole.add(i as i64 + 1, p, &cfg, 1);
                if i < split {
                    first.add(i as i64 + 1, p, &cfg, 1)
                } else {
                    second.add(i as i64 + 1, p, &cfg, 1)
                }
            }
            first.absorb(second, 1);
            assert_eq!(
                (first.rows, first.first_log_id),
                (whole.rows, whole.first_log_id),
                "split {split}"
            );
            assert_eq!(first.attackers, whole.attackers, "split {split}");
            assert_eq!(first.services, whole.services, "split {split}");
            assert_eq!(first.deckies, whole.deckies, "split {split}");
            assert_eq!(first.bounties, whole.bounties, "split {split}");
            assert_eq!(first.credentials, whole.credentials, "split {split}");
            assert_eq!(first.smtp_targets, whole.smtp_targets, "split {split}");
            assert_eq!(first.ipv6_leaks, whole.ipv6_leaks, "split {split}");
            assert_eq!(first.probes, whole.probes, "split {split}");
            let kept = |d: &mut StatementDelta| {
                let mut v: Vec<(IpAddr, i64)> =
                    d.kept_commands(1).map(|(ip, c)| (ip, c.log_id)).collect();
                v.sort();
                v
            };
            assert_eq!(kept(&mut first), kept(&mut whole), "split {split}");
        }
        assert!(parse_line(&corpus[8]).attacker_ip.is_some());
    }

    /// Correction #47: a User-Agent (or JA4H) seen on many requests is one
    /// bounty per attacker, with the first request's method and path.
    #[test]
    fn a_fingerprint_seen_on_many_requests_is_one_bounty() {
        let req = |path: &str, port: u16| {
            format!(
            "<134>1 2026-05-01T00:00:0{}Z decky-01 http - request [relay@55555 remote_addr=\"203.0.113.9:{port}\" method=\"GET\" path=\"{path}\" headers=\"{{\\\"User-Agent\\\": \\\"sqlmap/1.7\\\"}}\"]",
            port % 10)
        };
        let fp = |path: &str, port: u16| {
            format!(
            "<134>1 2026-05-01T00:00:0{}Z decky-01 http - http_request_fingerprint [relay@55555 remote_addr=\"203.0.113.9\" remote_port=\"{port}\" method=\"GET\" path=\"{path}\" ja4h=\"ge11nn05enus_abc_def\"]",
            port % 10)
        };
        let lines = [
            req("/.env", 40001),
            req("/admin", 40002),
            req("/.env", 40003),
            fp("/a", 40004),
            fp("/b", 40005),
        ];
        let d = delta(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        let of = |t: &str| -> Vec<&BountyDelta> {
            d.bounties
                .values()
                .filter(|b| b.payload["fingerprint_type"] == t)
                .collect()
        };
        let ua = of("http_useragent");
        assert_eq!(ua.len(), 1);
        assert_eq!(
            (
                ua[0].seen,
                ua[0].first_log_id,
                ua[0].payload["path"].as_str()
            ),
            (3, 1, Some("/.env"))
        );
        let ja4h = of("ja4h");
        assert_eq!(ja4h.len(), 1);
        assert_eq!(
            (ja4h[0].seen, ja4h[0].payload["remote_port"].as_str()),
            (2, Some("40004"))
        );
        // the fingerprint itself still tells bounties apart
        let other = req("/x", 40006).replace("sqlmap/1.7", "curl/8.0");
        let d2 = delta(&[lines[0].as_str(), other.as_str()]);
        assert_eq!(
            d2.bounties
                .values()
                .filter(|b| b.payload["fingerprint_type"] == "http_useragent")
                .count(),
            2
        );
    }

    #[test]
    fn sensors_and_infrastructure_are_left_out() {
        let d = delta(&[
            r#"<134>1 2026-05-01T00:00:02+00:00 decky-02 sniffer - tcp_syn_fingerprint [relay@55555 src_ip="1.1.1.1"]"#,
            r#"<134>1 2026-05-01T00:00:09+00:00 decnet-prober prober - hassh_fingerprint [relay@55555 target_ip="1.1.1.1" hassh_server_hash="abc"]"#,
            r#"<134>1 2026-05-01T00:00:01+00:00 decky-01 ssh - connection [relay@55555 src_ip="1.1.1.1"]"#,
        ]);
        let ip: IpAddr = "1.1.1.1".parse().unwrap();
        assert_eq!(d.attackers[&ip].events, 3);
        assert_eq!(
            d.services
                .keys()
                .map(|(_, s)| s.as_str())
                .collect::<Vec<_>>(),
            vec!["ssh"]
        );
        let mut deckies: Vec<_> = d.deckies.keys().map(|(_, s)| s.as_str()).collect();
        deckies.sort();
        assert_eq!(deckies, vec!["decky-01", "decky-02"]);
        assert_eq!(d.bounties.len(), 1);
        assert_eq!(
            d.attackers[&ip].span,
            Span {
                first: crate::timestamp::parse_iso8601("2026-05-01T00:00:01Z"),
                last: crate::timestamp::parse_iso8601("2026-05-01T00:00:09Z")
            }
        );
    }

    #[test]
    fn commands_keep_both_ends_in_time_order() {
        let lines: Vec<String> = [5, 1, 4, 2, 3, 6]
            .iter()
            .map(|s| format!(r#"<134>1 2026-05-01T00:00:0{s}+00:00 d ssh - command [relay@55555 src_ip="1.1.1.1" command="c{s}"]"#))
            .collect();
        let mut d = delta(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        let kept: Vec<String> = d.kept_commands(2).map(|(_, c)| c.command.clone()).collect();
        assert_eq!(kept, vec!["c1", "c2", "c5", "c6"]);
        assert_eq!(
            d.attackers[&"1.1.1.1".parse::<IpAddr>().unwrap()].commands,
            6
        );
    }

    #[test]
    fn bounties_and_credentials_group_by_key() {
        let cred = r#"<134>1 2026-05-01T00:00:01+00:00 decky-01 auth-helper - auth_attempt [relay@55555 username="root" secret_b64="aHVudGVyMg==" src_ip="1.1.1.1"]"#;
        let ua = r#"<134>1 2026-05-01T00:00:02+00:00 decky-01 http - request [relay@55555 remote_addr="1.1.1.1:1" headers="{\"User-Agent\": \"curl/8\"}"]"#;
        let d = delta(&[cred, ua, cred, ua]);
        assert_eq!(d.credentials.len(), 1);
        assert_eq!(d.credentials.values().next().unwrap().attempts, 2);
        // http_useragent + http_quirks, each seen twice, first at line 2
        assert_eq!(d.bounties.len(), 2);
        assert!(d
            .bounties
            .values()
            .all(|b| b.seen == 2 && b.first_log_id == 2));
    }

    #[test]
    fn smtp_recipients_are_counted_once() {
        let ev = |evt: &str, sd: &str| {
            format!(
                r#"<134>1 2026-05-01T00:00:01+00:00 mail-relay-01 smtp_relay - {evt} [relay@55555 src="9.9.9.9" {sd}]"#
            )
        };
        let lines = [
            ev("rcpt_to", r#"value="<a@one.com>""#),
            ev("rcpt_to", r#"value="<B@ONE.com>""#),
            ev("rcpt_to", r#"value="<c@two.com>""#),
            ev(
                "message_accepted",
                r#"mail_from="<x@evil.com>" rcpt_to="<a@one.com>,<B@ONE.com>,<c@two.com>""#,
            ),
        ];
        let d = delta(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        let ip: IpAddr = "9.9.9.9".parse().unwrap();
        assert_eq!(d.smtp_targets[&(ip, "one.com".to_string())].recipients, 2);
        assert_eq!(d.smtp_targets[&(ip, "two.com".to_string())].recipients, 1);
        assert_eq!(d.smtp_targets.len(), 2);
    }

    #[test]
    fn probes_and_leaks() {
        let d = delta(&[
            r#"<134>1 2026-05-01T00:00:01+00:00 decnet-prober prober - hassh_fingerprint [relay@55555 target_ip="1.1.1.1" target_port="22" hassh_server_hash="h1"]"#,
            r#"<134>1 2026-05-01T00:00:02+00:00 decnet-prober prober - jarm_fingerprint [relay@55555 target_ip="1.1.1.1" target_port="443" jarm_hash=""]"#,
            r#"<134>1 2026-05-01T00:00:03+00:00 decky-01 sniffer - ipv6_link_local_leak [relay@55555 src_ip="fe80::aabb:ccff:fedd:eeff" dst_ip="fe80::1" iid_kind="eui64" mac_oui="a8:bb:cc" on_iface="eth0" attacker_v4=""]"#,
            r#"<134>1 2026-05-01T00:00:04+00:00 decky-01 sniffer - ipv6_link_local_leak [relay@55555 src_ip="fe80::aabb:ccff:fedd:eeff" dst_ip="fe80::1" attacker_v4="10.0.0.9"]"#,
            r#"<134>1 2026-05-01T00:00:05+00:00 decky-01 sniffer - ipv6_link_local_leak [relay@55555 src_ip="2001:db8::1" dst_ip="fe80::1"]"#,
        ]);
        assert_eq!(d.probes.len(), 1);
        assert_eq!(
            (
                d.probes[0].probe_type,
                d.probes[0].port,
                d.probes[0].hash.as_str(),
                d.probes[0].log_id
            ),
            ("hassh", 22, "h1", 1)
        );
        let ll: IpAddr = "fe80::aabb:ccff:fedd:eeff".parse().unwrap();
        assert_eq!(
            d.ipv6_leaks.len(),
            1,
            "a global source is not a link-local leak"
        );
        let l = &d.ipv6_leaks[&(ll, ll)];
        assert_eq!(
            (l.leaks, l.attacker_v4.iter().collect::<Vec<_>>()),
            (2, vec![&"10.0.0.9".parse::<IpAddr>().unwrap()])
        );
    }

    #[test]
    fn command_text_rules() {
        let f = |k: &str| match k {
            "query" => Some("SELECT 1"),
            "command" => Some(""),
            _ => None,
        };
        assert_eq!(command_text(Some("query"), f), Some("SELECT 1"));
        assert_eq!(command_text(Some("connection"), f), None);
        assert_eq!(command_text(None, f), None);
    }
}
