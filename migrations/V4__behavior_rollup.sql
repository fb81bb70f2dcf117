-- Deferred behaviour: the ingest trigger marks attackers dirty; decnet.rollup()
-- (scheduled by pg_cron every minute where pg_cron lives) recomputes their
-- behaviour from their own events.

CREATE TABLE decnet.dirty_attackers (
    ip        inet PRIMARY KEY,
    marked_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE decnet.dirty_attackers IS 'Attackers with events newer than their behaviour row; drained by decnet.rollup().';

CREATE TABLE decnet.attacker_behavior (
    attacker_ip       inet PRIMARY KEY,
    event_count       bigint NOT NULL,
    timing_stats      jsonb NOT NULL,
    behavior_class    text NOT NULL,
    beacon_interval_s double precision,
    beacon_jitter_pct double precision,
    tool_guesses      text[] NOT NULL DEFAULT '{}',
    phase_sequence    jsonb NOT NULL DEFAULT '{}',
    os_guess          text,
    hop_distance      integer,
    tcp_fingerprint   jsonb NOT NULL DEFAULT '{}',
    kex_order_raw     text[],
    ssh_client_banners text[],
    retransmit_count  bigint NOT NULL DEFAULT 0,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE decnet.attacker_behavior IS
'Per attacker (spec D.6): timing statistics over its own events (sensor observations left out), the behaviour class (sensors are not services), beacon interval and jitter, tool guesses (C2 cadence, request headers, nmap OS), phases, and the sniffer/prober rollup (OS guess, hops, TCP fingerprint, KEX order, SSH banners, retransmits). Maintained by decnet.rollup().';

CREATE TABLE decnet.rollup_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL,
    duration_ms double precision NOT NULL,
    attackers   integer NOT NULL,
    events      bigint NOT NULL,
    remaining   bigint NOT NULL
);
COMMENT ON TABLE decnet.rollup_runs IS 'One row per decnet.rollup() that did work.';

-- Attackers that already exist get their first behaviour row from the next rollup.
INSERT INTO decnet.dirty_attackers (ip) SELECT ip FROM decnet.attackers ON CONFLICT DO NOTHING;

GRANT SELECT ON decnet.dirty_attackers, decnet.attacker_behavior, decnet.rollup_runs TO decnet_analyst;
REVOKE EXECUTE ON FUNCTION decnet.rollup(integer) FROM PUBLIC;

-- The schedule: only in the database pg_cron serves (cron.database_name).
DO $$
BEGIN
    IF current_setting('cron.database_name', true) = current_database() THEN
        CREATE EXTENSION IF NOT EXISTS pg_cron;
        PERFORM cron.schedule('decnet-rollup', '* * * * *', 'SELECT * FROM decnet.rollup()');
    ELSE
        RAISE NOTICE 'decnet.rollup() is not scheduled: pg_cron serves database %, not %',
            coalesce(current_setting('cron.database_name', true), '(none)'), current_database();
    END IF;
END $$;
