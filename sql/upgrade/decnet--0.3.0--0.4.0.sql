-- decnet upgrade script drafted by tools/upgrade-script.py from sql/releases/decnet--0.3.0.sql and /tmp/new.sql

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

CREATE FUNCTION @extschema@.cron_jobs() RETURNS TABLE (jobname text, schedule text, command text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
VALUES ('decnet-rollup', '* * * * *', 'SELECT * FROM decnet.rollup()'),
       ('decnet-ptr', '* * * * *', 'SELECT * FROM decnet.resolve_pending_ptr(300)'),
       ('decnet-identities', '17 * * * *', 'SELECT * FROM decnet.recluster_identities()'),
       ('decnet-campaigns', '*/10 * * * *', 'SELECT * FROM decnet.cluster_campaigns()'),
       ('decnet-partitions', '7 3 * * *', 'SELECT decnet.create_log_partitions()')
$$;

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

DROP FUNCTION @extschema@.stats;

CREATE FUNCTION @extschema@.stats()
RETURNS TABLE (lines_ingested bigint, lines_flagged bigint, attackers bigint, identities bigint,
               dirty_backlog bigint, ptr_backlog bigint, last_rollup_at timestamptz, last_rollup_ms double precision,
               last_line_at timestamptz, ingest_idle interval, enrichment_stale boolean,
               rollup_failures bigint, missing_jobs text[])
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
        (SELECT count(*) FROM decnet.attackers a WHERE a.ptr_attempted_at IS NULL),
        last_run.started_at, last_run.duration_ms,
        last_line, now() - last_line,
        coalesce((SELECT bool_or(e.stale) FROM decnet.enrichment_status e), false),
        (SELECT count(*) FROM decnet.rollup_failures),
        decnet.missing_cron_jobs();
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.create_log_partitions() RETURNS integer
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

CREATE OR REPLACE FUNCTION @extschema@.drop_logs_before(cutoff timestamptz)
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

CREATE  FUNCTION "defer_taken"() RETURNS bool /* bool */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'defer_taken_wrapper';

CREATE  FUNCTION "index_key"(
	"value" TEXT /* & str */
) RETURNS TEXT /* String */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'index_key_wrapper';

CREATE  FUNCTION "merge_event_needed"() RETURNS bool /* bool */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'merge_event_needed_wrapper';

CREATE  FUNCTION "rir_file_problem"(
	"file" TEXT /* & str */
) RETURNS TEXT /* Option < String > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'rir_file_problem_wrapper';

CREATE OR REPLACE FUNCTION @extschema@.enrich_attackers(ips inet[]) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    changed bigint;
BEGIN
    UPDATE decnet.attackers a
    SET country_code = e.cc, country_source = CASE WHEN e.cc IS NOT NULL THEN 'rir' END,
        asn = e.asn, as_name = e.as_name, asn_source = CASE WHEN e.asn IS NOT NULL THEN 'iptoasn' END
    FROM (SELECT r.ip, r.country_code AS cc, r.asn, r.as_name FROM decnet.ranges_of(ips) r) e
    WHERE a.ip = e.ip
      AND (a.country_code, a.asn, a.as_name) IS DISTINCT FROM (e.cc, e.asn, e.as_name);
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed;
END
$fn$;

CREATE FUNCTION @extschema@.check_enrichment_load(source text, loaded bigint, held bigint, force boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF coalesce(loaded, 0) = 0 THEN
        RAISE EXCEPTION 'no usable ranges for %: nothing was loaded', source
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Check the file type: load-rir takes delegated-<rir>-[extended-]latest, load-asn takes ip2asn-v4/v6.tsv[.gz].';
    END IF;
    IF NOT force AND loaded * 2 < held THEN
        RAISE EXCEPTION '% would shrink from % to % ranges', source, held, loaded
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A truncated or wrong file? If the source really shrank, load it with force: decnet load-rir/load-asn --force, or decnet.load_rir_file(file, true) / load_iptoasn_file(file, true).';
    END IF;
END
$fn$;

CREATE FUNCTION @extschema@.load_rir_file(file text, force boolean)
RETURNS TABLE (registry text, ranges bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    registries text[];
    problem text := decnet.rir_file_problem(file);
    r record;
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'not a whole RIR delegated-statistics file: %', problem
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Load delegated-<rir>-[extended-]latest as published, unchanged; a download cut short fails its summary counts.';
    END IF;
    CREATE TEMP TABLE decnet_rir_load ON COMMIT DROP AS SELECT * FROM decnet.rir_ranges(file);
    SELECT array_agg(DISTINCT l.registry) INTO registries FROM decnet_rir_load l;
    IF registries IS NULL THEN
        PERFORM decnet.check_enrichment_load('the RIR file', 0, 0, force);
    END IF;
    FOR r IN SELECT l.registry, count(DISTINCT l.start_ip) AS loaded,
                    (SELECT count(*) FROM decnet.country_ranges c WHERE c.registry = l.registry) AS held
             FROM decnet_rir_load l GROUP BY l.registry LOOP
        PERFORM decnet.check_enrichment_load('registry ' || r.registry, r.loaded, r.held, force);
    END LOOP;
    DELETE FROM decnet.country_ranges c WHERE c.registry = ANY (registries);
    INSERT INTO decnet.country_ranges AS c (start_ip, end_ip, country_code, registry)
        SELECT DISTINCT ON (l.start_ip) l.start_ip, l.end_ip, l.country_code, l.registry
        FROM decnet_rir_load l ORDER BY l.start_ip, l.line_no DESC
    ON CONFLICT (start_ip) DO UPDATE SET end_ip = excluded.end_ip, country_code = excluded.country_code,
                                          registry = excluded.registry;
    INSERT INTO decnet.enrichment_loads AS e (source, loaded_at, ranges)
        SELECT 'rir:' || l.registry, now(), count(DISTINCT l.start_ip) FROM decnet_rir_load l GROUP BY l.registry ORDER BY 1
    ON CONFLICT (source) DO UPDATE SET loaded_at = excluded.loaded_at, ranges = excluded.ranges;
    PERFORM decnet.enrich_attackers(ARRAY(SELECT a.ip FROM decnet.attackers a ORDER BY a.ip));
    RETURN QUERY SELECT l.registry, count(DISTINCT l.start_ip) FROM decnet_rir_load l GROUP BY l.registry ORDER BY 1;
    DROP TABLE decnet_rir_load;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.load_rir(file text)
RETURNS TABLE (registry text, ranges bigint)
LANGUAGE sql
AS $$ SELECT * FROM @extschema@.load_rir_file(file, false) $$;

CREATE FUNCTION @extschema@.load_iptoasn_file(file text, force boolean) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    families integer[];
    loaded bigint;
    r record;
BEGIN
    CREATE TEMP TABLE decnet_asn_load ON COMMIT DROP AS SELECT * FROM decnet.iptoasn_ranges(file);
    SELECT array_agg(DISTINCT family(l.start_ip)), count(DISTINCT l.start_ip) INTO families, loaded FROM decnet_asn_load l;
    PERFORM decnet.check_enrichment_load('the iptoasn file', loaded, 0, force);
    FOR r IN SELECT f, (SELECT count(DISTINCT l.start_ip) FROM decnet_asn_load l WHERE family(l.start_ip) = f) AS loaded,
                    (SELECT count(*) FROM decnet.asn_ranges a WHERE family(a.start_ip) = f) AS held
             FROM unnest(families) f LOOP
        PERFORM decnet.check_enrichment_load('iptoasn IPv' || r.f, r.loaded, r.held, force);
    END LOOP;
    DELETE FROM decnet.asn_ranges a WHERE family(a.start_ip) = ANY (families);
    INSERT INTO decnet.asn_ranges AS a (start_ip, end_ip, asn, as_name, country)
        SELECT DISTINCT ON (l.start_ip) l.start_ip, l.end_ip, l.asn, l.as_name, l.country
        FROM decnet_asn_load l ORDER BY l.start_ip, l.line_no DESC;
    INSERT INTO decnet.enrichment_loads AS e (source, loaded_at, ranges)
        SELECT 'iptoasn-v' || f, now(), (SELECT count(DISTINCT l.start_ip) FROM decnet_asn_load l WHERE family(l.start_ip) = f)
        FROM unnest(families) f ORDER BY 1
    ON CONFLICT (source) DO UPDATE SET loaded_at = excluded.loaded_at, ranges = excluded.ranges;
    PERFORM decnet.enrich_attackers(ARRAY(SELECT a.ip FROM decnet.attackers a ORDER BY a.ip));
    DROP TABLE decnet_asn_load;
    RETURN loaded;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.load_iptoasn(file text) RETURNS bigint
LANGUAGE sql
AS $$ SELECT @extschema@.load_iptoasn_file(file, false) $$;

CREATE OR REPLACE FUNCTION @extschema@.resolve_pending_ptr(max_attackers integer DEFAULT 300)
RETURNS TABLE (attempted integer, resolved integer, remaining bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    batch inet[];
    n_attempted integer := 0;
    n_resolved integer := 0;
BEGIN
    IF pg_try_advisory_xact_lock(hashtext('decnet.resolve_pending_ptr')) THEN
        SELECT array_agg(q.ip ORDER BY q.first_seen, q.ip) INTO batch FROM (
            SELECT a.ip, a.first_seen FROM decnet.attackers a WHERE a.ptr_attempted_at IS NULL
            ORDER BY a.first_seen, a.ip LIMIT max_attackers) q;
        IF batch IS NOT NULL THEN
            CREATE TEMP TABLE decnet_ptr_answers ON COMMIT DROP AS
                SELECT r.ip::inet AS ip, r.ptr FROM decnet.resolve_ptrs(ARRAY(SELECT host(b) FROM unnest(batch) b)) r;
            PERFORM 1 FROM decnet.attackers a WHERE a.ip IN (SELECT x.ip FROM decnet_ptr_answers x) ORDER BY a.ip FOR UPDATE;
            UPDATE decnet.attackers a SET ptr_record = x.ptr, ptr_attempted_at = now()
            FROM decnet_ptr_answers x WHERE a.ip = x.ip;
            GET DIAGNOSTICS n_attempted = ROW_COUNT;
            SELECT count(x.ptr) INTO n_resolved FROM decnet_ptr_answers x;
            DROP TABLE decnet_ptr_answers;
        END IF;
    END IF;
    RETURN QUERY SELECT n_attempted, n_resolved, (SELECT count(*) FROM decnet.attackers a WHERE a.ptr_attempted_at IS NULL);
END
$fn$;

CREATE  FUNCTION "rollup_lines_max"() RETURNS INT /* i32 */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'rollup_lines_max_wrapper';

CREATE  FUNCTION "statement_parts"() RETURNS TABLE (
	"attackers" bigint,  /* i64 */
	"commands" bigint,  /* i64 */
	"bounties" bigint,  /* i64 */
	"credentials" bigint,  /* i64 */
	"smtp_targets" bigint,  /* i64 */
	"probes" bigint,  /* i64 */
	"ipv6_leaks" bigint  /* i64 */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'statement_parts_wrapper';

CREATE OR REPLACE FUNCTION @extschema@.merge_probe_observations() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    o_ip inet[]; o_type text[]; o_port integer[]; o_ts timestamptz[]; o_hash text[]; o_id bigint[];
    late_ip inet[]; late_type text[]; late_port integer[];
    late record;
    added jsonb := '[]';
    more jsonb;
BEGIN
    SELECT array_agg(attacker_ip), array_agg(probe_type), array_agg(port), array_agg(ts), array_agg(hash), array_agg(log_id)
    INTO o_ip, o_type, o_port, o_ts, o_hash, o_id
    FROM decnet.statement_probes();
    IF o_ip IS NULL THEN
        RETURN 0;
    END IF;

    SELECT array_agg(x.ip), array_agg(x.t), array_agg(x.p) INTO late_ip, late_type, late_port
    FROM (SELECT DISTINCT o.ip, o.t, o.p
          FROM unnest(o_ip, o_type, o_port, o_ts, o_hash) AS o(ip, t, p, ts, h)
          JOIN decnet.fingerprint_state s ON s.attacker_ip = o.ip AND s.probe_type = o.t AND s.port = o.p
          WHERE (o.ts, o.h) < (s.last_seen, s.last_hash)
          ORDER BY 1, 2, 3) x;

    -- in-order triples: chain on from the stored latest hash
    WITH obs AS (
        SELECT ip, t, p, ts, h, min(id) AS id, count(*) AS n
        FROM unnest(o_ip, o_type, o_port, o_ts, o_hash, o_id) AS o(ip, t, p, ts, h, id)
        WHERE NOT EXISTS (SELECT 1 FROM unnest(late_ip, late_type, late_port) AS l(ip, t, p)
                          WHERE l.ip = o.ip AND l.t = o.t AND l.p = o.p)
        GROUP BY ip, t, p, ts, h
    ), chained AS (
        SELECT *, lag(h) OVER (PARTITION BY ip, t, p ORDER BY ts, h, stored DESC) AS previous
        FROM (SELECT ip, t, p, ts, h, id, false AS stored FROM obs
              UNION ALL
              SELECT s.attacker_ip, s.probe_type, s.port, s.last_seen, s.last_hash, NULL, true
              FROM decnet.fingerprint_state s
              WHERE (s.attacker_ip, s.probe_type, s.port) IN (SELECT ip, t, p FROM obs)) q
    ), rot AS (
        INSERT INTO decnet.fingerprint_rotations AS r (attacker_ip, probe_type, port, rotated_at, old_hash, new_hash, log_id)
        SELECT ip, t, p, ts, previous, h, id FROM chained
        WHERE NOT stored AND previous IS NOT NULL AND previous <> h
        ORDER BY ip, t, p, ts, h
        ON CONFLICT DO NOTHING
        RETURNING r.*
    ), st AS (
        INSERT INTO decnet.fingerprint_state AS s (attacker_ip, probe_type, port, last_hash, first_seen, last_seen, observation_count, rotation_count)
        SELECT ip, t, p, (array_agg(h ORDER BY ts DESC, h DESC))[1], min(ts), max(ts), sum(n), 0
        FROM obs GROUP BY ip, t, p ORDER BY ip, t, p
        ON CONFLICT (attacker_ip, probe_type, port) DO UPDATE SET
            last_hash = excluded.last_hash,  -- in order: the statement's latest is the latest
            first_seen = least(s.first_seen, excluded.first_seen),
            last_seen = excluded.last_seen,
            observation_count = s.observation_count + excluded.observation_count
        RETURNING 1
    )
    SELECT coalesce(jsonb_agg(to_jsonb(rot) ORDER BY attacker_ip, probe_type, port, rotated_at), '[]') INTO added FROM rot;

    -- a repeat of a stored rotation point from an earlier-numbered line (concurrent
    -- writers) makes that line the rotation's first, as the recomputation says
    UPDATE decnet.fingerprint_rotations r SET log_id = o.id
    FROM (SELECT ip, t, p, ts, h, min(id) AS id
          FROM unnest(o_ip, o_type, o_port, o_ts, o_hash, o_id) AS u(ip, t, p, ts, h, id) GROUP BY 1, 2, 3, 4, 5) o
    WHERE r.attacker_ip = o.ip AND r.probe_type = o.t AND r.port = o.p AND r.rotated_at = o.ts AND r.new_hash = o.h
      AND o.id < r.log_id;

    -- late triples (rare): recompute each from its lines
    FOR late IN SELECT * FROM unnest(late_ip, late_type, late_port) AS l(attacker_ip, probe_type, port) LOOP
        WITH want AS (
            SELECT * FROM decnet.recomputed_fingerprint_rotations r
            WHERE r.attacker_ip = late.attacker_ip AND r.probe_type = late.probe_type AND r.port = late.port
        ), gone AS (
            DELETE FROM decnet.fingerprint_rotations r
            WHERE r.attacker_ip = late.attacker_ip AND r.probe_type = late.probe_type AND r.port = late.port
              AND (r.rotated_at, r.new_hash) NOT IN (SELECT rotated_at, new_hash FROM want)
        ), ins AS (
            INSERT INTO decnet.fingerprint_rotations AS r SELECT * FROM want ORDER BY rotated_at, new_hash
            ON CONFLICT (attacker_ip, probe_type, port, rotated_at, new_hash) DO UPDATE
                SET old_hash = excluded.old_hash, log_id = excluded.log_id
            RETURNING r.*, (r.xmax = 0) AS inserted
        )
        SELECT coalesce(jsonb_agg(to_jsonb(ins) - 'inserted' ORDER BY rotated_at) FILTER (WHERE inserted), '[]') INTO more FROM ins;
        added := added || more;

        UPDATE decnet.fingerprint_state s SET last_hash = r.last_hash, first_seen = r.first_seen, last_seen = r.last_seen,
               observation_count = r.observation_count
        FROM decnet.recomputed_fingerprint_state r
        WHERE r.attacker_ip = late.attacker_ip AND r.probe_type = late.probe_type AND r.port = late.port
          AND s.attacker_ip = r.attacker_ip AND s.probe_type = r.probe_type AND s.port = r.port;
    END LOOP;

    -- counts of the touched triples and their attackers
    UPDATE decnet.fingerprint_state s SET rotation_count = c.n
    FROM (SELECT t.ip, t.t, t.p, (SELECT count(*) FROM decnet.fingerprint_rotations r
                                  WHERE r.attacker_ip = t.ip AND r.probe_type = t.t AND r.port = t.p)::integer AS n
          FROM (SELECT DISTINCT ip, t, p FROM unnest(o_ip, o_type, o_port) AS u(ip, t, p)) t) c
    WHERE s.attacker_ip = c.ip AND s.probe_type = c.t AND s.port = c.p AND s.rotation_count IS DISTINCT FROM c.n;

    UPDATE decnet.attackers a SET rotation_count = c.n, last_rotation_at = c.last_at, updated_at = now()
    FROM (SELECT t.ip, count(r.*)::integer AS n, max(r.rotated_at) AS last_at
          FROM (SELECT DISTINCT unnest(o_ip) AS ip) t
          LEFT JOIN decnet.fingerprint_rotations r ON r.attacker_ip = t.ip
          GROUP BY t.ip) c
    WHERE a.ip = c.ip AND (a.rotation_count, a.last_rotation_at) IS DISTINCT FROM (c.n, c.last_at);

    IF jsonb_array_length(added) > 0 THEN
        -- one notification per statement: at most 20 rotations listed
        PERFORM decnet.notify('decnet_rotation', jsonb_build_object(
            'count', jsonb_array_length(added),
            'rotations', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'attacker_ip', e->>'attacker_ip', 'port', (e->>'port')::int, 'probe_type', e->>'probe_type',
                                'old_hash', left(e->>'old_hash', 64), 'new_hash', left(e->>'new_hash', 64), 'ts', e->>'rotated_at')), '[]')
                          FROM (SELECT e FROM jsonb_array_elements(added) e LIMIT 20) x),
            'truncated', jsonb_array_length(added) > 20));
    END IF;
    RETURN jsonb_array_length(added);
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.identity_signals_of(ips inet[]) RETURNS TABLE (kind text, value text, attacker_ip inet)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    -- values are bounded (decnet.index_key): a hash or URL is attacker-written and
    -- keys decnet.identity_signals; equal values keep equal keys
    SELECT DISTINCT s.kind, decnet.index_key(s.value), s.attacker_ip FROM (
        SELECT kv.kind, v.value, f.attacker_ip
        FROM (SELECT b.attacker_ip, decnet.fingerprint_summary(jsonb_agg(b.payload)) AS summary
              FROM unnest(ips) AS t(ip) JOIN decnet.bounties b ON b.attacker_ip = t.ip
              WHERE b.bounty_type = 'fingerprint'
              GROUP BY b.attacker_ip) f
        CROSS JOIN (VALUES ('ja3', 'ja3_hashes'), ('ja4', 'ja4_hashes'), ('hassh', 'hassh_hashes'),
                           ('tls_cert', 'tls_cert_sha256')) AS kv(kind, col)
        CROSS JOIN LATERAL unnest(decnet.json_text_array(f.summary -> kv.col)) AS v(value)
        UNION ALL
        SELECT 'mac', l.mac, l.attacker_ip FROM unnest(ips) AS t(ip) JOIN decnet.attacker_ipv6_leaks l ON l.attacker_ip = t.ip
        WHERE l.mac IS NOT NULL
        UNION ALL
        SELECT 'mac', l.mac, v4 FROM decnet.attacker_ipv6_leaks l CROSS JOIN LATERAL unnest(l.attacker_v4) AS v4
        WHERE l.mac IS NOT NULL AND v4 IN (SELECT unnest(ips))
        UNION ALL
        SELECT 'payload', b.payload->>'sha256', b.attacker_ip
        FROM unnest(ips) AS t(ip) JOIN decnet.bounties b ON b.attacker_ip = t.ip
        WHERE b.bounty_type = 'artifact'
        UNION ALL
        SELECT 'c2', e.endpoint, c.attacker_ip
        FROM unnest(ips) AS t(ip) JOIN decnet.attacker_commands c ON c.attacker_ip = t.ip
        CROSS JOIN LATERAL unnest(decnet.c2_endpoints(c.command)) AS e(endpoint)
        UNION ALL
        SELECT 'cmd', md5(c.command), c.attacker_ip FROM unnest(ips) AS t(ip) JOIN decnet.attacker_commands c ON c.attacker_ip = t.ip
        UNION ALL
        SELECT 'cred', md5(c.secret_sha256 || ':' || c.principal_key), c.attacker_ip
        FROM unnest(ips) AS t(ip) JOIN decnet.credentials c ON c.attacker_ip = t.ip
        UNION ALL
        SELECT 'kd' || n, substr(encode(p.kd_simhash, 'hex'), n * 4 + 1, 4), p.attacker_ip
        FROM unnest(ips) AS t(ip) JOIN decnet.session_profiles p ON p.attacker_ip = t.ip CROSS JOIN generate_series(0, 3) AS n
        WHERE p.kd_simhash IS NOT NULL
    ) s
    WHERE s.value IS NOT NULL AND s.value <> '';
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.resolve_identities(batch inet[])
RETURNS TABLE (attackers integer, edges integer, identities integer, merges integer)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off SET client_min_messages = warning
AS $fn$
#variable_conflict use_column
DECLARE
    started timestamptz := clock_timestamp();
    e_a inet[];
    e_b inet[];
    g_a text[];
    g_b text[];
    n_edges integer;
    n_ids integer;
    n_merges integer;
