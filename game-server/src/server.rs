//! `GameServer`: wires the listener, the client sessions and the room together.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use server_core::{Listener, Session};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::{AdminServer, MapFeed};
use crate::client_session::{ClientSession, Shared};
use crate::config::ServerConfig;
use crate::game_room::{GameRoom, RoomJob, ROOM_BOUNDS};
use crate::job_queue::{JobQueue, JobQueueThread};
use crate::log_budget::{LogBudget, PEER_LOG_RATE};
use crate::metrics::{MetricSources, RoomSource, SessionMetrics};
use crate::stats::{Snapshot, StatSources};

/// A running game server.
pub struct GameServer {
    addr: SocketAddr,
    shutdown: CancellationToken,
    listener: JoinHandle<()>,
    room: JobQueue<RoomJob<Arc<Session>>>,
    room_thread: JobQueueThread,
    summary: Option<JoinHandle<()>>,
    stats: StatSources,
    admin: Option<AdminServer>,
}

impl GameServer {
    /// Binds `config.net.addr` (and `config.admin`'s address, if set), starts the room's
    /// thread and begins accepting players. Must be called inside a tokio runtime. An admin
    /// setting that is refused (see [`AdminConfig::validate`](crate::admin::AdminConfig))
    /// fails with `InvalidInput` before anything is bound, its [`AdminError`](crate::admin::AdminError)
    /// inside.
    /// A config that fails [`ServerConfig::validate`] is refused with `InvalidInput` too.
    pub async fn start(config: ServerConfig) -> io::Result<GameServer> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if let Some(admin) = &config.admin {
            admin
                .validate()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        }
        let room_stats = Arc::default();
        let mut room =
            GameRoom::<Arc<Session>>::new(config.max_pending_bytes, Arc::clone(&room_stats));
        let feed = config
            .admin
            .as_ref()
            .map(|admin| Arc::new(MapFeed::new(admin.max_dots, ROOM_BOUNDS)));
        if let Some(feed) = &feed {
            room = room.with_map_feed(Arc::clone(feed));
        }
        let (queue, room_thread) = JobQueue::spawn(
            "game-room",
            config.room_queue_capacity,
            config.net.max_connections,
            Some(config.tick),
            room,
        )?;

        let listener = match Listener::bind(config.net.clone()).await {
            Ok(listener) => listener,
            Err(e) => {
                stop_room(&queue, room_thread).await;
                return Err(e);
            }
        };
        let addr = listener.local_addr()?;
        let shutdown = listener.shutdown_token();
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
            metrics: Arc::new(SessionMetrics::default()),
            chat_max_chars: config.chat_max_chars,
            move_rate: config.move_rate,
            chat_rate: config.chat_rate,
            refused_input_limit: config.refused_input_limit,
            peer_log: LogBudget::new(PEER_LOG_RATE, Instant::now()),
            started: Instant::now(),
        });
        let admin = match (config.admin, feed) {
            (Some(admin_config), Some(feed)) => {
                let probe_shared = Arc::clone(&shared);
                let sources = MetricSources {
                    listener: Arc::clone(&stats.listener),
                    server: Arc::clone(&stats.server),
                    sessions: Arc::clone(&shared.metrics),
                    send_queues: Arc::new(move || probe_shared.sessions.send_queue_bytes()),
                    rooms: vec![RoomSource {
                        label: "main".to_owned(),
                        stats: Arc::clone(&stats.room),
                        jobs: Arc::clone(&stats.jobs),
                    }],
                    admin: Arc::default(),
                };
                match AdminServer::start(admin_config, sources, feed).await {
                    Ok(admin) => Some(admin),
                    Err(e) => {
                        stop_room(&queue, room_thread).await;
                        return Err(io::Error::new(io::ErrorKind::AddrNotAvailable, e));
                    }
                }
            }
            _ => None,
        };
        let listener = tokio::spawn(listener.run(move || ClientSession::new(Arc::clone(&shared))));
        let summary = config
            .stats_interval
            .map(|every| tokio::spawn(stats.clone().log_every(every)));
        tracing::info!(%addr, tick_ms = config.tick.as_millis() as u64, "game server listening");
        Ok(GameServer {
            addr,
            shutdown,
            listener,
            room: queue,
            room_thread,
            summary,
            stats,
            admin,
        })
    }

    /// Where the admin endpoint listens, if it is on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(AdminServer::local_addr)
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's counters now.
    pub fn snapshot(&self) -> Snapshot {
        self.stats.snapshot()
    }

    /// Stops accepting, closes every session with `ServerShutdown`, lets the room run the
    /// leaves that follows, and stops the room's thread.
    pub async fn shutdown(self) {
        if let Some(admin) = self.admin {
            admin.shutdown().await;
        }
        self.shutdown.cancel();
        if let Err(e) = self.listener.await {
            tracing::error!(error = %e, "listener task failed");
        }
        if let Some(summary) = self.summary {
            summary.abort();
        }
        stop_room(&self.room, self.room_thread).await;
        tracing::info!("game server stopped");
    }
}

/// Stops the room's thread once it has run what was pushed, and waits for it.
async fn stop_room(room: &JobQueue<RoomJob<Arc<Session>>>, thread: JobQueueThread) {
    room.stop();
    if tokio::task::spawn_blocking(move || thread.join())
        .await
        .is_err()
    {
        tracing::error!("room thread join failed");
    }
}
