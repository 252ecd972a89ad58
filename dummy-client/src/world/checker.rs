//! `Checker`: what one bot receives in world mode, checked frame by frame. Sans-IO.
//!
//! Bots put the sequence number of each move in its `posY` (the world is flat; the server
//! carries y through untouched), so a receiver knows exactly which move of a sender each
//! `S_BroadcastMove`, `S_BroadcastEnterGame` or `S_PlayerList` entry shows. The rules:
//! - a move, or a despawn, of a player not spawned for this bot is a violation;
//! - a spawn of a player already spawned for it is a violation;
//! - a spawn or move from farther than the outer radius (plus what the receiver itself may
//!   have walked while the server still knew its older position) is a violation;
//! - a spawn, move or despawn before the bot's `S_PlayerList` is a violation: the list
//!   comes first, on a first connection as on a rejoin;
//! - a player whose connection dropped is parked, standing, by the server's reconnect grace
//!   (churn, see `driver/churn.rs`): a despawn of it while the receiver is well inside its
//!   view, or a spawn of it while in view, is a violation (the server let it leave or enter
//!   again instead of keeping it).
//!
//! Monsters (`S_MonsterSpawn`, `S_MonsterMove`, `S_MonsterDespawn`, their own id space):
//! - a move or despawn of a monster not spawned for this bot, or a spawn of one already
//!   spawned, is a violation (`monster_not_in_view`, `monster_spawn_in_view`);
//! - a spawn or move from farther than the outer radius (with the same slack as players) is
//!   `monster_beyond_outer`; anything about a monster before the list is `before_list`;
//! - a spawn with hit points that are not 1..=max is `monster_bad_hp` (the dead are not
//!   shown).

use serde::Serialize;

use crate::world::runs::SeqRuns;
use rustc_hash::FxHashMap;

/// Violations by kind. Any one fails the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Violations {
    /// `S_BroadcastMove` of a player not in view.
    pub move_not_in_view: u64,
    /// `S_BroadcastEnterGame` of a player already in view.
    pub spawn_in_view: u64,
    /// `S_BroadcastLeaveGame` of a player not in view.
    pub despawn_not_in_view: u64,
    /// A spawn or move from beyond the outer radius.
    pub beyond_outer: u64,
    /// A second `S_PlayerList`, or one without exactly one self entry.
    pub bad_list: u64,
    /// A `posY` that is not a move sequence number.
    pub bad_seq: u64,
    /// A spawn, move or despawn before the `S_PlayerList`.
    pub before_list: u64,
    /// `S_BroadcastLeaveGame` of a parked player (its connection dropped; the server keeps
    /// it standing) while the receiver was within the inner radius of it, less the lag
    /// slack: a correct server keeps it in view there, so it left instead of being kept.
    pub parked_left: u64,
    /// `S_BroadcastEnterGame` of a parked player the receiver had in view: it entered again
    /// instead of being kept (counted here, not as `spawn_in_view`).
    pub parked_entered: u64,
    /// `S_MonsterMove` or `S_MonsterDespawn` of a monster not in view.
    pub monster_not_in_view: u64,
    /// `S_MonsterSpawn` of a monster already in view.
    pub monster_spawn_in_view: u64,
    /// A monster's spawn or move from beyond the outer radius.
    pub monster_beyond_outer: u64,
    /// `S_MonsterSpawn` with hit points outside 1..=max.
    pub monster_bad_hp: u64,
}

impl Violations {
    /// All kinds together.
    pub fn total(&self) -> u64 {
        self.move_not_in_view
            + self.spawn_in_view
            + self.despawn_not_in_view
            + self.beyond_outer
            + self.bad_list
            + self.bad_seq
            + self.before_list
            + self.parked_left
            + self.parked_entered
            + self.monster_not_in_view
            + self.monster_spawn_in_view
            + self.monster_beyond_outer
            + self.monster_bad_hp
    }