BEGIN
    batch := ARRAY(SELECT a.ip FROM unnest(batch) AS t(ip) JOIN decnet.attackers a ON a.ip = t.ip ORDER BY a.ip);
    IF cardinality(batch) = 0 THEN
        RETURN QUERY SELECT 0, 0, 0, 0;
        RETURN;
    END IF;
    DELETE FROM decnet.identity_signals s USING unnest(batch) AS t(ip) WHERE s.attacker_ip = t.ip;
    INSERT INTO decnet.identity_signals (kind, value, attacker_ip)
        SELECT s.kind, s.value, s.attacker_ip FROM decnet.identity_signals_of(batch) s ORDER BY 1, 2, 3;

    SELECT array_agg(e.a), array_agg(e.b) INTO e_a, e_b FROM decnet.identity_edges(batch) e;
    n_edges := coalesce(cardinality(e_a), 0);

    -- the graph: the new edges, every node to itself, every node to its identity
    WITH nodes AS (
        SELECT unnest(batch) AS ip UNION SELECT unnest(e_a) UNION SELECT unnest(e_b)
    ), g AS (
        SELECT x.a::text AS a, x.b::text AS b FROM unnest(e_a, e_b) AS x(a, b)
        UNION ALL SELECT n.ip::text, n.ip::text FROM nodes n
        UNION ALL SELECT n.ip::text, 'identity:' || m.identity_id FROM nodes n JOIN decnet.identity_members m ON m.attacker_ip = n.ip
    )
    SELECT array_agg(a), array_agg(b) INTO g_a, g_b FROM g;

    DROP TABLE IF EXISTS pg_temp.decnet_components, pg_temp.decnet_winners;
    CREATE TEMP TABLE decnet_components ON COMMIT DROP AS
        SELECT c.node, c.component FROM decnet.connected_components(g_a, g_b) c;
    -- each component's identity: the smallest existing uuid (as DECNET), or a new one
    CREATE TEMP TABLE decnet_winners ON COMMIT DROP AS
        SELECT component, min(substr(node, 10))::uuid AS winner FROM decnet_components
        WHERE node LIKE 'identity:%' GROUP BY component;
    INSERT INTO decnet_winners
        SELECT c.component, gen_random_uuid() FROM (SELECT DISTINCT component FROM decnet_components) c
        WHERE NOT EXISTS (SELECT 1 FROM decnet_winners w WHERE w.component = c.component);
    INSERT INTO decnet.attacker_identities (uuid) SELECT winner FROM decnet_winners ORDER BY 1 ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n_ids = ROW_COUNT;

    -- the other identities of a component merge into its winner, with their members
    WITH losers AS (
        SELECT substr(c.node, 10)::uuid AS loser, w.winner FROM decnet_components c JOIN decnet_winners w USING (component)
        WHERE c.node LIKE 'identity:%' AND substr(c.node, 10)::uuid <> w.winner
    ), moved AS (
        UPDATE decnet.identity_members m SET identity_id = l.winner, joined_at = now()
        FROM losers l WHERE m.identity_id = l.loser
        RETURNING 1
    ), repointed AS (
        UPDATE decnet.attacker_identities i SET merged_into = l.winner, updated_at = now()
        FROM losers l WHERE i.merged_into = l.loser
        RETURNING 1
    )
    UPDATE decnet.attacker_identities i SET merged_into = l.winner, member_count = 0, updated_at = now()
    FROM losers l WHERE i.uuid = l.loser;
    GET DIAGNOSTICS n_merges = ROW_COUNT;

    INSERT INTO decnet.identity_members AS m (attacker_ip, identity_id)
        SELECT c.node::inet, w.winner FROM decnet_components c JOIN decnet_winners w USING (component)
        WHERE c.node NOT LIKE 'identity:%' ORDER BY 1
    ON CONFLICT (attacker_ip) DO UPDATE SET identity_id = excluded.identity_id, joined_at = now()
        WHERE m.identity_id <> excluded.identity_id;

    PERFORM decnet.refresh_identities(ARRAY(SELECT winner FROM decnet_winners ORDER BY 1));
    INSERT INTO decnet.identity_runs (started_at, duration_ms, mode, attackers, edges, identities, merges)
    VALUES (started, extract(epoch FROM clock_timestamp() - started) * 1000, 'incremental', cardinality(batch), n_edges, n_ids, n_merges);
    RETURN QUERY SELECT cardinality(batch), n_edges, n_ids, n_merges;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.recluster_identities()
