-- The rollup: behaviour, OS guesses and identity signals, recomputed for the
-- attackers the ingest merge marked dirty (decnet.rollup(), and the scheduled
-- rollup_backlog()), and the OS signature table it matches against
-- (decnet.os_signatures, p0f imports). docs/behavior.md.

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
        SELECT t.ip, r.all_lines, r.own_lines, r.stats, r.ids, r.event_types, r.services, r.times_us, r.fields
        FROM unnest(batch) AS t(ip)
        CROSS JOIN LATERAL (
            SELECT count(*) AS all_lines, count(*) FILTER (WHERE x.own) AS own_lines,
                   decnet.timing_stats(coalesce(array_agg(DISTINCT x.ts) FILTER (WHERE x.own), '{}')) AS stats,
                   -- the lines column by column, from the same rows (behavior_details_of orders them by id)
                   array_agg(x.id) AS ids, array_agg(x.event_type) AS event_types, array_agg(x.service) AS services,
                   array_agg((extract(epoch FROM x.ts) * 1000000)::bigint) AS times_us, array_agg(x.fields::json) AS fields
            FROM (SELECT l.id, l.event_type, l.service, l.ts, l.fields,
                         (l.service IS NULL OR NOT decnet.is_sensor_service(l.service)) AS own
                  FROM decnet.logs l WHERE l.attacker_ip = t.ip ORDER BY l.id DESC LIMIT max_lines) x
        ) r
    ), computed AS MATERIALIZED (
        SELECT w.ip, w.ids, w.event_types, w.services, w.times_us, w.fields, w.stats,
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
               decnet.behavior_details_of(c.ids, c.event_types, c.services, c.times_us, c.fields,
                                          (c.stats->>'mean_iat_s')::float8, (c.stats->>'cv')::float8, signature_text) AS d
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
