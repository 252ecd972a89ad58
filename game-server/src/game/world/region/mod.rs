//! `Region`: one stripe of the map, its players, its ghosts and its share of the protocol
//! between regions. Sans-IO: jobs in; frames to players' links and [`Outgoing`] effects out.
//!
//! A region **owns** the players whose x lies in its stripe: it applies their inputs, and it
//! decides, as their owner, who sees them (their watchers) and sends those watchers their
//! spawn, moves, chat and despawn, whichever region the watchers belong to. It also holds
//! **ghosts**: players of other regions near its stripe, kept up to date by their owners'
//! `GhostUpdate`s, so it can tell whether they see its own players. When a player crosses
//! into another stripe its owner sends a `Handoff` carrying its watcher set: the watchers
//! keep seeing it, with no despawn or spawn, and all its moves go on coming from one owner
//! at a time, in order (see `message.rs` for the sequence rules).
//!
//! A region may also have **monsters** (`monsters.rs`), which never leave it: it runs their
//! AI on its tick and shows them to the players near them, its own and its ghosts.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::game::counters::RoomStats;
use crate::game::outbox::{player_lists, Outbox};
use crate::game::packets::{
    Player, SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove, SChat,
};
use crate::game::player_ids::gateway_of;
use crate::game::world::batch::Batch;
use crate::game::world::config::WorldConfig;
use crate::game::world::geometry::{has_region, Layout, MoveVerdict, Pos, RegionId};
use crate::game::world::ids::{IdMap, IdSet};
use crate::game::world::interest::{Interest, ViewChange};
use crate::game::world::message::{PlayerInput, RegionJob, RegionMsg, RegionSnapshot};

/// Inputs of one player a region holds while an earlier one is still on its way (forwarded
/// by the region it came from). Past this the gap is given up: the held inputs are applied
/// and the missing ones counted as dropped, like inputs refused by a full queue.
pub const REORDER_CAP: usize = 256;

/// Ids of players who left, remembered so a late message cannot bring back a ghost. Ids are
/// never reused, so forgetting the oldest is safe once no message about them can be late.
const TOMBSTONES: usize = 1 << 16;

/// A player's connection as a region sees it: where its frames go, and where its session
/// should send its next inputs.
pub trait PlayerLink: Outbox + Clone {
    /// Tells the session that `route.to` owns the player from now on. Routes may arrive in
    /// another order than they were made (two owners on two nodes); a link keeps the one
    /// with the highest `seq`.
    fn route_to(&self, route: Route);

    /// True once the player's session is known to be gone (its leave may have gone astray:
    /// a region that takes such a player over lets it leave at once). False when it cannot
    /// be known here (a session on another node).
    fn is_gone(&self) -> bool {
        false
    }

    /// The region that owns the player put it at `pos` (its enter, or a move after the
    /// map's rules): a logged-in character's link keeps it for the save task. A link that
    /// has no character, or is remote, ignores it.
    fn moved(&self, _pos: [f32; 3]) {}
}

/// A player's hand-off as its session must learn it: its new owner `to`, the region `from`
/// that handed it on, and `seq`, the sequence number of the first input the new owner
/// applies. Every hand-off of a player happens at a later input than the one before, so
/// `seq` orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The new owner.
    pub to: RegionId,
    /// The old owner.
    pub from: RegionId,
    /// The next input's sequence number at the hand-off (above 0).
    pub seq: u64,
}

/// Finds a player's link by id. Shared by the regions; looked up once per player per region
/// (when the region first learns of it), never per frame.
pub trait Directory<L>: Send + 'static {
    /// The link of a connected player.
    fn find(&self, player_id: i32) -> Option<L>;
}

