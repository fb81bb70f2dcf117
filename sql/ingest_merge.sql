-- The ingest merge: what runs in the transaction of every INSERT/COPY into
-- decnet.logs. The row trigger (Rust, src/statement.rs) parses each line and
-- groups what it adds per statement; merge_taken() merges that delta into the
-- derived tables; logs_derive (after each statement) and logs_merge_pending
-- (at commit) decide when; the merge queue (decnet.merge_behind_ms) lets
-- small transactions leave their lines to the next merge. Also here: the
-- dirty marks the rollup drains and the notification outbox, which the merge
-- writes first. docs/profiles.md lists the merge's steps. Tables are made by
-- the migrations; plpgsql binds to them at run time.

-- Fingerprint bounties rolled up into attackers.fingerprints (the first N by time).
CREATE FUNCTION @extschema@.fingerprints_kept() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 100 $$;

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

-- ---- the merge, one function per step ---------------------------------------

-- What a delta holds per attacker (decnet.statement_attackers()), handed from
-- step 1 to step 8.
CREATE TYPE @extschema@.attacker_delta AS (
    ip inet, events bigint, commands bigint, first_seen timestamptz, last_seen timestamptz
);

-- The row trigger parses every line and groups what it adds in memory, per
-- statement (src/statement.rs); merge_taken() merges such a delta: one grouped
-- upsert per derived table, keys in ascending order, one step function per
-- table (docs/profiles.md lists the steps). The AFTER STATEMENT trigger
-- merges a statement's delta at once, or, for a small statement, leaves it to
-- the commit-time trigger, which merges a transaction's small statements
-- together (src/pending.rs).
-- Locking: step 1 creates the new attackers and row-locks every affected
-- attacker in ip order; every later step writes only rows of those attackers
-- (or attacker-less rows, again in key order), so concurrent writers queue on
-- the attackers rows and never deadlock. Each attacker row gets one new
-- version per merge (step 8): a lock is cheaper than an update, and an update
-- of last_seen (indexed) cannot be HOT.
-- jit off: compiling these plans for every statement costs more than running
-- them (about 15% of ingest time). work_mem: the credential rows of a
-- 100,000-line statement are sorted in memory, not on disk. The steps run
-- inside merge_taken and inherit both.
CREATE FUNCTION @extschema@.merge_taken() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off SET work_mem = '64MB'
AS $fn$
DECLARE
    parts record;
    who record;
    first_id bigint := decnet.statement_first_log_id();
    with_new_services inet[];
    with_decky_order inet[];
    with_commands inet[];
    counted inet[];
    new_bounties bigint[];
    new_credentials bigint[];
    with_fingerprints inet[];
BEGIN
    -- each step below runs only when the statement has something for it
    -- (a one-line INSERT needs few of them)
    SELECT * INTO parts FROM decnet.statement_parts();
    SELECT * INTO who FROM decnet.merge_attackers();                        -- 1
    with_new_services := decnet.merge_attacker_services();                 -- 2
    with_decky_order := decnet.merge_attacker_deckies(                     -- 3
        first_id, (SELECT min(t.first_seen) FROM unnest(who.attackers) t));
    IF parts.commands > 0 THEN
        with_commands := decnet.merge_attacker_commands();                 -- 4
    END IF;
    IF parts.bounties > 0 OR parts.credentials > 0 THEN                    -- 5
        SELECT * INTO counted, new_bounties, new_credentials, with_fingerprints
        FROM decnet.merge_bounties_and_credentials(first_id, who.locked_ips, who.locked_uuids);
    END IF;
    IF parts.smtp_targets > 0 THEN
        PERFORM decnet.merge_smtp_targets();                               -- 6
    END IF;
    IF parts.probes > 0 THEN
        PERFORM decnet.merge_probe_observations();                         -- 7 (sql/identity.sql)
    END IF;
    IF parts.ipv6_leaks > 0 THEN
        PERFORM decnet.merge_ipv6_leaks();
    END IF;
    PERFORM decnet.merge_attacker_rows(who.attackers, with_new_services, with_decky_order,   -- 8
                                       with_commands, counted, new_bounties, new_credentials,
                                       with_fingerprints);
    -- 9. country and AS of new attackers: index lookups in the loaded ranges, no network
    IF who.new_ips IS NOT NULL THEN
        PERFORM decnet.enrich_attackers(who.new_ips);
    END IF;
    -- 10. one notification per statement (decnet.notify: the payload in the outbox table)
    PERFORM decnet.notify('decnet_attacker', jsonb_build_object(
        'rows', decnet.statement_rows(),
        'new_count', coalesce(cardinality(who.new_ips), 0),
        'updated_count', coalesce(cardinality(who.attackers), 0) - coalesce(cardinality(who.new_ips), 0),
        'new', coalesce(to_jsonb(who.new_ips[1:100]), '[]'::jsonb),
        'new_truncated', coalesce(cardinality(who.new_ips), 0) > 100
    ));
    -- merged: a later take_queued() must not find these lines still taken
    PERFORM decnet.discard_taken();
