-- Service families (issue 18, correction #55): an attacker's services,
-- service_count, interacted/scanned buckets and behaviour class count the
-- services its programs belong to (decnet.service_families), so auth-helper,
-- sshd, sessrec and bash are one ssh. decnet.attacker_services keeps one row
-- per program, as before.

-- the recomputation counts families, like the ingest merge (only svc changes)
CREATE OR REPLACE VIEW decnet.recomputed_attackers AS
WITH base AS (
    SELECT attacker_ip AS ip, min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS event_count
    FROM decnet.logs WHERE attacker_ip IS NOT NULL GROUP BY attacker_ip
), svc AS (
    SELECT attacker_ip, decnet.service_families(array_agg(service)) AS services FROM decnet.recomputed_attacker_services GROUP BY attacker_ip
), dk AS (
    SELECT attacker_ip, array_agg(decky ORDER BY first_seen ASC NULLS LAST, first_log_id) AS deckies
    FROM decnet.recomputed_attacker_deckies GROUP BY attacker_ip
), cmd AS (
    SELECT attacker_ip, count(*) AS command_count FROM decnet.logs
    WHERE attacker_ip IS NOT NULL AND event_type = ANY (decnet.command_event_types())
      AND decnet.command_text(event_type, fields) IS NOT NULL GROUP BY attacker_ip
), kept AS (
    SELECT attacker_ip, jsonb_agg(jsonb_build_object('service', service, 'decky', decky, 'command', command, 'timestamp', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
                                  ORDER BY ts ASC NULLS LAST, log_id) AS commands
    FROM decnet.recomputed_attacker_commands GROUP BY attacker_ip
), b AS (
    SELECT attacker_ip, count(*) AS bounty_count FROM decnet.recomputed_bounties GROUP BY attacker_ip
), fp AS (
    SELECT attacker_ip, jsonb_agg(payload ORDER BY first_log_id, decnet.payload_key(payload)) AS fingerprints
    FROM (SELECT attacker_ip, payload, first_log_id,
                 row_number() OVER (PARTITION BY attacker_ip ORDER BY first_log_id, decnet.payload_key(payload)) AS n
          FROM decnet.recomputed_bounties WHERE bounty_type = 'fingerprint') f
    WHERE n <= decnet.fingerprints_kept() GROUP BY attacker_ip
), c AS (
    SELECT attacker_ip, count(*) AS credential_count FROM decnet.recomputed_credentials GROUP BY attacker_ip
), rot AS (
    SELECT attacker_ip, count(*)::integer AS rotation_count, max(rotated_at) AS last_rotation_at
    FROM decnet.recomputed_fingerprint_rotations GROUP BY attacker_ip
), leak AS (
    SELECT attacker_ip, sum(leak_count)::bigint AS ipv6_leak_count, max(last_seen) AS last_ipv6_leak_at,
           (array_agg(link_local ORDER BY last_seen DESC NULLS LAST, link_local DESC))[1] AS last_ipv6_link_local
    FROM decnet.recomputed_attacker_ipv6_leaks GROUP BY attacker_ip
)
SELECT base.ip, base.first_seen, base.last_seen, base.event_count,
       coalesce(cardinality(svc.services), 0) AS service_count,
       coalesce(cardinality(dk.deckies), 0) AS decky_count,
       coalesce(b.bounty_count, 0) AS bounty_count,
       coalesce(c.credential_count, 0) AS credential_count,
       coalesce(cmd.command_count, 0) AS command_count,
       coalesce(svc.services, '{}') AS services,
       coalesce(dk.deckies, '{}') AS deckies,
       coalesce(cardinality(dk.deckies), 0) >= 2 AS is_traversal,
       CASE WHEN cardinality(dk.deckies) >= 2 THEN array_to_string(dk.deckies, ' → ') END AS traversal_path,
       coalesce(kept.commands, '[]') AS commands,
       coalesce(fp.fingerprints, '[]') AS fingerprints,
       coalesce(rot.rotation_count, 0) AS rotation_count,
       rot.last_rotation_at,
       coalesce(leak.ipv6_leak_count, 0) AS ipv6_leak_count,
       leak.last_ipv6_leak_at,
       leak.last_ipv6_link_local,
       decnet.ipv6_iid_kind(leak.last_ipv6_link_local) AS last_ipv6_iid_kind,
       decnet.ipv6_mac_oui(leak.last_ipv6_link_local) AS last_ipv6_mac_oui
FROM base
LEFT JOIN svc ON svc.attacker_ip = base.ip
LEFT JOIN dk ON dk.attacker_ip = base.ip
LEFT JOIN cmd ON cmd.attacker_ip = base.ip
LEFT JOIN kept ON kept.attacker_ip = base.ip
LEFT JOIN b ON b.attacker_ip = base.ip
LEFT JOIN fp ON fp.attacker_ip = base.ip
LEFT JOIN c ON c.attacker_ip = base.ip
LEFT JOIN rot ON rot.attacker_ip = base.ip
LEFT JOIN leak ON leak.attacker_ip = base.ip;

CREATE OR REPLACE VIEW decnet.service_buckets AS
SELECT attacker_ip, f.interacted, f.scanned
FROM (SELECT attacker_ip, array_agg(service) AS services, array_agg(bucket) AS buckets
      FROM decnet.attacker_services GROUP BY attacker_ip) s
CROSS JOIN LATERAL decnet.family_buckets(s.services, s.buckets) f;

-- Existing profiles: services recounted, and every attacker whose count
-- changes is rolled up again (its behaviour class counts services).
DO $$
DECLARE
    changed inet[];
BEGIN
    WITH fam AS (
        SELECT attacker_ip, decnet.service_families(array_agg(service)) AS services
        FROM decnet.attacker_services GROUP BY attacker_ip
    ), up AS (
        UPDATE decnet.attackers a SET services = fam.services, service_count = cardinality(fam.services)
        FROM fam WHERE fam.attacker_ip = a.ip AND a.services IS DISTINCT FROM fam.services
        RETURNING a.ip
    )
    SELECT array_agg(ip ORDER BY ip) INTO changed FROM up;
    IF changed IS NOT NULL THEN
        PERFORM decnet.mark_dirty(changed);
    END IF;
END
$$;

-- The scheduled rollup drains the whole backlog (decnet.rollup_backlog), not
-- one batch a minute: a scheduled job is moved to it where pg_cron lives.
DO $$
BEGIN
    IF to_regclass('cron.job') IS NOT NULL THEN
        EXECUTE $sql$SELECT cron.alter_job(jobid, command => 'CALL decnet.rollup_backlog()') FROM cron.job
                     WHERE jobname = 'decnet-rollup' AND database = current_database()$sql$;
    END IF;
END
$$;
