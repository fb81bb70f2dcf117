-- Live definitions: the comments a view takes from its table. decnet migrate
-- applies this file last, after the numbered migrations and the other live
-- files, whenever any of them changed (docs/contributing.md, "Live
-- definitions"). pg::every_column_of_schema_decnet_has_a_comment keeps every
-- column commented.

-- Views whose columns repeat a table's: the table's comment. A recomputed_*
-- view recomputes its table from decnet.logs (verify() compares the two).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT v.relname AS view_name, a.attname AS column_name,
               CASE WHEN v.relname LIKE 'recomputed\_%' THEN 'Recomputed from decnet.logs: ' ELSE '' END || d.description AS comment
        FROM pg_class v
        JOIN pg_attribute a ON a.attrelid = v.oid AND a.attnum > 0 AND NOT a.attisdropped
        JOIN pg_class t ON t.relnamespace = v.relnamespace AND t.relname = CASE
                 WHEN v.relname LIKE 'recomputed\_%' THEN substr(v.relname, 12)
                 WHEN v.relname = 'identity_summary' THEN 'attacker_identities'
                 WHEN v.relname = 'campaign_summary' THEN 'campaigns'
                 WHEN v.relname = 'enrichment_status' THEN 'enrichment_loads'
                 WHEN v.relname = 'ingest_sources' THEN 'ingest_positions' END
        JOIN pg_attribute ta ON ta.attrelid = t.oid AND ta.attname = a.attname
        JOIN pg_description d ON d.objoid = t.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = ta.attnum
        WHERE v.relnamespace = 'decnet'::regnamespace AND v.relkind = 'v'
          AND NOT EXISTS (SELECT 1 FROM pg_description vd WHERE vd.objoid = v.oid AND vd.classoid = 'pg_class'::regclass
                                                          AND vd.objsubid = a.attnum)
        ORDER BY 1, 2
    LOOP
        EXECUTE format('COMMENT ON COLUMN decnet.%I.%I IS %L', r.view_name, r.column_name, r.comment);
    END LOOP;
END
$$;

-- A recomputed_* view: what its table holds, from decnet.logs alone.
DO $$
DECLARE
    v text;
BEGIN
    FOR v IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = 'decnet'::regnamespace AND c.relkind = 'v' AND c.relname LIKE 'recomputed\_%'
               AND obj_description(c.oid, 'pg_class') IS NULL ORDER BY 1
    LOOP
        EXECUTE format('COMMENT ON VIEW decnet.%I IS %L', v,
                       format('decnet.%s recomputed from decnet.logs alone: verify() compares the two, rebuild() copies it.', substr(v, 12)));
    END LOOP;
END
$$;
