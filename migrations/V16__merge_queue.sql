-- Merge behind (issue 16, decnet.merge_behind_ms): the ids of lines whose
-- small transaction committed soon after another merge, waiting for the next
-- one (sql/derive.sql: logs_merge_pending, take_queued, merge_queued). One
-- row per transaction; deleted by the transaction that merges it.
CREATE TABLE decnet.merge_queue (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queued_at timestamptz NOT NULL DEFAULT now(),
    log_ids   bigint[] NOT NULL
);

-- When lines were last merged at commit while merge_behind_ms is on: one row,
-- moved at most once per window (a merger that finds it locked leaves it).
CREATE TABLE decnet.merge_queue_state (
    last_merge_at timestamptz NOT NULL
);
INSERT INTO decnet.merge_queue_state VALUES ('-infinity');

GRANT SELECT ON decnet.merge_queue, decnet.merge_queue_state TO decnet_analyst;

COMMENT ON TABLE decnet.merge_queue IS
'Lines whose small transaction committed within decnet.merge_behind_ms of the last merge: one row per transaction, merged (and deleted) by the next merge or decnet.merge_queued().';
COMMENT ON TABLE decnet.merge_queue_state IS
'One row: when lines were last merged at commit while decnet.merge_behind_ms is on (the start of the window).';
