//! `decnet listen`: a syslog receiver for sensors that send syslog directly.
//! RFC 5424 messages over UDP (RFC 5426, one per datagram), TCP (RFC 6587,
//! octet-counted or LF-terminated frames) and TLS (RFC 5425, rustls), stored
//! in micro-batches of one COPY.
//!
//! Receiving threads hand messages to the database thread through a bounded
//! queue. When PostgreSQL is slow or down the queue fills: TCP readers stop
//! reading (the senders' windows close: backpressure, nothing dropped) and
//! UDP datagrams that find it full are counted as lost and reported.
//!
//! RELP (rsyslog's omrelp) is acknowledged: a `syslog` frame is answered only
//! after the COPY holding its message has committed, in the order received;
//! a batch holding unanswered frames commits as soon as the queue is empty.

use crate::daemon;
use crate::ingest::COPY_LOGS;
use crate::CliError;
use decnet_core::copy_text;
use decnet_core::relp::{self, RelpDecoder};
use decnet_core::syslog_frame::{datagram_message, FrameDecoder};
use postgres::Client;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{
    channel, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError,
    TrySendError,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct ListenOptions {
    pub udp: Vec<SocketAddr>,
    pub tcp: Vec<SocketAddr>,
    pub relp: Vec<SocketAddr>,
    pub tls: Vec<SocketAddr>,
    /// PEM certificate chain and private key for --tls.
    pub tls_cert: Option<std::path::PathBuf>,
    pub tls_key: Option<std::path::PathBuf>,
    pub batch_interval: Duration,
    pub batch_lines: usize,
    pub status_every: Option<Duration>,
}

/// TCP connections served at once; more are closed at accept.
const MAX_CONNECTIONS: usize = 512;

/// What a RELP connection's writer sends, in order.
enum Reply {
    /// `rsp 200 OK` for a stored `syslog` frame.
    Ack(u64),
    /// Any other answer, already a frame.
    Frame(Vec<u8>),
    /// The answer to `close`, then the `serverclose` hint, then the end.
    Close(u64),
}

/// One entry of the queue: a message to store, and/or an answer to send once
/// everything before it is stored.
struct Item {
    message: Option<Vec<u8>>,
    reply: Option<(Sender<Reply>, Reply)>,
}

impl Item {
    fn message(m: Vec<u8>) -> Item {
        Item {
            message: Some(m),
            reply: None,
        }
    }
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    udp_dropped: AtomicU64,
    connections: AtomicUsize,
    bad_frames: AtomicU64,
}

/// Binds every socket (printing `listening udp|tcp ADDR` for each), then
/// stores what arrives until SIGTERM/SIGINT. Returns the messages stored.
pub fn run(dsn: &str, mut client: Client, opts: ListenOptions) -> Result<u64, CliError> {
    let bind_err = |proto: &str, a: &SocketAddr, e: std::io::Error| {
        CliError::new(
            format!("cannot listen on {proto} {a}: {e}"),
            "choose a free port; ports under 1024 need privileges",
        )
    };
    // two batches may wait while one is being stored
    let (tx, rx) = sync_channel::<Item>(opts.batch_lines * 2);
    let counters = Arc::new(Counters::default());
    let mut out = std::io::stdout().lock();
    for a in &opts.udp {
        let sock = UdpSocket::bind(a).map_err(|e| bind_err("udp", a, e))?;
        writeln!(out, "listening udp {}", sock.local_addr()?)?;
        let (tx, counters) = (tx.clone(), counters.clone());
        std::thread::spawn(move || receive_udp(sock, tx, &counters));
    }
    for a in &opts.tcp {
        let listener = TcpListener::bind(a).map_err(|e| bind_err("tcp", a, e))?;
        writeln!(out, "listening tcp {}", listener.local_addr()?)?;
        let (tx, counters) = (tx.clone(), counters.clone());
        std::thread::spawn(move || accept_tcp(listener, tx, counters, Arc::new(receive_tcp)));
    }
    if !opts.tls.is_empty() {
        let config = tls_config(opts.tls_cert.as_deref(), opts.tls_key.as_deref())?;
        for a in &opts.tls {
            let listener = TcpListener::bind(a).map_err(|e| bind_err("tls", a, e))?;
            writeln!(out, "listening tls {}", listener.local_addr()?)?;
            let (tx, counters, config) = (tx.clone(), counters.clone(), config.clone());
            let receive: Receive = Arc::new(
                move |stream: TcpStream, tx: &SyncSender<Item>, counters: &Counters| {
                    let peer = stream
                        .peer_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default();
                    // a failed handshake ends in the first read
                    let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                        return;
                    };
                    receive_frames(rustls::StreamOwned::new(conn, stream), &peer, tx, counters);
                },
            );
            std::thread::spawn(move || accept_tcp(listener, tx, counters, receive));
        }
    }
    for a in &opts.relp {
        let listener = TcpListener::bind(a).map_err(|e| bind_err("relp", a, e))?;
        writeln!(out, "listening relp {}", listener.local_addr()?)?;
        let (tx, counters) = (tx.clone(), counters.clone());
        std::thread::spawn(move || accept_tcp(listener, tx, counters, Arc::new(receive_relp)));
    }
    out.flush()?;
    drop(out);
    drop(tx);
    daemon::install_stop_handlers();
    store(dsn, &mut client, &rx, &opts, &counters)
}

