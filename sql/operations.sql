-- Operations (issue 9, docs/operations.md): what a DBA checks first.

-- Raises a clear error when the schema the migrations make is missing
-- (CREATE EXTENSION decnet alone, or a schema dropped by hand).
CREATE FUNCTION @extschema@.require_migrated() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF to_regclass('decnet.logs') IS NULL OR to_regclass('decnet.notifications') IS NULL THEN
        RAISE EXCEPTION 'the decnet schema is not migrated in database %', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run `decnet migrate` against this database: CREATE EXTENSION alone makes the functions, the migrations make the tables.';
    END IF;
END
$fn$;

-- The pg_cron jobs decnet needs, one definition for schedule_jobs() and
-- stats() (docs/operations.md, Schedules; the released migrations V4-V10
-- scheduled the same jobs when they ran where pg_cron lives).
CREATE FUNCTION @extschema@.cron_jobs() RETURNS TABLE (jobname text, schedule text, command text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
VALUES ('decnet-rollup', '* * * * *', 'CALL decnet.rollup_backlog()'),
       ('decnet-ptr', '* * * * *', 'SELECT * FROM decnet.resolve_pending_ptr(300)'),
       ('decnet-identities', '17 * * * *', 'SELECT * FROM decnet.recluster_identities()'),
       ('decnet-campaigns', '*/10 * * * *', 'SELECT * FROM decnet.cluster_campaigns()'),
       ('decnet-partitions', '7 3 * * *', 'SELECT decnet.create_log_partitions()')
$$;

-- The jobs of cron_jobs() that pg_cron does not run for this database: all of
-- them when pg_cron is not installed here (it serves one database,
-- cron.database_name, and its job table is only visible there).
CREATE FUNCTION @extschema@.missing_cron_jobs() RETURNS text[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    missing text[];
BEGIN
    IF to_regclass('cron.job') IS NULL THEN
        RETURN ARRAY(SELECT j.jobname FROM decnet.cron_jobs() j);
    END IF;
    EXECUTE 'SELECT coalesce(array_agg(j.jobname ORDER BY j.jobname), ''{}'') FROM decnet.cron_jobs() j
             WHERE NOT EXISTS (SELECT 1 FROM cron.job c WHERE c.jobname = j.jobname AND c.database = current_database()
                               AND c.command = j.command AND c.active)'
        INTO missing;
    RETURN missing;
EXCEPTION WHEN insufficient_privilege THEN
    RETURN ARRAY(SELECT j.jobname FROM decnet.cron_jobs() j);
END
$fn$;

-- Schedules every job of cron_jobs() in pg_cron (creating or updating it).
-- Runs where pg_cron lives (the database cron.database_name names) and that
-- is this database; anywhere else it raises an error whose hint gives the
-- cron.schedule_in_database() calls to run in the pg_cron database.
CREATE FUNCTION @extschema@.schedule_jobs() RETURNS TABLE (jobname text, schedule text, jobid bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    j record;
    calls text;
BEGIN
    IF coalesce(current_setting('cron.database_name', true), '') <> current_database() THEN
        SELECT string_agg(format('SELECT cron.schedule_in_database(%L, %L, %L, %L);', j2.jobname, j2.schedule, j2.command, current_database()), ' ')
        INTO calls FROM decnet.cron_jobs() j2;
        RAISE EXCEPTION 'pg_cron serves database %, not %', coalesce(current_setting('cron.database_name', true), '(none: pg_cron is not preloaded)'), current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Connect to the pg_cron database as a superuser and run: ' || calls;
    END IF;
    CREATE EXTENSION IF NOT EXISTS pg_cron;
    FOR j IN SELECT * FROM decnet.cron_jobs() LOOP
        jobname := j.jobname;
        schedule := j.schedule;
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO jobid USING j.jobname, j.schedule, j.command;
        RETURN NEXT;
    END LOOP;
END
$fn$;

-- One row: how much is stored and flagged, how far the deferred work lags
-- (dirty attackers, reverse-DNS queue), when the rollup last ran and for how
-- long, how stale the data is (time since the last line arrived, and whether
-- any enrichment source is older than 30 days), attackers whose rollup failed,
-- and pg_cron jobs missing for this database. Counting the lines reads the
-- whole table (about a second per 10M lines); the rest are index probes.
CREATE FUNCTION @extschema@.stats()
RETURNS TABLE (lines_ingested bigint, lines_flagged bigint, attackers bigint, identities bigint,
               dirty_backlog bigint, oldest_dirty_age interval, merge_queue_lines bigint, ptr_backlog bigint,
               last_rollup_at timestamptz,
               last_rollup_ms double precision,
               last_line_at timestamptz, ingest_idle interval, enrichment_stale boolean,
               rollup_failures bigint, missing_jobs text[],
               alerts_queued bigint, oldest_queued_alert_age interval)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    last_run record;
    last_line timestamptz;
BEGIN
    PERFORM decnet.require_migrated();
    SELECT r.started_at, r.duration_ms INTO last_run FROM decnet.rollup_runs r ORDER BY r.id DESC LIMIT 1;
    SELECT l.received_at INTO last_line FROM decnet.logs l ORDER BY l.id DESC LIMIT 1;
    RETURN QUERY SELECT
        (SELECT count(*) FROM decnet.logs),
        (SELECT count(*) FROM decnet.logs l WHERE l.parse_status <> 'ok'),
        (SELECT count(*) FROM decnet.attackers),
        (SELECT count(*) FROM decnet.attacker_identities i WHERE i.merged_into IS NULL AND i.member_count > 0),
        (SELECT count(*) FROM decnet.dirty_attackers),
        now() - (SELECT min(d.marked_at) FROM decnet.dirty_attackers d),
        (SELECT coalesce(sum(cardinality(q.log_ids)), 0)::bigint FROM decnet.merge_queue q),
        (SELECT count(*) FROM decnet.attackers a WHERE a.ptr_attempted_at IS NULL),
        last_run.started_at, last_run.duration_ms,
        last_line, now() - last_line,
        coalesce((SELECT bool_or(e.stale) FROM decnet.enrichment_status e), false),
        (SELECT count(*) FROM decnet.rollup_failures),
        decnet.missing_cron_jobs(),
        (SELECT count(*) FROM decnet.alert_outbox),
        now() - (SELECT min(o.queued_at) FROM decnet.alert_outbox o);
END
$fn$;

-- ---- retention: decnet.logs partitioned by received_at (V10) --------------------

-- The partitions of decnet.logs and their received_at ranges (lower NULL: from
-- the beginning; both NULL: the default partition), oldest first.
CREATE FUNCTION @extschema@.log_partitions()
RETURNS TABLE (partition_name text, received_from timestamptz, received_before timestamptz, is_default boolean)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT c.relname::text,
           (regexp_match(b.expr, 'FROM \(''([^'']*)''\)'))[1]::timestamptz,
           (regexp_match(b.expr, 'TO \(''([^'']*)''\)'))[1]::timestamptz,
           b.expr = 'DEFAULT'
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS expr) b
    WHERE i.inhparent = 'decnet.logs'::regclass
    ORDER BY 3 NULLS LAST, 2 NULLS FIRST;
END
$fn$;

-- Creates the partitions of the current period and of decnet.log_partitioning's
-- premake periods ahead (UTC boundaries) that do not exist yet; a period already
-- covered by an older, wider partition starts where that one ends. Lines the
-- default partition holds for a new range are moved into it. Returns the
-- partitions created. Scheduled daily by pg_cron (decnet-partitions). When a
-- partition is due it blocks ingest until it commits (moving lines out of the
-- default partition takes about a second per 100,000).
CREATE FUNCTION @extschema@.create_log_partitions() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cfg record;
    lo timestamptz;
    hi timestamptz;
    covered timestamptz;
    name text;
    made integer := 0;
    step interval;
BEGIN
    SELECT * INTO cfg FROM decnet.log_partitioning;
    step := ('1 ' || cfg.period)::interval;
    lo := date_trunc(cfg.period, now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    FOR k IN 0 .. cfg.premake LOOP
        hi := ((lo AT TIME ZONE 'UTC') + step) AT TIME ZONE 'UTC';
        SELECT max(p.received_before) INTO covered FROM decnet.log_partitions() p
        WHERE NOT p.is_default AND p.received_before > lo AND coalesce(p.received_from, '-infinity') < hi;
        IF covered IS NULL OR covered < hi THEN
            -- Writers wait from here to commit (readers do not): otherwise a line
            -- committed into the default partition between the copy and the
            -- delete below is deleted uncopied, or one committed after the
            -- check makes the new partition's constraint fail.
            LOCK TABLE decnet.logs IN EXCLUSIVE MODE;
            lo := greatest(lo, coalesce(covered, lo));
            name := 'logs_' || to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD');
            IF EXISTS (SELECT 1 FROM decnet.logs_default d WHERE d.received_at >= lo AND d.received_at < hi) THEN
                -- archive lines that landed in the default partition move into their range
                EXECUTE format('CREATE TABLE decnet.%I (LIKE decnet.logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
                EXECUTE format('INSERT INTO decnet.%I SELECT * FROM decnet.logs_default WHERE received_at >= %L AND received_at < %L', name, lo, hi);
                EXECUTE format('DELETE FROM decnet.logs_default WHERE received_at >= %L AND received_at < %L', lo, hi);
                EXECUTE format('ALTER TABLE decnet.logs ATTACH PARTITION decnet.%I FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
            ELSE
                EXECUTE format('CREATE TABLE decnet.%I PARTITION OF decnet.logs FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
            END IF;
            made := made + 1;
        END IF;
        lo := hi;
    END LOOP;
    RETURN made;
END
$fn$;

-- Drops every partition of decnet.logs whose lines were all received before
-- cutoff (the default partition is never dropped). The derived tables keep what
-- those lines contributed; their attackers are recorded in
-- decnet.truncated_attackers (verify() leaves them out) and each drop in
-- decnet.log_retention. Detaching takes a brief exclusive lock on decnet.logs
-- per partition: concurrent ingest waits for it, then continues.
CREATE FUNCTION @extschema@.drop_logs_before(cutoff timestamptz)
RETURNS TABLE (partition_name text, received_before timestamptz, lines bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    p record;
    n bigint;
    attackerless bigint;
BEGIN
    IF cutoff IS NULL THEN
        RAISE EXCEPTION 'drop_logs_before needs a cutoff time'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the time before which received lines may go, e.g. now() - interval ''1 year''.';
    END IF;
    FOR p IN SELECT * FROM decnet.log_partitions() lp WHERE NOT lp.is_default AND lp.received_before <= cutoff LOOP
        -- detached first (a brief exclusive lock on decnet.logs): no line can arrive in it while it is read
        EXECUTE format('ALTER TABLE decnet.logs DETACH PARTITION decnet.%I', p.partition_name);
        EXECUTE format('SELECT count(*), count(*) FILTER (WHERE attacker_ip IS NULL) FROM decnet.%I', p.partition_name)
            INTO n, attackerless;
        EXECUTE format('INSERT INTO decnet.truncated_attackers (ip) SELECT DISTINCT attacker_ip FROM decnet.%I
                        WHERE attacker_ip IS NOT NULL ORDER BY 1 ON CONFLICT DO NOTHING', p.partition_name);
        EXECUTE format('DROP TABLE decnet.%I', p.partition_name);
        INSERT INTO decnet.log_retention (partition_name, received_from, received_before, lines, attackerless_lines)
        VALUES (p.partition_name, p.received_from, p.received_before, n, attackerless);
        partition_name := p.partition_name;
        received_before := p.received_before;
        lines := n;
        RETURN NEXT;
    END LOOP;
END
$fn$;
