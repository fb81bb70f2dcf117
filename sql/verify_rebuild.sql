-- verify() and rebuild(): every derived table against its recomputation from
-- decnet.logs (the recomputed_* views, migrations/live/recomputed.sql), and a
-- helper those views use. derived_tables() pairs each table with its view.

-- Cheap pre-filter for the recomputation: only lines with one of these keys
-- (decnet-core's list) can yield a bounty or credential.
CREATE FUNCTION @extschema@.may_have_bounty(event_type text, fields jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT fields OPERATOR(pg_catalog.?|) @extschema@.bounty_keys() OR event_type = ANY (@extschema@.bounty_event_types()) $$;

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
