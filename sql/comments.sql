-- Documentation for every function of the extension (\df+ and \dd show these).
COMMENT ON FUNCTION @extschema@.parse_log(text) IS
'Parses one DECNET RFC 5424 log line exactly as the ingest trigger does. Returns one row: parse_status (ok | partial | unparsed), parse_reason (comma-separated flag codes, NULL when ok), ts (UTC), decky, service, event_type (NULL for the NILVALUE "-"), attacker_ip, fields (SD parameters of relay@55555, escapes decoded), msg.';

COMMENT ON FUNCTION @extschema@.classify_event_kind(text) IS
'DECNET event kind of an event_type: interaction, noise, or scan (the default, also for "" and "-").';

COMMENT ON FUNCTION @extschema@.bucket_services(text[], text[]) IS
'Given parallel arrays of service and event_type, returns the sorted services whose best event kind is interaction (interacted) or scan (scanned); noise-only services are left out.';

COMMENT ON FUNCTION @extschema@.logs_parse_trigger() IS
'BEFORE INSERT/UPDATE row trigger of decnet.logs: parses raw_line once into ts, decky, service, event_type, attacker_ip, fields, msg, parse_status and parse_reason. Never raises for a bad line; lines with raw_bytes set are flagged lossy_text.';
