//! Exports for other tools (issue 21): the formats are built by
//! `decnet_core::sharing` from the facts `decnet.export_facts()` gathers.

use decnet_core::sharing::{self, AttackerActivity, AttackerFacts};
use pgrx::datum::JsonB;
use pgrx::prelude::*;
use serde::de::DeserializeOwned;

fn facts_of<T: DeserializeOwned>(facts: JsonB, function: &'static str) -> Vec<T> {
    match serde_json::from_value(facts.0) {
        Ok(f) => f,
        Err(e) => {
            pgrx::pg_sys::panic::ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("{function}: the attacker facts do not parse: {e}"),
                function,
            )
            .set_hint(
                "Pass what decnet.export_stix(), export_misp() or export_navigator() aggregate.",
            )
            .report(PgLogLevel::ERROR);
            unreachable!()
        }
    }
}

/// A STIX 2.1 bundle of the attackers: addresses, indicators, observed-data,
/// fingerprint indicators and identities as infrastructure; stable ids.
#[pg_extern(immutable, strict, parallel_safe)]
fn stix_bundle(facts: JsonB) -> JsonB {
    let facts: Vec<AttackerFacts> = facts_of(facts, "decnet.stix_bundle");
    JsonB(sharing::stix_bundle(&facts))
}

/// A MISP event of the attackers; `scope` names the export and fixes the event uuid.
#[pg_extern(immutable, strict, parallel_safe)]
fn misp_event(facts: JsonB, scope: &str) -> JsonB {
    let facts: Vec<AttackerFacts> = facts_of(facts, "decnet.misp_event");
    JsonB(sharing::misp_event(&facts, scope))
}

/// One CSV line of `fields` (NULL as an empty field), each quoted and defused
/// against spreadsheet formulas as `decnet_core::sharing::csv_field` says.
#[pg_extern(immutable, strict, parallel_safe)]
fn csv_line(fields: Array<&str>) -> String {
    fields
        .iter()
        .map(|f| f.map(sharing::csv_field).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(",")
}

/// An ATT&CK Navigator layer of the attackers' activity; `scope` names it.
#[pg_extern(immutable, strict, parallel_safe)]
fn navigator_layer(activity: JsonB, scope: &str) -> JsonB {
    let activity: Vec<AttackerActivity> = facts_of(activity, "decnet.navigator_layer");
    JsonB(sharing::navigator_layer(&activity, scope))
}
