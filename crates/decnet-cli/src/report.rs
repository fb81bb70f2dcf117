//! The short report the demo prints: what was ingested, how it parsed, and the attacker profiles.

use crate::CliError;
use postgres::Client;
use std::fmt::Write as _;

fn q(client: &mut Client, sql: &str) -> Result<Vec<postgres::Row>, CliError> {
    client
        .query(sql, &[])
        .map_err(|e| CliError::from_db("report query failed", e))
}

pub fn ingest_report(client: &mut Client) -> Result<String, CliError> {
    let mut out = String::new();
    let totals = &q(
        client,
        "SELECT count(*), count(*) FILTER (WHERE parse_status = 'ok'), count(*) FILTER (WHERE parse_status = 'partial'),
                count(*) FILTER (WHERE parse_status = 'unparsed'), count(*) FILTER (WHERE raw_bytes IS NOT NULL),
                count(attacker_ip), count(DISTINCT attacker_ip), min(ts)::text, max(ts)::text
         FROM decnet.logs",
    )?[0];
    let n = |i: usize| totals.get::<_, i64>(i);
    writeln!(out, "decnet.logs: {} lines", n(0)).ok();
    writeln!(
        out,
        "  parsed ok {} · partial {} · unparsed {} · kept as raw bytes {}",
        n(1),
        n(2),
        n(3),
        n(4)
    )
    .ok();
    writeln!(
        out,
        "  lines with an attacker address {} · distinct attackers {}",
        n(5),
        n(6)
    )
    .ok();
    writeln!(
        out,
        "  event time span {} .. {}",
        totals
            .get::<_, Option<String>>(7)
            .unwrap_or_else(|| "-".into()),
        totals
            .get::<_, Option<String>>(8)
            .unwrap_or_else(|| "-".into())
    )
    .ok();

    let reasons = q(
        client,
        "SELECT r, count(*) FROM decnet.logs, unnest(string_to_array(parse_reason, ',')) r
         WHERE parse_reason IS NOT NULL GROUP BY r ORDER BY count(*) DESC, r",
    )?;
    let reasons: Vec<String> = reasons
        .iter()
        .map(|r| format!("{} {}", r.get::<_, String>(0), r.get::<_, i64>(1)))
        .collect();
    writeln!(
        out,
        "  flags: {}",
        if reasons.is_empty() {
            "none".into()
        } else {
            reasons.join(" · ")
        }
    )
    .ok();

    let kinds = q(
        client,
        "SELECT decnet.classify_event_kind(coalesce(event_type, '-')) k, count(*) FROM decnet.logs
         WHERE parse_status <> 'unparsed' GROUP BY k ORDER BY k",
    )?;
    let kinds: Vec<String> = kinds
        .iter()
        .map(|r| format!("{} {}", r.get::<_, String>(0), r.get::<_, i64>(1)))
        .collect();
    writeln!(out, "  event kinds: {}", kinds.join(" · ")).ok();

    let services = q(
        client,
        "SELECT service, count(*) FROM decnet.logs WHERE service IS NOT NULL GROUP BY service ORDER BY count(*) DESC, service LIMIT 12",
    )?;
    let services: Vec<String> = services
        .iter()
        .map(|r| format!("{} {}", r.get::<_, String>(0), r.get::<_, i64>(1)))
        .collect();
    writeln!(out, "  top services: {}", services.join(" · ")).ok();

    let p = &q(
        client,
        "SELECT count(*), count(*) FILTER (WHERE is_traversal), coalesce(sum(credential_count), 0)::bigint,
                coalesce(sum(bounty_count), 0)::bigint, coalesce(sum(command_count), 0)::bigint
         FROM decnet.attackers",
    )?[0];
    let n = |i: usize| p.get::<_, i64>(i);
    writeln!(
        out,
        "\nattacker profiles: {} attackers · {} traversals · {} credentials · {} bounties · {} commands",
        n(0), n(1), n(2), n(3), n(4)
    )
    .ok();
    writeln!(
        out,
        "  {:<28} {:>6} {:>5} {:>6} {:>5}  {:<34} deckies / traversal",
        "attacker", "events", "creds", "bounty", "cmds", "services"
    )
    .ok();
    let top = q(
        client,
        "SELECT host(ip), event_count, credential_count, bounty_count, command_count,
                array_to_string(services, ','), coalesce(traversal_path, array_to_string(deckies, ','))
         FROM decnet.attackers ORDER BY event_count DESC, ip LIMIT 12",
    )?;
    for r in &top {
        let services: String = r.get(5);
        let services = if services.chars().count() > 34 {
            format!("{}…", services.chars().take(33).collect::<String>())
        } else {
            services
        };
        writeln!(
            out,
            "  {:<28} {:>6} {:>5} {:>6} {:>5}  {:<34} {}",
            r.get::<_, String>(0),
            r.get::<_, i64>(1),
            r.get::<_, i64>(2),
            r.get::<_, i64>(3),
            r.get::<_, i64>(4),
            services,
            r.get::<_, String>(6)
        )
        .ok();
    }
    Ok(out)
}

