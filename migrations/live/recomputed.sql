-- Live definitions: the recomputation views. Each derived table the ingest
-- merge or the rollup maintains has a view here that computes it again from
-- decnet.logs alone; decnet.verify() compares the two and decnet.rebuild()
-- copies the view into the table (decnet.derived_tables() pairs them). The
-- rules the views need (event kinds, command events, kept counts, families)
-- are the Rust functions the merge itself uses.
--
-- decnet migrate applies this file after the numbered migrations, whenever it
-- changed (docs/contributing.md, "Live definitions"). Views come in dependency
-- order: a view reads only views above it.

-- Per (attacker, program): events by kind, first and last seen.
CREATE OR REPLACE VIEW decnet.recomputed_attacker_services AS
SELECT attacker_ip, service, sum(n)::bigint AS event_count,
       coalesce(sum(n) FILTER (WHERE kind = 'interaction'), 0)::bigint AS interaction_count,
       coalesce(sum(n) FILTER (WHERE kind = 'scan'), 0)::bigint AS scan_count,
       coalesce(sum(n) FILTER (WHERE kind = 'noise'), 0)::bigint AS noise_count,
       min(first_seen) AS first_seen, max(last_seen) AS last_seen
FROM (
    SELECT attacker_ip, service, decnet.classify_event_kind(coalesce(event_type, '-')) AS kind,
           count(*) AS n, min(ts) AS first_seen, max(ts) AS last_seen
    FROM decnet.logs
    WHERE attacker_ip IS NOT NULL AND service IS NOT NULL AND NOT decnet.is_sensor_service(service)
    GROUP BY attacker_ip, service, event_type
) g
GROUP BY attacker_ip, service;
GRANT SELECT ON decnet.recomputed_attacker_services TO decnet_analyst;

-- Per (attacker, decky): first contact (time, then line) and events; infrastructure hosts left out.
CREATE OR REPLACE VIEW decnet.recomputed_attacker_deckies AS
SELECT attacker_ip, decky, min(ts) AS first_seen, min(id) AS first_log_id, max(ts) AS last_seen, count(*) AS event_count
FROM decnet.logs
WHERE attacker_ip IS NOT NULL AND decky IS NOT NULL AND NOT decnet.is_infrastructure_decky(decky)
GROUP BY attacker_ip, decky;
GRANT SELECT ON decnet.recomputed_attacker_deckies TO decnet_analyst;

-- The first and last commands_kept_per_end() commands of each attacker.
CREATE OR REPLACE VIEW decnet.recomputed_attacker_commands AS
SELECT attacker_ip, log_id, ts, service, decky, command
FROM (
    SELECT attacker_ip, id AS log_id, ts, service, decky, command,
           row_number() OVER (PARTITION BY attacker_ip ORDER BY ts ASC NULLS LAST, id ASC) AS from_first,
           row_number() OVER (PARTITION BY attacker_ip ORDER BY ts DESC NULLS FIRST, id DESC) AS from_last
    FROM (SELECT attacker_ip, id, ts, service, decky, decnet.command_text(event_type, fields) AS command
          FROM decnet.logs WHERE attacker_ip IS NOT NULL AND event_type = ANY (decnet.command_event_types())) c
    WHERE command IS NOT NULL
) r
WHERE from_first <= decnet.commands_kept_per_end() OR from_last <= decnet.commands_kept_per_end();
GRANT SELECT ON decnet.recomputed_attacker_commands TO decnet_analyst;

-- Every bounty and credential each line yields (decnet.log_bounties).
CREATE OR REPLACE VIEW decnet.recomputed_log_bounties AS
SELECT l.id, l.ts, l.decky, l.service, b.bounty_type, b.attacker_ip, b.payload
FROM decnet.logs l
CROSS JOIN LATERAL decnet.log_bounties(l.service, l.event_type, l.attacker_ip, l.fields) b
WHERE decnet.may_have_bounty(l.event_type, l.fields);
GRANT SELECT ON decnet.recomputed_log_bounties TO decnet_analyst;

