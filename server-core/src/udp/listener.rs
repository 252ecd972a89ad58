//! `UdpListener`: one UDP socket where each remote address is a session.
//!
//! One receive loop owns the socket's inbound side and a map from address to peer; it checks
//! every datagram (sans-IO, `datagram.rs`), applies the limits, and hands good ones to the
//! peer's session task through a small bounded inbox. Each session task owns its handler
//! (the same `SessionHandler`/`PacketSession` as over TCP) and sends its queue as packed
//! datagrams. The map is touched by the loop alone, so it needs no lock.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::address_limits::{AddressTable, Admitted};
use crate::config::Config;
use crate::driver::guard_with;
use crate::error::CloseReason;
use crate::error::ProtocolError;
use crate::listener::OnDrop;
use crate::local_batch;
use crate::registry::SessionRegistry;
use crate::session::{Session, SessionHandler};
use crate::session_set::SessionSet;
use crate::udp::datagram::{check_datagram, pack, DatagramRate};

/// Largest UDP payload over IPv4; the receive buffer's size.
const MAX_UDP_PAYLOAD: usize = 65_507;

/// How often the receive loop forgets peers whose session ended.
const PURGE_EVERY: Duration = Duration::from_secs(1);

/// The UDP-only knobs of a [`UdpListener`]; the rest (`max_connections` as the session
/// cap, `idle_timeout`, `max_packet_size`, `send_queue_limit`, `address_limits` applied to
/// new sessions) comes from its [`Config`].
#[derive(Debug, Clone)]
pub struct UdpConfig {
    /// Outbound frames are packed into datagrams of up to this many bytes. Default 1200:
    /// under the IPv6 minimum MTU (1280) with headers, so datagrams are not fragmented on
    /// any path. A single larger frame is sent alone.
    pub max_datagram_size: usize,
    /// Datagrams one peer may send per second, on average; more are dropped and counted.
    /// Default 100.
    pub datagrams_per_sec: f64,
    /// Datagrams one peer may send back to back. Default 200.
    pub datagram_burst: u32,
    /// Malformed datagrams in a row (a good one resets the count) that close a session
    /// with a protocol error. Each one is dropped and counted either way. Default 10.
    pub max_malformed: u32,
    /// SO_RCVBUF of the listener's one socket, which every player's datagrams share; `None`
    /// leaves the kernel's default (208 KiB on Linux, about 200 small datagrams, since each
    /// is charged its buffer overhead). Default 4 MiB, which the kernel caps at
    /// `net.core.rmem_max`. With the default, `bench udp` at N = 1000 lost 34 bot moves in
    /// 10 s to a full buffer (`UdpRcvbufErrors`) while the server was busy sending, each
    /// one a move that none of the 1000 players saw.
    pub socket_recv_buffer: Option<usize>,
    /// SO_SNDBUF of the same socket, every player's datagrams out; `None` leaves the kernel's
    /// default. Default 1 MiB (capped at `net.core.wmem_max`).
    pub socket_send_buffer: Option<usize>,
    /// Datagrams waiting for one session's task. When full, new datagrams for it are dropped
    /// and counted: UDP may lose them anyway, and a slow handler must not grow memory.
    /// Default 256.
    pub inbox_datagrams: usize,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            max_datagram_size: 1200,
            datagrams_per_sec: 100.0,
            datagram_burst: 200,
            max_malformed: 10,
            inbox_datagrams: 256,
            socket_recv_buffer: Some(4 << 20),
            socket_send_buffer: Some(1 << 20),
        }
    }
}

