//! `GameServer`: wires the listener, the client sessions and the room (or the world) together.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use server_core::{Listener, Session, SessionRegistry, UdpListener, UdpStats};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::adapters::admin::{publish_world, world_bounds, AdminServer, MapFeed};
use crate::adapters::cluster::claims::ClusterClaims;
use crate::adapters::cluster::{Bridge, ClusterNode, WorldPort};
use crate::adapters::db::{LeaseHooks, NodeLease, RegionOf, SaveMetrics, Saver, SaverParts};
use crate::adapters::metrics::summary::{Snapshot, StatSources};
use crate::adapters::metrics::{AccountsSource, MetricSources, RoomSource, SessionMetrics};
use crate::adapters::sessions::client::ClientSession;
use crate::adapters::sessions::login::{Accounts, LoginSettings};
use crate::adapters::sessions::shared::{Shared, UdpShared};
use crate::adapters::sessions::udp::session::UdpPlayerSession;
use crate::adapters::sessions::udp::tickets::Tickets;
use crate::adapters::sessions::udp::UdpGameStats;
use crate::app::config::{AccountsConfig, ServerConfig};
use crate::game::accounts::{LoginMode, LoginStats, Online};
use crate::game::counters::RoomStats;
use crate::game::log_budget::{LogBudget, PEER_LOG_RATE};
use crate::game::player_ids as ids;
use crate::game::room::{GameRoom, RoomJob, ROOM_BOUNDS};
use crate::game::saves::Place;
use crate::game::world::geometry::Layout;
use crate::game::world::WorldConfig;
use crate::runtime::claims::{NodeClaims, ReleaseHere};
use crate::runtime::job_queue::{JobQueue, JobQueueThread};
use crate::runtime::seat::Game;
use crate::runtime::world::World;

/// The game's threads: the room's, or the world's regions'.
enum Running {
    Room(JobQueue<RoomJob<Arc<Session>>>, JobQueueThread),
    World(Arc<World>),
}

/// A running game server.
pub struct GameServer {
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    /// The UDP listener's address and counters (transport, then game), with `--udp-addr`.
    udp: Option<(SocketAddr, Arc<UdpStats>, Arc<UdpGameStats>)>,
    sessions: Arc<SessionRegistry>,
    shutdown: CancellationToken,
    listener: JoinHandle<()>,
    running: Running,
    summary: Option<JoinHandle<()>>,
    stats: StatSources,
    admin: Option<AdminServer>,
    /// World mode with the admin endpoint on: the task that asks the regions for the map.
    world_map: Option<JoinHandle<()>>,
    /// In a cluster: the NATS side (taken by `sever_cluster` or `shutdown`).
    bridge: Option<Bridge>,
    cluster: Option<Arc<ClusterNode>>,
    /// Logins and the save task (`--login optional` or `required`).
    accounts: Option<Arc<Accounts>>,
    /// In a cluster with logins: the task that renews this node's lease, and its stop.
    lease: Option<(CancellationToken, JoinHandle<()>)>,
}

