//! The world at run time: one [`JobQueue`] thread per region, the directory that maps player
//! ids to sessions, and each session's [`WorldSeat`].
//!
//! Queue policy (the room's, per region): a session's inputs are refused when its region has
//! `capacity` inputs waiting (dropped and counted by the session); an enter is refused when
//! `control_capacity` enters wait (the session is closed); a leave is always admitted (one per
//! admitted enter). Messages between regions are always admitted too: each is caused by a
//! job the sending region admitted (at most one hand-off, one forward and one ghost message
//! per other region for an input; one `PlayerGone` per region for a leave), so they are
//! bounded by the admitted jobs times the region count, and never lost: losing one would
//! lose a move or leave a ghost.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use server_core::Session;

use crate::game_room::{Outbox, RoomStats};
use crate::job_queue::{JobQueue, JobQueueStats, JobQueueThread, JobRunner, QueueFull};
use crate::world::config::WorldConfig;
use crate::world::geometry::{Layout, RegionId};
use crate::world::message::{PlayerInput, RegionJob, RegionSnapshot};
use crate::world::region::{Directory, Outgoing, PlayerLink, Region, WorldStats};

/// A connected player as the regions reach it: its session, and which region its session
/// sends inputs to.
#[derive(Debug)]
pub struct WorldLink {
    session: Arc<Session>,
    /// Written by the region that hands the player on, read by the session per input.
    route: AtomicU16,
}

impl Outbox for Arc<WorldLink> {
    fn send(&self, frame: Bytes) -> bool {
        Session::send(&self.session, frame).is_ok()
    }
}

impl PlayerLink for Arc<WorldLink> {
    fn route_to(&self, region: RegionId) {
        self.route.store(region, Ordering::Release);
    }
}

/// Player id -> link, for every connected player in world mode. A std mutex held only for a
/// map insert, lookup or remove; regions look a player up once when they first learn of it.
#[derive(Debug, Default)]
pub struct PlayerDirectory {
    links: Mutex<HashMap<i32, Arc<WorldLink>>>,
}

impl PlayerDirectory {
    fn lock(&self) -> MutexGuard<'_, HashMap<i32, Arc<WorldLink>>> {
        // The map is consistent after any panic in insert/remove; ignore poisoning.
        self.links.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Directory<Arc<WorldLink>> for Arc<PlayerDirectory> {
    fn find(&self, player_id: i32) -> Option<Arc<WorldLink>> {
        self.lock().get(&player_id).cloned()
    }
}

type Peers = Arc<OnceLock<Vec<JobQueue<RegionJob>>>>;

struct RegionRunner {
    region: Region<Arc<WorldLink>, Arc<PlayerDirectory>>,
    /// Every region's queue, this one's included; set once, before the first player enters.
    peers: Peers,
}

impl JobRunner for RegionRunner {
    type Job = RegionJob;

    fn run(&mut self, job: RegionJob) {
        self.region.run(job);
        for effect in self.region.take_outgoing() {
            match effect {
                Outgoing::Msg(to, msg) => {
                    let queue = self.peers.get().and_then(|p| p.get(to as usize));
                    if let Some(queue) = queue {
                        if queue.push_follow_up(RegionJob::Peer(msg)).is_err() {
                            tracing::debug!(to, "region stopped; message dropped at shutdown");
                        }
                    }
                }
                Outgoing::Route(link, to) => link.route_to(to),
            }
        }
    }

