//! `Connector`: opens client sessions, the course's `Connector` used by the DummyClient.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;

use crate::close_reason::CloseReason;
use crate::config::Config;
use crate::driver;
use crate::listener::OnDrop;
use crate::session::{Session, SessionHandler};
use crate::session_set::SessionSet;

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
        }
    }

    /// Opens one session to `addr` driven by `handler`.
    pub async fn connect<H: SessionHandler>(
        &self,
        addr: SocketAddr,
        handler: H,
    ) -> io::Result<Arc<Session>> {
        let stream = connect_within(addr, &self.config).await?;
        spawn(stream, handler, &self.config, &self.sessions, &self.tracker)
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
            attempts.spawn(async move {
                let opened = async {
                    let stream = connect_within(addr, &config).await?;
                    spawn(stream, handler, &config, &sessions, &tracker)
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

/// Starts the session for a connected `stream` on `tracker`, registered in `sessions`.
fn spawn<H: SessionHandler>(
    stream: TcpStream,
    handler: H,
    config: &Config,
    sessions: &Arc<SessionSet>,
    tracker: &TaskTracker,
) -> io::Result<Arc<Session>> {
    let (session, driver) = driver::start(stream, handler, config)?;
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