impl GameServer {
    /// Binds `config.net.addr` (and `config.admin`'s address, if set), starts the room's
    /// thread (or the world's regions' threads) and begins accepting players. Must be called
    /// inside a tokio runtime. A config that fails [`ServerConfig::validate`], or an admin
    /// setting that is refused (see [`AdminConfig::validate`](crate::adapters::admin::AdminConfig)),
    /// fails with `InvalidInput` before anything is bound.
    pub async fn start(config: ServerConfig) -> io::Result<GameServer> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if let Some(admin) = &config.admin {
            admin
                .validate()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        }
        // The room's counters, or one set per region.
        let room_stats: Vec<Arc<RoomStats>> = (0..config.world.as_ref().map_or(1, |w| w.regions))
            .map(|_| Arc::default())
            .collect();
        let bounds = config.world.as_ref().map_or(ROOM_BOUNDS, world_bounds);
        let feed = config
            .admin
            .as_ref()
            .map(|admin| Arc::new(MapFeed::new(admin.max_dots, bounds)));
        let mut cluster_parts = None;
        let (game, running, jobs) = match &config.world {
            None => {
                let mut room = GameRoom::<Arc<Session>>::new(
                    config.max_pending_bytes,
                    Arc::clone(&room_stats[0]),
                );
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
                let jobs = vec![queue.stats_handle()];
                (
                    Game::Room(queue.clone()),
                    Running::Room(queue, room_thread),
                    jobs,
                )
            }
            Some(world) => {
                let node = config.cluster.clone().map(ClusterNode::new);
                let world = Arc::new(World::start_in(
                    world,
                    config.room_queue_capacity,
                    config.net.max_connections,
                    config.tick,
                    config.max_pending_bytes,
                    &room_stats,
                    node.as_ref().map(|(node, _)| {
                        Arc::new(WorldPort(Arc::clone(node)))
                            as Arc<dyn crate::runtime::world::Cluster>
                    }),
                )?);
                if let (Some(data), Some(world_config)) = (&config.game_data, &config.world) {
                    // The monsters' cells are as wide as the farthest a player sees.
                    match world.populate(data, world_config.outer_radius) {
                        Ok(n) => tracing::info!(
                            monsters = n,
                            "monsters placed in this process's regions"
                        ),
                        Err(e) => {
                            stop(Running::World(world)).await;
                            return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
                        }
                    }
                }
                if let Some((node, publishes)) = node {
                    // Reach NATS before accepting anyone: a node that cannot see the others
                    // must not let players in.
                    match Bridge::start(Arc::clone(&node), publishes, Arc::clone(&world)).await {
                        Ok(bridge) => cluster_parts = Some((node, bridge)),
                        Err(e) => {
                            stop(Running::World(world)).await;
                            return Err(io::Error::new(io::ErrorKind::ConnectionRefused, e));
                        }
                    }
                }
                let jobs = world.queue_stats();
                (Game::World(Arc::clone(&world)), Running::World(world), jobs)
            }
        };

