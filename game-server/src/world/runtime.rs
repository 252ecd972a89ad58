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
//!
//! In a cluster (`crate::cluster`) this process runs only its own regions; a message for
//! another process's region, and the frames of a player whose session another process
//! holds, go through the region's [`Outbound`] to NATS, and a seat whose player's region is
//! elsewhere publishes its enter, inputs and leave to that region's process.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use server_core::Session;

use crate::cluster::envelope::{EnvelopeWriter, Record};
use crate::cluster::ids::gateway_of;
use crate::cluster::link::{Outbound, RemoteLink};
use crate::cluster::node::{ClusterNode, Subject};
use crate::game_room::{Outbox, RoomStats};
use crate::job_queue::{JobQueue, JobQueueStats, JobQueueThread, JobRunner, QueueFull};
use crate::packets::SChat;
use crate::world::config::WorldConfig;
use crate::world::geometry::{Layout, RegionId};
use crate::world::message::{PlayerInput, RegionJob, RegionSnapshot};
use crate::world::region::{Directory, Outgoing, PlayerLink, Region, WorldStats};
use crate::world::wire::{self, WireMsg};

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

impl WorldLink {
    /// The player's session.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// The region its inputs go to now.
    pub fn route(&self) -> RegionId {
        self.route.load(Ordering::Acquire)
    }
}

/// A player as a region reaches it: its session in this process, or through NATS to the
/// process that holds it.
#[derive(Debug, Clone)]
pub enum Link {
    /// The session is here.
    Local(Arc<WorldLink>),
    /// Another node holds the session.
    Remote(RemoteLink),
}

impl Outbox for Link {
    fn send(&self, frame: Bytes) -> bool {
        match self {
            Link::Local(link) => link.send(frame),
            Link::Remote(link) => link.send(frame),
        }
    }
}

impl PlayerLink for Link {
    fn route_to(&self, region: RegionId) {
        match self {
            Link::Local(link) => link.route_to(region),
            Link::Remote(link) => link.route_to(region),
        }
    }
}

/// One region's directory: local players from the shared map, remote ones (by the node in
/// their id) as links through the region's outbound.
pub struct RegionDirectory {
    local: Arc<PlayerDirectory>,
    remote: Option<Arc<Outbound>>,
}

impl Directory<Link> for RegionDirectory {
    fn find(&self, player_id: i32) -> Option<Link> {
        if let Some(out) = &self.remote {
            let gateway = gateway_of(player_id);
            if gateway != out.cluster().id() {
                return Some(Link::Remote(RemoteLink {
                    player_id,
                    gateway,
                    out: Arc::clone(out),
                }));
            }
        }
        self.local.find(player_id).map(Link::Local)
    }
}

/// Player id -> link, for every connected player in world mode. A std mutex held only for a
/// map insert, lookup or remove; regions look a player up once when they first learn of it.
#[derive(Debug, Default)]
pub struct PlayerDirectory {
    links: Mutex<HashMap<i32, Arc<WorldLink>>>,
}

impl PlayerDirectory {
    /// The link of a player whose session is in this process.
    pub fn get(&self, player_id: i32) -> Option<Arc<WorldLink>> {
        self.lock().get(&player_id).cloned()
    }

    /// Players whose sessions are in this process.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no player's session is here.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with every local player's link, under the lock (`f` must only queue, as
    /// `Session::send` does).
    pub fn for_each(&self, mut f: impl FnMut(&Arc<WorldLink>)) {
        for link in self.lock().values() {
            f(link);
        }
    }

