//! What a region is asked to do: [`RegionJob`]s from sessions and [`RegionMsg`]s from the
//! other regions.
//!
//! `RegionMsg` is the protocol between regions. It is plain data (ids, positions, sequence
//! numbers; no session handles, no pointers), and each message says who sent it and about
//! whom, so the same messages could be encoded and sent between processes. Ordering rules:
//! - a player's inputs carry the sequence number its session gave them; the owner applies
//!   them in that order whatever path they took (a region that handed the player on forwards
//!   late inputs, which may then overtake or trail the session's newer ones);
//! - ghost updates and removals carry the sequence number of the input that produced them,
//!   so a stale one (from an older owner, or overtaken) is recognised and ignored.

use crossbeam_channel::Sender;

use crate::game::ai::Herd;
use crate::game::map::MonsterDot;
use crate::game::world::geometry::RegionId;

/// What a player asked for, numbered by its session.
#[derive(Debug, Clone, PartialEq)]
pub enum PlayerInput {
    /// `C_Move` (already checked finite; the region applies the map and step rules).
    Move {
        /// Requested position (x, y, z).
        pos: [f32; 3],
    },
    /// `C_Chat`, already checked against the length limit; heard by those who see the
    /// speaker.
    Chat {
        /// The line.
        message: String,
    },
    /// The player's connection dropped and a login took its character back within the
    /// reconnect grace: the owner sends the new connection its player list and tells every
    /// other region to send it the truth about their own players (`RegionMsg::Rejoin`).
    /// Numbered like any input, so it reaches the owner whatever hand-off is under way.
    Rejoin,
    /// An input shed on its way because its region was too far behind (a region takes at
    /// most so many bytes of jobs from other nodes): it keeps its sequence number, so the
    /// owner applies the inputs after it at once instead of waiting for it, and does
    /// nothing else.
    Skipped,
}

/// A message from one region to another.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionMsg {
    /// The sender owns `player_id`, which is near the receiver's stripe: here is where it is.
    /// The receiver keeps it as a ghost, a watcher of its own players.
    GhostUpdate {
        /// The owner.
        from: RegionId,
        /// The player.
        player_id: i32,
        /// Sequence number of the input that put it there (0 on entering).
        seq: u64,
        /// Position (x, y, z).
        pos: [f32; 3],
    },
    /// The player moved away from the receiver's stripe: forget the ghost.
    GhostRemove {
        /// The owner.
        from: RegionId,
        /// The player.
        player_id: i32,
        /// Sequence number of the input that moved it away.
        seq: u64,
    },
    /// The player crossed into the receiver's stripe: the receiver owns it from now on.
    Handoff {
        /// The old owner.
        from: RegionId,
        /// The player.
        player_id: i32,
        /// Its position (x, y, z) after the crossing move.
        pos: [f32; 3],
        /// The sequence number of the next input to apply.
        next_seq: u64,
        /// Who sees it now: they keep seeing it, with no despawn and spawn.
        watchers: Vec<i32>,
        /// Regions that hold it as a ghost now (bit `k` for region `k`).
        ghosted_to: u64,
    },
    /// An input for a player the sender no longer owns, passed on to its new owner.
    ForwardInput {
        /// The region passing it on.
        from: RegionId,
        /// The player.
        player_id: i32,
        /// The input's sequence number.
        seq: u64,
        /// The input.
        input: PlayerInput,
    },
    /// The player's leave, passed on to its owner.
    ForwardLeave {
        /// The region passing it on.
        from: RegionId,
        /// The player.
        player_id: i32,
    },
    /// The player took its character back over a new connection (see
    /// `PlayerInput::Rejoin`): the receiver sends it from now on through its new link, and
    /// first shows it the receiver's own players it sees.
    Rejoin {
        /// Its owner, which has sent the new connection its player list.
        from: RegionId,
        /// The player.
        player_id: i32,
    },
    /// The player left the world: forget its ghost and any forwarding entry.
    PlayerGone {
        /// Its last owner.
        from: RegionId,
        /// The player.
        player_id: i32,
    },
}

/// A region's players and bounds, for the admin's live map.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionSnapshot {
    /// The region.
    pub region: RegionId,
    /// Its stripe: x from `min_x` (inclusive) to `max_x`, z over the whole map.
    pub min_x: f32,
    /// East edge of the stripe.
    pub max_x: f32,
    /// South edge (the map's).
    pub min_z: f32,
    /// North edge (the map's).
    pub max_z: f32,
    /// Players it owns.
    pub owned: usize,
    /// Ghosts it holds.
    pub ghosts: usize,
    /// At most the K asked for: (player id, x, z) of owned players.
    pub players: Vec<(i32, f32, f32)>,
    /// Its living monsters.
    pub monster_count: usize,
    /// At most K of them.
    pub monsters: Vec<MonsterDot>,
}

/// A job for a region's queue.
#[derive(Debug)]
pub enum RegionJob {
    /// A player enters at `pos` (its session chose the region from the spawn point). Its
    /// session is found in the directory.
    Enter {
        /// The player.
        player_id: i32,
        /// Spawn point (x, y, z).
        pos: [f32; 3],
    },
    /// A player's input, numbered by its session.
    Input {
        /// The player.
        player_id: i32,
        /// Sequence number, 0, 1, 2, ... per player.
        seq: u64,
        /// The input.
        input: PlayerInput,
    },
    /// A player leaves (`C_LeaveGame` or disconnect).
    Leave {
        /// The player.
        player_id: i32,
    },
    /// A message from another region.
    Peer(RegionMsg),
    /// In a cluster: the process running `regions` is lost (dead, or this process lost
    /// NATS). Drop the ghosts those regions owned (despawning them for this region's players
    /// who may see them), let the players whose sessions that process held (`gateway`)
    /// leave, and forget hand-off forwarding to those regions.
    NodeLost {
        /// The lost process's node id: its players' sessions are gone.
        gateway: Option<u16>,
        /// Its regions.
        regions: u64,
    },
    /// In a cluster: a process (re)joined; send every neighbour a fresh ghost of each owned
    /// player near it (a full resync of the borders).
    Resync,
    /// Answer on `reply` with the highest id of node `gateway`'s range that this region
    /// knows (owned, a ghost, forwarded or buried), 0 for none: a node that restarts with
    /// the same id numbers its players above every id the cluster still remembers.
    HighestId {
        /// The node whose range is asked about.
        gateway: u16,
        /// Where the answer goes; a dropped receiver is fine.
        reply: Sender<i32>,
    },
    /// Take these monsters (see `region/monsters.rs`). Sent once, when the world starts,
    /// before any player can enter.
    Monsters(Box<Herd>),
    /// Answer with a snapshot of at most `max_players` players on `reply`.
    Snapshot {
        /// K.
        max_players: usize,
        /// Where the answer goes; a dropped receiver is fine.
        reply: Sender<RegionSnapshot>,
    },
}
