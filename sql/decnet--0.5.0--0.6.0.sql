-- decnet upgrade script drafted by tools/upgrade-script.py from sql/releases/decnet--0.5.0.sql and /tmp/new.sql

CREATE OR REPLACE FUNCTION @extschema@.cron_jobs() RETURNS TABLE (jobname text, schedule text, command text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
VALUES ('decnet-rollup', '* * * * *', 'CALL decnet.rollup_backlog()'),
       ('decnet-ptr', '* * * * *', 'SELECT * FROM decnet.resolve_pending_ptr(300)'),
       ('decnet-identities', '17 * * * *', 'SELECT * FROM decnet.recluster_identities()'),
       ('decnet-campaigns', '*/10 * * * *', 'SELECT * FROM decnet.cluster_campaigns()'),
       ('decnet-partitions', '7 3 * * *', 'SELECT decnet.create_log_partitions()')
$$;

DROP FUNCTION @extschema@.stats;

CREATE FUNCTION @extschema@.stats()
RETURNS TABLE (lines_ingested bigint, lines_flagged bigint, attackers bigint, identities bigint,
               dirty_backlog bigint, oldest_dirty_age interval, merge_queue_lines bigint, ptr_backlog bigint,
               last_rollup_at timestamptz,
               last_rollup_ms double precision,
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
        now() - (SELECT min(d.marked_at) FROM decnet.dirty_attackers d),
        (SELECT coalesce(sum(cardinality(q.log_ids)), 0)::bigint FROM decnet.merge_queue q),
        (SELECT count(*) FROM decnet.attackers a WHERE a.ptr_attempted_at IS NULL),
        last_run.started_at, last_run.duration_ms,
        last_line, now() - last_line,
        coalesce((SELECT bool_or(e.stale) FROM decnet.enrichment_status e), false),
        (SELECT count(*) FROM decnet.rollup_failures),
        decnet.missing_cron_jobs();
END
$fn$;

CREATE  FUNCTION "behavior_details_of"(
	"events" json, /* Option < pgrx :: datum :: Json > */
	"mean_iat_s" double precision, /* Option < f64 > */
	"cv" double precision, /* Option < f64 > */
	"signatures" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* JsonB */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'behavior_details_of_wrapper';

CREATE  FUNCTION "campaign_handoff_rule"() RETURNS TABLE (
	"leaving" TEXT[],  /* Vec < & '_ str > */
	"arriving" TEXT[],  /* Vec < & '_ str > */
	"window_s" double precision  /* f64 */
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'campaign_handoff_rule_wrapper';

CREATE  FUNCTION "csv_line"(
	"fields" TEXT[] /* Array < & str > */
) RETURNS TEXT /* String */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'csv_line_wrapper';

CREATE  FUNCTION "family_buckets"(
	"programs" TEXT[], /* Vec < Option < String > > */
	"buckets" TEXT[] /* Vec < Option < String > > */
) RETURNS TABLE (
	"interacted" TEXT[],  /* Vec < String > */
	"scanned" TEXT[]  /* Vec < String > */
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'family_buckets_wrapper';

CREATE  FUNCTION "identity_edge_pairs"(
	"a" TEXT[], /* Vec < Option < String > > */
	"b" TEXT[], /* Vec < Option < String > > */
	"ips" TEXT[], /* Vec < Option < String > > */
	"observations" jsonb[] /* Vec < Option < JsonB > > */
) RETURNS TABLE (
	"a" TEXT,  /* String */
	"b" TEXT  /* String */
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'identity_edge_pairs_wrapper';

CREATE  FUNCTION "identity_link_reasons"(
	"a" jsonb, /* JsonB */
	"b" jsonb /* JsonB */
) RETURNS TABLE (
	"tier" TEXT,  /* & '_ str */
	"kind" TEXT,  /* String */
	"value" TEXT,  /* String */
	"weight" double precision  /* f64 */
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'identity_link_reasons_wrapper';

CREATE  FUNCTION "misp_event"(
	"facts" jsonb, /* JsonB */
	"scope" TEXT /* & str */
) RETURNS jsonb /* JsonB */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'misp_event_wrapper';

CREATE  FUNCTION "navigator_layer"(
	"activity" jsonb, /* JsonB */
	"scope" TEXT /* & str */
) RETURNS jsonb /* JsonB */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'navigator_layer_wrapper';

CREATE  FUNCTION "service_families"(
	"programs" TEXT[] /* Vec < Option < String > > */
) RETURNS TEXT[] /* Vec < String > */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'service_families_wrapper';

CREATE OR REPLACE FUNCTION @extschema@.identity_edges(scope inet[]) RETURNS TABLE (a inet, b inet)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    -- MATERIALIZED: the groups are cut to the usable ones before any self-join
    -- (a popular JA3 shared by 50,000 attackers would otherwise pair them all).
    -- The scope's values are a join, not IN (subquery): the planner ran that as
    -- a subplan rescanned for every signal row (quadratic; 1.7 s for 6,000 attackers).
    WITH scoped AS MATERIALIZED (
        SELECT DISTINCT m.kind, m.value FROM unnest(scope) AS t(ip) JOIN decnet.identity_signals m ON m.attacker_ip = t.ip
        WHERE scope IS NOT NULL
        UNION ALL
        SELECT DISTINCT s.kind, s.value FROM decnet.identity_signals s WHERE scope IS NULL
    ), usable AS MATERIALIZED (
        SELECT s.kind, s.value FROM scoped
        JOIN decnet.identity_signals s ON s.kind = scoped.kind AND s.value = scoped.value
        GROUP BY s.kind, s.value HAVING count(*) BETWEEN 2 AND decnet.identity_signal_max_attackers()
    ), members AS MATERIALIZED (
        SELECT s.kind, s.value, s.attacker_ip, (scope IS NULL OR mine.ip IS NOT NULL) AS mine FROM usable u
        JOIN decnet.identity_signals s ON s.kind = u.kind AND s.value = u.value
        LEFT JOIN unnest(scope) AS mine(ip) ON mine.ip = s.attacker_ip
    ), pairs AS MATERIALIZED (
        -- within each group, every pair with at least one end in scope; arrays
        -- per group, so the work is the pairs themselves whatever the planner
        -- guesses about the CTEs (a self-join of members went quadratic)
        SELECT DISTINCT least(x.ip, y.ip) AS a, greatest(x.ip, y.ip) AS b
        FROM (SELECT array_agg(m.attacker_ip) AS ips, array_agg(m.mine) AS mine FROM members m GROUP BY m.kind, m.value) g
        CROSS JOIN LATERAL unnest(g.ips, g.mine) WITH ORDINALITY AS x(ip, mine, i)
        CROSS JOIN LATERAL unnest(g.ips, g.mine) WITH ORDINALITY AS y(ip, mine, j)
        WHERE x.i < y.j AND x.ip <> y.ip AND (x.mine OR y.mine)
    ), obs AS MATERIALIZED (
        SELECT * FROM decnet.identity_observations(ARRAY(SELECT a FROM pairs UNION SELECT b FROM pairs))
    )
    SELECT e.a::inet, e.b::inet
    FROM decnet.identity_edge_pairs(ARRAY(SELECT p.a::text FROM pairs p ORDER BY p.a, p.b),
                                    ARRAY(SELECT p.b::text FROM pairs p ORDER BY p.a, p.b),
                                    ARRAY(SELECT o.attacker_ip::text FROM obs o), ARRAY(SELECT o.observation FROM obs o)) e;
END
$fn$;

CREATE FUNCTION @extschema@.store_identity_links(scope inet[], e_a inet[], e_b inet[]) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    stored integer;
BEGIN
    IF scope IS NULL THEN
        TRUNCATE decnet.identity_link_signals;
    ELSE
        DELETE FROM decnet.identity_link_signals l USING unnest(scope) AS t(ip) WHERE l.a = t.ip;
        DELETE FROM decnet.identity_link_signals l USING unnest(scope) AS t(ip) WHERE l.b = t.ip;
    END IF;
    IF coalesce(cardinality(e_a), 0) = 0 THEN
        RETURN 0;
    END IF;
    WITH obs AS MATERIALIZED (
        SELECT * FROM decnet.identity_observations(ARRAY(SELECT unnest(e_a) UNION SELECT unnest(e_b)))
    )
    INSERT INTO decnet.identity_link_signals (a, b, tier, kind, value, weight)
    SELECT least(x.a, x.b), greatest(x.a, x.b), r.tier, r.kind, r.value, r.weight
    FROM unnest(e_a, e_b) AS x(a, b)
    JOIN obs oa ON oa.attacker_ip = x.a
    JOIN obs ob ON ob.attacker_ip = x.b
    CROSS JOIN LATERAL decnet.identity_link_reasons(oa.observation, ob.observation) r
    ORDER BY 1, 2, 4, 5
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS stored = ROW_COUNT;
    RETURN stored;
END
$fn$;

CREATE FUNCTION @extschema@.identity_links(identity uuid)
RETURNS TABLE (a inet, b inet, tier text, kind text, value text, weight double precision, found_at timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT l.a, l.b, l.tier, l.kind, l.value, l.weight, l.found_at
    FROM decnet.identity_link_signals l
    JOIN decnet.identity_members ma ON ma.attacker_ip = l.a
    JOIN decnet.identity_members mb ON mb.attacker_ip = l.b
    WHERE ma.identity_id = decnet.resolve_identity(identity) AND mb.identity_id = ma.identity_id
    ORDER BY l.a, l.b, l.weight DESC, l.kind, l.value;
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
    PERFORM decnet.store_identity_links(batch, e_a, e_b);

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
    PERFORM decnet.store_identity_links(NULL, e_a, e_b);
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
    -- identities this pass joined raise their alerts now, not at their members' next rollup
    PERFORM decnet.raise_alerts(ARRAY(
        SELECT m.attacker_ip FROM decnet.identity_members m
        JOIN decnet.attacker_identities i ON i.uuid = m.identity_id AND i.member_count > 1 ORDER BY 1));
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
        CROSS JOIN decnet.campaign_handoff_rule() h  -- the rule's phases and window, stated in Rust
        WHERE x.last_phase = ANY (h.leaving) AND y.first_phase = ANY (h.arriving)
          AND y.first_ts BETWEEN x.last_ts AND x.last_ts + h.window_s
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

CREATE  FUNCTION "stix_bundle"(
	"facts" jsonb /* JsonB */
) RETURNS jsonb /* JsonB */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'stix_bundle_wrapper';

CREATE OR REPLACE FUNCTION @extschema@.mark_dirty(ips inet[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO decnet.dirty_attackers AS d (ip) SELECT DISTINCT ip FROM unnest(ips) AS t(ip) WHERE ip IS NOT NULL ORDER BY 1
    ON CONFLICT (ip) DO UPDATE SET marked_at = least(d.marked_at, excluded.marked_at);
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.merge_taken() RETURNS void
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
    -- services are families: auth-helper, sshd, sessrec and bash are all ssh (decnet.service_families)
    LEFT JOIN LATERAL (SELECT ns.ip IS NOT NULL AS changed, decnet.service_families(coalesce(array_agg(service), '{}')) AS services
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
    -- merged: a later take_queued() must not find these lines still taken
    PERFORM decnet.discard_taken();
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.rollup_attackers(batch inet[], signatures jsonb) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off
AS $fn$
DECLARE
    seen bigint := 0;
    max_lines integer := decnet.rollup_lines_max();
    signature_text text := signatures::text;  -- printed once, not once per attacker
BEGIN
    -- MATERIALIZED: computed once per attacker; inlined, the planner re-runs the
    -- functions (and their subqueries) for every column that reads a result.
    -- One read of each attacker's latest lines serves both the timing and the
    -- details: timing over its own lines among them (sensor observations, the
    -- sniffer's and prober's, duplicate them; lines at one instant are one
    -- action told by several programs, the PAM hook's auth_attempt and sshd's
    -- own line for one password: correction #57), details over all of them.
    WITH sampled AS MATERIALIZED (
        SELECT t.ip, r.all_lines, r.own_lines, r.stats, r.events
        FROM unnest(batch) AS t(ip)
        CROSS JOIN LATERAL (
            SELECT count(*) AS all_lines, count(*) FILTER (WHERE x.own) AS own_lines,
                   decnet.timing_stats(coalesce(array_agg(DISTINCT x.ts) FILTER (WHERE x.own), '{}')) AS stats,
                   json_agg(json_build_object('e', x.event_type, 's', x.service,
                                              't', (extract(epoch FROM x.ts) * 1000000)::bigint, 'f', x.fields) ORDER BY x.id) AS events
            FROM (SELECT l.id, l.event_type, l.service, l.ts, l.fields,
                         (l.service IS NULL OR NOT decnet.is_sensor_service(l.service)) AS own
                  FROM decnet.logs l WHERE l.attacker_ip = t.ip ORDER BY l.id DESC LIMIT max_lines) x
        ) r
    ), computed AS MATERIALIZED (
        SELECT w.ip, w.events, w.stats,
               -- its own lines are all counted; only an attacker the sample did not hold whole is read again
               CASE WHEN w.all_lines < max_lines THEN w.own_lines
                    ELSE (SELECT count(*) FROM decnet.logs l
                          WHERE l.attacker_ip = w.ip AND (l.service IS NULL OR NOT decnet.is_sensor_service(l.service)))
               END AS n,
               -- the services are the profile's service families, counted by the merge
               decnet.behavior_class((w.stats->>'event_count')::bigint, (w.stats->>'mean_iat_s')::float8,
                                     (w.stats->>'cv')::float8, coalesce(a.service_count, 0)) AS class
        FROM sampled w
        LEFT JOIN decnet.attackers a ON a.ip = w.ip
    ), detailed AS MATERIALIZED (
        SELECT c.ip, c.n, c.stats, c.class,
               decnet.behavior_details_of(c.events, (c.stats->>'mean_iat_s')::float8, (c.stats->>'cv')::float8, signature_text) AS d
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
    -- lines a burst of small transactions left queued (decnet.merge_behind_ms)
    PERFORM decnet.merge_queued();
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
    -- alerts of the drained attackers, in this transaction (docs/sharing.md)
    PERFORM decnet.raise_alerts(ARRAY(SELECT x FROM unnest(batch) AS x WHERE NOT x = ANY (failed)));

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

-- new statement (check it is safe to run on an existing install)
CREATE PROCEDURE @extschema@.rollup_backlog(budget_ms integer DEFAULT 50000, batch_size integer DEFAULT 1000)
LANGUAGE plpgsql
AS $fn$
DECLARE
    started timestamptz := pg_catalog.clock_timestamp();
    done record;
BEGIN
    IF budget_ms IS NULL OR budget_ms < 0 OR batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'rollup_backlog(%, %): budget_ms must be >= 0 and batch_size >= 1', budget_ms, batch_size
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The defaults drain for up to 50 s in batches of 1,000 attackers.';
    END IF;
    LOOP
        SELECT * INTO done FROM decnet.rollup(batch_size);
        COMMIT;
        EXIT WHEN done.remaining = 0
               OR pg_catalog.clock_timestamp() - started >= pg_catalog.make_interval(secs => budget_ms / 1000.0);
        IF done.attackers = 0 THEN
            PERFORM pg_catalog.pg_sleep(1);
        END IF;
    END LOOP;
END
$fn$;

-- new statement (check it is safe to run on an existing install)
REVOKE EXECUTE ON PROCEDURE @extschema@.rollup_backlog(integer, integer) FROM PUBLIC;

CREATE FUNCTION @extschema@.rfc3339(ts timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $fn$;

CREATE FUNCTION @extschema@.export_facts(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL,
                                         addresses inet[] DEFAULT NULL)
RETURNS TABLE (attacker_ip inet, facts jsonb)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT a.ip, jsonb_build_object(
        'ip', host(a.ip),
        'first_seen', decnet.rfc3339(coalesce(a.first_seen, a.created_at)),
        'last_seen', decnet.rfc3339(coalesce(a.last_seen, a.first_seen, a.created_at)),
        'event_count', a.event_count,
        'services', to_jsonb(a.services),
        'deckies', to_jsonb(a.deckies),
        'behavior_class', b.behavior_class,
        'country_code', a.country_code,
        'asn', a.asn,
        'fingerprints', jsonb_strip_nulls(jsonb_build_object(
            'ja3', fp.summary -> 'ja3_hashes', 'ja4', fp.summary -> 'ja4_hashes',
            'hassh', fp.summary -> 'hassh_hashes', 'tls_cert', fp.summary -> 'tls_cert_sha256')),
        'identity', i.uuid)
    FROM decnet.attackers a
    LEFT JOIN decnet.attacker_behavior b ON b.attacker_ip = a.ip
    LEFT JOIN decnet.identity_members m ON m.attacker_ip = a.ip
    LEFT JOIN decnet.attacker_identities i ON i.uuid = m.identity_id AND i.member_count > 1
    CROSS JOIN LATERAL (
        SELECT decnet.fingerprint_summary(coalesce(jsonb_agg(x.payload), '[]')) AS summary
        FROM decnet.bounties x WHERE x.attacker_ip = a.ip AND x.bounty_type = 'fingerprint') fp
    WHERE (since IS NULL OR coalesce(a.last_seen, a.first_seen, a.created_at) >= since)
      AND (until IS NULL OR coalesce(a.first_seen, a.created_at) < until)
      AND (addresses IS NULL OR a.ip = ANY (addresses))
    ORDER BY a.ip
$fn$;

CREATE FUNCTION @extschema@.export_scope(since timestamptz, until timestamptz, addresses inet[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT coalesce(nullif(concat_ws(' ',
        'since ' || decnet.rfc3339(since), 'until ' || decnet.rfc3339(until),
        'addresses ' || (SELECT string_agg(host(x), ',' ORDER BY x) FROM unnest(addresses) AS x)), ''), 'all attackers')
$fn$;

CREATE FUNCTION @extschema@.export_stix(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL,
                                        addresses inet[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT decnet.stix_bundle(coalesce(jsonb_agg(f.facts ORDER BY f.attacker_ip), '[]'))
    FROM decnet.export_facts(since, until, addresses) f
$fn$;

CREATE FUNCTION @extschema@.export_misp(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL,
                                        addresses inet[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT decnet.misp_event(coalesce(jsonb_agg(f.facts ORDER BY f.attacker_ip), '[]'),
                             decnet.export_scope(since, until, addresses))
    FROM decnet.export_facts(since, until, addresses) f
$fn$;

CREATE FUNCTION @extschema@.export_navigator(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL,
                                             addresses inet[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT decnet.navigator_layer(coalesce(jsonb_agg(jsonb_build_object(
               'commands', (SELECT coalesce(jsonb_agg(c.command), '[]') FROM decnet.attacker_commands c
                            WHERE c.attacker_ip = f.attacker_ip),
               'credentials', a.credential_count,
               'scanned', coalesce(cardinality(sb.scanned) > 0, false))), '[]'),
           decnet.export_scope(since, until, addresses))
    FROM decnet.export_facts(since, until, addresses) f
    JOIN decnet.attackers a ON a.ip = f.attacker_ip
    LEFT JOIN decnet.service_buckets sb ON sb.attacker_ip = f.attacker_ip
$fn$;

CREATE FUNCTION @extschema@.raise_alerts(batch inet[]) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    raised integer;
BEGIN
    -- nothing to check; or the extension is newer than the tables (a migration
    -- before V20 that rolls up, during decnet migrate)
    IF cardinality(batch) IS NULL OR cardinality(batch) = 0 OR to_regclass('decnet.alert_rules') IS NULL THEN
        RETURN 0;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM decnet.alert_rules WHERE enabled) THEN
        RETURN 0;
    END IF;
    WITH facts AS (
        SELECT f.attacker_ip, f.facts FROM decnet.export_facts(NULL, NULL, batch) f
    ), matches AS (
        SELECT r.id AS rule_id, r.kind, host(f.attacker_ip) AS match_key, f.attacker_ip,
               jsonb_build_object('attacker', f.facts, 'interacted', sb.interacted) AS detail
        FROM decnet.alert_rules r
        JOIN facts f ON true
        JOIN decnet.service_buckets sb ON sb.attacker_ip = f.attacker_ip
        WHERE r.enabled AND r.kind = 'interacted' AND cardinality(sb.interacted) > 0
        UNION ALL
        SELECT r.id, r.kind, host(f.attacker_ip), f.attacker_ip,
               jsonb_build_object('attacker', f.facts, 'decky_count', a.decky_count, 'traversal_path', a.traversal_path)
        FROM decnet.alert_rules r
        JOIN facts f ON true
        JOIN decnet.attackers a ON a.ip = f.attacker_ip
        WHERE r.enabled AND r.kind = 'traversal' AND a.decky_count >= r.threshold
        UNION ALL
        SELECT r.id, r.kind,
               decnet.index_key(concat_ws('|', host(x.attacker_ip), x.probe_type, x.port, x.new_hash, decnet.rfc3339(x.rotated_at))),
               f.attacker_ip,
               jsonb_build_object('attacker', f.facts, 'rotation', jsonb_build_object(
                   'probe_type', x.probe_type, 'port', x.port, 'old_hash', x.old_hash, 'new_hash', x.new_hash,
                   'rotated_at', decnet.rfc3339(x.rotated_at)))
        FROM decnet.alert_rules r
        JOIN facts f ON true
        JOIN decnet.fingerprint_rotations x ON x.attacker_ip = f.attacker_ip
        WHERE r.enabled AND r.kind = 'rotation'
        UNION ALL
        SELECT r.id, r.kind, decnet.index_key(host(f.attacker_ip) || '|' || lower(t.domain)), f.attacker_ip,
               jsonb_build_object('attacker', f.facts, 'domain', lower(t.domain), 'messages', t.count)
        FROM decnet.alert_rules r
        JOIN facts f ON true
        JOIN decnet.smtp_targets t ON t.attacker_ip = f.attacker_ip
        WHERE r.enabled AND r.kind = 'smtp_domain' AND lower(t.domain) = ANY (r.watch)
        UNION ALL
        SELECT DISTINCT ON (r.id, i.uuid) r.id, r.kind, i.uuid::text, f.attacker_ip,
               jsonb_build_object('attacker', f.facts, 'identity', i.uuid, 'member_count', i.member_count,
                                  'addresses', (SELECT to_jsonb(array_agg(host(o.attacker_ip) ORDER BY o.attacker_ip))
                                                FROM decnet.identity_members o WHERE o.identity_id = i.uuid))
        FROM decnet.alert_rules r
        JOIN facts f ON true
        JOIN decnet.identity_members m ON m.attacker_ip = f.attacker_ip
        JOIN decnet.attacker_identities i ON i.uuid = m.identity_id
        WHERE r.enabled AND r.kind = 'identity' AND i.merged_into IS NULL AND i.member_count >= r.threshold
    ), fresh AS (
        INSERT INTO decnet.alerts (rule_id, kind, match_key, attacker_ip, detail)
        SELECT rule_id, kind, match_key, attacker_ip, detail FROM matches ORDER BY rule_id, match_key
        ON CONFLICT (rule_id, match_key) DO NOTHING
        RETURNING id
    ), queued AS (
        INSERT INTO decnet.alert_outbox (alert_id, webhook)
        SELECT fresh.id, w.name FROM fresh CROSS JOIN decnet.alert_webhooks w WHERE w.enabled
        ORDER BY 1, 2
    )
    SELECT count(*) INTO raised FROM fresh;
    RETURN raised;
END
$fn$;

CREATE FUNCTION @extschema@.export_csv(what text) RETURNS SETOF text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    CASE what
    WHEN 'attackers' THEN
        RETURN NEXT 'ip,first_seen,last_seen,event_count,services,deckies,traversal_path,behavior_class,'
                    'country_code,asn,as_name,ptr_record,credential_count,command_count,identity';
        RETURN QUERY
        SELECT decnet.csv_line(ARRAY[host(a.ip), decnet.rfc3339(a.first_seen), decnet.rfc3339(a.last_seen),
                                     a.event_count::text, array_to_string(a.services, ' '),
                                     array_to_string(a.deckies, ' '), a.traversal_path, b.behavior_class,
                                     a.country_code, a.asn::text, a.as_name, a.ptr_record,
                                     a.credential_count::text, a.command_count::text, m.identity_id::text])
        FROM decnet.attackers a
        LEFT JOIN decnet.attacker_behavior b ON b.attacker_ip = a.ip
        LEFT JOIN decnet.identity_members m ON m.attacker_ip = a.ip
        ORDER BY a.ip;
    WHEN 'credentials' THEN
        RETURN NEXT 'attacker_ip,decky,service,principal,secret_kind,secret_sha256,outcome,attempt_count,first_seen,last_seen';
        RETURN QUERY
        SELECT decnet.csv_line(ARRAY[host(c.attacker_ip), c.decky, c.service, c.principal, c.secret_kind,
                                     c.secret_sha256, c.outcome, c.attempt_count::text,
                                     decnet.rfc3339(c.first_seen), decnet.rfc3339(c.last_seen)])
        FROM decnet.credentials c
        ORDER BY c.attacker_ip, c.id;
    WHEN 'smtp_domains' THEN
        RETURN NEXT 'domain,attacker_ip,messages,first_seen,last_seen';
        RETURN QUERY
        SELECT decnet.csv_line(ARRAY[t.domain, host(t.attacker_ip), t.count::text,
                                     decnet.rfc3339(t.first_seen), decnet.rfc3339(t.last_seen)])
        FROM decnet.smtp_targets t
        ORDER BY t.domain, t.attacker_ip;
    ELSE
        RAISE EXCEPTION 'export_csv(%): no such export', what
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Export attackers, credentials or smtp_domains; any table as JSON Lines with export_jsonl().';
    END CASE;
END
$fn$;

CREATE FUNCTION @extschema@.export_jsonl(relation text) RETURNS SETOF text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel regclass;
BEGIN
    SELECT c.oid INTO rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'decnet' AND c.relname = relation AND c.relkind IN ('r', 'p', 'v', 'm');
    IF rel IS NULL THEN
        RAISE EXCEPTION 'export_jsonl(%): schema decnet has no such table or view', relation
            USING ERRCODE = 'undefined_table',
                  HINT = 'Name a table or view of schema decnet, such as attackers, credentials or alerts.';
    END IF;
    RETURN QUERY EXECUTE format('SELECT to_jsonb(t)::text FROM %s t', rel);
END
$fn$;

COMMENT ON FUNCTION @extschema@.behavior_details_of(json, double precision, double precision, text) IS
'Per-attacker behaviour details (spec D.9-D.11) from its lines [{e, s, t, f}] in id order, its timing mean/cv and the OS signatures (decnet.os_signature_set()): os_guess, hop_distance, tcp_fingerprint, retransmit_count, kex_order_raw, ssh_client_banners, phase_sequence, tool_guesses.';

COMMENT ON FUNCTION @extschema@.behavior_details(jsonb, double precision, double precision, jsonb) IS
'behavior_details_of with jsonb arguments, as releases up to 0.5.0 call it: kept so their SQL works with a newer library until ALTER EXTENSION decnet UPDATE.';

COMMENT ON FUNCTION @extschema@.stats() IS 'One row for operators: lines ingested and flagged, attackers, live identities, dirty and PTR backlogs, how long the oldest dirty attacker has waited, lines waiting in the merge queue (decnet.merge_behind_ms), last rollup time and duration, time of the last line and idle time since, stale enrichment data, attackers whose rollup failed, pg_cron jobs missing for this database.';

COMMENT ON FUNCTION @extschema@.service_families(text[]) IS
'One attacker''s services from its programs (APP-NAMEs): sshd is ssh, login and telnetd telnet, smtp_relay smtp; auth-helper, sessrec, bash, sudo, su and systemd-journal join the attacker''s one login service (ssh or telnet), ssh otherwise. Sorted, distinct (correction #55).';

COMMENT ON FUNCTION @extschema@.family_buckets(text[], text[]) IS
'One attacker''s interacted and scanned services (families) from parallel arrays of decnet.attacker_services.service and bucket: a family takes the best bucket of its programs.';

-- new statement (check it is safe to run on an existing install)
COMMENT ON PROCEDURE @extschema@.rollup_backlog(integer, integer) IS
'The scheduled rollup (pg_cron decnet-rollup, every minute): CALL it to drain the whole dirty backlog in batches of batch_size attackers, each committed on its own, for up to budget_ms. Stops early when nothing is left; while another pass holds the rollup lock or every dirty attacker is still being written, it waits a second and tries again.';

COMMENT ON FUNCTION @extschema@.identity_link_reasons(jsonb, jsonb) IS 'Why two attacker observations are (or are not) one actor: one row per shared signal behind each contributing tier (high: a strong fingerprint, or a payload hash or C2 server; medium: the commands of the best phase; low: credentials; very_low: the AS; keystroke: the rhythm), with the tier''s weight. The distinct tiers'' weights add up to identity_similarity.';

COMMENT ON FUNCTION @extschema@.store_identity_links(inet[], inet[], inet[]) IS 'Internal (the identity passes): stores why each edge holds in decnet.identity_link_signals, replacing the scope''s rows (NULL: all).';

COMMENT ON FUNCTION @extschema@.identity_links(uuid) IS 'The links inside an identity (merged ids are followed): for each pair of its addresses an edge joined, every shared signal (tier, kind, value) and the tier''s weight. docs/identities.md.';

COMMENT ON FUNCTION @extschema@.identity_edge_pairs(text[], text[], text[], jsonb[]) IS 'Internal (identity_edges): the candidate pairs (a[i], b[i]) whose observations reach the edge threshold, each attacker''s observation (ips[k], observations[k]) read once.';

COMMENT ON FUNCTION @extschema@.campaign_handoff_rule() IS 'The campaign hand-off rule as Rust states it: the phases an identity leaves a decky in (leaving), those the next one starts there with (arriving), and the window in seconds. cluster_campaigns pre-filters candidate pairs with it.';

COMMENT ON FUNCTION @extschema@.rfc3339(timestamptz) IS 'A time as RFC 3339 UTC with milliseconds (2026-05-01T00:00:01.000Z), as STIX and MISP want it.';

COMMENT ON FUNCTION @extschema@.export_facts(timestamptz, timestamptz, inet[]) IS 'What the exports share of each attacker active in [since, until) (or of the listed addresses): address, times, totals, services, deckies, behaviour, country, AS, fingerprints and a multi-address identity. One JSON object per attacker.';

COMMENT ON FUNCTION @extschema@.export_scope(timestamptz, timestamptz, inet[]) IS 'Names an export (window and addresses) independently of the session time zone; a MISP event''s uuid is made from it.';

COMMENT ON FUNCTION @extschema@.export_stix(timestamptz, timestamptz, inet[]) IS 'A STIX 2.1 bundle of the attackers active in [since, until) or of the listed addresses: addresses, indicators, observed-data, fingerprint indicators, identities as infrastructure. Ids are UUIDv5: exporting twice gives the same ids. docs/sharing.md.';

COMMENT ON FUNCTION @extschema@.export_misp(timestamptz, timestamptz, inet[]) IS 'A MISP event (PyMISP / MISP import JSON) of the same attackers: ip-src, ja3-fingerprint-md5, hassh-md5, x509-fingerprint-sha256 and JA4 text attributes, with tags. docs/sharing.md.';

COMMENT ON FUNCTION @extschema@.export_csv(text) IS 'CSV lines, header first, of attackers, credentials (hashes, never secrets) or smtp_domains; attacker-written fields are defused against spreadsheet formulas.';

COMMENT ON FUNCTION @extschema@.export_jsonl(text) IS 'A table or view of schema decnet as JSON Lines (one object per row), read with the caller''s rights.';

COMMENT ON FUNCTION @extschema@.raise_alerts(inet[]) IS 'Internal (rollup, identity pass): checks these attackers against every enabled decnet.alert_rules row; each new match goes to decnet.alerts once per rule and key and to decnet.alert_outbox for every enabled webhook. Returns the alerts raised.';

COMMENT ON FUNCTION @extschema@.stix_bundle(jsonb) IS 'Internal (export_stix): the STIX 2.1 bundle of a JSON array of export_facts objects.';

COMMENT ON FUNCTION @extschema@.misp_event(jsonb, text) IS 'Internal (export_misp): the MISP event of a JSON array of export_facts objects; the scope text fixes its uuid.';

COMMENT ON FUNCTION @extschema@.csv_line(text[]) IS 'One CSV line of the fields (NULL: empty), quoted as RFC 4180 says; a field that starts like a formula gets a leading quote.';

COMMENT ON FUNCTION @extschema@.export_navigator(timestamptz, timestamptz, inet[]) IS 'An ATT&CK Navigator layer (4.5, Enterprise) of the attackers active in [since, until) or of the listed addresses: per technique, how many attackers showed it in their kept commands, credentials or scans. docs/sharing.md.';

COMMENT ON FUNCTION @extschema@.navigator_layer(jsonb, text) IS 'Internal (export_navigator): the Navigator layer of a JSON array of attacker activity (commands, credentials, scanned).';

DO $upgrade$
BEGIN
    REVOKE EXECUTE ON FUNCTION @extschema@.stats, @extschema@.behavior_details_of, @extschema@.campaign_handoff_rule, @extschema@.csv_line, @extschema@.family_buckets, @extschema@.identity_edge_pairs, @extschema@.identity_link_reasons, @extschema@.misp_event, @extschema@.navigator_layer, @extschema@.service_families, @extschema@.store_identity_links, @extschema@.identity_links, @extschema@.stix_bundle, @extschema@.rfc3339, @extschema@.export_facts, @extschema@.export_scope, @extschema@.export_stix, @extschema@.export_misp, @extschema@.export_navigator, @extschema@.raise_alerts, @extschema@.export_csv, @extschema@.export_jsonl FROM PUBLIC;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'decnet_analyst') THEN
        GRANT EXECUTE ON FUNCTION @extschema@.stats, @extschema@.behavior_details_of, @extschema@.campaign_handoff_rule, @extschema@.csv_line, @extschema@.family_buckets, @extschema@.identity_edge_pairs, @extschema@.identity_link_reasons, @extschema@.misp_event, @extschema@.navigator_layer, @extschema@.service_families, @extschema@.identity_links, @extschema@.stix_bundle, @extschema@.rfc3339, @extschema@.export_facts, @extschema@.export_scope, @extschema@.export_stix, @extschema@.export_misp, @extschema@.export_navigator, @extschema@.export_csv, @extschema@.export_jsonl TO decnet_analyst;
    END IF;
END
$upgrade$;
