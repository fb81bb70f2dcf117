-- Who is behind the addresses (issue 8, docs/identities.md). Tables live in
-- migrations/V9__identities.sql; the rules are Rust (decnet_core::identity).

-- ---- at ingest: rotations and IPv6 leaks ---------------------------------------

-- Called by logs_derive() once per statement, after the attackers of the
-- statement are locked. Merges the statement's prober observations into
-- fingerprint_state / fingerprint_rotations, in key order. A triple whose new
-- observations all come after its stored latest one is chained on from it; a
-- triple that got an older observation (late or replayed line) is recomputed
-- from its own lines, so the result always equals recomputed_fingerprint_*.
-- Sends one notification decnet_rotation (decnet.notify) for the statement when rotations are new.
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
-- IPv4 address a leak was tied to), their infrastructure (SHA-256 of captured
-- files, servers their kept commands reach), and candidate keys for the
-- weaker tiers: kept commands, credentials and 16-bit chunks of keystroke SimHashes.
-- (plpgsql, like every function here that reads a table: the tables are
-- created by the migrations, after the extension.)
CREATE FUNCTION @extschema@.identity_signals_of(ips inet[]) RETURNS TABLE (kind text, value text, attacker_ip inet)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    -- values are bounded (decnet.index_key): a hash or URL is attacker-written and
    -- keys decnet.identity_signals; equal values keep equal keys. Only values
    -- read from lines can be empty; the md5 and keystroke keys never are, and
    -- a filter on them would be pushed below the join into a scan of every
    -- attacker's rows (an md5 of all credentials per batch).
    SELECT DISTINCT s.kind, decnet.index_key(s.value), s.attacker_ip FROM (
        SELECT r.kind, r.value, r.attacker_ip FROM (
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
        ) r
        WHERE r.value IS NOT NULL AND r.value <> ''
        UNION ALL
        SELECT 'cmd', md5(c.command), c.attacker_ip FROM unnest(ips) AS t(ip) JOIN decnet.attacker_commands c ON c.attacker_ip = t.ip
        UNION ALL
        SELECT 'cred', md5(c.secret_sha256 || ':' || c.principal_key), c.attacker_ip
        FROM unnest(ips) AS t(ip) JOIN decnet.credentials c ON c.attacker_ip = t.ip
        UNION ALL
        SELECT 'kd' || n, substr(encode(p.kd_simhash, 'hex'), n * 4 + 1, 4), p.attacker_ip
        FROM unnest(ips) AS t(ip) JOIN decnet.session_profiles p ON p.attacker_ip = t.ip CROSS JOIN generate_series(0, 3) AS n
        WHERE p.kd_simhash IS NOT NULL
    ) s;
END
$fn$;

-- What the identity rules compare, per attacker (decnet_core Observation):
-- typed, so SQL and Rust share the field names and types, not a jsonb layout.
CREATE TYPE @extschema@.identity_observation AS (
    fingerprints text[],          -- strong fingerprints as kind:value (ja3, ja4, hassh, tls_cert, mac)
    payload_hashes text[],        -- SHA-256 of files and mails left
    c2_endpoints text[],          -- host:port the kept commands reach out to
    command_phases text[],        -- kill-chain phase of each of commands ('other' when none)
    commands text[],
    credential_principals text[], -- principal of each credential
    credential_secrets text[],    -- SHA-256 of each credential's secret
    asn bigint,
    kd_simhash bytea              -- keystroke centroid (8 bytes)
);

-- What campaign_edge_pairs() compares, per identity (decnet_core CampaignView).
CREATE TYPE @extschema@.campaign_features AS (
    phase_deckies text[],         -- the deckies the members ran phased commands on
    first_phases text[],          -- per decky: first phase and its time (epoch seconds)
    first_times double precision[],
    last_phases text[],           -- per decky: last phase and its time
    last_times double precision[],
    window_starts double precision[],  -- each member's first and last seen (epoch seconds)
    window_ends double precision[],
    cohort text[],                -- asn:N, decky:D, tool:T of the members
    infrastructure text[],        -- payload:H and c2:host:port of the members
    kd_simhash bytea              -- keystroke centroid (8 bytes)
);

