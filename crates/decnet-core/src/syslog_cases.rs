//! decnet-cases.md §1 (parsing) as unit tests of our one parser. Where we
//! deliberately differ from DECNET the test says so and names the correction
//! in docs/corrections.md.

use crate::syslog::{parse_line, Flag, ParseStatus, ParsedLine};
use crate::timestamp::parse_iso8601;
use std::net::IpAddr;

/// The DECNET formatter (`format_rfc5424`), for building lines like the cases do.
/// Leaked so tests can borrow parse results from a temporary line.
fn fmt(svc: &str, host: &str, evt: &str, fields: &[(&str, &str)]) -> &'static str {
    Box::leak(fmt_at("2026-04-15T12:00:00+00:00", svc, host, evt, fields, None).into_boxed_str())
}

fn fmt_at(
    ts: &str,
    svc: &str,
    host: &str,
    evt: &str,
    fields: &[(&str, &str)],
    msg: Option<&str>,
) -> String {
    let sd = if fields.is_empty() {
        "-".to_string()
    } else {
        let params: Vec<String> = fields
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}=\"{}\"",
                    v.replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace(']', "\\]")
                )
            })
            .collect();
        format!("[relay@55555 {}]", params.join(" "))
    };
    let tail = msg.map(|m| format!(" {m}")).unwrap_or_default();
    format!("<134>1 {ts} {host} {svc} - {evt} {sd}{tail}")
}

fn ip(p: &ParsedLine) -> Option<String> {
    p.attacker_ip.map(|i| i.to_string())
}

// ---- §1.1 correlation parser -------------------------------------------------

#[test]
fn blank_and_garbage_are_unparsed_not_dropped() {
    for (line, flag) in [
        ("", Flag::Empty),
        ("   ", Flag::Empty),
        ("this is not a syslog line", Flag::NotSyslog),
        ("Jan  1 00:00:00 host sshd: blah", Flag::NotSyslog),
    ] {
        let p = parse_line(line);
        assert_eq!(p.status(), ParseStatus::Unparsed, "{line:?}");
        assert_eq!(p.flags, vec![flag]);
        assert_eq!(p.decky, None);
    }
}

#[test]
fn header_fields_land_in_place() {
    let p = parse_line(fmt(
        "ftp",
        "decky-07",
        "login_attempt",
        &[("src_ip", "1.2.3.4")],
    ));
    assert_eq!(
        (p.decky, p.service, p.event_type),
        (Some("decky-07"), Some("ftp"), Some("login_attempt"))
    );
    assert_eq!(p.ts, parse_iso8601("2026-04-15T12:00:00+00:00"));
    assert_eq!(p.status(), ParseStatus::Ok);
    assert_eq!(p.reason(), None);
    assert_eq!(p.pri, Some(134));
}

