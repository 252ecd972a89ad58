//! `ClusterNode`: what every part of this process shares about the cluster: its node id and
//! regions, who runs every other region now, the bounded queue of NATS publishes, the bus
//! epoch, and the counters.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::adapters::cluster::config::ClusterConfig;
use crate::adapters::cluster::presence::Presence;
use crate::adapters::cluster::subjects;
use crate::game::world::{has_region, RegionId, MAX_REGIONS};

const NO_OWNER: u16 = u16::MAX;

/// Where a publish goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A node's inbox (`world.node.{k}`): its regions' messages and its players' frames.
    Node(u16),
    /// `world.chat`: a line for every player.
    Chat,
    /// `world.heartbeat`.
    Heartbeat,
}

impl Subject {
    /// The NATS subject.
    pub fn name(self) -> String {
        match self {
            Subject::Node(k) => subjects::node(k),
            Subject::Chat => subjects::CHAT.to_owned(),
            Subject::Heartbeat => subjects::HEARTBEAT.to_owned(),
        }
    }
}

/// One message for the publisher task.
#[derive(Debug)]
pub struct Publish {
    /// Where.
    pub subject: Subject,
    /// What.
    pub payload: Bytes,
}

/// The cluster's counters, as this node sees them.
#[derive(Debug, Default)]
pub struct ClusterStats {
    /// NATS messages published.
    pub published: AtomicU64,
    /// Bytes published.
    pub published_bytes: AtomicU64,
    /// Publishes dropped: the queue was full (a session's input) or NATS was down.
    pub publish_dropped: AtomicU64,
    /// Of those, messages for another node's inbox dropped while linked: each is a cut.
    pub ordered_dropped: AtomicU64,
    /// Messages for another node written before a cut and not sent after it (their epoch
    /// is over).
    pub stale_unsent: AtomicU64,
    /// Local players disconnected because their inputs went to a region no live node runs
    /// (a hand-off sent just as that node was lost).
    pub players_orphaned: AtomicU64,
    /// NATS messages received on this node's inbox.
    pub received: AtomicU64,
    /// Received messages refused as malformed.
    pub malformed: AtomicU64,
    /// Received records refused because the sending node has no right to them: a region
    /// message from a region it does not run, a job or a route for a player that is not
    /// its, frames a client would refuse, a non-finite position (see `check.rs`).
    pub refused: AtomicU64,
    /// `world.chat` messages refused: not one whole `S_Chat` that decodes.
    pub chat_refused: AtomicU64,
    /// Received messages from a node not alive in that epoch (sent before a cut): dropped.
    pub stale: AtomicU64,
    /// Region messages for a region whose node is not alive: dropped.
    pub unroutable: AtomicU64,
    /// Inputs from other nodes shed because their region had `remote_bytes` of them
    /// waiting (see `shed.rs`).
    pub remote_shed: AtomicU64,
    /// Nodes declared dead (missed heartbeats) or cut (this node lost NATS).
    pub nodes_lost: AtomicU64,
    /// Players this node disconnected because their region's node was lost.
    pub players_cut: AtomicU64,
    /// Times this node lost its NATS connection.
    pub disconnects: AtomicU64,
    /// Other live nodes.
    pub nodes_alive: AtomicU64,
    /// Heartbeats from another process running with this node's id (two processes
    /// started with one `--node-id`; the later one refuses to start when it can tell).
    pub duplicate_node: AtomicU64,
    /// Players on every live node, this one included (from heartbeats).
    pub players_total: AtomicU64,
}

/// The epoch a process starts in: the wall clock in milliseconds, as u32.
fn first_epoch() -> u32 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_millis());
    (ms as u32).max(1)
}

/// This process's view of the cluster, shared by the regions, the seats and the bridge.
pub struct ClusterNode {
    config: ClusterConfig,
    tx: mpsc::Sender<Publish>,
    /// Owner node of every region, `NO_OWNER` while none is alive; written by the heartbeat
    /// task (from `presence`), read per input by the seats, hence atomics and not the lock.
    owners: Vec<AtomicU16>,
    reachable: AtomicU64,
    epoch: AtomicU32,
    /// This process, among every process that ever ran with this node id: random, so two
    /// processes started with the same `--node-id` tell each other apart.
    instance: u64,
    connected: AtomicBool,
    /// A std mutex: taken by the heartbeat task and the bridge per message, never across an
    /// `.await`.
    presence: Mutex<Presence>,
    /// Logins are on: regions tell a remote player's gateway where they put it.
    persisting: AtomicBool,
    /// Run when this node is cut from the bus (`bridge::cut`): the accounts close their
    /// sessions, since another node may now take their characters over.
    on_cut: Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
    /// When this node sent the latest of its own heartbeats that came back from NATS (ms
    /// since `born`): a connection that died without the client noticing (a half-open
    /// socket) shows as silence here long before the client's pings would tell. The send
    /// time and not the arrival time: a process that stalled reads old echoes on waking,
    /// and they prove nothing about the seconds it was gone.
    own_echo_ms: AtomicU64,
    /// The echo is late: logged-in sessions were closed and logins are refused until it
    /// comes back.
    echo_late: AtomicBool,
    born: std::time::Instant,
    /// The counters.
    pub stats: ClusterStats,
}

