//! Rotation, IPv6 leak and identity/campaign rules for SQL (decnet_core::identity;
//! spec G.3–G.6, D.12, H.5). The tables and passes are in sql/identity.sql.

use crate::functions::field_str;
use decnet_core::identity::{self, CampaignView, Observation};
use pgrx::datum::{Inet, JsonB};
use pgrx::prelude::*;
use std::collections::HashMap;

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

/// The candidate pairs (a[i], b[i]) that are one actor, given each attacker's
/// observation once (ips[k] has observations[k]): each observation is read
/// once, not once per pair it is in. Addresses as text (pgrx has no inet[]).
#[pg_extern(immutable, parallel_safe)]
fn identity_edge_pairs(
    a: Vec<Option<String>>,
    b: Vec<Option<String>>,
    ips: Vec<Option<String>>,
    observations: Vec<Option<JsonB>>,
) -> TableIterator<'static, (name!(a, String), name!(b, String))> {
    crate::functions::require_parallel(
        "decnet.identity_edge_pairs",
        [("a", a.len()), ("b", b.len())],
        ["a", "b"],
    );
    crate::functions::require_parallel(
        "decnet.identity_edge_pairs",
        [("ips", ips.len()), ("observations", observations.len())],
        ["attacker_ip", "observation"],
    );
    let seen: HashMap<String, Observation> = ips
        .into_iter()
        .zip(observations)
        .filter_map(|(ip, o)| Some((ip?, Observation::from_json(&o?.0))))
        .collect();
    let edges: Vec<(String, String)> = a
        .into_iter()
        .zip(b)
        .filter_map(|(x, y)| {
            let (x, y) = (x?, y?);
            let similarity = identity::identity_similarity(seen.get(&x)?, seen.get(&y)?);
            (similarity >= identity::EDGE_THRESHOLD).then_some((x, y))
        })
        .collect();
    TableIterator::new(edges)
}

/// Why two observations are (or are not) one actor: each shared signal behind a
/// contributing tier, with the tier's weight (decnet_core::identity::link_reasons).
#[pg_extern(immutable, strict, parallel_safe)]
fn identity_link_reasons(
    a: JsonB,
    b: JsonB,
) -> TableIterator<
    'static,
    (
        name!(tier, &'static str),
        name!(kind, String),
        name!(value, String),
        name!(weight, f64),
    ),
> {
    let reasons =
        identity::link_reasons(&Observation::from_json(&a.0), &Observation::from_json(&b.0));
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