    fn tick(&mut self, _now: Instant) {
        self.region.flush();
    }
}

/// The running world: its regions' threads.
pub struct World {
    layout: Layout,
    peers: Peers,
    /// Taken by `stop_and_join`; a mutex so that sessions may still hold the world then.
    threads: Mutex<Vec<JobQueueThread>>,
    directory: Arc<PlayerDirectory>,
    stats: Arc<WorldStats>,
}

impl World {
    /// Starts one thread per region (`world-0`, `world-1`, ...). `config` must be valid;
    /// `room_stats` holds each region's counters (missing ones count nowhere).
    pub fn start(
        config: &WorldConfig,
        capacity: usize,
        control_capacity: usize,
        tick: Duration,
        max_pending_bytes: usize,
        room_stats: &[Arc<RoomStats>],
    ) -> io::Result<World> {
        let layout = Layout::new(config);
        let peers: Peers = Arc::default();
        let directory = Arc::new(PlayerDirectory::default());
        let stats = Arc::new(WorldStats::default());
        let mut queues = Vec::new();
        let mut threads = Vec::new();
        for id in 0..config.regions as RegionId {
            let region = Region::new(
                id,
                config,
                max_pending_bytes,
                Arc::clone(&directory),
                Arc::clone(&stats),
                room_stats.get(usize::from(id)).cloned().unwrap_or_default(),
            );
            let runner = RegionRunner {
                region,
                peers: Arc::clone(&peers),
            };
            let (queue, thread) = JobQueue::spawn(
                &format!("world-{id}"),
                capacity,
                control_capacity,
                Some(tick),
                runner,
            )?;
            queues.push(queue);
            threads.push(thread);
        }
        // Nothing can be pushed before `start` returns, so no region sends before this.
        let _ = peers.set(queues);
        Ok(World {
            layout,
            peers,
            threads: Mutex::new(threads),
            directory,
            stats,
        })
    }

    fn queues(&self) -> &[JobQueue<RegionJob>] {
        self.peers.get().map_or(&[], Vec::as_slice)
    }

    /// A seat for a new session.
    pub fn seat(&self) -> WorldSeat {
        WorldSeat {
            layout: self.layout.clone(),
            peers: Arc::clone(&self.peers),
            directory: Arc::clone(&self.directory),
            link: None,
            player_id: 0,
            next_seq: 0,
        }
    }

    /// The world's counters.
    pub fn stats(&self) -> Arc<WorldStats> {
        Arc::clone(&self.stats)
    }

    /// Each region's job-queue counters.
    pub fn queue_stats(&self) -> Vec<Arc<JobQueueStats>> {
        self.queues().iter().map(JobQueue::stats_handle).collect()
    }

    /// Asks every region for its bounds and at most `max_players` of its players, as a job
    /// on its own thread; regions that do not answer within `timeout` are left out.
    pub fn snapshot(&self, max_players: usize, timeout: Duration) -> Vec<RegionSnapshot> {
        let (tx, rx) = crossbeam_channel::bounded(self.queues().len());
        let mut asked = 0;
        for queue in self.queues() {
            let job = RegionJob::Snapshot {
                max_players,
                reply: tx.clone(),
            };
            if queue.try_push_control(job).is_ok() {
                asked += 1;
            }
        }
        drop(tx);
        let deadline = Instant::now() + timeout;
        let mut out = Vec::with_capacity(asked);
        while out.len() < asked {
            match rx.recv_deadline(deadline) {
                Ok(snapshot) => out.push(snapshot),
                Err(_) => break,
            }
        }
        out.sort_by_key(|s| s.region);
        out
    }

    /// Stops every region once the jobs pushed so far have run, and waits for the threads.
    pub fn stop_and_join(&self) {
        for queue in self.queues() {
            queue.stop();
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for thread in threads {
            thread.join();
        }
    }
}

/// An enter the world refused; the session is closed.
#[derive(Debug, thiserror::Error)]
#[error("the world has too many entries pending")]
pub struct EnterRefused;

/// One session's place in the world: its link, its input sequence, its route.
pub struct WorldSeat {
    layout: Layout,
    peers: Peers,
    directory: Arc<PlayerDirectory>,
    link: Option<Arc<WorldLink>>,
    player_id: i32,
    /// The sequence number the next admitted input gets; a refused input does not use one,
    /// so the owner never waits for a number that will not come.
    next_seq: u64,
}

impl WorldSeat {
    fn queue(&self) -> Option<&JobQueue<RegionJob>> {
        let link = self.link.as_ref()?;
        let region = link.route.load(Ordering::Acquire) as usize;
        self.peers.get()?.get(region)
    }

