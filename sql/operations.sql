-- Operations (issue 9, docs/operations.md): what a DBA checks first.

-- One row: how much is stored and flagged, how far the deferred work lags
-- (dirty attackers, reverse-DNS queue), when the rollup last ran and for how
-- long, and how stale the data is (time since the last line arrived, and
-- whether any enrichment source is older than 30 days). Counting the lines
-- reads the whole table (about a second per 10M lines); the rest are index probes.
CREATE FUNCTION @extschema@.stats()
RETURNS TABLE (lines_ingested bigint, lines_flagged bigint, attackers bigint, identities bigint,
               dirty_backlog bigint, ptr_backlog bigint, last_rollup_at timestamptz, last_rollup_ms double precision,
               last_line_at timestamptz, ingest_idle interval, enrichment_stale boolean)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    last_run record;
    last_line timestamptz;
BEGIN
    SELECT r.started_at, r.duration_ms INTO last_run FROM decnet.rollup_runs r ORDER BY r.id DESC LIMIT 1;
    SELECT l.received_at INTO last_line FROM decnet.logs l ORDER BY l.id DESC LIMIT 1;
    RETURN QUERY SELECT
        (SELECT count(*) FROM decnet.logs),
        (SELECT count(*) FROM decnet.logs l WHERE l.parse_status <> 'ok'),
        (SELECT count(*) FROM decnet.attackers),
        (SELECT count(*) FROM decnet.attacker_identities i WHERE i.merged_into IS NULL AND i.member_count > 0),
        (SELECT count(*) FROM decnet.dirty_attackers),
        (SELECT count(*) FROM decnet.attackers a WHERE a.ptr_attempted_at IS NULL),
        last_run.started_at, last_run.duration_ms,
        last_line, now() - last_line,
        coalesce((SELECT bool_or(e.stale) FROM decnet.enrichment_status e), false);
END
$fn$;
