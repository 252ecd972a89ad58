//! The world at run time: one [`JobQueue`] thread per region ([`runner`]), the directory that
//! maps player ids to sessions ([`link`]), and each session's [`WorldSeat`] ([`seat`]).
//!
//! Queue policy (the room's, per region): a session's inputs are refused when its region has
//! `capacity` inputs waiting (dropped and counted by the session); an enter is refused when
//! `control_capacity` enters wait (the session is closed); a leave is always admitted (one per
//! admitted enter). Messages between regions are always admitted too: each is caused by a
//! job the sending region admitted (at most one hand-off, one forward and one ghost message
//! per other region for an input; one `PlayerGone` per region for a leave), so they are
//! bounded by the admitted jobs times the region count, and never lost: losing one would
//! lose a move or leave a ghost.
//!
//! In a cluster this process runs only its own regions. The world sees the cluster only as
//! the two traits of [`cluster`]: a message for another process's region, and the frames of
//! a player whose session another process holds, go through the region's
//! [`RegionOutbound`]; a seat whose player's region is elsewhere hands its enter, inputs
//! and leave to the [`Cluster`]. The NATS side is `crate::adapters::cluster`.

pub mod cluster;
pub mod link;
mod queues;
mod runner;
pub mod seat;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::game::ai::Herd;
use crate::game::counters::RoomStats;
use crate::game::data::{DataError, GameData};
use crate::game::world::config::WorldConfig;
use crate::game::world::geometry::{Layout, RegionId};
use crate::game::world::message::{RegionJob, RegionSnapshot};
use crate::game::world::region::{Region, WorldStats};
use crate::runtime::job_queue::{JobQueue, JobQueueStats, JobQueueThread};

pub use cluster::{Cluster, RegionOutbound, Sent};
pub use link::{Link, PlayerDirectory, RegionDirectory, RemoteLink, WorldLink};
pub use seat::{EnterRefused, WorldSeat};

use queues::RegionQueues;
use runner::RegionRunner;

/// The running world: its regions' threads.
pub struct World {
    layout: Layout,
    queues: RegionQueues,
    cluster: Option<Arc<dyn Cluster>>,
    /// Taken by `stop_and_join`; a mutex so that sessions may still hold the world then.
    threads: Mutex<Vec<JobQueueThread>>,
    directory: Arc<PlayerDirectory>,
    stats: Arc<WorldStats>,
}

/// The seed of the monsters' spawn points and of their AI's draws: the same in every
/// process, so that the nodes of a cluster agree on every monster's id and place.
pub const MONSTER_SEED: u64 = 0x6d6f_6e73;

