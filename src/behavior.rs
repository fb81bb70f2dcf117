//! Behaviour primitives as SQL functions (decnet_core::behavior; spec §D.7–D.9, §G.1–G.2).

use crate::functions::PG_EPOCH_OFFSET_MICROS;
use decnet_core::{behavior, os_signature, p0f};
use pgrx::datum::JsonB;
use pgrx::prelude::*;

#[pg_extern(immutable, strict, parallel_safe)]
fn seq_class(samples: Vec<Option<i64>>) -> &'static str {
    let samples: Vec<i64> = samples.into_iter().flatten().collect();
    behavior::seq_class(&samples)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn initial_ttl(ttl: i32) -> i32 {
    behavior::initial_ttl(ttl)
}

#[pg_extern(immutable, strict, parallel_safe)]
fn hop_distance(ttl: i32) -> i32 {
    behavior::hop_distance(ttl)
}

/// The most lines of one attacker a rollup reads (decnet_core::behavior::ROLLUP_LINES_MAX).
#[pg_extern(immutable, parallel_safe)]
fn rollup_lines_max() -> i32 {
    behavior::ROLLUP_LINES_MAX as i32
}

/// DECNET's timing_stats over event times (NULLs ignored), as jsonb with its key names.
#[pg_extern(immutable, strict, parallel_safe)]
fn timing_stats(times: Vec<Option<TimestampWithTimeZone>>) -> JsonB {
    let us: Vec<i64> = times
        .into_iter()
        .flatten()
        .map(|t| t.into_inner() + PG_EPOCH_OFFSET_MICROS)
        .collect();
    let s = behavior::timing_stats(&us);
    JsonB(serde_json::json!({
        "event_count": s.event_count, "duration_s": s.duration_s, "mean_iat_s": s.mean_iat_s,
        "median_iat_s": s.median_iat_s, "stdev_iat_s": s.stdev_iat_s, "min_iat_s": s.min_iat_s,
        "max_iat_s": s.max_iat_s, "cv": s.cv,
    }))
}

/// DECNET's classify_behavior (spec §D.8, the code's rule order) over a timing summary.
#[pg_extern(immutable, parallel_safe)]
fn behavior_class(
    event_count: Option<i64>,
    mean_iat_s: Option<f64>,
    cv: Option<f64>,
    services: Option<i32>,
) -> &'static str {
    behavior::behavior_class(
        event_count.unwrap_or(0).max(0) as usize,
        mean_iat_s,
        cv,
        services.unwrap_or(0).max(0) as usize,
    )
}

/// C2 frameworks whose beacon cadence matches (spec §D.9), in table order.
#[pg_extern(immutable, parallel_safe)]
fn cadence_tools(mean_iat_s: Option<f64>, cv: Option<f64>) -> Vec<&'static str> {
    behavior::cadence_tools(mean_iat_s, cv)
}

/// beacon_jitter_pct of spec §D.6: the cv as a percentage, Python-rounded to 2 places.
#[pg_extern(immutable, strict, parallel_safe)]
fn jitter_pct(cv: f64) -> f64 {
    behavior::py_round(cv * 100.0, 2)
}