fn receive_udp(sock: UdpSocket, tx: SyncSender<Item>, counters: &Counters) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            continue;
        };
        counters.received.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(Item::message(datagram_message(&buf[..n]).to_vec())) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                counters.udp_dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

type Receive = Arc<dyn Fn(TcpStream, &SyncSender<Item>, &Counters) + Send + Sync>;

fn accept_tcp(
    listener: TcpListener,
    tx: SyncSender<Item>,
    counters: Arc<Counters>,
    receive: Receive,
) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if counters.connections.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            continue; // dropped: closes the connection
        }
        counters.connections.fetch_add(1, Ordering::SeqCst);
        let (tx, counters, receive) = (tx.clone(), counters.clone(), receive.clone());
        std::thread::spawn(move || {
            receive(stream, &tx, &counters);
            counters.connections.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Reads one connection. A full queue blocks the send, so the reader stops
/// reading and the sender is slowed by TCP itself.
fn receive_tcp(stream: TcpStream, tx: &SyncSender<Item>, counters: &Counters) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    receive_frames(stream, &peer, tx, counters);
}

/// Reads RFC 6587 frames from a byte stream (TCP, or TLS over it).
fn receive_frames(mut stream: impl Read, peer: &str, tx: &SyncSender<Item>, counters: &Counters) {
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0u8; 65_536];
    let mut open = true;
    let mut send = |m: &[u8]| {
        counters.received.fetch_add(1, Ordering::Relaxed);
        open &= tx.send(Item::message(m.to_vec())).is_ok();
    };
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Err(e) => {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    eprintln!("listen: closing {peer}: {e}"); // TLS: a failed handshake or a bad record
                }
                break;
            }
            Ok(n) => {
                if let Err(e) = decoder.feed(&buf[..n], &mut send) {
                    counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                    eprintln!("listen: closing {peer}: {e:?}");
                    return;
                }
            }
        }
    }
    decoder.finish(&mut send);
}

