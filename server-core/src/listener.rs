//! `Listener`: accepts connections and runs a session for each.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::address_limits::AddressTable;
use crate::config::Config;
use crate::driver;
use crate::error::CloseReason;
use crate::registry::SessionRegistry;
use crate::session::{Session, SessionHandler};
use crate::session_set::SessionSet;
use crate::stream_driver;
use crate::tls::TlsAcceptor;

/// Counters of one listener, readable while it runs.
#[derive(Debug, Default)]
pub struct ListenerStats {
    accepted: AtomicU64,
    refused: AtomicU64,
    refused_by_address: AtomicU64,
    accept_errors: AtomicU64,
    active: AtomicU64,
    tls_handshake_failed: AtomicU64,
    tls_handshake_timed_out: AtomicU64,
    /// Unix second of the last handshake failure logged at warn level: at most one such
    /// line a second, so a newcomer with a wrong certificate sees why, and a scanner cannot
    /// flood the log.
    tls_failure_warned_at: AtomicU64,
}

impl ListenerStats {
    /// True at most once a second: whether this TLS handshake failure may be logged at
    /// warn level (the others go to debug).
    fn may_warn_tls_failure(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.tls_failure_warned_at.load(Ordering::Relaxed);
        now > last
            && self
                .tls_failure_warned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Connections accepted and given a session.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Connections closed at once because `max_connections` sessions were open.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections closed at once because their source address had too many open or opened
    /// them too fast (see [`Config::address_limits`]).
    pub fn refused_by_address(&self) -> u64 {
        self.refused_by_address.load(Ordering::Relaxed)
    }

    /// Failed `accept` calls.
    pub fn accept_errors(&self) -> u64 {
        self.accept_errors.load(Ordering::Relaxed)
    }

    /// Sessions open now.
    pub fn active(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }

    /// TLS connections dropped because the handshake failed: not TLS at all (plain TCP,
    /// garbage), a protocol error, or the peer closing before it finished.
    pub fn tls_handshake_failed(&self) -> u64 {
        self.tls_handshake_failed.load(Ordering::Relaxed)
    }

    /// TLS connections dropped because the handshake did not finish within
    /// [`Config::tls_handshake_timeout`].
    pub fn tls_handshake_timed_out(&self) -> u64 {
        self.tls_handshake_timed_out.load(Ordering::Relaxed)
    }
}

/// A bound server socket. [`Listener::run`] accepts until [`Listener::shutdown_token`] is
/// cancelled, then closes every session with `ServerShutdown` and waits for them.
pub struct Listener {
    tcp: TcpListener,
    config: Arc<Config>,
    shutdown: CancellationToken,
    stats: Arc<ListenerStats>,
    registry: Arc<SessionRegistry>,
    tls: Option<TlsAcceptor>,
    /// Connection slots (`max_connections`). The permit moves into the session's task, so a
    /// slot frees itself however the session ends.
    slots: Arc<Semaphore>,
    /// How many slots `slots` was made with (the first listener's `max_connections` when
    /// shared through `alongside`), for the refusal log.
    slots_max: usize,
    /// A std mutex: the accept loop admits and each session's cleanup releases, a few map
    /// operations per connection, never held across an `.await`.
    addresses: Option<Arc<Mutex<AddressTable>>>,
}

impl Listener {
    /// Binds `config.addr` with `config.backlog`. A config that fails
    /// [`Config::validate`] is refused with `InvalidInput`.
    pub async fn bind(config: Config) -> io::Result<Listener> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let socket = match config.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        // Lets a restarted server bind while old connections sit in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        // Set on the listening socket, accepted sockets inherit them (and the lock that
        // stops the kernel's autotuning) with no system call per connection.
        set_buffer_sizes(&socket, &config)?;
        socket.bind(config.addr)?;
        let tcp = socket.listen(config.backlog)?;
        let slots = Arc::new(Semaphore::new(config.max_connections));
        let addresses = config
            .address_limits
            .clone()
            .map(|limits| Arc::new(Mutex::new(AddressTable::new(limits))));
        Ok(Listener {
            slots,
            slots_max: config.max_connections,
            addresses,
            tcp,
            config: Arc::new(config),
            shutdown: CancellationToken::new(),
            stats: Arc::default(),
            registry: SessionRegistry::new(),
            tls: None,
        })
    }

