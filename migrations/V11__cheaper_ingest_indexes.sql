-- Two indexes every ingested line or bounty paid for, made cheaper (issue 3,
-- docs/benchmarks.md). Both are rebuilt here: on a large decnet.logs this
-- migration takes a while and blocks ingest until it commits.

-- 1. Lines by attacker: every reader (rollup, identities, rebuild, analysts)
--    asks for the lines of given addresses, never for a range of addresses, and
--    sorts what it reads itself. A hash index answers that with one bucket page
--    per line inserted instead of a B-tree descent comparing inet values; it
--    cut the parse-only COPY of 100,000 lines by about 0.15 s.
DROP INDEX decnet.logs_attacker_ip_ts;
CREATE INDEX logs_attacker_ip ON decnet.logs USING hash (attacker_ip) WHERE attacker_ip IS NOT NULL;

-- 2. Bounties by attacker: the dedup key now leads with the attacker, so its
--    index also serves "this attacker's bounties of a type", and the separate
--    (attacker_ip, bounty_type, first_log_id) index goes. ON CONFLICT names the
--    same columns, in any order.
ALTER TABLE decnet.bounties
    DROP CONSTRAINT bounties_dedup,
    ADD CONSTRAINT bounties_dedup UNIQUE NULLS NOT DISTINCT (attacker_ip, bounty_type, payload_key);
DROP INDEX decnet.bounties_attacker;
