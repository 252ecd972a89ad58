//! How a region reaches a player: its session here ([`WorldLink`]), or through the region's
//! outbound to the node that holds it ([`RemoteLink`]); and the directories that find
//! either by player id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use server_core::{CloseReason, Packet, Session};

use crate::game::outbox::Outbox;
use crate::game::packets::SMonsterDespawn;
use crate::game::player_ids::gateway_of;
use crate::game::saves::LiveCharacter;
use crate::game::world::geometry::RegionId;
use crate::game::world::region::{Directory, PlayerLink, Route};
use crate::game::world::ViewFilter;
use crate::runtime::world::cluster::RegionOutbound;

/// A connected player as the regions reach it: its session, and which region its session
/// sends inputs to.
#[derive(Debug)]
pub struct WorldLink {
    pub(super) session: Arc<Session>,
    /// The region its inputs go to (low 16 bits) and the `seq` of the hand-off that set it
    /// (the rest), in one atomic: written by the region that hands the player on here, or
    /// by the cluster's inbox for a remote owner, in whatever order those arrive; a route
    /// with a lower `seq` than the one held is stale and ignored. Read per input.
    pub(super) route: AtomicU64,
    /// Inputs the seat has sent (numbered 0 ..): no owner can have applied more, so no
    /// real hand-off's `seq` is above it. Written by the seat per input, read per route.
    pub(super) sent: AtomicU64,
    /// A logged-in character's state for the save task, written by whichever local region
    /// owns the player (none for a guest).
    pub(super) character: Option<Arc<LiveCharacter>>,
    /// A logged-in character outside a cluster: it leaves only through its seat (at once,
    /// or when its reconnect grace ends), so a closed connection does not make it gone.
    parkable: bool,
    /// For a connection that took a parked character back: what it was told, so that the
    /// regions, which switch to it one after another, cannot break its view (see
    /// `game/world/region/rejoin.rs`). Held while the frames are queued on the session,
    /// so two regions' frames leave in the order the filter saw them.
    filter: Option<Mutex<ViewFilter>>,
    /// In a cluster: the monsters other nodes' regions have shown this player and not
    /// hidden, as (node, monster id). If such a node is lost, nothing more will come from
    /// it, so the gateway hides them itself (`hide_remote_monsters`). At most
    /// [`REMOTE_MONSTERS_MAX`]; past it, more are not noted (a player sees a few dozen).
    remote_monsters: Mutex<Vec<(u16, i32)>>,
}

/// See `WorldLink::remote_monsters`.
pub const REMOTE_MONSTERS_MAX: usize = 1 << 14;

impl WorldLink {
    /// A link whose inputs go to `region` (the spawn region, before any hand-off).
    pub(super) fn new(
        session: Arc<Session>,
        region: RegionId,
        character: Option<Arc<LiveCharacter>>,
        in_cluster: bool,
    ) -> Self {
        WorldLink {
            session,
            route: AtomicU64::new(u64::from(region)),
            sent: AtomicU64::new(0),
            parkable: character.is_some() && !in_cluster,
            character,
            filter: None,
            remote_monsters: Mutex::default(),
        }
    }

    /// The link of `session`, taking over from `old` (a parked character's): the same
    /// route, input count and character, and a view that starts empty.
    pub(super) fn rejoined(old: &WorldLink, session: Arc<Session>) -> Self {
        WorldLink {
            session,
            route: AtomicU64::new(old.route.load(Ordering::Acquire)),
            sent: AtomicU64::new(old.sent.load(Ordering::Acquire)),
            character: old.character.clone(),
            parkable: old.parkable,
            filter: Some(Mutex::new(ViewFilter::new())),
            remote_monsters: Mutex::default(),
        }
    }

    /// False for a rejoined connection whose player list has not gone out yet.
    pub fn listed(&self) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| f.lock().unwrap_or_else(|p| p.into_inner()).listed())
    }

    /// Sends `frames` from node `node`'s regions, noting the monsters they show (`true`) and
    /// hide (`false`). Noted and sent under one lock, so a lost node's cover despawns
    /// ([`WorldLink::hide_remote_monsters`]) are never overtaken by a spawn.
    pub fn send_remote(&self, node: u16, frames: Bytes, monsters: &[(i32, bool)]) {
        if monsters.is_empty() {
            // Most relayed batches are moves: no lock for them (the lock orders what is
            // noted, and a batch without spawns or despawns notes nothing). A move that the
            // inbox applies after the loss's despawns would still reach the client after
            // them, lock or not; the bridge's epoch rules keep such late records rare.
            let _ = self.session.send(frames);
            return;
        }
        let mut held = self
            .remote_monsters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for &(id, shown) in monsters {
            let at = held.iter().position(|&e| e == (node, id));
            match (shown, at) {
                (true, None) if held.len() < REMOTE_MONSTERS_MAX => held.push((node, id)),
                (false, Some(at)) => {
                    held.swap_remove(at);
                }
                _ => {}
            }
        }
        let _ = self.session.send(frames);
    }

    /// Node `node` is lost: the monsters it showed this player and did not hide, forgotten
    /// here and sent hidden (`S_MonsterDespawn` each) to the session. Returns how many.
    pub fn hide_remote_monsters(&self, node: u16) -> usize {
        let mut held = self
            .remote_monsters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut frames = Vec::new();
        let mut hidden = 0;
        held.retain(|&(from, id)| {
            if from != node {
                return true;
            }
            if let Ok(frame) = (SMonsterDespawn { monster_id: id }).encode() {
                frames.extend_from_slice(&frame);
                hidden += 1;
            }
            false
        });
        if !frames.is_empty() {
            let _ = self.session.send(Bytes::from(frames));
        }
        hidden
    }

    /// Inputs the player's seat has sent so far.
    pub fn inputs_sent(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
    }
}