    /// Makes this listener a second door into the same server as `first` (a TLS port beside
    /// a TCP one): from now on they share one cap on open connections (`first`'s
    /// `max_connections`), one per-address table, one [`SessionRegistry`], one shutdown
    /// token and one [`ListenerStats`]. Their own configs still set everything else.
    pub fn alongside(mut self, first: &Listener) -> Self {
        self.slots = Arc::clone(&first.slots);
        self.slots_max = first.slots_max;
        self.addresses = first.addresses.clone();
        self.registry = Arc::clone(&first.registry);
        self.shutdown = first.shutdown.clone();
        self.stats = Arc::clone(&first.stats);
        self
    }

    /// Makes this a TLS listener: every accepted connection does a TLS handshake (within
    /// [`Config::tls_handshake_timeout`], on its own task) before its session starts; one
    /// that fails or times out is dropped, counted in [`ListenerStats`] and logged with the
    /// reason. Sessions on top are the same `Session`/`PacketSession` as over plain TCP.
    pub fn with_tls(mut self, acceptor: TlsAcceptor) -> Self {
        self.tls = Some(acceptor);
        self
    }

    /// Registers this listener's sessions in `registry` instead of a registry of its own:
    /// give several listeners (TCP and TLS ports, say) the same one and the game sees one
    /// set of sessions and one stream of connect/close events.
    pub fn with_registry(mut self, registry: Arc<SessionRegistry>) -> Self {
        self.registry = registry;
        self
    }

    /// Shuts this listener down with `token` instead of a token of its own: several
    /// listeners given the same token stop together.
    pub fn with_shutdown_token(mut self, token: CancellationToken) -> Self {
        self.shutdown = token;
        self
    }