-- Set-based joins, not per-attacker subqueries: the full pass asks for every attacker.
CREATE FUNCTION @extschema@.identity_observations(ips inet[])
RETURNS TABLE (attacker_ip inet, observation @extschema@.identity_observation)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH wanted AS MATERIALIZED (
        SELECT DISTINCT t.ip FROM unnest(ips) AS t(ip)
    ), fps AS (
        SELECT s.attacker_ip, array_agg(s.kind || ':' || s.value) AS v
        FROM wanted w JOIN decnet.identity_signals s ON s.attacker_ip = w.ip
        WHERE s.kind IN ('ja3', 'ja4', 'hassh', 'tls_cert', 'mac')
        GROUP BY s.attacker_ip
    ), infra AS (
        SELECT s.attacker_ip,
               coalesce(array_agg(s.value) FILTER (WHERE s.kind = 'payload'), '{}') AS payload,
               coalesce(array_agg(s.value) FILTER (WHERE s.kind = 'c2'), '{}') AS c2
        FROM wanted w JOIN decnet.identity_signals s ON s.attacker_ip = w.ip
        WHERE s.kind IN ('payload', 'c2')
        GROUP BY s.attacker_ip
    ), cmds AS (
        SELECT x.attacker_ip, array_agg(x.phase) AS phases, array_agg(x.command) AS commands
        FROM (SELECT DISTINCT c.attacker_ip, coalesce(decnet.command_phase(c.command), 'other') AS phase, c.command
              FROM wanted w JOIN decnet.attacker_commands c ON c.attacker_ip = w.ip) x
        GROUP BY x.attacker_ip
    ), creds AS (
        SELECT x.attacker_ip, array_agg(x.principal_key) AS principals, array_agg(x.secret_sha256) AS secrets
        FROM (SELECT DISTINCT c.attacker_ip, c.principal_key, c.secret_sha256
              FROM wanted w JOIN decnet.credentials c ON c.attacker_ip = w.ip) x
        GROUP BY x.attacker_ip
    ), kd AS (
        SELECT p.attacker_ip, decnet.kd_centroid(p.kd_simhash) AS v
        FROM wanted w JOIN decnet.session_profiles p ON p.attacker_ip = w.ip
        WHERE p.kd_simhash IS NOT NULL
        GROUP BY p.attacker_ip
    )
    SELECT a.ip, ROW(coalesce(fps.v, '{}'), coalesce(infra.payload, '{}'), coalesce(infra.c2, '{}'),
                     coalesce(cmds.phases, '{}'), coalesce(cmds.commands, '{}'),
                     coalesce(creds.principals, '{}'), coalesce(creds.secrets, '{}'),
                     a.asn, kd.v)::decnet.identity_observation
    FROM wanted w
    JOIN decnet.attackers a ON a.ip = w.ip
    LEFT JOIN fps ON fps.attacker_ip = a.ip
    LEFT JOIN infra ON infra.attacker_ip = a.ip
    LEFT JOIN cmds ON cmds.attacker_ip = a.ip
    LEFT JOIN creds ON creds.attacker_ip = a.ip
    LEFT JOIN kd ON kd.attacker_ip = a.ip;
END
$fn$;

-- Recomputes the rolled-up columns of identities from their members: time
-- span, fingerprints (DECNET decnet/profiler/identity_rollup.py, every bounty of every member), leaked
-- link-local interface ids (deduplicated by address) and keystroke centroid.
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

-- Identity edges of some attackers: pairs that share a signal value few
-- attackers have (the candidates), kept when identity_group_edges() says they
-- are one actor. scope NULL: among all attackers (the full pass).
CREATE FUNCTION @extschema@.identity_edges(scope inet[]) RETURNS TABLE (a inet, b inet)
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
    ), grouped AS (
        -- one pass, so the three arrays line up. The pairs are made in Rust:
        -- in SQL, making, sorting and deduplicating the 35,000 pairs of a
        -- 1,000-attacker batch took 190 ms of its 230.
        SELECT array_agg(g.grp) AS groups, array_agg(g.attacker_ip::text) AS attackers, array_agg(g.mine) AS in_scope
        FROM (SELECT dense_rank() OVER (ORDER BY m.kind, m.value) AS grp, m.attacker_ip, m.mine FROM members m) g
    ), obs AS (
        SELECT array_agg(o.attacker_ip::text) AS ips, array_agg(o.observation) AS observations
        FROM decnet.identity_observations(ARRAY(SELECT DISTINCT m.attacker_ip FROM members m)) o
    )
    SELECT e.a::inet, e.b::inet
    FROM grouped g CROSS JOIN obs o
    CROSS JOIN LATERAL decnet.identity_group_edges(g.groups, g.attackers, g.in_scope, o.ips, o.observations) e;
END
$fn$;

-- Why the edges hold (issue 18): each shared signal behind each edge
-- (decnet.identity_link_reasons), stored in place of what was stored for the
-- scope's attackers (scope NULL: everyone, the full pass).
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

-- The links inside one identity (a merged id is followed to the live one):
-- for each pair of its addresses that an edge joined, every shared signal,
-- its tier and the tier's weight. An identity is the connected component of
-- these edges, so every member appears in at least one row once it has two.
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

-- Incremental pass, run by decnet.rollup() for the attackers it drained:
-- refreshes their signals, finds their edges, and merges the components they
-- join. Merges only ever grow identities (the smallest existing uuid wins, the
-- others point to it through merged_into); the full pass,
-- decnet.recluster_identities(), also splits what no longer holds together.
-- (The passes run with client_min_messages = warning: their temp-table
-- housekeeping would otherwise send "does not exist, skipping" notices.)
CREATE FUNCTION @extschema@.resolve_identities(batch inet[])
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

