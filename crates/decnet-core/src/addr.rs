//! Attacker address extraction (spec §A.3 step 8, §A.4 step 5).
//!
//! Corrections against DECNET (docs/corrections.md):
//! * `host:port` and `[v6]:port` are split; the port never becomes part of
//!   the attacker key (DECNET's profiler keys `1.2.3.4:5555` as its own attacker);
//! * a raw IPv6 address is never split at its last colon (DECNET's collector
//!   turns `2001:db8::1` into `2001:db8:` + port `1`);
//! * an empty or non-address value in one IP field does not stop the search:
//!   the next field, then the message, is tried;
//! * every candidate is validated (`999.1.1.1` is not an address);
//! * IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 attacker `1.2.3.4`.

use regex::Regex;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// SD/field keys that can carry the attacker address, in priority order.
pub const IP_FIELDS: [&str; 7] = [
    "src_ip",
    "src",
    "client_ip",
    "remote_ip",
    "remote_addr",
    "target_ip",
    "ip",
];

/// An address value as sensors write it: `a.b.c.d`, `a.b.c.d:port`,
/// `v6`, `[v6]`, `[v6]:port`. Returns the address and the port if present.
pub fn parse_addr(v: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Some(ip) = parse_ip(v) {
        return Some((ip, None));
    }
    if let Some(inner) = v.strip_prefix('[') {
        let (host, tail) = inner.split_once(']')?;
        let ip = parse_ip(host)?;
        if tail.is_empty() {
            return Some((ip, None));
        }
        let port = parse_port(tail.strip_prefix(':')?)?;
        return Some((ip, Some(port)));
    }
    let (host, port) = v.rsplit_once(':')?;
    // Only IPv4 takes an unbracketed port: `2001:db8::1` parsed as an IP above.
    let ip: Ipv4Addr = host.parse().ok()?;
    Some((IpAddr::V4(ip), Some(parse_port(port)?)))
}

fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A bare address, IPv4-mapped IPv6 folded to IPv4.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(canonical_v6(v6)),
        v4 => Some(v4),
    }
}

fn canonical_v6(v6: Ipv6Addr) -> IpAddr {
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// The attacker address in a free-text message, for lines whose fields carry none.
/// Order (as DECNET's collector): an `ip_field=value` token, then the anchored
/// prose forms (`from X`, `rhost=X`, `client:X`, `src=X`), then the first bare IPv4.
pub fn ip_from_message(msg: &str) -> Option<IpAddr> {
    for token in msg.split_whitespace() {
        if let Some((key, value)) = token.split_once('=') {
            let key = word_suffix(key);
            if IP_FIELDS.contains(&key) {
                if let Some((ip, _)) = parse_addr(value) {
                    return Some(ip);
                }
            }
        }
    }
    static PROSE: OnceLock<Regex> = OnceLock::new();
    static BARE_V4: OnceLock<Regex> = OnceLock::new();
    let prose = PROSE.get_or_init(|| {
        Regex::new(r"(?i)\b(?:from|rhost[:=]|client[:=]|src[:=])\s*(\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:.]+)")
            .expect("static regex")
    });
    if let Some(ip) = prose
        .captures_iter(msg)
        .find_map(|c| parse_ip(c.get(1)?.as_str()))
    {
        return Some(ip);
    }
    let bare =
        BARE_V4.get_or_init(|| Regex::new(r"\b\d{1,3}(?:\.\d{1,3}){3}\b").expect("static regex"));
    bare.find_iter(msg)
        .find_map(|m| m.as_str().parse::<Ipv4Addr>().ok().map(IpAddr::V4))
}

/// Whether a source address can be an attacker's: the unspecified addresses
/// (`0.0.0.0`, `::`) and loopback (`127.0.0.0/8`, `::1`) are this host or no
/// host, never a peer on the network, so a line claiming one is flagged and
/// builds no profile (docs/corrections.md).
pub fn is_attacker_address(ip: IpAddr) -> bool {
    !(ip.is_unspecified() || ip.is_loopback())
}

/// The trailing run of word characters of `s` (what a `(\w+)=` regex would capture).
pub fn word_suffix(s: &str) -> &str {
    let start = s
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_word_char(c))
        .last()
        .map_or(s.len(), |(i, _)| i);
    &s[start..]
}

pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_and_loopback_are_not_attackers() {
        for s in ["0.0.0.0", "::", "::1", "127.0.0.1", "127.8.9.10"] {
            assert!(!is_attacker_address(s.parse().unwrap()), "{s}");
        }
        for s in [
            "45.83.12.9",
            "10.0.0.1",
            "2001:db8::1",
            "fe80::1",
            "0.0.0.1",
        ] {
            assert!(is_attacker_address(s.parse().unwrap()), "{s}");
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn plain_and_ported_forms() {
        assert_eq!(parse_addr("192.168.1.5"), Some((ip("192.168.1.5"), None)));
        assert_eq!(
            parse_addr("192.168.1.5:40838"),
            Some((ip("192.168.1.5"), Some(40838)))
        );
        assert_eq!(
            parse_addr("[2001:db8::1]:443"),
            Some((ip("2001:db8::1"), Some(443)))
        );
        assert_eq!(parse_addr("[2001:db8::1]"), Some((ip("2001:db8::1"), None)));
    }

    #[test]
    fn raw_ipv6_is_never_split() {
        assert_eq!(parse_addr("2001:db8::1"), Some((ip("2001:db8::1"), None)));
        assert_eq!(parse_addr("fe80::1:2"), Some((ip("fe80::1:2"), None)));
    }

    #[test]
    fn mapped_v6_folds_to_v4() {
        assert_eq!(parse_addr("::ffff:1.2.3.4"), Some((ip("1.2.3.4"), None)));
    }

    #[test]
    fn junk_is_rejected() {
        for bad in [
            "",
            "Unknown",
            "999.1.1.1",
            "1.2.3.4:",
            "1.2.3.4:99999",
            "1.2.3.4:80x",
            "evil.com:80",
            "[::1",
            "[::1]x",
        ] {
            assert_eq!(parse_addr(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn message_fallbacks() {
        // anchored prose forms (cases §1.1, §1.3)
        assert_eq!(
            ip_from_message("Failed password for root from 157.66.144.16 port 42772 ssh2"),
            Some(ip("157.66.144.16"))
        );
        assert_eq!(
            ip_from_message("Connection from 157.66.144.16 port 42772 on 10.0.0.2 port 22"),
            Some(ip("157.66.144.16"))
        );
        assert_eq!(
            ip_from_message("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=157.66.144.16 user=root"),
            Some(ip("157.66.144.16"))
        );
        // bare IPv4 fallback
        assert_eq!(
            ip_from_message(
                "Connection closed by authenticating user root 157.66.144.16 port 42772 [preauth]"
            ),
            Some(ip("157.66.144.16"))
        );
        // key=value in the message (bash CMD lines)
        assert_eq!(
            ip_from_message("CMD uid=0 user=root src=198.51.100.7 pwd=/root cmd=ls -la"),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            ip_from_message("Accepted publickey from 2001:db8::7 port 22"),
            Some(ip("2001:db8::7"))
        );
        assert_eq!(ip_from_message("nothing here"), None);
        // invalid candidates are skipped rather than returned
        assert_eq!(
            ip_from_message("from 999.1.1.1 then 10.1.1.1"),
            Some(ip("10.1.1.1"))
        );
    }

    #[test]
    fn word_suffix_matches_regex_capture() {
        assert_eq!(word_suffix("x-src"), "src");
        assert_eq!(word_suffix("src_ip"), "src_ip");
        assert_eq!(word_suffix("a-"), "");
    }
}
