//! `decnet bench-identities`: the cost of identity resolution at 100k
//! attackers. Plants 20,000 actors of 5 addresses each (a shared HASSH per
//! actor) among tool-level noise that must link nobody (a JA3 half of them
//! share, common commands and passwords), then times the full pass
//! (decnet.recluster_identities()) and the incremental pass over 1,000 new
//! addresses that each join an existing actor. Not a test: it prints figures.

use crate::ingest::{copy_lines, COPY_LOGS};
use crate::CliError;
use indicatif::ProgressBar;
use postgres::Client;
use std::fmt::Write as _;
use std::time::Instant;

const ACTORS: u32 = 20_000;
const ADDRESSES_PER_ACTOR: u32 = 5;
const NEW_ADDRESSES: u32 = 1_000;
const COMMANDS: [&str; 6] = [
    "uname -a",
    "id",
    "cat /proc/cpuinfo",
    "w",
    "ls -la /tmp",
    "echo ok",
];

fn ip(block: u32, i: u32) -> String {
    format!("10.{}.{}.{}", block + i / 65_536, i / 256 % 256, i % 256)
}

/// Five lines of address `i` of `actor`, in the emitters' shapes.
fn lines_of(out: &mut String, addr: &str, actor: u32, i: u32) {
    let t = |s: u32| {
        format!(
            "2026-05-{:02}T{:02}:{:02}:{:02}+00:00",
            1 + i % 28,
            (i / 60) % 24,
            i % 60,
            s
        )
    };
    let ja3 = if i.is_multiple_of(2) {
        "ja3-popular-client".to_string()
    } else {
        format!("{:032x}", u64::from(i) * 7919)
    };
    let _ = writeln!(
        out,
        r#"<134>1 {} decnet-prober prober - hassh_fingerprint [relay@55555 target_ip="{addr}" target_port="22" hassh_server_hash="hassh-actor-{actor}"]"#,
        t(1)
    );
    let _ = writeln!(
        out,
        r#"<134>1 {} decky-01 sniffer - tls_client_hello [relay@55555 src_ip="{addr}" src_port="40000" dst_ip="10.0.0.1" dst_port="443" ja3="{ja3}" ja4="t13d1516h2_x_y"]"#,
        t(2)
    );
    let _ = writeln!(
        out,
        r#"<134>1 {} decky-01 auth-helper - auth_attempt [relay@55555 src_ip="{addr}" username="root" secret_b64="{}"]"#,
        t(3),
        ["MTIzNDU2", "cm9vdA==", "YWRtaW4="][(i % 3) as usize]
    );
    for (k, c) in COMMANDS.iter().enumerate().skip((i % 4) as usize).take(2) {
        let _ = writeln!(
            out,
            r#"<134>1 {} decky-01 bash - command [relay@55555 src_ip="{addr}" command="{c}"]"#,
            t(4 + k as u32)
        );
    }
}

fn copy(client: &mut Client, text: &str) -> Result<u64, CliError> {
    Ok(copy_lines(
        client,
        COPY_LOGS,
        &mut text.as_bytes(),
        &ProgressBar::hidden(),
    )?
    .lines)
}

pub fn run(client: &mut Client) -> Result<String, CliError> {
    let db = |e| CliError::from_db("bench-identities", e);
    client
        .batch_execute(&format!("{}; CHECKPOINT", crate::bench::TRUNCATE_PIPELINE))
        .map_err(db)?;
    let mut out = String::new();

    let mut text = String::new();
    for actor in 0..ACTORS {
        for k in 0..ADDRESSES_PER_ACTOR {
            let i = actor * ADDRESSES_PER_ACTOR + k;
            lines_of(&mut text, &ip(1, i), actor, i);
        }
    }
    let start = Instant::now();
    let lines = copy(client, &text)?;
    let attackers = ACTORS * ADDRESSES_PER_ACTOR;
    writeln!(
        out,
        "ingested {lines} lines for {attackers} attackers in {:.1} s",
        start.elapsed().as_secs_f64()
    )
    .unwrap();
    client
        .batch_execute("TRUNCATE decnet.dirty_attackers")
        .map_err(db)?;
    client.batch_execute("VACUUM ANALYZE").map_err(db)?;

    let r = client.query_one("SELECT attackers, edges, identities, merges, duration_ms FROM decnet.recluster_identities()", &[]).map_err(db)?;
    let (a, e, ids, ms): (i32, i32, i32, f64) = (r.get(0), r.get(1), r.get(2), r.get(4));
    let live: i64 = client
        .query_one(
            "SELECT count(*) FROM decnet.identity_summary WHERE member_count = 5",
            &[],
        )
        .map_err(db)?
        .get(0);
    writeln!(out, "full pass over {a} attackers: {ms:.0} ms ({e} edges, {ids} identities created, {live} of {ACTORS} planted actors found whole)").unwrap();

    let mut text = String::new();
    for k in 0..NEW_ADDRESSES {
        let actor = k * (ACTORS / NEW_ADDRESSES);
        lines_of(&mut text, &ip(3, k), actor, attackers + k);
    }
    copy(client, &text)?;
    client.batch_execute("ANALYZE").map_err(db)?;
    let start = Instant::now();
    let r = client
        .query_one("SELECT attackers, edges, identities, merges FROM decnet.resolve_identities(ARRAY(SELECT ip FROM decnet.dirty_attackers))", &[])
        .map_err(db)?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let (a, e, ids): (i32, i32, i32) = (r.get(0), r.get(1), r.get(2));
    let grown: i64 = client
        .query_one(
            "SELECT count(*) FROM decnet.identity_summary WHERE member_count = 6",
            &[],
        )
        .map_err(db)?
        .get(0);
    writeln!(out, "incremental pass over {a} new attackers: {ms:.0} ms ({e} edges, {ids} identities created, {grown} actors grew to 6 addresses)").unwrap();

    let r = client
        .query_one(
            "SELECT identities, edges, campaigns, duration_ms FROM decnet.cluster_campaigns()",
            &[],
        )
        .map_err(db)?;
    let (i, e, c, ms): (i32, i32, i32, f64) = (r.get(0), r.get(1), r.get(2), r.get(3));
    writeln!(
        out,
        "campaign pass over {i} identities: {ms:.0} ms ({e} edges, {c} campaigns)"
    )
    .unwrap();
    client
        .batch_execute(crate::bench::TRUNCATE_PIPELINE)
        .map_err(db)?;
    Ok(out)
}
