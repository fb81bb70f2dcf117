-- Who is behind the addresses (issue 8, docs/identities.md): fingerprint
-- rotations and IPv6 link-local leaks, derived at ingest like the other
-- per-attacker tables; identities and campaigns, resolved by the rollup.

-- ---- fingerprint rotation (spec G.3) -----------------------------------------

CREATE TABLE decnet.fingerprint_state (
    attacker_ip       inet NOT NULL,
    probe_type        text NOT NULL,
    port              integer NOT NULL,
    last_hash         text NOT NULL,
    first_seen        timestamptz NOT NULL,
    last_seen         timestamptz NOT NULL,
    observation_count bigint NOT NULL,
    rotation_count    integer NOT NULL,
    PRIMARY KEY (attacker_ip, probe_type, port)
);
COMMENT ON TABLE decnet.fingerprint_state IS
'Latest hash per (attacker, probe type, port): the prober''s jarm, hassh (the attacker''s SSH server) and tcpfp, and the sniffer''s client ja3 per destination port.';

CREATE TABLE decnet.fingerprint_rotations (
    attacker_ip inet NOT NULL,
    probe_type  text NOT NULL,
    port        integer NOT NULL,
    rotated_at  timestamptz NOT NULL,
    old_hash    text NOT NULL,
    new_hash    text NOT NULL,
    log_id      bigint NOT NULL,
    PRIMARY KEY (attacker_ip, probe_type, port, rotated_at, new_hash)
);
CREATE INDEX fingerprint_rotations_rotated_at ON decnet.fingerprint_rotations (rotated_at);
COMMENT ON TABLE decnet.fingerprint_rotations IS
'Each change of hash between consecutive observations of (attacker, probe type, port), in time order. The first sighting is not a rotation; replayed lines add none.';

-- ---- IPv6 link-local leaks (spec G.6) ----------------------------------------

CREATE TABLE decnet.attacker_ipv6_leaks (
    attacker_ip inet NOT NULL,
    link_local  inet NOT NULL,
    iid_kind    text NOT NULL,
    mac_oui     text,
    mac         text,
    attacker_v4 inet[] NOT NULL DEFAULT '{}',
    first_seen  timestamptz,
    last_seen   timestamptz,
    leak_count  bigint NOT NULL,
    PRIMARY KEY (attacker_ip, link_local)
);
CREATE INDEX attacker_ipv6_leaks_v4 ON decnet.attacker_ipv6_leaks USING gin (attacker_v4);
COMMENT ON TABLE decnet.attacker_ipv6_leaks IS
'Link-local source addresses seen per attacker, with the interface id kind, the MAC and OUI of EUI-64 ids, and the IPv4 addresses the sensor tied the leak to.';

ALTER TABLE decnet.attackers
    ADD COLUMN rotation_count       integer NOT NULL DEFAULT 0,
    ADD COLUMN last_rotation_at     timestamptz,
    ADD COLUMN ipv6_leak_count      bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_ipv6_leak_at    timestamptz,
    ADD COLUMN last_ipv6_link_local inet,
    ADD COLUMN last_ipv6_iid_kind   text,
    ADD COLUMN last_ipv6_mac_oui    text;
CREATE INDEX attackers_last_rotation_at ON decnet.attackers (last_rotation_at) WHERE last_rotation_at IS NOT NULL;

CREATE VIEW decnet.probe_observations AS
SELECT l.id AS log_id, l.attacker_ip, o.probe_type, o.port, o.hash, l.ts
FROM decnet.logs l
CROSS JOIN LATERAL decnet.probe_observation(l.event_type, l.fields) o
WHERE l.event_type = ANY (decnet.probe_event_types()) AND l.attacker_ip IS NOT NULL AND l.ts IS NOT NULL;

