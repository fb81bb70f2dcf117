-- Recorded SSH sessions and their keystroke profiles (issue 7, docs/keystrokes.md).

CREATE TABLE decnet.session_recordings (
    sid         text PRIMARY KEY CHECK (sid <> ''),
    attacker_ip inet,
    decky       text,
    service     text,
    started_at  timestamptz,
    -- the session's sessrec JSONL lines (spec H.2), header included
    events      text NOT NULL,
    -- the shard file it was loaded from, when the CLI loaded it
    source      text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE decnet.session_recordings IS
'Recorded interactive sessions as sessrec JSONL (one row per sid). Inserting or updating a row (re)computes its decnet.session_profiles row. Holds typed content (passwords included), like decnet.logs.';

CREATE TABLE decnet.session_profiles (
    sid                       text PRIMARY KEY REFERENCES decnet.session_recordings (sid) ON DELETE CASCADE,
    attacker_ip               inet,
    decky                     text,
    service                   text,
    started_at                timestamptz,
    schema_version            integer NOT NULL,
    kd_simhash                bytea CHECK (octet_length(kd_simhash) = 8),
    kd_simhash_confidence     double precision,
    iki_mean_s                double precision,
    iki_stdev_s               double precision,
    iki_p50_s                 double precision,
    iki_p95_s                 double precision,
    enter_latency_p50_s       double precision,
    enter_latency_p95_s       double precision,
    pause_burst               integer NOT NULL,
    pause_think               integer NOT NULL,
    pause_distracted          integer NOT NULL,
    start_of_action_latency_s double precision,
    max_pause_s               double precision,
    backspace_rate            double precision,
    wkill_rate                double precision,
    ukill_rate                double precision,
    abort_rate                double precision,
    eof_rate                  double precision,
    arrow_rate                double precision,
    tab_rate                  double precision,
    top_bigrams               jsonb NOT NULL,
    total_keystrokes          integer NOT NULL,
    paste_events              integer NOT NULL,
    input_events              integer NOT NULL,
    output_events             integer NOT NULL,
    duration_s                double precision NOT NULL,
    malformed_lines           integer NOT NULL,
    profiled_at               timestamptz NOT NULL,
    -- the SimHash as four 16-bit chunks, for multi-index hashing in decnet.similar_sessions()
    kd_chunk0 integer GENERATED ALWAYS AS ((get_byte(kd_simhash, 0) << 8) | get_byte(kd_simhash, 1)) STORED,
    kd_chunk1 integer GENERATED ALWAYS AS ((get_byte(kd_simhash, 2) << 8) | get_byte(kd_simhash, 3)) STORED,
    kd_chunk2 integer GENERATED ALWAYS AS ((get_byte(kd_simhash, 4) << 8) | get_byte(kd_simhash, 5)) STORED,
    kd_chunk3 integer GENERATED ALWAYS AS ((get_byte(kd_simhash, 6) << 8) | get_byte(kd_simhash, 7)) STORED
);
COMMENT ON TABLE decnet.session_profiles IS
'Keystroke profile per recorded session: digraph SimHash, inter-key interval and Enter-latency statistics, pause histogram (0.2 s / 1.5 s), start-of-action latency, control-key rates, top 32 bigrams. Timing and character classes only, never typed text. Maintained by a trigger on decnet.session_recordings.';
CREATE INDEX session_profiles_chunk0 ON decnet.session_profiles (kd_chunk0) WHERE kd_chunk0 IS NOT NULL;
CREATE INDEX session_profiles_chunk1 ON decnet.session_profiles (kd_chunk1) WHERE kd_chunk1 IS NOT NULL;
CREATE INDEX session_profiles_chunk2 ON decnet.session_profiles (kd_chunk2) WHERE kd_chunk2 IS NOT NULL;
CREATE INDEX session_profiles_chunk3 ON decnet.session_profiles (kd_chunk3) WHERE kd_chunk3 IS NOT NULL;
CREATE INDEX session_profiles_attacker_ip ON decnet.session_profiles (attacker_ip);

-- finds the session_recorded line of a sid when a recording arrives without its attacker
CREATE INDEX logs_session_recorded_sid ON decnet.logs ((fields->>'sid')) WHERE event_type = 'session_recorded';

-- A session's profile computed from its recording: what the trigger stores and
-- decnet.verify() compares against. The attacker, decky and service come from
-- the recording, else from the sessrec session_recorded line of the same sid.
CREATE VIEW decnet.recomputed_session_profiles AS
SELECT r.sid, coalesce(r.attacker_ip, l.attacker_ip) AS attacker_ip, coalesce(r.decky, l.decky) AS decky,
       coalesce(r.service, l.fields->>'service') AS service, r.started_at, p.*
FROM decnet.session_recordings r
CROSS JOIN LATERAL decnet.keystroke_profile(r.events, r.sid) p
LEFT JOIN LATERAL (
    SELECT lg.attacker_ip, lg.decky, lg.fields FROM decnet.logs lg
    WHERE lg.event_type = 'session_recorded' AND lg.fields->>'sid' = r.sid
    ORDER BY lg.id LIMIT 1
) l ON true;

CREATE TRIGGER session_recordings_insert AFTER INSERT ON decnet.session_recordings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION decnet.session_recordings_derive();
CREATE TRIGGER session_recordings_update AFTER UPDATE ON decnet.session_recordings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION decnet.session_recordings_derive();

-- Ingest loads recordings (INSERT only: the CLI skips sids already loaded).
-- Analysts read them like they read decnet.logs; gossip sees neither.
GRANT INSERT ON decnet.session_recordings TO decnet_ingest;
GRANT SELECT ON decnet.session_recordings, decnet.session_profiles, decnet.recomputed_session_profiles TO decnet_analyst;
REVOKE EXECUTE ON FUNCTION decnet.keystroke_profile(text, text), decnet.kd_chunk_neighbors(integer, integer),
    decnet.session_recordings_derive(), decnet.similar_sessions(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION decnet.keystroke_profile(text, text), decnet.kd_chunk_neighbors(integer, integer),
    decnet.similar_sessions(text, integer) TO decnet_analyst;
