//! Released migrations are immutable: a database migrated by an earlier release
//! has already run them, so an edit would never reach it and the schemas would
//! drift. migrations/released.sha256 pins every released file; a change to one
//! fails here (and so in CI). New migrations get new version numbers.

use sha2::{Digest, Sha256};
use std::path::PathBuf;

fn migrations_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../migrations")
}

fn released() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(migrations_dir().join("released.sha256"))
        .expect("migrations/released.sha256");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (hash, name) = l.split_once("  ").expect("`<sha256>  <file>` lines");
            (hash.to_owned(), name.to_owned())
        })
        .collect()
}

fn version(name: &str) -> u32 {
    name.trim_start_matches('V')
        .split("__")
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("not a migration name: {name}"))
}

#[test]
fn released_migrations_are_unchanged() {
    let pinned = released();
    assert!(!pinned.is_empty());
    for (hash, name) in &pinned {
        let data = std::fs::read(migrations_dir().join(name))
            .unwrap_or_else(|e| panic!("released migration {name} is gone: {e}"));
        let now = format!("{:x}", Sha256::digest(&data));
        assert_eq!(
            &now, hash,
            "{name} was released and must not change: add a new migration instead"
        );
    }
}

#[test]
fn no_migration_slips_in_below_a_released_one() {
    let pinned = released();
    let newest = pinned.iter().map(|(_, n)| version(n)).max().unwrap();
    for entry in std::fs::read_dir(migrations_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".sql") && version(&name) <= newest {
            assert!(
                pinned.iter().any(|(_, n)| *n == name),
                "{name} is numbered below a released migration but is not pinned"
            );
        }
    }
}
