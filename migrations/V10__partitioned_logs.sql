-- Retention (issue 9, docs/operations.md): decnet.logs becomes a table
-- partitioned by received_at (when the line was stored), monthly by default,
-- with a default partition for anything outside the prepared ranges.
--
-- Why received_at and not the event time ts: ts is parsed from the line by the
-- BEFORE ROW trigger, which runs after a row has been routed to its partition,
-- and PostgreSQL cannot move a row to another partition from that trigger.
-- received_at is set before routing, cannot be forged by a hostile line, and
-- for sensors that stream their logs it is the event time within seconds.
--
-- The existing table is not copied: it becomes the partition "logs_legacy"
-- for what was received before this migration, up to the end of this month
-- (one index build for the new primary key), and the views over decnet.logs
-- are re-pointed at the new parent.

CREATE TABLE decnet.log_partitioning (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    period    text NOT NULL DEFAULT 'month' CHECK (period IN ('day', 'week', 'month')),
    premake   integer NOT NULL DEFAULT 3 CHECK (premake BETWEEN 1 AND 120)
);
INSERT INTO decnet.log_partitioning DEFAULT VALUES;
COMMENT ON TABLE decnet.log_partitioning IS
'How decnet.logs is partitioned by received_at: one partition per period (day, week or month; UTC), created premake periods ahead by decnet.create_log_partitions() (pg_cron decnet-partitions, daily). A change applies to partitions created afterwards.';

CREATE TABLE decnet.log_retention (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dropped_at         timestamptz NOT NULL DEFAULT now(),
    partition_name     text NOT NULL,
    received_from      timestamptz,
    received_before    timestamptz NOT NULL,
    lines              bigint NOT NULL,
    attackerless_lines bigint NOT NULL
);
COMMENT ON TABLE decnet.log_retention IS 'Every partition of decnet.logs dropped by decnet.drop_logs_before(), with its line counts.';