        let listener = match Listener::bind(config.net.clone()).await {
            Ok(listener) => listener,
            Err(e) => {
                stop(running).await;
                return Err(e);
            }
        };
        let addr = listener.local_addr()?;
        // The TLS door shares the TCP one's cap, limits, sessions, counters and shutdown.
        let tls_listener = match &config.tls {
            Some(tls) => {
                let bound = Listener::bind(server_core::Config {
                    addr: tls.addr,
                    ..config.net.clone()
                })
                .await;
                match bound {
                    Ok(tls_listener) => Some(
                        tls_listener
                            .alongside(&listener)
                            .with_tls(tls.acceptor.clone()),
                    ),
                    Err(e) => {
                        // Stop the game's threads too, or a failed TLS bind would leak them.
                        stop(running).await;
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        let tls_addr = tls_listener
            .as_ref()
            .map(Listener::local_addr)
            .transpose()?;
        let shutdown = listener.shutdown_token();
        // The UDP door: its own sessions (one per address, not players), the TCP one's
        // limits, shutdown with it.
        let udp_listener = match &config.udp {
            Some(udp) => {
                let bound = UdpListener::bind(
                    server_core::Config {
                        addr: udp.addr,
                        idle_timeout: Some(udp.idle_timeout),
                        ..config.net.clone()
                    },
                    udp.transport.clone(),
                )
                .await;
                match bound {
                    Ok(udp_listener) => Some(udp_listener.with_shutdown_token(shutdown.clone())),
                    Err(e) => {
                        stop(running).await;
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        let udp = match &udp_listener {
            Some(l) => Some((l.local_addr()?, l.stats(), Arc::<UdpGameStats>::default())),
            None => None,
        };
        let sessions = listener.sessions();
        let (cluster, mut bridge) = match cluster_parts {
            Some((node, bridge)) => (Some(node), Some(bridge)),
            None => (None, None),
        };
        let stats = StatSources {
            listener: listener.stats(),
            rooms: room_stats,
            server: Arc::default(),
            jobs,
            cluster: cluster.clone(),
        };
        // In a cluster each node numbers its players in its own range, so any node can tell
        // a player's gateway from its id.
        // A node restarted with the same id numbers its players above every id of its range
        // the cluster still remembers (the bridge asked as it joined).
        let (first_id, last_id) = match (&cluster, &bridge) {
            (Some(node), Some(bridge)) => (bridge.first_id(), ids::range(node.id()).1),
            _ => (1, i32::MAX),
        };
        // In a cluster, logins ask the other nodes for the accounts they hold.
        let claims = match (&cluster, &bridge) {
            (Some(node), Some(bridge)) => Some(Arc::new(ClusterClaims::new(
                bridge.client(),
                Arc::clone(node),
            )) as Arc<dyn NodeClaims>),
            _ => None,
        };
        let started = config.accounts.as_ref().and_then(|accounts| {
            (accounts.mode != LoginMode::Off).then(|| {
                start_accounts(
                    accounts,
                    config.world.as_ref(),
                    // As the connection limits do (all exempt when there are none).
                    config
                        .net
                        .address_limits
                        .as_ref()
                        .is_none_or(|l| l.exempt_loopback),
                    claims,
                )
            })
        });
        let (accounts, lease) = match started {
            Some((accounts, lease)) => (Some(accounts), lease),
            None => (None, None),
        };
        if let Some(accounts) = &accounts {
            // In a cluster, logins start once this node holds its lease (or are refused as
            // unavailable until it does: another process of this node id, or no database).
            if !accounts
                .hold_lease(crate::adapters::sessions::login::DB_TIMEOUT)
                .await
            {
                tracing::warn!("no node lease yet: logins are refused until it is renewed");
            }
        }
        if let (Some(accounts), Some(node), Some(bridge)) = (&accounts, &cluster, &mut bridge) {
            // Before any player connects: a login on another node may ask at once.
            node.set_persisting(true);
            // Weak: the accounts hold the node (through their claims), not the other way.
            let closing = Arc::downgrade(accounts);
            node.set_on_cut(Arc::new(move || {
                if let Some(accounts) = closing.upgrade() {
                    accounts.close_all("this node lost the cluster's bus; log in again");
                }
            }));
            bridge
                .serve_releases(
                    Arc::clone(node),
                    Arc::clone(accounts) as Arc<dyn ReleaseHere>,
                )
                .await
                .map_err(|e| io::Error::new(io::ErrorKind::ConnectionRefused, e))?;
        }
        let shared = Arc::new(Shared {
            accounts: accounts.clone(),
            sessions: crate::SessionManager::with_range(first_id, last_id),
            game,
            stats: Arc::clone(&stats.server),
            metrics: Arc::new(SessionMetrics::default()),
            chat_max_chars: config.chat_max_chars,
            move_rate: config.move_rate,
            chat_rate: config.chat_rate,
            refused_input_limit: config.refused_input_limit,
            peer_log: LogBudget::new(PEER_LOG_RATE, Instant::now()),
            started: Instant::now(),
            udp: udp.as_ref().map(|(addr, _, stats)| UdpShared {
                tickets: Tickets::new(),
                stats: Arc::clone(stats),
                max_bad_tokens: config.udp.as_ref().map_or(3, |u| u.max_bad_tokens),
                port: addr.port(),
            }),
        });
        let mut world_map = None;
        let admin = match (config.admin, feed) {
            (Some(admin_config), Some(feed)) => {
                let probe_shared = Arc::clone(&shared);
                // One metrics source per room: the room ("main"), or each region.
                let rooms = stats
                    .rooms
                    .iter()
                    .zip(&stats.jobs)
                    .enumerate()
                    .map(|(k, (room, jobs))| RoomSource {
                        label: match &running {
                            Running::Room(..) => "main".to_owned(),
                            Running::World(_) => format!("region-{k}"),
                        },
                        stats: Arc::clone(room),
                        jobs: Arc::clone(jobs),
                    })
                    .collect();
                let sources = MetricSources {
                    listener: Arc::clone(&stats.listener),
                    server: Arc::clone(&stats.server),
                    sessions: Arc::clone(&shared.metrics),
                    send_queues: Arc::new(move || probe_shared.sessions.send_queue_bytes()),
                    rooms,
                    admin: Arc::default(),
                    world: match &running {
                        Running::World(world) => Some(world.stats()),
                        Running::Room(..) => None,
                    },
                    cluster: cluster.clone(),
                    accounts: accounts.as_ref().map(|a| {
                        let online = Arc::clone(&a.online);
                        AccountsSource {
                            logins: Arc::clone(&a.stats),
                            saves: a.saver.metrics(),
                            playing: Arc::new(move || {
                                online.lock().map_or(0, |o| o.playing() as u64)
                            }),
                        }
                    }),
                };
                if let (Running::World(world), Some(world_config)) = (&running, &config.world) {
                    world_map = Some(publish_world(
                        Arc::clone(world),
                        world_config,
                        Arc::clone(&feed),
                    ));
                }
                match AdminServer::start(admin_config, sources, feed).await {
                    Ok(admin) => Some(admin),
                    Err(e) => {
                        if let Some(task) = world_map {
                            task.abort();
                        }
                        stop(running).await;
                        return Err(io::Error::new(io::ErrorKind::AddrNotAvailable, e));
                    }
                }
            }
            _ => None,
        };
        let tls_shared = Arc::clone(&shared);
        let udp_shared = Arc::clone(&shared);
        let listener = tokio::spawn(async move {
            let tcp = listener.run(move || ClientSession::new(Arc::clone(&shared)));
            let tls = async move {
                if let Some(tls) = tls_listener {
                    tls.run(move || ClientSession::new(Arc::clone(&tls_shared)))
                        .await;
                }
            };
            let udp = async move {
                if let Some(udp) = udp_listener {
                    udp.run(move || UdpPlayerSession::new(Arc::clone(&udp_shared)))
                        .await;
                }
            };
            tokio::join!(tcp, tls, udp);
        });
        let summary = config
            .stats_interval
            .map(|every| tokio::spawn(stats.clone().log_every(every)));
        if let Some(tls_addr) = tls_addr {
            tracing::info!(%tls_addr, "TLS listener feeding the same room");
        }
        if let Some((udp_addr, ..)) = &udp {
            tracing::info!(%udp_addr, "UDP listener for moves of bound players");
        }
        tracing::info!(%addr, tick_ms = config.tick.as_millis() as u64, "game server listening");
        Ok(GameServer {
            addr,
            tls_addr,
            udp,
            sessions,
            shutdown,
            listener,
            running,
            summary,
            stats,
            admin,
            world_map,
            bridge,
            cluster,
            accounts,
            lease,
        })
    }

    /// Login counters by result, with logins on.
    pub fn login_stats(&self) -> Option<Arc<LoginStats>> {
        self.accounts.as_ref().map(|a| Arc::clone(&a.stats))
    }

    /// The save task's counters, with logins on.
    pub fn save_metrics(&self) -> Option<Arc<SaveMetrics>> {
        self.accounts.as_ref().map(|a| a.saver.metrics())
    }

    /// In a cluster, this node's view of it (counters, owners); `None` otherwise.
    pub fn cluster(&self) -> Option<Arc<ClusterNode>> {
        self.cluster.clone()
    }

    /// Drops this node's NATS side at once, with no goodbye and no more heartbeats: to the
    /// other nodes it looks as if the process died (they notice within `dead_after`). For
    /// failure tests and drills; the game itself keeps running locally.
    pub fn sever_cluster(&mut self) {
        if let Some(bridge) = self.bridge.take() {
            bridge.sever();
        }
    }

    /// Where the admin endpoint listens, if it is on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(AdminServer::local_addr)
    }

    /// In world mode, each region's bounds and at most `max_players` of its players (the
    /// live map's view), asked of each region as a job; `None` in room mode.
    pub fn world_snapshot(
        &self,
        max_players: usize,
        timeout: std::time::Duration,
    ) -> Option<Vec<crate::game::world::RegionSnapshot>> {
        match &self.running {
            Running::World(world) => Some(world.snapshot(max_players, timeout)),
            Running::Room(..) => None,
        }
    }

    /// In world mode, the world's counters (hand-offs, clamps, ...).
    pub fn world_stats(&self) -> Option<Arc<crate::game::world::WorldStats>> {
        match &self.running {
            Running::World(world) => Some(world.stats()),
            Running::Room(..) => None,
        }
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the TLS listener listens on, if there is one.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// The address the UDP listener listens on, with `--udp-addr`.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp.as_ref().map(|(addr, ..)| *addr)
    }

    /// The UDP transport's counters (datagrams, sessions, drops), with `--udp-addr`.
    pub fn udp_transport_stats(&self) -> Option<Arc<UdpStats>> {
        self.udp.as_ref().map(|(_, stats, _)| Arc::clone(stats))
    }

    /// The game's UDP counters (binds, bad tokens, stale moves), with `--udp-addr`.
    pub fn udp_stats(&self) -> Option<Arc<UdpGameStats>> {
        self.udp.as_ref().map(|(.., stats)| Arc::clone(stats))
    }

    /// The live sessions of every listener (TCP and TLS), by session id.
    pub fn sessions(&self) -> Arc<SessionRegistry> {
        Arc::clone(&self.sessions)
    }

    /// The server's counters now.
    pub fn snapshot(&self) -> Snapshot {
        self.stats.snapshot()
    }

    /// Stops accepting, closes every session with `ServerShutdown`, lets the room (or the
    /// regions) run the leaves that follow, and stops the game's threads.
    pub async fn shutdown(self) {
        if let Some(task) = self.world_map {
            task.abort();
        }
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
        stop(self.running).await;
        // Every session has left and the game's threads have applied their last moves: the
        // characters' states are final. Save them all before the process may exit.
        if let Some(accounts) = &self.accounts {
            accounts.saver.flush_and_stop().await;
        }
        // Saved: the lease may end, and other nodes take these accounts at once.
        if let Some((stop, task)) = self.lease {
            stop.cancel();
            let _ = task.await;
        }
        if let Some(accounts) = &self.accounts {
            accounts.close_store().await;
        }
        if let Some(bridge) = self.bridge {
            bridge.shutdown().await;
        }
        tracing::info!("game server stopped");
    }
}

/// The logins service, its save task and, in a cluster, its lease task.
fn start_accounts(
    config: &AccountsConfig,
    world: Option<&WorldConfig>,
    exempt_loopback: bool,
    cluster: Option<Arc<dyn NodeClaims>>,
) -> (Arc<Accounts>, Option<(CancellationToken, JoinHandle<()>)>) {
    let online = Arc::new(std::sync::Mutex::new(Online::default()));
    let (place, region_of): (Place, RegionOf) = match world {
        Some(world) => {
            let layout = Layout::new(world);
            (
                Place::World,
                Arc::new(move |pos: [f32; 3]| layout.region_of(pos[0])),
            )
        }
        None => (Place::Room, Arc::new(|_| 0)),
    };
    // In a cluster a save updates only the characters this node holds the claim of.
    let saved_to = match &cluster {
        Some(cluster) => config.store.held_by(cluster.node()),
        None => config.store.clone(),
    };
    // The save task closes the sessions whose saves the database refused (another node's
    // claim holds their accounts) through the accounts, which it starts before them.
    let accounts_cell: Arc<OnceLock<Weak<Accounts>>> = Arc::default();
    let on_fenced = {
        let cell = Arc::clone(&accounts_cell);
        Arc::new(move || {
            if let Some(accounts) = cell.get().and_then(Weak::upgrade) {
                accounts.close_evicted();
            }
        }) as Arc<dyn Fn() + Send + Sync>
    };
    let saver = Saver::start(SaverParts {
        store: saved_to,
        online: Arc::clone(&online),
        config: config.saves,
        place,
        region_of,
        on_fenced: Some(on_fenced),
    });
    tracing::info!(
        database = config.store.target(),
        mode = ?config.mode,
        checkpoint_secs = config.saves.interval.as_secs_f64(),
        "accounts and saved characters on"
    );
    let lease = cluster.as_ref().map(|_| Arc::new(NodeLease::default()));
    let settings = LoginSettings {
        mode: config.mode,
        guest_grace: config.guest_grace,
        // A cluster's player may be owned by a region on another node, which cannot reach
        // a new connection's link here: a dropped player leaves at once there.
        reconnect_grace: config.reconnect_grace.filter(|_| cluster.is_none()),
        cluster: cluster.clone(),
        token_ttl: config.token_ttl,
        exempt_loopback,
        place,
        lease: lease.clone(),
    };
    let accounts = Arc::new(Accounts::new(settings, config.store.clone(), online, saver));
    let _ = accounts_cell.set(Arc::downgrade(&accounts));
    let lease_task = match (lease, &cluster) {
        (Some(lease), Some(cluster)) => {
            let closing = Arc::downgrade(&accounts);
            let on_lapse = Arc::new(move || {
                if let Some(accounts) = closing.upgrade() {
                    accounts.close_all("this node's lease in the database ran out; log in again");
                }
            });
            let on_bus = Arc::clone(cluster);
            let hooks = LeaseHooks {
                may_renew: Arc::new(move || on_bus.on_bus()),
                on_lapse,
            };
            let stop = CancellationToken::new();
            let task = lease.spawn(
                config.store.clone(),
                cluster.node(),
                cluster.instance(),
                config.lease,
                hooks,
                stop.clone(),
            );
            Some((stop, task))
        }
        _ => None,
    };
    (accounts, lease_task)
}

/// Stops the game's threads once they have run what was pushed, and waits for them.
async fn stop(running: Running) {
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
}
