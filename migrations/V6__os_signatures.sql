-- OS signatures (issue 5, docs/behavior.md): p0f-style predicates over what the
-- sniffer (SYN) and the prober (SYN-ACK) really report. decnet.rollup() names an
-- attacker's OS after the first matching row, lowest priority first; users add
-- their own rows (the default priority, 100, comes before every built-in one).
CREATE TABLE decnet.os_signatures (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    priority    integer NOT NULL DEFAULT 100,
    label       text NOT NULL CHECK (label <> ''),
    context     text NOT NULL DEFAULT 'syn' CHECK (context IN ('syn', 'synack')),
    initial_ttl integer CHECK (initial_ttl IN (32, 64, 128, 255)),
    windows     integer[],
    window_min  integer,
    mss         integer[],
    wscales     integer[],
    -- a regular expression the whole letter-only option order must match, e.g. 'M,S,T,N,W' or 'M,W,T,S.*'
    options     text CHECK (options IS NULL OR decnet.os_options_pattern_ok(options)),
    sack        boolean,
    timestamps  boolean,
    eol         boolean,
    -- a p0f v2 signature line that must match too (decnet.import_p0f() loads p0f.fp files)
    p0f         text CHECK (p0f IS NULL OR decnet.p0f_line_ok(p0f)),
    builtin     boolean NOT NULL DEFAULT false,
    note        text
);
COMMENT ON TABLE decnet.os_signatures IS
'OS signatures: NULL predicates match anything; initial_ttl is the bucket (32/64/128/255) of the observed TTL; options is an anchored regular expression over the option letters (M,S,T,N,W,E,...); sack/timestamps/eol require (true) or forbid (false) S/T/E; p0f is a p0f v2 line scored against the options with their MSS and scale values. The first match by (priority, id) names the OS. Add rows to extend; built-in rows have priority 1000 and up.';

-- editing the signatures re-queues the attackers whose OS guess may change
-- (seeding the built-ins below does so for attackers that exist already)
CREATE TRIGGER os_signatures_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON decnet.os_signatures
    FOR EACH STATEMENT EXECUTE FUNCTION decnet.os_signatures_changed();

INSERT INTO decnet.os_signatures (priority, label, context, initial_ttl, windows, window_min, mss, wscales, options,
                                  sack, timestamps, eol, builtin, note)
SELECT 1000 + 10 * (b.n - 1), b.label, b.context, b.initial_ttl, b.windows, b.window_min, b.mss, b.wscales, b.options,
       b.sack, b.timestamps, b.eol, true, 'built-in (decnet_core::os_signature::BUILTIN)'
FROM decnet.builtin_os_signatures() WITH ORDINALITY
     AS b (label, context, initial_ttl, windows, window_min, mss, wscales, options, sack, timestamps, eol, n);

GRANT SELECT ON decnet.os_signatures TO decnet_analyst;
REVOKE EXECUTE ON FUNCTION decnet.os_match(integer, integer, integer, integer, text, text),
    decnet.os_signature_match(jsonb, text, integer, integer, integer, integer, text),
    decnet.os_options_pattern_ok(text), decnet.builtin_os_signatures(), decnet.os_signature_set(), decnet.os_signatures_changed(),
    decnet.p0f_line_ok(text), decnet.p0f_signatures(text), decnet.import_p0f(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION decnet.os_match(integer, integer, integer, integer, text, text),
    decnet.os_signature_match(jsonb, text, integer, integer, integer, integer, text),
    decnet.os_options_pattern_ok(text), decnet.builtin_os_signatures(), decnet.os_signature_set(),
    decnet.p0f_line_ok(text), decnet.p0f_signatures(text) TO decnet_analyst;
