//! `GameServer`: wires the listener, the client sessions and the room together.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use server_core::{Listener, Session};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::client_session::{ClientSession, Shared};
use crate::config::ServerConfig;
use crate::game_room::{GameRoom, RoomJob};
use crate::job_queue::{JobQueue, JobQueueThread};
use crate::seat::Game;
use crate::stats::{Snapshot, StatSources};
use crate::world::World;

/// The game's threads: the room's, or the world's regions'.
enum Running {
    Room(JobQueue<RoomJob<Arc<Session>>>, JobQueueThread),
    World(Arc<World>),
}

/// A running game server.
pub struct GameServer {
    addr: SocketAddr,
    shutdown: CancellationToken,
    listener: JoinHandle<()>,
    running: Running,
    summary: Option<JoinHandle<()>>,
    stats: StatSources,
}

impl GameServer {
    /// Binds `config.net.addr`, starts the room's thread and begins accepting players.
    /// Must be called inside a tokio runtime.
    pub async fn start(config: ServerConfig) -> io::Result<GameServer> {
        let room_stats: Arc<crate::game_room::RoomStats> = Arc::default();
        let (game, running, jobs) = match &config.world {
            None => {
                let room = GameRoom::<Arc<Session>>::new(
                    config.max_pending_bytes,
                    Arc::clone(&room_stats),
                );
                let (queue, room_thread) = JobQueue::spawn(
                    "game-room",
                    config.room_queue_capacity,
                    config.net.max_connections,
                    Some(config.tick),
                    room,
                )?;
                let jobs = vec![queue.stats_handle()];
                (
                    Game::Room(queue.clone()),
                    Running::Room(queue, room_thread),
                    jobs,
                )
            }
            Some(world) => {
                world
                    .validate()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let world = Arc::new(World::start(
                    world,
                    config.room_queue_capacity,
                    config.net.max_connections,
                    config.tick,
                    config.max_pending_bytes,
                    Arc::clone(&room_stats),
                )?);
                let jobs = world.queue_stats();
                (Game::World(Arc::clone(&world)), Running::World(world), jobs)
            }
        };

        let listener = Listener::bind(config.net.clone()).await?;
        let addr = listener.local_addr()?;
        let shutdown = listener.shutdown_token();
        let stats = StatSources {
            listener: listener.stats(),
            room: room_stats,
            server: Arc::default(),
            jobs,
        };
        let shared = Arc::new(Shared {
            sessions: Default::default(),
            game,
            stats: Arc::clone(&stats.server),
            chat_max_chars: config.chat_max_chars,
            move_rate: config.move_rate,
            chat_rate: config.chat_rate,
            started: Instant::now(),
        });
        let listener = tokio::spawn(listener.run(move || ClientSession::new(Arc::clone(&shared))));
        let summary = config
            .stats_interval
            .map(|every| tokio::spawn(stats.clone().log_every(every)));
        tracing::info!(%addr, tick_ms = config.tick.as_millis() as u64, "game server listening");
        Ok(GameServer {
            addr,
            shutdown,
            listener,
            running,
            summary,
            stats,
        })
    }

    /// In world mode, each region's bounds and at most `max_players` of its players (the
    /// live map's view), asked of each region as a job; `None` in room mode.
    pub fn world_snapshot(
        &self,
        max_players: usize,
        timeout: std::time::Duration,
    ) -> Option<Vec<crate::world::RegionSnapshot>> {
        match &self.running {
            Running::World(world) => Some(world.snapshot(max_players, timeout)),
            Running::Room(..) => None,
        }
    }

    /// In world mode, the world's counters (hand-offs, clamps, ...).
    pub fn world_stats(&self) -> Option<Arc<crate::world::WorldStats>> {
        match &self.running {
            Running::World(world) => Some(world.stats()),
            Running::Room(..) => None,
        }
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
        self.shutdown.cancel();
        if let Err(e) = self.listener.await {
            tracing::error!(error = %e, "listener task failed");
        }
        if let Some(summary) = self.summary {
            summary.abort();
        }
        let running = self.running;
        let joined = tokio::task::spawn_blocking(move || match running {
            Running::Room(room, room_thread) => {
                room.stop();
                room_thread.join();
            }
            Running::World(world) => world.stop_and_join(),
        })
        .await;
        if joined.is_err() {
            tracing::error!("game thread join failed");
        }
        tracing::info!("game server stopped");
    }
}