/// World counters, shared by all regions.
#[derive(Debug, Default)]
pub struct WorldStats {
    /// Players handed from one region to another.
    pub handoffs: AtomicU64,
    /// Messages sent between regions.
    pub region_msgs: AtomicU64,
    /// Inputs passed on by a region that no longer owned the player.
    pub forwarded_inputs: AtomicU64,
    /// Moves pulled back onto the map.
    pub clamped_to_map: AtomicU64,
    /// Moves shortened by the step limit.
    pub step_limited: AtomicU64,
    /// Inputs given up because a gap in a player's sequence outlived [`REORDER_CAP`].
    pub inputs_skipped: AtomicU64,
    /// Inputs shed on their way from another node (the region was too far behind); each
    /// kept its sequence number and did nothing.
    pub inputs_shed: AtomicU64,
    /// Messages from another region about a player that region has no say over (a forward
    /// from a region that did not hand the player here, a hand-off from a region that does
    /// not own it, a `PlayerGone` for a player owned here): dropped.
    pub peer_refused: AtomicU64,
    /// Inputs older than one already applied (duplicates): dropped.
    pub inputs_stale: AtomicU64,
    /// Watchers in a hand-off the new owner did not know; each was sent a despawn.
    pub unknown_watchers: AtomicU64,
    /// Spawns sent.
    pub spawns: AtomicU64,
    /// Despawns sent.
    pub despawns: AtomicU64,
    /// Spawns sent to players who took their character back over a new connection, showing
    /// it the world as it is (see `region/rejoin.rs`).
    pub rejoin_spawns: AtomicU64,
    /// `S_MonsterSpawn`s sent (each counted once per recipient).
    pub monster_spawns: AtomicU64,
    /// `S_MonsterDespawn`s sent.
    pub monster_despawns: AtomicU64,
    /// `S_MonsterMove`s sent.
    pub monster_moves: AtomicU64,
    /// Attacks monsters decided on players.
    pub monster_attacks: AtomicU64,
}

/// An effect for the region's runner, in order.
#[derive(Debug)]
pub enum Outgoing<L> {
    /// Send a message to another region.
    Msg(RegionId, RegionMsg),
    /// Tell a session its player's new owner; only after the hand-off message was sent, so
    /// the session's next input cannot reach the new owner before the player does.
    Route(L, Route),
}

#[derive(Debug)]
struct Owned {
    y: f32,
    /// The sequence number of the next input to apply.
    next_seq: u64,
    /// The sequence number of the last input applied (what ghost messages carry).
    last_seq: u64,
    /// Inputs that arrived before an earlier one.
    held: BTreeMap<u64, PlayerInput>,
    /// Regions that hold this player as a ghost (bit per region).
    ghosted_to: u64,
    /// The regions that handed it here, now or on an earlier visit (bit per region; none if
    /// it entered here and never left): only they may forward its inputs and leave
    /// (`ForwardInput`, `ForwardLeave`), since only they can hold its late inputs.
    came_from: u64,
}

/// Where a region sent a player it handed on, and who may still forward to it here.
#[derive(Debug, Clone, Copy)]
struct Forward {
    /// The region the player was handed to.
    to: RegionId,
    /// The regions that had handed it here (bit per region): late inputs they forward are
    /// passed on.
    came_from: u64,
}

#[derive(Debug)]
struct Ghost {
    y: f32,
    seq: u64,
    /// The region that owns it (the sender of the last update applied): when that region's
    /// process is lost, its ghosts go with it.
    owner: RegionId,
}

/// One region's state.
pub struct Region<L, D> {
    id: RegionId,
    layout: Layout,
    /// A player within this distance (in x) of another stripe becomes a ghost there: the
    /// outer radius, plus two steps for ghost positions that lag by a message.
    band: f32,
    /// A ghost is removed only beyond this, so walking along a band edge does not flap.
    band_out: f32,
    interest: Interest,
    links: IdMap<L>,
    owned: IdMap<Owned>,
    ghosts: IdMap<Ghost>,
    /// Players this region handed on, and to whom: late inputs follow them.
    forwarded: IdMap<Forward>,
    gone: IdSet,
    gone_order: VecDeque<i32>,
    batch: Batch,
    max_pending_bytes: usize,
    /// Recipients sent a despawn of a target this tick: if the target is handed on before
    /// the tick, those frames go out first, so a later spawn from its new owner trails them.
    pending_despawns: IdMap<Vec<i32>>,
    outgoing: Vec<Outgoing<L>>,
    changes: Vec<ViewChange>,
    /// Reused by a move: watchers sent its spawn in this move, who need no move frame.
    fresh: Vec<i32>,
    /// Players who took their character back over a new connection lately, with the flush
    /// count then (see `rejoin.rs`): a player handed here meanwhile is shown to them.
    rejoined: VecDeque<(i32, u64)>,
    /// Flushes so far (ticks, and flushes of a full batch).
    flushes: u64,
    /// Its monsters, if the world has game data (boxed: a region without is as before).
    monsters: Option<Box<monsters::Monsters>>,

