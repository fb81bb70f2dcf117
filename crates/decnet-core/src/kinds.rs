//! Event kinds and per-service buckets (spec §C), DECNET's vocabulary verbatim.

/// Event types that mean the attacker did something beyond connecting (21 entries).
pub const INTERACTION_EVENT_TYPES: [&str; 21] = [
    "command",
    "exec",
    "query",
    "input",
    "shell_input",
    "execute",
    "run",
    "sql_query",
    "redis_command",
    "ldap_search",
    "mail_from",
    "rcpt_to",
    "rcpt_denied",
    "message_accepted",
    "file_captured",
    "upload",
    "download_attempt",
    "retr",
    "publish",
    "subscribe",
    "session_recorded",
];

/// Event types a service logs about itself, not about an attacker (8 entries).
pub const NOISE_EVENT_TYPES: [&str; 8] = [
    "startup",
    "shutdown",
    "config_error",
    "parse_error",
    "unknown_packet",
    "unknown_opcode",
    "unknown_command",
    "protocol_error",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    // Ordered by rank: a service's bucket is its highest-ranked kind.
    Noise,
    Scan,
    Interaction,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Interaction => "interaction",
            EventKind::Scan => "scan",
            EventKind::Noise => "noise",
        }
    }
}

/// Interaction, noise, or (the default for anything else, `""` and `"-"` included) scan.
pub fn classify_event_kind(event_type: &str) -> EventKind {
    if INTERACTION_EVENT_TYPES.contains(&event_type) {
        EventKind::Interaction
    } else if NOISE_EVENT_TYPES.contains(&event_type) {
        EventKind::Noise
    } else {
        EventKind::Scan
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ServiceBuckets {
    pub interacted: Vec<String>,
    pub scanned: Vec<String>,
}

/// Per service, the highest kind among its events wins; noise-only services
/// are dropped. Both lists are sorted. A missing event type (NIL MSGID) is `"-"`, a scan.
pub fn bucket_services<'a>(
    pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> ServiceBuckets {
    let mut best: std::collections::BTreeMap<&str, EventKind> = Default::default();
    for (service, event_type) in pairs {
        let kind = classify_event_kind(event_type.unwrap_or("-"));
        let slot = best.entry(service).or_insert(kind);
        *slot = (*slot).max(kind);
    }
    let mut out = ServiceBuckets::default();
    for (service, kind) in best {
        match kind {
            EventKind::Interaction => out.interacted.push(service.to_owned()),
            EventKind::Scan => out.scanned.push(service.to_owned()),
            EventKind::Noise => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! decnet-cases.md §2 (tests/correlation/test_event_kinds.py).
    use super::*;

    #[test]
    fn vocabulary() {
        for t in [
            "command",
            "shell_input",
            "sql_query",
            "redis_command",
            "exec",
            "mail_from",
            "rcpt_to",
            "message_accepted",
            "file_captured",
            "upload",
            "retr",
            "publish",
            "subscribe",
        ] {
            assert_eq!(classify_event_kind(t), EventKind::Interaction, "{t}");
        }
        for t in ["startup", "shutdown", "parse_error", "unknown_command"] {
            assert_eq!(classify_event_kind(t), EventKind::Noise, "{t}");
        }
        for t in [
            "connection",
            "disconnect",
            "tls_client_hello",
            "auth_attempt",
            "banner",
            "get_request",
            "head_request",
            "some_future_verb",
            "",
            "-",
        ] {
            assert_eq!(classify_event_kind(t), EventKind::Scan, "{t:?}");
        }
        assert!(INTERACTION_EVENT_TYPES
            .iter()
            .all(|t| !NOISE_EVENT_TYPES.contains(t)));
    }

    fn buckets(pairs: &[(&'static str, &'static str)]) -> (Vec<String>, Vec<String>) {
        let b = bucket_services(pairs.iter().map(|&(s, e)| (s, Some(e))));
        (b.interacted, b.scanned)
    }

    #[test]
    fn bucketing() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            buckets(&[("ssh", "connection"), ("ssh", "shell_input")]),
            (v(&["ssh"]), v(&[]))
        );
        assert_eq!(
            buckets(&[("bus", "startup"), ("bus", "shutdown")]),
            (v(&[]), v(&[]))
        );
        assert_eq!(
            buckets(&[
                ("http", "connection"),
                ("http", "get_request"),
                ("ssh", "connection"),
                ("ssh", "auth_attempt"),
                ("ssh", "shell_input"),
                ("ftp", "retr"),
                ("mongo", "connection")
            ]),
            (v(&["ftp", "ssh"]), v(&["http", "mongo"]))
        );
        assert_eq!(buckets(&[]), (v(&[]), v(&[])));
        assert_eq!(
            buckets(&[
                ("zzz", "command"),
                ("aaa", "command"),
                ("mmm", "connection")
            ]),
            (v(&["aaa", "zzz"]), v(&["mmm"]))
        );
        // NIL msgid counts as a scan
        assert_eq!(bucket_services([("ssh", None)]).scanned, v(&["ssh"]));
    }
}
