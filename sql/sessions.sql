-- Recorded SSH sessions: keystroke profiles and similarity (issue 7,
-- docs/keystrokes.md). Tables live in migrations/V5__session_profiles.sql.

-- AFTER INSERT / AFTER UPDATE statement trigger of decnet.session_recordings:
-- recomputes the profile of every session the statement wrote, through the
-- same view decnet.verify() and decnet.rebuild() use. A rewritten recording
-- conflicts on its own row lock first, so replacing its profile is safe.
CREATE FUNCTION @extschema@.session_recordings_derive() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    DELETE FROM decnet.session_profiles WHERE sid IN (SELECT sid FROM new_rows);
    INSERT INTO decnet.session_profiles
        SELECT v.*, now() FROM decnet.recomputed_session_profiles v
        WHERE v.sid IN (SELECT sid FROM new_rows) ORDER BY v.sid;
    -- a new typing rhythm can link the attacker to an identity: the next rollup looks again
    PERFORM decnet.mark_dirty(ARRAY(SELECT a.ip FROM decnet.attackers a WHERE a.ip IN (SELECT attacker_ip FROM new_rows)));
    RETURN NULL;
END
$fn$;

-- Sessions whose keystroke SimHash is within max_distance bits of session
-- sid's, nearest first (the session itself is left out). Multi-index hashing:
-- two hashes within d bits agree to within d/4 bits on at least one of their
-- four 16-bit chunks, so each chunk's index is probed with every value that
-- close; only those candidates get the exact Hamming distance. Beyond 19 bits
-- the probes would outnumber the rows, so the table is scanned instead.
CREATE FUNCTION @extschema@.similar_sessions(sid text, max_distance integer DEFAULT 8)
RETURNS TABLE (similar_sid text, distance integer, attacker_ip inet, decky text, started_at timestamptz,
               kd_simhash_confidence double precision)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    me decnet.session_profiles%ROWTYPE;
    radius integer := max_distance / 4;
BEGIN
    IF max_distance IS NULL OR max_distance < 0 OR max_distance > 64 THEN
        RAISE EXCEPTION 'max_distance must be between 0 and 64, got %', max_distance
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A keystroke SimHash has 64 bits; 8 (the default) is DECNET''s same-typist threshold.';
    END IF;
    SELECT * INTO me FROM decnet.session_profiles sp WHERE sp.sid = similar_sessions.sid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no session profile for sid %', similar_sessions.sid
            USING ERRCODE = 'no_data_found',
                  HINT = 'Insert the recording into decnet.session_recordings (or load it with decnet ingest-sessions) first.';
    END IF;
    IF me.kd_simhash IS NULL THEN
        RETURN;  -- too few digraphs to compare: nothing is similar
    END IF;
    IF radius <= 4 THEN
        RETURN QUERY
        SELECT sp.sid, decnet.kd_hamming(sp.kd_simhash, me.kd_simhash), sp.attacker_ip, sp.decky, sp.started_at,
               sp.kd_simhash_confidence
        FROM decnet.session_profiles sp
        WHERE (sp.kd_chunk0 = ANY (decnet.kd_chunk_neighbors(me.kd_chunk0, radius))
            OR sp.kd_chunk1 = ANY (decnet.kd_chunk_neighbors(me.kd_chunk1, radius))
            OR sp.kd_chunk2 = ANY (decnet.kd_chunk_neighbors(me.kd_chunk2, radius))
            OR sp.kd_chunk3 = ANY (decnet.kd_chunk_neighbors(me.kd_chunk3, radius)))
          AND sp.sid <> me.sid
          AND decnet.kd_hamming(sp.kd_simhash, me.kd_simhash) <= max_distance
        ORDER BY 2, 1;
    ELSE
        RETURN QUERY
        SELECT sp.sid, decnet.kd_hamming(sp.kd_simhash, me.kd_simhash), sp.attacker_ip, sp.decky, sp.started_at,
               sp.kd_simhash_confidence
        FROM decnet.session_profiles sp
        WHERE sp.kd_simhash IS NOT NULL AND sp.sid <> me.sid
          AND decnet.kd_hamming(sp.kd_simhash, me.kd_simhash) <= max_distance
        ORDER BY 2, 1;
    END IF;
END
$fn$;
