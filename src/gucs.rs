//! Every decnet.* setting, registered in one place.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

/// Comma list of proxy addresses/CIDRs whose forwarding headers are not claims (E.3 #2).
pub static TRUSTED_PROXIES: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

pub fn init() {
    GucRegistry::define_string_guc(
        c"decnet.trusted_proxies",
        c"Proxies whose X-Forwarded-For/Forwarded headers are trusted.",
        c"Comma-separated addresses or CIDRs. Requests from them yield no ip_leak or spoofed_source bounty.",
        &TRUSTED_PROXIES,
        GucContext::Userset,
        GucFlags::default(),
    );
}

pub fn trusted_proxies() -> String {
    TRUSTED_PROXIES.get().map(|c| c.to_string_lossy().into_owned()).unwrap_or_default()
}
