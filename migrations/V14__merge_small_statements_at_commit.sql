-- Small statements merge once per transaction (issue 16, src/pending.rs):
-- logs_derive leaves the lines of a statement of fewer than 1,000 lines to
-- this deferred trigger, which fires at commit (one event per transaction:
-- its WHEN is true for the transaction's first line only) and merges them
-- all at once. Inside the transaction the derived tables lag its own small
-- inserts until commit, or until SET CONSTRAINTS logs_merge_at_commit IMMEDIATE.
CREATE CONSTRAINT TRIGGER logs_merge_at_commit AFTER INSERT ON decnet.logs
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (decnet.merge_event_needed())
    EXECUTE FUNCTION decnet.logs_merge_pending();

-- The WHEN clause runs with the inserting role's rights. A sensor calling the
-- function itself can only make its own transaction fail at commit (its
-- lines left unmerged are refused, src/pending.rs), never lose a count.
GRANT EXECUTE ON FUNCTION decnet.merge_event_needed() TO decnet_ingest;