COMMENT ON VIEW decnet.recomputed_log_bounties IS 'Every bounty and credential each stored line yields (decnet.log_bounties), one row per line and bounty: what the recomputed_bounties and recomputed_credentials views group.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.id IS 'logs.id of the line.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.ts IS 'Event time of the line.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.decky IS 'Decky of the line.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.service IS 'Program of the line.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.bounty_type IS 'fingerprint, ip_leak, artifact or credential.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.attacker_ip IS 'The attacker it belongs to.';
COMMENT ON COLUMN decnet.recomputed_log_bounties.payload IS 'What the line yields (for credentials, the credential fields).';

-- Bounties once per (type, attacker, payload key): the first sighting's payload, decky and service.
CREATE OR REPLACE VIEW decnet.recomputed_bounties AS
SELECT bounty_type, attacker_ip, (array_agg(payload ORDER BY id))[1] AS payload,
       (array_agg(decky ORDER BY id))[1] AS decky, (array_agg(service ORDER BY id))[1] AS service,
       min(ts) AS first_seen, max(ts) AS last_seen, min(id) AS first_log_id, count(*) AS seen_count
FROM decnet.recomputed_log_bounties
WHERE bounty_type <> 'credential'
GROUP BY bounty_type, attacker_ip, decnet.payload_key(payload);
GRANT SELECT ON decnet.recomputed_bounties TO decnet_analyst;

-- Credentials once per (attacker, decky, service, principal, secret); the outcome of the last line that has one.
CREATE OR REPLACE VIEW decnet.recomputed_credentials AS
SELECT attacker_ip, decky, service, payload->>'principal' AS principal, coalesce(payload->>'principal', '') AS principal_key,
       payload->>'secret_kind' AS secret_kind, payload->>'secret_sha256' AS secret_sha256,
       min(payload->>'secret_b64') AS secret_b64, min(payload->>'secret_printable') AS secret_printable,
       (array_agg(payload->>'outcome' ORDER BY id DESC) FILTER (WHERE payload->>'outcome' IS NOT NULL))[1] AS outcome,
       max(id) FILTER (WHERE payload->>'outcome' IS NOT NULL) AS outcome_log_id,
       min(ts) AS first_seen, max(ts) AS last_seen, min(id) AS first_log_id, count(*) AS attempt_count
FROM decnet.recomputed_log_bounties
WHERE bounty_type = 'credential'
GROUP BY attacker_ip, decky, service, payload->>'principal', payload->>'secret_kind', payload->>'secret_sha256';
GRANT SELECT ON decnet.recomputed_credentials TO decnet_analyst;

-- Recipients per (attacker, victim domain), normalised like the merge (decnet.recipient_domain).
CREATE OR REPLACE VIEW decnet.recomputed_smtp_targets AS
SELECT attacker_ip, domain, count(*) AS count, min(ts) AS first_seen, max(ts) AS last_seen
FROM (
    SELECT attacker_ip, ts, decnet.recipient_domain(service, event_type, fields) AS domain
    FROM decnet.logs
    WHERE attacker_ip IS NOT NULL AND event_type = ANY (decnet.recipient_event_types())
) r
WHERE domain IS NOT NULL
GROUP BY attacker_ip, domain;
GRANT SELECT ON decnet.recomputed_smtp_targets TO decnet_analyst;

-- A session's profile computed from its recording: what the trigger stores and
-- decnet.verify() compares against. The attacker, decky and service come from
-- the recording, else from the sessrec session_recorded line of the same sid.
CREATE OR REPLACE VIEW decnet.recomputed_session_profiles AS
SELECT r.sid, coalesce(r.attacker_ip, l.attacker_ip) AS attacker_ip, coalesce(r.decky, l.decky) AS decky,
       coalesce(r.service, l.fields->>'service') AS service, r.started_at, p.*
FROM decnet.session_recordings r
CROSS JOIN LATERAL decnet.keystroke_profile(r.events, r.sid) p
LEFT JOIN LATERAL (
    SELECT lg.attacker_ip, lg.decky, lg.fields FROM decnet.logs lg
    WHERE lg.event_type = 'session_recorded' AND lg.fields->>'sid' = r.sid
    ORDER BY lg.id LIMIT 1
) l ON true;
GRANT SELECT ON decnet.recomputed_session_profiles TO decnet_analyst;