END
$fn$;

-- Step 1: takes the delta's attackers (statement_attackers() hands them over
-- once), creates the new ones, then row-locks all of them in ip order, and
-- marks them for the next decnet.rollup() (which recomputes their behaviour).
CREATE FUNCTION @extschema@.merge_attackers(OUT attackers @extschema@.attacker_delta[], OUT new_ips inet[],
                                            OUT locked_ips inet[], OUT locked_uuids uuid[])
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    affected inet[];
BEGIN
    SELECT array_agg(ROW(t.ip, t.events, t.commands, t.first_seen, t.last_seen)::decnet.attacker_delta ORDER BY t.ip),
           array_agg(t.ip ORDER BY t.ip)
    INTO attackers, affected
    FROM decnet.statement_attackers() t;

    WITH ins AS (
        INSERT INTO decnet.attackers AS a (ip, first_seen, last_seen)
        SELECT t.ip, t.first_seen, t.last_seen FROM unnest(attackers) t
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

    PERFORM decnet.mark_dirty(affected);
END
$fn$;

-- Step 2: per (attacker, program) counts. Returns the attackers that got a
-- new program (their services list may have changed).
CREATE FUNCTION @extschema@.merge_attacker_services() RETURNS inet[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    with_new_services inet[];
BEGIN
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
    RETURN with_new_services;
END
$fn$;

-- Step 3: per (attacker, decky) first contact and counts. Returns the
-- attackers whose decky order may have changed: a new decky, or one whose
-- first contact may have moved (it now lies within this delta's lines, from
-- log id first_id and time earliest on).
CREATE FUNCTION @extschema@.merge_attacker_deckies(first_id bigint, earliest timestamptz) RETURNS inet[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    with_decky_order inet[];
BEGIN
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
                  OR d.first_seen >= earliest AS maybe_moved
    )
    SELECT array_agg(DISTINCT attacker_ip) FILTER (WHERE maybe_moved) INTO with_decky_order FROM up;
    RETURN with_decky_order;
END
$fn$;

-- Step 4: adds the delta's command candidates, then keeps the first and last
-- commands_kept_per_end() per attacker. Returns the attackers with new ones.
CREATE FUNCTION @extschema@.merge_attacker_commands() RETURNS inet[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    k integer := decnet.commands_kept_per_end();
    with_commands inet[];
BEGIN
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
    RETURN with_commands;
END
$fn$;

-- Step 5: bounties and credentials (one row per dedup key already, in the
-- key order Rust sorted). Returns, per attacker, how many of each are new,
-- and the attackers whose kept fingerprints may have changed.
CREATE FUNCTION @extschema@.merge_bounties_and_credentials(first_id bigint, locked_ips inet[], locked_uuids uuid[],
                                                           OUT counted inet[], OUT new_bounties bigint[],
                                                           OUT new_credentials bigint[], OUT with_fingerprints inet[])
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
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
                  b.first_log_id >= first_id AS first_changed  -- new, or now first seen in this delta
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
END
$fn$;

-- Step 6: recipients per (attacker, victim domain).
CREATE FUNCTION @extschema@.merge_smtp_targets() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO decnet.smtp_targets AS t (attacker_ip, domain, count, first_seen, last_seen)
    SELECT attacker_ip, domain, recipients, first_seen, last_seen
    FROM decnet.statement_smtp_targets() ORDER BY attacker_ip, domain
    ON CONFLICT (attacker_ip, domain) DO UPDATE SET
        count = t.count + excluded.count,
        first_seen = least(t.first_seen, excluded.first_seen),
        last_seen = greatest(t.last_seen, excluded.last_seen);
END
$fn$;

-- Step 8: one update per affected attacker: the delta's counts and time span,
-- and the list columns, rebuilt from the child rows only for the attackers
-- the earlier steps name (services, decky order, commands, fingerprints).
CREATE FUNCTION @extschema@.merge_attacker_rows(attackers @extschema@.attacker_delta[],
                                                with_new_services inet[], with_decky_order inet[], with_commands inet[],
                                                counted inet[], new_bounties bigint[], new_credentials bigint[],
                                                with_fingerprints inet[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
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
    FROM unnest(attackers) AS t
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
END
$fn$;

-- ---- the triggers that decide when to merge ------------------------------

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