/// The TLS server configuration from a PEM certificate chain and key.
fn tls_config(
    cert: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
) -> Result<Arc<rustls::ServerConfig>, CliError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (Some(cert), Some(key)) = (cert, key) else {
        return Err(CliError::new(
            "--tls needs --tls-cert and --tls-key",
            "give the PEM files of the server certificate (chain) and its key",
        ));
    };
    let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        CliError::new(
            format!("cannot read the TLS {what} {}: {e}", path.display()),
            "give a PEM file readable by this user",
        )
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("certificate", cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("certificate", cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("key", key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CliError::new(format!("TLS setup failed: {e}"), "this is a bug"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            CliError::new(
                format!("the TLS certificate and key do not fit: {e}"),
                "check that the key belongs to the certificate",
            )
        })?;
    Ok(Arc::new(config))
}

/// Reads one RELP connection. Answers go through a writer thread fed in
/// order: `open` at once, everything else behind the messages before it.
fn receive_relp(mut stream: TcpStream, tx: &SyncSender<Item>, counters: &Counters) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let (reply_tx, reply_rx) = channel::<Reply>();
    std::thread::spawn(move || {
        for r in reply_rx {
            let (bytes, last) = match r {
                Reply::Ack(txnr) => (relp::ack(txnr), false),
                Reply::Frame(f) => (f, false),
                Reply::Close(txnr) => (
                    [relp::response(txnr, b""), relp::SERVER_CLOSE.to_vec()].concat(),
                    true,
                ),
            };
            if writer.write_all(&bytes).is_err() || last {
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    });
    let mut decoder = RelpDecoder::new();
    let mut buf = vec![0u8; 65_536];
    let mut open = false;
    let mut done = false;
    while !done {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let fed = decoder.feed(&buf[..n], |f| {
            if done {
                return;
            }
            let behind = |reply: Reply| Item {
                message: None,
                reply: Some((reply_tx.clone(), reply)),
            };
            let sent = match f.command.as_str() {
                "open" if !open => {
                    open = true;
                    reply_tx
                        .send(Reply::Frame(relp::open_response(f.txnr)))
                        .is_ok()
                }
                "syslog" if open => {
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    tx.send(Item {
                        message: Some(f.data),
                        reply: Some((reply_tx.clone(), Reply::Ack(f.txnr))),
                    })
                    .is_ok()
                }
                "close" => {
                    done = true;
                    tx.send(behind(Reply::Close(f.txnr))).is_ok()
                }
                _ => tx
                    .send(behind(Reply::Frame(relp::response(
                        f.txnr,
                        b"500 command not supported",
                    ))))
                    .is_ok(),
            };
            done |= !sent;
        });
        if let Err(e) = fed {
            counters.bad_frames.fetch_add(1, Ordering::Relaxed);
            eprintln!("listen: closing RELP connection {peer}: {}", e.0);
            return;
        }
    }
}

/// The database side: batches messages into COPY statements, and sends the
/// RELP answers of a batch once it has committed.
fn store(
    dsn: &str,
    client: &mut Client,
    rx: &Receiver<Item>,
    opts: &ListenOptions,
    counters: &Counters,
) -> Result<u64, CliError> {
    let mut copy = Vec::new();
    let mut lines = 0usize;
    let mut replies: Vec<(Sender<Reply>, Reply)> = Vec::new();
    let mut since: Option<Instant> = None;
    let mut stored = 0u64;
    let mut status_at = Instant::now();
    let mut stored_at_status = 0;
    let add = |item: Item,
               copy: &mut Vec<u8>,
               lines: &mut usize,
               replies: &mut Vec<(Sender<Reply>, Reply)>| {
        // an empty message carries nothing (omrelp sends a line that starts with NUL as one)
        if let Some(m) = item.message.filter(|m| !m.is_empty()) {
            copy_text::push_row(copy, &m);
            *lines += 1;
        }
        replies.extend(item.reply);
    };
    loop {
        let stopping = daemon::stop_requested();
        let wait = since.map_or(Duration::from_millis(100), |t| {
            opts.batch_interval.saturating_sub(t.elapsed())
        });
        let mut drained = false;
        match rx.recv_timeout(wait.max(Duration::from_millis(1))) {
            Ok(item) => {
                add(item, &mut copy, &mut lines, &mut replies);
                since.get_or_insert_with(Instant::now);
                while lines < opts.batch_lines {
                    match rx.try_recv() {
                        Ok(item) => add(item, &mut copy, &mut lines, &mut replies),
                        Err(TryRecvError::Empty) => {
                            drained = true;
                            break;
                        }
                        Err(TryRecvError::Disconnected) => break,
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(stored),
        }
        let due = since.is_some_and(|t| t.elapsed() >= opts.batch_interval);
        // RELP senders wait for their answers: do not keep them waiting for more
        let answer_now = !replies.is_empty() && drained;
        if (lines > 0 || !replies.is_empty())
            && (due || lines >= opts.batch_lines || stopping || answer_now)
        {
            if lines > 0 {
                commit(dsn, client, &copy, lines)?;
            }
            for (to, reply) in replies.drain(..) {
                let _ = to.send(reply); // a connection that went away needs no answer
            }
            stored += lines as u64;
            copy.clear();
            lines = 0;
            since = None;
        }
        if opts.status_every.is_some_and(|e| status_at.elapsed() >= e) {
            let rate = (stored - stored_at_status) as f64 / status_at.elapsed().as_secs_f64();
            eprintln!(
                "listen: {stored} messages stored, {rate:.0}/s; {} received, {} UDP datagrams dropped (queue full), {} connections, {} bad frames",
                counters.received.load(Ordering::Relaxed),
                counters.udp_dropped.load(Ordering::Relaxed),
                counters.connections.load(Ordering::Relaxed),
                counters.bad_frames.load(Ordering::Relaxed)
            );
            status_at = Instant::now();
            stored_at_status = stored;
        }
        if stopping {
            return Ok(stored);
        }
    }
}

/// Stores one batch; while the database is unreachable, retries with backoff
/// (the queue fills meanwhile, and TCP senders are held back).
fn commit(dsn: &str, client: &mut Client, copy: &[u8], lines: usize) -> Result<(), CliError> {
    let mut backoff = daemon::Backoff::default();
    loop {
        // Err((fatal, why))
        let attempt = (|| -> Result<u64, (bool, String)> {
            let db = |e: postgres::Error| {
                (
                    daemon::unrecoverable(&e),
                    CliError::from_db("COPY failed", e).message,
                )
            };
            let mut tx = client.transaction().map_err(db)?;
            let mut w = tx.copy_in(COPY_LOGS).map_err(db)?;
            w.write_all(copy)
                .map_err(|e| (false, format!("COPY stream failed: {e}")))?;
            let rows = w.finish().map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(rows)
        })();
        match attempt {
            Ok(rows) if rows == lines as u64 => return Ok(()),
            Ok(rows) => {
                return Err(CliError::new(
                    format!("COPY stored {rows} rows for {lines} messages"),
                    "this is a bug: report it",
                ))
            }
            Err((true, why)) => {
                return Err(CliError::new(
                    why,
                    "check the role (decnet_ingest) and that the database is migrated",
                ))
            }
            Err((false, why)) => {
                eprintln!(
                    "listen: batch of {lines} not stored ({why}); retrying in {:.1} s",
                    backoff.next().as_secs_f64()
                );
                backoff.sleep();
                if let Ok(c) = crate::db::connect(dsn) {
                    *client = c;
                }
            }
        }
    }
}
