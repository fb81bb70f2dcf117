-- Offline enrichment (issue 6, docs/enrichment.md): country from RIR
-- delegated statistics, AS from iptoasn. Tables live in migrations/V7__enrichment.sql.

-- Country of an address from decnet.country_ranges: the range with the
-- greatest start at or below it, if it reaches the address (DECNET decnet/geoip/);
-- NULL for addresses that are not public.
CREATE FUNCTION @extschema@.country_of(ip inet) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    IF NOT decnet.is_public_address(ip) THEN
        RETURN NULL;
    END IF;
    SELECT c.end_ip, c.country_code INTO r FROM decnet.country_ranges c
    WHERE c.start_ip <= ip ORDER BY c.start_ip DESC LIMIT 1;
    IF FOUND AND family(r.end_ip) = family(ip) AND ip <= r.end_ip THEN
        RETURN r.country_code;
    END IF;
    RETURN NULL;
END
$fn$;

-- AS of an address from decnet.asn_ranges, with the BGP prefix that holds it
-- (DECNET decnet/asn/); no row for addresses that are not public or not announced.
CREATE FUNCTION @extschema@.asn_of(ip inet)
RETURNS TABLE (asn bigint, as_name text, bgp_prefix cidr, country text)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    IF NOT decnet.is_public_address(ip) THEN
        RETURN;
    END IF;
    SELECT a.start_ip, a.end_ip, a.asn, a.as_name, a.country INTO r FROM decnet.asn_ranges a
    WHERE a.start_ip <= ip ORDER BY a.start_ip DESC LIMIT 1;
    IF FOUND AND family(r.end_ip) = family(ip) AND ip <= r.end_ip THEN
        RETURN QUERY SELECT r.asn, nullif(r.as_name, ''), decnet.range_prefix(r.start_ip, r.end_ip, ip)::cidr, r.country;
    END IF;
END
$fn$;

