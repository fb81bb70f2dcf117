-- Alerts that are never lost (issue 21, docs/sharing.md). Rules are rows;
-- the rollup (decnet.raise_alerts) writes each match once to decnet.alerts
-- and queues it in decnet.alert_outbox for every enabled webhook, in its own
-- transaction. `decnet notify` (role decnet_notifier) delivers the outbox and
-- deletes a row only after a 2xx; a delivery that fails or hangs is retried
-- with backoff, so a crash or an unreachable endpoint delays an alert and
-- never loses one.

-- Roles are cluster-wide, and so must be the turn databases migrating at once
-- take here (an advisory lock is per database): this lock on the shared role
-- catalog makes a second migration wait until the first has committed the
-- role, then see it. Without it the second one's CREATE ROLE failed on the
-- first's commit, and its GRANTs below still missed the role now and then.
-- Logins are not blocked (they read the catalog); role changes wait for this
-- transaction.
LOCK TABLE pg_catalog.pg_authid IN SHARE ROW EXCLUSIVE MODE;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'decnet_notifier') THEN
        BEGIN
            CREATE ROLE decnet_notifier NOLOGIN;
            COMMENT ON ROLE decnet_notifier IS 'decnet notify: reads alerts and webhooks, works off decnet.alert_outbox.';
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END $$;
GRANT USAGE ON SCHEMA decnet TO decnet_notifier;

CREATE TABLE decnet.alert_rules (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('interacted', 'traversal', 'identity', 'rotation', 'smtp_domain')),
    threshold  integer CHECK (threshold > 0),
    watch      text[] NOT NULL DEFAULT '{}',
    enabled    boolean NOT NULL DEFAULT true,
    note       text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (kind NOT IN ('traversal', 'identity') OR threshold IS NOT NULL)
);
COMMENT ON TABLE decnet.alert_rules IS 'What raises an alert. The rollup checks each attacker it drains against every enabled rule.';
COMMENT ON COLUMN decnet.alert_rules.id IS 'Rule number; alerts.rule_id points to it.';
COMMENT ON COLUMN decnet.alert_rules.kind IS 'interacted: an attacker interacted with a service (not only scanned); traversal: it reached threshold deckies; identity: its identity joins threshold addresses; rotation: a fingerprint rotation; smtp_domain: it targeted a domain in watch.';
COMMENT ON COLUMN decnet.alert_rules.threshold IS 'Deckies (traversal) or addresses (identity) that make a match; unused by the other kinds.';
COMMENT ON COLUMN decnet.alert_rules.watch IS 'smtp_domain: the watched victim domains, lower case (a match is exact).';
COMMENT ON COLUMN decnet.alert_rules.enabled IS 'A disabled rule raises nothing; its past alerts stay.';
COMMENT ON COLUMN decnet.alert_rules.note IS 'Free text for operators.';
COMMENT ON COLUMN decnet.alert_rules.created_at IS 'When the rule was added; it applies to attackers rolled up from then on.';

INSERT INTO decnet.alert_rules (kind, threshold, watch, note) VALUES
    ('interacted', NULL, '{}', 'a new attacker that went past scanning'),
    ('traversal', 3, '{}', 'an attacker that moved across 3 deckies'),
    ('identity', 2, '{}', 'one identity behind several addresses'),
    ('rotation', NULL, '{}', 'an attacker changed its TLS or SSH fingerprint'),
    ('smtp_domain', NULL, '{}', 'a watched domain targeted through the SMTP relay (add domains to watch)');

CREATE TABLE decnet.alert_webhooks (
    name          text PRIMARY KEY CHECK (name ~ '^[a-z0-9_-]{1,63}$'),
    url           text NOT NULL CHECK (url ~ '^https?://[^[:space:]]+$' AND length(url) <= 2048),
    format        text NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'slack', 'misp')),
    auth_header   text,
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE decnet.alert_webhooks IS 'Where decnet notify delivers alerts. Holds secrets (URLs with tokens, Authorization values): not readable by analysts.';
COMMENT ON COLUMN decnet.alert_webhooks.name IS 'Short name; alert_outbox.webhook points to it.';
COMMENT ON COLUMN decnet.alert_webhooks.url IS 'http(s) URL the alert is POSTed to; redirects are not followed.';
COMMENT ON COLUMN decnet.alert_webhooks.format IS 'json: decnet''s alert object; slack: {"text": …} for Slack-compatible incoming webhooks; misp: a MISP event of the attacker (POST it to /events/add).';
COMMENT ON COLUMN decnet.alert_webhooks.auth_header IS 'Sent as the Authorization header when set (a MISP key, a bearer token).';
COMMENT ON COLUMN decnet.alert_webhooks.enabled IS 'New alerts are queued only for enabled webhooks; queued ones wait while it is disabled.';
COMMENT ON COLUMN decnet.alert_webhooks.created_at IS 'When the webhook was added; alerts raised before are not sent to it.';

