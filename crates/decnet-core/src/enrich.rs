//! Offline enrichment data (spec §F.1, §F.3): the RIR delegated-statistics
//! format (country per address range) and the iptoasn TSV format (AS per
//! range), parsed line by line. Lines that do not describe a usable range
//! are skipped, never fatal, so the published files load unchanged.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An inclusive address range of one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub start: IpAddr,
    pub end: IpAddr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryRange {
    /// The `registry` field (`arin`, `ripencc`, …), lower-cased.
    pub registry: String,
    pub range: Range,
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsnRange {
    pub range: Range,
    pub asn: i64,
    pub country: Option<String>,
    /// The AS description, `""` when the column is empty.
    pub name: String,
}

/// `registry|cc|type|start|value|date|status[|opaque-id|…]`: IPv4 rows carry
/// a host count (not always a power of two), IPv6 rows a prefix length. Only
/// allocated/assigned ranges with a real country code are kept; version,
/// summary, comment, ASN and reserved/available rows fall out.
pub fn parse_rir_line(line: &str) -> Option<CountryRange> {
    let f: Vec<&str> = line.trim().split('|').collect();
    if f.len() < 7 || line.trim_start().starts_with('#') {
        return None;
    }
    let (registry, cc, kind, start, value, status) = (f[0], f[1], f[2], f[3], f[4], f[6]);
    if !matches!(status, "allocated" | "assigned")
        || matches!(cc, "*" | "ZZ" | "zz" | "")
        || matches!(start, "*" | "")
    {
        return None;
    }
    let range = match kind {
        "ipv4" => {
            let s: Ipv4Addr = start.parse().ok()?;
            let count: u64 = value.parse().ok().filter(|&c| c > 0)?;
            let end = u64::from(u32::from(s))
                .checked_add(count - 1)
                .filter(|&e| e <= u64::from(u32::MAX))?;
            Range {
                start: IpAddr::V4(s),
                end: IpAddr::V4(Ipv4Addr::from(end as u32)),
            }
        }
        "ipv6" => {
            let s: Ipv6Addr = start.parse().ok()?;
            let len: u32 = value.parse().ok().filter(|&l| l <= 128)?;
            let host_mask = if len == 0 {
                u128::MAX
            } else {
                u128::MAX >> len
            };
            let base = u128::from(s) & !host_mask;
            Range {
                start: IpAddr::V6(Ipv6Addr::from(base)),
                end: IpAddr::V6(Ipv6Addr::from(base | host_mask)),
            }
        }
        _ => return None,
    };
    if cc.len() != 2 || !cc.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some(CountryRange {
        registry: registry.to_ascii_lowercase(),
        range,
        country: cc.to_ascii_uppercase(),
    })
}

/// `range_start \t range_end \t as_number \t country \t as_description`:
/// rows with fewer than 3 columns, a non-numeric AS, AS 0 (not routed), a bad
/// address, mixed families or an end before the start are skipped.
pub fn parse_iptoasn_line(line: &str) -> Option<AsnRange> {
    let p: Vec<&str> = line.trim_end_matches(['\r', '\n']).split('\t').collect();
    if p.len() < 3 {
        return None;
    }
    let (start, end): (IpAddr, IpAddr) = (p[0].trim().parse().ok()?, p[1].trim().parse().ok()?);
    let asn: i64 = p[2].trim().parse().ok().filter(|&a| a > 0)?;
    let ordered = match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => s <= e,
        (IpAddr::V6(s), IpAddr::V6(e)) => s <= e,
        _ => false,
    };
    if !ordered {
        return None;
    }
    let country = p
        .get(3)
        .map(|c| c.trim())
        .filter(|c| c.len() == 2 && *c != "ZZ")
        .map(str::to_owned);
    let name = p.get(4).map(|n| n.trim().to_owned()).unwrap_or_default();
    Some(AsnRange {
        range: Range { start, end },
        asn,
        country,
        name,
    })
}

