//! Keystroke SimHash functions (decnet_core::keystroke); 8-byte big-endian bytea.

use decnet_core::{keystroke, session_profile};
use pgrx::datum::JsonB;
use pgrx::prelude::*;

fn to_u64(b: &[u8], what: &str) -> u64 {
    match <[u8; 8]>::try_from(b) {
        Ok(a) => u64::from_be_bytes(a),
        Err(_) => {
            pgrx::pg_sys::panic::ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!(
                    "{what} must be an 8-byte keystroke SimHash, got {} bytes",
                    b.len()
                ),
                "decnet.kd_hamming",
            )
            .set_hint("Pass values returned by decnet.kd_simhash().")
            .report(PgLogLevel::ERROR);
            unreachable!()
        }
    }
}

/// Digraph SimHash (spec H.4) of the input events of a sessrec JSONL shard,
/// optionally only of session `sid`; NULL below 8 digraphs or 20 samples.
/// Malformed lines are skipped.
#[pg_extern(immutable, parallel_safe)]
fn kd_simhash(shard: Option<&str>, sid: default!(Option<&str>, "NULL")) -> Option<Vec<u8>> {
    let (events, _skipped) = keystroke::parse_shard(shard?, sid);
    keystroke::digraph_simhash(&events).map(|(h, _)| h.to_be_bytes().to_vec())
}

#[pg_extern(immutable, strict, parallel_safe)]
fn kd_hamming(a: &[u8], b: &[u8]) -> i32 {
    keystroke::hamming64(
        to_u64(a, "the first argument"),
        to_u64(b, "the second argument"),
    ) as i32
}

/// Final function of the kd_centroid aggregate: strict per-bit majority; values
/// that are not 8 bytes are ignored; NULL when there is nothing to average.
#[pg_extern(immutable, parallel_safe)]
fn kd_centroid_final(hashes: Option<pgrx::Array<'_, &[u8]>>) -> Option<Vec<u8>> {
    let hashes: Vec<u64> = hashes?
        .iter()
        .flatten()
        .filter_map(|b| <[u8; 8]>::try_from(b).ok().map(u64::from_be_bytes))
        .collect();
    keystroke::centroid(&hashes).map(|c| c.to_be_bytes().to_vec())
}

extension_sql!(
    r#"
CREATE AGGREGATE @extschema@.kd_centroid(bytea) (
    SFUNC = pg_catalog.array_append,
    STYPE = bytea[],
    INITCOND = '{}',
    FINALFUNC = @extschema@.kd_centroid_final
);
COMMENT ON AGGREGATE @extschema@.kd_centroid(bytea) IS
'Identity keystroke centroid (spec H.5): bit i set iff more than half of the 8-byte SimHashes have it; NULL for none.';
"#,
    name = "kd_centroid",
    requires = [kd_centroid_final]
);

/// The keystroke profile of one recorded session (docs/keystrokes.md): the
/// sessrec JSONL lines of session `sid` in, one row of timing and
/// character-class aggregates out. No typed text leaves this function except
/// two-character bigrams.
#[pg_extern(immutable, strict, parallel_safe)]
#[allow(clippy::type_complexity)]
fn keystroke_profile(
    events: &str,
    sid: &str,
) -> TableIterator<
    'static,
    (
        name!(schema_version, i32),
        name!(kd_simhash, Option<Vec<u8>>),
        name!(kd_simhash_confidence, Option<f64>),
        name!(iki_mean_s, Option<f64>),
        name!(iki_stdev_s, Option<f64>),
        name!(iki_p50_s, Option<f64>),
        name!(iki_p95_s, Option<f64>),
        name!(enter_latency_p50_s, Option<f64>),
        name!(enter_latency_p95_s, Option<f64>),
        name!(pause_burst, i32),
        name!(pause_think, i32),
        name!(pause_distracted, i32),
        name!(start_of_action_latency_s, Option<f64>),
        name!(max_pause_s, Option<f64>),
        name!(backspace_rate, Option<f64>),
        name!(wkill_rate, Option<f64>),
        name!(ukill_rate, Option<f64>),
        name!(abort_rate, Option<f64>),
        name!(eof_rate, Option<f64>),
        name!(arrow_rate, Option<f64>),
        name!(tab_rate, Option<f64>),
        name!(top_bigrams, JsonB),
        name!(total_keystrokes, i32),
        name!(paste_events, i32),
        name!(input_events, i32),
        name!(output_events, i32),
        name!(duration_s, f64),
        name!(malformed_lines, i32),
    ),
> {
    let (parsed, malformed) = keystroke::parse_shard(events, Some(sid));
    let p = session_profile::profile(&parsed);
    let bigrams = serde_json::Value::Array(
        p.top_bigrams
            .iter()
            .map(|(b, n, mean)| serde_json::json!([b, n, mean]))
            .collect(),
    );
    TableIterator::once((
        session_profile::SCHEMA_VERSION,
        p.simhash.map(|h| h.to_be_bytes().to_vec()),
        p.simhash_confidence,
        p.iki_mean,
        p.iki_stdev,
        p.iki_p50,
        p.iki_p95,
        p.enter_latency_p50,
        p.enter_latency_p95,
        p.pause_burst,
        p.pause_think,
        p.pause_distracted,
        p.start_of_action_latency,
        p.max_pause,
        p.backspace_rate,
        p.wkill_rate,
        p.ukill_rate,
        p.abort_rate,
        p.eof_rate,
        p.arrow_rate,
        p.tab_rate,
        JsonB(bigrams),
        p.total_keystrokes,
        p.paste_events,
        p.input_events,
        p.output_events,
        p.duration_s,
        malformed.min(i32::MAX as usize) as i32,
    ))
}

/// Multi-index-hashing probes: every 16-bit chunk value within `radius` bits of `chunk`.
#[pg_extern(immutable, strict, parallel_safe)]
fn kd_chunk_neighbors(chunk: i32, radius: i32) -> Vec<i32> {
    let chunk = u16::try_from(chunk).unwrap_or_else(|_| {
        pgrx::pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("a SimHash chunk is 16 bits, got {chunk}"),
            "decnet.kd_chunk_neighbors",
        )
        .set_hint("Pass a value between 0 and 65535.")
        .report(PgLogLevel::ERROR);
        unreachable!()
    });
    keystroke::chunk_neighbors(chunk, radius.clamp(0, 16) as u32)
        .into_iter()
        .map(i32::from)
        .collect()
}