/// The listener's socket, with its buffer sizes set before it is bound.
fn bind_socket(addr: SocketAddr, udp: &UdpConfig) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(size) = udp.socket_recv_buffer {
        socket.set_recv_buffer_size(size)?;
        warn_if_capped("SO_RCVBUF", "rmem_max", size, socket.recv_buffer_size()?);
    }
    if let Some(size) = udp.socket_send_buffer {
        socket.set_send_buffer_size(size)?;
        warn_if_capped("SO_SNDBUF", "wmem_max", size, socket.send_buffer_size()?);
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// The kernel silently caps a buffer size at its sysctl maximum (and reports twice what it
/// keeps): say so once, at bind, rather than lose datagrams quietly later.
fn warn_if_capped(option: &str, sysctl: &str, asked: usize, got: usize) {
    if capped(asked, got) {
        tracing::warn!(
            option,
            asked,
            got,
            "UDP socket buffer capped by the kernel; raise net.core.{sysctl} to get it"
        );
    }
}

/// Whether the kernel kept less than `asked`, given what it `reported`: Linux reports the
/// doubled value it keeps; elsewhere the value as set.
fn capped(asked: usize, reported: usize) -> bool {
    let kept = if cfg!(any(target_os = "linux", target_os = "android")) {
        reported / 2
    } else {
        reported
    };
    kept < asked
}

/// Counters of one UDP listener, readable while it runs.
#[derive(Debug, Default)]
pub struct UdpStats {
    datagrams_in: AtomicU64,
    datagrams_out: AtomicU64,
    sessions_opened: AtomicU64,
    refused_full: AtomicU64,
    refused_by_address: AtomicU64,
    malformed: AtomicU64,
    rate_limited: AtomicU64,
    inbox_full: AtomicU64,
    send_errors: AtomicU64,
}

macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        impl UdpStats {
            $($(#[$doc])* pub fn $name(&self) -> u64 { self.$name.load(Ordering::Relaxed) })*
        }
    };
}

getters! {
    /// Datagrams received.
    datagrams_in,
    /// Datagrams sent.
    datagrams_out,
    /// Sessions created (by a first, well-formed datagram).
    sessions_opened,
    /// First datagrams dropped because `max_connections` sessions were open.
    refused_full,
    /// First datagrams dropped by the per-address limits.
    refused_by_address,
    /// Datagrams dropped because they were not whole, valid frames.
    malformed,
    /// Datagrams dropped because their peer passed its datagram rate.
    rate_limited,
    /// Datagrams dropped because their session's inbox was full.
    inbox_full,
    /// Sends the OS refused.
    send_errors,
}

fn bump(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed) + 1
}

/// A bound UDP socket. [`UdpListener::run`] serves until its shutdown token is cancelled,
/// then closes every session with `ServerShutdown` and waits for them.
pub struct UdpListener {
    socket: Arc<UdpSocket>,
    config: Arc<Config>,
    udp: UdpConfig,
    shutdown: CancellationToken,
    stats: Arc<UdpStats>,
    registry: Arc<SessionRegistry>,
}

/// What the receive loop knows of one remote address.
struct Peer {
    session: Arc<Session>,
    inbox: mpsc::Sender<Bytes>,
    rate: DatagramRate,
    malformed_in_a_row: u32,
    admitted: Option<Admitted>,
}