impl ClusterNode {
    /// A node for `config` (validated), with the receiving end of its publish queue.
    pub fn new(config: ClusterConfig) -> (Arc<ClusterNode>, mpsc::Receiver<Publish>) {
        let (tx, rx) = mpsc::channel(config.publish_capacity);
        let owners = (0..MAX_REGIONS)
            .map(|k| {
                AtomicU16::new(if has_region(config.own, k as RegionId) {
                    config.node_id
                } else {
                    NO_OWNER
                })
            })
            .collect();
        let presence = Presence::new(config.node_id, config.own, config.dead_after);
        let node = ClusterNode {
            reachable: AtomicU64::new(config.own),
            owners,
            tx,
            epoch: AtomicU32::new(first_epoch()),
            instance: rand::random::<u64>() | 1,
            connected: AtomicBool::new(true),
            presence: Mutex::new(presence),
            persisting: AtomicBool::new(false),
            on_cut: Mutex::new(None),
            own_echo_ms: AtomicU64::new(0),
            echo_late: AtomicBool::new(false),
            born: std::time::Instant::now(),
            stats: ClusterStats::default(),
            config,
        };
        (Arc::new(node), rx)
    }

    /// The settings.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// This node's id.
    pub fn id(&self) -> u16 {
        self.config.node_id
    }

    /// Whether this node runs `region`.
    pub fn runs(&self, region: RegionId) -> bool {
        has_region(self.config.own, region)
    }

    /// The live node running `region` (this one for its own), if any.
    pub fn owner_of(&self, region: RegionId) -> Option<u16> {
        let owner = self
            .owners
            .get(usize::from(region))?
            .load(Ordering::Acquire);
        (owner != NO_OWNER).then_some(owner)
    }

    /// Regions whose node is alive (this node's included).
    pub fn reachable(&self) -> u64 {
        self.reachable.load(Ordering::Acquire)
    }

    /// The bus epoch: one more after each lost NATS connection. It starts from the clock
    /// (milliseconds, wrapping at 2^32: 49 days), so a restarted process never comes back
    /// in an epoch the others still hold for its previous run.
    pub fn epoch(&self) -> u32 {
        self.epoch.load(Ordering::Acquire)
    }

    /// This process's random instance number (see the field).
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// Logins are on: regions here tell another node's players' gateways where they put
    /// them, for the save task there (`Record::Moved`).
    pub fn set_persisting(&self, on: bool) {
        // The echo is watched from now on: counted as heard now.
        self.own_echo_ms.store(self.clock_ms(), Ordering::Release);
        self.persisting.store(on, Ordering::Release);
    }

    /// What to run when this node is cut from the bus (see the field).
    pub fn set_on_cut(&self, run: Arc<dyn Fn() + Send + Sync>) {
        *self.on_cut.lock().unwrap_or_else(|p| p.into_inner()) = Some(run);
    }

    pub(crate) fn run_on_cut(&self) {
        let run = self
            .on_cut
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(run) = run {
            run();
        }
    }

    /// This process's clock for heartbeats: milliseconds since it started (monotonic).
    pub(crate) fn clock_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    /// This node's own heartbeat, sent at `sent_ms` (its `clock_ms`), came back from NATS.
    /// A heartbeat from a build without send times (0) counts from its arrival.
    pub(crate) fn saw_own_echo(&self, sent_ms: u64) {
        let now = self.clock_ms();
        let sent = if sent_ms == 0 { now } else { sent_ms.min(now) };
        self.own_echo_ms.fetch_max(sent, Ordering::AcqRel);
        if self.lease_fresh(now) && self.echo_late.swap(false, Ordering::AcqRel) {
            tracing::info!(node = self.id(), "own heartbeat heard again; logins back");
        }
    }

    /// Whether this node hears itself on the bus at `now` (its `clock_ms`): its latest
    /// echoed heartbeat was sent less than half the dead-after time ago. Counted from the
    /// send, so a process that stalled and reads old echoes on waking does not count them
    /// as fresh. (What keeps two nodes from playing one account is the database lease,
    /// `adapters/db/lease.rs`; this only says whether the node's players can still reach
    /// the regions other nodes run.)
    fn lease_fresh(&self, now: u64) -> bool {
        now.saturating_sub(self.own_echo_ms.load(Ordering::Acquire))
            <= self.config.dead_after.as_millis() as u64 / 2
    }

