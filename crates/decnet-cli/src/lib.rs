//! The decnet command line as a library, so integration tests drive the same code.

pub mod backlog_bench;
pub mod bench;
pub mod conninfo;
pub mod daemon;
pub mod db;
pub mod enrich;
pub mod error;
pub mod export;
pub mod follow;
pub mod identity_bench;
pub mod ingest;
pub mod listen;
pub mod live_bench;
pub mod notify;
pub mod positions;
pub mod report;
pub mod rollup_bench;
pub mod sessions;

pub use error::CliError;
