//! `decnet bench-rollup`: the cost of decnet.rollup() against the size of
//! decnet.logs. Plants 100k attackers and ~10M lines through the real ingest
//! pipeline; times a rollup of 1,000 dirty attackers with 50 and with 500
//! lines each, once when logs holds 1M lines and again at 10M, then a full
//! decnet.rebuild(). Not a test: it prints figures.

use crate::bench::SplitMix64;
use crate::ingest::{COPY_LOGS, STATEMENT_LINES};
use crate::CliError;
use decnet_core::copy_text;
use postgres::Client;
use std::io::Write;
use std::time::Instant;

const SERVICES: [(&str, &str); 4] = [
    ("ssh", "login_attempt"),
    ("http", "request"),
    ("ftp", "connection"),
    ("ssh", "command"),
];

/// A set of attackers with the same number of lines each, in 10.<first_octet>+.x.y.
struct Group {
    first_octet: u32,
    attackers: u32,
    lines_each: u32,
}

impl Group {
    fn ip(&self, i: u32) -> String {
        format!(
            "10.{}.{}.{}",
            self.first_octet + i / 65_536,
            i / 256 % 256,
            i % 256
        )
    }

    fn lines(&self) -> u64 {
        u64::from(self.attackers) * u64::from(self.lines_each)
    }

    /// The CIDR that holds exactly this group (groups under 65,536 attackers).
    fn cidr(&self) -> String {
        format!("10.{}.0.0/16", self.first_octet)
    }
}

/// COPYs every line of `groups` through the pipeline, one transaction, one
/// statement per STATEMENT_LINES lines; lines are generated chunk by chunk.
fn ingest(
    client: &mut Client,
    groups: &[&Group],
    rng: &mut SplitMix64,
) -> Result<(u64, f64), CliError> {
    let db = |e| CliError::from_db("bench-rollup ingest", e);
    let start = Instant::now();
    let mut tx = client.transaction().map_err(db)?;
    let (mut payload, mut in_statement, mut total) = (Vec::new(), 0u64, 0u64);
    let flush = |tx: &mut postgres::Transaction<'_>,
                 payload: &mut Vec<u8>|
     -> Result<(), CliError> {
        let mut w = tx.copy_in(COPY_LOGS).map_err(db)?;
        w.write_all(payload)
            .map_err(|e| CliError::new(format!("COPY stream failed: {e}"), "see the server log"))?;
        w.finish().map_err(db)?;
        payload.clear();
        Ok(())
    };
    for g in groups {
        for i in 0..g.attackers {
            let ip = g.ip(i);
            let decky = format!("decky-{:02}", rng.next_u64() % 12);
            let mut t = (rng.next_u64() % (20 * 86_400)) as f64;
            for k in 0..g.lines_each {
                let (service, event) = SERVICES[((u64::from(k) + rng.next_u64() % 2) % 4) as usize];
                t += 0.5 + (rng.next_u64() % 30_000) as f64 / 1000.0;
                let (s, us) = (t as u64, ((t.fract()) * 1e6) as u64);
                let line = format!(
                    "<134>1 2026-05-{:02}T{:02}:{:02}:{:02}.{us:06}+00:00 {decky} {service} - {event} [relay@55555 src_ip=\"{ip}\" username=\"root\" path=\"/p{k}\"]",
                    1 + s / 86_400 % 28, s % 86_400 / 3600, s % 3600 / 60, s % 60
                );
                copy_text::push_row(&mut payload, line.as_bytes());
                in_statement += 1;
                total += 1;
                if in_statement == STATEMENT_LINES {
                    flush(&mut tx, &mut payload)?;
                    in_statement = 0;
                }
            }
        }
    }
    if !payload.is_empty() {
        flush(&mut tx, &mut payload)?;
    }
    tx.commit().map_err(db)?;
    Ok((total, start.elapsed().as_secs_f64()))
}