CREATE TABLE decnet.alerts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid        uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    rule_id     integer NOT NULL REFERENCES decnet.alert_rules (id),
    kind        text NOT NULL,
    match_key   text NOT NULL,
    attacker_ip inet,
    detail      jsonb NOT NULL,
    raised_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (rule_id, match_key)
);
CREATE INDEX alerts_attacker ON decnet.alerts (attacker_ip);
COMMENT ON TABLE decnet.alerts IS 'Every rule match, once per rule and match key: the history of alerts, delivered or not.';
COMMENT ON COLUMN decnet.alerts.id IS 'Order of raising.';
COMMENT ON COLUMN decnet.alerts.uuid IS 'The alert''s id outside: the Idempotency-Key header of every delivery, so a receiver drops repeats.';
COMMENT ON COLUMN decnet.alerts.rule_id IS 'The rule that matched (alert_rules.id).';
COMMENT ON COLUMN decnet.alerts.kind IS 'The rule''s kind when it matched.';
COMMENT ON COLUMN decnet.alerts.match_key IS 'What matched, bounded: the address; the identity uuid; address|probe|port|hash|time of a rotation; address|domain. A key alerts once per rule.';
COMMENT ON COLUMN decnet.alerts.attacker_ip IS 'The attacker the alert is about (for identity alerts: the address that completed it).';
COMMENT ON COLUMN decnet.alerts.detail IS 'Facts at raising time: services, deckies, country, AS, and what the rule saw (the domain, the rotation, the identity''s addresses).';
COMMENT ON COLUMN decnet.alerts.raised_at IS 'When the rollup raised it.';

CREATE TABLE decnet.alert_outbox (
    alert_id        bigint NOT NULL REFERENCES decnet.alerts (id),
    webhook         text NOT NULL REFERENCES decnet.alert_webhooks (name) ON DELETE CASCADE,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, webhook)
);
CREATE INDEX alert_outbox_due ON decnet.alert_outbox (next_attempt_at);
COMMENT ON TABLE decnet.alert_outbox IS 'Deliveries not yet acknowledged by a 2xx, one per alert and webhook. decnet notify claims a row by moving next_attempt_at past its lease, and deletes it after a 2xx.';
COMMENT ON COLUMN decnet.alert_outbox.alert_id IS 'The alert to deliver (alerts.id).';
COMMENT ON COLUMN decnet.alert_outbox.webhook IS 'Where to (alert_webhooks.name).';
COMMENT ON COLUMN decnet.alert_outbox.attempts IS 'Deliveries tried so far.';
COMMENT ON COLUMN decnet.alert_outbox.next_attempt_at IS 'Not tried again before this: the backoff after a failure, or the lease of a notifier that is delivering it now.';
COMMENT ON COLUMN decnet.alert_outbox.last_error IS 'Why the last attempt failed (status or network error).';
COMMENT ON COLUMN decnet.alert_outbox.queued_at IS 'When the alert was queued for this webhook.';

CREATE TABLE decnet.alert_deliveries (
    alert_id     bigint NOT NULL REFERENCES decnet.alerts (id),
    webhook      text NOT NULL,
    attempts     integer NOT NULL,
    status       integer NOT NULL,
    delivered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, webhook)
);
COMMENT ON TABLE decnet.alert_deliveries IS 'Acknowledged deliveries: the outbox row''s end.';
COMMENT ON COLUMN decnet.alert_deliveries.alert_id IS 'The alert delivered (alerts.id).';
COMMENT ON COLUMN decnet.alert_deliveries.webhook IS 'The webhook that acknowledged it.';
COMMENT ON COLUMN decnet.alert_deliveries.attempts IS 'Attempts it took, the successful one included.';
COMMENT ON COLUMN decnet.alert_deliveries.status IS 'The 2xx status the webhook answered.';
COMMENT ON COLUMN decnet.alert_deliveries.delivered_at IS 'When the 2xx arrived.';

GRANT SELECT ON decnet.alert_rules, decnet.alerts, decnet.alert_outbox, decnet.alert_deliveries TO decnet_analyst;
GRANT SELECT ON decnet.alert_rules, decnet.alerts, decnet.alert_webhooks TO decnet_notifier;
GRANT SELECT, UPDATE, DELETE ON decnet.alert_outbox TO decnet_notifier;
GRANT INSERT ON decnet.alert_deliveries TO decnet_notifier;
