-- Correction #47 (docs/corrections.md): a fingerprint is stored once per
-- attacker. decnet.payload_key() (extension 0.3.0) leaves out the members that
-- describe one sighting (method and path of an http_useragent or ja4h
-- fingerprint; the client port of ja4h, http2_settings, http3_settings); a
-- bounty keeps its first sighting's payload and counts the others in
-- seen_count. Here the recomputation follows the same key, and the bounties
-- already stored are merged under it.

CREATE OR REPLACE VIEW decnet.recomputed_bounties AS
SELECT bounty_type, attacker_ip, (array_agg(payload ORDER BY id))[1] AS payload,
       (array_agg(decky ORDER BY id))[1] AS decky, (array_agg(service ORDER BY id))[1] AS service,
       min(ts) AS first_seen, max(ts) AS last_seen, min(id) AS first_log_id, count(*) AS seen_count
FROM decnet.recomputed_log_bounties
WHERE bounty_type <> 'credential'
GROUP BY bounty_type, attacker_ip, decnet.payload_key(payload);

-- the stored bounties whose key changes, merged with every bounty of their
-- new key: first sighting first. Found by comparing the stored key with
-- payload_key(), so this repeats no list of fingerprint types.
CREATE TEMP TABLE decnet_rekeyed ON COMMIT DROP AS
WITH keyed AS (
    SELECT b.*, decnet.payload_key(b.payload) AS new_key FROM decnet.bounties b
), moved AS (
    SELECT DISTINCT bounty_type, attacker_ip, new_key FROM keyed WHERE new_key <> payload_key
)
SELECT k.bounty_type, k.attacker_ip, k.new_key AS payload_key, array_agg(k.id) AS ids,
       (array_agg(k.payload ORDER BY k.first_log_id, k.id))[1] AS payload,
       (array_agg(k.decky ORDER BY k.first_log_id, k.id))[1] AS decky, (array_agg(k.service ORDER BY k.first_log_id, k.id))[1] AS service,
       min(k.first_seen) AS first_seen, max(k.last_seen) AS last_seen, min(k.first_log_id) AS first_log_id, sum(k.seen_count)::bigint AS seen_count
FROM keyed k
JOIN moved m ON m.bounty_type = k.bounty_type AND m.attacker_ip IS NOT DISTINCT FROM k.attacker_ip AND m.new_key = k.new_key
GROUP BY 1, 2, 3;

DELETE FROM decnet.bounties b USING (SELECT unnest(ids) AS id FROM decnet_rekeyed) r WHERE b.id = r.id;
INSERT INTO decnet.bounties (bounty_type, attacker_ip, payload, payload_key, decky, service, first_seen, last_seen, first_log_id, seen_count)
SELECT bounty_type, attacker_ip, payload, payload_key, decky, service, first_seen, last_seen, first_log_id, seen_count
FROM decnet_rekeyed ORDER BY attacker_ip, bounty_type, payload_key;

-- their attackers' bounty counts and fingerprint lists, as the ingest trigger keeps them
UPDATE decnet.attackers a SET
    bounty_count = (SELECT count(*) FROM decnet.bounties b WHERE b.attacker_ip = a.ip),
    fingerprints = coalesce((SELECT jsonb_agg(f.payload ORDER BY f.first_log_id, f.payload_key)
                             FROM (SELECT b.payload, b.first_log_id, b.payload_key FROM decnet.bounties b
                                   WHERE b.attacker_ip = a.ip AND b.bounty_type = 'fingerprint'
                                   ORDER BY b.first_log_id, b.payload_key LIMIT decnet.fingerprints_kept()) f), '[]')
WHERE a.ip IN (SELECT DISTINCT r.attacker_ip FROM decnet_rekeyed r);
