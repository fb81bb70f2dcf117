-- Attacker profiles and what hangs off them, maintained in the same transaction
-- as every INSERT/COPY into decnet.logs by the statement trigger
-- decnet.logs_derive(), and recomputable from decnet.logs by the
-- recomputed_* views below (decnet.rebuild(), decnet.verify()).

-- Lines are facts: once stored they are not changed or removed row by row
-- (the derived tables would silently go stale). Retention drops whole partitions.
CREATE TRIGGER logs_append_only BEFORE UPDATE OR DELETE ON decnet.logs
    FOR EACH STATEMENT EXECUTE FUNCTION decnet.logs_append_only();

-- The child tables name their attacker by address without FOREIGN KEY
-- constraints: the ingest trigger is their only writer and creates the attacker
-- row first, in the same statement, and a per-row RI check would cost more than
-- the rest of the merge. decnet.verify() checks them against decnet.logs.
CREATE TABLE decnet.attackers (
    ip               inet PRIMARY KEY,
    uuid             uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    first_seen       timestamptz,
    last_seen        timestamptz,
    event_count      bigint NOT NULL DEFAULT 0,
    service_count    integer NOT NULL DEFAULT 0,
    decky_count      integer NOT NULL DEFAULT 0,
    bounty_count     bigint NOT NULL DEFAULT 0,
    credential_count bigint NOT NULL DEFAULT 0,
    command_count    bigint NOT NULL DEFAULT 0,
    services         text[] NOT NULL DEFAULT '{}',
    deckies          text[] NOT NULL DEFAULT '{}',
    is_traversal     boolean NOT NULL DEFAULT false,
    traversal_path   text,
    commands         jsonb NOT NULL DEFAULT '[]',
    fingerprints     jsonb NOT NULL DEFAULT '[]',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 70);  -- room for the merge's second (HOT) update of each row
CREATE INDEX attackers_last_seen ON decnet.attackers (last_seen);
COMMENT ON TABLE decnet.attackers IS 'One row per attacker address, maintained by the ingest trigger.';
COMMENT ON COLUMN decnet.attackers.event_count IS 'Every stored line keyed to this address, sensor observations (sniffer, prober) included.';
COMMENT ON COLUMN decnet.attackers.services IS 'Sorted services the attacker used; sensors (sniffer, prober) are not services.';
COMMENT ON COLUMN decnet.attackers.deckies IS 'Deckies in first-contact order (ties: first stored line); decnet-* infrastructure hosts excluded.';
COMMENT ON COLUMN decnet.attackers.traversal_path IS 'Deckies joined by " → " when there are at least two.';
COMMENT ON COLUMN decnet.attackers.bounty_count IS 'Distinct bounties (decnet.bounties rows) for this address.';
COMMENT ON COLUMN decnet.attackers.credential_count IS 'Distinct credentials captured (decnet.credentials rows); attempts are in credentials.attempt_count.';
COMMENT ON COLUMN decnet.attackers.command_count IS 'Every command event; commands keeps only the first and last decnet.commands_kept_per_end() of them.';
COMMENT ON COLUMN decnet.attackers.commands IS 'The first and last commands by time: [{service, decky, command, timestamp}]. The full set is in decnet.logs.';
COMMENT ON COLUMN decnet.attackers.fingerprints IS 'Payloads of the first decnet.fingerprints_kept() fingerprint bounties by time.';

CREATE TABLE decnet.attacker_services (
    attacker_ip       inet NOT NULL,
    service           text NOT NULL,
    event_count       bigint NOT NULL,
    interaction_count bigint NOT NULL,
    scan_count        bigint NOT NULL,
    noise_count       bigint NOT NULL,
    first_seen        timestamptz,
    last_seen         timestamptz,
    bucket            text GENERATED ALWAYS AS (
                          CASE WHEN interaction_count > 0 THEN 'interacted'
                               WHEN scan_count > 0 THEN 'scanned' ELSE 'noise' END) STORED,
    PRIMARY KEY (attacker_ip, service)
);
COMMENT ON TABLE decnet.attacker_services IS 'Per attacker and service: event counts by kind, time span, and the DECNET bucket (interacted > scanned > noise).';

CREATE TABLE decnet.attacker_deckies (
    attacker_ip  inet NOT NULL,
    decky        text NOT NULL,
    first_seen   timestamptz,
    first_log_id bigint NOT NULL,
    last_seen    timestamptz,
    event_count  bigint NOT NULL,
    PRIMARY KEY (attacker_ip, decky)
);
COMMENT ON TABLE decnet.attacker_deckies IS 'Per attacker and decky: first contact and event count; the source of attackers.deckies and traversal_path.';

CREATE TABLE decnet.attacker_commands (
    attacker_ip inet NOT NULL,
    log_id      bigint NOT NULL,
    ts          timestamptz,
    service     text,
    decky       text,
    command     text NOT NULL,
    PRIMARY KEY (attacker_ip, log_id)
);
COMMENT ON TABLE decnet.attacker_commands IS 'The first and last decnet.commands_kept_per_end() commands of each attacker by (ts, log_id): bounded whatever the attacker sends.';

CREATE TABLE decnet.bounties (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bounty_type      text NOT NULL,
    attacker_ip      inet,
    payload          jsonb NOT NULL,
    payload_key      bytea NOT NULL,  -- decnet.payload_key(payload): the dedup key
    fingerprint_type text GENERATED ALWAYS AS (payload->>'fingerprint_type') STORED,
    decky            text,
    service          text,
    first_seen       timestamptz,
    last_seen        timestamptz,
    first_log_id     bigint NOT NULL,
    seen_count       bigint NOT NULL,
    CONSTRAINT bounties_dedup UNIQUE NULLS NOT DISTINCT (bounty_type, attacker_ip, payload_key)
);
CREATE INDEX bounties_attacker ON decnet.bounties (attacker_ip, bounty_type, first_log_id);
CREATE INDEX bounties_fingerprint_type ON decnet.bounties (fingerprint_type) WHERE fingerprint_type IS NOT NULL;
COMMENT ON TABLE decnet.bounties IS 'Fingerprints, IP leaks and artifacts (spec E.3), one row per (bounty_type, attacker_ip, payload); decky/service are those of the first line that yielded it.';

