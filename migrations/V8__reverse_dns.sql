-- Reverse DNS of attackers (issue 6, docs/enrichment.md): resolved once per
-- attacker, off the ingest path, by decnet.resolve_pending_ptr() on pg_cron.
-- ptr_attempted_at NULL means "never attempted" (the queue); a set time with
-- ptr_record NULL means "attempted, no answer".

ALTER TABLE decnet.attackers
    ADD COLUMN ptr_record       text,
    ADD COLUMN ptr_attempted_at timestamptz;

-- the queue, oldest first
CREATE INDEX attackers_ptr_pending ON decnet.attackers (first_seen, ip) WHERE ptr_attempted_at IS NULL;

REVOKE EXECUTE ON FUNCTION decnet.enrich_ptr(inet), decnet.resolve_ptrs(text[]), decnet.resolve_pending_ptr(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION decnet.enrich_ptr(inet) TO decnet_analyst;

DO $$
BEGIN
    IF current_setting('cron.database_name', true) = current_database() THEN
        CREATE EXTENSION IF NOT EXISTS pg_cron;
        PERFORM cron.schedule('decnet-ptr', '* * * * *', 'SELECT * FROM decnet.resolve_pending_ptr(300)');
    ELSE
        RAISE NOTICE 'decnet.resolve_pending_ptr() is not scheduled: pg_cron serves database %, not %',
            coalesce(current_setting('cron.database_name', true), '(none)'), current_database();
    END IF;
END $$;
