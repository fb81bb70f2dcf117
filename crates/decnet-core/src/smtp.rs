//! SMTP victim domains (spec §D.4, §K.3, §K.4). Only the domain of a recipient
//! is ever kept; local parts never leave the log line.

use regex::Regex;
use std::sync::OnceLock;

const MAX_DOMAIN_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

const BLOCKED_TLDS: [&str; 5] = ["invalid", "test", "localhost", "local", "example"];

/// The services whose recipients count: the credential harvester (`smtp`) and
/// the open relay (`smtp_relay`, which DECNET ignores, §K.4).
pub fn is_smtp_service(service: &str) -> bool {
    matches!(service, "smtp" | "smtp_relay")
}

/// DECNET's `_normalize_smtp_domain`: the domain of the first `local@domain`
/// in the text, lower-cased, dots trimmed, reserved TLDs refused. A bare
/// domain (no `@` at all, e.g. `ACME.com` given to smtp_target_seen) is
/// accepted too.
pub fn normalize_smtp_domain(raw: &str) -> Option<String> {
    static ADDR: OnceLock<Regex> = OnceLock::new();
    static BARE: OnceLock<Regex> = OnceLock::new();
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let addr = ADDR.get_or_init(|| {
        Regex::new(r"<?[^\s<>@]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})>?").expect("static")
    });
    let domain = match addr.captures(raw) {
        Some(c) => c.get(1)?.as_str(),
        None if !raw.contains('@') => {
            let bare = BARE.get_or_init(|| {
                Regex::new(r"^<?([A-Za-z0-9.-]+\.[A-Za-z]{2,})\.?>?$").expect("static")
            });
            bare.captures(raw)?.get(1)?.as_str()
        }
        None => return None,
    };
    let domain = domain.to_ascii_lowercase();
    let domain = domain.trim_matches('.');
    // DNS names are at most 253 characters in labels of at most 63 (RFC 1035):
    // anything longer is no domain, and would not fit an index entry either
    if domain.is_empty()
        || domain.len() > MAX_DOMAIN_LEN
        || domain.split('.').any(|l| l.len() > MAX_LABEL_LEN)
    {
        return None;
    }
    let tld = domain.rsplit('.').next().unwrap_or(domain);
    if BLOCKED_TLDS.contains(&tld) {
        return None;
    }
    Some(domain.to_owned())
}

/// The event types that name one recipient in their `value`.
pub const RECIPIENT_EVENT_TYPES: [&str; 2] = ["rcpt_to", "rcpt_denied"];

/// The recipient domains one SMTP event adds to the counts: one per `rcpt_to`
/// or `rcpt_denied` (its `value`). `message_accepted` adds none: DECNET's
/// emitters log every recipient of a message as its own `rcpt_to` first, so
/// the message's comma-separated list only repeats them (counting it too
/// would count each delivered recipient twice, §K.3).
pub fn recipient_domain(service: &str, event_type: &str, value: Option<&str>) -> Option<String> {
    if !is_smtp_service(service) || !RECIPIENT_EVENT_TYPES.contains(&event_type) {
        return None;
    }
    normalize_smtp_domain(value?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_longer_than_dns_allows_are_no_domain() {
        // issue 15: a 6,000-character recipient domain aborted the whole COPY in the index
        assert_eq!(
            normalize_smtp_domain(&format!("a@{}.com", "b".repeat(6000))),
            None
        );
        let label63 = "c".repeat(63);
        assert_eq!(
            normalize_smtp_domain(&format!("a@{label63}.com")),
            Some(format!("{label63}.com"))
        );
        assert_eq!(normalize_smtp_domain(&format!("a@{label63}c.com")), None);
        let long = format!("{label63}.{label63}.{label63}.{}.com", "d".repeat(57)); // 253 characters
        assert_eq!(long.len(), 253);
        assert_eq!(
            normalize_smtp_domain(&format!("a@{long}")),
            Some(long.clone())
        );
        assert_eq!(normalize_smtp_domain(&format!("a@e{long}")), None);
    }

    #[test]
    fn cases_3_6_and_d4() {
        let cases: &[(&str, Option<&str>)] = &[
            ("<john@corp1.com>", Some("corp1.com")),
            ("JOHN@CORP1.COM", Some("corp1.com")),
            ("<alice@mail.corp.io>", Some("mail.corp.io")),
            ("", None),
            ("notanemail", None),
            ("@nouser.com", None),
            ("user@", None),
            ("admin@foo.invalid", None),
            ("test@bar.test", None),
            ("x@local.example", None),
            ("RCPT TO:<c@d.com>", Some("d.com")),
            ("<Bob@ACME.com>", Some("acme.com")),
            ("a@foo.com123", Some("foo.com")),
            ("a@b.c", None),
            ("a@b@c.com", Some("c.com")),
            ("<a@sub.EXAMPLE.COM.>", Some("sub.example.com")),
            ("u@x.y.test.org", Some("x.y.test.org")),
            ("user@localhost", None),
            ("u@host.local", None),
            ("u@1.2.3.4", None),
            ("u@[1.2.3.4]", None),
            ("\"Name\" <u@dom.io>", Some("dom.io")),
            ("a@-x.com", Some("-x.com")),
        ];
        for &(input, want) in cases {
            assert_eq!(normalize_smtp_domain(input).as_deref(), want, "{input:?}");
        }
    }

    #[test]
    fn bare_domains_for_the_gossip_query() {
        assert_eq!(
            normalize_smtp_domain("ACME.com").as_deref(),
            Some("acme.com")
        );
        assert_eq!(
            normalize_smtp_domain(" acme.com. ").as_deref(),
            Some("acme.com")
        );
        assert_eq!(
            normalize_smtp_domain("<acme.com>").as_deref(),
            Some("acme.com")
        );
        assert_eq!(normalize_smtp_domain("acme.local"), None);
        assert_eq!(normalize_smtp_domain("'; DROP TABLE x; --"), None);
        assert_eq!(normalize_smtp_domain(&"a".repeat(10_000)), None);
    }

    #[test]
    fn which_events_count() {
        assert_eq!(
            recipient_domain("smtp", "rcpt_to", Some("<bob@target.com>")).as_deref(),
            Some("target.com")
        );
        assert_eq!(
            recipient_domain("smtp", "rcpt_denied", Some("<carol@corp.net>")).as_deref(),
            Some("corp.net")
        );
        assert_eq!(
            recipient_domain("smtp_relay", "rcpt_to", Some("x@y.org")).as_deref(),
            Some("y.org")
        );
        assert_eq!(
            recipient_domain("ssh", "rcpt_to", Some("<x@wrong.com>")),
            None
        );
        assert_eq!(
            recipient_domain("smtp", "message_accepted", Some("<a@one.com>")),
            None
        );
        assert_eq!(
            recipient_domain("smtp", "mail_from", Some("<spam@evil.com>")),
            None
        );
    }
}