/// Runs one rollup over every dirty attacker (the demo does not wait for pg_cron) and summarises the classes.
pub fn behavior_report(client: &mut Client) -> Result<String, CliError> {
    let mut out = String::new();
    let r = &q(
        client,
        "SELECT attackers, events, duration_ms FROM decnet.rollup(1000000)",
    )?[0];
    writeln!(
        out,
        "\nbehaviour rollup: {} attackers from {} events in {:.0} ms",
        r.get::<_, i32>(0),
        r.get::<_, i64>(1),
        r.get::<_, f64>(2)
    )
    .ok();
    let classes = q(
        client,
        "SELECT behavior_class, count(*), coalesce(string_agg(DISTINCT t, ','), '')
         FROM decnet.attacker_behavior LEFT JOIN LATERAL unnest(tool_guesses) t ON true
         GROUP BY behavior_class ORDER BY count(*) DESC, behavior_class",
    )?;
    for c in &classes {
        let tools: String = c.get(2);
        let tools = if tools.is_empty() {
            String::new()
        } else {
            format!("  tools: {tools}")
        };
        writeln!(
            out,
            "  {:<12} {:>5}{tools}",
            c.get::<_, String>(0),
            c.get::<_, i64>(1)
        )
        .ok();
    }
    Ok(out)
}

/// decnet.stats(), as the operator sees it after a run.
pub fn stats_report(client: &mut Client) -> Result<String, CliError> {
    let r = &q(
        client,
        "SELECT lines_ingested, lines_flagged, attackers, identities, dirty_backlog, ptr_backlog,
                coalesce(extract(epoch FROM oldest_dirty_age), 0)::float8, merge_queue_lines,
                coalesce(to_char(last_rollup_at, 'YYYY-MM-DD HH24:MI:SS TZ'), 'never'), coalesce(last_rollup_ms, 0),
                coalesce(extract(epoch FROM ingest_idle), 0)::float8, enrichment_stale, rollup_failures,
                coalesce(nullif(array_to_string(missing_jobs, ', '), ''), 'none')
         FROM decnet.stats()",
    )?[0];
    Ok(format!(
        "\ndecnet.stats(): {} lines ({} flagged), {} attackers, {} identities; backlog: {} dirty, {} PTR; \
         oldest dirty {:.0} s, {} queued lines; last rollup {} ({:.0} ms); last line {:.0} s ago; enrichment stale: {}; failed rollups: {}; missing pg_cron jobs: {}\n",
        r.get::<_, i64>(0),
        r.get::<_, i64>(1),
        r.get::<_, i64>(2),
        r.get::<_, i64>(3),
        r.get::<_, i64>(4),
        r.get::<_, i64>(5),
        r.get::<_, f64>(6),
        r.get::<_, i64>(7),
        r.get::<_, String>(8),
        r.get::<_, f64>(9),
        r.get::<_, f64>(10),
        r.get::<_, bool>(11),
        r.get::<_, i64>(12),
        r.get::<_, String>(13),
    ))
}
