-- Hardening against attacker-written input and over-broad privileges (issue 15,
-- docs/security.md, docs/corrections.md #48-#53). On a large decnet.logs the
-- index rebuild takes a while and blocks ingest until it commits.

-- 1. Lines by attacker: a B-tree on (attacker_ip, id) instead of V11's hash
--    index. A hash bucket chain grows with an attacker's line count, so
--    inserting a heavy attacker's lines slowed 20x; the B-tree stays flat, and
--    the rollup reads an attacker's latest lines from it in id order.
DROP INDEX decnet.logs_attacker_ip;
CREATE INDEX logs_attacker_ip_id ON decnet.logs (attacker_ip, id) WHERE attacker_ip IS NOT NULL;

-- 2. The session id of session_recorded lines is attacker-reachable text of any
--    length; a B-tree entry over 2.7 kB aborts the whole COPY. A hash index
--    stores only a hash and serves the same equality lookups.
DROP INDEX decnet.logs_session_recorded_sid;
CREATE INDEX logs_session_recorded_sid ON decnet.logs USING hash ((fields->>'sid')) WHERE event_type = 'session_recorded';

COMMENT ON COLUMN decnet.logs.parse_reason IS 'Comma-separated flag codes: empty, not_syslog, unsupported_version, truncated_header, bad_pri, nil_timestamp, bad_timestamp, nil_hostname, nil_appname, missing_sd, bad_sd, unterminated_sd, bad_ip_field, oversized, lossy_text, long_header, too_many_fields, json_nul, not_an_attacker, raw_mismatch, profile_error.';

-- 3. The notification outbox (decnet.notify): NOTIFY carries only seq.
CREATE TABLE decnet.notifications (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel    text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_created_at ON decnet.notifications (created_at);
COMMENT ON TABLE decnet.notifications IS
'Payloads of the decnet_attacker and decnet_rotation notifications; the NOTIFY itself carries only seq (any role can LISTEN or forge a NOTIFY; only analysts can read this table). Kept 7 days.';

-- 4. Attackers whose rollup failed alone (decnet.rollup): they no longer hold back the batch.
CREATE TABLE decnet.rollup_failures (
    ip              inet PRIMARY KEY,
    failures        integer NOT NULL DEFAULT 1,
    first_failed_at timestamptz NOT NULL DEFAULT now(),
    last_failed_at  timestamptz NOT NULL DEFAULT now(),
    sqlstate        text NOT NULL,
    message         text NOT NULL
);
COMMENT ON TABLE decnet.rollup_failures IS
'Attackers whose behaviour rollup failed on its own, with the error; stats().rollup_failures counts them. New lines mark them dirty again; a rollup that succeeds removes the row.';

-- 5. Privileges, per function. Analysts may call what only reads: every
--    function PostgreSQL knows cannot write (IMMUTABLE or STABLE: a STABLE
--    plpgsql function cannot run INSERT/UPDATE/DELETE). Nothing VOLATILE: the
--    rollup, enrichment, reverse DNS (network traffic), loaders and the
--    statement plumbing are for operators and pg_cron. docs/security.md lists
--    the rule, and tests/roles.rs checks the catalogue against it.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA decnet FROM PUBLIC, decnet_analyst, decnet_ingest, decnet_gossip;
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'decnet'::regnamespace AND p.provolatile <> 'v' AND p.prokind = 'f'
             ORDER BY 1
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO decnet_analyst', f);
    END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION decnet.smtp_target_seen(text) TO decnet_gossip;

-- Analysts read every table and view (not the partitions: the parent serves them).
DO $$
DECLARE
    r regclass;
BEGIN
    FOR r IN SELECT c.oid::regclass FROM pg_class c
             WHERE c.relnamespace = 'decnet'::regnamespace AND c.relkind IN ('r', 'p', 'v') AND NOT c.relispartition
             ORDER BY 1
    LOOP
        EXECUTE format('GRANT SELECT ON %s TO decnet_analyst', r);
    END LOOP;
END $$;

-- Sensors write the line, not the time it was received: a 1970 received_at
-- would file the line under a partition retention drops first.
REVOKE INSERT (received_at) ON decnet.logs FROM decnet_ingest;
