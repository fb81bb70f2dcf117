-- Identities explain themselves (issue 18): for every edge the identity
-- passes found, each signal the two addresses share, its tier and the tier's
-- weight (decnet.identity_link_reasons). Written by store_identity_links()
-- from both passes; read through decnet.identity_links(identity) and the
-- linked_by column of identity_summary.
CREATE TABLE decnet.identity_link_signals (
    a        inet NOT NULL,
    b        inet NOT NULL,
    tier     text NOT NULL CHECK (tier IN ('high', 'medium', 'low', 'very_low', 'keystroke')),
    kind     text NOT NULL,
    value    text NOT NULL,
    weight   double precision NOT NULL,
    found_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (a, b, kind, value),
    CHECK (a < b)
);
CREATE INDEX identity_link_signals_b ON decnet.identity_link_signals (b);
GRANT SELECT ON decnet.identity_link_signals TO decnet_analyst;
COMMENT ON TABLE decnet.identity_link_signals IS
'Why identity edges hold: per linked address pair (a < b), each shared signal (kind, value, bounded like every key), its tier and the tier''s weight. Replaced for the attackers each rollup drains and wholly by the hourly full pass.';

-- identity_summary's linked_by column is in its live definition (migrations/live/summaries.sql).

-- Identities made before this version: their links come from a full pass now.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM decnet.identity_members) THEN
        PERFORM decnet.recluster_identities();
    END IF;
END
$$;
