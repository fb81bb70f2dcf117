//! Rotation, IPv6 leak and identity/campaign rules for SQL (decnet_core::identity;
//! spec G.3–G.6, D.12, H.5). The tables and passes are in sql/identity.sql.

use crate::functions::field_str;
use decnet_core::identity::{self, CampaignView, Observation};
use pgrx::datum::{Array, FromDatum, Inet, IntoDatum, JsonB, UnboxDatum};
use pgrx::prelude::*;
use std::collections::{BTreeSet, HashMap};

/// `decnet.identity_observation` and `decnet.campaign_features`, created in sql/identity.sql.
type Composite<'a> = PgHeapTuple<'a, AllocatedByRust>;

/// One attribute of a composite this extension defines; a type that no
/// longer matches the Rust side (an edited CREATE TYPE) is an error, not an empty value.
fn attribute<'t, T>(row: &'t Composite<'_>, type_name: &str, attribute: &str) -> Option<T>
where
    T: FromDatum + IntoDatum + UnboxDatum<As<'t> = T> + 't,
{
    row.get_by_name(attribute).unwrap_or_else(|e| {
        pgrx::pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            format!("decnet.{type_name}.{attribute} does not match the extension: {e}"),
            "decnet.identity",
        )
        .set_hint("the type was changed by hand; reinstall the extension to restore it")
        .report(PgLogLevel::ERROR);
        unreachable!("an ERROR report does not return")
    })
}

/// A text[] attribute, NULL elements left out.
fn texts(row: &Composite<'_>, type_name: &str, name: &str) -> Vec<String> {
    attribute::<Array<String>>(row, type_name, name)
        .map(|a| a.iter().flatten().collect())
        .unwrap_or_default()
}

/// A float8[] attribute, NULL elements left out.
fn floats(row: &Composite<'_>, type_name: &str, name: &str) -> Vec<f64> {
    attribute::<Array<f64>>(row, type_name, name)
        .map(|a| a.iter().flatten().collect())
        .unwrap_or_default()
}

/// Parallel attributes of one composite must have one element each; SQL
/// builds them with array_agg over the same rows.
fn require_same_length(type_name: &str, lengths: &[(&str, usize)]) {
    let (first, first_len) = lengths[0];
    if let Some((other, other_len)) = lengths[1..].iter().find(|(_, len)| *len != first_len) {
        pgrx::pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!(
                "decnet.{type_name}: {first} has {first_len} elements but {other} has {other_len}"
            ),
            "decnet.identity",
        )
        .set_hint("build parallel attributes with array_agg over the same rows")
        .report(PgLogLevel::ERROR);
    }
}

/// The kd_simhash attribute (a keystroke centroid) as a number.
fn keystroke_centroid(row: &Composite<'_>, type_name: &str) -> Option<u64> {
    attribute::<&[u8]>(row, type_name, "kd_simhash").and_then(identity::simhash_from_bytes)
}

/// A `decnet.identity_observation` as decnet_core compares it.
fn observation(row: &Composite<'_>) -> Observation {
    const TYPE: &str = "identity_observation";
    let set = |name| texts(row, TYPE, name).into_iter().collect::<BTreeSet<_>>();
    let (phases, commands) = (
        texts(row, TYPE, "command_phases"),
        texts(row, TYPE, "commands"),
    );
    let principals = texts(row, TYPE, "credential_principals");
    let secrets = texts(row, TYPE, "credential_secrets");
    require_same_length(
        TYPE,
        &[
            ("command_phases", phases.len()),
            ("commands", commands.len()),
        ],
    );
    require_same_length(
        TYPE,
        &[
            ("credential_principals", principals.len()),
            ("credential_secrets", secrets.len()),
        ],
    );
    Observation {
        fingerprints: set("fingerprints"),
        payload_hashes: set("payload_hashes"),
        c2_endpoints: set("c2_endpoints"),
        commands_by_phase: identity::commands_by_phase(
            phases
                .iter()
                .map(String::as_str)
                .zip(commands.iter().map(String::as_str)),
        ),
        credentials: principals.into_iter().zip(secrets).collect(),
        asn: attribute::<i64>(row, TYPE, "asn"),
        kd_simhash: keystroke_centroid(row, TYPE),
    }
}

