//! Every decnet.* setting, registered in one place.
//!
//! Settings that change stored results or cause network traffic are not for
//! every session (issue 15): the reverse-DNS ones are superuser-only (SUSET),
//! and decnet.trusted_proxies is read from the server configuration only
//! (SIGHUP: postgresql.conf or ALTER SYSTEM), so a sensor connecting with
//! `-c decnet.trusted_proxies=…` cannot suppress bounties, and ingest and
//! verify() always read the same value.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

/// Comma list of proxy addresses/CIDRs whose forwarding headers are not claims (E.3 #2).
pub static TRUSTED_PROXIES: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// Reverse DNS (spec F.2): kill switch, per-lookup timeout, nameservers, batch concurrency.
pub static PTR_ENABLED: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static PTR_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(2000);
pub static PTR_NAMESERVERS: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static PTR_CONCURRENCY: GucSetting<i32> = GucSetting::<i32>::new(10);

/// Merge behind (issue 16): small transactions committing within this many
/// milliseconds of the last merge queue their lines instead (0: never).
pub static MERGE_BEHIND_MS: GucSetting<i32> = GucSetting::<i32>::new(0);

pub fn init() {
    GucRegistry::define_bool_guc(
        c"decnet.ptr_enabled",
        c"Reverse DNS lookups of attacker addresses.",
        c"Off: decnet.enrich_ptr() answers NULL and decnet.resolve_pending_ptr() leaves the queue alone, without any DNS traffic.",
        &PTR_ENABLED,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"decnet.ptr_timeout_ms",
        c"Timeout of one reverse DNS lookup, in milliseconds.",
        c"A lookup that takes longer gives no name (NULL).",
        &PTR_TIMEOUT_MS,
        1,
        60_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"decnet.ptr_nameservers",
        c"Nameservers for reverse DNS: ip, ip:port or [ipv6]:port, comma-separated.",
        c"Empty (the default): the system resolver (/etc/resolv.conf). Superuser only, since it decides where lookups go.",
        &PTR_NAMESERVERS,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"decnet.ptr_concurrency",
        c"Reverse DNS lookups in flight at once in decnet.resolve_pending_ptr().",
        c"A backlog of slow nameservers then takes (addresses x timeout / concurrency), not the sum of the timeouts.",
        &PTR_CONCURRENCY,
        1,
        100,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"decnet.merge_behind_ms",
        c"Small transactions committing within this many milliseconds of the last merge queue their lines for the next one.",
        c"0 (the default): every transaction merges its lines at commit. Above 0, single-row writers (rsyslog ompgsql) pay for one merge per window instead of one per line; their lines show in the profiles at the next merge: the next commit after the window, or decnet.rollup() (every minute). Superuser only.",
        &MERGE_BEHIND_MS,
        0,
        10_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"decnet.trusted_proxies",
        c"Proxies whose X-Forwarded-For/Forwarded headers are trusted.",
        c"Comma-separated addresses or CIDRs. Requests from them yield no ip_leak or spoofed_source bounty. Set in postgresql.conf or ALTER SYSTEM; run decnet.rebuild() after a change.",
        &TRUSTED_PROXIES,
        GucContext::Sighup,
        GucFlags::default(),
    );
}

pub fn trusted_proxies() -> String {
    TRUSTED_PROXIES
        .get()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn ptr_enabled() -> bool {
    PTR_ENABLED.get()
}

pub fn ptr_timeout_ms() -> i32 {
    PTR_TIMEOUT_MS.get()
}

pub fn ptr_nameservers() -> String {
    PTR_NAMESERVERS
        .get()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn ptr_concurrency() -> i32 {
    PTR_CONCURRENCY.get()
}

pub fn merge_behind_ms() -> i32 {
    MERGE_BEHIND_MS.get()
}