    /// The registry this listener's sessions are listed in (see [`Listener::with_registry`]).
    pub fn sessions(&self) -> Arc<SessionRegistry> {
        Arc::clone(&self.registry)
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Cancel this token to shut the listener and all its sessions down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The listener's counters.
    pub fn stats(&self) -> Arc<ListenerStats> {
        Arc::clone(&self.stats)
    }

    /// Accepts connections, creating each session's handler with `factory`, until shutdown.
    ///
    /// Returns once the listening socket is closed and every session has run its
    /// `on_disconnected`.
    pub async fn run<F, H>(self, mut factory: F)
    where
        F: FnMut() -> H,
        H: SessionHandler,
    {
        let Listener {
            tcp,
            config,
            shutdown,
            stats,
            registry,
            tls,
            slots,
            slots_max,
            addresses,
        } = self;
        let tracker = TaskTracker::new();
        let sessions = Arc::new(SessionSet::default());
        let live = Live {
            sessions: Arc::clone(&sessions),
            registry,
            stats: Arc::clone(&stats),
        };
        let reaper = config
            .idle_timeout
            .map(|every| tokio::spawn(Arc::clone(&sessions).reap_idle_every(every)));
        let mut backoff = Backoff::default();
        let mut last_refusal_log: Option<tokio::time::Instant> = None;
        let mut last_address_log: Option<tokio::time::Instant> = None;
        loop {
            let accepted = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                accepted = tcp.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => {
                    backoff.reset();
                    accepted
                }
                Err(e) => {
                    // Usually EMFILE or ENFILE: spinning on accept would burn a core while
                    // the condition lasts, so wait a little, longer each time.
                    stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                    let delay = backoff.next();
                    tracing::warn!(error = %e, ?delay, "accept failed; backing off");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(delay) => continue,
                    }
                }
            };
            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                // Full: close at once (dropping the stream) and say so, at most once a second
                // so a flood cannot flood the log too.
                let refused = stats.refused.fetch_add(1, Ordering::Relaxed) + 1;
                let now = tokio::time::Instant::now();
                if last_refusal_log.is_none_or(|t| now - t >= Duration::from_secs(1)) {
                    last_refusal_log = Some(now);
                    tracing::warn!(
                        refused_total = refused,
                        max_connections = slots_max,
                        "connection refused: max_connections reached"
                    );
                }
                continue;
            };
            // Per-address limits: checked before the session exists, so a refused connection
            // costs the game nothing. Refusals are logged at most once a second.
            let admitted = match &addresses {
                None => None,
                Some(table) => {
                    let verdict = lock(table).admit(peer.ip(), Instant::now());
                    match verdict {
                        Ok(admitted) => Some((Arc::clone(table), admitted)),
                        Err(why) => {
                            drop(permit);
                            let refused =
                                stats.refused_by_address.fetch_add(1, Ordering::Relaxed) + 1;
                            let now = tokio::time::Instant::now();
                            if last_address_log.is_none_or(|t| now - t >= Duration::from_secs(1)) {
                                last_address_log = Some(now);
                                tracing::warn!(
                                    %peer,
                                    why = why.as_str(),
                                    refused_total = refused,
                                    "connection refused by the per-address limits (logged at most once a second)"
                                );
                            }
                            continue;
                        }
                    }
                }
            };
            let handler = factory();
            let admission = Admission {
                _permit: permit,
                admitted,
            };
            let Some(acceptor) = &tls else {
                match driver::start(stream, handler, &config) {
                    Ok((session, driver)) => {
                        let cleanup = live.track(&session, admission);
                        tracker.spawn(async move {
                            // Cleanup runs even if the task unwinds, so a bug in the I/O task
                            // cannot leave a session registered or a slot taken forever.
                            let _cleanup = cleanup;
                            let reason = driver.await;
                            tracing::debug!(%reason, "session closed");
                        });
                    }
                    // The peer vanished between accept and setup; dropping the admission
                    // undoes it.
                    Err(e) => tracing::debug!(error = %e, "accepted socket unusable"),
                }
                continue;
            };
            // TLS: the handshake runs on the session's own task, so a client that stalls or
            // sends garbage costs the accept loop nothing. It holds its connection slot and
            // per-address admission meanwhile (for at most `tls_handshake_timeout`), so a
            // flood of half-open handshakes is capped like any other connections.
            let acceptor = acceptor.clone();
            let config = Arc::clone(&config);
            let live = live.clone();
            let shutdown = shutdown.clone();
            tracker.spawn(async move {
                // Shutdown must not wait out a stalled handshake: it has no session to close.
                let shaken = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    shaken = handshake(&acceptor, stream, peer, &config, &live.stats) => shaken,
                };
                let Some((stream, local)) = shaken else {
                    return;
                };
                let (session, driver) = stream_driver::start(stream, peer, local, handler, &config);
                let _cleanup = live.track(&session, admission);
                let reason = driver.await;
                tracing::debug!(%reason, "TLS session closed");
            });
        }

        // Stop accepting first, so no session can start after the close below.
        drop(tcp);
        sessions.close_all(CloseReason::ServerShutdown);
        tracker.close();
        tracker.wait().await;
        if let Some(reaper) = reaper {
            reaper.abort();
        }
    }
}

/// What a session needs to be tracked while it runs, shared by the accept loop and the
/// TLS handshake tasks.
#[derive(Clone)]
struct Live {
    sessions: Arc<SessionSet>,
    registry: Arc<SessionRegistry>,
    stats: Arc<ListenerStats>,
}

impl Live {
    /// Counts and registers a session that is about to run; the returned guard undoes it
    /// all (and frees the admission) when the session's task ends, even by unwinding.
    fn track(&self, session: &Arc<Session>, admission: Admission) -> OnDrop<impl FnOnce()> {
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        self.stats.active.fetch_add(1, Ordering::Relaxed);
        self.sessions.insert(session);
        self.registry.register(session);
        let live = self.clone();
        let session = Arc::clone(session);
        OnDrop::new(move || {
            live.sessions.remove(&session);
            live.registry.unregister(&session);
            live.stats.active.fetch_sub(1, Ordering::Relaxed);
            drop(admission);
        })
    }
}