/// The per-attacker details of the behaviour record (DECNET
/// `decnet/profiler/tools.py`, `phases.py`, `decnet/sniffer/fingerprint.py`)
/// from its lines, given column by column (the rollup's array_agg of log id,
/// event type, service, time in microseconds since the epoch and fields,
/// aggregated from the same rows in any order: they are put in log id order
/// here), its timing summary, and the text of decnet.os_signature_set().
#[pg_extern(immutable, parallel_safe)]
#[allow(clippy::too_many_arguments)]
fn behavior_details_of(
    log_ids: Option<Vec<Option<i64>>>,
    event_types: Option<Vec<Option<String>>>,
    services: Option<Vec<Option<String>>>,
    times_us: Option<Vec<Option<i64>>>,
    fields: Option<Vec<Option<pgrx::datum::Json>>>,
    mean_iat_s: Option<f64>,
    cv: Option<f64>,
    signatures: default!(Option<&str>, "NULL"),
) -> JsonB {
    let (ids, types, services, times, fields) = (
        log_ids.unwrap_or_default(),
        event_types.unwrap_or_default(),
        services.unwrap_or_default(),
        times_us.unwrap_or_default(),
        fields.unwrap_or_default(),
    );
    crate::functions::require_parallel(
        "decnet.behavior_details_of",
        [
            ("log_ids", ids.len()),
            ("event_types", types.len()),
            ("services", services.len()),
            ("times_us", times.len()),
            ("fields", fields.len()),
        ],
        ["id", "event_type", "service", "ts", "fields"],
    );
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| ids[i]);
    let no_fields = serde_json::Map::new();
    let rows: Vec<behavior::EventRow<'_>> = order
        .iter()
        .map(|&i| behavior::EventRow {
            ts_us: times[i],
            event_type: types[i].as_deref().unwrap_or(""),
            service: services[i].as_deref().unwrap_or(""),
            fields: fields[i]
                .as_ref()
                .and_then(|f| f.0.as_object())
                .unwrap_or(&no_fields),
        })
        .collect();
    details_of(&rows, mean_iat_s, cv, signatures)
}

/// The same from one jsonb array of `{"e": event_type, "s": service, "t":
/// microseconds, "f": fields}` in id order: the signature releases up to
/// 0.5.0 call from their rollup, kept so that their SQL works with this
/// library until `ALTER EXTENSION decnet UPDATE` replaces it. The rollup calls
/// behavior_details_of.
#[pg_extern(immutable, parallel_safe)]
fn behavior_details(
    events: Option<JsonB>,
    mean_iat_s: Option<f64>,
    cv: Option<f64>,
    signatures: default!(Option<JsonB>, "NULL"),
) -> JsonB {
    let signatures = signatures.map(|JsonB(v)| v.to_string());
    let empty = Vec::new();
    let list = events
        .as_ref()
        .and_then(|JsonB(v)| v.as_array())
        .unwrap_or(&empty);
    let no_fields = serde_json::Map::new();
    let rows: Vec<behavior::EventRow<'_>> = list
        .iter()
        .map(|e| behavior::EventRow {
            ts_us: e.get("t").and_then(|t| t.as_i64()),
            event_type: e.get("e").and_then(|v| v.as_str()).unwrap_or(""),
            service: e.get("s").and_then(|v| v.as_str()).unwrap_or(""),
            fields: e.get("f").and_then(|f| f.as_object()).unwrap_or(&no_fields),
        })
        .collect();
    details_of(&rows, mean_iat_s, cv, signatures.as_deref())
}

fn details_of(
    rows: &[behavior::EventRow<'_>],
    mean_iat_s: Option<f64>,
    cv: Option<f64>,
    signatures: Option<&str>,
) -> JsonB {
    let d = with_signatures(signatures, |sigs| {
        behavior::details(rows, &behavior::cadence_tools(mean_iat_s, cv), sigs)
    });
    let nonempty = |v: Vec<String>| {
        if v.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::json!(v)
        }
    };
    JsonB(serde_json::json!({
        "os_guess": d.os_guess, "hop_distance": d.hop_distance, "tcp_fingerprint": d.tcp_fingerprint,
        "retransmit_count": d.retransmit_count, "kex_order_raw": nonempty(d.kex_order_raw),
        "ssh_client_banners": nonempty(d.ssh_client_banners), "phase_sequence": d.phase_sequence,
        "tool_guesses": d.header_tools,
    }))
}

thread_local! {
    /// The last signature set parsed, keyed by its jsonb text: a rollup passes the
    /// same decnet.os_signatures for every attacker, so its patterns compile once.
    static SIGNATURES: std::cell::RefCell<(String, Vec<os_signature::Signature>)> = Default::default();
}

/// Runs `f` over the signatures of a JSON array (as text) of decnet.os_signatures
/// rows (rows whose pattern does not compile are skipped; the table's CHECK keeps them out).
/// Takes the set as text: a rollup calls behavior_details once per attacker,
/// and a jsonb argument would be printed and parsed again on every call.
fn with_signatures<T>(
    signatures: Option<&str>,
    f: impl FnOnce(&[os_signature::Signature]) -> T,
) -> T {
    let Some(text) = signatures else {
        return f(&[]);
    };
    SIGNATURES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != text {
            let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            let parsed = value
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(os_signature::Signature::from_json)
                        .collect()
                })
                .unwrap_or_default();
            *cache = (text.to_owned(), parsed);
        }
        f(&cache.1)
    })
}

