-- decnet.logs: every sensor line, stored once and parsed once (by the extension's
-- row trigger) into typed columns. Nothing is ever rejected: a line that does not
-- parse is kept with parse_status 'unparsed' and the reason.
--
-- Requires the decnet extension (schema decnet): the migrate command creates it first.

CREATE TABLE decnet.logs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    raw_line      text NOT NULL,
    -- The exact bytes when raw_line had to be a lossy copy (NUL or invalid UTF-8,
    -- which PostgreSQL text cannot hold). NULL for every clean line.
    raw_bytes     bytea,
    -- Everything below is written by decnet.logs_parse_trigger(); values given
    -- by the inserter are overwritten.
    ts            timestamptz,
    decky         text,
    service       text,
    event_type    text,
    attacker_ip   inet,
    fields        jsonb NOT NULL DEFAULT '{}',
    msg           text,
    parse_status  text NOT NULL DEFAULT 'unparsed'
                  CONSTRAINT logs_parse_status_check CHECK (parse_status IN ('ok', 'partial', 'unparsed')),
    parse_reason  text
);

COMMENT ON TABLE decnet.logs IS
'Raw sensor lines (INSERT/COPY raw_line only) and their parsed columns. Append-only.';
COMMENT ON COLUMN decnet.logs.raw_bytes IS
'Original bytes of a line PostgreSQL text cannot hold (NUL, invalid UTF-8); raw_line then holds a lossy copy with U+FFFD and parse_reason includes lossy_text.';
COMMENT ON COLUMN decnet.logs.ts IS 'Event time in UTC (offsets applied; a naive timestamp is UTC). NULL if unparseable.';
COMMENT ON COLUMN decnet.logs.attacker_ip IS 'Attacker address without port; from the first usable IP field, else from the message.';
COMMENT ON COLUMN decnet.logs.parse_status IS 'ok: fully parsed; partial: parsed with flags (see parse_reason); unparsed: not RFC 5424, raw_line only.';
COMMENT ON COLUMN decnet.logs.parse_reason IS 'Comma-separated flag codes: empty, not_syslog, unsupported_version, truncated_header, bad_pri, nil_timestamp, bad_timestamp, nil_hostname, nil_appname, missing_sd, bad_sd, unterminated_sd, bad_ip_field, oversized, lossy_text, profile_error.';

CREATE TRIGGER logs_parse
    BEFORE INSERT ON decnet.logs
    FOR EACH ROW EXECUTE FUNCTION decnet.logs_parse_trigger();

-- An attacker's events in time order: service buckets now, profiles and rollups later.
CREATE INDEX logs_attacker_ip_ts ON decnet.logs (attacker_ip, ts) WHERE attacker_ip IS NOT NULL;
-- Flagged lines are rare (about 2%): a small partial index finds them all.
CREATE INDEX logs_flagged ON decnet.logs (parse_status, id) WHERE parse_status <> 'ok';

-- Scanned vs interacted services per attacker address (spec §C bucketing).
CREATE VIEW decnet.service_buckets AS
SELECT g.attacker_ip, b.interacted, b.scanned
FROM (
    SELECT attacker_ip, array_agg(service) AS services, array_agg(event_type) AS event_types
    FROM decnet.logs
    WHERE attacker_ip IS NOT NULL AND service IS NOT NULL
    GROUP BY attacker_ip
) g
CROSS JOIN LATERAL decnet.bucket_services(g.services, g.event_types) b;

COMMENT ON VIEW decnet.service_buckets IS
'Per attacker address: services it interacted with and services it only scanned (DECNET bucket_services over logs). Noise-only services are left out.';
