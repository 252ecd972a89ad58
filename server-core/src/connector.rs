//! `Connector`: opens client sessions, the course's `Connector` used by the DummyClient.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::driver;
use crate::error::CloseReason;
use crate::listener::OnDrop;
use crate::session::{Session, SessionHandler};
use crate::session_set::SessionSet;
use crate::stream_driver;
use crate::tls::TlsConnector;

/// A connection that could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("connect #{index} to {addr} failed: {source}")]
pub struct ConnectError {
    /// Which of the requested connections (0-based).
    pub index: usize,
    /// The address dialled.
    pub addr: SocketAddr,
    /// What the OS said.
    #[source]
    pub source: io::Error,
}

/// Opens client sessions and tracks them for a clean shutdown.
pub struct Connector {
    config: Arc<Config>,
    sessions: Arc<SessionSet>,
    tracker: TaskTracker,
    tls: Option<TlsConnector>,
}

impl Connector {
    /// A connector whose sessions use `config` (its `addr` is not used: each call names one).
    ///
    /// With an `idle_timeout` set, this must be called inside a tokio runtime (the idle
    /// check runs as a task).
    ///
    /// # Panics
    ///
    /// If `config` fails [`Config::validate`]: a connector has no I/O to report it through,
    /// and a config is the caller's own data, not a peer's.
    pub fn new(config: Config) -> Self {
        if let Err(e) = config.validate() {
            panic!("invalid server_core::Config for a Connector: {e}");
        }
        let sessions = Arc::new(SessionSet::default());
        if let (Some(every), Ok(runtime)) =
            (config.idle_timeout, tokio::runtime::Handle::try_current())
        {
            runtime.spawn(Arc::clone(&sessions).reap_idle_every(every));
        }
        Connector {
            config: Arc::new(config),
            sessions,
            tracker: TaskTracker::new(),
            tls: None,
        }
    }

    /// Makes every session of this connector TLS: after the TCP connect, a handshake within
    /// [`Config::tls_handshake_timeout`] that must verify the server's certificate against
    /// `tls`'s CAs and server name; a failure is the connect's error.
    pub fn with_tls(mut self, tls: TlsConnector) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Opens one session to `addr` driven by `handler`.
    pub async fn connect<H: SessionHandler>(
        &self,
        addr: SocketAddr,
        handler: H,
    ) -> io::Result<Arc<Session>> {
        let stream = connect_within(addr, &self.config).await?;
        spawn(
            stream,
            handler,
            &self.config,
            self.tls.as_ref(),
            &self.sessions,
            &self.tracker,
        )
        .await
    }

    /// Opens `count` sessions to `addr` concurrently, each with a handler from `factory`
    /// (called with the connection's index). The result has one entry per index, in order,
    /// so every failure is reported with the connection it belongs to.
    pub async fn connect_many<F, H>(
        &self,
        addr: SocketAddr,
        count: usize,
        mut factory: F,
    ) -> Vec<Result<Arc<Session>, ConnectError>>
    where
        F: FnMut(usize) -> H,
        H: SessionHandler,
    {
        let mut attempts = JoinSet::new();
        for index in 0..count {
            let handler = factory(index);
            let config = Arc::clone(&self.config);
            let sessions = Arc::clone(&self.sessions);
            let tracker = self.tracker.clone();
            let tls = self.tls.clone();
            attempts.spawn(async move {
                let opened = async {
                    let stream = connect_within(addr, &config).await?;
                    spawn(stream, handler, &config, tls.as_ref(), &sessions, &tracker).await
                };
                (
                    index,
                    opened.await.map_err(|source| ConnectError {
                        index,
                        addr,
                        source,
                    }),
                )
            });
        }
        let mut results: Vec<Option<Result<Arc<Session>, ConnectError>>> =
            (0..count).map(|_| None).collect();
        while let Some(joined) = attempts.join_next().await {
            match joined {
                Ok((index, result)) => results[index] = Some(result),
                // A connect attempt has no code of ours that can panic; a cancelled or
                // panicked attempt still gets an entry below.
                Err(e) => tracing::warn!(error = %e, "connect task failed"),
            }
        }
        results
            .into_iter()
            .enumerate()
            .map(|(index, r)| {
                r.unwrap_or_else(|| {
                    Err(ConnectError {
                        index,
                        addr,
                        source: io::Error::other("connect task did not finish"),
                    })
                })
            })
            .collect()
    }

    /// Closes every session with [`CloseReason::ServerShutdown`](crate::CloseReason::ServerShutdown) and waits until all of them
    /// have run `on_disconnected`.
    pub async fn shutdown(&self) {
        self.sessions.close_all(CloseReason::ServerShutdown);
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Sessions still running.
    pub fn active(&self) -> usize {
        self.sessions.len()
    }
}

/// Starts the session for a connected `stream` (after a TLS handshake if `tls` is set) on
/// `tracker`, registered in `sessions`.
async fn spawn<H: SessionHandler>(
    stream: TcpStream,
    handler: H,
    config: &Config,
    tls: Option<&TlsConnector>,
    sessions: &Arc<SessionSet>,
    tracker: &TaskTracker,
) -> io::Result<Arc<Session>> {
    let Some(tls) = tls else {
        let (session, driver) = driver::start(stream, handler, config)?;
        return track(session, driver, sessions, tracker);
    };
    if config.nodelay {
        stream.set_nodelay(true)?;
    }
    let (peer, local) = (stream.peer_addr()?, stream.local_addr()?);
    let limit = config.tls_handshake_timeout;
    let handshake = tls.inner.connect(tls.server_name.clone(), stream);
    let stream = match tokio::time::timeout(limit, handshake).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("TLS handshake not done within {limit:?}"),
            ))
        }
    };
    let (session, driver) = stream_driver::start(stream, peer, local, handler, config);
    track(session, driver, sessions, tracker)
}

/// Runs a started session on `tracker`, listed in `sessions` while it runs.
fn track(
    session: Arc<Session>,
    driver: impl std::future::Future<Output = CloseReason> + Send + 'static,
    sessions: &Arc<SessionSet>,
    tracker: &TaskTracker,
) -> io::Result<Arc<Session>> {
    sessions.insert(&session);
    let registered = Arc::clone(&session);
    let sessions = Arc::clone(sessions);
    tracker.spawn(async move {
        // Removed even if the task unwinds.
        let _cleanup = OnDrop::new(move || sessions.remove(&registered));
        driver.await;
    });
    Ok(session)
}

/// A connect with the config's socket buffer sizes and a deadline: an unanswered SYN
/// otherwise waits for the OS's retries, about two minutes on Linux.
async fn connect_within(addr: SocketAddr, config: &Config) -> io::Result<TcpStream> {
    let limit = config.connect_timeout;
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    crate::listener::set_buffer_sizes(&socket, config)?;
    match tokio::time::timeout(limit, socket.connect(addr)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within {limit:?}"),
        )),
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        // Sessions must not outlive the connector that opened them unnoticed.
        self.sessions.close_all(CloseReason::ServerShutdown);
    }
}