-- Every line that observes a rotation-tracked hash; the two fingerprint views read it.
CREATE OR REPLACE VIEW decnet.probe_observations AS
SELECT l.id AS log_id, l.attacker_ip, o.probe_type, o.port, o.hash, l.ts
FROM decnet.logs l
CROSS JOIN LATERAL decnet.probe_observation(l.event_type, l.fields) o
WHERE l.event_type = ANY (decnet.probe_event_types()) AND l.attacker_ip IS NOT NULL AND l.ts IS NOT NULL;
GRANT SELECT ON decnet.probe_observations TO decnet_analyst;
COMMENT ON VIEW decnet.probe_observations IS 'Every stored line that observes a rotation-tracked hash (prober JARM, HASSH, TCP; sniffer client JA3 per port).';
COMMENT ON COLUMN decnet.probe_observations.log_id IS 'logs.id of the observation.';
COMMENT ON COLUMN decnet.probe_observations.attacker_ip IS 'The attacker observed.';
COMMENT ON COLUMN decnet.probe_observations.probe_type IS 'jarm, hassh, tcpfp or ja3.';
COMMENT ON COLUMN decnet.probe_observations.port IS 'Port.';
COMMENT ON COLUMN decnet.probe_observations.hash IS 'The observed hash.';
COMMENT ON COLUMN decnet.probe_observations.ts IS 'Event time.';

-- Observations are ordered by (ts, hash); equal (ts, hash) pairs count once,
-- so a replayed line never rotates anything.
CREATE OR REPLACE VIEW decnet.recomputed_fingerprint_rotations AS
SELECT attacker_ip, probe_type, port, ts AS rotated_at, previous AS old_hash, hash AS new_hash, log_id
FROM (
    SELECT o.*, lag(o.hash) OVER (PARTITION BY o.attacker_ip, o.probe_type, o.port ORDER BY o.ts, o.hash) AS previous
    FROM (SELECT attacker_ip, probe_type, port, ts, hash, min(log_id) AS log_id
          FROM decnet.probe_observations GROUP BY attacker_ip, probe_type, port, ts, hash) o
) s
WHERE previous IS NOT NULL AND previous <> hash;
GRANT SELECT ON decnet.recomputed_fingerprint_rotations TO decnet_analyst;

-- Per (attacker, probe type, port): the last hash, the span and the rotations.
CREATE OR REPLACE VIEW decnet.recomputed_fingerprint_state AS
SELECT o.attacker_ip, o.probe_type, o.port,
       (array_agg(o.hash ORDER BY o.ts DESC, o.hash DESC))[1] AS last_hash,
       min(o.ts) AS first_seen, max(o.ts) AS last_seen, count(*) AS observation_count,
       (SELECT count(*) FROM decnet.recomputed_fingerprint_rotations r
        WHERE r.attacker_ip = o.attacker_ip AND r.probe_type = o.probe_type AND r.port = o.port)::integer AS rotation_count
FROM decnet.probe_observations o
GROUP BY o.attacker_ip, o.probe_type, o.port;
GRANT SELECT ON decnet.recomputed_fingerprint_state TO decnet_analyst;

-- Per (attacker, leaked link-local address): what its interface id tells, the IPv4 addresses it came with.
CREATE OR REPLACE VIEW decnet.recomputed_attacker_ipv6_leaks AS
SELECT attacker_ip, link_local, decnet.ipv6_iid_kind(link_local) AS iid_kind, decnet.ipv6_mac_oui(link_local) AS mac_oui,
       decnet.ipv6_eui64_mac(link_local) AS mac,
       coalesce(array_agg(DISTINCT v4 ORDER BY v4) FILTER (WHERE v4 IS NOT NULL), '{}') AS attacker_v4,
       min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS leak_count
FROM (SELECT l.attacker_ip, decnet.leaked_link_local(l.event_type, l.fields) AS link_local,
             decnet.leak_attacker_v4(l.fields) AS v4, l.ts
      FROM decnet.logs l WHERE l.event_type = 'ipv6_link_local_leak' AND l.attacker_ip IS NOT NULL) x
WHERE link_local IS NOT NULL
GROUP BY attacker_ip, link_local;
GRANT SELECT ON decnet.recomputed_attacker_ipv6_leaks TO decnet_analyst;

-- The attacker rows: counts, lists and spans from the views above. Services
-- are families (decnet.service_families), as the merge counts them.
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
GRANT SELECT ON decnet.recomputed_attackers TO decnet_analyst;