    /// Checks the echo (each heartbeat): with logins on, a stale one (see `lease_fresh`)
    /// closes the logged-in sessions once (see `on_cut`) and stops logins until a fresh
    /// one comes back. Sessions also ask [`ClusterNode::on_bus`] before each input, so a
    /// stalled process that wakes applies nothing before this check has run.
    pub(crate) fn check_own_echo(&self) {
        if !self.persisting() {
            return;
        }
        let late = !self.lease_fresh(self.clock_ms());
        if late && !self.echo_late.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                node = self.id(),
                "own heartbeat not heard back: closing logged-in sessions, refusing logins"
            );
            self.run_on_cut();
        }
    }

    /// Whether this node's logged-in players may play and new ones log in: connected, and
    /// its claim on them fresh (see `lease_fresh`). Cheap (two atomics and a clock read):
    /// asked per input of a logged-in player.
    pub fn on_bus(&self) -> bool {
        self.connected()
            && !self.echo_late.load(Ordering::Acquire)
            && (!self.persisting() || self.lease_fresh(self.clock_ms()))
    }

    /// See [`ClusterNode::set_persisting`].
    pub fn persisting(&self) -> bool {
        self.persisting.load(Ordering::Acquire)
    }

    /// Whether NATS is connected now, as its events last said (informational: the
    /// publisher asks the client itself before each publish).
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub(crate) fn set_connected(&self, up: bool) {
        if !up {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            self.stats.disconnects.fetch_add(1, Ordering::Relaxed);
        }
        self.connected.store(up, Ordering::Release);
    }

    /// Who is alive and runs what, as the heartbeats say (held briefly: no `.await` under it).
    pub fn presence(&self) -> MutexGuard<'_, Presence> {
        // Presence is consistent after any panic in its (non-panicking) methods.
        self.presence.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Copies who owns what from `presence` into the atomics the seats read.
    pub(crate) fn update_owners(&self, presence: &Presence, own_players: u64) {
        for (k, owner) in self.owners.iter().enumerate() {
            if !has_region(self.config.own, k as RegionId) {
                let node = presence.owner_of(k as u16).unwrap_or(NO_OWNER);
                owner.store(node, Ordering::Release);
            }
        }
        self.reachable
            .store(presence.reachable(), Ordering::Release);
        self.stats
            .nodes_alive
            .store(presence.alive() as u64, Ordering::Relaxed);
        self.stats
            .players_total
            .store(presence.total_players(own_players), Ordering::Relaxed);
    }

    /// Queues a publish from a plain thread (a region): waits while the queue is full, so a
    /// region that outruns NATS slows down instead of growing memory or losing a message.
    /// Must not be called on a tokio worker thread.
    pub fn publish_blocking(&self, subject: Subject, payload: Bytes) -> bool {
        let ok = self.tx.blocking_send(Publish { subject, payload }).is_ok();
        if !ok {
            self.stats.publish_dropped.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Queues a publish without waiting (sessions, async tasks); false when the queue is
    /// full or NATS is down: the caller drops what it was sending, as for a full region.
    pub fn try_publish(&self, subject: Subject, payload: Bytes) -> bool {
        let ok = self.tx.try_send(Publish { subject, payload }).is_ok();
        if !ok {
            self.stats.publish_dropped.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Queues a publish that must not be dropped for a full queue (a player's leave: one per
    /// session that entered, so these stay bounded by the sessions): waits on a task.
    pub fn publish_soon(self: &Arc<Self>, subject: Subject, payload: Bytes) {
        if let Err(mpsc::error::TrySendError::Full(p)) =
            self.tx.try_send(Publish { subject, payload })
        {
            let tx = self.tx.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(async move {
                        let _ = tx.send(p).await;
                    });
                }
                Err(_) => {
                    let _ = tx.blocking_send(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    /// Issue 24: a node's claim on its players runs from when its latest echoed heartbeat
    /// was *sent*. A process that stalled past the margin and then reads a backlog of old
    /// echoes must not count them as fresh: other nodes may have taken its accounts over
    /// while it was gone.
    #[test]
    fn an_old_echo_read_late_does_not_renew_the_claim_and_a_fresh_one_does() {
        let mut config = ClusterConfig::new("nats://unused", 0, 0b01);
        config.heartbeat = Duration::from_millis(20);
        config.dead_after = Duration::from_millis(200);
        let (node, _publishes) = ClusterNode::new(config);
        let cuts = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&cuts);
        node.set_on_cut(Arc::new(move || {
            counted.fetch_add(1, Ordering::Relaxed);
        }));
        node.set_persisting(true);
        assert!(node.on_bus(), "counted as heard when watching starts");

        let sent_before_stall = node.clock_ms().max(1);
        std::thread::sleep(Duration::from_millis(150)); // past half of dead-after
        node.saw_own_echo(sent_before_stall); // an old heartbeat's echo, read now
        assert!(
            !node.on_bus(),
            "an echo sent before the stall proves nothing about the stall"
        );
        node.check_own_echo();
        node.check_own_echo();
        assert_eq!(cuts.load(Ordering::Relaxed), 1, "sessions closed, once");

        node.saw_own_echo(node.clock_ms());
        assert!(node.on_bus(), "a heartbeat sent after the stall renews it");
        node.check_own_echo();
        assert_eq!(cuts.load(Ordering::Relaxed), 1);
    }
}