    /// Adds `other` in.
    pub fn add(&mut self, other: &Violations) {
        self.move_not_in_view += other.move_not_in_view;
        self.spawn_in_view += other.spawn_in_view;
        self.despawn_not_in_view += other.despawn_not_in_view;
        self.beyond_outer += other.beyond_outer;
        self.bad_list += other.bad_list;
        self.bad_seq += other.bad_seq;
        self.before_list += other.before_list;
        self.parked_left += other.parked_left;
        self.parked_entered += other.parked_entered;
        self.monster_not_in_view += other.monster_not_in_view;
        self.monster_spawn_in_view += other.monster_spawn_in_view;
        self.monster_beyond_outer += other.monster_beyond_outer;
        self.monster_bad_hp += other.monster_bad_hp;
    }
}

/// Frames received, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    /// Moves of other players.
    pub moves: u64,
    /// Echoes of this bot's own moves.
    pub own_moves: u64,
    /// Other players coming into view.
    pub spawns: u64,
    /// Other players going out of view.
    pub despawns: u64,
    /// Monsters coming into view.
    pub monster_spawns: u64,
    /// Monsters' moves.
    pub monster_moves: u64,
    /// Monsters going out of view.
    pub monster_despawns: u64,
}

/// What one bot knows of one other player.
#[derive(Debug, Default)]
struct Peer {
    /// Spawned for this bot and not despawned since.
    in_view: bool,
    /// The player's move sequence numbers shown to this bot (by a move or a spawn).
    seen: SeqRuns,
}

/// One bot's receive-side state.
///
/// Owned by the bot's session and touched only by its task, one frame at a time, so it
/// takes no lock; the driver reads it once the session has ended (see `bot.rs`).
#[derive(Debug)]
pub struct Checker {
    me: Option<i32>,
    /// Outer radius plus the receiver's possible lag, squared.
    far2: f32,
    /// Every player this bot was ever shown, whether in view now and which of its moves it
    /// saw: one lookup per frame finds both, with a one-multiply hash (see `ids.rs`).
    /// Entries stay after a despawn, as the moves seen must, so this grows with the
    /// distinct players the bot is shown (as the view and move sets it replaces did), not
    /// with its frames.
    peers: FxHashMap<i32, Peer>,
    /// The monsters in view now.
    monsters: rustc_hash::FxHashSet<i32>,
    /// Violations so far.
    pub violations: Violations,
    /// Frames so far.
    pub received: Received,
}

/// Largest sequence number an f32 holds exactly.
const MAX_SEQ: f32 = (1u32 << 24) as f32;

/// The move sequence number `y` carries, if it is one.
pub(crate) fn seq_of(y: f32) -> Option<u32> {
    ((0.0..MAX_SEQ).contains(&y) && y.fract() == 0.0).then_some(y as u32)
}

impl Checker {
    /// A checker for a bot that flags frames from farther than `far` of where it is.
    pub fn new(far: f32) -> Self {
        Checker {
            me: None,
            far2: far * far,
            peers: FxHashMap::default(),
            monsters: Default::default(),
            violations: Violations::default(),
            received: Received::default(),
        }
    }

    /// This bot's player id, once its list named it.
    pub fn me(&self) -> Option<i32> {
        self.me
    }

    /// The sequence numbers of `sender`'s moves this bot was shown.
    pub fn seen(&self, sender: i32) -> Option<&SeqRuns> {
        self.peers.get(&sender).map(|p| &p.seen)
    }