    /// Registers the player and asks the region of its spawn point to let it in.
    pub fn enter(&mut self, player_id: i32, session: Arc<Session>) -> Result<(), EnterRefused> {
        let spawn = self.layout.spawn_point(player_id);
        let region = self.layout.region_of(spawn.x);
        let link = Arc::new(WorldLink {
            session,
            route: AtomicU16::new(region),
        });
        self.player_id = player_id;
        self.directory.lock().insert(player_id, Arc::clone(&link));
        self.link = Some(link);
        let job = RegionJob::Enter {
            player_id,
            pos: [spawn.x, 0.0, spawn.z],
        };
        match self.queue().map(|q| q.try_push_control(job)) {
            Some(Ok(())) => Ok(()),
            _ => {
                self.directory.lock().remove(&player_id);
                self.link = None;
                Err(EnterRefused)
            }
        }
    }

    /// Pushes an input to the player's region; refused when that region is full.
    pub fn input(&mut self, input: PlayerInput) -> Result<(), QueueFull<()>> {
        let Some(queue) = self.queue() else {
            return Err(QueueFull(()));
        };
        let job = RegionJob::Input {
            player_id: self.player_id,
            seq: self.next_seq,
            input,
        };
        match queue.try_push(job) {
            Ok(()) => {
                self.next_seq += 1;
                Ok(())
            }
            Err(QueueFull(_)) => Err(QueueFull(())),
        }
    }

    /// Takes the player out of the world (always admitted); false if the world stopped.
    pub fn leave(&mut self) -> bool {
        let job = RegionJob::Leave {
            player_id: self.player_id,
        };
        self.queue().is_some_and(|q| q.push_follow_up(job).is_ok())
    }

    /// The session is gone: regions that learn of the player from now on find no link.
    pub fn forget(&mut self) {
        if self.link.take().is_some() {
            self.directory.lock().remove(&self.player_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use server_core::{Connector, SessionHandler};

    use super::*;
    use crate::world::config::Spawn;

    struct Ignore;

    impl SessionHandler for Ignore {
        fn on_recv(&mut self, _session: &Arc<Session>, data: &[u8]) -> usize {
            data.len()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_region_drops_inputs_but_never_a_leave() {
        let world = World::start(
            &WorldConfig {
                regions: 1,
                spawn: Spawn::At { x: 0.0, z: 0.0 },
                ..WorldConfig::default()
            },
            2,
            16,
            Duration::from_millis(20),
            1 << 20,
            &[],
        )
        .expect("world starts");
        // A real session to stand for the player (the peer only needs to accept).
        let listener =
            std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
        let connector = Connector::new(server_core::Config::default());
        let session = connector
            .connect(listener.local_addr().expect("addr"), Ignore)
            .await
            .expect("connect");
        let mut seat = world.seat();
        seat.enter(1, session).expect("enter admitted");

        // Stall the region: it blocks answering a snapshot nobody reads yet.
        let (tx, rx) = crossbeam_channel::bounded(0);
        let stall = RegionJob::Snapshot {
            max_players: 0,
            reply: tx,
        };
        assert!(world.queues()[0].try_push_control(stall).is_ok());
        let mv = || PlayerInput::Move {
            pos: [1.0, 0.0, 1.0],
        };
        let admitted = (0..10).filter(|_| seat.input(mv()).is_ok()).count();
        assert_eq!(
            admitted, 2,
            "the region's input capacity is 2; the rest are refused"
        );
        assert!(
            seat.leave(),
            "a leave is admitted even when the inputs are full"
        );

        // Let the region go on: it applies the two inputs and the leave.
        let unblock = tokio::task::spawn_blocking(move || rx.recv());
        assert!(unblock.await.expect("join").is_ok());
        let world = Arc::new(world);
        let w = Arc::clone(&world);
        let owned = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let snap = w.snapshot(10, Duration::from_secs(5));
                let owned: usize = snap.iter().map(|r| r.owned).sum();
                if owned == 0 || Instant::now() > deadline {
                    return owned;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .await
        .expect("join");
        assert_eq!(owned, 0, "the leave ran: nobody is left in the world");
        world.stop_and_join();
        connector.shutdown().await;
    }
}