impl UdpListener {
    /// Binds `config.addr` over UDP. A config that fails [`Config::validate`], or a
    /// `udp` with a zero size, rate or inbox, is refused with `InvalidInput`.
    pub async fn bind(config: Config, udp: UdpConfig) -> io::Result<UdpListener> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let valid = udp.max_datagram_size >= crate::frame::HEADER_SIZE
            && udp.datagrams_per_sec.is_finite()
            && udp.datagrams_per_sec > 0.0
            && udp.datagram_burst > 0
            && udp.max_malformed > 0
            && udp.inbox_datagrams > 0;
        if !valid {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("UdpConfig has a zero or invalid field: {udp:?}"),
            ));
        }
        let socket = bind_socket(config.addr, &udp)?;
        Ok(UdpListener {
            socket: Arc::new(socket),
            config: Arc::new(config),
            udp,
            shutdown: CancellationToken::new(),
            stats: Arc::default(),
            registry: SessionRegistry::new(),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Cancel this token to stop the listener and close its sessions.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops with `token` instead of a token of its own (to stop with other listeners).
    pub fn with_shutdown_token(mut self, token: CancellationToken) -> Self {
        self.shutdown = token;
        self
    }

    /// Lists this listener's sessions in `registry` (shared with TCP/TLS listeners, say).
    pub fn with_registry(mut self, registry: Arc<SessionRegistry>) -> Self {
        self.registry = registry;
        self
    }

    /// The registry this listener's sessions are listed in.
    pub fn sessions(&self) -> Arc<SessionRegistry> {
        Arc::clone(&self.registry)
    }

    /// The listener's counters.
    pub fn stats(&self) -> Arc<UdpStats> {
        Arc::clone(&self.stats)
    }

    /// Serves datagrams, creating each new address's handler with `factory`, until
    /// shutdown. Returns once every session has run its `on_disconnected`.
    pub async fn run<F, H>(self, mut factory: F)
    where
        F: FnMut() -> H,
        H: SessionHandler,
    {
        let UdpListener {
            socket,
            config,
            udp,
            shutdown,
            stats,
            registry,
        } = self;
        let local = match socket.local_addr() {
            Ok(local) => local,
            Err(e) => {
                tracing::error!(error = %e, "UDP socket has no local address");
                return;
            }
        };
        let tracker = TaskTracker::new();
        let sessions = Arc::new(SessionSet::default());
        let reaper = config
            .idle_timeout
            .map(|every| tokio::spawn(Arc::clone(&sessions).reap_idle_every(every)));
        let mut addresses = config.address_limits.clone().map(AddressTable::new);
        let mut peers: HashMap<SocketAddr, Peer> = HashMap::new();
        let mut buf = vec![0u8; MAX_UDP_PAYLOAD];
        let mut purge = tokio::time::interval(PURGE_EVERY);
        purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_refusal_log: Option<Instant> = None;

        loop {
            let received = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = purge.tick() => {
                    peers.retain(|_, peer| {
                        let live = !peer.session.is_closed();
                        if !live {
                            release(&mut addresses, peer.admitted.take());
                        }
                        live
                    });
                    continue;
                }
                received = socket.recv_from(&mut buf) => received,
            };
            let (n, from) = match received {
                Ok(received) => received,
                Err(e) => {
                    // Linux reports an ICMP error for an earlier send here; the socket is
                    // fine, so keep serving.
                    tracing::debug!(error = %e, "UDP receive error");
                    continue;
                }
            };
            bump(&stats.datagrams_in);
            let datagram = &buf[..n];
            let now = Instant::now();

            if let Some(peer) = peers.get_mut(&from) {
                if !peer.session.is_closed() {
                    to_peer(peer, datagram, now, &config, &udp, &stats);
                    continue;
                }
                // Its session ended: this datagram may open a new one.
                if let Some(old) = peers.remove(&from) {
                    release(&mut addresses, old.admitted);
                }
            }

            // Only a well-formed datagram opens a session, so garbage from spoofed addresses
            // costs a check and a counter, never a session.
            if let Err(e) = check_datagram(datagram, config.max_packet_size) {
                bump(&stats.malformed);
                tracing::trace!(%from, error = %e, "malformed first datagram dropped");
                continue;
            }
            if peers.len() >= config.max_connections {
                let refused = bump(&stats.refused_full);
                if last_refusal_log.is_none_or(|t| now - t >= Duration::from_secs(1)) {
                    last_refusal_log = Some(now);
                    tracing::warn!(
                        refused_total = refused,
                        max_connections = config.max_connections,
                        "UDP session refused: max_connections reached (logged at most once a second)"
                    );
                }
                continue;
            }
            let admitted = match addresses.as_mut().map(|t| t.admit(from.ip(), now)) {
                None => None,
                Some(Ok(admitted)) => Some(admitted),
                Some(Err(why)) => {
                    bump(&stats.refused_by_address);
                    tracing::trace!(%from, why = why.as_str(), "UDP session refused by address limits");
                    continue;
                }
            };

            let session = Arc::new(Session::new(from, local, &config));
            let (inbox, inbox_rx) = mpsc::channel(udp.inbox_datagrams);
            sessions.insert(&session);
            registry.register(&session);
            bump(&stats.sessions_opened);
            let task = SessionTask {
                session: Arc::clone(&session),
                handler: factory(),
                inbox: inbox_rx,
                socket: Arc::clone(&socket),
                max_datagram: udp.max_datagram_size,
                stats: Arc::clone(&stats),
            };
            let cleanup = {
                let sessions = Arc::clone(&sessions);
                let registry = Arc::clone(&registry);
                let session = Arc::clone(&session);
                OnDrop::new(move || {
                    sessions.remove(&session);
                    registry.unregister(&session);
                })
            };
            tracker.spawn(async move {
                let _cleanup = cleanup;
                let reason = task.run().await;
                tracing::debug!(%reason, "UDP session closed");
            });
            let mut peer = Peer {
                session,
                inbox,
                rate: DatagramRate::new(udp.datagrams_per_sec, udp.datagram_burst, now),
                malformed_in_a_row: 0,
                admitted,
            };
            to_peer(&mut peer, datagram, now, &config, &udp, &stats);
            peers.insert(from, peer);
        }

        // Dropping the inboxes ends the tasks that are waiting for a datagram.
        drop(peers);
        sessions.close_all(CloseReason::ServerShutdown);
        tracker.close();
        tracker.wait().await;
        if let Some(reaper) = reaper {
            reaper.abort();
        }
    }
}

