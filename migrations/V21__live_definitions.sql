-- Live definitions (issue 19): every view is defined once, in a file of
-- migrations/live/ that decnet migrate applies after the numbered migrations.
-- This table records the checksum each file was last applied with, so an
-- unchanged file is not applied again (a CREATE OR REPLACE VIEW takes an
-- exclusive lock on the view, which would queue behind analysts' queries).
CREATE TABLE decnet.live_definitions (
    file       text PRIMARY KEY,
    md5        text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT ON decnet.live_definitions TO decnet_analyst;
COMMENT ON TABLE decnet.live_definitions IS
'The live definition files (views, their comments and grants) decnet migrate applied, with the checksum of each as applied.';
COMMENT ON COLUMN decnet.live_definitions.file IS 'File name under migrations/live/.';
COMMENT ON COLUMN decnet.live_definitions.md5 IS 'md5 of the file''s text as applied.';
COMMENT ON COLUMN decnet.live_definitions.applied_at IS 'When it was last applied.';
