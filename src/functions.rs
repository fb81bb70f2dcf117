//! Pure SQL functions over decnet-core: `parse_log`, `classify_event_kind`, `bucket_services`.

use decnet_core::{bounty, family, kinds, syslog};
use pgrx::datum::{Inet, JsonB};
use pgrx::prelude::*;

/// Seconds between the Unix epoch and PostgreSQL's (2000-01-01), in microseconds.
pub const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

pub fn to_timestamptz(unix_micros: i64) -> Option<TimestampWithTimeZone> {
    TimestampWithTimeZone::try_from(unix_micros - PG_EPOCH_OFFSET_MICROS).ok()
}

/// A string member of a stored line's `fields` (NULL fields, a missing key or
/// a non-string value: None).
pub fn field_str<'a>(fields: Option<&'a JsonB>, key: &str) -> Option<&'a str> {
    fields?.0.get(key)?.as_str()
}

/// A value bounded for a keyed column (decnet_core::bound::index_key): itself
/// when at most 256 bytes, else a prefix and the SHA-256 of the whole value.
#[pg_extern(immutable, strict, parallel_safe)]
fn index_key(value: &str) -> String {
    decnet_core::bound::index_key(value).into_owned()
}

/// What the ingest trigger stores for a line, as one row.
#[pg_extern(immutable, strict, parallel_safe)]
fn parse_log(
    raw_line: &str,
) -> TableIterator<
    'static,
    (
        name!(parse_status, String),
        name!(parse_reason, Option<String>),
        name!(ts, Option<TimestampWithTimeZone>),
        name!(decky, Option<String>),
        name!(service, Option<String>),
        name!(event_type, Option<String>),
        name!(attacker_ip, Option<Inet>),
        name!(fields, JsonB),
        name!(msg, Option<String>),
    ),
> {
    let p = syslog::parse_line(raw_line);
    let fields = serde_json::from_str(&p.fields_json()).expect("fields_json writes valid JSON");
    let row = (
        p.status().as_str().to_owned(),
        p.reason(),
        p.ts.and_then(to_timestamptz),
        p.decky.map(str::to_owned),
        p.service.map(str::to_owned),
        p.event_type.map(str::to_owned),
        p.attacker_ip.map(|ip| Inet(ip.to_string())),
        JsonB(fields),
        p.msg.map(str::to_owned),
    );
    TableIterator::once(row)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn classify_event_kind(event_type: &str) -> &'static str {
    kinds::classify_event_kind(event_type).as_str()
}

/// Refuses parallel array arguments of different lengths (22023); `columns`
/// are what the caller aggregates into them, for the hint.
pub(crate) fn require_parallel<const N: usize>(
    function: &'static str,
    arguments: [(&str, usize); N],
    columns: [&str; N],
) {
    let (first, first_len) = arguments[0];
    if let Some((other, other_len)) = arguments[1..].iter().find(|(_, len)| *len != first_len) {
        let aggregates: Vec<String> = columns.iter().map(|c| format!("array_agg({c})")).collect();
        pgrx::pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("{first} has {first_len} elements but {other} has {other_len}"),
            function,
        )
        .set_hint(format!(
            "Pass {} from the same rows.",
            aggregates.join(" and ")
        ))
        .report(PgLogLevel::ERROR);
    }
}

/// Scanned vs interacted services from parallel arrays of (service, event_type).
#[pg_extern(immutable, strict, parallel_safe)]
fn bucket_services(
    services: Vec<Option<String>>,
    event_types: Vec<Option<String>>,
) -> TableIterator<'static, (name!(interacted, Vec<String>), name!(scanned, Vec<String>))> {
    require_parallel(
        "decnet.bucket_services",
        [
            ("services", services.len()),
            ("event_types", event_types.len()),
        ],
        ["service", "event_type"],
    );
    let pairs = services
        .iter()
        .zip(&event_types)
        .filter_map(|(s, e)| Some((s.as_deref()?, e.as_deref())));
    let b = kinds::bucket_services(pairs);
    TableIterator::once((b.interacted, b.scanned))
}

/// One attacker's services: the families of its programs (decnet_core::family).
#[pg_extern(immutable, strict, parallel_safe)]
fn service_families(programs: Vec<Option<String>>) -> Vec<String> {
    let programs: Vec<&str> = programs.iter().flatten().map(String::as_str).collect();
    family::service_families(&programs)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// One attacker's interacted and scanned services (families) from its
/// decnet.attacker_services rows: parallel arrays of service and bucket.
#[pg_extern(immutable, strict, parallel_safe)]
fn family_buckets(
    programs: Vec<Option<String>>,
    buckets: Vec<Option<String>>,
) -> TableIterator<'static, (name!(interacted, Vec<String>), name!(scanned, Vec<String>))> {
    require_parallel(
        "decnet.family_buckets",
        [("programs", programs.len()), ("buckets", buckets.len())],
        ["service", "bucket"],
    );
    let (programs, buckets): (Vec<&str>, Vec<&str>) = programs
        .iter()
        .zip(&buckets)
        .filter_map(|(p, b)| Some((p.as_deref()?, b.as_deref().unwrap_or("noise"))))
        .unzip();
    TableIterator::once(family::family_buckets(&programs, &buckets))
}

/// Bounties and credentials of one stored line (spec §E). `credential` rows
/// carry the credential fields in `payload`; everything else is a bounty.
#[pg_extern(stable, parallel_safe)]
fn log_bounties(
    service: Option<&str>,
    event_type: Option<&str>,
    attacker_ip: Option<Inet>,
    fields: Option<JsonB>,
) -> TableIterator<
    'static,
    (
        name!(bounty_type, String),
        name!(attacker_ip, Option<Inet>),
        name!(payload, JsonB),
    ),
> {
    let Some(JsonB(serde_json::Value::Object(map))) = fields else {
        return TableIterator::new(Vec::new());
    };
    let ip = attacker_ip.map(|i| i.0);
    let ev = bounty::LogEvent {
        service: service.unwrap_or(""),
        event_type: event_type.unwrap_or(""),
        attacker_ip: ip.as_deref(),
        fields: bounty::Fields::Stored(&map),
    };
    let cfg = bounty::Config::with_trusted_proxies(&crate::gucs::trusted_proxies());
    let rows: Vec<_> = bounty::extract(&ev, &cfg)
        .into_iter()
        .map(|b| {
            (
                b.bounty_type.to_owned(),
                b.attacker_ip.map(Inet),
                JsonB(b.payload),
            )
        })
        .collect();
    TableIterator::new(rows)
}
