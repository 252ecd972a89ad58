//! `GameServer`: wires the listener, the client sessions and the room together.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use server_core::{Listener, Session, SessionRegistry};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::client_session::{ClientSession, Shared};
use crate::config::ServerConfig;
use crate::game_room::{GameRoom, RoomJob};
use crate::job_queue::{JobQueue, JobQueueThread};
use crate::log_budget::{LogBudget, PEER_LOG_RATE};
use crate::stats::{Snapshot, StatSources};

/// A running game server.
pub struct GameServer {
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    sessions: Arc<SessionRegistry>,
    shutdown: CancellationToken,
    listener: JoinHandle<()>,
    room: JobQueue<RoomJob<Arc<Session>>>,
    room_thread: JobQueueThread,
    summary: Option<JoinHandle<()>>,
    stats: StatSources,
}

impl GameServer {
    /// Binds `config.net.addr`, starts the room's thread and begins accepting players.
    /// Must be called inside a tokio runtime.
    /// A config that fails [`ServerConfig::validate`] is refused with `InvalidInput`.
    pub async fn start(config: ServerConfig) -> io::Result<GameServer> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let room_stats = Arc::default();
        let room = GameRoom::<Arc<Session>>::new(config.max_pending_bytes, Arc::clone(&room_stats));
        let (queue, room_thread) = JobQueue::spawn(
            "game-room",
            config.room_queue_capacity,
            config.net.max_connections,
            Some(config.tick),
            room,
        )?;

        let listener = Listener::bind(config.net.clone()).await?;
        let addr = listener.local_addr()?;
        // The TLS door shares the TCP one's cap, limits, sessions, counters and shutdown.
        let tls_listener = match &config.tls {
            Some(tls) => Some(
                Listener::bind(server_core::Config {
                    addr: tls.addr,
                    ..config.net.clone()
                })
                .await?
                .alongside(&listener)
                .with_tls(tls.acceptor.clone()),
            ),
            None => None,
        };
        let tls_addr = tls_listener
            .as_ref()
            .map(Listener::local_addr)
            .transpose()?;
        let shutdown = listener.shutdown_token();
        let sessions = listener.sessions();
        let stats = StatSources {
            listener: listener.stats(),
            room: room_stats,
            server: Arc::default(),
            jobs: queue.stats_handle(),
        };
        let shared = Arc::new(Shared {
            sessions: Default::default(),
            room: queue.clone(),
            stats: Arc::clone(&stats.server),
            chat_max_chars: config.chat_max_chars,
            move_rate: config.move_rate,
            chat_rate: config.chat_rate,
            refused_input_limit: config.refused_input_limit,
            peer_log: LogBudget::new(PEER_LOG_RATE, Instant::now()),
            started: Instant::now(),
        });
        let tls_shared = Arc::clone(&shared);
        let listener = tokio::spawn(async move {
            let tcp = listener.run(move || ClientSession::new(Arc::clone(&shared)));
            match tls_listener {
                Some(tls) => {
                    let tls = tls.run(move || ClientSession::new(Arc::clone(&tls_shared)));
                    tokio::join!(tcp, tls);
                }
                None => tcp.await,
            }
        });
        let summary = config
            .stats_interval
            .map(|every| tokio::spawn(stats.clone().log_every(every)));
        if let Some(tls_addr) = tls_addr {
            tracing::info!(%tls_addr, "TLS listener feeding the same room");
        }
        tracing::info!(%addr, tick_ms = config.tick.as_millis() as u64, "game server listening");
        Ok(GameServer {
            addr,
            tls_addr,
            sessions,
            shutdown,
            listener,
            room: queue,
            room_thread,
            summary,
            stats,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the TLS listener listens on, if there is one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// The live sessions of every listener (TCP and TLS), by session id.
    pub fn sessions(&self) -> Arc<SessionRegistry> {
        Arc::clone(&self.sessions)
    }

    /// The server's counters now.
    pub fn snapshot(&self) -> Snapshot {
        self.stats.snapshot()
    }

    /// Stops accepting, closes every session with `ServerShutdown`, lets the room run the
    /// leaves that follows, and stops the room's thread.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        if let Err(e) = self.listener.await {
            tracing::error!(error = %e, "listener task failed");
        }
        if let Some(summary) = self.summary {
            summary.abort();
        }
        self.room.stop();
        let room_thread = self.room_thread;
        if tokio::task::spawn_blocking(move || room_thread.join())
            .await
            .is_err()
        {
            tracing::error!("room thread join failed");
        }
        tracing::info!("game server stopped");
    }
}