CREATE TABLE decnet.truncated_attackers (
    ip         inet PRIMARY KEY,
    dropped_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE decnet.truncated_attackers IS
'Attackers some of whose lines were dropped by retention: their derived rows keep the history, so verify() cannot recompute them from the lines left and leaves them out.';

-- 1. the views over decnet.logs, as text naming decnet.logs (schema-qualified)
SET LOCAL search_path = pg_catalog;
CREATE TEMP TABLE decnet_logs_views ON COMMIT DROP AS
SELECT v.oid::regclass::text AS name, pg_get_viewdef(v.oid) AS definition
FROM pg_class v
WHERE v.relkind = 'v' AND v.oid IN (
    SELECT r.ev_class FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = 'decnet.logs'::regclass);

-- 2. the old table becomes the legacy partition: no identity, no triggers of its own
DO $$
DECLARE
    next_id bigint;
BEGIN
    SELECT coalesce(max(id), 0) + 1 INTO next_id FROM decnet.logs;
    ALTER TABLE decnet.logs RENAME TO logs_legacy;
    ALTER TABLE decnet.logs_legacy ALTER COLUMN id DROP IDENTITY;
    DROP TRIGGER logs_parse ON decnet.logs_legacy;
    DROP TRIGGER logs_append_only ON decnet.logs_legacy;
    DROP TRIGGER logs_statement_begin ON decnet.logs_legacy;
    DROP TRIGGER logs_derive ON decnet.logs_legacy;
    -- the partitioned key is (id, received_at): attaching builds that index
    ALTER TABLE decnet.logs_legacy DROP CONSTRAINT logs_pkey;
    ALTER INDEX decnet.logs_attacker_ip_ts RENAME TO logs_legacy_attacker_ip_ts;
    ALTER INDEX decnet.logs_flagged RENAME TO logs_legacy_flagged;
    ALTER INDEX decnet.logs_session_recorded_sid RENAME TO logs_legacy_session_recorded_sid;
    EXECUTE format('CREATE SEQUENCE decnet.logs_id_seq AS bigint START WITH %s', next_id);
END $$;

-- 3. the partitioned parent, same columns; ids from a sequence (PostgreSQL 15
--    has no identity columns on partitioned tables)
CREATE TABLE decnet.logs (
    id            bigint NOT NULL DEFAULT nextval('decnet.logs_id_seq'),
    received_at   timestamptz NOT NULL DEFAULT now(),
    raw_line      text NOT NULL,
    raw_bytes     bytea,
    ts            timestamptz,
    decky         text,
    service       text,
    event_type    text,
    attacker_ip   inet,
    fields        jsonb NOT NULL DEFAULT '{}',
    msg           text,
    parse_status  text NOT NULL DEFAULT 'unparsed'
                  CONSTRAINT logs_parse_status_check CHECK (parse_status IN ('ok', 'partial', 'unparsed')),
    parse_reason  text,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);
ALTER SEQUENCE decnet.logs_id_seq OWNED BY decnet.logs.id;
COMMENT ON TABLE decnet.logs IS
'Raw sensor lines (INSERT/COPY raw_line only) and their parsed columns. Append-only. Partitioned by received_at (decnet.log_partitioning); decnet.drop_logs_before() drops old partitions.';
COMMENT ON COLUMN decnet.logs.received_at IS 'When the line was stored (the partition key). Set it only to import old archives; they land in the default partition.';
COMMENT ON COLUMN decnet.logs.raw_bytes IS
'Original bytes of a line PostgreSQL text cannot hold (NUL, invalid UTF-8); raw_line then holds a lossy copy with U+FFFD and parse_reason includes lossy_text.';
COMMENT ON COLUMN decnet.logs.ts IS 'Event time in UTC (offsets applied; a naive timestamp is UTC). NULL if unparseable.';
COMMENT ON COLUMN decnet.logs.attacker_ip IS 'Attacker address without port; from the first usable IP field, else from the message.';
COMMENT ON COLUMN decnet.logs.parse_status IS 'ok: fully parsed; partial: parsed with flags (see parse_reason); unparsed: not RFC 5424, raw_line only.';
COMMENT ON COLUMN decnet.logs.parse_reason IS 'Comma-separated flag codes: empty, not_syslog, unsupported_version, truncated_header, bad_pri, nil_timestamp, bad_timestamp, nil_hostname, nil_appname, missing_sd, bad_sd, unterminated_sd, bad_ip_field, oversized, lossy_text, profile_error.';

CREATE TABLE decnet.logs_default PARTITION OF decnet.logs DEFAULT;

CREATE INDEX logs_attacker_ip_ts ON decnet.logs (attacker_ip, ts) WHERE attacker_ip IS NOT NULL;
CREATE INDEX logs_flagged ON decnet.logs (parse_status, id) WHERE parse_status <> 'ok';
CREATE INDEX logs_session_recorded_sid ON decnet.logs ((fields->>'sid')) WHERE event_type = 'session_recorded';

CREATE TRIGGER logs_parse BEFORE INSERT ON decnet.logs
    FOR EACH ROW EXECUTE FUNCTION decnet.logs_parse_trigger();
CREATE TRIGGER logs_append_only BEFORE UPDATE OR DELETE ON decnet.logs
    FOR EACH STATEMENT EXECUTE FUNCTION decnet.logs_append_only();
CREATE TRIGGER logs_statement_begin BEFORE INSERT ON decnet.logs
    FOR EACH STATEMENT EXECUTE FUNCTION decnet.logs_statement_begin();
CREATE TRIGGER logs_derive AFTER INSERT ON decnet.logs
    FOR EACH STATEMENT EXECUTE FUNCTION decnet.logs_derive();

-- 4. the views read the new parent (same definitions, re-parsed against it)
DO $$
DECLARE
    v record;
BEGIN
    FOR v IN SELECT * FROM decnet_logs_views ORDER BY name LOOP
        EXECUTE format('CREATE OR REPLACE VIEW %s AS %s', v.name, v.definition);
    END LOOP;
END $$;
RESET search_path;

-- the legacy partition: from the month of its first line to the end of the
-- current month (attaching scans it once to check the range); dropped when empty
DO $$
DECLARE
    lower_bound timestamptz;
    upper_bound timestamptz;
BEGIN
    SELECT date_trunc('month', min(received_at) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
           (date_trunc('month', greatest(now(), max(received_at)) AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
    INTO lower_bound, upper_bound FROM decnet.logs_legacy;
    IF lower_bound IS NULL THEN
        DROP TABLE decnet.logs_legacy;
    ELSE
        EXECUTE format('ALTER TABLE decnet.logs ATTACH PARTITION decnet.logs_legacy FOR VALUES FROM (%L) TO (%L)',
                       lower_bound, upper_bound);
        REVOKE ALL ON decnet.logs_legacy FROM decnet_ingest, decnet_analyst;
    END IF;
END $$;

-- 5. the partitions of the coming periods, and privileges: ingest inserts lines
--    (and may date archive imports), analysts read; nobody writes a partition directly
SELECT decnet.create_log_partitions();
GRANT INSERT (raw_line, raw_bytes, received_at) ON decnet.logs TO decnet_ingest;
GRANT USAGE ON SEQUENCE decnet.logs_id_seq TO decnet_ingest;
GRANT SELECT ON decnet.logs, decnet.log_partitioning, decnet.log_retention, decnet.truncated_attackers TO decnet_analyst;
REVOKE EXECUTE ON FUNCTION decnet.create_log_partitions(), decnet.drop_logs_before(timestamptz) FROM PUBLIC, decnet_analyst;

DO $$
BEGIN
    IF current_setting('cron.database_name', true) = current_database() THEN
        CREATE EXTENSION IF NOT EXISTS pg_cron;
        PERFORM cron.schedule('decnet-partitions', '7 3 * * *', 'SELECT decnet.create_log_partitions()');
    ELSE
        RAISE NOTICE 'decnet.create_log_partitions() is not scheduled: pg_cron serves database %, not %',
            coalesce(current_setting('cron.database_name', true), '(none)'), current_database();
    END IF;
END $$;