/// A connection's connection slot and per-address admission; dropping it gives both back.
struct Admission {
    /// Held, never read: dropping it frees the connection slot.
    _permit: OwnedSemaphorePermit,
    admitted: Option<(Arc<Mutex<AddressTable>>, crate::address_limits::Admitted)>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some((table, admitted)) = self.admitted.take() {
            lock(&table).release(admitted);
        }
    }
}

/// Runs the server side of a TLS handshake within the configured time. On failure the
/// connection is dropped, counted and logged with its reason, and `None` returned.
async fn handshake(
    acceptor: &TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    config: &Config,
    stats: &ListenerStats,
) -> Option<(
    tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    SocketAddr,
)> {
    if config.nodelay {
        // Set before the handshake, so its flights are not held back by Nagle either.
        let _ = stream.set_nodelay(true);
    }
    let local = stream.local_addr().ok()?;
    let limit = config.tls_handshake_timeout;
    match tokio::time::timeout(limit, acceptor.inner.accept(stream)).await {
        Ok(Ok(tls)) => Some((tls, local)),
        Ok(Err(e)) => {
            let failed = stats.tls_handshake_failed.fetch_add(1, Ordering::Relaxed) + 1;
            // A peer's doing, so at most one warn line a second (a scanner must not flood
            // the log), but at a level a newcomer sees: a client that refuses our
            // certificate says why here ("received fatal alert: UnknownCA", ...).
            if stats.may_warn_tls_failure() {
                tracing::warn!(
                    %peer,
                    reason = %e,
                    failed_total = failed,
                    "TLS handshake failed; connection closed (one such line a second at most)"
                );
            } else {
                tracing::debug!(%peer, reason = %e, "TLS handshake failed; connection closed");
            }
            None
        }
        Err(_) => {
            stats
                .tls_handshake_timed_out
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, ?limit, "TLS handshake timed out; connection closed");
            None
        }
    }
}

/// Applies `Config::socket_send_buffer` and `socket_recv_buffer` to a socket not yet
/// listening or connected.
pub(crate) fn set_buffer_sizes(socket: &TcpSocket, config: &Config) -> io::Result<()> {
    // `validate` keeps both within u32 (and half of i32::MAX).
    if let Some(size) = config.socket_send_buffer {
        socket.set_send_buffer_size(u32::try_from(size).unwrap_or(u32::MAX))?;
    }
    if let Some(size) = config.socket_recv_buffer {
        socket.set_recv_buffer_size(u32::try_from(size).unwrap_or(u32::MAX))?;
    }
    Ok(())
}

/// Locks the address table. A panic while holding it can only come from a map operation,
/// which leaves the counts usable, so poisoning is ignored rather than spread.
fn lock(table: &Mutex<AddressTable>) -> std::sync::MutexGuard<'_, AddressTable> {
    table
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs a closure when dropped, also during unwinding.
pub(crate) struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> OnDrop<F> {
    pub(crate) fn new(f: F) -> Self {
        OnDrop(Some(f))
    }
}

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// Exponential back-off for accept errors: 5 ms doubling to 1 s.
#[derive(Default)]
struct Backoff {
    current: Option<Duration>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    fn next(&mut self) -> Duration {
        let next = self.current.map_or(Self::FIRST, |d| (d * 2).min(Self::MAX));
        self.current = Some(next);
        next
    }

    fn reset(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap_and_resets() {
        let mut b = Backoff::default();
        let delays: Vec<_> = (0..10).map(|_| b.next()).collect();
        assert_eq!(delays[0], Duration::from_millis(5));
        assert_eq!(delays[1], Duration::from_millis(10));
        assert_eq!(*delays.last().expect("ten delays"), Duration::from_secs(1));
        b.reset();
        assert_eq!(b.next(), Duration::from_millis(5), "reset starts over");
    }
}