impl Outbox for Arc<WorldLink> {
    fn send(&self, frame: Bytes) -> bool {
        let Some(filter) = &self.filter else {
            return Session::send(&self.session, frame).is_ok();
        };
        let mut filter = filter.lock().unwrap_or_else(|p| p.into_inner());
        match filter.pass(frame) {
            Ok(Some(frame)) => Session::send(&self.session, frame).is_ok(),
            Ok(None) => true,
            Err(e) => {
                self.session
                    .disconnect(CloseReason::ApplicationError(e.to_string()));
                false
            }
        }
    }
}

impl PlayerLink for Arc<WorldLink> {
    fn is_gone(&self) -> bool {
        // A parkable character's closed connection may only be parked. In a cluster a leave
        // can go astray with a lost node, and a closed connection is the sign of it.
        !self.parkable && self.session.is_closed()
    }

    fn moved(&self, pos: [f32; 3]) {
        if let Some(character) = &self.character {
            character.set_pos(pos);
        }
    }

    fn route_to(&self, route: Route) {
        let _ = self
            .route
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                newer(held, route)
            });
    }
}

impl WorldLink {
    /// The player's session.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// The region its inputs go to now.
    pub fn route(&self) -> RegionId {
        (self.route.load(Ordering::Acquire) & 0xFFFF) as RegionId
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
    fn is_gone(&self) -> bool {
        match self {
            Link::Local(link) => link.is_gone(),
            Link::Remote(_) => false,
        }
    }

    fn moved(&self, pos: [f32; 3]) {
        match self {
            Link::Local(link) => link.moved(pos),
            // The gateway keeps it for its save task (`Record::Moved`).
            Link::Remote(link) => link.moved(pos),
        }
    }

    fn route_to(&self, route: Route) {
        match self {
            Link::Local(link) => link.route_to(route),
            Link::Remote(link) => link.route_to(route),
        }
    }
}

/// One region's directory: local players from the shared map, remote ones (by the node in
/// their id) as links through the region's outbound.
pub struct RegionDirectory {
    pub(super) local: Arc<PlayerDirectory>,
    pub(super) remote: Option<Arc<dyn RegionOutbound>>,
}

impl Directory<Link> for RegionDirectory {
    fn find(&self, player_id: i32) -> Option<Link> {
        if let Some(out) = &self.remote {
            let gateway = gateway_of(player_id);
            if gateway != out.node() {
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

    pub(super) fn lock(&self) -> MutexGuard<'_, HashMap<i32, Arc<WorldLink>>> {
        // The map is consistent after any panic in insert/remove; ignore poisoning.
        self.links.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Directory<Arc<WorldLink>> for Arc<PlayerDirectory> {
    fn find(&self, player_id: i32) -> Option<Arc<WorldLink>> {
        self.lock().get(&player_id).cloned()
    }
}

/// A player whose session another node holds, as a region sees it.
#[derive(Debug, Clone)]
pub struct RemoteLink {
    /// The player.
    pub player_id: i32,
    /// The node holding its session.
    pub gateway: u16,
    /// The region's outbound.
    pub out: Arc<dyn RegionOutbound>,
}

impl Outbox for RemoteLink {
    fn send(&self, frame: Bytes) -> bool {
        self.out.frames(self.gateway, self.player_id, frame);
        true
    }
}

impl PlayerLink for RemoteLink {
    fn route_to(&self, route: Route) {
        self.out.route(self.gateway, self.player_id, route);
    }

    fn moved(&self, pos: [f32; 3]) {
        self.out.moved(self.gateway, self.player_id, pos);
    }
}

/// The packed route after `route` arrives at a link holding `held`: `route` if its hand-off
/// is later than the one held, else nothing (a late route must not undo a newer one).
/// `seq` < 2^48: that many inputs at 30 a second take 300,000 years.
fn newer(held: u64, route: Route) -> Option<u64> {
    (route.seq > held >> 16).then_some((route.seq << 16) | u64::from(route.to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_route_does_not_undo_a_newer_one() {
        let spawn = u64::from(0u16); // region 0, no hand-off yet
        let to = |to, seq| Route { to, from: 9, seq };
        let b = newer(spawn, to(1, 5)).expect("the first hand-off is taken");
        assert_eq!(b & 0xFFFF, 1);
        let c = newer(b, to(2, 8)).expect("a later one is taken");
        assert_eq!(c & 0xFFFF, 2);
        assert_eq!(
            newer(c, to(1, 5)),
            None,
            "the earlier one, arriving late, is not"
        );
        assert_eq!(newer(c, to(3, 8)), None, "nor one of the same hand-off");
    }
}
