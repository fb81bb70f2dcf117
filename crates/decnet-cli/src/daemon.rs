//! What the long-running loaders (`ingest --follow`, `listen`) share: a clean
//! stop on SIGTERM/SIGINT, the backoff between retries, and which database
//! errors no retry can cure.

use postgres::error::SqlState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// From now on SIGTERM and SIGINT only ask the loop to stop (after the batch in hand).
pub fn install_stop_handlers() {
    let handler = request_stop as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
}

pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Waits between retries: 250 ms, doubling up to 10 s.
pub struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(Duration::from_millis(250))
    }
}

impl Backoff {
    /// The wait before the next retry (then sleep it with [`Backoff::sleep`]).
    pub fn next(&self) -> Duration {
        self.0
    }

    pub fn sleep(&mut self) {
        std::thread::sleep(self.0);
        self.0 = (self.0 * 2).min(Duration::from_secs(10));
    }
}

/// Whether a database error will not go away by reconnecting: authentication,
/// privileges, a missing database, schema, table or function.
pub fn unrecoverable(e: &postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        [
            SqlState::INVALID_PASSWORD,
            SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
            SqlState::INSUFFICIENT_PRIVILEGE,
            SqlState::UNDEFINED_TABLE,
            SqlState::INVALID_SCHEMA_NAME,
            SqlState::INVALID_CATALOG_NAME,
            SqlState::UNDEFINED_FUNCTION,
        ]
        .contains(db.code())
    })
}
