-- Sharing intelligence (issue 21, docs/sharing.md): exports for other tools
-- and the alerts the rollup raises. The formats are built in Rust
-- (decnet_core::sharing); SQL gathers the facts.

-- An RFC 3339 UTC time with milliseconds, as STIX and MISP want it. No SET
-- clause, so the planner inlines it (to_char is qualified instead); STABLE
-- because to_char is.
CREATE FUNCTION @extschema@.rfc3339(ts timestamptz) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $fn$ SELECT pg_catalog.to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $fn$;

-- What the exports share of each attacker, one JSON object per attacker
-- (decnet_core::sharing::AttackerFacts), ordered by address. An attacker is
-- in the window [since, until) when its activity overlaps it; its counts are
-- its totals. NULL bounds and addresses mean no limit. An attacker whose
-- lines carry no valid time has the time decnet first stored it instead
-- (STIX and MISP need one).
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
    -- listed addresses are looked up by key; `ip = ANY (addresses)` as a filter
    -- was a linear search per row, quadratic for a rollup batch
    FROM (SELECT DISTINCT x.ip FROM unnest(addresses) AS x(ip) WHERE addresses IS NOT NULL
          UNION ALL
          SELECT every.ip FROM decnet.attackers every WHERE addresses IS NULL) chosen
    JOIN decnet.attackers a ON a.ip = chosen.ip
    LEFT JOIN decnet.attacker_behavior b ON b.attacker_ip = a.ip
    LEFT JOIN decnet.identity_members m ON m.attacker_ip = a.ip
    LEFT JOIN decnet.attacker_identities i ON i.uuid = m.identity_id AND i.member_count > 1
    CROSS JOIN LATERAL (
        SELECT decnet.fingerprint_summary(coalesce(jsonb_agg(x.payload), '[]')) AS summary
        FROM decnet.bounties x WHERE x.attacker_ip = a.ip AND x.bounty_type = 'fingerprint') fp
    WHERE (since IS NULL OR coalesce(a.last_seen, a.first_seen, a.created_at) >= since)
      AND (until IS NULL OR coalesce(a.first_seen, a.created_at) < until)
    ORDER BY a.ip
$fn$;

-- What was exported, in words that do not depend on the session's time zone:
-- it names the MISP event (and gives it its uuid).
CREATE FUNCTION @extschema@.export_scope(since timestamptz, until timestamptz, addresses inet[]) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT coalesce(nullif(concat_ws(' ',
        'since ' || decnet.rfc3339(since), 'until ' || decnet.rfc3339(until),
        'addresses ' || (SELECT string_agg(host(x), ',' ORDER BY x) FROM unnest(addresses) AS x)), ''), 'all attackers')
$fn$;