    /// Every local player's link (a copy: the lock is not held while the caller works).
    pub fn all(&self) -> Vec<(i32, Arc<WorldLink>)> {
        self.lock()
            .iter()
            .map(|(&id, link)| (id, Arc::clone(link)))
            .collect()
    }

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

/// Every region's queue, `None` for regions another process runs; set once, before the
/// first player enters.
type Peers = Arc<OnceLock<Vec<Option<JobQueue<RegionJob>>>>>;

struct RegionRunner {
    region: Region<Link, RegionDirectory>,
    peers: Peers,
    /// In a cluster: what leaves this region for other processes.
    out: Option<Arc<Outbound>>,
}

impl RegionRunner {
    fn send(&self, to: RegionId, msg: crate::world::RegionMsg) {
        let queue = self
            .peers
            .get()
            .and_then(|p| p.get(usize::from(to)))
            .and_then(Option::as_ref);
        if let Some(queue) = queue {
            // Frames queued for other processes go before a message that lets another
            // region send about the same players.
            if let Some(out) = &self.out {
                out.publish_all();
            }
            if queue.push_follow_up(RegionJob::Peer(msg)).is_err() {
                tracing::debug!(to, "region stopped; message dropped at shutdown");
            }
            return;
        }
        let Some(out) = &self.out else {
            return;
        };
        let cluster = out.cluster();
        // Encoded only once someone owns the region (at start-up, most border moves find no
        // owner yet).
        let Some((node, Ok(frame))) = cluster.owner_of(to).map(|node| (node, wire::encode(&msg)))
        else {
            // Its process is not alive (or, impossibly, the message does not fit a frame):
            // see the delivery rules in docs/ARCHITECTURE.md.
            cluster.stats.unroutable.fetch_add(1, Ordering::Relaxed);
            return;
        };
        out.ordered(node, Record::ToRegion { region: to, frame });
    }
}

impl JobRunner for RegionRunner {
    type Job = RegionJob;

    fn run(&mut self, job: RegionJob) {
        if let Some(out) = &self.out {
            self.region.set_reachable(out.cluster().reachable());
        }
        self.region.run(job);
        for effect in self.region.take_outgoing() {
            match effect {
                Outgoing::Msg(to, msg) => self.send(to, msg),
                Outgoing::Route(link, to) => {
                    // The hand-off must be on its way before the session sends its next
                    // input to the new owner.
                    if let Some(out) = &self.out {
                        out.publish_all();
                    }
                    link.route_to(to)
                }
            }
        }
        if let Some(out) = &self.out {
            out.end_of_job();
        }
    }

