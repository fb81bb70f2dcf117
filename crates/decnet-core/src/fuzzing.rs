//! Entry points of the fuzz targets (fuzz/fuzz_targets/*), here so the stable
//! smoke test below drives exactly the code libFuzzer drives. Each takes
//! arbitrary bytes the way the database receives them and must never panic.

use crate::bounty::Config;
use crate::profile::StatementDelta;
use crate::{keystroke, session_profile, syslog};

/// A log line: decoded as the ingest trigger sees it (lossy UTF-8), parsed,
/// rendered to the stored columns, and grouped into a statement delta
/// (profiles, bounties, credentials, rotations, leaks).
pub fn line(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let p = syslog::parse_line(&text);
    let _ = p.fields_json();
    let _ = (p.status(), p.reason());
    let mut delta = StatementDelta::default();
    delta.add(
        1,
        &p,
        &Config::with_trusted_proxies("10.0.0.0/8,127.0.0.1"),
        2,
    );
    delta.add(2, &p, &Config::default(), 2);
    let _ = delta.kept_commands(2).count();
}

/// A recorded-session shard: split into sessions, each parsed and profiled,
/// and the digraph SimHash of the whole.
pub fn shard(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (sessions, _) = keystroke::split_shard(&text);
    for s in &sessions {
        let (events, _) = keystroke::parse_shard(&s.lines, Some(&s.sid));
        let _ = session_profile::profile(&events);
        let _ = keystroke::digraph_simhash(&events);
    }
    let (events, _) = keystroke::parse_shard(&text, None);
    let _ = session_profile::profile(&events);
}

#[cfg(test)]
mod smoke {
    //! A fixed number of mutations of real inputs (deterministic), run by
    //! `cargo test`: the CI smoke run. The long runs use libFuzzer (docs/operations.md).

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    const INTERESTING: &[&[u8]] = &[
        b"\"",
        b"]",
        b"[",
        b"\\",
        b"=",
        b" ",
        b"\0",
        b"\xff",
        b"\xc3",
        b"-",
        b"<",
        b">",
        b"@",
        b":",
        b"{",
        b"}",
        b"\n",
        b"99999999999999999999",
        b"%",
        b"\xe2\x80\xae",
    ];

    fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let mut v = seed.to_vec();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(v.len() + 1);
            match rng.below(5) {
                0 if !v.is_empty() => {
                    let i = rng.below(v.len());
                    v[i] = rng.next() as u8;
                }
                1 if !v.is_empty() => {
                    let end = (at + rng.below(16)).min(v.len());
                    v.drain(at.min(end)..end);
                }
                2 => {
                    let piece = INTERESTING[rng.below(INTERESTING.len())];
                    v.splice(at..at, piece.iter().copied());
                }
                3 if !v.is_empty() => {
                    let from = rng.below(v.len());
                    let piece: Vec<u8> = v[from..(from + rng.below(32)).min(v.len())].to_vec();
                    v.splice(at..at, piece);
                }
                _ => v.truncate(at),
            }
        }
        v
    }

    const LINES: &[&str] = &[
        r#"<134>1 2026-05-01T03:20:11.774125+00:00 decky-05 http - request [relay@55555 method="GET" path="/.env" remote_addr="185.220.101.4" headers="{\"Host\": \"decky-05\", \"User-Agent\": \"sqlmap/1.7.11#stable\", \"X-Forwarded-For\": \"127.0.0.1\"}" body=""]"#,
        r#"<134>1 2026-05-01T03:40:03.410017+00:00 decky-02 sniffer - tls_client_hello [relay@55555 src_ip="77.91.68.15" src_port="40413" dst_ip="10.0.1.10" dst_port="443" ja3="e7d705a3286e19ea42f587b344ee6865" ja4="t13d1516h2_8daaf6152771_b0da82dd1658" sni="portal.acme.com"]"#,
        r#"<134>1 2026-05-01T03:52:17.550231+00:00 decnet-prober prober - hassh_fingerprint [relay@55555 target_ip="77.91.68.15" target_port="22" hassh_server_hash="b12d2871a1189eff20364cf5333619ee"]"#,
        r#"<134>1 2026-05-01T00:00:01+00:00 decky-01 auth-helper - auth_attempt [relay@55555 username="root" secret_b64="aHVudGVyMg==" src_ip="1.1.1.1"]"#,
        r#"<132>1 2026-05-01T03:31:40.220981+00:00 mail-relay-01 smtp_relay - rcpt_to [relay@55555 src="91.92.240.7" value="<Bob@ACME.com>"]"#,
        r#"<134>1 2026-05-01T00:00:03+00:00 decky-01 sniffer - ipv6_link_local_leak [relay@55555 src_ip="fe80::aabb:ccff:fedd:eeff" dst_ip="fe80::1" attacker_v4="10.0.0.9"]"#,
        r#"<134>1 2026-05-01T04:00:00+00:00 SRV-DELTA-77 bash - command [relay@55555 uid="0" user="root" src="192.168.1.5" pwd="/root" command="ls /var/www/html"] <134>1 inner"#,
        "Nov 23 07:31:38 host sshd[123]: Failed password for root from 157.66.144.16 port 22 ssh2",
    ];

    const SHARD: &str = concat!(
        "{\"sid\":\"s1\",\"hdr\":{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":1767225600}}\n",
        "{\"sid\":\"s1\",\"t\":0.0,\"ch\":\"o\",\"d\":\"root@host:~# \"}\n",
        "{\"sid\":\"s1\",\"t\":1.0,\"ch\":\"i\",\"d\":\"l\"}\n{\"sid\":\"s1\",\"t\":1.1,\"ch\":\"i\",\"d\":\"s\"}\n",
        "{\"sid\":\"s1\",\"t\":1.3,\"ch\":\"i\",\"d\":\"\\r\"}\n{\"sid\":\"s1\",\"t\":1.4,\"ch\":\"i\",\"d\":\"\\u007f\"}\n",
        "{\"sid\":\"s2\",\"t\":2.0,\"ch\":\"i\",\"d\":\"\\u001b[A\"}\n{\"sid\":\"s2\",\"t\":2.2,\"ch\":\"i\",\"d\":\"paste of text\"}\n",
    );

    #[test]
    fn line_survives_mutations() {
        let mut rng = Rng(1);
        for i in 0..20_000 {
            let seed = LINES[i % LINES.len()].as_bytes();
            super::line(&mutate(seed, &mut rng));
        }
    }

    #[test]
    fn shard_survives_mutations() {
        let mut rng = Rng(2);
        for _ in 0..5_000 {
            super::shard(&mutate(SHARD.as_bytes(), &mut rng));
        }
    }
}
