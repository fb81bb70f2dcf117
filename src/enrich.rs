//! Enrichment data loaders and helpers (decnet_core::enrich; spec §F.1, §F.3).

use decnet_core::enrich;
use pgrx::datum::Inet;
use pgrx::prelude::*;
use std::net::IpAddr;

/// Why an RIR file is not whole (its version and summary counts disagree with
/// its records), or NULL when it is (decnet_core::enrich::rir_file_problem).
#[pg_extern(immutable, strict, parallel_safe)]
fn rir_file_problem(file: &str) -> Option<String> {
    enrich::rir_file_problem(file)
}

/// The usable ranges of an RIR delegated-statistics file (standard or
/// extended), IPv4 and IPv6, in file order; every other line is skipped.
#[pg_extern(immutable, strict, parallel_safe)]
fn rir_ranges(
    file: &str,
) -> TableIterator<
    'static,
    (
        name!(line_no, i32),
        name!(registry, String),
        name!(start_ip, Inet),
        name!(end_ip, Inet),
        name!(country_code, String),
    ),
> {
    let rows: Vec<_> = file
        .lines()
        .enumerate()
        .filter_map(|(i, l)| enrich::parse_rir_line(l).map(|r| (i as i32 + 1, r)))
        .map(|(n, r)| {
            (
                n,
                r.registry,
                Inet(r.range.start.to_string()),
                Inet(r.range.end.to_string()),
                r.country,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// The usable ranges of an iptoasn TSV file (ip2asn-v4.tsv / ip2asn-v6.tsv), in file order.
#[pg_extern(immutable, strict, parallel_safe)]
#[allow(clippy::type_complexity)]
fn iptoasn_ranges(
    file: &str,
) -> TableIterator<
    'static,
    (
        name!(line_no, i32),
        name!(start_ip, Inet),
        name!(end_ip, Inet),
        name!(asn, i64),
        name!(country, Option<String>),
        name!(as_name, String),
    ),
> {
    let rows: Vec<_> = file
        .lines()
        .enumerate()
        .filter_map(|(i, l)| enrich::parse_iptoasn_line(l).map(|r| (i as i32 + 1, r)))
        .map(|(n, r)| {
            (
                n,
                Inet(r.range.start.to_string()),
                Inet(r.range.end.to_string()),
                r.asn,
                r.country,
                r.name,
            )
        })
        .collect();
    TableIterator::new(rows)
}

fn host(v: &str) -> Option<IpAddr> {
    v.split('/').next()?.parse().ok()
}

/// The most specific CIDR of the range's minimal cover that holds ip (the
/// BGP prefix DECNET reports with an AS), as text; NULL when ip is outside.
#[pg_extern(immutable, strict, parallel_safe)]
fn range_prefix(start_ip: Inet, end_ip: Inet, ip: Inet) -> Option<String> {
    let range = enrich::Range {
        start: host(&start_ip)?,
        end: host(&end_ip)?,
    };
    enrich::prefix_within(&range, host(&ip)?).map(|(a, len)| format!("{a}/{len}"))
}