/// The most specific CIDR block of the range's minimal CIDR cover that holds
/// `ip` (Python's `summarize_address_range`, §F.3): for 1.0.0.0–1.0.0.191,
/// 1.0.0.5 gives 1.0.0.0/25 and 1.0.0.130 gives 1.0.0.128/26.
pub fn prefix_within(range: &Range, ip: IpAddr) -> Option<(IpAddr, u8)> {
    fn cover(start: u128, end: u128, bits: u32, ip: u128) -> Option<(u128, u8)> {
        let mut at = start;
        loop {
            // the largest aligned block starting at `at` that fits before `end`
            // at most 127: a /0 of IPv6 cannot be shifted into a u128 (whole spaces are handled apart)
            let mut size = if at == 0 {
                bits
            } else {
                at.trailing_zeros().min(bits)
            }
            .min(127);
            while size > 0
                && at
                    .checked_add((1u128 << size) - 1)
                    .is_none_or(|last| last > end)
            {
                size -= 1;
            }
            let last = at + ((1u128 << size) - 1);
            if (at..=last).contains(&ip) {
                return Some((at, (bits - size) as u8));
            }
            if last >= end {
                return None;
            }
            at = last + 1;
        }
    }
    match (range.start, range.end, ip) {
        (IpAddr::V4(s), IpAddr::V4(e), IpAddr::V4(i)) => cover(
            u32::from(s).into(),
            u32::from(e).into(),
            32,
            u32::from(i).into(),
        )
        .map(|(a, l)| (IpAddr::V4(Ipv4Addr::from(a as u32)), l)),
        (IpAddr::V6(s), IpAddr::V6(e), IpAddr::V6(i)) => {
            if u128::from(s) == 0 && u128::from(e) == u128::MAX {
                return Some((IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0));
            }
            cover(s.into(), e.into(), 128, i.into())
                .map(|(a, l)| (IpAddr::V6(Ipv6Addr::from(a)), l))
        }
        _ => None,
    }
}

/// Ranges that are not globally routed, as Python's `ipaddress` defines them
/// (private, loopback, link-local, multicast, reserved, unspecified; the
/// documentation ranges count as private, 100.64/10 does not). §F.1, §F.2.
const NOT_PUBLIC: &[(&str, u8)] = &[
    ("0.0.0.0", 8),
    ("10.0.0.0", 8),
    ("127.0.0.0", 8),
    ("169.254.0.0", 16),
    ("172.16.0.0", 12),
    ("192.0.0.0", 29),
    ("192.0.0.170", 31),
    ("192.0.2.0", 24),
    ("192.168.0.0", 16),
    ("198.18.0.0", 15),
    ("198.51.100.0", 24),
    ("203.0.113.0", 24),
    ("224.0.0.0", 4),
    ("240.0.0.0", 4),
    ("::", 8),
    ("::ffff:0:0", 96),
    ("100::", 64),
    ("100::", 8),
    ("200::", 7),
    ("400::", 6),
    ("800::", 5),
    ("1000::", 4),
    ("2001::", 23),
    ("2001:db8::", 32),
    ("4000::", 3),
    ("6000::", 3),
    ("8000::", 3),
    ("a000::", 3),
    ("c000::", 3),
    ("e000::", 4),
    ("f000::", 5),
    ("f800::", 6),
    ("fc00::", 7),
    ("fe00::", 9),
    ("fe80::", 10),
    ("fec0::", 10),
    ("ff00::", 8),
];

fn in_block(ip: IpAddr, base: &str, len: u8) -> bool {
    match (ip, base.parse::<IpAddr>()) {
        (IpAddr::V4(a), Ok(IpAddr::V4(b))) => {
            len == 0 || (u32::from(a) ^ u32::from(b)) >> (32 - u32::from(len)) == 0
        }
        (IpAddr::V6(a), Ok(IpAddr::V6(b))) => {
            len == 0 || (u128::from(a) ^ u128::from(b)) >> (128 - u32::from(len)) == 0
        }
        _ => false,
    }
}

