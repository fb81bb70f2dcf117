-- Service families (issue 18, correction #55): an attacker's services,
-- service_count, interacted/scanned buckets and behaviour class count the
-- services its programs belong to (decnet.service_families), so auth-helper,
-- sshd, sessrec and bash are one ssh. decnet.attacker_services keeps one row
-- per program, as before.

-- The views that count families (recomputed_attackers, service_buckets) are
-- live definitions (migrations/live/).

-- Existing profiles: services recounted, and every attacker whose count
-- changes is rolled up again (its behaviour class counts services).
DO $$
DECLARE
    changed inet[];
BEGIN
    WITH fam AS (
        SELECT attacker_ip, decnet.service_families(array_agg(service)) AS services
        FROM decnet.attacker_services GROUP BY attacker_ip
    ), up AS (
        UPDATE decnet.attackers a SET services = fam.services, service_count = cardinality(fam.services)
        FROM fam WHERE fam.attacker_ip = a.ip AND a.services IS DISTINCT FROM fam.services
        RETURNING a.ip
    )
    SELECT array_agg(ip ORDER BY ip) INTO changed FROM up;
    IF changed IS NOT NULL THEN
        PERFORM decnet.mark_dirty(changed);
    END IF;
END
$$;

-- The scheduled rollup drains the whole backlog (decnet.rollup_backlog), not
-- one batch a minute: a scheduled job is moved to it where pg_cron lives.
DO $$
BEGIN
    IF to_regclass('cron.job') IS NOT NULL THEN
        EXECUTE $sql$SELECT cron.alter_job(jobid, command => 'CALL decnet.rollup_backlog()') FROM cron.job
                     WHERE jobname = 'decnet-rollup' AND database = current_database()$sql$;
    END IF;
END
$$;
