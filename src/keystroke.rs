//! Keystroke SimHash functions (decnet_core::keystroke); 8-byte big-endian bytea.

use decnet_core::keystroke;
use pgrx::prelude::*;

fn to_u64(b: &[u8], what: &str) -> u64 {
    match <[u8; 8]>::try_from(b) {
        Ok(a) => u64::from_be_bytes(a),
        Err(_) => {
            pgrx::pg_sys::panic::ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("{what} must be an 8-byte keystroke SimHash, got {} bytes", b.len()),
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
    keystroke::hamming64(to_u64(a, "the first argument"), to_u64(b, "the second argument")) as i32
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
