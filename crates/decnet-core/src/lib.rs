//! Pure logic of decnet-pg. Nothing here touches PostgreSQL, so every rule is
//! unit-tested with plain `cargo test`; the pgrx crate is a thin layer on top.

pub mod addr;
pub mod behavior;
pub mod bound;
pub mod bounty;
pub mod copy_text;
pub mod enrich;
pub mod family;
pub mod follow;
pub mod fuzzing;
pub mod identity;
pub mod json;
pub mod keystroke;
pub mod kinds;
pub mod os_signature;
pub mod p0f;
pub mod profile;
pub mod relp;
pub mod session_profile;
pub mod sharing;
pub mod smtp;
pub mod syslog;
pub mod syslog_frame;
pub mod timestamp;

#[cfg(test)]
mod bounty_cases;
#[cfg(test)]
mod syslog_cases;
