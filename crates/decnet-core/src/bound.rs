//! Bounds on what one attacker-written line may put into an index or make the
//! parser do. A B-tree entry cannot exceed about 2.7 kB (PostgreSQL raises
//! 54000 and aborts the whole statement), and a line can be up to 1 GB, so
//! every value derived from a line that reaches an index is bounded here, and
//! the work per line is linear in its length.

use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::atomic::{AtomicPtr, Ordering};

/// HOSTNAME (the decky) and APP-NAME (the service) are cut to this many bytes:
/// RFC 5424 allows 255 and 48, and both key derived rows. The line is flagged.
pub const MAX_HEADER_BYTES: usize = 255;

/// Fields (SD parameters and bash `CMD` tokens) kept per line; more are
/// dropped and the line is flagged. DECNET's emitters write fewer than 30.
pub const MAX_FIELDS: usize = 256;

/// Longest value stored as-is in a keyed column of values that are matched
/// for equality (identity signals). Longer ones become [`index_key`]s.
pub const MAX_KEY_BYTES: usize = 256;

/// Bytes of a long value kept in front of its digest, for the analyst's eye.
const KEY_PREFIX_BYTES: usize = 120;

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` itself when short; else its first bytes, `…sha256:` and the SHA-256
/// of the whole value. Equal values give equal keys and different values
/// different keys, so joins on the key still mean equality of the values.
pub fn index_key(s: &str) -> Cow<'_, str> {
    if s.len() <= MAX_KEY_BYTES {
        return Cow::Borrowed(s);
    }
    let digest = crate::bounty::hex(&Sha256::digest(s.as_bytes()));
    Cow::Owned(format!("{}…sha256:{digest}", cut(s, KEY_PREFIX_BYTES)))
}

/// Iterations of a loop over line content between two interrupt checks.
pub const INTERRUPT_EVERY: usize = 1024;

static INTERRUPT_CHECK: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Installs the host's interrupt check (the extension's check_for_interrupts),
/// which loops over a line's content call every [`INTERRUPT_EVERY`] steps: a
/// cancelled query or statement_timeout stops even inside one huge line.
pub fn set_interrupt_check(check: fn()) {
    INTERRUPT_CHECK.store(check as *mut (), Ordering::Relaxed);
}

/// Calls the installed interrupt check on every [`INTERRUPT_EVERY`]th step.
#[inline]
pub fn poll_interrupt(step: usize) {
    if step % INTERRUPT_EVERY == INTERRUPT_EVERY - 1 {
        let f = INTERRUPT_CHECK.load(Ordering::Relaxed);
        if !f.is_null() {
            // SAFETY: only set_interrupt_check stores here, and it stores a `fn()`.
            let check: fn() = unsafe { std::mem::transmute::<*mut (), fn()>(f) };
            check();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("aé", 2), "a"); // é is two bytes
        assert_eq!(cut("ééé", 5), "éé");
    }

    #[test]
    fn index_keys_are_bounded_and_keep_equality() {
        let short = "e7d705a3286e19ea42f587b344ee6865";
        assert!(matches!(index_key(short), Cow::Borrowed(s) if s == short));
        let a = "x".repeat(6000);
        let b = format!("{}y", "x".repeat(5999));
        let (ka, kb) = (index_key(&a), index_key(&b));
        assert!(
            ka.len() <= MAX_KEY_BYTES && kb.len() <= MAX_KEY_BYTES,
            "{}",
            ka.len()
        );
        assert_ne!(
            ka, kb,
            "values that differ only at the end keep different keys"
        );
        assert_eq!(ka, index_key(&a.clone()));
        assert!(ka.starts_with(&"x".repeat(KEY_PREFIX_BYTES)));
        // a multi-byte character straddling the prefix end is not split
        let wide = "é".repeat(3000);
        assert!(index_key(&wide).starts_with(&"é".repeat(KEY_PREFIX_BYTES / 2)));
    }

    #[test]
    fn interrupt_check_runs_every_n_steps() {
        use std::sync::atomic::AtomicUsize;
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        fn count() {
            CALLS.fetch_add(1, Ordering::Relaxed);
        }
        set_interrupt_check(count);
        // other tests parsing at the same time may add calls: at least, never fewer
        let before = CALLS.load(Ordering::Relaxed);
        for step in 0..10 * INTERRUPT_EVERY {
            poll_interrupt(step);
        }
        assert!(CALLS.load(Ordering::Relaxed) - before >= 10);
        // the parser's loops over one line's content call it: a cancel stops inside a huge line
        let params: String = (0..100 * INTERRUPT_EVERY)
            .map(|i| format!(" k{i}=\"v\""))
            .collect();
        let line = format!("<134>1 2026-05-01T00:00:00+00:00 d ssh - e [relay@55555{params}]");
        let before = CALLS.load(Ordering::Relaxed);
        let _ = crate::syslog::parse_line(&line);
        assert!(CALLS.load(Ordering::Relaxed) - before >= 100);
    }
}