    /// Every player this bot was shown, with the sequence numbers of its moves it saw.
    pub fn seen_all(&self) -> impl Iterator<Item = (i32, &SeqRuns)> + '_ {
        self.peers.iter().map(|(&id, p)| (id, &p.seen))
    }

    /// True if `id` is spawned for this bot now.
    pub fn in_view(&self, id: i32) -> bool {
        self.peers.get(&id).is_some_and(|p| p.in_view)
    }

    /// `S_PlayerList`: `(id, is_self, x, y, z)` per player; returns this bot's id and spawn
    /// point if the list is well formed.
    pub fn on_list(&mut self, players: &[(i32, bool, f32, f32, f32)]) -> Option<(i32, f32, f32)> {
        let mut selves = players.iter().filter(|p| p.1);
        let (Some(&(me, _, mx, _, mz)), None, None) = (selves.next(), selves.next(), self.me)
        else {
            self.violations.bad_list += 1;
            return None;
        };
        self.me = Some(me);
        for &(id, is_self, x, y, z) in players {
            if !is_self {
                self.spawn(id, x, y, z, (mx, mz), false);
            }
        }
        Some((me, mx, mz))
    }

    /// `S_BroadcastEnterGame`, with this bot's position as the run knows it.
    pub fn on_enter(&mut self, id: i32, x: f32, y: f32, z: f32, me_at: (f32, f32)) {
        self.enter(id, x, y, z, me_at, false);
    }

    /// `S_BroadcastEnterGame` of a player parked by the server's reconnect grace: as
    /// [`on_enter`](Self::on_enter), but a spawn of it in view is `parked_entered`.
    pub fn on_enter_of_parked(&mut self, id: i32, x: f32, y: f32, z: f32, me_at: (f32, f32)) {
        self.enter(id, x, y, z, me_at, true);
    }

    fn enter(&mut self, id: i32, x: f32, y: f32, z: f32, me_at: (f32, f32), parked: bool) {
        if self.me.is_none() {
            self.violations.before_list += 1;
        } else if Some(id) == self.me {
            return; // its own enter, as in the room
        }
        self.received.spawns += 1;
        self.spawn(id, x, y, z, me_at, parked);
    }

    fn spawn(&mut self, id: i32, x: f32, y: f32, z: f32, me_at: (f32, f32), parked: bool) {
        self.check_near(x, z, me_at);
        let seq = self.seq(y);
        let peer = self.peers.entry(id).or_default();
        if std::mem::replace(&mut peer.in_view, true) {
            if parked {
                self.violations.parked_entered += 1;
            } else {
                self.violations.spawn_in_view += 1;
            }
        }
        if let Some(seq) = seq {
            peer.seen.insert(seq);
        }
    }

    /// `S_BroadcastMove`.
    pub fn on_move(&mut self, id: i32, x: f32, y: f32, z: f32, me_at: (f32, f32)) {
        if Some(id) == self.me {
            self.received.own_moves += 1;
            return;
        }
        self.received.moves += 1;
        if self.me.is_none() {
            self.violations.before_list += 1;
        }
        self.check_near(x, z, me_at);
        let seq = self.seq(y);
        match self.peers.get_mut(&id) {
            Some(peer) => {
                if !peer.in_view {
                    self.violations.move_not_in_view += 1;
                }
                if let Some(seq) = seq {
                    peer.seen.insert(seq);
                }
            }
            None => {
                self.violations.move_not_in_view += 1;
                // Never shown: still note the move, so a move delivered without its spawn
                // counts as delivered (its violation is counted above).
                if let Some(seq) = seq {
                    self.peers.entry(id).or_default().seen.insert(seq);
                }
            }
        }
    }

    /// `S_BroadcastLeaveGame`.
    pub fn on_leave(&mut self, id: i32) {
        self.leave(id, false);
    }

    /// `S_BroadcastLeaveGame` of a player parked by the server's reconnect grace; `near`:
    /// this bot is within the inner radius of where it stands, less the lag slack, so a
    /// correct server keeps it in view.
    pub fn on_leave_of_parked(&mut self, id: i32, near: bool) {
        self.leave(id, near);
    }

    fn leave(&mut self, id: i32, kept: bool) {
        self.received.despawns += 1;
        if self.me.is_none() {
            self.violations.before_list += 1;
        }
        match self.peers.get_mut(&id) {
            Some(peer) if peer.in_view => {
                peer.in_view = false;
                if kept {
                    self.violations.parked_left += 1;
                }
            }
            _ => self.violations.despawn_not_in_view += 1,
        }
    }

    fn check_near(&mut self, x: f32, z: f32, me_at: (f32, f32)) {
        if self.is_far(x, z, me_at) {
            self.violations.beyond_outer += 1;
        }
    }

    fn is_far(&self, x: f32, z: f32, me_at: (f32, f32)) -> bool {
        let (dx, dz) = (x - me_at.0, z - me_at.1);
        let d2 = dx * dx + dz * dz;
        // NaN is as far as it gets.
        d2.is_nan() || d2 > self.far2
    }

    /// Monsters in view now.
    pub fn monsters_in_view(&self) -> usize {
        self.monsters.len()
    }

    /// `S_MonsterSpawn`, with this bot's position as the run knows it.
    pub fn on_monster_spawn(
        &mut self,
        id: i32,
        x: f32,
        z: f32,
        hp: i32,
        max_hp: i32,
        me_at: (f32, f32),
    ) {
        self.received.monster_spawns += 1;
        self.monster_frame(x, z, me_at);
        if !(1..=max_hp).contains(&hp) {
            self.violations.monster_bad_hp += 1;
        }
        if !self.monsters.insert(id) {
            self.violations.monster_spawn_in_view += 1;
        }
    }

    /// `S_MonsterMove`.
    pub fn on_monster_move(&mut self, id: i32, x: f32, z: f32, me_at: (f32, f32)) {
        self.received.monster_moves += 1;
        self.monster_frame(x, z, me_at);
        if !self.monsters.contains(&id) {
            self.violations.monster_not_in_view += 1;
        }
    }

    /// `S_MonsterDespawn`.
    pub fn on_monster_despawn(&mut self, id: i32) {
        self.received.monster_despawns += 1;
        if self.me.is_none() {
            self.violations.before_list += 1;
        }
        if !self.monsters.remove(&id) {
            self.violations.monster_not_in_view += 1;
        }
    }

    fn monster_frame(&mut self, x: f32, z: f32, me_at: (f32, f32)) {
        if self.me.is_none() {
            self.violations.before_list += 1;
        }
        if self.is_far(x, z, me_at) {
            self.violations.monster_beyond_outer += 1;
        }
    }

    /// The move sequence number `y` carries, if it is one to note: 0 is the spawn point,
    /// before any move; anything but a whole number in range is a violation.
    fn seq(&mut self, y: f32) -> Option<u32> {
        match seq_of(y) {
            Some(0) => None,
            Some(seq) => Some(seq),
            None => {
                self.violations.bad_seq += 1;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_well_formed_stream_has_no_violation() {
        let mut c = Checker::new(15.0);
        let at = (0.0, 0.0);
        assert_eq!(
            c.on_list(&[(1, true, 0.0, 0.0, 0.0), (2, false, 5.0, 3.0, 0.0)]),
            Some((1, 0.0, 0.0))
        );
        c.on_enter(1, 0.0, 0.0, 0.0, at);
        c.on_move(2, 6.0, 4.0, 0.0, at);
        c.on_move(1, 1.0, 1.0, 0.0, at);
        c.on_enter(3, -5.0, 9.0, 0.0, at);
        c.on_leave(2);
        assert_eq!(c.violations.total(), 0, "{:?}", c.violations);
        assert_eq!(
            c.seen(2).map(SeqRuns::len),
            Some(2),
            "seqs 3 and 4 of player 2"
        );
        assert_eq!(c.received.own_moves, 1);
    }

    #[test]
    fn each_kind_of_violation_is_counted() {
        let mut c = Checker::new(15.0);
        let at = (0.0, 0.0);
        c.on_list(&[(1, true, 0.0, 0.0, 0.0)]);
        c.on_move(2, 1.0, 1.0, 1.0, at);
        c.on_enter(3, 1.0, 1.0, 1.0, at);
        c.on_enter(3, 1.0, 2.0, 1.0, at);
        c.on_leave(4);
        c.on_enter(5, 100.0, 1.0, 0.0, at);
        c.on_move(5, 1.0, 0.5, 0.0, at);
        c.on_list(&[(1, true, 0.0, 0.0, 0.0)]);
        assert_eq!(
            c.violations,
            Violations {
                move_not_in_view: 1,
                spawn_in_view: 1,
                despawn_not_in_view: 1,
                beyond_outer: 1,
                bad_list: 1,
                bad_seq: 1,
                ..Violations::default()
            }
        );
    }

    #[test]
    fn monsters_are_checked_like_players_in_their_own_id_space() {
        let mut c = Checker::new(15.0);
        let at = (0.0, 0.0);
        c.on_list(&[(1, true, 0.0, 0.0, 0.0), (2, false, 3.0, 4.0, 0.0)]);
        // Monster 2 is not player 2.
        c.on_monster_spawn(2, 5.0, 0.0, 30, 30, at);
        c.on_monster_move(2, 6.0, 0.0, at);
        c.on_monster_despawn(2);
        assert_eq!(c.violations.total(), 0, "{:?}", c.violations);
        assert!(c.in_view(2), "the player is still there");
        c.on_monster_move(2, 6.0, 0.0, at);
        c.on_monster_despawn(3);
        c.on_monster_spawn(4, 5.0, 0.0, 0, 30, at);
        c.on_monster_spawn(4, 5.0, 0.0, 30, 30, at);
        c.on_monster_spawn(5, 50.0, 0.0, 31, 30, at);
        c.on_monster_move(4, f32::NAN, 0.0, at);
        assert_eq!(
            c.violations,
            Violations {
                monster_not_in_view: 2,
                monster_spawn_in_view: 1,
                monster_beyond_outer: 2,
                monster_bad_hp: 2,
                ..Violations::default()
            }
        );
        assert_eq!(c.monsters_in_view(), 2);
        assert_eq!(c.received.monster_spawns, 4);
    }

    #[test]
    fn frames_before_the_list_are_violations_and_still_counted() {
        let mut c = Checker::new(15.0);
        let at = (0.0, 0.0);
        c.on_enter(2, 1.0, 1.0, 0.0, at);
        c.on_move(2, 1.0, 2.0, 0.0, at);
        c.on_leave(2);
        assert_eq!(c.violations.before_list, 3, "{:?}", c.violations);
        assert_eq!(c.violations.total(), 3, "nothing else was wrong");
        c.on_list(&[(1, true, 0.0, 0.0, 0.0)]);
        c.on_enter(3, 1.0, 1.0, 0.0, at);
        assert_eq!(c.violations.total(), 3, "after the list, a spawn is fine");
    }

    #[test]
    fn a_parked_player_kept_in_view_is_fine_and_one_that_leaves_or_enters_again_is_not() {
        let mut c = Checker::new(15.0);
        let at = (0.0, 0.0);
        c.on_list(&[(1, true, 0.0, 0.0, 0.0), (2, false, 3.0, 4.0, 0.0)]);
        // Player 2 parked: far from it, the receiver may see it go and come back.
        c.on_leave_of_parked(2, false);
        c.on_enter_of_parked(2, 3.0, 4.0, 0.0, at);
        assert_eq!(c.violations.total(), 0, "{:?}", c.violations);
        // Near it, a leave is the server letting it go; a spawn in view, entering it again.
        c.on_enter_of_parked(2, 3.0, 4.0, 0.0, at);
        c.on_leave_of_parked(2, true);
        c.on_leave_of_parked(2, true);
        assert_eq!(
            c.violations,
            Violations {
                parked_entered: 1,
                parked_left: 1,
                despawn_not_in_view: 1,
                ..Violations::default()
            },
            "the second leave is of a player not in view, counted as that"
        );
        assert_eq!(c.violations.spawn_in_view, 0, "not counted twice");
    }

    #[test]
    fn every_player_seen_is_listed_with_its_moves() {
        let mut c = Checker::new(15.0);
        let at = (0.0, 0.0);
        c.on_list(&[(1, true, 0.0, 0.0, 0.0), (2, false, 3.0, 4.0, 0.0)]);
        c.on_move(2, 3.0, 5.0, 0.0, at);
        c.on_enter(3, 3.0, 9.0, 0.0, at);
        let mut all: Vec<(i32, u64)> = c.seen_all().map(|(id, s)| (id, s.len())).collect();
        all.sort_unstable();
        assert_eq!(all, [(2, 2), (3, 1)]);
    }

    #[test]
    fn a_despawned_player_keeps_its_moves_and_may_spawn_again() {
        let mut c = Checker::new(15.0);
        let at = (0.0, 0.0);
        c.on_list(&[(1, true, 0.0, 0.0, 0.0)]);
        c.on_enter(2, 1.0, 4.0, 0.0, at);
        c.on_move(2, 1.0, 5.0, 0.0, at);
        assert!(c.in_view(2));
        c.on_leave(2);
        assert!(!c.in_view(2));
        c.on_move(2, 1.0, 6.0, 0.0, at);
        assert_eq!(c.violations.move_not_in_view, 1, "a move after the despawn");
        c.on_leave(2);
        assert_eq!(c.violations.despawn_not_in_view, 1, "a second despawn");
        c.on_enter(2, 1.0, 9.0, 0.0, at);
        assert_eq!(
            c.violations.spawn_in_view, 0,
            "a spawn after a despawn is fine"
        );
        assert_eq!(c.seen(2).map(SeqRuns::len), Some(4), "seqs 4, 5, 6 and 9");
        assert_eq!(c.seen(3), None, "never shown");
        assert_eq!(c.violations.total(), 2);
    }

    #[test]
    fn a_move_of_a_never_shown_player_is_a_violation_but_still_seen() {
        let mut c = Checker::new(15.0);
        c.on_list(&[(1, true, 0.0, 0.0, 0.0)]);
        c.on_move(9, 0.0, 3.0, 0.0, (0.0, 0.0));
        c.on_move(9, 0.0, -1.0, 0.0, (0.0, 0.0));
        assert_eq!(c.violations.move_not_in_view, 2);
        assert_eq!(c.violations.bad_seq, 1);
        assert_eq!(c.seen(9).map(SeqRuns::len), Some(1));
        assert!(!c.in_view(9), "a move does not spawn");
    }

    /// The checker as it was written first, with a set for the view and a map for the moves
    /// seen (std's SipHash): the rules in their plainest form, for the property below.
    struct Reference {
        me: Option<i32>,
        far2: f32,
        view: HashSet<i32>,
        seen: HashMap<i32, SeqRuns>,
        violations: Violations,
        received: Received,
    }

    impl Reference {
        fn new(far: f32) -> Self {
            Reference {
                me: None,
                far2: far * far,
                view: HashSet::new(),
                seen: HashMap::new(),
                violations: Violations::default(),
                received: Received::default(),
            }
        }

        fn on_list(&mut self, players: &[(i32, bool, f32, f32, f32)]) -> Option<(i32, f32, f32)> {
            let selves: Vec<_> = players.iter().filter(|p| p.1).collect();
            if self.me.is_some() || selves.len() != 1 {
                self.violations.bad_list += 1;
                return None;
            }
            let (me, _, mx, _, mz) = *selves[0];
            self.me = Some(me);
            for &(id, is_self, x, y, z) in players {
                if !is_self {
                    self.spawn(id, x, y, z, (mx, mz));
                }
            }
            Some((me, mx, mz))
        }

        fn on_enter(&mut self, id: i32, x: f32, y: f32, z: f32, me_at: (f32, f32)) {
            if self.me.is_none() {
                self.violations.before_list += 1;
            }
            if Some(id) == self.me {
                return;
            }
            self.received.spawns += 1;
            self.spawn(id, x, y, z, me_at);
        }

        fn spawn(&mut self, id: i32, x: f32, y: f32, z: f32, me_at: (f32, f32)) {
            if !self.view.insert(id) {
                self.violations.spawn_in_view += 1;
            }
            self.check_near(x, z, me_at);
            self.note(id, y);
        }

        fn on_move(&mut self, id: i32, x: f32, y: f32, z: f32, me_at: (f32, f32)) {
            if Some(id) == self.me {
                self.received.own_moves += 1;
                return;
            }
            self.received.moves += 1;
            if self.me.is_none() {
                self.violations.before_list += 1;
            }
            if !self.view.contains(&id) {
                self.violations.move_not_in_view += 1;
            }
            self.check_near(x, z, me_at);
            self.note(id, y);
        }

        fn on_leave(&mut self, id: i32) {
            self.received.despawns += 1;
            if self.me.is_none() {
                self.violations.before_list += 1;
            }
            if !self.view.remove(&id) {
                self.violations.despawn_not_in_view += 1;
            }
        }

        fn check_near(&mut self, x: f32, z: f32, me_at: (f32, f32)) {
            let (dx, dz) = (x - me_at.0, z - me_at.1);
            if dx * dx + dz * dz > self.far2 {
                self.violations.beyond_outer += 1;
            }
        }

        fn note(&mut self, id: i32, y: f32) {
            match seq_of(y) {
                Some(0) => {}
                Some(seq) => self.seen.entry(id).or_default().insert(seq),
                None => self.violations.bad_seq += 1,
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Event {
        List(Vec<(i32, bool, f32, f32, f32)>),
        Enter(i32, f32, f32, f32),
        Move(i32, f32, f32, f32),
        Leave(i32),
    }

    fn y() -> impl Strategy<Value = f32> {
        prop_oneof![
            4 => (0u32..40).prop_map(|s| s as f32),
            1 => Just(0.5f32),
            1 => Just(-1.0f32),
            1 => Just(f32::NAN),
            1 => Just(MAX_SEQ),
        ]
    }

    fn event() -> impl Strategy<Value = Event> {
        let id = -2i32..12;
        let pos = -30.0f32..30.0;
        prop_oneof![
            1 => proptest::collection::vec((id.clone(), any::<bool>(), pos.clone(), y(), pos.clone()), 0..5)
                .prop_map(Event::List),
            4 => (id.clone(), pos.clone(), y(), pos.clone()).prop_map(|(i, x, y, z)| Event::Enter(i, x, y, z)),
            8 => (id.clone(), pos.clone(), y(), pos.clone()).prop_map(|(i, x, y, z)| Event::Move(i, x, y, z)),
            3 => id.prop_map(Event::Leave),
        ]
    }

    proptest! {
        /// Whatever the server sends, in whatever order, the checker counts exactly the
        /// violations and frames the plain version counts, and sees the same moves.
        #[test]
        fn the_checker_is_exactly_as_strict_as_the_plain_rules(
            events in proptest::collection::vec(event(), 0..200),
            at in (-10.0f32..10.0, -10.0f32..10.0),
        ) {
            let (mut c, mut r) = (Checker::new(20.0), Reference::new(20.0));
            for e in &events {
                match e.clone() {
                    Event::List(players) => {
                        prop_assert_eq!(c.on_list(&players), r.on_list(&players));
                    }
                    Event::Enter(i, x, y, z) => {
                        c.on_enter(i, x, y, z, at);
                        r.on_enter(i, x, y, z, at);
                    }
                    Event::Move(i, x, y, z) => {
                        c.on_move(i, x, y, z, at);
                        r.on_move(i, x, y, z, at);
                    }
                    Event::Leave(i) => {
                        c.on_leave(i);
                        r.on_leave(i);
                    }
                }
                prop_assert_eq!(c.violations, r.violations);
                prop_assert_eq!(c.received, r.received);
                prop_assert_eq!(c.me(), r.me);
            }
            for id in -2i32..12 {
                prop_assert_eq!(c.in_view(id), r.view.contains(&id));
                let empty = SeqRuns::default();
                prop_assert_eq!(
                    c.seen(id).unwrap_or(&empty),
                    r.seen.get(&id).unwrap_or(&empty)
                );
            }
        }
    }
}
