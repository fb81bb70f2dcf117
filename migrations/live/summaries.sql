-- Live definitions: what analysts read on top of the tables. decnet migrate
-- applies this file after the numbered migrations, whenever it changed
-- (docs/contributing.md, "Live definitions").

-- Per attacker: the service families it interacted with and those it only
-- scanned (decnet.family_buckets over its programs' buckets).
CREATE OR REPLACE VIEW decnet.service_buckets AS
SELECT attacker_ip, f.interacted, f.scanned
FROM (SELECT attacker_ip, array_agg(service) AS services, array_agg(bucket) AS buckets
      FROM decnet.attacker_services GROUP BY attacker_ip) s
CROSS JOIN LATERAL decnet.family_buckets(s.services, s.buckets) f;
GRANT SELECT ON decnet.service_buckets TO decnet_analyst;
COMMENT ON VIEW decnet.service_buckets IS
'Per attacker address: the service families it interacted with and those it only scanned (DECNET bucket_services, with programs counted as their family). Noise-only services are left out.';
COMMENT ON COLUMN decnet.service_buckets.attacker_ip IS 'The attacker.';
COMMENT ON COLUMN decnet.service_buckets.interacted IS 'Service families it interacted with (a command, a mail, a file, …).';
COMMENT ON COLUMN decnet.service_buckets.scanned IS 'Service families it only scanned (connected, tried to log in).';

-- Live identities with their members' origin; linked_by counts, per signal
-- kind, the edges that share one (decnet.identity_links lists them).
CREATE OR REPLACE VIEW decnet.identity_summary AS
SELECT i.uuid AS identity_id, i.member_count,
       m.member_ips, i.first_seen, i.last_seen,
       i.ja3_hashes, i.ja4_hashes, i.hassh_hashes, i.tls_cert_sha256, i.ja4h_hashes, i.ja4_quic_hashes,
       i.ipv6_link_local_iids, i.kd_digraph_simhash,
       m.countries, m.asns, m.as_names, m.rotation_count,
       i.campaign_id, i.updated_at,
       coalesce(k.linked_by, '{}') AS linked_by
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
CROSS JOIN LATERAL (
    SELECT jsonb_object_agg(x.kind, x.edges) AS linked_by
    FROM (SELECT l.kind, count(DISTINCT (l.a, l.b)) AS edges
          FROM decnet.identity_members ma
          JOIN decnet.identity_link_signals l ON l.a = ma.attacker_ip
          JOIN decnet.identity_members mb ON mb.attacker_ip = l.b AND mb.identity_id = ma.identity_id
          WHERE ma.identity_id = i.uuid
          GROUP BY l.kind) x
) k
WHERE i.merged_into IS NULL;
GRANT SELECT ON decnet.identity_summary TO decnet_analyst;
COMMENT ON VIEW decnet.identity_summary IS 'Live identities: member addresses, time span, fingerprints, leaked interface ids, keystroke centroid, countries and ASes, and the signals that linked them.';
COMMENT ON COLUMN decnet.identity_summary.identity_id IS 'Identity id.';
COMMENT ON COLUMN decnet.identity_summary.member_ips IS 'Its addresses, sorted.';
COMMENT ON COLUMN decnet.identity_summary.countries IS 'Countries of its addresses.';
COMMENT ON COLUMN decnet.identity_summary.asns IS 'Autonomous systems of its addresses.';
COMMENT ON COLUMN decnet.identity_summary.as_names IS 'Their names.';
COMMENT ON COLUMN decnet.identity_summary.rotation_count IS 'Fingerprint rotations of its addresses.';
COMMENT ON COLUMN decnet.identity_summary.linked_by IS
'Per signal kind (hassh, ja3, c2, payload_hash, commands:<phase>, credentials, asn, kd_simhash, …), how many of the identity''s edges share one; decnet.identity_links(identity_id) lists them.';

-- Live campaigns with their identities and members.
CREATE OR REPLACE VIEW decnet.campaign_summary AS
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
GRANT SELECT ON decnet.campaign_summary TO decnet_analyst;
COMMENT ON VIEW decnet.campaign_summary IS 'Live campaigns: their identities, member addresses, time span, fingerprints, countries and ASes.';
COMMENT ON COLUMN decnet.campaign_summary.identities IS 'Its identities.';
COMMENT ON COLUMN decnet.campaign_summary.member_ips IS 'Addresses of its identities.';
COMMENT ON COLUMN decnet.campaign_summary.countries IS 'Countries of those addresses.';
COMMENT ON COLUMN decnet.campaign_summary.asns IS 'Autonomous systems of those addresses.';
COMMENT ON COLUMN decnet.campaign_summary.campaign_id IS 'Campaign id.';