RETURNS TABLE (attackers integer, edges integer, identities integer, merges integer, duration_ms double precision)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off SET client_min_messages = warning
AS $fn$
#variable_conflict use_column
DECLARE
    started timestamptz := clock_timestamp();
    everyone inet[];
    e_a inet[];
    e_b inet[];
    g_a text[];
    g_b text[];
    n_edges integer;
    n_ids integer;
    n_merges integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('decnet.rollup'));
    everyone := ARRAY(SELECT ip FROM decnet.attackers ORDER BY ip);
    TRUNCATE decnet.identity_signals;
    INSERT INTO decnet.identity_signals (kind, value, attacker_ip)
        SELECT s.kind, s.value, s.attacker_ip FROM decnet.identity_signals_of(everyone) s ORDER BY 1, 2, 3;
    ANALYZE decnet.identity_signals;  -- emptied and refilled: the planner must not think it is empty
    SELECT array_agg(e.a), array_agg(e.b) INTO e_a, e_b FROM decnet.identity_edges(NULL) e;
    n_edges := coalesce(cardinality(e_a), 0);
    SELECT array_agg(a), array_agg(b) INTO g_a, g_b FROM (
        SELECT x.a::text AS a, x.b::text AS b FROM unnest(e_a, e_b) AS x(a, b)
        UNION ALL SELECT ip::text, ip::text FROM unnest(everyone) AS ip
    ) g;

    DROP TABLE IF EXISTS pg_temp.decnet_components, pg_temp.decnet_kept, pg_temp.decnet_winners;
    CREATE TEMP TABLE decnet_components ON COMMIT DROP AS
        SELECT c.node, c.component FROM decnet.connected_components(g_a, g_b) c;
    CREATE TEMP TABLE decnet_kept ON COMMIT DROP AS
        SELECT k.previous::uuid AS previous, k.component, k.kept
        FROM (SELECT array_agg(c.component) AS comps, array_agg(m.identity_id::text) AS prevs
              FROM decnet_components c JOIN decnet.identity_members m ON m.attacker_ip = c.node::inet) x
        CROSS JOIN LATERAL decnet.keep_previous_groups(x.comps, x.prevs) k;
    CREATE TEMP TABLE decnet_winners ON COMMIT DROP AS
        SELECT c.component, coalesce(k.previous, gen_random_uuid()) AS winner
        FROM (SELECT DISTINCT component FROM decnet_components) c
        LEFT JOIN decnet_kept k ON k.component = c.component AND k.kept;
    INSERT INTO decnet.attacker_identities (uuid) SELECT winner FROM decnet_winners ORDER BY 1 ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n_ids = ROW_COUNT;

    UPDATE decnet.attacker_identities i SET merged_into = w.winner, member_count = 0, updated_at = now()
    FROM decnet_kept k JOIN decnet_winners w ON w.component = k.component
    WHERE i.uuid = k.previous AND NOT k.kept;
    GET DIAGNOSTICS n_merges = ROW_COUNT;
    UPDATE decnet.attacker_identities i SET merged_into = w.merged_into
    FROM decnet.attacker_identities w WHERE i.merged_into = w.uuid AND w.merged_into IS NOT NULL;

    INSERT INTO decnet.identity_members AS m (attacker_ip, identity_id)
        SELECT c.node::inet, w.winner FROM decnet_components c JOIN decnet_winners w USING (component) ORDER BY 1
    ON CONFLICT (attacker_ip) DO UPDATE SET identity_id = excluded.identity_id, joined_at = now()
        WHERE m.identity_id <> excluded.identity_id;
    DELETE FROM decnet.identity_members m WHERE NOT EXISTS (SELECT 1 FROM decnet.attackers a WHERE a.ip = m.attacker_ip);
    ANALYZE decnet.identity_members, decnet.attacker_identities;

    PERFORM decnet.refresh_identities(ARRAY(SELECT winner FROM decnet_winners ORDER BY 1));
    INSERT INTO decnet.identity_runs (started_at, duration_ms, mode, attackers, edges, identities, merges)
    VALUES (started, extract(epoch FROM clock_timestamp() - started) * 1000, 'full', cardinality(everyone), n_edges, n_ids, n_merges);
    RETURN QUERY SELECT cardinality(everyone), n_edges, n_ids, n_merges,
                        (extract(epoch FROM clock_timestamp() - started) * 1000)::double precision;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.cluster_campaigns()
