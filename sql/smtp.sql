-- SMTP victim domains: the privacy-safe gossip query other sensors' owners
-- may ask (docs/profiles.md, docs/security.md). The counts it reads are kept
-- by the ingest merge (sql/ingest_merge.sql, step 5b).

-- Has any attacker targeted this victim domain? Aggregates only: no attacker,
-- address or per-attacker detail. The argument is normalised like the logs
-- (ACME.com, <x@acme.com> and RCPT TO:<x@acme.com> are the same); anything
-- that is not a domain answers (false, 0, NULL, NULL).
CREATE FUNCTION @extschema@.smtp_target_seen(domain text)
RETURNS TABLE (seen boolean, count bigint, first_seen timestamptz, last_seen timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    wanted text := decnet.normalize_smtp_domain(smtp_target_seen.domain);
BEGIN
    RETURN QUERY
        SELECT coalesce(sum(t.count), 0) > 0, coalesce(sum(t.count), 0)::bigint, min(t.first_seen), max(t.last_seen)
        FROM decnet.smtp_targets t
        WHERE t.domain = wanted;
END
$fn$;