/// True when `pattern` compiles as an option-order pattern (the CHECK of decnet.os_signatures.options).
#[pg_extern(immutable, strict, parallel_safe)]
fn os_options_pattern_ok(pattern: &str) -> bool {
    os_signature::options_regex(pattern).is_ok()
}

/// The label of the first signature (jsonb array of decnet.os_signatures rows, in
/// priority order) matching one observed packet; NULL when none does.
#[pg_extern(immutable, parallel_safe)]
fn os_signature_match(
    signatures: Option<JsonB>,
    context: Option<&str>,
    ttl: Option<i32>,
    window: Option<i32>,
    mss: Option<i32>,
    wscale: Option<i32>,
    options: Option<&str>,
) -> Option<String> {
    let obs = os_signature::Observation {
        context: context.unwrap_or("syn").to_owned(),
        ttl: ttl.map(i64::from),
        window: window.map(i64::from),
        mss: mss.map(i64::from),
        wscale: wscale.map(i64::from),
        options: options.map(str::to_owned),
    };
    let text = signatures.map(|JsonB(v)| v.to_string());
    with_signatures(text.as_deref(), |sigs| {
        os_signature::first_match(sigs, &obs).map(|s| s.label.clone())
    })
}

/// The built-in OS signatures (decnet_core::os_signature::BUILTIN) in priority
/// order; migration V6 seeds decnet.os_signatures from them.
#[pg_extern(immutable, parallel_safe)]
#[allow(clippy::type_complexity)]
fn builtin_os_signatures() -> TableIterator<
    'static,
    (
        name!(label, String),
        name!(context, String),
        name!(initial_ttl, Option<i32>),
        name!(windows, Option<Vec<i32>>),
        name!(window_min, Option<i32>),
        name!(mss, Option<Vec<i32>>),
        name!(wscales, Option<Vec<i32>>),
        name!(options, Option<String>),
        name!(sack, Option<bool>),
        name!(timestamps, Option<bool>),
        name!(eol, Option<bool>),
    ),
> {
    let ints = |v: Option<&[i64]>| v.map(|v| v.iter().map(|&x| x as i32).collect::<Vec<i32>>());
    TableIterator::new(os_signature::BUILTIN.iter().map(
        move |&(
            label,
            context,
            ttl,
            windows,
            window_min,
            mss,
            wscales,
            options,
            sack,
            timestamps,
            eol,
        )| {
            (
                label.to_owned(),
                context.to_owned(),
                ttl.map(|t| t as i32),
                ints(windows),
                window_min.map(|w| w as i32),
                ints(mss),
                ints(wscales),
                options.map(str::to_owned),
                sack,
                timestamps,
                eol,
            )
        },
    ))
}

/// True when `line` parses as a p0f v2 signature (the CHECK of decnet.os_signatures.p0f).
#[pg_extern(immutable, strict, parallel_safe)]
fn p0f_line_ok(line: &str) -> bool {
    p0f::parse_line(line).is_ok()
}

/// The signatures of a p0f v2 file (p0f.fp format), in file order, with their
/// specificity; comments, blank and malformed lines are left out.
#[pg_extern(immutable, strict, parallel_safe)]
fn p0f_signatures(
    file: &str,
) -> TableIterator<
    'static,
    (
        name!(line_no, i32),
        name!(line, String),
        name!(os, String),
        name!(flavor, String),
        name!(specificity, f64),
    ),
> {
    let rows: Vec<_> = file
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|(i, l)| {
            p0f::parse_line(l).ok().map(|s| {
                (
                    i as i32 + 1,
                    l.trim().to_owned(),
                    s.os,
                    s.flavor,
                    s.specificity,
                )
            })
        })
        .collect();
    TableIterator::new(rows)
}