RETURNS TABLE (identities integer, edges integer, campaigns integer, duration_ms double precision)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off SET client_min_messages = warning
AS $fn$
#variable_conflict use_column
DECLARE
    started timestamptz := clock_timestamp();
    g_a text[];
    g_b text[];
    n_identities integer;
    n_edges integer;
    n_campaigns integer;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('decnet.rollup'));
    DROP TABLE IF EXISTS pg_temp.decnet_phases, pg_temp.decnet_views, pg_temp.decnet_chunks, pg_temp.decnet_infra, pg_temp.decnet_components,
                         pg_temp.decnet_kept, pg_temp.decnet_winners;
    -- first and last kill-chain phase per (identity, decky), from the members' kept commands
    CREATE TEMP TABLE decnet_phases ON COMMIT DROP AS
        WITH phased AS MATERIALIZED (  -- the phase once per command (inlined, it would run in WHERE and in both aggregates)
            SELECT m.identity_id, c.decky, c.ts, c.log_id, decnet.command_phase(c.command) AS phase
            FROM decnet.identity_members m
            JOIN decnet.attacker_commands c ON c.attacker_ip = m.attacker_ip
            WHERE c.decky IS NOT NULL AND c.ts IS NOT NULL
        )
        SELECT x.identity_id, x.decky,
               (array_agg(x.phase ORDER BY x.ts, x.log_id))[1] AS first_phase,
               extract(epoch FROM min(x.ts))::float8 AS first_ts,
               (array_agg(x.phase ORDER BY x.ts DESC, x.log_id DESC))[1] AS last_phase,
               extract(epoch FROM max(x.ts))::float8 AS last_ts
        FROM phased x
        WHERE x.phase IS NOT NULL
        GROUP BY x.identity_id, x.decky;
    -- what campaign_similarity() compares, per live identity (grouped joins, one pass each)
    CREATE TEMP TABLE decnet_views ON COMMIT DROP AS
        WITH live AS MATERIALIZED (
            SELECT i.uuid, i.kd_digraph_simhash FROM decnet.attacker_identities i
            WHERE i.merged_into IS NULL AND i.member_count > 0
        ), phases AS (
            SELECT p.identity_id, jsonb_object_agg(p.decky, jsonb_build_array(p.first_phase, p.first_ts)) AS first,
                   jsonb_object_agg(p.decky, jsonb_build_array(p.last_phase, p.last_ts)) AS last
            FROM decnet_phases p GROUP BY p.identity_id
        ), windows AS (
            SELECT m.identity_id, jsonb_agg(jsonb_build_array(extract(epoch FROM a.first_seen), extract(epoch FROM a.last_seen))) AS w
            FROM live l JOIN decnet.identity_members m ON m.identity_id = l.uuid JOIN decnet.attackers a ON a.ip = m.attacker_ip
            WHERE a.first_seen IS NOT NULL GROUP BY m.identity_id
        ), infra AS (
            SELECT m.identity_id, jsonb_agg(DISTINCT s.kind || ':' || s.value) AS i
            FROM live l JOIN decnet.identity_members m ON m.identity_id = l.uuid
            JOIN decnet.identity_signals s ON s.attacker_ip = m.attacker_ip AND s.kind IN ('payload', 'c2')
            GROUP BY m.identity_id
        ), cohort AS (
            SELECT m.identity_id, jsonb_agg(DISTINCT c.x) AS c
            FROM live l JOIN decnet.identity_members m ON m.identity_id = l.uuid
            JOIN decnet.attackers a ON a.ip = m.attacker_ip
            LEFT JOIN decnet.attacker_behavior b ON b.attacker_ip = m.attacker_ip
            CROSS JOIN LATERAL (SELECT 'asn:' || a.asn WHERE a.asn IS NOT NULL
                                UNION ALL SELECT 'decky:' || d FROM unnest(a.deckies) d
                                UNION ALL SELECT 'tool:' || t FROM unnest(b.tool_guesses) t) AS c(x)
            GROUP BY m.identity_id
        )
        SELECT l.uuid, encode(l.kd_digraph_simhash, 'hex') AS kd,
               jsonb_build_object('first', ph.first, 'last', ph.last, 'windows', w.w, 'cohort', co.c,
                                  'infrastructure', inf.i, 'kd', encode(l.kd_digraph_simhash, 'hex')) AS features
        FROM live l
        LEFT JOIN infra inf ON inf.identity_id = l.uuid
        LEFT JOIN phases ph ON ph.identity_id = l.uuid
        LEFT JOIN windows w ON w.identity_id = l.uuid
        LEFT JOIN cohort co ON co.identity_id = l.uuid;
    CREATE INDEX ON decnet_views (uuid);
    CREATE INDEX ON decnet_phases (decky, first_ts);
    -- the keystroke centroids as four 16-bit chunks: candidates share one
    CREATE TEMP TABLE decnet_chunks ON COMMIT DROP AS
        SELECT v.uuid, n, substr(v.kd, n * 4 + 1, 4) AS chunk FROM decnet_views v CROSS JOIN generate_series(0, 3) AS n
        WHERE v.kd IS NOT NULL;
    -- infrastructure items (payload hashes, C2 servers) per identity, those few identities share
    CREATE TEMP TABLE decnet_infra ON COMMIT DROP AS
        SELECT DISTINCT m.identity_id, s.kind || ':' || s.value AS item
        FROM decnet.identity_members m JOIN decnet.identity_signals s ON s.attacker_ip = m.attacker_ip
        WHERE s.kind IN ('payload', 'c2')
          AND (s.kind, s.value) IN (SELECT kind, value FROM decnet.identity_signals WHERE kind IN ('payload', 'c2')
                                    GROUP BY kind, value HAVING count(*) <= decnet.identity_signal_max_attackers());
    ANALYZE decnet_phases, decnet_views, decnet_chunks, decnet_infra;
    n_identities := (SELECT count(*) FROM decnet_views);

    WITH candidates AS (
        SELECT DISTINCT least(x.identity_id, y.identity_id) AS a, greatest(x.identity_id, y.identity_id) AS b
        FROM decnet_phases x JOIN decnet_phases y ON y.decky = x.decky AND y.identity_id <> x.identity_id
        WHERE x.last_phase IN ('command_and_control', 'persistence') AND y.first_phase IN ('discovery', 'lateral_movement')
          AND y.first_ts BETWEEN x.last_ts AND x.last_ts + 86400
        UNION
        SELECT DISTINCT x.uuid, y.uuid
        FROM decnet_chunks x JOIN decnet_chunks y ON y.n = x.n AND y.chunk = x.chunk AND y.uuid > x.uuid
        UNION
        SELECT DISTINCT least(x.identity_id, y.identity_id), greatest(x.identity_id, y.identity_id)
        FROM decnet_infra x JOIN decnet_infra y ON y.item = x.item AND y.identity_id <> x.identity_id
    ), edges AS (
        SELECT c.a, c.b FROM candidates c
        JOIN decnet_views va ON va.uuid = c.a JOIN decnet_views vb ON vb.uuid = c.b
        WHERE decnet.campaign_edge(va.features, vb.features)
    )
    SELECT array_agg(a::text), array_agg(b::text), count(*) INTO g_a, g_b, n_edges FROM edges;

    CREATE TEMP TABLE decnet_components ON COMMIT DROP AS
        SELECT c.node::uuid AS identity_id, c.component FROM decnet.connected_components(g_a, g_b) c;
    CREATE TEMP TABLE decnet_kept ON COMMIT DROP AS
        SELECT k.previous::uuid AS previous, k.component, k.kept
        FROM (SELECT array_agg(c.component) AS comps, array_agg(i.campaign_id::text) AS prevs
              FROM decnet_components c JOIN decnet.attacker_identities i ON i.uuid = c.identity_id
              WHERE i.campaign_id IS NOT NULL) x
        CROSS JOIN LATERAL decnet.keep_previous_groups(x.comps, x.prevs) k;
    CREATE TEMP TABLE decnet_winners ON COMMIT DROP AS
        SELECT c.component, coalesce(k.previous, gen_random_uuid()) AS winner
        FROM (SELECT DISTINCT component FROM decnet_components) c
        LEFT JOIN decnet_kept k ON k.component = c.component AND k.kept;
    INSERT INTO decnet.campaigns (uuid) SELECT winner FROM decnet_winners ORDER BY 1 ON CONFLICT DO NOTHING;
    UPDATE decnet.campaigns c SET merged_into = w.winner, identity_count = 0, updated_at = now()
    FROM decnet_kept k JOIN decnet_winners w ON w.component = k.component
    WHERE c.uuid = k.previous AND NOT k.kept;

    -- membership: identities in a component, none for the rest
    UPDATE decnet.attacker_identities i SET campaign_id = x.winner
    FROM (SELECT i2.uuid, w.winner FROM decnet.attacker_identities i2
          LEFT JOIN decnet_components c ON c.identity_id = i2.uuid
          LEFT JOIN decnet_winners w ON w.component = c.component) x
    WHERE i.uuid = x.uuid AND i.campaign_id IS DISTINCT FROM x.winner;

    UPDATE decnet.campaigns c SET identity_count = s.n, first_seen = s.first_seen, last_seen = s.last_seen,
           ja3_hashes = s.ja3, hassh_hashes = s.hassh, tls_cert_sha256 = s.certs, updated_at = now()
    FROM (SELECT w.winner,
                 count(*)::integer AS n, min(i.first_seen) AS first_seen, max(i.last_seen) AS last_seen,
                 nullif(ARRAY(SELECT DISTINCT v FROM decnet.attacker_identities j, unnest(j.ja3_hashes) v
                              WHERE j.campaign_id = w.winner ORDER BY v), '{}') AS ja3,
                 nullif(ARRAY(SELECT DISTINCT v FROM decnet.attacker_identities j, unnest(j.hassh_hashes) v
                              WHERE j.campaign_id = w.winner ORDER BY v), '{}') AS hassh,
                 nullif(ARRAY(SELECT DISTINCT v FROM decnet.attacker_identities j, unnest(j.tls_cert_sha256) v
                              WHERE j.campaign_id = w.winner ORDER BY v), '{}') AS certs
          FROM decnet_winners w JOIN decnet.attacker_identities i ON i.campaign_id = w.winner
          GROUP BY w.winner) s
    WHERE c.uuid = s.winner;
    n_campaigns := (SELECT count(*) FROM decnet_winners);

    INSERT INTO decnet.identity_runs (started_at, duration_ms, mode, attackers, edges, identities, merges)
    VALUES (started, extract(epoch FROM clock_timestamp() - started) * 1000, 'campaigns', n_identities, coalesce(n_edges, 0), n_campaigns, 0);
    RETURN QUERY SELECT n_identities, coalesce(n_edges, 0)::integer, n_campaigns,
                        (extract(epoch FROM clock_timestamp() - started) * 1000)::double precision;
