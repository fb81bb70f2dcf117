-- decnet upgrade script drafted by tools/upgrade-script.py from sql/releases/decnet--0.1.0.sql and /tmp/decnet--0.2.0.sql

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

CREATE FUNCTION @extschema@.create_log_partitions() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
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

CREATE FUNCTION @extschema@.drop_logs_before(cutoff timestamptz)
RETURNS TABLE (partition_name text, received_before timestamptz, lines bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
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

CREATE  FUNCTION "c2_endpoints"(
	"command" TEXT /* & str */
) RETURNS TEXT[] /* Vec < String > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'c2_endpoints_wrapper';

CREATE  FUNCTION "campaign_edge"(
	"a" jsonb, /* JsonB */
	"b" jsonb /* JsonB */
) RETURNS bool /* bool */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'campaign_edge_wrapper';

CREATE  FUNCTION "campaign_similarity"(
	"a" jsonb, /* JsonB */
	"b" jsonb /* JsonB */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'campaign_similarity_wrapper';

CREATE  FUNCTION "command_phase"(
	"command" TEXT /* & str */
) RETURNS TEXT /* Option < & '_ str > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'command_phase_wrapper';

CREATE  FUNCTION "connected_components"(
	"a" TEXT[], /* Vec < Option < String > > */
	"b" TEXT[] /* Vec < Option < String > > */
) RETURNS TABLE (
	"node" TEXT,  /* String */
	"component" TEXT  /* String */
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'connected_components_wrapper';

CREATE  FUNCTION "fingerprint_summary"(
	"entries" jsonb /* JsonB */
) RETURNS jsonb /* JsonB */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'fingerprint_summary_wrapper';

CREATE  FUNCTION "identity_edge"(
	"a" jsonb, /* JsonB */
	"b" jsonb /* JsonB */
) RETURNS bool /* bool */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'identity_edge_wrapper';

CREATE  FUNCTION "identity_similarity"(
	"a" jsonb, /* JsonB */
	"b" jsonb /* JsonB */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'identity_similarity_wrapper';

CREATE  FUNCTION "ipv6_eui64_mac"(
	"addr" inet /* Inet */
) RETURNS TEXT /* Option < String > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ipv6_eui64_mac_wrapper';

CREATE  FUNCTION "ipv6_iid_kind"(
	"addr" inet /* Inet */
) RETURNS TEXT /* & '_ str */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ipv6_iid_kind_wrapper';

CREATE  FUNCTION "ipv6_mac_oui"(
	"addr" inet /* Inet */
) RETURNS TEXT /* Option < String > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'ipv6_mac_oui_wrapper';

CREATE  FUNCTION "keep_previous_groups"(
	"component" TEXT[], /* Vec < Option < String > > */
	"previous" TEXT[] /* Vec < Option < String > > */
) RETURNS TABLE (
	"previous" TEXT,  /* String */
	"component" TEXT,  /* String */
	"kept" bool  /* bool */
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'keep_previous_groups_wrapper';

CREATE OR REPLACE FUNCTION @extschema@.session_recordings_derive() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    DELETE FROM decnet.session_profiles WHERE sid IN (SELECT sid FROM new_rows);
    INSERT INTO decnet.session_profiles
        SELECT v.*, now() FROM decnet.recomputed_session_profiles v
        WHERE v.sid IN (SELECT sid FROM new_rows) ORDER BY v.sid;
    -- a new typing rhythm can link the attacker to an identity: the next rollup looks again
    PERFORM decnet.mark_dirty(ARRAY(SELECT a.ip FROM decnet.attackers a WHERE a.ip IN (SELECT attacker_ip FROM new_rows)));
    RETURN NULL;
END
$fn$;

CREATE  FUNCTION "leak_attacker_v4"(
	"fields" jsonb /* Option < JsonB > */
) RETURNS inet /* Option < Inet > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'leak_attacker_v4_wrapper';

CREATE  FUNCTION "leaked_link_local"(
	"event_type" TEXT, /* Option < & str > */
	"fields" jsonb /* Option < JsonB > */
) RETURNS inet /* Option < Inet > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'leaked_link_local_wrapper';

CREATE  FUNCTION "probe_event_types"() RETURNS TEXT[] /* Vec < & '_ str > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'probe_event_types_wrapper';

CREATE  FUNCTION "probe_observation"(
	"event_type" TEXT, /* Option < & str > */
	"fields" jsonb /* Option < JsonB > */
) RETURNS TABLE (
	"probe_type" TEXT,  /* String */
	"port" INT,  /* i32 */
	"hash" TEXT  /* String */
)
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'probe_observation_wrapper';