/// False for addresses enrichment never looks up (and never sends to DNS).
pub fn is_public(ip: IpAddr) -> bool {
    !NOT_PUBLIC
        .iter()
        .any(|&(base, len)| in_block(ip, base, len))
}

/// `decnet.ptr_nameservers`: comma-separated `ip`, `ip:port` or `[v6]:port`
/// (port 53 by default). Empty means the system resolver.
pub fn parse_nameservers(s: &str) -> Result<Vec<std::net::SocketAddr>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<std::net::SocketAddr>()
                .or_else(|_| {
                    t.parse::<IpAddr>()
                        .map(|ip| std::net::SocketAddr::new(ip, 53))
                })
                .map_err(|_| format!("{t:?} is not an address or address:port"))
        })
        .collect()
}

/// Why an RIR delegated-statistics file is not whole, or `None` when it is.
/// A published file starts with a version line whose fourth field counts its
/// records, and has one summary line per record type (`reg|*|ipv4|*|N|summary`)
/// counting that type's records. A truncated download, another format, or a
/// hand-made fragment fails the counts and must not replace a registry's ranges.
pub fn rir_file_problem(text: &str) -> Option<String> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let Some(version) = lines.next() else {
        return Some("the file is empty".into());
    };
    let v: Vec<&str> = version.split('|').collect();
    let declared: Option<u64> = (v.len() >= 4
        && v[0].chars().next().is_some_and(|c| c.is_ascii_digit()))
    .then(|| v[3].parse().ok())
    .flatten();
    let Some(declared) = declared else {
        return Some(format!(
            "no version line (`2|registry|serial|records|…`) at the top, but `{}`",
            crate::bound::cut(version, 80)
        ));
    };
    let mut summaries: Vec<(String, u64)> = Vec::new();
    let mut counted: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let mut records = 0u64;
    for line in lines {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() >= 6 && f[1] == "*" && f[5] == "summary" {
            match f[4].parse() {
                Ok(n) => summaries.push((f[2].to_owned(), n)),
                Err(_) => {
                    return Some(format!(
                        "summary line with no count: `{}`",
                        crate::bound::cut(line, 80)
                    ))
                }
            }
        } else if f.len() >= 7 {
            records += 1;
            *counted.entry(f[2].to_owned()).or_default() += 1;
        } else {
            return Some(format!(
                "not a record line: `{}`",
                crate::bound::cut(line, 80)
            ));
        }
    }
    if summaries.is_empty() {
        return Some("no summary lines (`registry|*|ipv4|*|count|summary`)".into());
    }
    for (kind, n) in &summaries {
        let have = counted.get(kind).copied().unwrap_or(0);
        if have != *n {
            return Some(format!(
                "the summary counts {n} {kind} records, the file holds {have}"
            ));
        }
    }
    (records != declared)
        .then(|| format!("the version line counts {declared} records, the file holds {records}"))
}