/// Applies the peer's rate and the datagram check, then queues it for the session's task.
fn to_peer(
    peer: &mut Peer,
    datagram: &[u8],
    now: Instant,
    config: &Config,
    udp: &UdpConfig,
    stats: &UdpStats,
) {
    if !peer.rate.allow(now) {
        bump(&stats.rate_limited);
        return;
    }
    if let Err(e) = check_datagram(datagram, config.max_packet_size) {
        bump(&stats.malformed);
        peer.malformed_in_a_row += 1;
        if peer.malformed_in_a_row >= udp.max_malformed {
            peer.session
                .disconnect(CloseReason::ProtocolError(ProtocolError::Invalid(format!(
                    "{} malformed datagrams in a row, the last: {e}",
                    peer.malformed_in_a_row
                ))));
        }
        return;
    }
    peer.malformed_in_a_row = 0;
    if peer
        .inbox
        .try_send(Bytes::copy_from_slice(datagram))
        .is_err()
    {
        bump(&stats.inbox_full);
    }
}

fn release(addresses: &mut Option<AddressTable>, admitted: Option<Admitted>) {
    if let (Some(table), Some(admitted)) = (addresses.as_mut(), admitted) {
        table.release(admitted);
    }
}

/// One UDP session's task: delivers its datagrams to the handler and sends its queue.
struct SessionTask<H> {
    session: Arc<Session>,
    handler: H,
    inbox: mpsc::Receiver<Bytes>,
    socket: Arc<UdpSocket>,
    max_datagram: usize,
    stats: Arc<UdpStats>,
}