-- A STIX 2.1 bundle of the attackers (decnet_core::sharing::stix_bundle).
CREATE FUNCTION @extschema@.export_stix(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL,
                                        addresses inet[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT decnet.stix_bundle(coalesce(jsonb_agg(f.facts ORDER BY f.attacker_ip), '[]'))
    FROM decnet.export_facts(since, until, addresses) f
$fn$;

-- A MISP event of the attackers (decnet_core::sharing::misp_event).
CREATE FUNCTION @extschema@.export_misp(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL,
                                        addresses inet[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT decnet.misp_event(coalesce(jsonb_agg(f.facts ORDER BY f.attacker_ip), '[]'),
                             decnet.export_scope(since, until, addresses))
    FROM decnet.export_facts(since, until, addresses) f
$fn$;

-- An ATT&CK Navigator layer of the same attackers: techniques from their kept
-- commands, credentials and scans (decnet_core::sharing::navigator_layer).
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

-- Checks the attackers of a rollup batch against every enabled rule. Each
-- match is written once per (rule, match key) to decnet.alerts and queued in
-- decnet.alert_outbox for every enabled webhook, in the caller's transaction.
-- Returns the number of new alerts.
CREATE FUNCTION @extschema@.raise_alerts(batch inet[]) RETURNS integer
-- jit off: the array's unknown size inflates the estimates, and compiling the
-- plan took a second where running it takes milliseconds
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET jit = off
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
    -- matches first (cheap, by index); the facts of an alert only for matches
    -- no earlier rollup has raised
    WITH matches AS (
        SELECT r.id AS rule_id, r.kind, host(sb.attacker_ip) AS match_key, sb.attacker_ip,
               jsonb_build_object('interacted', sb.interacted) AS extra
        FROM decnet.alert_rules r, decnet.service_buckets sb
        -- a restriction on the view's grouping column: planned into it, by index
        WHERE r.enabled AND r.kind = 'interacted' AND sb.attacker_ip = ANY (batch) AND cardinality(sb.interacted) > 0
        UNION ALL
        SELECT r.id, r.kind, host(a.ip), a.ip,
               jsonb_build_object('decky_count', a.decky_count, 'traversal_path', a.traversal_path)
        FROM decnet.alert_rules r, decnet.attackers a
        WHERE r.enabled AND r.kind = 'traversal' AND a.ip = ANY (batch) AND a.decky_count >= r.threshold
        UNION ALL
        SELECT r.id, r.kind,
               decnet.index_key(concat_ws('|', host(x.attacker_ip), x.probe_type, x.port, x.new_hash, decnet.rfc3339(x.rotated_at))),
               x.attacker_ip,
               jsonb_build_object('rotation', jsonb_build_object(
                   'probe_type', x.probe_type, 'port', x.port, 'old_hash', x.old_hash, 'new_hash', x.new_hash,
                   'rotated_at', decnet.rfc3339(x.rotated_at)))
        FROM decnet.alert_rules r, decnet.fingerprint_rotations x
        WHERE r.enabled AND r.kind = 'rotation' AND x.attacker_ip = ANY (batch)
        UNION ALL
        SELECT r.id, r.kind, decnet.index_key(host(t.attacker_ip) || '|' || lower(t.domain)), t.attacker_ip,
               jsonb_build_object('domain', lower(t.domain), 'messages', t.count)
        FROM decnet.alert_rules r, decnet.smtp_targets t
        WHERE r.enabled AND r.kind = 'smtp_domain' AND t.attacker_ip = ANY (batch) AND lower(t.domain) = ANY (r.watch)
        UNION ALL
        (SELECT DISTINCT ON (r.id, i.uuid) r.id, r.kind, i.uuid::text, m.attacker_ip,
               jsonb_build_object('identity', i.uuid, 'member_count', i.member_count,
                                  'addresses', (SELECT to_jsonb(array_agg(host(o.attacker_ip) ORDER BY o.attacker_ip))
                                                FROM decnet.identity_members o WHERE o.identity_id = i.uuid))
        FROM decnet.alert_rules r, decnet.identity_members m
        JOIN decnet.attacker_identities i ON i.uuid = m.identity_id
        WHERE r.enabled AND r.kind = 'identity' AND m.attacker_ip = ANY (batch)
          AND i.merged_into IS NULL AND i.member_count >= r.threshold
         ORDER BY r.id, i.uuid, m.attacker_ip)  -- the batch's first member completes it
    ), new_matches AS (
        SELECT n.* FROM matches n
        WHERE NOT EXISTS (SELECT 1 FROM decnet.alerts al WHERE al.rule_id = n.rule_id AND al.match_key = n.match_key)
    ), facts AS (
        SELECT f.attacker_ip, f.facts
        FROM decnet.export_facts(NULL, NULL, ARRAY(SELECT DISTINCT n.attacker_ip FROM new_matches n)) f
    ), fresh AS (
        INSERT INTO decnet.alerts (rule_id, kind, match_key, attacker_ip, detail)
        SELECT n.rule_id, n.kind, n.match_key, n.attacker_ip, jsonb_build_object('attacker', f.facts) || n.extra
        FROM new_matches n JOIN facts f ON f.attacker_ip = n.attacker_ip
        ORDER BY n.rule_id, n.match_key
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

-- CSV for spreadsheets and scripts, header first: 'attackers', 'credentials'
-- (hashes and kinds, never the secret itself) or 'smtp_domains'. Fields are
-- quoted and defused against formulas (decnet.csv_line).
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

-- Any table or view of schema decnet as JSON Lines (one to_jsonb object per
-- row), read with the caller's rights.
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
