-- Where each log file has been read to (issue 17): `decnet ingest` and
-- `decnet ingest --follow` write a file's position in the same transaction as
-- the lines it covers, so a restart, a crash or a second run resumes exactly
-- there and no line is stored twice.
--
-- A file is its (device, inode). An inode can be reused by a new file after
-- the old one is deleted, so the row also keeps a fingerprint: the SHA-256 of
-- the file's first head_len bytes (at most 1 KiB). A file whose first bytes no
-- longer match is a new file, read from its start.
CREATE TABLE decnet.ingest_positions (
    device       bigint NOT NULL,
    inode        bigint NOT NULL,
    path         text NOT NULL,     -- where the file was last read (a rotated file moves)
    head_len     integer NOT NULL CHECK (head_len BETWEEN 0 AND 1024),
    head_sha256  bytea NOT NULL CHECK (octet_length(head_sha256) = 32),
    byte_offset  bigint NOT NULL CHECK (byte_offset >= 0),  -- just after the last line stored
    lines        bigint NOT NULL CHECK (lines >= 0),        -- lines stored from this file
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device, inode)
);
CREATE INDEX ingest_positions_path ON decnet.ingest_positions (path);

-- What operators read: one row per file, newest first.
CREATE VIEW decnet.ingest_sources AS
SELECT path, device, inode, byte_offset, lines, updated_at, now() - updated_at AS idle_for
FROM decnet.ingest_positions
ORDER BY updated_at DESC;

-- The loader reads and moves its own positions (SELECT … FOR UPDATE needs
-- UPDATE); nothing else of the schema becomes readable to it.
GRANT SELECT, INSERT, UPDATE ON decnet.ingest_positions TO decnet_ingest;
GRANT SELECT ON decnet.ingest_positions, decnet.ingest_sources TO decnet_analyst;

COMMENT ON TABLE decnet.ingest_positions IS
'Per log file (device, inode): the byte offset after the last line stored, moved in the transaction that stores the lines; the SHA-256 of its first head_len bytes tells a reused inode from the same file. Written by decnet ingest and decnet ingest --follow.';
COMMENT ON VIEW decnet.ingest_sources IS
'The log files decnet ingest has read: where each stands and how long since it moved.';