/// A `decnet.campaign_features` as decnet_core compares it.
fn campaign_view(row: &Composite<'_>) -> CampaignView {
    const TYPE: &str = "campaign_features";
    let deckies = texts(row, TYPE, "phase_deckies");
    let (first_phases, first_times) = (
        texts(row, TYPE, "first_phases"),
        floats(row, TYPE, "first_times"),
    );
    let (last_phases, last_times) = (
        texts(row, TYPE, "last_phases"),
        floats(row, TYPE, "last_times"),
    );
    let (starts, ends) = (
        floats(row, TYPE, "window_starts"),
        floats(row, TYPE, "window_ends"),
    );
    require_same_length(
        TYPE,
        &[
            ("phase_deckies", deckies.len()),
            ("first_phases", first_phases.len()),
            ("first_times", first_times.len()),
            ("last_phases", last_phases.len()),
            ("last_times", last_times.len()),
        ],
    );
    require_same_length(
        TYPE,
        &[("window_starts", starts.len()), ("window_ends", ends.len())],
    );
    let by_decky = |phases: Vec<String>, times: Vec<f64>| {
        deckies
            .iter()
            .cloned()
            .zip(phases.into_iter().zip(times))
            .collect()
    };
    CampaignView {
        first_phase: by_decky(first_phases, first_times),
        last_phase: by_decky(last_phases, last_times),
        infrastructure: texts(row, TYPE, "infrastructure").into_iter().collect(),
        windows: starts.into_iter().zip(ends).collect(),
        cohort: texts(row, TYPE, "cohort").into_iter().collect(),
        kd_simhash: keystroke_centroid(row, TYPE),
    }
}

/// Event types that carry a rotation-tracked hash.
#[pg_extern(immutable, parallel_safe)]
fn probe_event_types() -> Vec<&'static str> {
    identity::PROBES.iter().map(|(e, _, _, _)| *e).collect()
}

/// The (probe type, port, hash) one stored line observes: zero or one row.
#[pg_extern(immutable, parallel_safe)]
fn probe_observation(
    event_type: Option<&str>,
    fields: Option<JsonB>,
) -> TableIterator<
    'static,
    (
        name!(probe_type, String),
        name!(port, i32),
        name!(hash, String),
    ),
> {
    let row = identity::probe_observation(event_type, |k| field_str(fields.as_ref(), k))
        .map(|(t, p, h)| (t.to_owned(), p, h.into_owned()));
    TableIterator::new(row)
}

/// The link-local source of an `ipv6_link_local_leak` line (NULL otherwise).
#[pg_extern(immutable, parallel_safe)]
fn leaked_link_local(event_type: Option<&str>, fields: Option<JsonB>) -> Option<Inet> {
    identity::leaked_link_local(event_type, field_str(fields.as_ref(), "src_ip"))
        .map(|ip| Inet(ip.to_string()))
}

/// The IPv4 address a leak line ties its link-local source to (NULL if none).
#[pg_extern(immutable, parallel_safe)]
fn leak_attacker_v4(fields: Option<JsonB>) -> Option<Inet> {
    identity::leak_attacker_v4(field_str(fields.as_ref(), "attacker_v4"))
        .map(|ip| Inet(ip.to_string()))
}

/// `eui64`, `stable_privacy` (any other IPv6 interface id) or `unknown`.
#[pg_extern(immutable, strict, parallel_safe)]
fn ipv6_iid_kind(addr: Inet) -> &'static str {
    identity::ipv6_iid_classify(&addr.0).0
}

/// The OUI (`a8:bb:cc`) of an EUI-64 interface id; NULL for any other.
#[pg_extern(immutable, strict, parallel_safe)]
fn ipv6_mac_oui(addr: Inet) -> Option<String> {
    Some(identity::ipv6_iid_classify(&addr.0).1).filter(|o| !o.is_empty())
}

/// The MAC address an EUI-64 interface id embeds; NULL for any other.
#[pg_extern(immutable, strict, parallel_safe)]
fn ipv6_eui64_mac(addr: Inet) -> Option<String> {
    identity::eui64_mac(&addr.0)
}

/// Sorted distinct fingerprints per identity column (spec D.12) of a list of
/// bounty rows or payloads: {"ja3_hashes": [...] | null, ...}.
#[pg_extern(immutable, strict, parallel_safe)]
fn fingerprint_summary(entries: JsonB) -> JsonB {
    JsonB(
        serde_json::to_value(identity::fingerprint_summary(&entries.0)).expect("strings serialise"),
    )
}