    directory: D,
    stats: Arc<WorldStats>,
    room_stats: Arc<RoomStats>,
    /// Regions that can take a player now (bit per region): all of them in one process; in
    /// a cluster, those whose process is alive. A player is never handed to one that cannot
    /// take it: it stays here, past the border, until that region is back.
    reachable: u64,
}

impl<L: PlayerLink, D: Directory<L>> Region<L, D> {
    /// Region `id` of a world with a validated `config`.
    pub fn new(
        id: RegionId,
        config: &WorldConfig,
        max_pending_bytes: usize,
        directory: D,
        stats: Arc<WorldStats>,
        room_stats: Arc<RoomStats>,
    ) -> Self {
        let layout = Layout::new(config);
        let band = config.outer_radius + 2.0 * config.max_step;
        Region {
            id,
            band,
            band_out: band + 2.0 * config.max_step,
            interest: Interest::new(
                layout.half(),
                config.cell_size,
                config.inner_radius,
                config.outer_radius,
            ),
            layout,
            links: IdMap::default(),
            owned: IdMap::default(),
            ghosts: IdMap::default(),
            forwarded: IdMap::default(),
            gone: IdSet::default(),
            gone_order: VecDeque::new(),
            batch: Batch::default(),
            max_pending_bytes,
            pending_despawns: IdMap::default(),
            outgoing: Vec::new(),
            changes: Vec::new(),
            fresh: Vec::new(),
            rejoined: VecDeque::new(),
            flushes: 0,
            monsters: None,
            directory,
            stats,
            room_stats,
            reachable: u64::MAX,
        }
    }

    /// Which regions can take a player now (see the field); the runtime sets it before
    /// each job in a cluster.
    pub fn set_reachable(&mut self, regions: u64) {
        self.reachable = regions;
    }

    /// This region's id.
    pub fn id(&self) -> RegionId {
        self.id
    }

    /// Players owned.
    pub fn owned_count(&self) -> usize {
        self.owned.len()
    }

    /// Ghosts held.
    pub fn ghost_count(&self) -> usize {
        self.ghosts.len()
    }

    /// Whether `player_id` is owned here.
    pub fn owns(&self, player_id: i32) -> bool {
        self.owned.contains_key(&player_id)
    }

    /// Whether `player_id` is held here as a ghost.
    pub fn has_ghost(&self, player_id: i32) -> bool {
        self.ghosts.contains_key(&player_id)
    }

    /// The interest state (for checks).
    pub fn interest(&self) -> &Interest {
        &self.interest
    }

    /// Effects produced since the last call, in order.
    pub fn take_outgoing(&mut self) -> Vec<Outgoing<L>> {
        std::mem::take(&mut self.outgoing)
    }

    /// Runs one job.
    pub fn run(&mut self, job: RegionJob) {
        match job {
            RegionJob::Enter { player_id, pos } => self.enter(player_id, pos),
            RegionJob::Input {
                player_id,
                seq,
                input,
            } => self.input(player_id, seq, input),
            RegionJob::Leave { player_id } => self.leave(player_id),
            RegionJob::Peer(msg) => self.peer(msg),
            RegionJob::Snapshot { max_players, reply } => {
                let _ = reply.send(self.snapshot(max_players));
            }
            RegionJob::HighestId { gateway, reply } => {
                let _ = reply.send(self.highest_id_of(gateway));
            }
            RegionJob::NodeLost { gateway, regions } => self.node_lost(gateway, regions),
            RegionJob::Resync => self.resync(),
            RegionJob::Monsters(herd) => self.set_herd(*herd),
        }
        self.room_stats
            .ghosts
            .store(self.ghosts.len(), Ordering::Relaxed);
        if self.batch.bytes() >= self.max_pending_bytes {
            self.flush();
        }
    }

    /// Sends every recipient its frames of this tick.
    pub fn flush(&mut self) {
        self.flushes += 1;
        self.forget_old_rejoins();
        if self.batch.is_empty() {
            self.batch.clear_taken();
            return;
        }
        let started = std::time::Instant::now();
        let mut packets = 0u64;
        let mut bytes = 0u64;
        let links = &self.links;
        self.batch.drain(|to, frame, frames| {
            if let Some(link) = links.get(&to) {
                packets += frames as u64;
                bytes += frame.len() as u64;
                link.send(frame);
            }
        });
        self.pending_despawns.clear();
        let r = Ordering::Relaxed;
        self.room_stats.packets_out.fetch_add(packets, r);
        self.room_stats.bytes_out.fetch_add(bytes, r);
        self.room_stats.flushes.fetch_add(1, r);
        self.room_stats.flush_duration.observe(started.elapsed());
    }

