-- SMTP victim domains, and the three roles of a deployment.

CREATE TABLE decnet.smtp_targets (
    attacker_ip inet NOT NULL,
    domain      text NOT NULL,
    count       bigint NOT NULL,
    first_seen  timestamptz,
    last_seen   timestamptz,
    PRIMARY KEY (attacker_ip, domain)
);
-- smtp_target_seen() answers from this index alone (index-only scan).
CREATE INDEX smtp_targets_domain ON decnet.smtp_targets (domain) INCLUDE (count, first_seen, last_seen);
COMMENT ON TABLE decnet.smtp_targets IS
'Per attacker and victim domain: recipients targeted (one per rcpt_to/rcpt_denied of smtp and smtp_relay; message_accepted repeats them and adds none). Never holds a local part.';

CREATE VIEW decnet.recomputed_smtp_targets AS
SELECT attacker_ip, domain, count(*) AS count, min(ts) AS first_seen, max(ts) AS last_seen
FROM (
    SELECT attacker_ip, ts, decnet.recipient_domain(service, event_type, fields) AS domain
    FROM decnet.logs
    WHERE attacker_ip IS NOT NULL AND event_type IN ('rcpt_to', 'rcpt_denied')
) r
WHERE domain IS NOT NULL
GROUP BY attacker_ip, domain;

-- ---- roles --------------------------------------------------------------------
-- Roles are cluster-wide: the first database to migrate creates them (another
-- database migrating at the same moment may lose that race, which is fine);
-- grants are per database.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES
        ('decnet_ingest', 'Sensors and loaders: INSERT/COPY into decnet.logs, nothing else.'),
        ('decnet_analyst', 'Read-only access to decnet.logs, the derived tables and the views.'),
        ('decnet_gossip', 'Only decnet.smtp_target_seen(): aggregate answers, no table access.')) v(name, note)
    LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r.name);
                EXECUTE format('COMMENT ON ROLE %I IS %L', r.name, r.note);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END $$;

-- Functions are not executable by everyone: each role gets what it needs.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA decnet FROM PUBLIC;
GRANT USAGE ON SCHEMA decnet TO decnet_ingest, decnet_analyst, decnet_gossip;

GRANT INSERT ON decnet.logs TO decnet_ingest;

GRANT SELECT ON ALL TABLES IN SCHEMA decnet TO decnet_analyst;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA decnet TO decnet_analyst;
REVOKE EXECUTE ON FUNCTION decnet.rebuild() FROM decnet_analyst;

GRANT EXECUTE ON FUNCTION decnet.smtp_target_seen(text) TO decnet_gossip;