/// Identity edge weight of two observations (spec G.4 tiers plus the keystroke
/// rhythm); an edge exists at 1.0 or more.
#[pg_extern(immutable, strict, parallel_safe)]
fn identity_similarity(a: JsonB, b: JsonB) -> f64 {
    identity::identity_similarity(&Observation::from_json(&a.0), &Observation::from_json(&b.0))
}

/// The identity edges among attackers grouped by a shared signal value:
/// attackers[i] is a member of group groups[i] (in_scope[i]: one of the
/// addresses the pass is for). Every pair in a group with a member in scope is
/// a candidate, weighed once with the observations (ips[k] has
/// observations[k]); the pairs at the edge threshold are returned. Addresses as
/// text (pgrx has no inet[]).
#[pg_extern(immutable, strict, parallel_safe, requires = ["identity"])]
fn identity_group_edges(
    groups: Vec<Option<i64>>,
    attackers: Vec<Option<String>>,
    in_scope: Vec<Option<bool>>,
    ips: Vec<Option<String>>,
    observations: Array<pgrx::composite_type!("identity_observation")>,
) -> TableIterator<'static, (name!(a, String), name!(b, String))> {
    crate::functions::require_parallel(
        "decnet.identity_group_edges",
        [
            ("groups", groups.len()),
            ("attackers", attackers.len()),
            ("in_scope", in_scope.len()),
        ],
        ["group", "attacker_ip", "in scope"],
    );
    crate::functions::require_parallel(
        "decnet.identity_group_edges",
        [("ips", ips.len()), ("observations", observations.len())],
        ["attacker_ip", "observation"],
    );
    let seen: HashMap<&str, Observation> = ips
        .iter()
        .zip(observations.iter())
        .filter_map(|(ip, o)| Some((ip.as_deref()?, observation(&o?))))
        .collect();
    let members = groups
        .iter()
        .zip(&attackers)
        .zip(&in_scope)
        .filter_map(|((g, a), s)| Some(((*g)?, a.as_deref()?, s.unwrap_or(false))));
    let mut edges = Vec::new();
    identity::for_each_candidate_pair(members, |x, y| {
        if let (Some(ox), Some(oy)) = (seen.get(x), seen.get(y)) {
            if identity::identity_similarity(ox, oy) >= identity::EDGE_THRESHOLD {
                edges.push((x.to_owned(), y.to_owned()));
            }
        }
    });
    TableIterator::new(edges)
}

/// The candidate pairs (a[i], b[i]) of identities that are one campaign, given
/// each identity's features once (ids[k] has features[k]).
#[pg_extern(immutable, strict, parallel_safe, requires = ["identity"])]
fn campaign_edge_pairs(
    a: Vec<Option<String>>,
    b: Vec<Option<String>>,
    ids: Vec<Option<String>>,
    features: Array<pgrx::composite_type!("campaign_features")>,
) -> TableIterator<'static, (name!(a, String), name!(b, String))> {
    crate::functions::require_parallel(
        "decnet.campaign_edge_pairs",
        [("a", a.len()), ("b", b.len())],
        ["a", "b"],
    );
    crate::functions::require_parallel(
        "decnet.campaign_edge_pairs",
        [("ids", ids.len()), ("features", features.len())],
        ["identity uuid", "features"],
    );
    let seen: HashMap<String, CampaignView> = ids
        .into_iter()
        .zip(features.iter())
        .filter_map(|(id, f)| Some((id?, campaign_view(&f?))))
        .collect();
    let edges: Vec<(String, String)> = a
        .into_iter()
        .zip(b)
        .filter_map(|(x, y)| {
            let (x, y) = (x?, y?);
            let similarity = identity::campaign_similarity(seen.get(&x)?, seen.get(&y)?);
            (similarity >= identity::CAMPAIGN_EDGE_THRESHOLD).then_some((x, y))
        })
        .collect();
    TableIterator::new(edges)
}

