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