END
$fn$;

CREATE  FUNCTION "statement_rows"() RETURNS bigint /* i64 */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'statement_rows_wrapper';

CREATE  FUNCTION "take_pending"() RETURNS bigint /* i64 */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'take_pending_wrapper';

CREATE FUNCTION @extschema@.notify(channel text, payload jsonb) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    seq bigint;
BEGIN
    INSERT INTO decnet.notifications AS n (channel, payload) VALUES (notify.channel, notify.payload) RETURNING n.seq INTO seq;
    PERFORM pg_notify(channel, seq::text);
    RETURN seq;
END
$fn$;

CREATE FUNCTION @extschema@.merge_taken() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off SET work_mem = '64MB'
AS $fn$
DECLARE
    affected inet[];
    new_ips inet[];
    locked_uuids uuid[];
    locked_ips inet[];
    a_events bigint[];
    a_commands bigint[];
    a_first timestamptz[];
    a_last timestamptz[];
    with_new_services inet[];
    with_decky_order inet[];
    with_commands inet[];
    with_fingerprints inet[];
    counted inet[];
    new_bounties bigint[];
    new_credentials bigint[];
    n_rows bigint;
    first_id bigint;
    parts record;
    k integer := decnet.commands_kept_per_end();
BEGIN
    n_rows := decnet.statement_rows();
    first_id := decnet.statement_first_log_id();
    -- each step below runs only when the statement has something for it
    -- (a one-line INSERT needs few of them)
    SELECT * INTO parts FROM decnet.statement_parts();

    -- 1. attackers: create the new ones, then lock all of them, in ip order
    SELECT array_agg(ip ORDER BY ip), array_agg(events ORDER BY ip), array_agg(commands ORDER BY ip),
           array_agg(first_seen ORDER BY ip), array_agg(last_seen ORDER BY ip)
    INTO affected, a_events, a_commands, a_first, a_last
    FROM decnet.statement_attackers();

    WITH ins AS (
        INSERT INTO decnet.attackers AS a (ip, first_seen, last_seen)
        SELECT t.ip, t.first_seen, t.last_seen FROM unnest(affected, a_first, a_last) AS t(ip, first_seen, last_seen)
        ORDER BY t.ip
        ON CONFLICT (ip) DO NOTHING
        RETURNING a.ip
    )
    SELECT array_agg(ip ORDER BY ip) INTO new_ips FROM ins;

    WITH locked AS (
        SELECT a.ip, a.uuid FROM unnest(affected) AS t(ip) JOIN decnet.attackers a ON a.ip = t.ip
        ORDER BY a.ip FOR NO KEY UPDATE OF a
    )
    SELECT array_agg(ip), array_agg(uuid) INTO locked_ips, locked_uuids FROM locked;

    -- their behaviour is recomputed later, by decnet.rollup()
    PERFORM decnet.mark_dirty(affected);

    -- 2. per (attacker, service); 3. per (attacker, decky). Remember whose
    --    list can have changed: a new service; a new decky, or one whose
    --    first contact may have moved (it now lies within this statement's lines)
    WITH up AS (
        INSERT INTO decnet.attacker_services AS s
            (attacker_ip, service, event_count, interaction_count, scan_count, noise_count, first_seen, last_seen)
        SELECT attacker_ip, service, events, interaction, scan, noise, first_seen, last_seen
        FROM decnet.statement_services() ORDER BY attacker_ip, service
        ON CONFLICT (attacker_ip, service) DO UPDATE SET
            event_count = s.event_count + excluded.event_count,
            interaction_count = s.interaction_count + excluded.interaction_count,
            scan_count = s.scan_count + excluded.scan_count,
            noise_count = s.noise_count + excluded.noise_count,
            first_seen = least(s.first_seen, excluded.first_seen),
            last_seen = greatest(s.last_seen, excluded.last_seen)
        RETURNING s.attacker_ip, (s.xmax = 0) AS inserted
    )
    SELECT array_agg(DISTINCT attacker_ip) FILTER (WHERE inserted) INTO with_new_services FROM up;

    WITH up AS (
        INSERT INTO decnet.attacker_deckies AS d (attacker_ip, decky, first_seen, first_log_id, last_seen, event_count)
        SELECT attacker_ip, decky, first_seen, first_log_id, last_seen, events
        FROM decnet.statement_deckies() ORDER BY attacker_ip, decky
        ON CONFLICT (attacker_ip, decky) DO UPDATE SET
            first_seen = least(d.first_seen, excluded.first_seen),
            first_log_id = least(d.first_log_id, excluded.first_log_id),
            last_seen = greatest(d.last_seen, excluded.last_seen),
            event_count = d.event_count + excluded.event_count
        RETURNING d.attacker_ip, (d.xmax = 0) OR d.first_seen IS NULL OR d.first_log_id >= first_id
                  OR d.first_seen >= (SELECT min(f) FROM unnest(a_first) AS f) AS maybe_moved
    )
    SELECT array_agg(DISTINCT attacker_ip) FILTER (WHERE maybe_moved) INTO with_decky_order FROM up;

    -- 4. commands: add this statement's candidates, then keep the first and last k per attacker
    IF parts.commands > 0 THEN
        WITH ins AS (
            INSERT INTO decnet.attacker_commands (attacker_ip, log_id, ts, service, decky, command)
            SELECT attacker_ip, log_id, ts, service, decky, command FROM decnet.statement_commands()
            ORDER BY attacker_ip, log_id
            RETURNING attacker_ip
        )
        SELECT array_agg(DISTINCT attacker_ip) INTO with_commands FROM ins;

        DELETE FROM decnet.attacker_commands ac
        USING (
            SELECT attacker_ip, log_id,
                   row_number() OVER (PARTITION BY attacker_ip ORDER BY ts ASC NULLS LAST, log_id ASC) AS from_first,
                   row_number() OVER (PARTITION BY attacker_ip ORDER BY ts DESC NULLS FIRST, log_id DESC) AS from_last
            FROM decnet.attacker_commands
            WHERE attacker_ip = ANY (with_commands)
        ) r
        WHERE ac.attacker_ip = r.attacker_ip AND ac.log_id = r.log_id AND r.from_first > k AND r.from_last > k;
    END IF;

    -- 5. bounties and credentials (one row per dedup key already); remember what changed per attacker
    IF parts.bounties > 0 OR parts.credentials > 0 THEN
        WITH nb AS (
            INSERT INTO decnet.bounties AS b (bounty_type, attacker_ip, payload, payload_key, decky, service, first_seen, last_seen, first_log_id, seen_count)
            SELECT bounty_type, attacker_ip, payload, payload_key, decky, service, first_seen, last_seen, first_log_id, seen
            FROM decnet.statement_bounties()
            ORDER BY ord  -- the dedup key order, sorted in Rust
            ON CONFLICT (bounty_type, attacker_ip, payload_key) DO UPDATE SET
                -- the first sighting's payload (its request and port: decnet_core::bounty::sighting_members)
                payload = CASE WHEN excluded.first_log_id < b.first_log_id THEN excluded.payload ELSE b.payload END,
                decky = CASE WHEN excluded.first_log_id < b.first_log_id THEN excluded.decky ELSE b.decky END,
                service = CASE WHEN excluded.first_log_id < b.first_log_id THEN excluded.service ELSE b.service END,
                first_seen = least(b.first_seen, excluded.first_seen),
                last_seen = greatest(b.last_seen, excluded.last_seen),
                first_log_id = least(b.first_log_id, excluded.first_log_id),
                seen_count = b.seen_count + excluded.seen_count
            RETURNING b.attacker_ip, b.bounty_type, (b.xmax = 0) AS inserted,
                      b.first_log_id >= first_id AS first_changed  -- new, or now first seen in this statement
        ), nc AS (
            INSERT INTO decnet.credentials AS c
                (attacker_ip, attacker_uuid, decky, service, principal, principal_key, secret_kind, secret_sha256,
                 secret_b64, secret_printable, outcome, outcome_log_id, first_seen, last_seen, first_log_id, attempt_count)
            SELECT g.attacker_ip, a.uuid, g.decky, g.service, g.principal, coalesce(g.principal, ''), g.secret_kind,
                   g.secret_sha256, g.secret_b64, g.secret_printable, g.outcome, g.outcome_log_id,
                   g.first_seen, g.last_seen, g.first_log_id, g.attempts
            FROM decnet.statement_credentials() g
            LEFT JOIN unnest(locked_ips, locked_uuids) AS a(ip, uuid) ON a.ip = g.attacker_ip
            ORDER BY g.ord  -- the dedup key order, sorted in Rust
            ON CONFLICT (attacker_ip, decky, service, secret_kind, secret_sha256, principal_key) DO UPDATE SET
                attempt_count = c.attempt_count + excluded.attempt_count,
                first_seen = least(c.first_seen, excluded.first_seen),
                last_seen = greatest(c.last_seen, excluded.last_seen),
                first_log_id = least(c.first_log_id, excluded.first_log_id),
                outcome = CASE WHEN excluded.outcome_log_id > coalesce(c.outcome_log_id, 0) THEN excluded.outcome ELSE c.outcome END,
                outcome_log_id = greatest(c.outcome_log_id, excluded.outcome_log_id)
            RETURNING c.attacker_ip, (c.xmax = 0) AS inserted
        ), per_attacker AS (
            SELECT attacker_ip, sum(nb)::bigint AS nb, sum(nc)::bigint AS nc, bool_or(fp) AS fp FROM (
                SELECT attacker_ip, inserted::int AS nb, 0 AS nc, bounty_type = 'fingerprint' AND first_changed AS fp FROM nb
                UNION ALL
                SELECT attacker_ip, 0, inserted::int, false FROM nc
            ) u WHERE attacker_ip IS NOT NULL GROUP BY attacker_ip
        )
        SELECT array_agg(attacker_ip), array_agg(nb), array_agg(nc), array_agg(attacker_ip) FILTER (WHERE fp)
        INTO counted, new_bounties, new_credentials, with_fingerprints
        FROM per_attacker;
    END IF;

    -- 5b. recipients per (attacker, victim domain)
    IF parts.smtp_targets > 0 THEN
        INSERT INTO decnet.smtp_targets AS t (attacker_ip, domain, count, first_seen, last_seen)
        SELECT attacker_ip, domain, recipients, first_seen, last_seen
        FROM decnet.statement_smtp_targets() ORDER BY attacker_ip, domain
        ON CONFLICT (attacker_ip, domain) DO UPDATE SET
            count = t.count + excluded.count,
            first_seen = least(t.first_seen, excluded.first_seen),
            last_seen = greatest(t.last_seen, excluded.last_seen);
    END IF;

    -- 5c. prober hash rotations and IPv6 link-local leaks (sql/identity.sql)
    IF parts.probes > 0 THEN
        PERFORM decnet.merge_probe_observations();
    END IF;
    IF parts.ipv6_leaks > 0 THEN
        PERFORM decnet.merge_ipv6_leaks();
    END IF;

    -- 6. one update per affected attacker: the statement's counts and time
    --    span, and the list columns (rebuilt from the child rows only where
    --    they can have changed)
    UPDATE decnet.attackers a SET
        event_count = a.event_count + t.events,
        command_count = a.command_count + t.commands,
        first_seen = least(a.first_seen, t.first_seen),
        last_seen = greatest(a.last_seen, t.last_seen),
        updated_at = now(),
        bounty_count = a.bounty_count + coalesce(n.nb, 0),
        credential_count = a.credential_count + coalesce(n.nc, 0),
        services = CASE WHEN s.changed THEN s.services ELSE a.services END,
        service_count = CASE WHEN s.changed THEN cardinality(s.services) ELSE a.service_count END,
        deckies = CASE WHEN d.changed THEN d.deckies ELSE a.deckies END,
        decky_count = CASE WHEN d.changed THEN cardinality(d.deckies) ELSE a.decky_count END,
        is_traversal = CASE WHEN d.changed THEN cardinality(d.deckies) >= 2 ELSE a.is_traversal END,
        traversal_path = CASE WHEN NOT d.changed THEN a.traversal_path
                              WHEN cardinality(d.deckies) >= 2 THEN array_to_string(d.deckies, ' → ') END,
        commands = coalesce(cm.commands, a.commands),
        fingerprints = coalesce(fp.fingerprints, a.fingerprints)
    FROM unnest(affected, a_events, a_commands, a_first, a_last) AS t(ip, events, commands, first_seen, last_seen)
    LEFT JOIN unnest(counted, new_bounties, new_credentials) AS n(ip, nb, nc) ON n.ip = t.ip
    LEFT JOIN unnest(with_new_services) AS ns(ip) ON ns.ip = t.ip
    LEFT JOIN unnest(with_decky_order) AS nd(ip) ON nd.ip = t.ip
    LEFT JOIN unnest(with_commands) AS nm(ip) ON nm.ip = t.ip
    LEFT JOIN unnest(with_fingerprints) AS nf(ip) ON nf.ip = t.ip
    LEFT JOIN LATERAL (SELECT ns.ip IS NOT NULL AS changed, coalesce(array_agg(service ORDER BY service), '{}') AS services
                       FROM decnet.attacker_services WHERE attacker_ip = t.ip AND ns.ip IS NOT NULL) s ON true
    LEFT JOIN LATERAL (SELECT nd.ip IS NOT NULL AS changed,
                              coalesce(array_agg(decky ORDER BY first_seen ASC NULLS LAST, first_log_id), '{}') AS deckies
                       FROM decnet.attacker_deckies WHERE attacker_ip = t.ip AND nd.ip IS NOT NULL) d ON true
    LEFT JOIN LATERAL (SELECT jsonb_agg(jsonb_build_object('service', service, 'decky', decky, 'command', command, 'timestamp', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
                                        ORDER BY ts ASC NULLS LAST, log_id) AS commands
                       FROM decnet.attacker_commands WHERE attacker_ip = t.ip AND nm.ip IS NOT NULL) cm ON true
    LEFT JOIN LATERAL (SELECT jsonb_agg(payload ORDER BY first_log_id, payload_key) AS fingerprints
                       FROM (SELECT payload, first_log_id, payload_key FROM decnet.bounties
                             WHERE attacker_ip = t.ip AND bounty_type = 'fingerprint' AND nf.ip IS NOT NULL
                             ORDER BY first_log_id, payload_key LIMIT decnet.fingerprints_kept()) f) fp ON true
    WHERE a.ip = t.ip;

    -- country and AS of new attackers: index lookups in the loaded ranges, no network
    IF new_ips IS NOT NULL THEN
        PERFORM decnet.enrich_attackers(new_ips);
    END IF;

    -- 7. one notification per statement (decnet.notify: the payload in the outbox table)
    PERFORM decnet.notify('decnet_attacker', jsonb_build_object(
        'rows', n_rows,
        'new_count', coalesce(cardinality(new_ips), 0),
        'updated_count', coalesce(cardinality(affected), 0) - coalesce(cardinality(new_ips), 0),
        'new', coalesce(to_jsonb(new_ips[1:100]), '[]'::jsonb),
        'new_truncated', coalesce(cardinality(new_ips), 0) > 100
    ));
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.logs_derive() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM decnet.statement_take();
    IF NOT decnet.defer_taken() THEN
        PERFORM decnet.merge_taken();
    END IF;
    RETURN NULL;
END
$fn$;

CREATE FUNCTION @extschema@.logs_merge_pending() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF decnet.take_pending() > 0 THEN
        PERFORM decnet.merge_taken();
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.verify() RETURNS TABLE (relation text, row_key jsonb, incremental jsonb, recomputed jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t record;
    key_expr text;
BEGIN
    FOR t IN SELECT * FROM decnet.derived_tables() LOOP
        SELECT string_agg(format('%L, r.%I', c, c), ', ') INTO key_expr FROM unnest(t.key_columns) c;
        RETURN QUERY EXECUTE format(
            $q$
            WITH i AS (SELECT jsonb_build_object(%1$s) AS k, to_jsonb(r) - %2$L::text[] AS v FROM decnet.%3$I r),
                 e AS (SELECT jsonb_build_object(%1$s) AS k, to_jsonb(r) - %2$L::text[] AS v FROM decnet.%4$I r)
            SELECT %3$L::text, coalesce(i.k, e.k), i.v, e.v
            FROM i FULL JOIN e ON i.k = e.k
            WHERE i.v IS DISTINCT FROM e.v AND NOT decnet.history_dropped(coalesce(i.k, e.k))
            $q$, key_expr, t.ignored_columns, t.relation, t.recomputed);
    END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.rebuild() RETURNS TABLE (relation text, rows bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning
AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM decnet.log_retention) THEN
        RAISE EXCEPTION 'rebuild() would lose the history of lines dropped by retention'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'decnet.log_retention lists the dropped partitions; to rebuild from the lines left anyway, TRUNCATE decnet.log_retention, decnet.truncated_attackers first.';
    END IF;
    LOCK TABLE decnet.logs IN SHARE MODE;
    LOCK TABLE decnet.attackers, decnet.attacker_services, decnet.attacker_deckies, decnet.attacker_commands,
               decnet.bounties, decnet.credentials, decnet.smtp_targets, decnet.session_profiles,
               decnet.fingerprint_state, decnet.fingerprint_rotations, decnet.attacker_ipv6_leaks IN EXCLUSIVE MODE;
    LOCK TABLE decnet.session_recordings IN SHARE MODE;
    DROP TABLE IF EXISTS pg_temp.decnet_rebuild_ids;
    -- what is not derived from the lines survives: identity and enrichment
    CREATE TEMP TABLE decnet_rebuild_ids ON COMMIT DROP AS
        SELECT a.ip, a.uuid, a.created_at,
               (SELECT jsonb_object_agg(k, v) FROM jsonb_each(to_jsonb(a)) AS e(k, v)
                WHERE k = ANY (decnet.attacker_enrichment_columns())) AS enrichment
        FROM decnet.attackers a;
    TRUNCATE decnet.attacker_services, decnet.attacker_deckies, decnet.attacker_commands, decnet.bounties,
             decnet.credentials, decnet.smtp_targets, decnet.attackers, decnet.session_profiles,
             decnet.fingerprint_state, decnet.fingerprint_rotations, decnet.attacker_ipv6_leaks;
    INSERT INTO decnet.attackers
    SELECT (jsonb_populate_record(NULL::decnet.attackers,
              to_jsonb(r) || jsonb_build_object('uuid', coalesce(old.uuid, gen_random_uuid()),
                                                'created_at', coalesce(old.created_at, now()), 'updated_at', now())
                          || coalesce(old.enrichment, '{}'))).*
    FROM decnet.recomputed_attackers r LEFT JOIN decnet_rebuild_ids old ON old.ip = r.ip;
    INSERT INTO decnet.attacker_services SELECT * FROM decnet.recomputed_attacker_services;
    INSERT INTO decnet.attacker_deckies SELECT * FROM decnet.recomputed_attacker_deckies;
    INSERT INTO decnet.attacker_commands SELECT * FROM decnet.recomputed_attacker_commands;
    INSERT INTO decnet.smtp_targets SELECT * FROM decnet.recomputed_smtp_targets;
    INSERT INTO decnet.bounties (bounty_type, attacker_ip, payload, payload_key, decky, service, first_seen, last_seen, first_log_id, seen_count)
        SELECT bounty_type, attacker_ip, payload, decnet.payload_key(payload), decky, service, first_seen, last_seen, first_log_id, seen_count
        FROM decnet.recomputed_bounties;
    INSERT INTO decnet.credentials (attacker_ip, attacker_uuid, decky, service, principal, principal_key, secret_kind, secret_sha256,
                                    secret_b64, secret_printable, outcome, outcome_log_id, first_seen, last_seen, first_log_id, attempt_count)
        SELECT r.attacker_ip, a.uuid, r.decky, r.service, r.principal, r.principal_key, r.secret_kind, r.secret_sha256,
               r.secret_b64, r.secret_printable, r.outcome, r.outcome_log_id, r.first_seen, r.last_seen, r.first_log_id, r.attempt_count
        FROM decnet.recomputed_credentials r LEFT JOIN decnet.attackers a ON a.ip = r.attacker_ip;
    INSERT INTO decnet.session_profiles SELECT v.*, now() FROM decnet.recomputed_session_profiles v ORDER BY v.sid;
    INSERT INTO decnet.fingerprint_rotations SELECT * FROM decnet.recomputed_fingerprint_rotations;
    INSERT INTO decnet.fingerprint_state SELECT * FROM decnet.recomputed_fingerprint_state;
    INSERT INTO decnet.attacker_ipv6_leaks SELECT * FROM decnet.recomputed_attacker_ipv6_leaks;
    -- identities are not derived from the lines alone: the next rollups re-resolve every attacker
    PERFORM decnet.mark_dirty(ARRAY(SELECT ip FROM decnet.attackers));
    RETURN QUERY
        SELECT 'attackers', count(*) FROM decnet.attackers UNION ALL
        SELECT 'attacker_services', count(*) FROM decnet.attacker_services UNION ALL
        SELECT 'attacker_deckies', count(*) FROM decnet.attacker_deckies UNION ALL
        SELECT 'attacker_commands', count(*) FROM decnet.attacker_commands UNION ALL
        SELECT 'bounties', count(*) FROM decnet.bounties UNION ALL
        SELECT 'smtp_targets', count(*) FROM decnet.smtp_targets UNION ALL
        SELECT 'credentials', count(*) FROM decnet.credentials UNION ALL
        SELECT 'session_profiles', count(*) FROM decnet.session_profiles UNION ALL
        SELECT 'fingerprint_state', count(*) FROM decnet.fingerprint_state UNION ALL
        SELECT 'fingerprint_rotations', count(*) FROM decnet.fingerprint_rotations UNION ALL
        SELECT 'attacker_ipv6_leaks', count(*) FROM decnet.attacker_ipv6_leaks;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.os_signatures_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM decnet.mark_dirty(ARRAY(SELECT b.attacker_ip FROM decnet.attacker_behavior b WHERE b.tcp_fingerprint <> '{}'::jsonb));
    RETURN NULL;
END
$fn$;

CREATE FUNCTION @extschema@.rollup_attackers(batch inet[], signatures jsonb) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off
AS $fn$
DECLARE
    seen bigint := 0;
    max_lines integer := decnet.rollup_lines_max();
BEGIN
    -- MATERIALIZED: computed once per attacker; inlined, the planner re-runs the
    -- functions (and their subqueries) for every column that reads a result
    WITH computed AS MATERIALIZED (
        SELECT t.ip, s.n, s.stats,
               decnet.behavior_class((s.stats->>'event_count')::bigint, (s.stats->>'mean_iat_s')::float8,
                                     (s.stats->>'cv')::float8, sv.services::int) AS class
        FROM unnest(batch) AS t(ip)
        -- the attacker's own events: sensor observations (sniffer, prober) duplicate them
        CROSS JOIN LATERAL (SELECT count(*) AS sampled, decnet.timing_stats(coalesce(array_agg(r.ts), '{}')) AS stats
                            FROM (SELECT l.ts FROM decnet.logs l
                                  WHERE l.attacker_ip = t.ip AND (l.service IS NULL OR NOT decnet.is_sensor_service(l.service))
                                  ORDER BY l.id DESC LIMIT max_lines) r) w
        -- all of them are counted; only an attacker the sample did not hold whole is read again
        CROSS JOIN LATERAL (SELECT w.stats, CASE WHEN w.sampled < max_lines THEN w.sampled
                                                 ELSE (SELECT count(*) FROM decnet.logs l
                                                       WHERE l.attacker_ip = t.ip AND (l.service IS NULL OR NOT decnet.is_sensor_service(l.service)))
                                            END AS n) s
        CROSS JOIN LATERAL (SELECT count(*) AS services FROM decnet.attacker_services a WHERE a.attacker_ip = t.ip) sv
    ), detailed AS MATERIALIZED (
        -- the attacker's latest lines, sensors included, in id order (the sniffer/prober rollup needs them)
        SELECT c.*, decnet.behavior_details(
                   (SELECT jsonb_agg(jsonb_build_object('e', r.event_type, 's', r.service,
                                                        't', (extract(epoch FROM r.ts) * 1000000)::bigint, 'f', r.fields) ORDER BY r.id)
                    FROM (SELECT l.id, l.event_type, l.service, l.ts, l.fields FROM decnet.logs l
                          WHERE l.attacker_ip = c.ip ORDER BY l.id DESC LIMIT max_lines) r),
                   (c.stats->>'mean_iat_s')::float8, (c.stats->>'cv')::float8, signatures) AS d
        FROM computed c
    ), up AS (
        INSERT INTO decnet.attacker_behavior AS b
            (attacker_ip, event_count, timing_stats, behavior_class, beacon_interval_s, beacon_jitter_pct, tool_guesses,
             phase_sequence, os_guess, hop_distance, tcp_fingerprint, kex_order_raw, ssh_client_banners, retransmit_count, updated_at)
        SELECT ip, n, stats, class,
               CASE WHEN class = 'beaconing' THEN (stats->>'mean_iat_s')::float8 END,
               CASE WHEN class = 'beaconing' THEN decnet.jitter_pct((stats->>'cv')::float8) END,
               ARRAY(SELECT jsonb_array_elements_text(d->'tool_guesses')),
               d->'phase_sequence', d->>'os_guess', (d->>'hop_distance')::int, d->'tcp_fingerprint',
               CASE WHEN jsonb_typeof(d->'kex_order_raw') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(d->'kex_order_raw')) END,
               CASE WHEN jsonb_typeof(d->'ssh_client_banners') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(d->'ssh_client_banners')) END,
               (d->>'retransmit_count')::bigint,
               now()
        FROM detailed ORDER BY ip
        ON CONFLICT (attacker_ip) DO UPDATE SET
            event_count = excluded.event_count, timing_stats = excluded.timing_stats,
            behavior_class = excluded.behavior_class, beacon_interval_s = excluded.beacon_interval_s,
            beacon_jitter_pct = excluded.beacon_jitter_pct, tool_guesses = excluded.tool_guesses,
            phase_sequence = excluded.phase_sequence, os_guess = excluded.os_guess, hop_distance = excluded.hop_distance,
            tcp_fingerprint = excluded.tcp_fingerprint, kex_order_raw = excluded.kex_order_raw,
            ssh_client_banners = excluded.ssh_client_banners, retransmit_count = excluded.retransmit_count,
            updated_at = excluded.updated_at
        RETURNING b.event_count
    )
    SELECT coalesce(sum(up.event_count), 0) INTO seen FROM up;

    -- who they are: identity signals, edges and merges of these attackers
    PERFORM decnet.resolve_identities(batch);
    RETURN seen;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.rollup(max_attackers integer DEFAULT 1000)
RETURNS TABLE (attackers integer, events bigint, remaining bigint, duration_ms double precision)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    started timestamptz := clock_timestamp();
    batch inet[];
    failed inet[] := '{}';
    one inet;
    seen bigint := 0;
    signatures jsonb;
    err_state text;
    err_message text;
BEGIN
    PERFORM decnet.require_migrated();
    IF NOT pg_try_advisory_xact_lock(hashtext('decnet.rollup')) THEN
        RETURN QUERY SELECT 0, 0::bigint, (SELECT count(*) FROM decnet.dirty_attackers), 0::double precision;
        RETURN;
    END IF;
    signatures := decnet.os_signature_set();
    WITH taken AS (
        DELETE FROM decnet.dirty_attackers
        WHERE ip IN (SELECT d.ip FROM decnet.dirty_attackers d ORDER BY d.ip LIMIT max_attackers
                     FOR UPDATE SKIP LOCKED)  -- a writer still in its transaction: next time
        RETURNING ip
    )
    SELECT coalesce(array_agg(ip ORDER BY ip), '{}') INTO batch FROM taken;

    BEGIN
        seen := decnet.rollup_attackers(batch, signatures);
    EXCEPTION WHEN OTHERS THEN
        -- one by one, each in its own subtransaction
        seen := 0;
        FOREACH one IN ARRAY batch LOOP
            BEGIN
                seen := seen + decnet.rollup_attackers(ARRAY[one], signatures);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT;
                failed := failed || one;
                INSERT INTO decnet.rollup_failures AS f (ip, sqlstate, message)
                VALUES (one, err_state, left(err_message, 1000))
                ON CONFLICT (ip) DO UPDATE SET failures = f.failures + 1, last_failed_at = now(),
                                               sqlstate = excluded.sqlstate, message = excluded.message;
            END;
        END LOOP;
    END;
    -- an attacker that rolls up again is no longer failing
    DELETE FROM decnet.rollup_failures f WHERE f.ip = ANY (batch) AND NOT f.ip = ANY (failed);

    IF cardinality(batch) > 0 THEN
        INSERT INTO decnet.rollup_runs (started_at, duration_ms, attackers, events, remaining)
        VALUES (started, extract(epoch FROM clock_timestamp() - started) * 1000, cardinality(batch), seen,
                (SELECT count(*) FROM decnet.dirty_attackers));
    END IF;
    -- the notification outbox keeps a week
    DELETE FROM decnet.notifications n WHERE n.created_at < now() - interval '7 days';
    RETURN QUERY SELECT cardinality(batch), seen, (SELECT count(*) FROM decnet.dirty_attackers),
                        (extract(epoch FROM clock_timestamp() - started) * 1000)::double precision;
END
$fn$;

COMMENT ON FUNCTION @extschema@.statement_rows() IS 'Internal: lines in the taken delta (a statement''s, or a transaction''s pending lines).';

COMMENT ON FUNCTION @extschema@.merge_taken() IS 'Internal: merges the taken delta into the derived tables (one grouped upsert per table, attackers locked in address order) and sends one decnet_attacker notification.';

COMMENT ON FUNCTION @extschema@.logs_merge_pending() IS 'Deferred constraint trigger logs_merge_at_commit of decnet.logs: merges at commit the lines of the transaction''s small statements.';

COMMENT ON FUNCTION @extschema@.defer_taken() IS 'Internal: keeps a small statement''s taken delta for the commit-time merge (true), or leaves it taken to merge now (false).';

COMMENT ON FUNCTION @extschema@.merge_event_needed() IS 'Internal (WHEN of logs_merge_at_commit): true for the first line of a transaction, so one commit-time event is queued per transaction.';

COMMENT ON FUNCTION @extschema@.take_pending() IS 'Internal: takes the transaction''s pending lines (every subtransaction not rolled back) for the commit-time merge; returns how many.';

COMMENT ON FUNCTION @extschema@.statement_parts() IS 'Internal: how many attackers, command rows, bounties, credentials, recipient domains, probe observations and IPv6 leaks the taken statement delta holds (merge_taken skips empty steps).';

COMMENT ON FUNCTION @extschema@.logs_derive() IS
'AFTER INSERT statement trigger of decnet.logs: merges the statement delta (merge_taken), or, for a statement of fewer than 1,000 lines, leaves it to the commit-time trigger logs_merge_at_commit, which merges the transaction''s small statements once.';

COMMENT ON FUNCTION @extschema@.rollup(integer) IS
'Drains up to max_attackers dirty attackers and recomputes their attacker_behavior from their own events; one rollup at a time (advisory lock). An attacker that fails alone is recorded in decnet.rollup_failures and the others go on. Returns attackers processed, events read, attackers still dirty, duration. Scheduled every minute by pg_cron (decnet-rollup).';

COMMENT ON FUNCTION @extschema@.load_rir(text) IS
'Loads an RIR delegated-statistics file''s text (unchanged, checked against its version and summary counts): replaces the ranges of its registries, records the load, refreshes every attacker''s country. Refuses a file with no usable range, or one that would shrink a registry to less than half (load_rir_file(file, true) forces that). Returns ranges per registry.';

COMMENT ON FUNCTION @extschema@.load_rir_file(text, boolean) IS
'load_rir(), and with force true it also loads a whole file that shrinks a registry to less than half of what it holds.';

COMMENT ON FUNCTION @extschema@.load_iptoasn(text) IS
'Loads an iptoasn TSV file''s text: replaces the ranges of its address families, records the load, refreshes every attacker''s AS. Refuses a file with no usable range, or one that would shrink a family to less than half (load_iptoasn_file(file, true) forces that). Returns the ranges loaded.';

COMMENT ON FUNCTION @extschema@.load_iptoasn_file(text, boolean) IS
'load_iptoasn(), and with force true it also loads a file that shrinks an address family to less than half of what it holds.';

COMMENT ON FUNCTION @extschema@.rir_file_problem(text) IS
'Why an RIR delegated-statistics file is not whole (no version line, summary or version counts that disagree with its records), or NULL.';

COMMENT ON FUNCTION @extschema@.check_enrichment_load(text, bigint, bigint, boolean) IS
'Internal (loaders): raises when a load holds no range, or would shrink a source to less than half of what it holds unless forced.';

COMMENT ON FUNCTION @extschema@.stats() IS 'One row for operators: lines ingested and flagged, attackers, live identities, dirty and PTR backlogs, last rollup time and duration, time of the last line and idle time since, stale enrichment data, attackers whose rollup failed, pg_cron jobs missing for this database.';

COMMENT ON FUNCTION @extschema@.require_migrated() IS 'Raises object_not_in_prerequisite_state, with a hint to run decnet migrate, when the tables of the migrations are missing.';

COMMENT ON FUNCTION @extschema@.cron_jobs() IS 'The pg_cron jobs decnet needs: name, schedule, command.';

COMMENT ON FUNCTION @extschema@.missing_cron_jobs() IS 'The jobs of cron_jobs() pg_cron does not run for this database (all of them where pg_cron is not installed).';

COMMENT ON FUNCTION @extschema@.schedule_jobs() IS 'Schedules (creates or updates) every job of cron_jobs() in pg_cron; in a database pg_cron does not serve it raises, with the cron.schedule_in_database() calls to run there in the hint.';

COMMENT ON FUNCTION @extschema@.notify(text, jsonb) IS 'Internal: writes a notification payload to decnet.notifications and NOTIFYs the channel with its seq only (no channel privileges exist in PostgreSQL).';

COMMENT ON FUNCTION @extschema@.rollup_attackers(inet[], jsonb) IS 'Internal (rollup): recomputes behaviour and identity signals of these attackers from their latest rollup_lines_max() lines; returns the events seen.';

COMMENT ON FUNCTION @extschema@.rollup_lines_max() IS 'The most lines of one attacker a rollup reads (its latest by log id): memory stays bounded whatever its line count.';

COMMENT ON FUNCTION @extschema@.index_key(text) IS 'A value bounded for a keyed column: itself when at most 256 bytes, else a prefix and the SHA-256 of the whole value (equal values, equal keys).';

DO $upgrade$
BEGIN
    REVOKE EXECUTE ON FUNCTION @extschema@.require_migrated, @extschema@.cron_jobs, @extschema@.missing_cron_jobs, @extschema@.schedule_jobs, @extschema@.stats, @extschema@.defer_taken, @extschema@.index_key, @extschema@.merge_event_needed, @extschema@.rir_file_problem, @extschema@.check_enrichment_load, @extschema@.load_rir_file, @extschema@.load_iptoasn_file, @extschema@.rollup_lines_max, @extschema@.statement_parts, @extschema@.statement_rows, @extschema@.take_pending, @extschema@.notify, @extschema@.merge_taken, @extschema@.logs_merge_pending, @extschema@.rollup_attackers FROM PUBLIC;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'decnet_analyst') THEN
        GRANT EXECUTE ON FUNCTION @extschema@.require_migrated, @extschema@.cron_jobs, @extschema@.missing_cron_jobs, @extschema@.stats, @extschema@.index_key, @extschema@.rir_file_problem, @extschema@.rollup_lines_max TO decnet_analyst;
    END IF;
END
$upgrade$;