impl<H: SessionHandler> SessionTask<H> {
    async fn run(mut self) -> CloseReason {
        let session = Arc::clone(&self.session);
        if !guard_with(&mut self.handler, &session, |h, s| h.on_connected(s)) {
            session.disconnect(CloseReason::ApplicationError("handler panicked".into()));
        }
        let wake = session.wake.notified();
        tokio::pin!(wake);
        let mut queued = Vec::new();
        let mut datagrams = Vec::new();
        let reason = loop {
            if let Some(reason) = session.close_reason() {
                break reason.clone();
            }
            // Replies made while handling a datagram wake nobody: look every time round.
            session.take_queue(&mut queued);
            if !queued.is_empty() {
                self.send(&mut queued, &mut datagrams).await;
                continue;
            }
            tokio::select! {
                biased;
                _ = &mut wake => wake.set(session.wake.notified()),
                datagram = self.inbox.recv() => match datagram {
                    Some(datagram) => self.deliver(&datagram),
                    // The listener is gone.
                    None => {
                        session.disconnect(CloseReason::ServerShutdown);
                    }
                },
            }
        };
        session.clear_queue();
        let _ = guard_with(&mut self.handler, &session, |h, s| {
            h.on_disconnected(s, &reason)
        });
        reason
    }

    /// Hands one checked datagram (whole frames) to the handler. Whatever the handler does
    /// not consume is dropped with the datagram: frames never span datagrams.
    fn deliver(&mut self, datagram: &[u8]) {
        let session = &self.session;
        let handler = &mut self.handler;
        local_batch::open(session.id());
        let result = catch_unwind(AssertUnwindSafe(|| handler.on_recv(session, datagram)));
        local_batch::close(|frames, bytes| session.enqueue_batch(frames, bytes));
        match result {
            Ok(consumed) if consumed > 0 => {
                session.received_since_check.store(true, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(_) => {
                session.disconnect(CloseReason::ApplicationError("on_recv panicked".into()));
            }
        }
    }

    /// Packs the queued frames into datagrams and sends them.
    async fn send(&mut self, queued: &mut Vec<Bytes>, datagrams: &mut Vec<Bytes>) {
        let bytes: usize = queued.iter().map(Bytes::len).sum();
        pack(queued, self.max_datagram, datagrams);
        let peer = self.session.peer_addr();
        for datagram in datagrams.drain(..) {
            match self.socket.send_to(&datagram, peer).await {
                Ok(_) => {
                    bump(&self.stats.datagrams_out);
                }
                Err(e) => {
                    // Not fatal: UDP may lose any datagram, and the peer may come back.
                    bump(&self.stats.send_errors);
                    tracing::debug!(%peer, error = %e, "UDP send failed");
                }
            };
        }
        self.session.written(bytes);
        let session = Arc::clone(&self.session);
        if !guard_with(&mut self.handler, &session, |h, s| h.on_send(s, bytes)) {
            session.disconnect(CloseReason::ApplicationError("on_send panicked".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_capped_when_the_kernel_keeps_less_than_asked() {
        let four_mib = 4 * 1024 * 1024;
        if cfg!(target_os = "linux") {
            assert!(
                !capped(four_mib, 2 * four_mib),
                "kept in full (reported doubled)"
            );
            assert!(
                capped(four_mib, 6 * 1024 * 1024),
                "rmem_max at 3 MiB keeps 3 of 4"
            );
            assert!(capped(four_mib, 2 * 212_992), "the default cap");
        } else {
            assert!(!capped(four_mib, four_mib));
            assert!(capped(four_mib, four_mib - 1));
        }
    }

    #[tokio::test]
    async fn sizes_under_the_kernels_caps_are_set_exactly() {
        // Under any host's caps and unlike its defaults (208 KiB), so this fails if the
        // options are not set: Linux keeps twice what is asked.
        let udp = UdpConfig {
            socket_recv_buffer: Some(64 * 1024),
            socket_send_buffer: Some(32 * 1024),
            ..UdpConfig::default()
        };
        let socket = bind_socket(SocketAddr::from(([127, 0, 0, 1], 0)), &udp).expect("bind");
        let sock = socket2::SockRef::from(&socket);
        assert_eq!(sock.recv_buffer_size().expect("SO_RCVBUF"), 128 * 1024);
        assert_eq!(sock.send_buffer_size().expect("SO_SNDBUF"), 64 * 1024);
    }
}