/// Why two observations are (or are not) one actor: each shared signal behind a
/// contributing tier, with the tier's weight (decnet_core::identity::link_reasons).
#[pg_extern(immutable, strict, parallel_safe, requires = ["identity"])]
fn identity_link_reasons(
    a: pgrx::composite_type!("identity_observation"),
    b: pgrx::composite_type!("identity_observation"),
) -> TableIterator<
    'static,
    (
        name!(tier, &'static str),
        name!(kind, String),
        name!(value, String),
        name!(weight, f64),
    ),
> {
    let reasons = identity::link_reasons(&observation(&a), &observation(&b));
    TableIterator::new(
        reasons
            .into_iter()
            .map(|r| (r.tier, r.kind, r.value, r.weight)),
    )
}

/// Campaign edge weight of two identities (spec G.5); an edge exists at 1.0 or more.
#[pg_extern(immutable, strict, parallel_safe)]
fn campaign_similarity(a: JsonB, b: JsonB) -> f64 {
    identity::campaign_similarity(
        &CampaignView::from_json(&a.0),
        &CampaignView::from_json(&b.0),
    )
}

/// The servers a command reaches out to (`host:port`: URLs, /dev/tcp).
#[pg_extern(immutable, strict, parallel_safe)]
fn c2_endpoints(command: &str) -> Vec<String> {
    identity::c2_endpoints(command)
}

/// Kill-chain phase of a command (discovery, persistence, command_and_control,
/// lateral_movement), or NULL.
#[pg_extern(immutable, strict, parallel_safe)]
fn command_phase(command: &str) -> Option<&'static str> {
    identity::command_phase(command)
}

/// Connected components of the graph with edges a[i]–b[i]: every node with the
/// smallest node of its component. NULL entries are skipped; a[i] = b[i] adds a lone node.
#[pg_extern(immutable, parallel_safe)]
fn connected_components(
    a: Vec<Option<String>>,
    b: Vec<Option<String>>,
) -> TableIterator<'static, (name!(node, String), name!(component, String))> {
    let edges: Vec<(&str, &str)> = a
        .iter()
        .zip(b.iter())
        .filter_map(|(x, y)| Some((x.as_deref()?, y.as_deref()?)))
        .collect();
    let labels: HashMap<&str, &str> = identity::connected_components(edges.iter().copied());
    let mut rows: Vec<(String, String)> = labels
        .into_iter()
        .map(|(n, c)| (n.to_owned(), c.to_owned()))
        .collect();
    rows.sort_unstable();
    TableIterator::new(rows)
}

/// Which previous group each component of a fresh clustering keeps
/// (decnet_core::identity::keep_previous_groups): one row per previous group.
#[pg_extern(immutable, parallel_safe)]
fn keep_previous_groups(
    component: Vec<Option<String>>,
    previous: Vec<Option<String>>,
) -> TableIterator<
    'static,
    (
        name!(previous, String),
        name!(component, String),
        name!(kept, bool),
    ),
> {
    let pairs = component
        .iter()
        .zip(previous.iter())
        .filter_map(|(c, p)| Some((c.as_deref()?, p.as_deref()?)));
    let rows: Vec<_> = identity::keep_previous_groups(pairs)
        .into_iter()
        .map(|(p, c, k)| (p.to_owned(), c.to_owned(), k))
        .collect();
    TableIterator::new(rows)
}

/// Whether two attacker observations are one actor (identity_similarity >= 1.0).
#[pg_extern(immutable, strict, parallel_safe)]
fn identity_edge(a: JsonB, b: JsonB) -> bool {
    identity_similarity(a, b) >= identity::EDGE_THRESHOLD
}

/// The campaign hand-off rule's phases and window (decnet_core::identity), for
/// cluster_campaigns' candidate pre-filter: leaving, arriving, window in seconds.
#[pg_extern(immutable, parallel_safe)]
fn campaign_handoff_rule() -> TableIterator<
    'static,
    (
        name!(leaving, Vec<&'static str>),
        name!(arriving, Vec<&'static str>),
        name!(window_s, f64),
    ),
> {
    TableIterator::once((
        identity::HANDOFF_LEAVING_PHASES.to_vec(),
        identity::HANDOFF_ARRIVING_PHASES.to_vec(),
        identity::HANDOFF_WINDOW_S,
    ))
}

/// Whether two identities belong to one campaign (campaign_similarity >= 1.0).
#[pg_extern(immutable, strict, parallel_safe)]
fn campaign_edge(a: JsonB, b: JsonB) -> bool {
    campaign_similarity(a, b) >= identity::CAMPAIGN_EDGE_THRESHOLD
}
