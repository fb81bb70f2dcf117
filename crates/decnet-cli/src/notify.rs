//! `decnet notify`: delivers `decnet.alert_outbox` to its webhooks, at least
//! once (docs/sharing.md).
//!
//! A delivery is claimed by moving its `next_attempt_at` one lease ahead and
//! counting the attempt, in its own short transaction, so no transaction is
//! open while a webhook is slow. A 2xx deletes the outbox row and records the
//! delivery; anything else (a status, a refused connection, a timeout) sets
//! the backoff. A notifier killed mid-delivery leaves the row to come due
//! again when its lease ends. Every POST of one alert carries the same
//! `Idempotency-Key` (the alert's uuid), so a receiver can drop repeats.

use crate::daemon;
use crate::CliError;
use decnet_core::sharing::{alert_json, alert_misp, alert_slack, Alert};
use postgres::Client;
use std::time::Duration;

pub struct NotifyOptions {
    /// Stop when nothing is due instead of waiting for more.
    pub once: bool,
    /// The whole request, connect to last byte.
    pub timeout: Duration,
    /// How long a claimed delivery is not given to another notifier.
    pub lease: Duration,
    /// The wait after the first failure; it doubles per attempt up to `backoff_max`.
    pub backoff: Duration,
    pub backoff_max: Duration,
    /// Deliveries claimed at a time.
    pub batch: i64,
    /// The wait when nothing is due.
    pub poll: Duration,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct NotifyCounts {
    pub delivered: u64,
    pub failed: u64,
}

struct Claimed {
    alert_id: i64,
    webhook: String,
    attempts: i32,
    url: String,
    format: String,
    authorization: Option<String>,
    alert: Alert,
}

/// The wait before attempt `attempts + 1`.
pub fn backoff_after(attempts: i32, first: Duration, max: Duration) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
    first.saturating_mul(1u32 << doublings).min(max)
}

// raised_at is formatted as decnet.rfc3339() does, spelled out: the notifier
// role executes no decnet function (docs/security.md).
const CLAIM: &str = "
WITH due AS (
    SELECT o.alert_id, o.webhook FROM decnet.alert_outbox o
    JOIN decnet.alert_webhooks w ON w.name = o.webhook AND w.enabled
    WHERE o.next_attempt_at <= now()
    ORDER BY o.next_attempt_at, o.alert_id
    LIMIT $1
    FOR UPDATE OF o SKIP LOCKED
), claimed AS (
    UPDATE decnet.alert_outbox o
    SET attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
    FROM due WHERE o.alert_id = due.alert_id AND o.webhook = due.webhook
    RETURNING o.alert_id, o.webhook, o.attempts
)
SELECT c.alert_id, c.webhook, c.attempts, w.url, w.format, w.auth_header,
       a.uuid::text, a.rule_id, a.kind, r.note, a.match_key, host(a.attacker_ip),
       to_char(a.raised_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), a.detail::text
FROM claimed c
JOIN decnet.alert_webhooks w ON w.name = c.webhook
JOIN decnet.alerts a ON a.id = c.alert_id
JOIN decnet.alert_rules r ON r.id = a.rule_id
ORDER BY c.alert_id, c.webhook";

fn claim(client: &mut Client, opts: &NotifyOptions) -> Result<Vec<Claimed>, postgres::Error> {
    let rows = client.query(CLAIM, &[&opts.batch, &opts.lease.as_secs_f64()])?;
    Ok(rows
        .iter()
        .map(|r| Claimed {
            alert_id: r.get(0),
            webhook: r.get(1),
            attempts: r.get(2),
            url: r.get(3),
            format: r.get(4),
            authorization: r.get(5),
            alert: Alert {
                uuid: r.get(6),
                rule_id: r.get(7),
                kind: r.get(8),
                note: r.get(9),
                match_key: r.get(10),
                attacker_ip: r.get(11),
                raised_at: r.get(12),
                detail: serde_json::from_str(r.get::<_, &str>(13)).unwrap_or_default(),
            },
        })
        .collect())
}

