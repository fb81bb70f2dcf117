-- Derivation code: the statement-level trigger that merges each statement's
-- delta into the derived tables, rebuild()/verify(), the gossip query, and two
-- small helpers of the recomputation views. The per-line rules themselves are
-- Rust (decnet-core), exposed as functions. The tables are created by the
-- migrations; plpgsql binds to them at run time.

-- ---- helpers -----------------------------------------------------------------

-- Fingerprint bounties rolled up into attackers.fingerprints (the first N by time).
CREATE FUNCTION @extschema@.fingerprints_kept() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 100 $$;

-- Cheap pre-filter for the recomputation: only lines with one of these keys
-- (decnet-core's list) can yield a bounty or credential.
CREATE FUNCTION @extschema@.may_have_bounty(event_type text, fields jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT fields OPERATOR(pg_catalog.?|) @extschema@.bounty_keys() OR event_type = ANY (@extschema@.bounty_event_types()) $$;

-- Marks attackers for the next decnet.rollup(). An upsert, not DO NOTHING: it
-- row-locks each mark until the caller commits, and the rollup skips locked
-- marks, so it never drains a mark whose lines it cannot see yet. Key order,
-- like every other writer. A mark keeps the time it was first set, so
-- stats().oldest_dirty_age is how long the rollup has kept someone waiting.
CREATE FUNCTION @extschema@.mark_dirty(ips inet[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO decnet.dirty_attackers AS d (ip) SELECT DISTINCT ip FROM unnest(ips) AS t(ip) WHERE ip IS NOT NULL ORDER BY 1
    ON CONFLICT (ip) DO UPDATE SET marked_at = least(d.marked_at, excluded.marked_at);
END
$fn$;

-- Notifications go through an outbox: PostgreSQL has no channel privileges, so
-- any role that can connect may LISTEN on a channel or pg_notify() a forged
-- payload. The payload is written to decnet.notifications (readable by
-- analysts only) and the NOTIFY carries its sequence number alone: a listener
-- reads the row, and a forged number names no row or a real one.
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

-- ---- the statement-level ingest trigger -------------------------------------
--
-- The row trigger parses every line and groups what it adds in memory, per
-- statement (src/statement.rs); merge_taken() merges such a delta: one grouped
-- upsert per derived table, keys in ascending order. The AFTER STATEMENT
-- trigger merges a statement's delta at once, or, for a small statement,
-- leaves it to the commit-time trigger, which merges a transaction's small
-- statements together (src/pending.rs).
-- Locking: step 1 creates the new attackers and row-locks every affected
-- attacker in ip order; every later step writes only rows of those attackers
-- (or attacker-less rows, again in key order), so concurrent writers queue on
-- the attackers rows and never deadlock. Each attacker row gets one new
-- version per merge (step 6): a lock is cheaper than an update, and an update
-- of last_seen (indexed) cannot be HOT.
-- jit off: compiling these plans for every statement costs more than running
-- them (about 15% of ingest time). work_mem: the credential rows of a
-- 100,000-line statement are sorted in memory, not on disk.
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

-- AFTER INSERT FOR EACH STATEMENT on decnet.logs: merges the statement's
-- lines now, or leaves a small statement's to the commit-time merge.
CREATE FUNCTION @extschema@.logs_derive() RETURNS trigger
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

-- The deferred constraint trigger logs_merge_at_commit (one event per
-- transaction): merges the lines the transaction's small statements left.
-- With decnet.merge_behind_ms above 0 (src/merge_queue.rs), a transaction
-- committing within that many milliseconds of the last merge queues its
-- lines instead; the first one after the window merges the queue with its own.
CREATE FUNCTION @extschema@.logs_merge_pending() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    behind_ms integer := decnet.merge_behind_ms();
BEGIN
    IF decnet.take_pending() = 0 THEN
        RETURN NULL;
    END IF;
    IF behind_ms > 0 AND EXISTS (
        SELECT 1 FROM decnet.merge_queue_state
        WHERE last_merge_at > clock_timestamp() - make_interval(secs => behind_ms / 1000.0)) THEN
        INSERT INTO decnet.merge_queue (log_ids) VALUES (decnet.take_log_ids());
        RETURN NULL;
    END IF;
    IF behind_ms > 0 THEN
        PERFORM decnet.take_queued(10000);
        -- the window starts again; a concurrent merger that holds the row has just done it
        UPDATE decnet.merge_queue_state s SET last_merge_at = clock_timestamp()
        WHERE s.ctid = (SELECT q.ctid FROM decnet.merge_queue_state q FOR UPDATE SKIP LOCKED);
    END IF;
    PERFORM decnet.merge_taken();
    RETURN NULL;
END
$fn$;

-- Takes up to max_entries queue entries no other merge holds (their
-- transactions committed), and adds their lines to the taken delta. The
-- entries are deleted in this transaction: merged by it, once.
CREATE FUNCTION @extschema@.take_queued(max_entries integer) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ids bigint[];
    lines text[];
BEGIN
    WITH taken AS (
        DELETE FROM decnet.merge_queue q
        WHERE q.id IN (SELECT m.id FROM decnet.merge_queue m ORDER BY m.id LIMIT max_entries FOR UPDATE SKIP LOCKED)
        RETURNING q.log_ids
    )
    SELECT array_agg(l.id ORDER BY l.id), array_agg(l.raw_line ORDER BY l.id) INTO ids, lines
    FROM decnet.logs l WHERE l.id IN (SELECT unnest(t.log_ids) FROM taken t);
    IF ids IS NULL THEN
        RETURN 0;
    END IF;
    RETURN decnet.absorb_lines(ids, lines);
END
$fn$;

-- Merges every queued line (decnet.rollup() calls it first). Returns how many.
CREATE FUNCTION @extschema@.merge_queued() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n bigint;
    total bigint := 0;
BEGIN
    LOOP
        n := decnet.take_queued(10000);
        EXIT WHEN n = 0;
        PERFORM decnet.merge_taken();
        total := total + n;
    END LOOP;
    RETURN total;
END
$fn$;

-- Lines are facts: an UPDATE or DELETE on decnet.logs would leave the derived tables stale.
CREATE FUNCTION @extschema@.logs_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION 'decnet.logs is append-only'
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'Insert a corrected line instead; run decnet.rebuild() after any manual repair.';
END
$fn$;

-- ---- rebuild and verify -----------------------------------------------------

-- The derived tables, the key that identifies a row, and the columns compared.
CREATE FUNCTION @extschema@.derived_tables() RETURNS TABLE (relation text, recomputed text, key_columns text[], ignored_columns text[])
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

-- Whether a derived row's key names an attacker some of whose lines retention
-- dropped (decnet.drop_logs_before): its row keeps history the lines left
-- cannot reproduce. Rows without an attacker count when attacker-less lines went.
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

-- Rows where the incrementally maintained state and a recomputation from
-- decnet.logs disagree: none when they agree. Once retention has dropped lines,
-- the rows of the attackers those lines named are left out (they keep the
-- dropped history on purpose); every other row is still compared.
CREATE FUNCTION @extschema@.verify() RETURNS TABLE (relation text, row_key jsonb, incremental jsonb, recomputed jsonb)
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

-- Recomputes every derived table from decnet.logs (session profiles from
-- decnet.session_recordings). Attacker uuids and
-- created_at survive for addresses that still have events. Blocks ingest while it runs.
CREATE FUNCTION @extschema@.rebuild() RETURNS TABLE (relation text, rows bigint)
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
    -- queued lines are recomputed with the rest: their queue entries go
    TRUNCATE decnet.attacker_services, decnet.attacker_deckies, decnet.attacker_commands, decnet.bounties,
             decnet.credentials, decnet.smtp_targets, decnet.attackers, decnet.session_profiles,
             decnet.fingerprint_state, decnet.fingerprint_rotations, decnet.attacker_ipv6_leaks, decnet.merge_queue;
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

-- ---- the privacy-safe gossip query -------------------------------------------

-- Has any attacker targeted this victim domain? Aggregates only: no attacker,
-- address or per-attacker detail. The argument is normalised like the logs
-- (ACME.com, <x@acme.com> and RCPT TO:<x@acme.com> are the same); anything
-- that is not a domain answers (false, 0, NULL, NULL).
CREATE FUNCTION @extschema@.smtp_target_seen(domain text)
RETURNS TABLE (seen boolean, count bigint, first_seen timestamptz, last_seen timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    wanted text := decnet.normalize_smtp_domain(smtp_target_seen.domain);
BEGIN
    RETURN QUERY
        SELECT coalesce(sum(t.count), 0) > 0, coalesce(sum(t.count), 0)::bigint, min(t.first_seen), max(t.last_seen)
        FROM decnet.smtp_targets t
        WHERE t.domain = wanted;
END
$fn$;

-- decnet.os_signatures as the jsonb array the Rust matcher reads, in match order.
CREATE FUNCTION @extschema@.os_signature_set() RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN (SELECT jsonb_agg(to_jsonb(s) ORDER BY s.priority, s.id) FROM decnet.os_signatures s);
END
$fn$;

-- AFTER statement trigger of decnet.os_signatures: a changed signature set
-- changes OS guesses, so every attacker with a TCP fingerprint is rolled up again.
CREATE FUNCTION @extschema@.os_signatures_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM decnet.mark_dirty(ARRAY(SELECT b.attacker_ip FROM decnet.attacker_behavior b WHERE b.tcp_fingerprint <> '{}'::jsonb));
    RETURN NULL;
END
$fn$;

-- Loads the signatures of a p0f v2 file (p0f.fp, p0fa.fp for context synack)
-- into decnet.os_signatures, one row per valid line labelled with its OS; more
-- specific signatures get a lower priority so they are tried first (p0f's
-- highest-score rule). Returns the rows added; malformed lines are skipped.
CREATE FUNCTION @extschema@.import_p0f(fp_file text, context text DEFAULT 'syn', base_priority integer DEFAULT 500)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    added integer;
BEGIN
    INSERT INTO decnet.os_signatures (priority, label, context, p0f, note)
    SELECT base_priority + round((1 - p.specificity) * 100)::integer, p.os, import_p0f.context, p.line,
           'p0f: ' || p.os || CASE WHEN p.flavor <> '' THEN ' ' || p.flavor ELSE '' END
    FROM decnet.p0f_signatures(fp_file) p
    ORDER BY p.line_no;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added;
END
$fn$;

-- The OS of one observed packet by decnet.os_signatures (first match by
-- priority), like guess_os(ttl, window, mss, wscale, options) of DECNET decnet/sniffer/p0f.py.
CREATE FUNCTION @extschema@.os_match(ttl integer, "window" integer, mss integer, wscale integer, options_sig text,
                                     context text DEFAULT 'syn')
RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN decnet.os_signature_match(decnet.os_signature_set(), context, ttl, "window", mss, wscale, options_sig);
END
$fn$;

-- ---- deferred behaviour ------------------------------------------------------

-- Recomputes the behaviour and identity signals of these attackers from their
-- own events; returns the events seen. Each attacker's behaviour is computed
-- over its latest decnet.rollup_lines_max() lines (by log id), read through the
-- (attacker_ip, id) index, so memory is bounded whatever its line count; its
-- event count is over all its lines.
-- jit off: the planner guesses a thousand lines per attacker where there are
-- tens, and would spend most of a rollup JIT-compiling it.
CREATE FUNCTION @extschema@.rollup_attackers(batch inet[], signatures jsonb) RETURNS bigint
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

-- Drains up to max_attackers dirty attackers (in address order) and rolls them
-- up (decnet.rollup_attackers). One rollup at a time: a concurrent call returns
-- at once with 0 attackers. An attacker whose rollup fails (a value no index
-- takes, a bug) must not hold back the others: when the batch fails, each
-- attacker is retried alone, and those that still fail are recorded in
-- decnet.rollup_failures (counted by stats()) instead of being retried every
-- minute; new lines mark them dirty again.
CREATE FUNCTION @extschema@.rollup(max_attackers integer DEFAULT 1000)
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

-- The scheduled rollup (pg_cron, every minute): drains the whole backlog in
-- batches of batch_size, each committed on its own, until nothing is dirty or
-- budget_ms has passed. A batch's transaction holds its attackers' marks, so
-- a writer touching one of them waits for that batch only, never for the
-- whole drain. When a batch finds nothing to take although marks remain
-- (another pass holds the rollup lock: the identity and campaign passes take
-- it too; or every dirty attacker is still being written), it waits a second
-- and tries again: giving up would leave the backlog a whole minute older.
-- No SET clause: a procedure that sets options cannot commit.
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
-- like decnet.rollup(): for operators and pg_cron only
REVOKE EXECUTE ON PROCEDURE @extschema@.rollup_backlog(integer, integer) FROM PUBLIC;
