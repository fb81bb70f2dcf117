// The live definitions, in the order `decnet migrate` applies them after the
// numbered migrations (a file may read the views of the files above it).
// Included by decnet-cli (crates/decnet-cli/src/db.rs) and by the
// #[pg_test]s (src/pg_tests.rs): one list for both.
&[
    ("recomputed.sql", include_str!("recomputed.sql")),
    ("summaries.sql", include_str!("summaries.sql")),
    ("operations.sql", include_str!("operations.sql")),
    ("inherited_comments.sql", include_str!("inherited_comments.sql")),
]
