-- Offline enrichment (issue 6, docs/enrichment.md): address ranges with their
-- country (RIR delegated statistics) and AS (iptoasn), when each source was
-- loaded, and the attacker columns they fill.

CREATE TABLE decnet.country_ranges (
    start_ip     inet PRIMARY KEY,
    end_ip       inet NOT NULL,
    country_code text NOT NULL,
    registry     text NOT NULL
);
COMMENT ON TABLE decnet.country_ranges IS
'Allocated/assigned address ranges and their country, from RIR delegated-statistics files (decnet.load_rir). decnet.country_of() reads it through the primary key.';

CREATE TABLE decnet.asn_ranges (
    start_ip inet PRIMARY KEY,
    end_ip   inet NOT NULL,
    asn      bigint NOT NULL,
    as_name  text NOT NULL,
    country  text
);
COMMENT ON TABLE decnet.asn_ranges IS
'Announced address ranges and their AS, from iptoasn TSV files (decnet.load_iptoasn). decnet.asn_of() reads it through the primary key.';

CREATE TABLE decnet.enrichment_loads (
    source    text PRIMARY KEY,
    loaded_at timestamptz NOT NULL,
    ranges    bigint NOT NULL
);
COMMENT ON TABLE decnet.enrichment_loads IS 'Last load of each enrichment source (rir:<registry>, iptoasn-v4, iptoasn-v6).';

-- Data older than 30 days is stale, as Elastic flags its GeoIP databases.
CREATE VIEW decnet.enrichment_status AS
SELECT source, loaded_at, ranges, loaded_at < now() - interval '30 days' AS stale
FROM decnet.enrichment_loads;

ALTER TABLE decnet.attackers
    ADD COLUMN country_code   text,
    ADD COLUMN country_source text,
    ADD COLUMN asn            bigint,
    ADD COLUMN as_name        text,
    ADD COLUMN asn_source     text;

GRANT SELECT ON decnet.country_ranges, decnet.asn_ranges, decnet.enrichment_loads, decnet.enrichment_status TO decnet_analyst;
REVOKE EXECUTE ON FUNCTION decnet.rir_ranges(text), decnet.iptoasn_ranges(text), decnet.range_prefix(inet, inet, inet),
    decnet.is_public_address(inet), decnet.country_of(inet), decnet.asn_of(inet), decnet.attacker_enrichment_columns(),
    decnet.enrich_attackers(inet[]), decnet.load_rir(text), decnet.load_iptoasn(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION decnet.rir_ranges(text), decnet.iptoasn_ranges(text), decnet.range_prefix(inet, inet, inet),
    decnet.is_public_address(inet), decnet.country_of(inet), decnet.asn_of(inet),
    decnet.attacker_enrichment_columns() TO decnet_analyst;