-- country_of and asn_of of many addresses at once, by the same rule (a test
-- holds them equal): NULLs where unknown or not public. The ingest trigger
-- enriches a statement's new attackers with one call of this; a call of the
-- two functions per address cost more than the rest of their merge.
CREATE FUNCTION @extschema@.ranges_of(ips inet[])
RETURNS TABLE (ip inet, country_code text, asn bigint, as_name text, bgp_prefix cidr, as_country text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- plpgsql, not sql: its plan is cached, a sql function's is made per call
    RETURN QUERY
    SELECT t.ip, c.country_code, a.asn, nullif(a.as_name, ''), decnet.range_prefix(a.start_ip, a.end_ip, t.ip)::cidr, a.country
    FROM unnest(ips) AS t(ip)
    LEFT JOIN LATERAL (SELECT r.end_ip, r.country_code FROM decnet.country_ranges r
                       WHERE r.start_ip <= t.ip ORDER BY r.start_ip DESC LIMIT 1) c
           ON decnet.is_public_address(t.ip) AND family(c.end_ip) = family(t.ip) AND t.ip <= c.end_ip
    LEFT JOIN LATERAL (SELECT r.start_ip, r.end_ip, r.asn, r.as_name, r.country FROM decnet.asn_ranges r
                       WHERE r.start_ip <= t.ip ORDER BY r.start_ip DESC LIMIT 1) a
           ON decnet.is_public_address(t.ip) AND family(a.end_ip) = family(t.ip) AND t.ip <= a.end_ip;
END
$fn$;

-- The attacker columns enrichment owns: rebuild() keeps them, verify() ignores them.
CREATE FUNCTION @extschema@.attacker_enrichment_columns() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY['country_code', 'country_source', 'asn', 'as_name', 'asn_source', 'ptr_record', 'ptr_attempted_at'] $$;

-- Sets country and AS of the given attackers from the loaded ranges (each
-- lookup on its own: a missing country never holds back the AS). Returns the
-- rows changed.
CREATE FUNCTION @extschema@.enrich_attackers(ips inet[]) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    changed bigint;
BEGIN
    UPDATE decnet.attackers a
    SET country_code = e.cc, country_source = CASE WHEN e.cc IS NOT NULL THEN 'rir' END,
        asn = e.asn, as_name = e.as_name, asn_source = CASE WHEN e.asn IS NOT NULL THEN 'iptoasn' END
    FROM (SELECT r.ip, r.country_code AS cc, r.asn, r.as_name FROM decnet.ranges_of(ips) r) e
    WHERE a.ip = e.ip
      AND (a.country_code, a.asn, a.as_name) IS DISTINCT FROM (e.cc, e.asn, e.as_name);
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed;
END
$fn$;

-- Refuses a load that leaves nothing, or that would shrink what a source
-- holds to less than half (a truncated or wrong file), unless forced.
CREATE FUNCTION @extschema@.check_enrichment_load(source text, loaded bigint, held bigint, force boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF coalesce(loaded, 0) = 0 THEN
        RAISE EXCEPTION 'no usable ranges for %: nothing was loaded', source
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Check the file type: load-rir takes delegated-<rir>-[extended-]latest, load-asn takes ip2asn-v4/v6.tsv[.gz].';
    END IF;
    IF NOT force AND loaded * 2 < held THEN
        RAISE EXCEPTION '% would shrink from % to % ranges', source, held, loaded
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A truncated or wrong file? If the source really shrank, load it with force: decnet load-rir/load-asn --force, or decnet.load_rir_file(file, true) / load_iptoasn_file(file, true).';
    END IF;
END
$fn$;

-- Loads an RIR delegated-statistics file (the text of delegated-<rir>-latest
-- or -extended-latest, unchanged): checks it against its own version and
-- summary counts, replaces the ranges of the registries it names (refusing to
-- shrink one to less than half unless forced), duplicates of a start keep the
-- last line, records the load, and refreshes every attacker's country.
-- Returns the ranges (distinct starts) per registry.
CREATE FUNCTION @extschema@.load_rir_file(file text, force boolean)
RETURNS TABLE (registry text, ranges bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    registries text[];
    problem text := decnet.rir_file_problem(file);
    r record;
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'not a whole RIR delegated-statistics file: %', problem
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Load delegated-<rir>-[extended-]latest as published, unchanged; a download cut short fails its summary counts.';
    END IF;
    CREATE TEMP TABLE decnet_rir_load ON COMMIT DROP AS SELECT * FROM decnet.rir_ranges(file);
    SELECT array_agg(DISTINCT l.registry) INTO registries FROM decnet_rir_load l;
    IF registries IS NULL THEN
        PERFORM decnet.check_enrichment_load('the RIR file', 0, 0, force);
    END IF;
    FOR r IN SELECT l.registry, count(DISTINCT l.start_ip) AS loaded,
                    (SELECT count(*) FROM decnet.country_ranges c WHERE c.registry = l.registry) AS held
             FROM decnet_rir_load l GROUP BY l.registry LOOP
        PERFORM decnet.check_enrichment_load('registry ' || r.registry, r.loaded, r.held, force);
    END LOOP;
    DELETE FROM decnet.country_ranges c WHERE c.registry = ANY (registries);
    INSERT INTO decnet.country_ranges AS c (start_ip, end_ip, country_code, registry)
        SELECT DISTINCT ON (l.start_ip) l.start_ip, l.end_ip, l.country_code, l.registry
        FROM decnet_rir_load l ORDER BY l.start_ip, l.line_no DESC
    ON CONFLICT (start_ip) DO UPDATE SET end_ip = excluded.end_ip, country_code = excluded.country_code,
                                          registry = excluded.registry;
    INSERT INTO decnet.enrichment_loads AS e (source, loaded_at, ranges)
        SELECT 'rir:' || l.registry, now(), count(DISTINCT l.start_ip) FROM decnet_rir_load l GROUP BY l.registry ORDER BY 1
    ON CONFLICT (source) DO UPDATE SET loaded_at = excluded.loaded_at, ranges = excluded.ranges;
    PERFORM decnet.enrich_attackers(ARRAY(SELECT a.ip FROM decnet.attackers a ORDER BY a.ip));
    RETURN QUERY SELECT l.registry, count(DISTINCT l.start_ip) FROM decnet_rir_load l GROUP BY l.registry ORDER BY 1;
    DROP TABLE decnet_rir_load;
END
$fn$;

CREATE FUNCTION @extschema@.load_rir(file text)
RETURNS TABLE (registry text, ranges bigint)
LANGUAGE sql
AS $$ SELECT * FROM @extschema@.load_rir_file(file, false) $$;

-- Loads an iptoasn TSV file (ip2asn-v4.tsv or ip2asn-v6.tsv, decompressed):
-- replaces the ranges of the address families it holds (refusing a file with
-- none, or one that would shrink a family to less than half unless forced),
-- duplicates of a start keep the last line, records the load, and refreshes
-- every attacker's AS. Returns the ranges loaded (distinct starts).
CREATE FUNCTION @extschema@.load_iptoasn_file(file text, force boolean) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    families integer[];
    loaded bigint;
    r record;
BEGIN
    CREATE TEMP TABLE decnet_asn_load ON COMMIT DROP AS SELECT * FROM decnet.iptoasn_ranges(file);
    SELECT array_agg(DISTINCT family(l.start_ip)), count(DISTINCT l.start_ip) INTO families, loaded FROM decnet_asn_load l;
    PERFORM decnet.check_enrichment_load('the iptoasn file', loaded, 0, force);
    FOR r IN SELECT f, (SELECT count(DISTINCT l.start_ip) FROM decnet_asn_load l WHERE family(l.start_ip) = f) AS loaded,
                    (SELECT count(*) FROM decnet.asn_ranges a WHERE family(a.start_ip) = f) AS held
             FROM unnest(families) f LOOP
        PERFORM decnet.check_enrichment_load('iptoasn IPv' || r.f, r.loaded, r.held, force);
    END LOOP;
    DELETE FROM decnet.asn_ranges a WHERE family(a.start_ip) = ANY (families);
    INSERT INTO decnet.asn_ranges AS a (start_ip, end_ip, asn, as_name, country)
        SELECT DISTINCT ON (l.start_ip) l.start_ip, l.end_ip, l.asn, l.as_name, l.country
        FROM decnet_asn_load l ORDER BY l.start_ip, l.line_no DESC;
    INSERT INTO decnet.enrichment_loads AS e (source, loaded_at, ranges)
        SELECT 'iptoasn-v' || f, now(), (SELECT count(DISTINCT l.start_ip) FROM decnet_asn_load l WHERE family(l.start_ip) = f)
        FROM unnest(families) f ORDER BY 1
    ON CONFLICT (source) DO UPDATE SET loaded_at = excluded.loaded_at, ranges = excluded.ranges;
    PERFORM decnet.enrich_attackers(ARRAY(SELECT a.ip FROM decnet.attackers a ORDER BY a.ip));
    DROP TABLE decnet_asn_load;
    RETURN loaded;
END
$fn$;

CREATE FUNCTION @extschema@.load_iptoasn(file text) RETURNS bigint
LANGUAGE sql
AS $$ SELECT @extschema@.load_iptoasn_file(file, false) $$;

-- Reverse DNS of up to max_attackers attackers never attempted, oldest first,
-- decnet.ptr_concurrency lookups at a time (decnet.resolve_ptrs). Stores the
-- name, or NULL for no answer, with the attempt time: "never attempted" is
-- ptr_attempted_at NULL. No row lock is held while DNS runs (ingest never
-- waits for it); the rows are then locked in address order, as ingest does.
-- One run at a time; with decnet.ptr_enabled off it leaves the queue alone.
CREATE FUNCTION @extschema@.resolve_pending_ptr(max_attackers integer DEFAULT 300)
RETURNS TABLE (attempted integer, resolved integer, remaining bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    batch inet[];
    n_attempted integer := 0;
    n_resolved integer := 0;
BEGIN
    IF pg_try_advisory_xact_lock(hashtext('decnet.resolve_pending_ptr')) THEN
        SELECT array_agg(q.ip ORDER BY q.first_seen, q.ip) INTO batch FROM (
            SELECT a.ip, a.first_seen FROM decnet.attackers a WHERE a.ptr_attempted_at IS NULL
            ORDER BY a.first_seen, a.ip LIMIT max_attackers) q;
        IF batch IS NOT NULL THEN
            CREATE TEMP TABLE decnet_ptr_answers ON COMMIT DROP AS
                SELECT r.ip::inet AS ip, r.ptr FROM decnet.resolve_ptrs(ARRAY(SELECT host(b) FROM unnest(batch) b)) r;
            PERFORM 1 FROM decnet.attackers a WHERE a.ip IN (SELECT x.ip FROM decnet_ptr_answers x) ORDER BY a.ip FOR UPDATE;
            UPDATE decnet.attackers a SET ptr_record = x.ptr, ptr_attempted_at = now()
            FROM decnet_ptr_answers x WHERE a.ip = x.ip;
            GET DIAGNOSTICS n_attempted = ROW_COUNT;
            SELECT count(x.ptr) INTO n_resolved FROM decnet_ptr_answers x;
            DROP TABLE decnet_ptr_answers;
        END IF;
    END IF;
    RETURN QUERY SELECT n_attempted, n_resolved, (SELECT count(*) FROM decnet.attackers a WHERE a.ptr_attempted_at IS NULL);
END
$fn$;