    /// The highest id of node `gateway`'s range this region knows: owned, a ghost, a
    /// forwarding entry or a tombstone; 0 for none. Scans everything: asked once when a
    /// node (re)joins, never per message.
    pub fn highest_id_of(&self, gateway: u16) -> i32 {
        let ids = self
            .owned
            .keys()
            .chain(self.ghosts.keys())
            .chain(self.forwarded.keys())
            .chain(self.gone_order.iter());
        ids.copied()
            .filter(|&id| gateway_of(id) == gateway)
            .max()
            .unwrap_or(0)
    }

    /// A snapshot for the live map: bounds and at most `max_players` owned players.
    pub fn snapshot(&self, max_players: usize) -> RegionSnapshot {
        let (min_x, max_x) = self.layout.stripe(self.id);
        RegionSnapshot {
            region: self.id,
            min_x,
            max_x,
            min_z: -self.layout.half(),
            max_z: self.layout.half(),
            owned: self.owned.len(),
            ghosts: self.ghosts.len(),
            players: self
                .owned
                .keys()
                .filter_map(|&id| self.interest.pos(id).map(|p| (id, p.x, p.z)))
                .take(max_players)
                .collect(),
            monster_count: self.living_monsters().count(),
            monsters: self.living_monsters().take(max_players).collect(),
        }
    }

    fn enter(&mut self, player_id: i32, pos: [f32; 3]) {
        if self.owned.contains_key(&player_id) || self.gone.contains(&player_id) {
            tracing::warn!(
                player_id,
                region = self.id,
                "enter ignored: already entered"
            );
            return;
        }
        let Some(link) = self.directory.find(player_id) else {
            // Disconnected before its enter ran; its leave finds nothing to do.
            return;
        };
        let (p, _) = self.layout.constrain(
            Pos {
                x: pos[0],
                z: pos[2],
            },
            Pos {
                x: pos[0],
                z: pos[2],
            },
        );
        link.moved([p.x, pos[1], p.z]);
        self.links.insert(player_id, link.clone());
        self.owned.insert(
            player_id,
            Owned {
                y: pos[1],
                next_seq: 0,
                last_seq: 0,
                held: BTreeMap::new(),
                ghosted_to: 0,
                came_from: 0,
            },
        );
        self.room_stats.players.fetch_add(1, Ordering::Relaxed);
        self.interest.insert(player_id, p, true, &mut self.changes);

        // The newcomer's own view goes into its S_PlayerList, not into enters.
        let mut list = vec![Player {
            is_self: true,
            player_id,
            pos_x: p.x,
            pos_y: pos[1],
            pos_z: p.z,
        }];
        let mut changes = std::mem::take(&mut self.changes);
        changes.retain(|c| match *c {
            // Monsters it sees (keys below 0) are spawned after the list, by apply_changes.
            ViewChange::Spawn { target, watcher } if watcher == player_id && target > 0 => {
                if let Some(tp) = self.interest.pos(target) {
                    list.push(Player {
                        is_self: false,
                        player_id: target,
                        pos_x: tp.x,
                        pos_y: self.y_of(target),
                        pos_z: tp.z,
                    });
                }
                false
            }
            _ => true,
        });
        self.changes = changes;
        self.send_list(player_id, &link, &list);
        // As in the room, the newcomer's enter reaches the newcomer too, with its position.
        if let Some(frame) = self.batch.encode(&SBroadcastEnterGame {
            player_id,
            pos_x: p.x,
            pos_y: pos[1],
            pos_z: p.z,
        }) {
            self.batch.queue(player_id, frame);
        }
        self.apply_changes(None);
        self.sync_ghosts(player_id);
    }