#[test]
fn bash_prompt_command_single_wrapped() {
    let line = r#"<14>1 2026-04-28T22:35:58.021674+00:00 dmz-gateway bash - - -  CMD uid=0 user=root src=31.56.209.39 pwd=/root cmd=echo "history -cw; rm -rf *.sh" | sh"#;
    let p = parse_line(line);
    assert_eq!(p.event_type, Some("command"));
    assert_eq!(ip(&p).as_deref(), Some("31.56.209.39"));
    assert_eq!(
        p.field("command"),
        Some(r#"echo "history -cw; rm -rf *.sh" | sh"#)
    );
    assert_eq!(p.field("uid"), Some("0"));
    assert_eq!(p.field("user"), Some("root"));
    assert_eq!(p.field("pwd"), Some("/root"));
    assert_eq!(p.field("src"), Some("31.56.209.39"));
    assert_eq!(p.status(), ParseStatus::Ok);
}

#[test]
fn ip_field_priority() {
    assert_eq!(
        ip(&parse_line(fmt(
            "http",
            "decky-01",
            "connection",
            &[("src_ip", "10.0.0.1")]
        )))
        .as_deref(),
        Some("10.0.0.1")
    );
    assert_eq!(
        ip(&parse_line(fmt(
            "mssql",
            "decky-win",
            "unknown_packet",
            &[("src", "192.168.1.5")]
        )))
        .as_deref(),
        Some("192.168.1.5")
    );
    let both = parse_line(fmt(
        "http",
        "decky-01",
        "x",
        &[("src", "2.2.2.2"), ("src_ip", "1.1.1.1")],
    ));
    assert_eq!(ip(&both).as_deref(), Some("1.1.1.1"));
    for (k, v) in [
        ("client_ip", "10.0.0.7"),
        ("remote_ip", "10.0.0.8"),
        ("ip", "10.0.0.9"),
        ("target_ip", "77.91.68.15"),
    ] {
        assert_eq!(
            ip(&parse_line(fmt("http", "decky-01", "request", &[(k, v)]))).as_deref(),
            Some(v)
        );
    }
}

#[test]
fn no_fields_no_ip() {
    let p = parse_line(fmt("http", "decky-01", "startup", &[]));
    assert_eq!(p.attacker_ip, None);
    assert_eq!(p.status(), ParseStatus::Ok);
    let p = parse_line(fmt("http", "decky-01", "request", &[("user", "admin")]));
    assert_eq!(p.attacker_ip, None);
}

#[test]
fn extra_fields_and_escaped_quotes() {
    let p = parse_line(fmt(
        "ssh",
        "decky-01",
        "login",
        &[
            ("src_ip", "1.2.3.4"),
            ("username", "root"),
            ("password", "admin"),
        ],
    ));
    assert_eq!(p.field("username"), Some("root"));
    assert_eq!(p.field("password"), Some("admin"));
    let p = parse_line(fmt(
        "http",
        "decky-01",
        "request",
        &[("path", "/search?q=a\"b")],
    ));
    assert_eq!(p.field("path"), Some("/search?q=a\"b"));
    // §1.3: backslash-quote on the wire
    let p = parse_line(
        r#"<134>1 2024-01-15T12:00:00+00:00 decky-01 http - request [relay@55555 path="/foo\"bar"]"#,
    );
    assert_eq!(p.field("path"), Some("/foo\"bar"));
    // §1.5: one backslash is two on the wire
    let p = parse_line(fmt("http", "decky-01", "request", &[("path", "a\\b")]));
    assert_eq!(p.field("path"), Some("a\\b"));
}

#[test]
fn nil_hostname_or_service_is_kept_and_flagged() {
    // DECNET's profiler drops these (None); its collector stores them. We store and flag.
    let p = parse_line(fmt("-", "decky-01", "evt", &[("src_ip", "1.2.3.4")]));
    assert_eq!((p.service, p.decky), (None, Some("decky-01")));
    assert_eq!(p.flags, vec![Flag::NilAppname]);
    assert_eq!(p.status(), ParseStatus::Partial);
    let p = parse_line(fmt("http", "-", "evt", &[("src_ip", "1.2.3.4")]));
    assert_eq!(p.decky, None);
    assert_eq!(p.flags, vec![Flag::NilHostname]);
    assert_eq!(ip(&p).as_deref(), Some("1.2.3.4"));
}

#[test]
fn sshd_prose_lines() {
    for line in [
        "<38>1 2026-04-27T03:08:48+00:00 dmz-gateway sshd - - - Failed password for root from 157.66.144.16 port 42772 ssh2",
        "<38>1 2026-04-27T03:08:45+00:00 dmz-gateway sshd - - - Connection from 157.66.144.16 port 42772 on 10.0.0.2 port 22",
        "<38>1 2026-04-27T03:08:46+00:00 dmz-gateway sshd - - - pam_unix(sshd:auth): authentication failure; rhost=157.66.144.16 user=root",
        // §1.3: numeric PROCID (DECNET's profiler drops these; we accept them like its collector)
        "<38>1 2026-04-18T08:27:21.862365+00:00 omega-decky sshd 940 - - Failed password for root from 157.66.144.16 port 42772 ssh2",
        "<38>1 2026-04-18T08:27:21.862365+00:00 omega-decky sshd 940 - - Connection from 157.66.144.16 port 42772 on 10.0.0.2 port 22 rdomain \"\"",
        "<38>1 2026-04-18T08:27:21.862365+00:00 omega-decky sshd 940 - - Connection closed by authenticating user root 157.66.144.16 port 42772 [preauth]",
        "<38>1 2026-04-18T08:27:21.862365+00:00 omega-decky sshd 940 - - pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=157.66.144.16 user=root",
    ] {
        let p = parse_line(line);
        assert_eq!(ip(&p).as_deref(), Some("157.66.144.16"), "{line}");
        assert_eq!(p.service, Some("sshd"));
        assert_eq!(p.event_type, None);
        assert_eq!(p.status(), ParseStatus::Ok, "{line}");
    }
    let p = parse_line("<38>1 2026-04-18T08:27:21.862365+00:00 omega-decky sshd 940 - - Accepted password for root from 192.168.1.5 port 43210 ssh2");
    assert_eq!((p.decky, p.procid), (Some("omega-decky"), Some("940")));
    assert!(p.msg.unwrap().contains("Accepted password"));
    assert_eq!(ip(&p).as_deref(), Some("192.168.1.5"));
}

#[test]
fn mutator_line() {
    let p = parse_line(
        r#"<134>1 2026-05-01T04:00:00+00:00 decky-01 mutator - decky_mutated [relay@55555 decky="decky-01" old_services="ssh,http" new_services="rdp" trigger="scheduled"]"#,
    );
    assert_eq!(
        (p.service, p.event_type),
        (Some("mutator"), Some("decky_mutated"))
    );
    assert_eq!(p.attacker_ip, None);
    assert_eq!(p.field("old_services"), Some("ssh,http"));
}

// ---- §1.2 / §1.4 double wrap ------------------------------------------------

const DOUBLE_WRAPPED: &str = r#"<14>1 2026-05-02T06:22:48.089309+00:00 omega-decky 1 - - -  2026-05-02T06:22:48.089286+00:00 SRV-DELTA-77 bash - command [timeQuality tzKnown="1" isSynced="1" syncAccuracy="326228"] CMD uid=0 user=root src=192.168.1.5 pwd=/root cmd=ls /var/www/html"#;

#[test]
fn double_wrapped_bash() {
    let p = parse_line(DOUBLE_WRAPPED);
    assert_eq!(
        (p.decky, p.service, p.event_type),
        (Some("SRV-DELTA-77"), Some("bash"), Some("command"))
    );
    assert_eq!(ip(&p).as_deref(), Some("192.168.1.5"));
    assert_eq!(p.field("command"), Some("ls /var/www/html"));
    assert!(p.msg.unwrap().contains("cmd=ls /var/www/html"));
    // the outer timestamp is kept, as in DECNET
    assert_eq!(p.ts, parse_iso8601("2026-05-02T06:22:48.089309+00:00"));
    // timeQuality is a foreign SD element: its params are not fields
    assert_eq!(p.field("tzKnown"), None);
    assert_eq!(p.status(), ParseStatus::Ok);
}

#[test]
fn single_wrapped_lines_are_left_alone() {
    let p = parse_line(
        r#"<134>1 2026-05-02T06:00:25.453826+00:00 omega-decky smtp - disconnect [relay@55555 src_ip="192.168.1.5"]"#,
    );
    assert_eq!(
        (p.event_type, p.decky, p.service),
        (Some("disconnect"), Some("omega-decky"), Some("smtp"))
    );
    assert_eq!(ip(&p).as_deref(), Some("192.168.1.5"));
    let p = parse_line(
        r#"<134>1 2026-05-02T06:00:25.453826+00:00 omega-decky auth-helper - auth_attempt [relay@55555 username="root" src_ip="192.168.1.5"]"#,
    );
    assert_eq!(
        (p.event_type, p.decky, p.service),
        (
            Some("auth_attempt"),
            Some("omega-decky"),
            Some("auth-helper")
        )
    );
    let p = parse_line("<14>1 2026-05-02T06:22:48.000000+00:00 host app - - - Failed password for root from 192.168.1.5 port 42772 ssh2");
    assert_eq!(p.event_type, None);
    assert_eq!(ip(&p).as_deref(), Some("192.168.1.5"));
}

#[test]
fn naive_timestamp_is_utc() {
    let naive = parse_line(
        r#"<14>1 2026-05-02T06:22:48.089309 omega-decky smtp - disconnect [relay@55555 src_ip="10.0.0.1"]"#,
    );
    let aware = parse_line(
        r#"<14>1 2026-05-02T06:22:48.089309+00:00 omega-decky smtp - disconnect [relay@55555 src_ip="10.0.0.1"]"#,
    );
    assert!(naive.ts.is_some());
    assert_eq!(naive.ts, aware.ts);
}

// ---- §1.3 collector parser ----------------------------------------------------

#[test]
fn collector_cases() {
    let p = parse_line("<134>1 2024-01-15T12:00:00+00:00 decky-01 bash - - - CMD uid=0 user=root src=198.51.100.7 pwd=/root cmd=ls -la");
    assert_eq!(ip(&p).as_deref(), Some("198.51.100.7"));
    assert!(p.msg.unwrap().contains("CMD uid=0"));
    // We split CMD fields like DECNET's correlation parser (its collector leaves fields empty).
    assert_eq!(p.field("command"), Some("ls -la"));

    let p = parse_line(
        r#"<134>1 2024-01-15T12:00:00+00:00 decky-01 ssh - login [relay@55555 src_ip="1.2.3.4"] rogue src=9.9.9.9 entry"#,
    );
    assert_eq!(ip(&p).as_deref(), Some("1.2.3.4"));
    assert_eq!(p.field("src"), None);
    assert_eq!(p.msg, Some("rogue src=9.9.9.9 entry"));

    let p = parse_line(
        r#"<134>1 2024-01-15T12:00:00+00:00 decky-01 http - request [relay@55555 remote_addr="192.168.1.5:40838"]"#,
    );
    assert_eq!(ip(&p).as_deref(), Some("192.168.1.5"));
    assert_eq!(p.field("remote_port"), Some("40838"));
    let p = parse_line(
        r#"<134>1 2024-01-15T12:00:00+00:00 decky-01 http - request [relay@55555 remote_addr="192.168.1.5"]"#,
    );
    assert_eq!(p.field("remote_port"), None);

    let p = parse_line("<134>1 2024-01-15T12:00:00+00:00 decky-01 http - request - some message");
    assert_eq!((p.msg, p.fields.len()), (Some("some message"), 0));
    let p = parse_line("<134>1 2024-01-15T12:00:00+00:00 decky-01 http - request hello world");
    assert_eq!(p.msg, Some("hello world"));
    assert_eq!(p.flags, vec![Flag::MissingSd]);
    let p = parse_line(
        r#"<134>1 2024-01-15T12:00:00+00:00 decky-01 http - request [relay@55555 src_ip="1.2.3.4"] login attempt"#,
    );
    assert_eq!(p.msg, Some("login attempt"));

    let p = parse_line("<134>1 not-a-date decky-01 http - request -");
    assert_eq!((p.ts, p.decky), (None, Some("decky-01")));
    assert_eq!(p.flags, vec![Flag::BadTimestamp]);
}

#[test]
fn msgid_command_with_cmd_body_gets_fields() {
    let p = parse_line("<134>1 2024-01-15T12:00:00+00:00 decky-01 bash - command - CMD uid=0 user=root src=10.9.9.9 pwd=/tmp cmd=id");
    assert_eq!(p.event_type, Some("command"));
    assert_eq!(p.field("command"), Some("id"));
    assert_eq!(p.field("pwd"), Some("/tmp"));
}

// ---- corrections (docs/corrections.md) ----------------------------------------

#[test]
fn correction_escaped_bracket_does_not_truncate_sd() {
    // DECNET: `{}` and no attacker (§A.7.1). Us: every parameter, `]` decoded.
    let p = parse_line(
        r#"<134>1 2026-05-01T00:00:00+00:00 decky-01 http - request [relay@55555 path="/a\]b" src_ip="1.1.1.1"]"#,
    );
    assert_eq!(p.field("path"), Some("/a]b"));
    assert_eq!(ip(&p).as_deref(), Some("1.1.1.1"));
    let p = parse_line(
        r#"<134>1 2026-05-01T00:00:00+00:00 decky-01 http - http_request_fingerprint [relay@55555 remote_addr="[2001:db8::1]:443" headers_ordered="[\"host\", \"accept\"\]" cookie="a=b"]"#,
    );
    assert_eq!(p.field("headers_ordered"), Some(r#"["host", "accept"]"#));
    assert_eq!(p.field("cookie"), Some("a=b"));
    assert_eq!(ip(&p).as_deref(), Some("2001:db8::1"));
    assert_eq!(p.field("remote_port"), Some("443"));
}

#[test]
fn correction_raw_ipv6_is_kept() {
    let p = parse_line(
        r#"<134>1 2026-05-01T00:00:00+00:00 decky-01 ssh - connection [relay@55555 src_ip="2001:db8::1"]"#,
    );
    assert_eq!(ip(&p).as_deref(), Some("2001:db8::1"));
    assert_eq!(p.field("remote_port"), None);
}

#[test]
fn correction_empty_ip_field_falls_through() {
    let p = parse_line(
        r#"<134>1 2026-05-01T00:00:00+00:00 decky-01 ssh - connection [relay@55555 src_ip="" src="5.6.7.8"]"#,
    );
    assert_eq!(ip(&p).as_deref(), Some("5.6.7.8"));
    let p = parse_line(
        r#"<134>1 2026-05-01T00:00:00+00:00 decky-01 ssh - connection [relay@55555 src_ip="evil.example" src="5.6.7.8"]"#,
    );
    assert_eq!(ip(&p).as_deref(), Some("5.6.7.8"));
    assert_eq!(p.flags, vec![Flag::BadIpField]);
}

#[test]
fn correction_param_names_are_taken_whole() {
    let p = parse_line(
        r#"<134>1 2026-05-01T00:00:00+00:00 decky-01 x - y [relay@55555 a-b="1" c.d="2"]"#,
    );
    assert_eq!(p.field("a-b"), Some("1"));
    assert_eq!(p.field("c.d"), Some("2"));
    assert_eq!(p.field("b"), None);
}

#[test]
fn offset_timestamps_are_real_instants() {
    let p = parse_line(
        r#"<134>1 2026-05-01T10:00:00+02:00 decky-01 ssh - connection [relay@55555 src_ip="1.2.3.4"]"#,
    );
    assert_eq!(p.ts, parse_iso8601("2026-05-01T08:00:00Z"));
}

#[test]
fn broken_sd_keeps_what_came_before() {
    let p = parse_line(
        r#"<134>1 2026-05-01T00:00:00+00:00 decky-02 http - request [relay@55555 src_ip="1.2.3.4" path="/unterminated]"#,
    );
    assert_eq!(ip(&p).as_deref(), Some("1.2.3.4"));
    assert_eq!(p.flags, vec![Flag::UnterminatedSd]);
    assert_eq!(p.status(), ParseStatus::Partial);
    let p = parse_line(
        r#"<134>1 2026-05-01T00:00:00+00:00 decky-02 http - request [relay@55555 src_ip="1.2.3.4" junk]"#,
    );
    assert_eq!(p.flags, vec![Flag::BadSd]);
    assert_eq!(ip(&p).as_deref(), Some("1.2.3.4"));
    let p = parse_line(
        r#"<134>1 2026-05-01T00:00:00+00:00 decky-03 ssh - connection [other@1 src_ip="9.9.9.9"]"#,
    );
    assert_eq!(
        (p.attacker_ip, p.fields.len(), p.status()),
        (None, 0, ParseStatus::Ok)
    );
}

#[test]
fn header_failures() {
    let cases = [
        (
            "<134>2 2026-05-01T00:00:00+00:00 decky-01 http - request -",
            Flag::UnsupportedVersion,
        ),
        (
            "<134>1 2026-05-01T00:00:00+00:00 decky-01",
            Flag::TruncatedHeader,
        ),
        ("<134>1", Flag::TruncatedHeader),
        ("<>1 2026-05-01T00:00:00+00:00 a b - c -", Flag::NotSyslog),
        (
            "<1345>1 2026-05-01T00:00:00+00:00 a b - c -",
            Flag::NotSyslog,
        ),
        ("\u{0}\u{1}binary\u{ff}junk", Flag::NotSyslog),
    ];
    for (line, flag) in cases {
        let p = parse_line(line);
        assert_eq!(p.flags, vec![flag], "{line:?}");
        assert_eq!(p.status(), ParseStatus::Unparsed);
    }
    let p = parse_line("<999>1 2026-05-01T00:00:00+00:00 a b - c -");
    assert_eq!(p.flags, vec![Flag::BadPri]);
    let p = parse_line("<134>1 - a b - c -");
    assert_eq!(p.flags, vec![Flag::NilTimestamp]);
    let p = parse_line("<134>1 2026-05-01T00:00:00+00:00 a b - c");
    assert_eq!(p.flags, vec![Flag::MissingSd]);
}

#[test]
fn python_strip_semantics_and_bom() {
    let p = parse_line("\u{1c}\u{85} <134>1 2026-05-01T00:00:00+00:00 a b - c - \u{feff}hello\r\n");
    assert_eq!(p.msg, Some("hello"));
    assert_eq!(p.status(), ParseStatus::Ok);
}

#[test]
fn oversized_lines_are_parsed_and_flagged() {
    let big = "A".repeat(1 << 20);
    let line = fmt(
        "http",
        "decky-01",
        "request",
        &[("src_ip", "1.2.3.4"), ("body", &big)],
    );
    let p = parse_line(line);
    assert_eq!(p.field("body").map(str::len), Some(1 << 20));
    assert_eq!(p.flags, vec![Flag::Oversized]);
    assert_eq!(ip(&p).as_deref(), Some("1.2.3.4"));
}

#[test]
fn unicode_values_survive() {
    let p = parse_line("<134>1 2026-05-01T00:00:00+00:00 decky-05 telnet - login_attempt [relay@55555 src_ip=\"1.2.3.4\" username=\"r\u{f6}ot\"] caf\u{e9}");
    assert_eq!(p.field("username"), Some("r\u{f6}ot"));
    assert_eq!(p.msg, Some("caf\u{e9}"));
}

#[test]
fn a_8_examples() {
    let p = parse_line(
        r#"<134>1 2026-05-01T03:52:17.550231+00:00 decnet-prober prober - hassh_fingerprint [relay@55555 target_ip="77.91.68.15" target_port="22" hassh_server_hash="b12d2871a1189eff20364cf5333619ee" ssh_banner="SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u1"] HASSH 77.91.68.15:22 = b12d2871a1189eff20364cf5333619ee"#,
    );
    assert_eq!(
        p.attacker_ip,
        Some("77.91.68.15".parse::<IpAddr>().unwrap())
    );
    assert_eq!(
        p.field("ssh_banner"),
        Some("SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u1")
    );
    assert!(p.msg.unwrap().starts_with("HASSH"));
    let p = parse_line(
        r#"<132>1 2026-05-01T03:31:40.220981+00:00 mail-relay-01 smtp - rcpt_denied [relay@55555 src="91.92.240.7" value="<Bob@ACME.com>"]"#,
    );
    assert_eq!((p.pri, ip(&p).as_deref()), (Some(132), Some("91.92.240.7")));
}

/// Deterministic mutation smoke test: mangled versions of real line shapes never
/// panic the parser or the per-statement grouping (a panic would abort a COPY).
#[test]
fn mutated_lines_never_panic() {
    use crate::bounty::Config;
    use crate::profile::StatementDelta;
    let seeds = [
        DOUBLE_WRAPPED,
        r#"<134>1 2026-05-01T03:20:11.774125+00:00 decky-05 http - request [relay@55555 method="GET" path="/.env" remote_addr="[2001:db8::1]:443" headers="{\"User-Agent\": \"sqlmap/1.7.11\", \"X-Forwarded-For\": \"127.0.0.1\"}" body=""]"#,
        r#"<134>1 2026-05-01T03:14:07.512334+00:00 decky-03 auth-helper - auth_attempt [relay@55555 username="root" principal="root" secret_printable="hunter2" secret_b64="aHVudGVyMg==" src_ip="45.83.12.9"]"#,
        r#"<134>1 2026-05-01T03:52:17.550231+00:00 decnet-prober prober - icmp_fingerprint [relay@55555 target_ip="77.91.68.15" icmp_fp_hash="aabb" icmp_port_unreach="1"] HASSH"#,
        r#"<132>1 2026-05-01T03:31:40.220981+00:00 mail-relay-01 smtp_relay - rcpt_to [relay@55555 src="91.92.240.7" value="<Bob@ACME.com>"]"#,
        "<38>1 2026-04-27T03:08:45+00:00 dmz-gateway sshd 940 - - Connection from 157.66.144.16 port 42772 on 10.0.0.2 port 22",
    ];
    let specials = [
        '"', '\\', ']', '[', '=', ' ', '<', '>', '@', ':', '\u{0}', '\u{fffd}', 'é', '\n', '\t',
        '-', '{', '}',
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut delta = StatementDelta::default();
    let cfg = Config::with_trusted_proxies("10.0.0.0/8, bogus, ::1");
    for i in 0..20_000 {
        let mut chars: Vec<char> = seeds[i % seeds.len()].chars().collect();
        for _ in 0..(1 + next() % 6) {
            let at = (next() as usize) % (chars.len() + 1);
            match next() % 4 {
                0 => chars.insert(at, specials[(next() as usize) % specials.len()]),
                1 if at < chars.len() => {
                    chars.remove(at);
                }
                2 => chars.truncate(at),
                _ if at < chars.len() => chars[at] = specials[(next() as usize) % specials.len()],
                _ => {}
            }
        }
        let line: String = chars.into_iter().collect();
        let parsed = parse_line(&line);
        let _ = parsed.fields_json();
        delta.add(i as i64, &parsed, &cfg, 50);
    }
    assert_eq!(delta.rows, 20_000);
}

// ---- hostile input (issue 15): bounded work and bounded keys ----

#[test]
fn many_distinct_parameters_are_capped_and_linear() {
    use crate::bound::MAX_FIELDS;
    let params: String = (0..100_000).map(|i| format!(" k{i}=\"v\"")).collect();
    let line = format!("<134>1 2026-05-01T00:00:00+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"45.83.12.9\"{params}]");
    let p = parse_line(&line);
    assert_eq!(p.fields.len(), MAX_FIELDS);
    assert!(p.flags.contains(&Flag::TooManyFields));
    assert_eq!(p.attacker_ip, Some("45.83.12.9".parse().unwrap()));
    // duplicates of kept keys still overwrite: DECNET's last-value-wins
    let dup = format!("<134>1 2026-05-01T00:00:00+00:00 d ssh - e [relay@55555 src_ip=\"1.2.3.4\"{params} src_ip=\"5.6.7.8\"]");
    assert_eq!(
        parse_line(&dup).attacker_ip,
        Some("5.6.7.8".parse().unwrap())
    );
}

#[test]
fn many_bash_tokens_are_capped() {
    let head: String = (0..100_000).map(|i| format!("t{i}=x ")).collect();
    let line = format!(
        "<134>1 2026-05-01T00:00:00+00:00 decky-01 bash - - CMD uid=0 src=45.83.12.9 {head}cmd=id"
    );
    let p = parse_line(&line);
    assert_eq!(p.fields.len(), crate::bound::MAX_FIELDS);
    assert!(p.flags.contains(&Flag::TooManyFields));
    assert_eq!(p.event_type, Some("command"));
}

#[test]
fn long_hostname_and_app_name_are_cut_and_flagged() {
    let host = "h".repeat(6000);
    let app = "é".repeat(3000);
    let line = format!("<134>1 2026-05-01T00:00:00+00:00 {host} {app} - connection [relay@55555 src_ip=\"45.83.12.9\"]");
    let p = parse_line(&line);
    assert_eq!(p.decky.unwrap().len(), 255);
    assert!(p.service.unwrap().len() <= 255 && p.service.unwrap().chars().all(|c| c == 'é'));
    assert_eq!(p.status(), ParseStatus::Partial);
    assert!(p.flags.contains(&Flag::LongHeader));
    let ok = parse_line("<134>1 2026-05-01T00:00:00+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"45.83.12.9\"]");
    assert!(ok.flags.is_empty());
}

#[test]
fn json_nul_escape_is_flagged() {
    let line = r#"<134>1 2026-05-01T00:00:00+00:00 decky-01 http - request [relay@55555 src_ip="45.83.12.9" headers="{\"User-Agent\": \"curl/8\u0000evil\"}"]"#;
    let p = parse_line(line);
    assert!(p.flags.contains(&Flag::JsonNul), "{:?}", p.flags);
    assert!(!parse_line(&line.replace("\\u0000", "\\u0041"))
        .flags
        .contains(&Flag::JsonNul));
}

#[test]
fn unspecified_and_loopback_sources_are_not_attackers() {
    for src in [
        "0.0.0.0",
        "::",
        "::1",
        "127.0.0.1",
        "[::1]:22",
        "0.0.0.0:443",
    ] {
        let p = parse_line(Box::leak(
            format!("<134>1 2026-05-01T00:00:00+00:00 decky-01 ssh - connection [relay@55555 src_ip=\"{src}\"]").into_boxed_str(),
        ));
        assert_eq!(p.attacker_ip, None, "{src}");
        assert!(p.flags.contains(&Flag::NotAnAttacker), "{src}");
    }
    // prose that names 0.0.0.0 is no claim: no attacker and no flag
    let p = parse_line(
        "<134>1 2026-05-01T00:00:00+00:00 decky-01 sshd - - Server listening on 0.0.0.0 port 22.",
    );
    assert_eq!(p.attacker_ip, None);
    assert!(!p.flags.contains(&Flag::NotAnAttacker));
}
