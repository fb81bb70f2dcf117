-- Identities explain themselves (issue 18): for every edge the identity
-- passes found, each signal the two addresses share, its tier and the tier's
-- weight (decnet.identity_link_reasons). Written by store_identity_links()
-- from both passes; read through decnet.identity_links(identity) and the
-- linked_by column of identity_summary.
CREATE TABLE decnet.identity_link_signals (
    a        inet NOT NULL,
    b        inet NOT NULL,
    tier     text NOT NULL CHECK (tier IN ('high', 'medium', 'low', 'very_low', 'keystroke')),
    kind     text NOT NULL,
    value    text NOT NULL,
    weight   double precision NOT NULL,
    found_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (a, b, kind, value),
    CHECK (a < b)
);
CREATE INDEX identity_link_signals_b ON decnet.identity_link_signals (b);
GRANT SELECT ON decnet.identity_link_signals TO decnet_analyst;
COMMENT ON TABLE decnet.identity_link_signals IS
'Why identity edges hold: per linked address pair (a < b), each shared signal (kind, value, bounded like every key), its tier and the tier''s weight. Replaced for the attackers each rollup drains and wholly by the hourly full pass.';

-- identity_summary gains linked_by: per signal kind, how many of its edges share one
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
COMMENT ON COLUMN decnet.identity_summary.linked_by IS
'Per signal kind (hassh, ja3, c2, payload_hash, commands:<phase>, credentials, asn, kd_simhash, …), how many of the identity''s edges share one; decnet.identity_links(identity_id) lists them.';

-- Identities made before this version: their links come from a full pass now.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM decnet.identity_members) THEN
        PERFORM decnet.recluster_identities();
    END IF;
END
$$;