    fn tick(&mut self, _now: Instant) {
        self.region.flush();
        if let Some(out) = &self.out {
            out.publish_all();
        }
    }
}

/// The running world: its regions' threads.
pub struct World {
    layout: Layout,
    peers: Peers,
    cluster: Option<Arc<ClusterNode>>,
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
        cluster: Option<Arc<ClusterNode>>,
    ) -> io::Result<World> {
        let layout = Layout::new(config);
        let peers: Peers = Arc::default();
        let directory = Arc::new(PlayerDirectory::default());
        let stats = Arc::new(WorldStats::default());
        let mut queues = Vec::new();
        let mut threads = Vec::new();
        for id in 0..config.regions as RegionId {
            if cluster.as_ref().is_some_and(|c| !c.runs(id)) {
                queues.push(None);
                continue;
            }
            let out = cluster
                .as_ref()
                .map(|c| Arc::new(Outbound::new(Arc::clone(c))));
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
                peers: Arc::clone(&peers),
                out,
            };
            let (queue, thread) = JobQueue::spawn(
                &format!("world-{id}"),
                capacity,
                control_capacity,
                Some(tick),
                runner,
            )?;
            queues.push(Some(queue));
            threads.push(thread);
        }
        // Nothing can be pushed before `start` returns, so no region sends before this.
        let _ = peers.set(queues);
        Ok(World {
            layout,
            peers,
            cluster,
            threads: Mutex::new(threads),
            directory,
            stats,
        })
    }

    fn queues(&self) -> impl Iterator<Item = &JobQueue<RegionJob>> {
        self.peers.get().into_iter().flatten().flatten()
    }

    /// The queue of `region` if this process runs it.
    pub fn local_queue(&self, region: RegionId) -> Option<&JobQueue<RegionJob>> {
        self.peers.get()?.get(usize::from(region))?.as_ref()
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
            peers: Arc::clone(&self.peers),
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
        self.peers
            .get()
            .into_iter()
            .flatten()
            .map(|q| q.as_ref().map_or_else(Arc::default, JobQueue::stats_handle))
            .collect()
    }

    /// Asks every region for its bounds and at most `max_players` of its players, as a job
    /// on its own thread; regions that do not answer within `timeout` are left out.
    pub fn snapshot(&self, max_players: usize, timeout: Duration) -> Vec<RegionSnapshot> {
        let (tx, rx) = crossbeam_channel::bounded(self.queues().count());
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

/// An enter the world refused; the session is closed with this reason.
#[derive(Debug, thiserror::Error)]
pub enum EnterRefused {
    /// The spawn region has too many entries waiting.
    #[error("the world has too many entries pending")]
    Full,
    /// The spawn region's process is not alive (cluster only).
    #[error("region {0} is on a node that is not reachable")]
    Unreachable(RegionId),
}

/// One session's place in the world: its link, its input sequence, its route.
pub struct WorldSeat {
    layout: Layout,
    peers: Peers,
    cluster: Option<Arc<ClusterNode>>,
    directory: Arc<PlayerDirectory>,
    link: Option<Arc<WorldLink>>,
    player_id: i32,
    /// The sequence number the next admitted input gets; a refused input does not use one,
    /// so the owner never waits for a number that will not come.
    next_seq: u64,
}

impl WorldSeat {
    fn route(&self) -> Option<RegionId> {
        Some(self.link.as_ref()?.route())
    }

    fn local(&self, region: RegionId) -> Option<&JobQueue<RegionJob>> {
        self.peers.get()?.get(usize::from(region))?.as_ref()
    }

    /// One gateway job as a NATS message for the process running `region`; `None` when no
    /// live process runs it.
    fn remote(&self, region: RegionId, job: &WireMsg) -> Option<(Arc<ClusterNode>, u16, Bytes)> {
        let cluster = self.cluster.as_ref()?;
        let node = cluster.owner_of(region)?;
        let frame = wire::encode_any(job).ok()?;
        let mut w = EnvelopeWriter::new(cluster.id(), cluster.epoch());
        w.push(&Record::ToRegion { region, frame });
        Some((Arc::clone(cluster), node, w.finish()))
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
        let pos = [spawn.x, 0.0, spawn.z];
        let result = match self.local(region) {
            Some(queue) => queue
                .try_push_control(RegionJob::Enter { player_id, pos })
                .map_err(|_| EnterRefused::Full),
            None => match self.remote(region, &WireMsg::Enter { player_id, pos }) {
                Some((cluster, node, payload)) => {
                    if cluster.try_publish(Subject::Node(node), payload) {
                        Ok(())
                    } else {
                        Err(EnterRefused::Full)
                    }
                }
                None => Err(EnterRefused::Unreachable(region)),
            },
        };
        if result.is_err() {
            self.directory.lock().remove(&player_id);
            self.link = None;
        }
        result
    }

    /// Pushes an input to the player's region; refused when that region is full. In a
    /// cluster a chat line is world chat instead: published once on `world.chat` for every
    /// player of every process (it takes no sequence number: no region applies it).
    pub fn input(&mut self, input: PlayerInput) -> Result<(), QueueFull<()>> {
        if let (Some(cluster), PlayerInput::Chat { message }) = (&self.cluster, &input) {
            let chat = SChat {
                player_id: self.player_id,
                message: message.clone(),
            };
            let sent = server_core::Packet::encode(&chat)
                .is_ok_and(|frame| cluster.try_publish(Subject::Chat, frame));
            return if sent { Ok(()) } else { Err(QueueFull(())) };
        }
        let Some(region) = self.route() else {
            return Err(QueueFull(()));
        };
        let job = RegionJob::Input {
            player_id: self.player_id,
            seq: self.next_seq,
            input,
        };
        let admitted = match self.local(region) {
            Some(queue) => queue.try_push(job).is_ok(),
            None => {
                let RegionJob::Input {
                    player_id,
                    seq,
                    input,
                } = job
                else {
                    return Err(QueueFull(()));
                };
                let wire = WireMsg::Input {
                    player_id,
                    seq,
                    input,
                };
                self.remote(region, &wire)
                    .is_some_and(|(cluster, node, payload)| {
                        cluster.try_publish(Subject::Node(node), payload)
                    })
            }
        };
        if admitted {
            self.next_seq += 1;
            Ok(())
        } else {
            Err(QueueFull(()))
        }
    }

    /// Takes the player out of the world (always admitted); false if the world stopped or
    /// (in a cluster) its region's process is gone, which has then dropped the player.
    pub fn leave(&mut self) -> bool {
        let Some(region) = self.route() else {
            return false;
        };
        let player_id = self.player_id;
        match self.local(region) {
            Some(queue) => queue.push_follow_up(RegionJob::Leave { player_id }).is_ok(),
            None => match self.remote(region, &WireMsg::Leave { player_id }) {
                Some((cluster, node, payload)) => {
                    cluster.publish_soon(Subject::Node(node), payload);
                    true
                }
                None => false,
            },
        }
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