    fn input(&mut self, player_id: i32, seq: u64, input: PlayerInput) {
        let Some(owned) = self.owned.get_mut(&player_id) else {
            if let Some(&Forward { to, .. }) = self.forwarded.get(&player_id) {
                self.stats.forwarded_inputs.fetch_add(1, Ordering::Relaxed);
                self.send_msg(
                    to,
                    RegionMsg::ForwardInput {
                        from: self.id,
                        player_id,
                        seq,
                        input,
                    },
                );
            }
            return;
        };
        if seq < owned.next_seq {
            self.stats.inputs_stale.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if seq == owned.next_seq && owned.held.is_empty() {
            // The usual case, an input in order with none held: applied without passing
            // through the reorder map.
            owned.next_seq = seq + 1;
            owned.last_seq = seq;
            self.apply(player_id, input);
            return;
        }
        owned.held.insert(seq, input);
        if owned.held.len() > REORDER_CAP {
            if let Some(&first) = owned.held.keys().next() {
                self.stats
                    .inputs_skipped
                    .fetch_add(first - owned.next_seq, Ordering::Relaxed);
                owned.next_seq = first;
            }
        }
        // Apply every input now in sequence. One may hand the player on, which forwards the
        // rest; the loop then finds it no longer owned and stops.
        loop {
            let Some(owned) = self.owned.get_mut(&player_id) else {
                return;
            };
            let next = owned.next_seq;
            let Some(input) = owned.held.remove(&next) else {
                return;
            };
            owned.next_seq = next + 1;
            owned.last_seq = next;
            self.apply(player_id, input);
        }
    }

    fn apply(&mut self, player_id: i32, input: PlayerInput) {
        match input {
            PlayerInput::Move { pos } => self.apply_move(player_id, pos),
            PlayerInput::Chat { message } => self.apply_chat(player_id, message),
            PlayerInput::Rejoin => self.rejoin(player_id),
            PlayerInput::Skipped => {
                self.stats.inputs_shed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn apply_move(&mut self, player_id: i32, pos: [f32; 3]) {
        let Some(from) = self.interest.pos(player_id) else {
            return;
        };
        let (to, verdict) = self.layout.constrain(
            from,
            Pos {
                x: pos[0],
                z: pos[2],
            },
        );
        match verdict {
            MoveVerdict::Accepted => {}
            MoveVerdict::ClampedToMap => {
                self.stats.clamped_to_map.fetch_add(1, Ordering::Relaxed);
            }
            MoveVerdict::StepLimited => {
                self.stats.step_limited.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(owned) = self.owned.get_mut(&player_id) {
            owned.y = pos[1];
        }
        self.interest.set_pos(player_id, to, &mut self.changes);
        // Watchers who just got the spawn have the new position already.
        let mut fresh = std::mem::take(&mut self.fresh);
        fresh.clear();
        fresh.extend(self.changes.iter().filter_map(|c| match *c {
            ViewChange::Spawn { target, watcher } if target == player_id => Some(watcher),
            _ => None,
        }));
        self.apply_changes(None);
        if let Some(frame) = self.batch.encode(&SBroadcastMove {
            player_id,
            pos_x: to.x,
            pos_y: pos[1],
            pos_z: to.z,
        }) {
            self.batch.queue(player_id, frame);
            for w in self.interest.watchers(player_id) {
                if !fresh.contains(&w) {
                    self.batch.queue(w, frame);
                }
            }
        }
        self.fresh = fresh;
        if let Some(link) = self.links.get(&player_id) {
            link.moved([to.x, pos[1], to.z]);
        }
        self.sync_ghosts(player_id);
        let home = self.layout.region_of(to.x);
        if home != self.id && has_region(self.reachable, home) {
            self.hand_off(player_id, home);
        }
    }

    fn apply_chat(&mut self, player_id: i32, message: String) {
        if let Some(frame) = self.batch.encode(&SChat { player_id, message }) {
            self.batch.queue(player_id, frame);
            for w in self.interest.watchers(player_id) {
                self.batch.queue(w, frame);
            }
        }
    }

    fn leave(&mut self, player_id: i32) {
        if self.owned.remove(&player_id).is_some() {
            self.room_stats.players.fetch_sub(1, Ordering::Relaxed);
            self.interest.remove(player_id, &mut self.changes);
            self.apply_changes(Some(player_id));
            // Its session is closing: what was queued for it is not worth sending.
            let _ = self.batch.take(player_id);
            self.links.remove(&player_id);
            self.bury(player_id);
            let from = self.id;
            self.tell_others(|| RegionMsg::PlayerGone { from, player_id });
        } else if let Some(Forward { to, .. }) = self.forwarded.remove(&player_id) {
            self.send_msg(
                to,
                RegionMsg::ForwardLeave {
                    from: self.id,
                    player_id,
                },
            );
        }
    }

    /// Turns the view changes of the last interest call into frames. `gone` is a player
    /// whose session is closing: nothing is queued for it.
    fn apply_changes(&mut self, gone: Option<i32>) {
        let changes = std::mem::take(&mut self.changes);
        for change in &changes {
            match *change {
                ViewChange::Spawn { target, watcher } if target < 0 => {
                    if Some(watcher) != gone {
                        self.show_monster(watcher, target);
                    }
                }
                ViewChange::Despawn { target, watcher } if target < 0 => {
                    if Some(watcher) != gone {
                        self.hide_monster(watcher, target);
                    }
                }
                ViewChange::Spawn { target, watcher } => {
                    if Some(watcher) == gone {
                        continue;
                    }
                    let Some(p) = self.interest.pos(target) else {
                        continue;
                    };
                    let y = self.y_of(target);
                    if let Some(frame) = self.batch.encode(&SBroadcastEnterGame {
                        player_id: target,
                        pos_x: p.x,
                        pos_y: y,
                        pos_z: p.z,
                    }) {
                        self.stats.spawns.fetch_add(1, Ordering::Relaxed);
                        self.batch.queue(watcher, frame);
                    }
                }
                ViewChange::Despawn { target, watcher } => {
                    if Some(watcher) == gone {
                        continue;
                    }
                    if let Some(frame) = self
                        .batch
                        .encode(&SBroadcastLeaveGame { player_id: target })
                    {
                        self.stats.despawns.fetch_add(1, Ordering::Relaxed);
                        self.batch.queue(watcher, frame);
                        self.pending_despawns
                            .entry(target)
                            .or_default()
                            .push(watcher);
                    }
                }
            }
        }
        let mut changes = changes;
        changes.clear();
        self.changes = changes;
    }

    fn y_of(&self, id: i32) -> f32 {
        self.owned
            .get(&id)
            .map(|o| o.y)
            .or_else(|| self.ghosts.get(&id).map(|g| g.y))
            .unwrap_or(0.0)
    }

    fn flush_one(&mut self, to: i32) {
        if let Some((frame, frames)) = self.batch.take(to) {
            if let Some(link) = self.links.get(&to) {
                let r = Ordering::Relaxed;
                self.room_stats.packets_out.fetch_add(frames as u64, r);
                self.room_stats.bytes_out.fetch_add(frame.len() as u64, r);
                link.send(frame);
            }
        }
    }

    /// Sends `player_id` its `S_PlayerList` of `list` straight to `link`, ahead of anything
    /// batched for it (its enter, or its rejoin).
    fn send_list(&self, player_id: i32, link: &L, list: &[Player]) {
        for frame in player_lists(list) {
            match frame {
                Ok(frame) => {
                    self.count_direct(&frame);
                    link.send(frame);
                }
                Err(e) => tracing::error!(player_id, error = %e, "S_PlayerList did not encode"),
            }
        }
    }

    fn count_direct(&self, frame: &Bytes) {
        self.room_stats.packets_out.fetch_add(1, Ordering::Relaxed);
        self.room_stats
            .bytes_out
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
    }

    /// Sends every other region the message `msg` makes.
    fn tell_others(&mut self, msg: impl Fn() -> RegionMsg) {
        for r in 0..self.layout.regions() as RegionId {
            if r != self.id {
                self.send_msg(r, msg());
            }
        }
    }

    fn send_msg(&mut self, to: RegionId, msg: RegionMsg) {
        self.stats.region_msgs.fetch_add(1, Ordering::Relaxed);
        self.outgoing.push(Outgoing::Msg(to, msg));
    }

    fn bury(&mut self, player_id: i32) {
        if self.gone.insert(player_id) {
            self.gone_order.push_back(player_id);
            if self.gone_order.len() > TOMBSTONES {
                if let Some(old) = self.gone_order.pop_front() {
                    self.gone.remove(&old);
                }
            }
        }
    }
}

mod monsters;
mod peers;
mod recovery;
mod rejoin;
#[cfg(test)]
mod tests;
