//! Reverse DNS (spec §F.2) with hickory-resolver, run inside the backend on a
//! current-thread tokio runtime: everything, network included, happens on the
//! backend's own thread. Waits are sliced so `statement_timeout` and
//! `pg_cancel_backend` stop a lookup within a slice.

use crate::gucs;
use decnet_core::enrich;
use futures_util::stream::{self, StreamExt};
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::TokioResolver;
use pgrx::datum::Inet;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::net::IpAddr;
use std::time::Duration;

/// How long the backend waits between interrupt checks.
const SLICE: Duration = Duration::from_millis(50);

struct Dns {
    key: (String, u64),
    runtime: tokio::runtime::Runtime,
    resolver: TokioResolver,
}

thread_local! {
    /// One runtime and resolver per backend, rebuilt when the settings change.
    static DNS: RefCell<Option<Dns>> = const { RefCell::new(None) };
}

fn raise(code: PgSqlErrorCode, message: String, hint: &str) -> ! {
    pgrx::pg_sys::panic::ErrorReport::new(code, message, "decnet.enrich_ptr")
        .set_hint(hint)
        .report(PgLogLevel::ERROR);
    unreachable!()
}

fn build(nameservers: &str, timeout: Duration) -> Dns {
    let servers = enrich::parse_nameservers(nameservers).unwrap_or_else(|e| {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("decnet.ptr_nameservers: {e}"),
            "Use ip, ip:port or [ipv6]:port, comma-separated; empty for the system resolver.",
        )
    });
    let (config, mut opts) = if servers.is_empty() {
        hickory_resolver::system_conf::read_system_conf().unwrap_or_else(|e| {
            raise(
                PgSqlErrorCode::ERRCODE_CONFIG_FILE_ERROR,
                format!("cannot read the system resolver configuration: {e}"),
                "Set decnet.ptr_nameservers.",
            )
        })
    } else {
        let mut config = ResolverConfig::new();
        for addr in servers {
            config.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
            config.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
        }
        (config, ResolverOpts::default())
    };
    // one attempt bounded by the timeout; no cache (attackers.ptr_record is the cache)
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.cache_size = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            raise(
                PgSqlErrorCode::ERRCODE_SYSTEM_ERROR,
                format!("cannot start the DNS runtime: {e}"),
                "See the server log.",
            )
        });
    let resolver = {
        let _guard = runtime.enter();
        TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
            .with_options(opts)
            .build()
    };
    Dns {
        key: (nameservers.to_owned(), timeout.as_millis() as u64),
        runtime,
        resolver,
    }
}

/// Runs `f` with the backend's resolver: drives the future on the backend's
/// thread in slices, checking for interrupts between them.
fn with_resolver<T>(
    f: impl FnOnce(&TokioResolver) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + '_>>,
) -> T {
    let timeout = Duration::from_millis(gucs::ptr_timeout_ms() as u64);
    let nameservers = gucs::ptr_nameservers();
    DNS.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot
            .as_ref()
            .is_none_or(|d| d.key != (nameservers.clone(), timeout.as_millis() as u64))
        {
            *slot = Some(build(&nameservers, timeout));
        }
        let dns = slot.as_ref().expect("built above");
        let mut fut = f(&dns.resolver);
        loop {
            if let Ok(v) = dns
                .runtime
                .block_on(async { tokio::time::timeout(SLICE, &mut fut).await })
            {
                return v;
            }
            pgrx::check_for_interrupts!();
        }
    })
}

/// The PTR name of a public address, without the trailing dot; `None` for no
/// answer, an error or a timeout.
async fn lookup(resolver: &TokioResolver, ip: IpAddr) -> Option<String> {
    let answer = resolver.reverse_lookup(ip).await.ok()?;
    let name = answer.iter().next()?.to_utf8();
    let name = name.trim_end_matches('.');
    (!name.is_empty()).then(|| name.chars().take(256).collect())
}

fn public_ip(ip: &str) -> Option<IpAddr> {
    let ip: IpAddr = ip.split('/').next()?.parse().ok()?;
    enrich::is_public(ip).then_some(ip)
}

/// False for private, loopback, link-local, multicast, reserved, unspecified
/// and documentation addresses (decnet_core::enrich::is_public).
#[pg_extern(immutable, strict, parallel_safe)]
fn is_public_address(ip: Inet) -> bool {
    ip.split('/')
        .next()
        .and_then(|h| h.parse().ok())
        .is_some_and(enrich::is_public)
}

/// The reverse DNS name of one address, or NULL: no PTR, a DNS failure, a
/// timeout (decnet.ptr_timeout_ms), a non-public address (no DNS traffic), or
/// decnet.ptr_enabled off. Never raises for a DNS problem.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn enrich_ptr(ip: Inet) -> Option<String> {
    if !gucs::ptr_enabled() {
        return None;
    }
    let ip = public_ip(&ip)?;
    with_resolver(|r| Box::pin(lookup(r, ip)))
}

/// Reverse DNS of many addresses (as text), at most decnet.ptr_concurrency
/// at a time: one row per address, ptr NULL when there is no answer. Nothing
/// when decnet.ptr_enabled is off.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn resolve_ptrs(
    ips: Vec<Option<String>>,
) -> TableIterator<'static, (name!(ip, String), name!(ptr, Option<String>))> {
    if !gucs::ptr_enabled() {
        return TableIterator::new(Vec::new());
    }
    let ips: Vec<String> = ips.into_iter().flatten().collect();
    let addrs: Vec<Option<IpAddr>> = ips.iter().map(|ip| public_ip(ip)).collect();
    let concurrency = gucs::ptr_concurrency().max(1) as usize;
    let answers: Vec<Option<String>> = with_resolver(move |r| {
        Box::pin(
            stream::iter(addrs.into_iter().map(move |addr| async move {
                match addr {
                    Some(addr) => lookup(r, addr).await,
                    None => None,
                }
            }))
            .buffered(concurrency)
            .collect::<Vec<_>>(),
        )
    });
    TableIterator::new(ips.into_iter().zip(answers).collect::<Vec<_>>())
}