CREATE TABLE decnet.credentials (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    attacker_ip      inet,
    attacker_uuid    uuid,
    decky            text,
    service          text,
    principal        text,
    principal_key    text NOT NULL DEFAULT '',
    secret_kind      text NOT NULL,
    secret_sha256    text NOT NULL,
    secret_b64       text,
    secret_printable text,
    outcome          text,
    outcome_log_id   bigint,
    first_seen       timestamptz,
    last_seen        timestamptz,
    first_log_id     bigint NOT NULL,
    attempt_count    bigint NOT NULL,
    CONSTRAINT credentials_dedup UNIQUE NULLS NOT DISTINCT (attacker_ip, decky, service, secret_kind, secret_sha256, principal_key)
);
CREATE INDEX credentials_secret ON decnet.credentials (secret_sha256, service);
CREATE INDEX credentials_principal ON decnet.credentials (principal, service);
COMMENT ON TABLE decnet.credentials IS 'Captured credentials (spec E.2), one row per (attacker_ip, decky, service, secret_kind, secret_sha256, principal); attacker_uuid is set whenever the line had an attacker address.';

-- The row trigger (logs_parse) groups each statement's lines in memory between
-- these two statement triggers; logs_derive merges the result (docs/profiles.md).
CREATE TRIGGER logs_statement_begin BEFORE INSERT ON decnet.logs
    FOR EACH STATEMENT EXECUTE FUNCTION decnet.logs_statement_begin();
CREATE TRIGGER logs_derive AFTER INSERT ON decnet.logs
    FOR EACH STATEMENT EXECUTE FUNCTION decnet.logs_derive();

-- ---- recomputation from decnet.logs (rebuild/verify) --------------------------

CREATE VIEW decnet.recomputed_attacker_services AS
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

CREATE VIEW decnet.recomputed_attacker_deckies AS
SELECT attacker_ip, decky, min(ts) AS first_seen, min(id) AS first_log_id, max(ts) AS last_seen, count(*) AS event_count
FROM decnet.logs
WHERE attacker_ip IS NOT NULL AND decky IS NOT NULL AND NOT decnet.is_infrastructure_decky(decky)
GROUP BY attacker_ip, decky;

CREATE VIEW decnet.recomputed_attacker_commands AS
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

CREATE VIEW decnet.recomputed_log_bounties AS
SELECT l.id, l.ts, l.decky, l.service, b.bounty_type, b.attacker_ip, b.payload
FROM decnet.logs l
CROSS JOIN LATERAL decnet.log_bounties(l.service, l.event_type, l.attacker_ip, l.fields) b
WHERE decnet.may_have_bounty(l.event_type, l.fields);

CREATE VIEW decnet.recomputed_bounties AS
SELECT bounty_type, attacker_ip, payload,
       (array_agg(decky ORDER BY id))[1] AS decky, (array_agg(service ORDER BY id))[1] AS service,
       min(ts) AS first_seen, max(ts) AS last_seen, min(id) AS first_log_id, count(*) AS seen_count
FROM decnet.recomputed_log_bounties
WHERE bounty_type <> 'credential'
GROUP BY bounty_type, attacker_ip, payload;

CREATE VIEW decnet.recomputed_credentials AS
SELECT attacker_ip, decky, service, payload->>'principal' AS principal, coalesce(payload->>'principal', '') AS principal_key,
       payload->>'secret_kind' AS secret_kind, payload->>'secret_sha256' AS secret_sha256,
       min(payload->>'secret_b64') AS secret_b64, min(payload->>'secret_printable') AS secret_printable,
       (array_agg(payload->>'outcome' ORDER BY id DESC) FILTER (WHERE payload->>'outcome' IS NOT NULL))[1] AS outcome,
       max(id) FILTER (WHERE payload->>'outcome' IS NOT NULL) AS outcome_log_id,
       min(ts) AS first_seen, max(ts) AS last_seen, min(id) AS first_log_id, count(*) AS attempt_count
FROM decnet.recomputed_log_bounties
WHERE bounty_type = 'credential'
GROUP BY attacker_ip, decky, service, payload->>'principal', payload->>'secret_kind', payload->>'secret_sha256';

CREATE VIEW decnet.recomputed_attackers AS
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
       coalesce(fp.fingerprints, '[]') AS fingerprints
FROM base
LEFT JOIN svc ON svc.attacker_ip = base.ip
LEFT JOIN dk ON dk.attacker_ip = base.ip
LEFT JOIN cmd ON cmd.attacker_ip = base.ip
LEFT JOIN kept ON kept.attacker_ip = base.ip
LEFT JOIN b ON b.attacker_ip = base.ip
LEFT JOIN fp ON fp.attacker_ip = base.ip
LEFT JOIN c ON c.attacker_ip = base.ip;

-- service_buckets now reads the maintained table (sensors excluded, host:port merged).
CREATE OR REPLACE VIEW decnet.service_buckets AS
SELECT attacker_ip,
       coalesce(array_agg(service ORDER BY service) FILTER (WHERE bucket = 'interacted'), '{}') AS interacted,
       coalesce(array_agg(service ORDER BY service) FILTER (WHERE bucket = 'scanned'), '{}') AS scanned
FROM decnet.attacker_services
GROUP BY attacker_ip;