-- Full pass: every attacker's signals and edges from scratch, components
-- regrouped. Identity ids stay stable (keep_previous_groups): a component
-- carries on the identity most of its members had; an identity that lost its
-- members to another merges into it, and one whose members no longer hold
-- together splits (the part that keeps it, and new identities for the rest).
-- Waits for a running rollup.
CREATE FUNCTION @extschema@.recluster_identities()
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

-- Groups live identities into campaigns (DECNET decnet/clustering/campaign/impl/) from scratch: candidate
-- pairs are identities handing a decky over (one leaves it with C2 or
-- persistence, the other starts there with discovery or lateral movement
-- within 24 h) and identities whose keystroke centroids share a 16-bit chunk;
-- campaign_edge_pairs() decides. Components of two or more identities are
-- campaigns; ids stay stable as in recluster_identities(). Waits for a running rollup.
CREATE FUNCTION @extschema@.cluster_campaigns()
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
    -- what campaign_edge_pairs() compares, per live identity (grouped joins, one pass each)
    CREATE TEMP TABLE decnet_views ON COMMIT DROP AS
        WITH live AS MATERIALIZED (
            SELECT i.uuid, i.kd_digraph_simhash FROM decnet.attacker_identities i
            WHERE i.merged_into IS NULL AND i.member_count > 0
        ), phases AS (
            SELECT p.identity_id, array_agg(p.decky) AS deckies,
                   array_agg(p.first_phase) AS first_phases, array_agg(p.first_ts) AS first_times,
                   array_agg(p.last_phase) AS last_phases, array_agg(p.last_ts) AS last_times
            FROM decnet_phases p GROUP BY p.identity_id
        ), windows AS (
            SELECT m.identity_id, array_agg(extract(epoch FROM a.first_seen)::float8) AS starts,
                   array_agg(extract(epoch FROM a.last_seen)::float8) AS ends
            FROM live l JOIN decnet.identity_members m ON m.identity_id = l.uuid JOIN decnet.attackers a ON a.ip = m.attacker_ip
            WHERE a.first_seen IS NOT NULL GROUP BY m.identity_id
        ), infra AS (
            SELECT m.identity_id, array_agg(DISTINCT s.kind || ':' || s.value) AS i
            FROM live l JOIN decnet.identity_members m ON m.identity_id = l.uuid
            JOIN decnet.identity_signals s ON s.attacker_ip = m.attacker_ip AND s.kind IN ('payload', 'c2')
            GROUP BY m.identity_id
        ), cohort AS (
            SELECT m.identity_id, array_agg(DISTINCT c.x) AS c
            FROM live l JOIN decnet.identity_members m ON m.identity_id = l.uuid
            JOIN decnet.attackers a ON a.ip = m.attacker_ip
            LEFT JOIN decnet.attacker_behavior b ON b.attacker_ip = m.attacker_ip
            CROSS JOIN LATERAL (SELECT 'asn:' || a.asn WHERE a.asn IS NOT NULL
                                UNION ALL SELECT 'decky:' || d FROM unnest(a.deckies) d
                                UNION ALL SELECT 'tool:' || t FROM unnest(b.tool_guesses) t) AS c(x)
            GROUP BY m.identity_id
        )
        SELECT l.uuid, encode(l.kd_digraph_simhash, 'hex') AS kd,
               ROW(coalesce(ph.deckies, '{}'), coalesce(ph.first_phases, '{}'), coalesce(ph.first_times, '{}'),
                   coalesce(ph.last_phases, '{}'), coalesce(ph.last_times, '{}'),
                   coalesce(w.starts, '{}'), coalesce(w.ends, '{}'), coalesce(co.c, '{}'), coalesce(inf.i, '{}'),
                   l.kd_digraph_simhash)::decnet.campaign_features AS features
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
    ), pairs AS MATERIALIZED (
        SELECT c.a::text AS a, c.b::text AS b FROM candidates c
    ), edges AS (
        -- each identity's features read once, not once per candidate pair it is in
        SELECT e.a, e.b
        FROM decnet.campaign_edge_pairs(ARRAY(SELECT p.a FROM pairs p ORDER BY p.a, p.b),
                                        ARRAY(SELECT p.b FROM pairs p ORDER BY p.a, p.b),
                                        ARRAY(SELECT v.uuid::text FROM decnet_views v ORDER BY v.uuid),
                                        ARRAY(SELECT v.features FROM decnet_views v ORDER BY v.uuid)) e
    )
    SELECT array_agg(a), array_agg(b), count(*) INTO g_a, g_b, n_edges FROM edges;

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
