-- Who is behind the addresses (issue 8, docs/identities.md). Tables live in
-- migrations/V9__identities.sql; the rules are Rust (decnet_core::identity).

-- ---- at ingest: rotations and IPv6 leaks ---------------------------------------

-- Called by logs_derive() once per statement, after the attackers of the
-- statement are locked. Merges the statement's prober observations into
-- fingerprint_state / fingerprint_rotations, in key order. A triple whose new
-- observations all come after its stored latest one is chained on from it; a
-- triple that got an older observation (late or replayed line) is recomputed
-- from its own lines, so the result always equals recomputed_fingerprint_*.
-- Sends one NOTIFY decnet_rotation for the statement when rotations are new.
CREATE FUNCTION @extschema@.merge_probe_observations() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    o_ip inet[]; o_type text[]; o_port integer[]; o_ts timestamptz[]; o_hash text[]; o_id bigint[];
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

    CREATE TEMP TABLE IF NOT EXISTS decnet_probe_late (attacker_ip inet, probe_type text, port integer) ON COMMIT DROP;
    TRUNCATE decnet_probe_late;
    INSERT INTO decnet_probe_late
        SELECT DISTINCT o.ip, o.t, o.p
        FROM unnest(o_ip, o_type, o_port, o_ts, o_hash) AS o(ip, t, p, ts, h)
        JOIN decnet.fingerprint_state s ON s.attacker_ip = o.ip AND s.probe_type = o.t AND s.port = o.p
        WHERE (o.ts, o.h) < (s.last_seen, s.last_hash);

    -- in-order triples: chain on from the stored latest hash
    WITH obs AS (
        SELECT ip, t, p, ts, h, min(id) AS id, count(*) AS n
        FROM unnest(o_ip, o_type, o_port, o_ts, o_hash, o_id) AS o(ip, t, p, ts, h, id)
        WHERE NOT EXISTS (SELECT 1 FROM decnet_probe_late l WHERE l.attacker_ip = o.ip AND l.probe_type = o.t AND l.port = o.p)
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

    -- late triples (rare): recompute each from its lines
    FOR late IN SELECT * FROM decnet_probe_late ORDER BY 1, 2, 3 LOOP
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

-- Called by logs_derive() once per statement: the statement's IPv6 link-local
-- leaks, then the five leak columns of their attackers.
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

-- ---- identities ----------------------------------------------------------------

-- A signal value shared by more attackers than this is a tool's, not an
-- actor's (a popular client's JA3, `uname -a`): it never links anything.
CREATE FUNCTION @extschema@.identity_signal_max_attackers() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 50 $$;

-- A jsonb array of strings as text[]; NULL for anything else (JSON null included).
CREATE FUNCTION @extschema@.json_text_array(v jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(v)) END $$;

-- The identity signals of some attackers, from what they left: the strong
-- fingerprints of their bounties (through fingerprint_summary, the one place
-- that knows the payload keys), the MACs of their EUI-64 leaks (also for the
-- IPv4 address a leak was tied to), and candidate keys for the weaker tiers:
-- kept commands, credentials and 16-bit chunks of keystroke SimHashes.
-- (plpgsql, like every function here that reads a table: the tables are
-- created by the migrations, after the extension.)
CREATE FUNCTION @extschema@.identity_signals_of(ips inet[]) RETURNS TABLE (kind text, value text, attacker_ip inet)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT DISTINCT s.kind, s.value, s.attacker_ip FROM (
        SELECT kv.kind, v.value, f.attacker_ip
        FROM (SELECT b.attacker_ip, decnet.fingerprint_summary(jsonb_agg(b.payload)) AS summary
              FROM decnet.bounties b
              WHERE b.attacker_ip = ANY (ips) AND b.bounty_type = 'fingerprint'
              GROUP BY b.attacker_ip) f
        CROSS JOIN (VALUES ('ja3', 'ja3_hashes'), ('ja4', 'ja4_hashes'), ('hassh', 'hassh_hashes'),
                           ('tls_cert', 'tls_cert_sha256')) AS kv(kind, col)
        CROSS JOIN LATERAL unnest(decnet.json_text_array(f.summary -> kv.col)) AS v(value)
        UNION ALL
        SELECT 'mac', l.mac, l.attacker_ip FROM decnet.attacker_ipv6_leaks l
        WHERE l.attacker_ip = ANY (ips) AND l.mac IS NOT NULL
        UNION ALL
        SELECT 'mac', l.mac, v4 FROM decnet.attacker_ipv6_leaks l CROSS JOIN LATERAL unnest(l.attacker_v4) AS v4
        WHERE l.attacker_v4 && ips AND v4 = ANY (ips) AND l.mac IS NOT NULL
        UNION ALL
        SELECT 'cmd', md5(c.command), c.attacker_ip FROM decnet.attacker_commands c WHERE c.attacker_ip = ANY (ips)
        UNION ALL
        SELECT 'cred', md5(c.secret_sha256 || ':' || c.principal_key), c.attacker_ip FROM decnet.credentials c
        WHERE c.attacker_ip = ANY (ips)
        UNION ALL
        SELECT 'kd' || n, substr(encode(p.kd_simhash, 'hex'), n * 4 + 1, 4), p.attacker_ip
        FROM decnet.session_profiles p CROSS JOIN generate_series(0, 3) AS n
        WHERE p.attacker_ip = ANY (ips) AND p.kd_simhash IS NOT NULL
    ) s
    WHERE s.value IS NOT NULL AND s.value <> '';
