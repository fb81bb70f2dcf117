-- Live definitions: what operators read about the loaders and the enrichment
-- data. decnet migrate applies this file after the numbered migrations,
-- whenever it changed (docs/contributing.md, "Live definitions").

-- Data older than 30 days is stale, as Elastic flags its GeoIP databases.
CREATE OR REPLACE VIEW decnet.enrichment_status AS
SELECT source, loaded_at, ranges, loaded_at < now() - interval '30 days' AS stale
FROM decnet.enrichment_loads;
GRANT SELECT ON decnet.enrichment_status TO decnet_analyst;
COMMENT ON VIEW decnet.enrichment_status IS 'Each enrichment source: when it was loaded, how many ranges, whether it is stale.';
COMMENT ON COLUMN decnet.enrichment_status.stale IS 'Loaded more than 30 days ago.';

-- What operators read: one row per file, newest first.
CREATE OR REPLACE VIEW decnet.ingest_sources AS
SELECT path, device, inode, byte_offset, lines, updated_at, now() - updated_at AS idle_for
FROM decnet.ingest_positions
ORDER BY updated_at DESC;
GRANT SELECT ON decnet.ingest_sources TO decnet_analyst;
COMMENT ON VIEW decnet.ingest_sources IS
'The log files decnet ingest has read: where each stands and how long since it moved.';
COMMENT ON COLUMN decnet.ingest_sources.idle_for IS 'Time since lines from it were last stored.';
