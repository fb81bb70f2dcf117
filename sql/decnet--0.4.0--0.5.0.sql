-- decnet upgrade script drafted by tools/upgrade-script.py from sql/releases/decnet--0.4.0.sql and /tmp/new.sql

CREATE  FUNCTION "absorb_lines"(
	"ids" bigint[], /* Vec < i64 > */
	"lines" TEXT[] /* Vec < Option < String > > */
) RETURNS bigint /* i64 */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'absorb_lines_wrapper';

CREATE  FUNCTION "merge_behind_ms"() RETURNS INT /* i32 */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'merge_behind_ms_wrapper';

CREATE  FUNCTION "take_log_ids"() RETURNS bigint[] /* Vec < i64 > */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'take_log_ids_wrapper';

CREATE OR REPLACE FUNCTION @extschema@.logs_merge_pending() RETURNS trigger
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

COMMENT ON FUNCTION @extschema@.merge_behind_ms() IS 'The setting decnet.merge_behind_ms: small transactions committing within that many milliseconds of the last merge queue their lines (0: never).';

COMMENT ON FUNCTION @extschema@.take_log_ids() IS 'Internal: takes the taken delta off the merge and returns its lines'' decnet.logs ids, for decnet.merge_queue.';

COMMENT ON FUNCTION @extschema@.absorb_lines(bigint[], text[]) IS 'Internal: parses queued lines (ids with their raw_line) into the taken delta, as the row trigger did at insert; returns how many.';

COMMENT ON FUNCTION @extschema@.take_queued(integer) IS 'Internal: deletes up to max_entries decnet.merge_queue entries no other merge holds and adds their lines to the taken delta; returns how many lines.';

COMMENT ON FUNCTION @extschema@.merge_queued() IS 'Merges every line queued in decnet.merge_queue (decnet.merge_behind_ms), each once; returns how many. decnet.rollup() calls it first.';

DO $upgrade$
BEGIN
    REVOKE EXECUTE ON FUNCTION @extschema@.absorb_lines, @extschema@.merge_behind_ms, @extschema@.take_log_ids, @extschema@.take_queued, @extschema@.merge_queued FROM PUBLIC;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'decnet_analyst') THEN
        GRANT EXECUTE ON FUNCTION @extschema@.merge_behind_ms TO decnet_analyst;
    END IF;
END
$upgrade$;