END
$fn$;

-- What identity_similarity() compares, per attacker (decnet_core Observation).
CREATE FUNCTION @extschema@.identity_observations(ips inet[]) RETURNS TABLE (attacker_ip inet, observation jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT a.ip, jsonb_build_object(
        'fingerprints', coalesce((SELECT jsonb_agg(s.kind || ':' || s.value) FROM decnet.identity_signals s
                                  WHERE s.attacker_ip = a.ip AND s.kind IN ('ja3', 'ja4', 'hassh', 'tls_cert', 'mac')), '[]'),
        'commands', coalesce((SELECT jsonb_object_agg(phase, commands)
                              FROM (SELECT coalesce(decnet.command_phase(c.command), 'other') AS phase,
                                           jsonb_agg(DISTINCT c.command) AS commands
                                    FROM decnet.attacker_commands c WHERE c.attacker_ip = a.ip GROUP BY 1) x), '{}'),
        'credentials', coalesce((SELECT jsonb_agg(DISTINCT jsonb_build_array(c.principal_key, c.secret_sha256))
                                 FROM decnet.credentials c WHERE c.attacker_ip = a.ip), '[]'),
        'asn', a.asn,
        'kd', (SELECT encode(decnet.kd_centroid(p.kd_simhash), 'hex') FROM decnet.session_profiles p
               WHERE p.attacker_ip = a.ip AND p.kd_simhash IS NOT NULL))
    FROM decnet.attackers a WHERE a.ip = ANY (ips);
END
$fn$;

-- Recomputes the rolled-up columns of identities from their members: time
-- span, fingerprints (spec D.12, every bounty of every member), leaked
-- link-local interface ids (deduplicated by address) and keystroke centroid.
CREATE FUNCTION @extschema@.refresh_identities(ids uuid[]) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n integer;
BEGIN
    UPDATE decnet.attacker_identities i SET
        member_count = s.n, first_seen = s.first_seen, last_seen = s.last_seen,
        ja3_hashes = decnet.json_text_array(f.summary -> 'ja3_hashes'),
        ja4_hashes = decnet.json_text_array(f.summary -> 'ja4_hashes'),
        hassh_hashes = decnet.json_text_array(f.summary -> 'hassh_hashes'),
        tls_cert_sha256 = decnet.json_text_array(f.summary -> 'tls_cert_sha256'),
        ja4h_hashes = decnet.json_text_array(f.summary -> 'ja4h_hashes'),
        ja4_quic_hashes = decnet.json_text_array(f.summary -> 'ja4_quic_hashes'),
        ipv6_link_local_iids = lk.iids, kd_digraph_simhash = kd.centroid, updated_at = now()
    FROM unnest(ids) AS t(id)
    CROSS JOIN LATERAL (SELECT count(*)::integer AS n, min(a.first_seen) AS first_seen, max(a.last_seen) AS last_seen
                        FROM decnet.identity_members m JOIN decnet.attackers a ON a.ip = m.attacker_ip
                        WHERE m.identity_id = t.id) s
    CROSS JOIN LATERAL (SELECT decnet.fingerprint_summary(coalesce(jsonb_agg(b.payload), '[]')) AS summary
                        FROM decnet.identity_members m
                        JOIN decnet.bounties b ON b.attacker_ip = m.attacker_ip AND b.bounty_type = 'fingerprint'
                        WHERE m.identity_id = t.id) f
    CROSS JOIN LATERAL (SELECT jsonb_agg(jsonb_build_object('iid', host(x.link_local), 'oui', x.mac_oui, 'kind', x.iid_kind,
                                                            'first_seen', x.first_seen) ORDER BY x.link_local) AS iids
                        FROM (SELECT l.link_local, min(l.mac_oui) AS mac_oui, min(l.iid_kind) AS iid_kind, min(l.first_seen) AS first_seen
                              FROM decnet.identity_members m JOIN decnet.attacker_ipv6_leaks l ON l.attacker_ip = m.attacker_ip
                              WHERE m.identity_id = t.id GROUP BY l.link_local) x) lk
    CROSS JOIN LATERAL (SELECT decnet.kd_centroid(p.kd_simhash) AS centroid
                        FROM decnet.identity_members m JOIN decnet.session_profiles p ON p.attacker_ip = m.attacker_ip
                        WHERE m.identity_id = t.id AND p.kd_simhash IS NOT NULL) kd
    WHERE i.uuid = t.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;

-- Identity edges of some attackers: pairs that share a signal value few
-- attackers have (the candidates), kept when identity_edge() says they are one
-- actor. scope NULL: among all attackers (the full pass).
CREATE FUNCTION @extschema@.identity_edges(scope inet[]) RETURNS TABLE (a inet, b inet)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH usable AS (
        SELECT s.kind, s.value FROM decnet.identity_signals s
        WHERE scope IS NULL OR (s.kind, s.value) IN (SELECT kind, value FROM decnet.identity_signals WHERE attacker_ip = ANY (scope))
        GROUP BY s.kind, s.value HAVING count(*) BETWEEN 2 AND decnet.identity_signal_max_attackers()
    ), pairs AS (
        SELECT DISTINCT x.attacker_ip AS a, y.attacker_ip AS b
        FROM usable u
        JOIN decnet.identity_signals x ON x.kind = u.kind AND x.value = u.value
        JOIN decnet.identity_signals y ON y.kind = u.kind AND y.value = u.value AND y.attacker_ip > x.attacker_ip
        WHERE scope IS NULL OR x.attacker_ip = ANY (scope) OR y.attacker_ip = ANY (scope)
    ), obs AS MATERIALIZED (
        SELECT * FROM decnet.identity_observations(ARRAY(SELECT a FROM pairs UNION SELECT b FROM pairs))
    )
    SELECT p.a, p.b FROM pairs p
    JOIN obs oa ON oa.attacker_ip = p.a
    JOIN obs ob ON ob.attacker_ip = p.b
    WHERE decnet.identity_edge(oa.observation, ob.observation);
END
$fn$;

-- Incremental pass, run by decnet.rollup() for the attackers it drained:
-- refreshes their signals, finds their edges, and merges the components they
-- join. Merges only ever grow identities (the smallest existing uuid wins, the
-- others point to it through merged_into); the full pass,
-- decnet.recluster_identities(), also splits what no longer holds together.
CREATE FUNCTION @extschema@.resolve_identities(batch inet[])
RETURNS TABLE (attackers integer, edges integer, identities integer, merges integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off
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
    batch := ARRAY(SELECT a.ip FROM decnet.attackers a WHERE a.ip = ANY (batch) ORDER BY a.ip);
    IF cardinality(batch) = 0 THEN
        RETURN QUERY SELECT 0, 0, 0, 0;
        RETURN;
    END IF;
    DELETE FROM decnet.identity_signals s WHERE s.attacker_ip = ANY (batch);
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

-- Full pass: every attacker's signals and edges from scratch, components
-- regrouped. Identity ids stay stable (keep_previous_groups): a component
-- carries on the identity most of its members had; an identity that lost its
-- members to another merges into it, and one whose members no longer hold
-- together splits (the part that keeps it, and new identities for the rest).
-- Waits for a running rollup.
CREATE FUNCTION @extschema@.recluster_identities()
RETURNS TABLE (attackers integer, edges integer, identities integer, merges integer, duration_ms double precision)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off
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
    DELETE FROM decnet.identity_members m WHERE NOT (m.attacker_ip = ANY (everyone));

    PERFORM decnet.refresh_identities(ARRAY(SELECT winner FROM decnet_winners ORDER BY 1));
    INSERT INTO decnet.identity_runs (started_at, duration_ms, mode, attackers, edges, identities, merges)
    VALUES (started, extract(epoch FROM clock_timestamp() - started) * 1000, 'full', cardinality(everyone), n_edges, n_ids, n_merges);
    RETURN QUERY SELECT cardinality(everyone), n_edges, n_ids, n_merges,
                        (extract(epoch FROM clock_timestamp() - started) * 1000)::double precision;
END
$fn$;

-- The live identity an identity uuid stands for now: follows merged_into.
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

-- The identity of an attacker address (NULL until a rollup resolved it).
CREATE FUNCTION @extschema@.identity_of(ip inet) RETURNS uuid
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN (SELECT m.identity_id FROM decnet.identity_members m WHERE m.attacker_ip = ip);
END
$fn$;

-- ---- campaigns -----------------------------------------------------------------

-- Groups live identities into campaigns (spec G.5) from scratch: candidate
-- pairs are identities handing a decky over (one leaves it with C2 or
-- persistence, the other starts there with discovery or lateral movement
-- within 24 h) and identities whose keystroke centroids share a 16-bit chunk;
-- campaign_edge() decides. Components of two or more identities are
-- campaigns; ids stay stable as in recluster_identities(). Waits for a running rollup.
CREATE FUNCTION @extschema@.cluster_campaigns()
RETURNS TABLE (identities integer, edges integer, campaigns integer, duration_ms double precision)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off
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
    DROP TABLE IF EXISTS pg_temp.decnet_phases, pg_temp.decnet_views, pg_temp.decnet_components,
                         pg_temp.decnet_kept, pg_temp.decnet_winners;
    -- first and last kill-chain phase per (identity, decky), from the members' kept commands
    CREATE TEMP TABLE decnet_phases ON COMMIT DROP AS
        SELECT m.identity_id, c.decky,
               (array_agg(decnet.command_phase(c.command) ORDER BY c.ts, c.log_id))[1] AS first_phase,
               extract(epoch FROM min(c.ts))::float8 AS first_ts,
               (array_agg(decnet.command_phase(c.command) ORDER BY c.ts DESC, c.log_id DESC))[1] AS last_phase,
               extract(epoch FROM max(c.ts))::float8 AS last_ts
        FROM decnet.identity_members m
        JOIN decnet.attacker_commands c ON c.attacker_ip = m.attacker_ip
        WHERE c.decky IS NOT NULL AND c.ts IS NOT NULL AND decnet.command_phase(c.command) IS NOT NULL
        GROUP BY m.identity_id, c.decky;
    CREATE TEMP TABLE decnet_views ON COMMIT DROP AS
        SELECT i.uuid, encode(i.kd_digraph_simhash, 'hex') AS kd, jsonb_build_object(
                   'first', (SELECT jsonb_object_agg(p.decky, jsonb_build_array(p.first_phase, p.first_ts)) FROM decnet_phases p WHERE p.identity_id = i.uuid),
                   'last', (SELECT jsonb_object_agg(p.decky, jsonb_build_array(p.last_phase, p.last_ts)) FROM decnet_phases p WHERE p.identity_id = i.uuid),
                   'windows', (SELECT jsonb_agg(jsonb_build_array(extract(epoch FROM a.first_seen), extract(epoch FROM a.last_seen)))
                               FROM decnet.identity_members m JOIN decnet.attackers a ON a.ip = m.attacker_ip
                               WHERE m.identity_id = i.uuid AND a.first_seen IS NOT NULL),
                   'cohort', (SELECT jsonb_agg(DISTINCT x) FROM decnet.identity_members m
                              JOIN decnet.attackers a ON a.ip = m.attacker_ip
                              LEFT JOIN decnet.attacker_behavior b ON b.attacker_ip = m.attacker_ip
                              CROSS JOIN LATERAL (SELECT 'asn:' || a.asn WHERE a.asn IS NOT NULL
                                                  UNION ALL SELECT 'decky:' || d FROM unnest(a.deckies) d
                                                  UNION ALL SELECT 'tool:' || t FROM unnest(b.tool_guesses) t) AS c(x)
                              WHERE m.identity_id = i.uuid),
                   'kd', encode(i.kd_digraph_simhash, 'hex')) AS features
        FROM decnet.attacker_identities i
        WHERE i.merged_into IS NULL AND i.member_count > 0;
    n_identities := (SELECT count(*) FROM decnet_views);

    WITH candidates AS (
        SELECT DISTINCT least(x.identity_id, y.identity_id) AS a, greatest(x.identity_id, y.identity_id) AS b
        FROM decnet_phases x JOIN decnet_phases y ON y.decky = x.decky AND y.identity_id <> x.identity_id
        WHERE x.last_phase IN ('command_and_control', 'persistence') AND y.first_phase IN ('discovery', 'lateral_movement')
          AND y.first_ts BETWEEN x.last_ts AND x.last_ts + 86400
        UNION
        SELECT DISTINCT least(x.uuid, y.uuid), greatest(x.uuid, y.uuid)
        FROM decnet_views x JOIN decnet_views y ON y.uuid > x.uuid
         AND (substr(x.kd, 1, 4) = substr(y.kd, 1, 4) OR substr(x.kd, 5, 4) = substr(y.kd, 5, 4)
              OR substr(x.kd, 9, 4) = substr(y.kd, 9, 4) OR substr(x.kd, 13, 4) = substr(y.kd, 13, 4))
        WHERE x.kd IS NOT NULL AND y.kd IS NOT NULL
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