/// Marks exactly `group` dirty and times one rollup of it: (ms, attackers, events).
fn timed_rollup(client: &mut Client, group: &Group) -> Result<(f64, i32, i64), CliError> {
    let db = |e| CliError::from_db("bench-rollup rollup", e);
    client
        .batch_execute(&format!(
            "TRUNCATE decnet.dirty_attackers;
             INSERT INTO decnet.dirty_attackers (ip) SELECT ip FROM decnet.attackers WHERE ip << '{}' ORDER BY ip;",
            group.cidr()
        ))
        .map_err(db)?;
    let start = Instant::now();
    let r = client
        .query_one(
            "SELECT attackers, events FROM decnet.rollup($1)",
            &[&(group.attackers as i32)],
        )
        .map_err(db)?;
    Ok((start.elapsed().as_secs_f64() * 1e3, r.get(0), r.get(1)))
}

pub fn run(client: &mut Client) -> Result<String, CliError> {
    let db = |e| CliError::from_db("bench-rollup", e);
    let small = Group {
        first_octet: 1,
        attackers: 1_000,
        lines_each: 50,
    };
    let large = Group {
        first_octet: 2,
        attackers: 1_000,
        lines_each: 500,
    };
    let filler_1m = Group {
        first_octet: 3,
        attackers: 4_500,
        lines_each: 100,
    };
    let filler_rest = Group {
        first_octet: 4,
        attackers: 93_500,
        lines_each: 96,
    };
    client
        .batch_execute(&format!("{}; CHECKPOINT", crate::bench::TRUNCATE_PIPELINE))
        .map_err(db)?;
    let mut rng = SplitMix64(10);
    let mut out = String::new();

    let (lines_1, secs_1) = ingest(client, &[&small, &large, &filler_1m], &mut rng)?;
    client
        .batch_execute("VACUUM ANALYZE decnet.logs, decnet.attackers, decnet.attacker_services")
        .map_err(db)?;
    let report = |out: &mut String, client: &mut Client, logs: u64| -> Result<(), CliError> {
        for g in [&small, &large] {
            let (ms, attackers, events) = timed_rollup(client, g)?;
            out.push_str(&format!(
                "  logs {logs:>9} lines: rollup of {attackers} dirty attackers x {} lines ({events} events): {ms:>8.1} ms ({:.0} events/s)\n",
                g.lines_each,
                events as f64 / (ms / 1e3)
            ));
        }
        Ok(())
    };
    out.push_str(&format!(
        "ingested {lines_1} lines for {} attackers in {secs_1:.1} s\n",
        small.attackers + large.attackers + filler_1m.attackers
    ));
    report(&mut out, client, lines_1)?;

    let (lines_2, secs_2) = ingest(client, &[&filler_rest], &mut rng)?;
    client
        .batch_execute("VACUUM ANALYZE decnet.logs, decnet.attackers, decnet.attacker_services")
        .map_err(db)?;
    let total = lines_1 + lines_2;
    out.push_str(&format!(
        "ingested {lines_2} more lines ({} attackers) in {secs_2:.1} s\n",
        filler_rest.attackers
    ));
    report(&mut out, client, total)?;

    let start = Instant::now();
    client
        .batch_execute("SELECT * FROM decnet.rebuild()")
        .map_err(db)?;
    let rebuild = start.elapsed().as_secs_f64();
    let attackers: i64 = client
        .query_one("SELECT count(*) FROM decnet.attackers", &[])
        .map_err(db)?
        .get(0);
    out.push_str(&format!(
        "  logs {total:>9} lines: decnet.rebuild() of {attackers} attackers: {rebuild:.1} s\n"
    ));
    assert_eq!(
        total,
        small.lines() + large.lines() + filler_1m.lines() + filler_rest.lines()
    );
    client
        .batch_execute(crate::bench::TRUNCATE_PIPELINE)
        .map_err(db)?;
    Ok(out)
}