-- Observations are ordered by (ts, hash); equal (ts, hash) pairs count once,
-- so a replayed line never rotates anything.
CREATE VIEW decnet.recomputed_fingerprint_rotations AS
SELECT attacker_ip, probe_type, port, ts AS rotated_at, previous AS old_hash, hash AS new_hash, log_id
FROM (
    SELECT o.*, lag(o.hash) OVER (PARTITION BY o.attacker_ip, o.probe_type, o.port ORDER BY o.ts, o.hash) AS previous
    FROM (SELECT attacker_ip, probe_type, port, ts, hash, min(log_id) AS log_id
          FROM decnet.probe_observations GROUP BY attacker_ip, probe_type, port, ts, hash) o
) s
WHERE previous IS NOT NULL AND previous <> hash;

CREATE VIEW decnet.recomputed_fingerprint_state AS
SELECT o.attacker_ip, o.probe_type, o.port,
       (array_agg(o.hash ORDER BY o.ts DESC, o.hash DESC))[1] AS last_hash,
       min(o.ts) AS first_seen, max(o.ts) AS last_seen, count(*) AS observation_count,
       (SELECT count(*) FROM decnet.recomputed_fingerprint_rotations r
        WHERE r.attacker_ip = o.attacker_ip AND r.probe_type = o.probe_type AND r.port = o.port)::integer AS rotation_count
FROM decnet.probe_observations o
GROUP BY o.attacker_ip, o.probe_type, o.port;

CREATE VIEW decnet.recomputed_attacker_ipv6_leaks AS
SELECT attacker_ip, link_local, decnet.ipv6_iid_kind(link_local) AS iid_kind, decnet.ipv6_mac_oui(link_local) AS mac_oui,
       decnet.ipv6_eui64_mac(link_local) AS mac,
       coalesce(array_agg(DISTINCT v4 ORDER BY v4) FILTER (WHERE v4 IS NOT NULL), '{}') AS attacker_v4,
       min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS leak_count
FROM (SELECT l.attacker_ip, decnet.leaked_link_local(l.event_type, l.fields) AS link_local,
             decnet.leak_attacker_v4(l.fields) AS v4, l.ts
      FROM decnet.logs l WHERE l.event_type = 'ipv6_link_local_leak' AND l.attacker_ip IS NOT NULL) x
WHERE link_local IS NOT NULL
GROUP BY attacker_ip, link_local;

