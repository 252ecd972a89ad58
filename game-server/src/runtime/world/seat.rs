//! `WorldSeat`: one session's place in the world: its link, its input sequence, its route.
//! Its enter, inputs and leave go to its region's queue here, or (in a cluster) through the
//! [`Cluster`] to the node that runs the region.

use std::sync::Arc;

use server_core::{Packet, Session};

use crate::game::packets::SChat;
use crate::game::saves::LiveCharacter;
use crate::game::world::geometry::{Layout, RegionId};
use crate::game::world::message::{PlayerInput, RegionJob};
use crate::game::world::wire::WireMsg;
use crate::runtime::job_queue::QueueFull;
use crate::runtime::world::cluster::{Cluster, Sent};
use crate::runtime::world::link::{PlayerDirectory, WorldLink};
use crate::runtime::world::queues::RegionQueues;

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
    pub(super) layout: Layout,
    pub(super) queues: RegionQueues,
    pub(super) cluster: Option<Arc<dyn Cluster>>,
    pub(super) directory: Arc<PlayerDirectory>,
    pub(super) link: Option<Arc<WorldLink>>,
    pub(super) player_id: i32,
    /// The sequence number the next admitted input gets; a refused input does not use one,
    /// so the owner never waits for a number that will not come.
    pub(super) next_seq: u64,
}

impl WorldSeat {
    fn route(&self) -> Option<RegionId> {
        Some(self.link.as_ref()?.route())
    }

    /// A gateway job for a region another node runs; `Unreachable` outside a cluster.
    fn remote(&self, region: RegionId, job: &WireMsg, always: bool) -> Sent {
        match &self.cluster {
            Some(cluster) => cluster.to_region(region, job, always),
            None => Sent::Unreachable,
        }
    }

    /// Registers the player and asks the region of `pos` (a saved position; the region
    /// keeps it on the map) or of its spawn point to let it in; a logged-in character comes
    /// with its state for the save task.
    pub fn enter(
        &mut self,
        player_id: i32,
        session: Arc<Session>,
        pos: Option<[f32; 3]>,
        character: Option<Arc<LiveCharacter>>,
    ) -> Result<(), EnterRefused> {
        let pos = pos.unwrap_or_else(|| {
            let spawn = self.layout.spawn_point(player_id);
            [spawn.x, 0.0, spawn.z]
        });
        let region = self.layout.region_of(pos[0]);
        let in_cluster = self.cluster.is_some();
        let link = Arc::new(WorldLink::new(session, region, character, in_cluster));
        self.player_id = player_id;
        self.directory.lock().insert(player_id, Arc::clone(&link));
        self.link = Some(link);
        let result = match self.queues.get(region) {
            Some(queue) => queue
                .try_push_control(RegionJob::Enter { player_id, pos })
                .map_err(|_| EnterRefused::Full),
            None => match self.remote(region, &WireMsg::Enter { player_id, pos }, false) {
                Sent::Queued => Ok(()),
                Sent::Full => Err(EnterRefused::Full),
                Sent::Unreachable => Err(EnterRefused::Unreachable(region)),
            },
        };
        if result.is_err() {
            self.directory.lock().remove(&player_id);
            self.link = None;
        }
        result
    }

    /// Whether the region of `pos` (or of `player_id`'s spawn point) can take an enter now:
    /// it runs here, or (in a cluster) on a node that is alive.
    pub fn can_enter(&self, player_id: i32, pos: Option<[f32; 3]>) -> bool {
        let x = pos.map_or_else(|| self.layout.spawn_point(player_id).x, |p| p[0]);
        let region = self.layout.region_of(x);
        self.queues.get(region).is_some()
            || self.cluster.as_ref().is_some_and(|c| {
                crate::game::world::has_region(c.region_outbound().reachable(), region)
            })
    }

    /// Pushes an input to the player's region; refused when that region is full. In a
    /// cluster a chat line is world chat instead: published once for every player of every
    /// process (it takes no sequence number: no region applies it).
    pub fn input(&mut self, input: PlayerInput) -> Result<(), QueueFull<()>> {
        if let (Some(cluster), PlayerInput::Chat { message }) = (&self.cluster, &input) {
            let chat = SChat {
                player_id: self.player_id,
                message: message.clone(),
            };
            let sent = chat.encode().is_ok_and(|frame| cluster.chat(frame));
            return if sent { Ok(()) } else { Err(QueueFull(())) };
        }
        let Some(region) = self.route() else {
            return Err(QueueFull(()));
        };
        let (player_id, seq) = (self.player_id, self.next_seq);
        let admitted = match self.queues.get(region) {
            Some(queue) => queue
                .try_push(RegionJob::Input {
                    player_id,
                    seq,
                    input,
                })
                .is_ok(),
            None => {
                let job = WireMsg::Input {
                    player_id,
                    seq,
                    input,
                };
                self.remote(region, &job, false) == Sent::Queued
            }
        };
        if admitted {
            self.next_seq += 1;
            if let Some(link) = &self.link {
                link.sent
                    .store(self.next_seq, std::sync::atomic::Ordering::Release);
            }
            Ok(())
        } else {
            Err(QueueFull(()))
        }
    }

    /// Takes the parked player back over `session` (`game/world/region/rejoin.rs`): a new
    /// link in the directory, and a `Rejoin` numbered after its last input, always admitted,
    /// for its owner. The new link, to watch for its player list; refused in a cluster,
    /// where the owner may run on another node that cannot reach the new link.
    pub fn rebind(&mut self, session: Arc<Session>) -> Result<Arc<WorldLink>, String> {
        let Some(old) = &self.link else {
            return Err("no player to take back".to_owned());
        };
        let Some(queue) = self.queues.get(old.route()) else {
            return Err("a player cannot be taken back across nodes".to_owned());
        };
        let link = Arc::new(WorldLink::rejoined(old, session));
        self.directory
            .lock()
            .insert(self.player_id, Arc::clone(&link));
        self.link = Some(Arc::clone(&link));
        let job = RegionJob::Input {
            player_id: self.player_id,
            seq: self.next_seq,
            input: PlayerInput::Rejoin,
        };
        if queue.push_follow_up(job).is_err() {
            return Err("the world stopped".to_owned());
        }
        self.next_seq += 1;
        link.sent
            .store(self.next_seq, std::sync::atomic::Ordering::Release);
        Ok(link)
    }

    /// Takes the player out of the world (always admitted); false if the world stopped or
    /// (in a cluster) its region's process is gone, which has then dropped the player.
    pub fn leave(&mut self) -> bool {
        let Some(region) = self.route() else {
            return false;
        };
        let player_id = self.player_id;
        match self.queues.get(region) {
            Some(queue) => queue.push_follow_up(RegionJob::Leave { player_id }).is_ok(),
            None => match self.remote(region, &WireMsg::Leave { player_id }, true) {
                Sent::Queued => true,
                // Its route's node is gone. A region here may own the player all the same:
                // a hand-off from that node arrived, its route change did not. Every local
                // region is told; one that does not know the player does nothing, and one
                // that owns it lets it leave (else it would stay, a player with no session).
                Sent::Full | Sent::Unreachable => self
                    .queues
                    .local()
                    .map(|queue| queue.push_follow_up(RegionJob::Leave { player_id }).is_ok())
                    .fold(false, |any, told| any | told),
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