CREATE  FUNCTION "statement_ipv6_leaks"() RETURNS TABLE (
	"attacker_ip" inet,  /* Inet */
	"link_local" inet,  /* Inet */
	"leaks" bigint,  /* i64 */
	"first_seen" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"last_seen" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"attacker_v4" inet[]  /* Vec < Inet > */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'statement_ipv6_leaks_wrapper';

CREATE  FUNCTION "statement_probes"() RETURNS TABLE (
	"attacker_ip" inet,  /* Inet */
	"probe_type" TEXT,  /* String */
	"port" INT,  /* i32 */
	"ts" timestamp with time zone,  /* TimestampWithTimeZone */
	"hash" TEXT,  /* String */
	"log_id" bigint  /* i64 */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'statement_probes_wrapper';

CREATE FUNCTION @extschema@.merge_probe_observations() RETURNS integer
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
        -- one notification per statement, under 8000 bytes: at most 20 rotations listed
        PERFORM pg_notify('decnet_rotation', jsonb_build_object(
            'count', jsonb_array_length(added),
            'rotations', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                'attacker_ip', e->>'attacker_ip', 'port', (e->>'port')::int, 'probe_type', e->>'probe_type',
                                'old_hash', left(e->>'old_hash', 64), 'new_hash', left(e->>'new_hash', 64), 'ts', e->>'rotated_at')), '[]')
                          FROM (SELECT e FROM jsonb_array_elements(added) e LIMIT 20) x),
            'truncated', jsonb_array_length(added) > 20)::text);
    END IF;
    RETURN jsonb_array_length(added);
END
$fn$;

CREATE FUNCTION @extschema@.merge_ipv6_leaks() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    touched inet[];
BEGIN
    WITH up AS (
        INSERT INTO decnet.attacker_ipv6_leaks AS l
            (attacker_ip, link_local, iid_kind, mac_oui, mac, attacker_v4, first_seen, last_seen, leak_count)
        SELECT attacker_ip, link_local, decnet.ipv6_iid_kind(link_local), decnet.ipv6_mac_oui(link_local),
               decnet.ipv6_eui64_mac(link_local), attacker_v4, first_seen, last_seen, leaks
        FROM decnet.statement_ipv6_leaks() ORDER BY attacker_ip, link_local
        ON CONFLICT (attacker_ip, link_local) DO UPDATE SET
            attacker_v4 = ARRAY(SELECT DISTINCT v FROM unnest(l.attacker_v4 || excluded.attacker_v4) v ORDER BY v),
            first_seen = least(l.first_seen, excluded.first_seen),
            last_seen = greatest(l.last_seen, excluded.last_seen),
            leak_count = l.leak_count + excluded.leak_count
        RETURNING l.attacker_ip
    )
    SELECT array_agg(DISTINCT attacker_ip) INTO touched FROM up;
    IF touched IS NULL THEN
        RETURN 0;
    END IF;
    UPDATE decnet.attackers a SET ipv6_leak_count = s.n, last_ipv6_leak_at = s.last_at,
           last_ipv6_link_local = s.last_ll, last_ipv6_iid_kind = decnet.ipv6_iid_kind(s.last_ll),
           last_ipv6_mac_oui = decnet.ipv6_mac_oui(s.last_ll), updated_at = now()
    FROM (SELECT attacker_ip, sum(leak_count)::bigint AS n, max(last_seen) AS last_at,
                 (array_agg(link_local ORDER BY last_seen DESC NULLS LAST, link_local DESC))[1] AS last_ll
          FROM decnet.attacker_ipv6_leaks WHERE attacker_ip = ANY (touched) GROUP BY attacker_ip) s
    WHERE a.ip = s.attacker_ip;
    RETURN cardinality(touched);
END
$fn$;

CREATE FUNCTION @extschema@.identity_signal_max_attackers() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 50 $$;

CREATE FUNCTION @extschema@.json_text_array(v jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(v)) END $$;