-- recomputed_attackers gains the rotation and leak summaries (same columns first)
CREATE OR REPLACE VIEW decnet.recomputed_attackers AS
WITH base AS (
    SELECT attacker_ip AS ip, min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS event_count
    FROM decnet.logs WHERE attacker_ip IS NOT NULL GROUP BY attacker_ip
), svc AS (
    SELECT attacker_ip, array_agg(service ORDER BY service) AS services FROM decnet.recomputed_attacker_services GROUP BY attacker_ip
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

-- Existing data: the new tables and columns from what is already stored.
INSERT INTO decnet.fingerprint_rotations SELECT * FROM decnet.recomputed_fingerprint_rotations;
INSERT INTO decnet.fingerprint_state SELECT * FROM decnet.recomputed_fingerprint_state;
INSERT INTO decnet.attacker_ipv6_leaks SELECT * FROM decnet.recomputed_attacker_ipv6_leaks;
UPDATE decnet.attackers a SET rotation_count = r.rotation_count, last_rotation_at = r.last_rotation_at,
       ipv6_leak_count = r.ipv6_leak_count, last_ipv6_leak_at = r.last_ipv6_leak_at,
       last_ipv6_link_local = r.last_ipv6_link_local, last_ipv6_iid_kind = r.last_ipv6_iid_kind,
       last_ipv6_mac_oui = r.last_ipv6_mac_oui
FROM decnet.recomputed_attackers r
WHERE r.ip = a.ip AND (r.rotation_count > 0 OR r.ipv6_leak_count > 0);

-- ---- identities and campaigns (spec G.4, G.5) ---------------------------------

CREATE TABLE decnet.campaigns (
    uuid            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    merged_into     uuid REFERENCES decnet.campaigns (uuid),
    identity_count  integer NOT NULL DEFAULT 0,
    first_seen      timestamptz,
    last_seen       timestamptz,
    ja3_hashes      text[],
    hassh_hashes    text[],
    tls_cert_sha256 text[],
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_merged_into ON decnet.campaigns (merged_into) WHERE merged_into IS NOT NULL;
COMMENT ON TABLE decnet.campaigns IS
'Identities that act together (spec G.5: kill-chain handoff on a decky, shared infrastructure, overlapping activity with the same typing rhythm). A merged campaign points to the one that absorbed it.';

CREATE TABLE decnet.attacker_identities (
    uuid                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    merged_into          uuid REFERENCES decnet.attacker_identities (uuid),
    campaign_id          uuid REFERENCES decnet.campaigns (uuid),
    member_count         integer NOT NULL DEFAULT 0,
    first_seen           timestamptz,
    last_seen            timestamptz,
    ja3_hashes           text[],
    ja4_hashes           text[],
    hassh_hashes         text[],
    tls_cert_sha256      text[],
    ja4h_hashes          text[],
    ja4_quic_hashes      text[],
    ipv6_link_local_iids jsonb,
    kd_digraph_simhash   bytea CHECK (octet_length(kd_digraph_simhash) = 8),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attacker_identities_merged_into ON decnet.attacker_identities (merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX attacker_identities_campaign ON decnet.attacker_identities (campaign_id);
COMMENT ON TABLE decnet.attacker_identities IS
'One actor behind one or more attacker addresses (spec G.4), with the union of their fingerprints (sorted, NULL where a family has no value), leaked link-local interface ids and the keystroke centroid. A merged identity points to the one that absorbed it: decnet.resolve_identity() follows the chain.';

CREATE TABLE decnet.identity_members (
    attacker_ip inet PRIMARY KEY,
    identity_id uuid NOT NULL REFERENCES decnet.attacker_identities (uuid),
    joined_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX identity_members_identity ON decnet.identity_members (identity_id);
COMMENT ON TABLE decnet.identity_members IS 'The live identity of every resolved attacker address.';

-- What identity resolution compares, per attacker: strong fingerprints (ja3,
-- ja4, hassh, tls_cert, mac) and the candidate generators for the weaker tiers
-- (cmd, cred, kd chunks). Refreshed for the attackers each rollup drains.
CREATE TABLE decnet.identity_signals (
    kind        text NOT NULL,
    value       text NOT NULL,
    attacker_ip inet NOT NULL,
    PRIMARY KEY (kind, value, attacker_ip)
);
CREATE INDEX identity_signals_attacker ON decnet.identity_signals (attacker_ip);

CREATE TABLE decnet.identity_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at      timestamptz NOT NULL,
    duration_ms     double precision NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('incremental', 'full', 'campaigns')),
    attackers       integer NOT NULL,
    edges           integer NOT NULL,
    identities      integer NOT NULL,
    merges          integer NOT NULL
);
COMMENT ON TABLE decnet.identity_runs IS 'One row per identity or campaign pass that did work.';

CREATE INDEX session_profiles_attacker ON decnet.session_profiles (attacker_ip);

-- What an analyst reads: live identities and campaigns with their members.
CREATE VIEW decnet.identity_summary AS
SELECT i.uuid AS identity_id, i.member_count,
       m.member_ips, i.first_seen, i.last_seen,
       i.ja3_hashes, i.ja4_hashes, i.hassh_hashes, i.tls_cert_sha256, i.ja4h_hashes, i.ja4_quic_hashes,
       i.ipv6_link_local_iids, i.kd_digraph_simhash,
       m.countries, m.asns, m.as_names, m.rotation_count,
       i.campaign_id, i.updated_at
FROM decnet.attacker_identities i
CROSS JOIN LATERAL (
    SELECT array_agg(a.ip ORDER BY a.ip) AS member_ips,
           array_agg(DISTINCT a.country_code ORDER BY a.country_code) FILTER (WHERE a.country_code IS NOT NULL) AS countries,
           array_agg(DISTINCT a.asn ORDER BY a.asn) FILTER (WHERE a.asn IS NOT NULL) AS asns,
           array_agg(DISTINCT a.as_name ORDER BY a.as_name) FILTER (WHERE a.as_name IS NOT NULL) AS as_names,
           coalesce(sum(a.rotation_count), 0)::bigint AS rotation_count
    FROM decnet.identity_members im JOIN decnet.attackers a ON a.ip = im.attacker_ip
    WHERE im.identity_id = i.uuid
) m
WHERE i.merged_into IS NULL;
COMMENT ON VIEW decnet.identity_summary IS 'Live identities: member addresses, time span, fingerprints, leaked interface ids, keystroke centroid, countries and ASes.';

CREATE VIEW decnet.campaign_summary AS
SELECT c.uuid AS campaign_id, c.identity_count, s.identities, s.member_ips, c.first_seen, c.last_seen,
       c.ja3_hashes, c.hassh_hashes, c.tls_cert_sha256, s.countries, s.asns, c.updated_at
FROM decnet.campaigns c
CROSS JOIN LATERAL (
    SELECT array_agg(DISTINCT i.uuid ORDER BY i.uuid) AS identities,
           array_agg(a.ip ORDER BY a.ip) AS member_ips,
           array_agg(DISTINCT a.country_code ORDER BY a.country_code) FILTER (WHERE a.country_code IS NOT NULL) AS countries,
           array_agg(DISTINCT a.asn ORDER BY a.asn) FILTER (WHERE a.asn IS NOT NULL) AS asns
    FROM decnet.attacker_identities i
    JOIN decnet.identity_members im ON im.identity_id = i.uuid
    JOIN decnet.attackers a ON a.ip = im.attacker_ip
    WHERE i.campaign_id = c.uuid AND i.merged_into IS NULL
) s
WHERE c.merged_into IS NULL;
COMMENT ON VIEW decnet.campaign_summary IS 'Live campaigns: their identities, member addresses, time span, fingerprints, countries and ASes.';

-- Existing attackers are resolved by the next rollup.
INSERT INTO decnet.dirty_attackers (ip) SELECT ip FROM decnet.attackers ORDER BY ip ON CONFLICT DO NOTHING;

GRANT SELECT ON decnet.fingerprint_state, decnet.fingerprint_rotations, decnet.attacker_ipv6_leaks,
    decnet.attacker_identities, decnet.identity_members, decnet.campaigns, decnet.identity_runs,
    decnet.identity_summary, decnet.campaign_summary TO decnet_analyst;
-- the passes change identities: only the owner and pg_cron run them (V3 granted analysts every function)
REVOKE EXECUTE ON FUNCTION decnet.resolve_identities(inet[]), decnet.recluster_identities(), decnet.cluster_campaigns(),
    decnet.refresh_identities(uuid[]), decnet.merge_probe_observations(), decnet.merge_ipv6_leaks(),
    decnet.statement_probes(), decnet.statement_ipv6_leaks() FROM PUBLIC, decnet_analyst;

DO $$
BEGIN
    IF current_setting('cron.database_name', true) = current_database() THEN
        CREATE EXTENSION IF NOT EXISTS pg_cron;
        -- the full pass revokes links whose evidence is gone and regroups campaigns
        PERFORM cron.schedule('decnet-identities', '17 * * * *', 'SELECT * FROM decnet.recluster_identities()');
        PERFORM cron.schedule('decnet-campaigns', '*/10 * * * *', 'SELECT * FROM decnet.cluster_campaigns()');
    ELSE
        RAISE NOTICE 'identity and campaign passes are not scheduled: pg_cron serves database %, not %',
            coalesce(current_setting('cron.database_name', true), '(none)'), current_database();
    END IF;
END $$;