/// A whole delegated-statistics file around record lines: the version line and
/// one summary line per record type, counted (for tests and benchmarks).
pub fn rir_file_with_summary(registry: &str, records: &[String]) -> String {
    let mut kinds: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for r in records {
        *kinds.entry(r.split('|').nth(2).unwrap_or("")).or_default() += 1;
    }
    let mut out = format!(
        "2|{registry}|20260101|{}|19700101|20260101|+0000\n",
        records.len()
    );
    for (kind, n) in kinds {
        out += &format!("{registry}|*|{kind}|*|{n}|summary\n");
    }
    for r in records {
        out += r;
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    //! decnet-cases §5.1 and §5.5 (parsing and prefixes).
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn whole_rir_files_pass_and_fragments_fail() {
        let recs: Vec<String> = [
            "apnic|JP|ipv4|1.0.0.0|256|20110101|allocated",
            "apnic|AU|ipv6|2001:200::|32|20110101|allocated",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let whole = rir_file_with_summary("apnic", &recs);
        assert_eq!(rir_file_problem(&whole), None, "{whole}");
        // issue 15: a two-line file replaced all APNIC ranges
        assert!(rir_file_problem(&recs.join("\n"))
            .unwrap()
            .contains("no version line"));
        let truncated: String = whole.lines().take(4).map(|l| format!("{l}\n")).collect();
        assert!(
            rir_file_problem(&truncated)
                .unwrap()
                .contains("summary counts 1 ipv6 records, the file holds 0"),
            "{truncated}"
        );
        // an iptoasn file given to load-rir
        assert!(
            rir_file_problem("1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n")
                .unwrap()
                .contains("no version line")
        );
        assert!(rir_file_problem("").unwrap().contains("empty"));
        let no_summary = "2|arin|20261121|1|19700101|20261121|-0500\narin|US|ipv4|8.8.8.0|256|20000101|allocated|xyz\n";
        assert!(rir_file_problem(no_summary).unwrap().contains("no summary"));
        let wrong_total = whole.replacen("|2|19700101", "|3|19700101", 1);
        assert!(rir_file_problem(&wrong_total)
            .unwrap()
            .contains("version line counts 3"));
    }

    #[test]
    fn cases_5_1_rir_lines() {
        let fixture = "2|ripencc|20260420|230000|19830101|20260419|+0000
ripencc|*|asn|*|35000|summary
ripencc|*|ipv4|*|25000|summary
ripencc|DE|ipv4|85.214.0.0|65536|20060814|allocated|abc
ripencc|GB|ipv4|46.101.0.0|65536|20120101|assigned|def
ripencc|*|ipv4|5.0.0.0|256|20200101|reserved|jkl
ripencc|ZZ|ipv4|6.0.0.0|256|20200101|allocated|mno
ripencc|ES|ipv4|*|0|20200101|allocated|pqr
# comment line
ripencc|IT|asn|12345|1|20100101|allocated|stu
arin|US|ipv4|8.8.8.0|256|20000101|allocated|xyz
garbage
a|b|c
ripencc|DE|ipv4|not-an-ip|256|20200101|allocated|x
ripencc|DE|ipv4|1.2.3.0|many|20200101|allocated|x";
        let rows: Vec<CountryRange> = fixture.lines().filter_map(parse_rir_line).collect();
        let ccs: Vec<&str> = rows.iter().map(|r| r.country.as_str()).collect();
        assert_eq!(ccs, ["DE", "GB", "US"]);
        assert_eq!(
            rows[2].range,
            Range {
                start: v4("8.8.8.0"),
                end: v4("8.8.8.255")
            }
        );
        assert_eq!(rows[2].registry, "arin");
        let jp = parse_rir_line("apnic|jp|ipv4|1.0.0.0|256|19990101|allocated|abc").unwrap();
        assert_eq!((jp.range.end, jp.country.as_str()), (v4("1.0.0.255"), "JP"));
    }

    #[test]
    fn rir_ipv6_and_odd_counts() {
        // DECNET drops IPv6 rows; their value is a prefix length
        let r = parse_rir_line("ripencc|FR|ipv6|2001:db8::|32|20100101|allocated|ghi").unwrap();
        assert_eq!(
            r.range,
            Range {
                start: v4("2001:db8::"),
                end: v4("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")
            }
        );
        // an IPv4 host count that is not a power of two, and the extended format's trailing columns
        let r =
            parse_rir_line("lacnic|BR|ipv4|200.0.0.0|768|20000101|allocated|opaque|extra").unwrap();
        assert_eq!(r.range.end, v4("200.0.2.255"));
        assert_eq!(
            parse_rir_line("arin|US|ipv4|255.255.255.0|512|20000101|allocated"),
            None,
            "runs past the end"
        );
        assert_eq!(
            parse_rir_line("arin|US|ipv6|2001:db8::|129|20000101|allocated"),
            None
        );
    }

    #[test]
    fn cases_5_5_iptoasn_lines() {
        let rows: Vec<AsnRange> = [
            "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET",
            "8.8.8.0\t8.8.8.255\t15169\tUS\tGOOGLE",
            "100.64.0.0\t100.127.255.255\t0\tNone\tNot routed",
            "garbage\tnonsense\t12345\tXX\twhatever",
            "10.0.0.10\t10.0.0.5\t99999\tXX\tBackwards",
            "46.101.0.0\t46.101.255.255\t14061\tDE\t",
            "a\tb",
        ]
        .iter()
        .filter_map(|l| parse_iptoasn_line(l))
        .collect();
        assert_eq!(
            rows.iter().map(|r| r.asn).collect::<Vec<_>>(),
            [13335, 15169, 14061]
        );
        assert_eq!(
            (rows[1].range.end, rows[1].name.as_str()),
            (v4("8.8.8.255"), "GOOGLE")
        );
        assert_eq!(
            (rows[2].name.as_str(), rows[2].country.as_deref()),
            ("", Some("DE"))
        );
        let v6 = parse_iptoasn_line(
            "2001:4860::\t2001:4860:ffff:ffff:ffff:ffff:ffff:ffff\t15169\tUS\tGOOGLE",
        )
        .unwrap();
        assert_eq!(v6.asn, 15169);
        assert_eq!(
            parse_iptoasn_line("1.0.0.0\t2001:db8::\t1\tUS\tmixed"),
            None
        );
    }

    #[test]
    fn cases_5_5_prefixes() {
        let r = |a: &str, b: &str| Range {
            start: v4(a),
            end: v4(b),
        };
        let p =
            |range: &Range, ip: &str| prefix_within(range, v4(ip)).map(|(a, l)| format!("{a}/{l}"));
        assert_eq!(
            p(&r("8.8.8.0", "8.8.8.255"), "8.8.8.8").as_deref(),
            Some("8.8.8.0/24")
        );
        assert_eq!(
            p(&r("8.8.8.0", "8.8.8.255"), "8.8.8.255").as_deref(),
            Some("8.8.8.0/24")
        );
        assert_eq!(
            p(&r("46.101.0.0", "46.101.255.255"), "46.101.10.20").as_deref(),
            Some("46.101.0.0/16")
        );
        assert_eq!(
            p(&r("1.0.0.0", "1.0.0.191"), "1.0.0.5").as_deref(),
            Some("1.0.0.0/25")
        );
        assert_eq!(
            p(&r("1.0.0.0", "1.0.0.191"), "1.0.0.130").as_deref(),
            Some("1.0.0.128/26")
        );
        assert_eq!(
            p(&r("1.2.3.4", "1.2.3.4"), "1.2.3.4").as_deref(),
            Some("1.2.3.4/32")
        );
        assert_eq!(
            p(&r("0.0.0.0", "255.255.255.255"), "9.9.9.9").as_deref(),
            Some("0.0.0.0/0")
        );
        assert_eq!(
            p(&r("200.0.0.0", "200.0.2.255"), "200.0.2.7").as_deref(),
            Some("200.0.2.0/24")
        );
        assert_eq!(p(&r("8.8.8.0", "8.8.8.255"), "8.8.9.0"), None);
        assert_eq!(
            p(&r("2001:db8::", "2001:db8::ffff"), "2001:db8::12").as_deref(),
            Some("2001:db8::/112")
        );
    }

    #[test]
    fn cases_5_4_public_addresses() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "192.168.1.5",
            "172.16.0.1",
            "169.254.1.1",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "0.0.0.0",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "240.0.0.1",
            "2001:db8::1",
            "::",
            "fc00::1",
        ] {
            assert!(!is_public(v4(ip)), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "100.64.0.1",
            "85.214.1.1",
        ] {
            assert!(is_public(v4(ip)), "{ip}");
        }
    }

    #[test]
    fn nameserver_lists() {
        assert_eq!(parse_nameservers(""), Ok(vec![]));
        let got = parse_nameservers("127.0.0.1:5353, 10.0.0.2, [::1]:53").unwrap();
        assert_eq!(
            got.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            ["127.0.0.1:5353", "10.0.0.2:53", "[::1]:53"]
        );
        assert!(parse_nameservers("dns.example").is_err());
    }
}