CREATE FUNCTION @extschema@.identity_signals_of(ips inet[]) RETURNS TABLE (kind text, value text, attacker_ip inet)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT DISTINCT s.kind, s.value, s.attacker_ip FROM (
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

CREATE FUNCTION @extschema@.identity_observations(ips inet[]) RETURNS TABLE (attacker_ip inet, observation jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH wanted AS MATERIALIZED (
        SELECT DISTINCT t.ip FROM unnest(ips) AS t(ip)
    ), fps AS (
        SELECT s.attacker_ip, jsonb_agg(s.kind || ':' || s.value) AS v
        FROM wanted w JOIN decnet.identity_signals s ON s.attacker_ip = w.ip
        WHERE s.kind IN ('ja3', 'ja4', 'hassh', 'tls_cert', 'mac')
        GROUP BY s.attacker_ip
    ), infra AS (
        SELECT s.attacker_ip,
               coalesce(jsonb_agg(s.value) FILTER (WHERE s.kind = 'payload'), '[]') AS payload,
               coalesce(jsonb_agg(s.value) FILTER (WHERE s.kind = 'c2'), '[]') AS c2
        FROM wanted w JOIN decnet.identity_signals s ON s.attacker_ip = w.ip
        WHERE s.kind IN ('payload', 'c2')
        GROUP BY s.attacker_ip
    ), cmds AS (
        SELECT x.attacker_ip, jsonb_object_agg(x.phase, x.commands) AS v
        FROM (SELECT c.attacker_ip, coalesce(decnet.command_phase(c.command), 'other') AS phase,
                     jsonb_agg(DISTINCT c.command) AS commands
              FROM wanted w JOIN decnet.attacker_commands c ON c.attacker_ip = w.ip
              GROUP BY 1, 2) x
        GROUP BY x.attacker_ip
    ), creds AS (
        SELECT c.attacker_ip, jsonb_agg(DISTINCT jsonb_build_array(c.principal_key, c.secret_sha256)) AS v
        FROM wanted w JOIN decnet.credentials c ON c.attacker_ip = w.ip
        GROUP BY c.attacker_ip
    ), kd AS (
        SELECT p.attacker_ip, encode(decnet.kd_centroid(p.kd_simhash), 'hex') AS v
        FROM wanted w JOIN decnet.session_profiles p ON p.attacker_ip = w.ip
        WHERE p.kd_simhash IS NOT NULL
        GROUP BY p.attacker_ip
    )
    SELECT a.ip, jsonb_build_object('fingerprints', coalesce(fps.v, '[]'), 'commands', coalesce(cmds.v, '{}'),
                                    'credentials', coalesce(creds.v, '[]'), 'asn', a.asn, 'kd', kd.v,
                                    'payload_hashes', coalesce(infra.payload, '[]'), 'c2_endpoints', coalesce(infra.c2, '[]'))
    FROM wanted w
    JOIN decnet.attackers a ON a.ip = w.ip
    LEFT JOIN fps ON fps.attacker_ip = a.ip
    LEFT JOIN infra ON infra.attacker_ip = a.ip
    LEFT JOIN cmds ON cmds.attacker_ip = a.ip
    LEFT JOIN creds ON creds.attacker_ip = a.ip
    LEFT JOIN kd ON kd.attacker_ip = a.ip;
END
$fn$;

CREATE FUNCTION @extschema@.refresh_identities(ids uuid[]) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n integer;
BEGIN
    -- set-based (grouped joins), so refreshing every identity costs one pass over the members
    WITH members AS MATERIALIZED (
        SELECT m.identity_id, m.attacker_ip FROM unnest(ids) AS t(id) JOIN decnet.identity_members m ON m.identity_id = t.id
    ), span AS (
        SELECT m.identity_id, count(*)::integer AS n, min(a.first_seen) AS first_seen, max(a.last_seen) AS last_seen
        FROM members m JOIN decnet.attackers a ON a.ip = m.attacker_ip GROUP BY m.identity_id
    ), fp AS (
        SELECT m.identity_id, decnet.fingerprint_summary(jsonb_agg(b.payload)) AS summary
        FROM members m JOIN decnet.bounties b ON b.attacker_ip = m.attacker_ip AND b.bounty_type = 'fingerprint'
        GROUP BY m.identity_id
    ), leaks AS (
        SELECT x.identity_id, jsonb_agg(jsonb_build_object('iid', host(x.link_local), 'oui', x.mac_oui, 'kind', x.iid_kind,
                                                           'first_seen', x.first_seen) ORDER BY x.link_local) AS iids
        FROM (SELECT m.identity_id, l.link_local, min(l.mac_oui) AS mac_oui, min(l.iid_kind) AS iid_kind, min(l.first_seen) AS first_seen
              FROM members m JOIN decnet.attacker_ipv6_leaks l ON l.attacker_ip = m.attacker_ip
              GROUP BY m.identity_id, l.link_local) x
        GROUP BY x.identity_id
    ), kd AS (
        SELECT m.identity_id, decnet.kd_centroid(p.kd_simhash) AS centroid
        FROM members m JOIN decnet.session_profiles p ON p.attacker_ip = m.attacker_ip
        WHERE p.kd_simhash IS NOT NULL GROUP BY m.identity_id
    )
    UPDATE decnet.attacker_identities i SET
        member_count = coalesce(span.n, 0), first_seen = span.first_seen, last_seen = span.last_seen,
        ja3_hashes = decnet.json_text_array(fp.summary -> 'ja3_hashes'),
        ja4_hashes = decnet.json_text_array(fp.summary -> 'ja4_hashes'),
        hassh_hashes = decnet.json_text_array(fp.summary -> 'hassh_hashes'),
        tls_cert_sha256 = decnet.json_text_array(fp.summary -> 'tls_cert_sha256'),
        ja4h_hashes = decnet.json_text_array(fp.summary -> 'ja4h_hashes'),
        ja4_quic_hashes = decnet.json_text_array(fp.summary -> 'ja4_quic_hashes'),
        ipv6_link_local_iids = leaks.iids, kd_digraph_simhash = kd.centroid, updated_at = now()
    FROM unnest(ids) AS t(id)
    LEFT JOIN span ON span.identity_id = t.id
    LEFT JOIN fp ON fp.identity_id = t.id
    LEFT JOIN leaks ON leaks.identity_id = t.id
    LEFT JOIN kd ON kd.identity_id = t.id
    WHERE i.uuid = t.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;

CREATE FUNCTION @extschema@.identity_edges(scope inet[]) RETURNS TABLE (a inet, b inet)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    -- MATERIALIZED: the groups are cut to the usable ones before any self-join
    -- (a popular JA3 shared by 50,000 attackers would otherwise pair them all)
    WITH usable AS MATERIALIZED (
        SELECT s.kind, s.value FROM decnet.identity_signals s
        WHERE scope IS NULL OR (s.kind, s.value) IN (SELECT m.kind, m.value FROM unnest(scope) AS t(ip)
                                                     JOIN decnet.identity_signals m ON m.attacker_ip = t.ip)
        GROUP BY s.kind, s.value HAVING count(*) BETWEEN 2 AND decnet.identity_signal_max_attackers()
    ), members AS MATERIALIZED (
        SELECT s.kind, s.value, s.attacker_ip FROM usable u
        JOIN decnet.identity_signals s ON s.kind = u.kind AND s.value = u.value
    ), pairs AS (
        SELECT DISTINCT x.attacker_ip AS a, y.attacker_ip AS b
        FROM members x
        JOIN members y ON y.kind = x.kind AND y.value = x.value AND y.attacker_ip > x.attacker_ip
        WHERE scope IS NULL OR x.attacker_ip IN (SELECT unnest(scope)) OR y.attacker_ip IN (SELECT unnest(scope))
    ), obs AS MATERIALIZED (
        SELECT * FROM decnet.identity_observations(ARRAY(SELECT a FROM pairs UNION SELECT b FROM pairs))
    )
    SELECT p.a, p.b FROM pairs p
    JOIN obs oa ON oa.attacker_ip = p.a
    JOIN obs ob ON ob.attacker_ip = p.b
    WHERE decnet.identity_edge(oa.observation, ob.observation);
END
$fn$;

CREATE FUNCTION @extschema@.resolve_identities(batch inet[])
RETURNS TABLE (attackers integer, edges integer, identities integer, merges integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off SET client_min_messages = warning
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

CREATE FUNCTION @extschema@.recluster_identities()
RETURNS TABLE (attackers integer, edges integer, identities integer, merges integer, duration_ms double precision)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off SET client_min_messages = warning
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

CREATE FUNCTION @extschema@.resolve_identity(id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN (WITH RECURSIVE chain(uuid, merged_into, depth) AS (
        SELECT i.uuid, i.merged_into, 0 FROM decnet.attacker_identities i WHERE i.uuid = id
        UNION ALL
        SELECT i.uuid, i.merged_into, c.depth + 1 FROM chain c JOIN decnet.attacker_identities i ON i.uuid = c.merged_into
        WHERE c.depth < 1000
    )
    SELECT chain.uuid FROM chain WHERE chain.merged_into IS NULL);
END
$fn$;

CREATE FUNCTION @extschema@.identity_of(ip inet) RETURNS uuid
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN (SELECT m.identity_id FROM decnet.identity_members m WHERE m.attacker_ip = ip);
END
$fn$;

CREATE FUNCTION @extschema@.cluster_campaigns()
RETURNS TABLE (identities integer, edges integer, campaigns integer, duration_ms double precision)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off SET client_min_messages = warning
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

CREATE FUNCTION @extschema@.mark_dirty(ips inet[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO decnet.dirty_attackers (ip) SELECT DISTINCT ip FROM unnest(ips) AS t(ip) WHERE ip IS NOT NULL ORDER BY 1
    ON CONFLICT (ip) DO UPDATE SET marked_at = excluded.marked_at;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.logs_derive() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off
AS $fn$
DECLARE
    affected inet[];
    new_ips inet[];
    with_commands inet[];
    with_fingerprints inet[];
    counted inet[];
    new_bounties bigint[];
    new_credentials bigint[];
    n_rows bigint;
    first_id bigint;
    k integer := decnet.commands_kept_per_end();
BEGIN
    n_rows := decnet.statement_take();
    first_id := decnet.statement_first_log_id();

    -- 1. attackers: counts and time span
    WITH up AS (
        INSERT INTO decnet.attackers AS a (ip, first_seen, last_seen, event_count, command_count)
        SELECT ip, first_seen, last_seen, events, commands FROM decnet.statement_attackers() ORDER BY ip
        ON CONFLICT (ip) DO UPDATE SET
            event_count = a.event_count + excluded.event_count,
            command_count = a.command_count + excluded.command_count,
            first_seen = least(a.first_seen, excluded.first_seen),
            last_seen = greatest(a.last_seen, excluded.last_seen),
            updated_at = now()
        RETURNING a.ip, (a.xmax = 0) AS inserted
    )
    SELECT array_agg(ip ORDER BY ip), array_agg(ip ORDER BY ip) FILTER (WHERE inserted)
    INTO affected, new_ips FROM up;

    -- their behaviour is recomputed later, by decnet.rollup()
    PERFORM decnet.mark_dirty(affected);

    -- country and AS of new attackers: index lookups in the loaded ranges, no network
    IF new_ips IS NOT NULL THEN
        PERFORM decnet.enrich_attackers(new_ips);
    END IF;

    -- 2. per (attacker, service); 3. per (attacker, decky)
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
        last_seen = greatest(s.last_seen, excluded.last_seen);

    INSERT INTO decnet.attacker_deckies AS d (attacker_ip, decky, first_seen, first_log_id, last_seen, event_count)
    SELECT attacker_ip, decky, first_seen, first_log_id, last_seen, events
    FROM decnet.statement_deckies() ORDER BY attacker_ip, decky
    ON CONFLICT (attacker_ip, decky) DO UPDATE SET
        first_seen = least(d.first_seen, excluded.first_seen),
        first_log_id = least(d.first_log_id, excluded.first_log_id),
        last_seen = greatest(d.last_seen, excluded.last_seen),
        event_count = d.event_count + excluded.event_count;

    -- 4. commands: add this statement's candidates, then keep the first and last k per attacker
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

    -- 5. bounties and credentials (one row per dedup key already); remember what changed per attacker
    WITH nb AS (
        INSERT INTO decnet.bounties AS b (bounty_type, attacker_ip, payload, payload_key, decky, service, first_seen, last_seen, first_log_id, seen_count)
        SELECT bounty_type, attacker_ip, payload, payload_key, decky, service, first_seen, last_seen, first_log_id, seen
        FROM decnet.statement_bounties()
        ORDER BY ord  -- the dedup key order, sorted in Rust
        ON CONFLICT (bounty_type, attacker_ip, payload_key) DO UPDATE SET
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
        LEFT JOIN decnet.attackers a ON a.ip = g.attacker_ip
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

    -- 5b. recipients per (attacker, victim domain)
    INSERT INTO decnet.smtp_targets AS t (attacker_ip, domain, count, first_seen, last_seen)
    SELECT attacker_ip, domain, recipients, first_seen, last_seen
    FROM decnet.statement_smtp_targets() ORDER BY attacker_ip, domain
    ON CONFLICT (attacker_ip, domain) DO UPDATE SET
        count = t.count + excluded.count,
        first_seen = least(t.first_seen, excluded.first_seen),
        last_seen = greatest(t.last_seen, excluded.last_seen);

    -- 5c. prober hash rotations and IPv6 link-local leaks (sql/identity.sql)
    PERFORM decnet.merge_probe_observations();
    PERFORM decnet.merge_ipv6_leaks();

    -- 6. one update per affected attacker: the new counts, and the list columns
    --    (rebuilt from the child rows only where they can have changed)
    UPDATE decnet.attackers a SET
        bounty_count = a.bounty_count + coalesce(n.nb, 0),
        credential_count = a.credential_count + coalesce(n.nc, 0),
        services = coalesce(s.services, '{}'),
        service_count = coalesce(cardinality(s.services), 0),
        deckies = coalesce(d.deckies, '{}'),
        decky_count = coalesce(cardinality(d.deckies), 0),
        is_traversal = coalesce(cardinality(d.deckies), 0) >= 2,
        traversal_path = CASE WHEN cardinality(d.deckies) >= 2 THEN array_to_string(d.deckies, ' → ') END,
        commands = coalesce(cm.commands, a.commands),
        fingerprints = coalesce(fp.fingerprints, a.fingerprints)
    FROM unnest(affected) AS t(ip)
    LEFT JOIN unnest(counted, new_bounties, new_credentials) AS n(ip, nb, nc) ON n.ip = t.ip
    LEFT JOIN LATERAL (SELECT array_agg(service ORDER BY service) AS services
                       FROM decnet.attacker_services WHERE attacker_ip = t.ip) s ON true
    LEFT JOIN LATERAL (SELECT array_agg(decky ORDER BY first_seen ASC NULLS LAST, first_log_id) AS deckies
                       FROM decnet.attacker_deckies WHERE attacker_ip = t.ip) d ON true
    LEFT JOIN LATERAL (SELECT jsonb_agg(jsonb_build_object('service', service, 'decky', decky, 'command', command, 'timestamp', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
                                        ORDER BY ts ASC NULLS LAST, log_id) AS commands
                       FROM decnet.attacker_commands WHERE attacker_ip = t.ip AND t.ip = ANY (with_commands)) cm ON true
    LEFT JOIN LATERAL (SELECT jsonb_agg(payload ORDER BY first_log_id, payload_key) AS fingerprints
                       FROM (SELECT payload, first_log_id, payload_key FROM decnet.bounties
                             WHERE attacker_ip = t.ip AND bounty_type = 'fingerprint' AND t.ip = ANY (with_fingerprints)
                             ORDER BY first_log_id, payload_key LIMIT decnet.fingerprints_kept()) f) fp ON true
    WHERE a.ip = t.ip;

    -- 7. one notification per statement, always under 8000 bytes (at most 100 addresses listed)
    PERFORM pg_notify('decnet_attacker', json_build_object(
        'rows', n_rows,
        'new_count', coalesce(cardinality(new_ips), 0),
        'updated_count', coalesce(cardinality(affected), 0) - coalesce(cardinality(new_ips), 0),
        'new', coalesce(to_json(new_ips[1:100]), '[]'::json),
        'new_truncated', coalesce(cardinality(new_ips), 0) > 100
    )::text);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.derived_tables() RETURNS TABLE (relation text, recomputed text, key_columns text[], ignored_columns text[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
VALUES ('attackers',         'recomputed_attackers',         ARRAY['ip'],
                                                            ARRAY['uuid', 'created_at', 'updated_at'] || decnet.attacker_enrichment_columns()),
       ('attacker_services', 'recomputed_attacker_services', ARRAY['attacker_ip', 'service'],     ARRAY['bucket']),
       ('attacker_deckies',  'recomputed_attacker_deckies',  ARRAY['attacker_ip', 'decky'],       ARRAY[]::text[]),
       ('attacker_commands', 'recomputed_attacker_commands', ARRAY['attacker_ip', 'log_id'],      ARRAY[]::text[]),
       ('bounties',          'recomputed_bounties',          ARRAY['bounty_type', 'attacker_ip', 'payload'], ARRAY['id', 'payload_key', 'fingerprint_type']),
       ('smtp_targets',      'recomputed_smtp_targets',      ARRAY['attacker_ip', 'domain'],      ARRAY[]::text[]),
       ('credentials',       'recomputed_credentials',       ARRAY['attacker_ip', 'decky', 'service', 'secret_kind', 'secret_sha256', 'principal_key'],
                                                            ARRAY['id', 'attacker_uuid']),
       ('fingerprint_state', 'recomputed_fingerprint_state', ARRAY['attacker_ip', 'probe_type', 'port'], ARRAY[]::text[]),
       ('fingerprint_rotations', 'recomputed_fingerprint_rotations', ARRAY['attacker_ip', 'probe_type', 'port', 'rotated_at', 'new_hash'], ARRAY[]::text[]),
       ('attacker_ipv6_leaks', 'recomputed_attacker_ipv6_leaks', ARRAY['attacker_ip', 'link_local'], ARRAY[]::text[]),
       ('session_profiles',  'recomputed_session_profiles',  ARRAY['sid'],
                                                            ARRAY['profiled_at', 'kd_chunk0', 'kd_chunk1', 'kd_chunk2', 'kd_chunk3'])
$$;

CREATE FUNCTION @extschema@.history_dropped(row_key jsonb) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    key_ip text := coalesce(row_key->>'attacker_ip', row_key->>'ip');
BEGIN
    IF NOT (row_key ? 'attacker_ip' OR row_key ? 'ip') THEN
        RETURN false;
    ELSIF key_ip IS NULL THEN
        RETURN EXISTS (SELECT 1 FROM decnet.log_retention r WHERE r.attackerless_lines > 0);
    END IF;
    RETURN EXISTS (SELECT 1 FROM decnet.truncated_attackers t WHERE t.ip = key_ip::inet);
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.verify() RETURNS TABLE (relation text, row_key jsonb, incremental jsonb, recomputed jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET client_min_messages = warning
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM decnet.mark_dirty(ARRAY(SELECT b.attacker_ip FROM decnet.attacker_behavior b WHERE b.tcp_fingerprint <> '{}'::jsonb));
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.rollup(max_attackers integer DEFAULT 1000)
RETURNS TABLE (attackers integer, events bigint, remaining bigint, duration_ms double precision)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off
AS $fn$
DECLARE
    started timestamptz := clock_timestamp();
    batch inet[];
    seen bigint := 0;
    signatures jsonb := decnet.os_signature_set();
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('decnet.rollup')) THEN
        RETURN QUERY SELECT 0, 0::bigint, (SELECT count(*) FROM decnet.dirty_attackers), 0::double precision;
        RETURN;
    END IF;
    WITH taken AS (
        DELETE FROM decnet.dirty_attackers
        WHERE ip IN (SELECT d.ip FROM decnet.dirty_attackers d ORDER BY d.ip LIMIT max_attackers
                     FOR UPDATE SKIP LOCKED)  -- a writer still in its transaction: next time
        RETURNING ip
    )
    SELECT array_agg(ip ORDER BY ip) INTO batch FROM taken;

    -- MATERIALIZED: computed once per attacker; inlined, the planner re-runs the
    -- functions (and their subqueries) for every column that reads a result
    WITH computed AS MATERIALIZED (
        SELECT t.ip, s.n, s.stats,
               decnet.behavior_class((s.stats->>'event_count')::bigint, (s.stats->>'mean_iat_s')::float8,
                                     (s.stats->>'cv')::float8, sv.services::int) AS class
        FROM unnest(batch) AS t(ip)
        -- the attacker's own events: sensor observations (sniffer, prober) duplicate them
        CROSS JOIN LATERAL (SELECT count(*) AS n, decnet.timing_stats(coalesce(array_agg(l.ts), '{}')) AS stats
                            FROM decnet.logs l
                            WHERE l.attacker_ip = t.ip AND (l.service IS NULL OR NOT decnet.is_sensor_service(l.service))) s
        CROSS JOIN LATERAL (SELECT count(*) AS services FROM decnet.attacker_services a WHERE a.attacker_ip = t.ip) sv
    ), detailed AS MATERIALIZED (
        -- every line of the attacker, sensors included, in id order (the sniffer/prober rollup needs them)
        SELECT c.*, decnet.behavior_details(
                   (SELECT jsonb_agg(jsonb_build_object('e', l.event_type, 's', l.service,
                                                        't', (extract(epoch FROM l.ts) * 1000000)::bigint, 'f', l.fields) ORDER BY l.id)
                    FROM decnet.logs l WHERE l.attacker_ip = c.ip),
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

    -- who they are: identity signals, edges and merges of the drained attackers
    PERFORM decnet.resolve_identities(batch);

    IF cardinality(batch) > 0 THEN
        INSERT INTO decnet.rollup_runs (started_at, duration_ms, attackers, events, remaining)
        VALUES (started, extract(epoch FROM clock_timestamp() - started) * 1000, cardinality(batch), seen,
                (SELECT count(*) FROM decnet.dirty_attackers));
    END IF;
    RETURN QUERY SELECT coalesce(cardinality(batch), 0), seen, (SELECT count(*) FROM decnet.dirty_attackers),
                        (extract(epoch FROM clock_timestamp() - started) * 1000)::double precision;
END
$fn$;

COMMENT ON FUNCTION @extschema@.verify() IS
'Rows where a derived table and its recomputation (from decnet.logs; session profiles from decnet.session_recordings) differ (relation, key, incremental, recomputed). Empty when consistent. After retention, rows of attackers whose lines were dropped are not compared.';

COMMENT ON FUNCTION @extschema@.rebuild() IS
'Recomputes every derived table from decnet.logs (session profiles from decnet.session_recordings), keeping attacker uuids. Blocks ingest while it runs. Refuses once retention has dropped lines. Returns the row count of each table.';

COMMENT ON FUNCTION @extschema@.statement_probes() IS 'Internal: takes the current statement''s prober hash observations.';

COMMENT ON FUNCTION @extschema@.statement_ipv6_leaks() IS 'Internal: takes the current statement''s IPv6 link-local leaks.';

COMMENT ON FUNCTION @extschema@.probe_event_types() IS 'Event types whose hash is tracked for rotation: the prober''s jarm_fingerprint, hassh_fingerprint, tcpfp_fingerprint and the sniffer''s tls_client_hello (client JA3 per destination port).';

COMMENT ON FUNCTION @extschema@.probe_observation(text, jsonb) IS 'The (probe_type, port, hash) a stored line observes: zero or one row (no row for an empty hash or a bad port).';

COMMENT ON FUNCTION @extschema@.leaked_link_local(text, jsonb) IS 'The link-local (fe80::/10) source of an ipv6_link_local_leak line, else NULL.';

COMMENT ON FUNCTION @extschema@.leak_attacker_v4(jsonb) IS 'The IPv4 address a leak line ties its link-local source to (attacker_v4), else NULL.';

COMMENT ON FUNCTION @extschema@.ipv6_iid_kind(inet) IS 'eui64 when the IPv6 interface id embeds a MAC (ff:fe), stable_privacy for any other IPv6 address, unknown otherwise (spec G.6).';

COMMENT ON FUNCTION @extschema@.ipv6_mac_oui(inet) IS 'The OUI (universal/local bit restored) of an EUI-64 interface id, else NULL.';

COMMENT ON FUNCTION @extschema@.ipv6_eui64_mac(inet) IS 'The MAC address an EUI-64 interface id embeds, else NULL.';

COMMENT ON FUNCTION @extschema@.fingerprint_summary(jsonb) IS 'Sorted distinct JA3, JA4, HASSH, TLS certificate SHA-256, JA4H and JA4-QUIC values of a list of bounty rows or payloads (spec D.12); a family without values is null.';

COMMENT ON FUNCTION @extschema@.identity_similarity(jsonb, jsonb) IS 'Identity edge weight of two attacker observations: 1.0 shared strong fingerprint (with the veto), 0.6 command Jaccard per phase, 0.2 credential Jaccard, 0.05 same AS, 0.6 keystroke rhythm (spec G.4, H.5).';

COMMENT ON FUNCTION @extschema@.identity_edge(jsonb, jsonb) IS 'Whether identity_similarity reaches the edge threshold (1.0).';

COMMENT ON FUNCTION @extschema@.campaign_similarity(jsonb, jsonb) IS 'Campaign edge weight of two identities: 1.0 decky handoff, 1.0 shared infrastructure, 0.4 temporal overlap, 0.1 cohort, 0.6 keystroke rhythm (spec G.5).';

COMMENT ON FUNCTION @extschema@.campaign_edge(jsonb, jsonb) IS 'Whether campaign_similarity reaches the edge threshold (1.0).';

COMMENT ON FUNCTION @extschema@.command_phase(text) IS 'Kill-chain phase a command points to (discovery, persistence, command_and_control, lateral_movement), or NULL.';

COMMENT ON FUNCTION @extschema@.connected_components(text[], text[]) IS 'Connected components of the graph with edges a[i]-b[i]: each node with the smallest node of its component.';

COMMENT ON FUNCTION @extschema@.keep_previous_groups(text[], text[]) IS 'Internal: for a fresh clustering (component, previous group per member), which component claims and which keeps each previous group.';

COMMENT ON FUNCTION @extschema@.merge_probe_observations() IS 'Internal (ingest trigger): merges the statement''s prober observations into fingerprint_state and fingerprint_rotations and notifies decnet_rotation.';

COMMENT ON FUNCTION @extschema@.merge_ipv6_leaks() IS 'Internal (ingest trigger): merges the statement''s IPv6 leaks and refreshes the five leak columns of their attackers.';

COMMENT ON FUNCTION @extschema@.identity_signal_max_attackers() IS 'A signal value shared by more attackers than this (a popular tool''s JA3, a common command) links nobody.';

COMMENT ON FUNCTION @extschema@.json_text_array(jsonb) IS 'A jsonb array of strings as text[]; NULL for anything else.';

COMMENT ON FUNCTION @extschema@.identity_signals_of(inet[]) IS 'Internal: the identity signals of some attackers (strong fingerprints, EUI-64 MACs, payload hashes and C2 servers, and command, credential and keystroke-chunk candidate keys).';

COMMENT ON FUNCTION @extschema@.identity_observations(inet[]) IS 'Internal: what identity_similarity compares, per attacker.';

COMMENT ON FUNCTION @extschema@.refresh_identities(uuid[]) IS 'Internal: recomputes the member count, time span, fingerprints, leaked interface ids and keystroke centroid of identities.';

COMMENT ON FUNCTION @extschema@.identity_edges(inet[]) IS 'Internal: identity edges touching some attackers (NULL: all), from candidate pairs sharing a rare signal value.';

COMMENT ON FUNCTION @extschema@.resolve_identities(inet[]) IS 'Incremental identity pass for some attackers (run by rollup()): refreshes their signals, finds their edges, merges the identities they join (smallest uuid wins). Returns attackers, edges, new identities, merges.';

COMMENT ON FUNCTION @extschema@.recluster_identities() IS 'Full identity pass over every attacker, keeping identity ids stable; splits identities whose evidence is gone. Scheduled hourly by pg_cron (decnet-identities).';

COMMENT ON FUNCTION @extschema@.resolve_identity(uuid) IS 'The live identity an identity uuid stands for now, following merged_into.';

COMMENT ON FUNCTION @extschema@.identity_of(inet) IS 'The identity of an attacker address, or NULL before a rollup resolved it.';

COMMENT ON FUNCTION @extschema@.cluster_campaigns() IS 'Groups live identities into campaigns (spec G.5) from scratch, keeping campaign ids stable. Scheduled every 10 minutes by pg_cron (decnet-campaigns).';

COMMENT ON FUNCTION @extschema@.stats() IS 'One row for operators: lines ingested and flagged, attackers, live identities, dirty and PTR backlogs, last rollup time and duration, time of the last line and idle time since, stale enrichment data.';

COMMENT ON FUNCTION @extschema@.log_partitions() IS 'The partitions of decnet.logs and their received_at ranges, oldest first (the default partition last).';

COMMENT ON FUNCTION @extschema@.create_log_partitions() IS 'Creates the partitions of decnet.logs for the current and the next premake periods (decnet.log_partitioning) that do not exist; moves matching lines out of the default partition. Scheduled daily by pg_cron (decnet-partitions). Returns the partitions created.';

COMMENT ON FUNCTION @extschema@.drop_logs_before(timestamptz) IS 'Retention: drops the partitions of decnet.logs received entirely before the cutoff. Derived tables keep their rows; the affected attackers go to decnet.truncated_attackers and each drop to decnet.log_retention.';

COMMENT ON FUNCTION @extschema@.history_dropped(jsonb) IS 'Internal (verify): whether a derived row names an attacker some of whose lines retention dropped.';

COMMENT ON FUNCTION @extschema@.c2_endpoints(text) IS 'The servers a command reaches out to, as host:port (http/https/ftp/tftp URLs with default ports, bash /dev/tcp/host/port).';

COMMENT ON FUNCTION @extschema@.mark_dirty(inet[]) IS 'Internal: marks attackers for the next rollup (an upsert that row-locks each mark until the caller commits).';

DO $upgrade$
BEGIN
    REVOKE EXECUTE ON FUNCTION @extschema@.stats, @extschema@.log_partitions, @extschema@.create_log_partitions, @extschema@.drop_logs_before, @extschema@.c2_endpoints, @extschema@.campaign_edge, @extschema@.campaign_similarity, @extschema@.command_phase, @extschema@.connected_components, @extschema@.fingerprint_summary, @extschema@.identity_edge, @extschema@.identity_similarity, @extschema@.ipv6_eui64_mac, @extschema@.ipv6_iid_kind, @extschema@.ipv6_mac_oui, @extschema@.keep_previous_groups, @extschema@.leak_attacker_v4, @extschema@.leaked_link_local, @extschema@.probe_event_types, @extschema@.probe_observation, @extschema@.statement_ipv6_leaks, @extschema@.statement_probes, @extschema@.merge_probe_observations, @extschema@.merge_ipv6_leaks, @extschema@.identity_signal_max_attackers, @extschema@.json_text_array, @extschema@.identity_signals_of, @extschema@.identity_observations, @extschema@.refresh_identities, @extschema@.identity_edges, @extschema@.resolve_identities, @extschema@.recluster_identities, @extschema@.resolve_identity, @extschema@.identity_of, @extschema@.cluster_campaigns, @extschema@.mark_dirty, @extschema@.history_dropped FROM PUBLIC;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'decnet_analyst') THEN
        GRANT EXECUTE ON FUNCTION @extschema@.stats, @extschema@.log_partitions, @extschema@.create_log_partitions, @extschema@.drop_logs_before, @extschema@.c2_endpoints, @extschema@.campaign_edge, @extschema@.campaign_similarity, @extschema@.command_phase, @extschema@.connected_components, @extschema@.fingerprint_summary, @extschema@.identity_edge, @extschema@.identity_similarity, @extschema@.ipv6_eui64_mac, @extschema@.ipv6_iid_kind, @extschema@.ipv6_mac_oui, @extschema@.keep_previous_groups, @extschema@.leak_attacker_v4, @extschema@.leaked_link_local, @extschema@.probe_event_types, @extschema@.probe_observation, @extschema@.statement_ipv6_leaks, @extschema@.statement_probes, @extschema@.merge_probe_observations, @extschema@.merge_ipv6_leaks, @extschema@.identity_signal_max_attackers, @extschema@.json_text_array, @extschema@.identity_signals_of, @extschema@.identity_observations, @extschema@.refresh_identities, @extschema@.identity_edges, @extschema@.resolve_identities, @extschema@.recluster_identities, @extschema@.resolve_identity, @extschema@.identity_of, @extschema@.cluster_campaigns, @extschema@.mark_dirty, @extschema@.history_dropped TO decnet_analyst;
    END IF;
END
$upgrade$;