/// How long a region's thread lets jobs gather before it runs them (see
/// [`JobQueue::spawn_gathering`]): a region's frames go out at its tick, so an input run a
/// few milliseconds later reaches nobody later, and the sessions that push inputs no longer
/// wake the thread one input at a time. A sixteenth of the tick, at most 10 ms: hand-offs and
/// enters, which do not wait for the tick, are delayed by no more than that.
pub fn gather_interval(tick: Duration) -> Duration {
    (tick / 16).min(Duration::from_millis(10))
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
        Self::start_in(
            config,
            capacity,
            control_capacity,
            tick,
            max_pending_bytes,
            room_stats,
            None,
        )
    }

    /// [`World::start`], as one node of a cluster when `cluster` is given: only the
    /// node's own regions get a thread.
    pub fn start_in(
        config: &WorldConfig,
        capacity: usize,
        control_capacity: usize,
        tick: Duration,
        max_pending_bytes: usize,
        room_stats: &[Arc<RoomStats>],
        cluster: Option<Arc<dyn Cluster>>,
    ) -> io::Result<World> {
        let layout = Layout::new(config);
        let region_queues = RegionQueues::default();
        let directory = Arc::new(PlayerDirectory::default());
        let stats = Arc::new(WorldStats::default());
        let mut queues = Vec::new();
        let mut threads = Vec::new();
        for id in 0..config.regions as RegionId {
            if cluster.as_ref().is_some_and(|c| !c.runs(id)) {
                queues.push(None);
                continue;
            }
            let out = cluster.as_ref().map(|c| c.region_outbound());
            let region = Region::new(
                id,
                config,
                max_pending_bytes,
                RegionDirectory {
                    local: Arc::clone(&directory),
                    remote: out.clone(),
                },
                Arc::clone(&stats),
                room_stats.get(usize::from(id)).cloned().unwrap_or_default(),
            );
            let runner = RegionRunner {
                region,
                started: Instant::now(),
                queues: region_queues.clone(),
                out,
            };
            let (queue, thread) = JobQueue::spawn_gathering(
                &format!("world-{id}"),
                capacity,
                control_capacity,
                Some(tick),
                Some(gather_interval(tick)),
                runner,
            )?;
            queues.push(Some(queue));
            threads.push(thread);
        }
        // Nothing can be pushed before `start` returns, so no region sends before this.
        region_queues.set(queues);
        Ok(World {
            layout,
            queues: region_queues,
            cluster,
            threads: Mutex::new(threads),
            directory,
            stats,
        })
    }

    /// Gives each region this process runs its monsters from `data`'s spawn areas: the
    /// ones whose spawn point lies in its stripe. Call once, after [`World::start_in`] and
    /// before players can enter. Every process draws the same points from the same seed
    /// ([`MONSTER_SEED`]), so a monster has one id across a cluster.
    pub fn populate(&self, data: &GameData, view_radius: f32) -> Result<usize, DataError> {
        let mut placed = 0;
        for (id, queue) in self.queues.slots().enumerate() {
            let Some(queue) = queue else {
                continue;
            };
            let id = id as RegionId;
            let layout = &self.layout;
            let herd = Herd::spawn(data, MONSTER_SEED, view_radius, 0, |p| {
                layout.region_of(p[0]) == id
            })?;
            placed += herd.len();
            if queue
                .push_follow_up(RegionJob::Monsters(Box::new(herd)))
                .is_err()
            {
                tracing::warn!(region = id, "region stopped before its monsters came");
            }
        }
        Ok(placed)
    }

    fn queues(&self) -> impl Iterator<Item = &JobQueue<RegionJob>> {
        self.queues.local()
    }

    /// The queue of `region` if this process runs it.
    pub fn local_queue(&self, region: RegionId) -> Option<&JobQueue<RegionJob>> {
        self.queues.get(region)
    }

    /// Pushes `job` to every region this process runs (always admitted).
    pub fn tell_all(&self, job: impl Fn() -> RegionJob) {
        for queue in self.queues() {
            let _ = queue.push_follow_up(job());
        }
    }

    /// The players whose sessions this process holds.
    pub fn directory(&self) -> &Arc<PlayerDirectory> {
        &self.directory
    }

    /// The map's geometry.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// A seat for a new session.
    pub fn seat(&self) -> WorldSeat {
        WorldSeat {
            layout: self.layout.clone(),
            queues: self.queues.clone(),
            cluster: self.cluster.clone(),
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

    /// Each region's job-queue counters, by region id.
    pub fn queue_stats(&self) -> Vec<Arc<JobQueueStats>> {
        // One entry per region, so index k is region k's; a region another process runs
        // has empty counters here.
        self.queues
            .slots()
            .map(|q| q.map_or_else(Arc::default, JobQueue::stats_handle))
            .collect()
    }

    /// Asks every region for its bounds and at most `max_players` of its players, as a job
    /// on its own thread; regions that do not answer within `timeout` are left out.
    pub fn snapshot(&self, max_players: usize, timeout: Duration) -> Vec<RegionSnapshot> {
        let mut out = self.ask_regions(timeout, |reply| RegionJob::Snapshot { max_players, reply });
        out.sort_by_key(|s| s.region);
        out
    }

    /// The highest id of node `gateway`'s range any region here knows (see
    /// [`RegionJob::HighestId`]), asked as a job on each region's thread; regions that do
    /// not answer within `timeout` are left out. 0 for none.
    pub fn highest_id_of(&self, gateway: u16, timeout: Duration) -> i32 {
        self.ask_regions(timeout, |reply| RegionJob::HighestId { gateway, reply })
            .into_iter()
            .max()
            .unwrap_or(0)
    }

    /// Pushes `job(reply)` to every region here (as a control job: a full queue leaves
    /// that region out) and gathers the answers that come within `timeout`.
    fn ask_regions<T>(
        &self,
        timeout: Duration,
        job: impl Fn(crossbeam_channel::Sender<T>) -> RegionJob,
    ) -> Vec<T> {
        let (tx, rx) = crossbeam_channel::bounded(self.queues().count());
        let asked = self
            .queues()
            .filter(|queue| queue.try_push_control(job(tx.clone())).is_ok())
            .count();
        drop(tx);
        let deadline = Instant::now() + timeout;
        let mut out = Vec::with_capacity(asked);
        while out.len() < asked {
            match rx.recv_deadline(deadline) {
                Ok(answer) => out.push(answer),
                Err(_) => break,
            }
        }
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

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use server_core::{Connector, SessionHandler};

    use super::*;
    use crate::game::world::config::Spawn;
    use crate::game::world::message::PlayerInput;
    use server_core::Session;

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
        seat.enter(1, session, None, None).expect("enter admitted");

        // Stall the region: it blocks answering a snapshot nobody reads yet.
        let (tx, rx) = crossbeam_channel::bounded(0);
        let stall = RegionJob::Snapshot {
            max_players: 0,
            reply: tx,
        };
        assert!(world
            .local_queue(0)
            .is_some_and(|q| q.try_push_control(stall).is_ok()));
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