/// POSTs one delivery; Ok(status) for a 2xx, Err(why) otherwise.
fn post(agent: &ureq::Agent, c: &Claimed) -> Result<u16, String> {
    let body = match c.format.as_str() {
        "slack" => alert_slack(&c.alert),
        "misp" => alert_misp(&c.alert),
        _ => alert_json(&c.alert),
    };
    let mut req = agent
        .post(&c.url)
        .set("Content-Type", "application/json")
        .set("Idempotency-Key", &c.alert.uuid)
        .set(
            "User-Agent",
            concat!("decnet-notify/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(auth) = &c.authorization {
        req = req.set("Authorization", auth);
    }
    match req.send_string(&body.to_string()) {
        Ok(resp) if (200..300).contains(&resp.status()) => Ok(resp.status()),
        Ok(resp) => Err(format!("HTTP {}", resp.status())),
        Err(ureq::Error::Status(code, _)) => Err(format!("HTTP {code}")),
        Err(e) => Err(e.to_string().chars().take(500).collect()),
    }
}

fn record(
    client: &mut Client,
    c: &Claimed,
    outcome: &Result<u16, String>,
    opts: &NotifyOptions,
) -> Result<(), postgres::Error> {
    match outcome {
        Ok(status) => {
            client.execute(
                "WITH done AS (
                     DELETE FROM decnet.alert_outbox WHERE alert_id = $1 AND webhook = $2 RETURNING attempts)
                 INSERT INTO decnet.alert_deliveries (alert_id, webhook, attempts, status)
                 SELECT $1, $2, attempts, $3 FROM done
                 ON CONFLICT DO NOTHING",
                &[&c.alert_id, &c.webhook, &i32::from(*status)],
            )?;
        }
        Err(why) => {
            let wait = backoff_after(c.attempts, opts.backoff, opts.backoff_max);
            client.execute(
                "UPDATE decnet.alert_outbox
                 SET next_attempt_at = now() + make_interval(secs => $3), last_error = $4
                 WHERE alert_id = $1 AND webhook = $2",
                &[&c.alert_id, &c.webhook, &wait.as_secs_f64(), why],
            )?;
        }
    }
    Ok(())
}

/// Delivers until SIGTERM/SIGINT (or, with `once`, until nothing is due).
pub fn run(client: &mut Client, opts: &NotifyOptions) -> Result<NotifyCounts, CliError> {
    let agent = ureq::AgentBuilder::new()
        .timeout(opts.timeout)
        .redirects(0)
        .build();
    let mut counts = NotifyCounts::default();
    let db = |e| CliError::from_db("decnet notify", e);
    while !daemon::stop_requested() {
        let claimed = claim(client, opts).map_err(db)?;
        if claimed.is_empty() {
            if opts.once {
                break;
            }
            std::thread::sleep(opts.poll);
            continue;
        }
        for c in &claimed {
            let outcome = post(&agent, c);
            record(client, c, &outcome, opts).map_err(db)?;
            match outcome {
                Ok(_) => counts.delivered += 1,
                Err(why) => {
                    counts.failed += 1;
                    eprintln!(
                        "decnet notify: alert {} to {} failed (attempt {}): {why}",
                        c.alert.uuid, c.webhook, c.attempts
                    );
                }
            }
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_stops_at_the_cap() {
        let (first, max) = (Duration::from_secs(1), Duration::from_secs(300));
        assert_eq!(backoff_after(1, first, max), Duration::from_secs(1));
        assert_eq!(backoff_after(2, first, max), Duration::from_secs(2));
        assert_eq!(backoff_after(5, first, max), Duration::from_secs(16));
        assert_eq!(backoff_after(40, first, max), max);
        assert_eq!(backoff_after(i32::MAX, first, max), max);
    }
}
