//! `Interest`: who sees whom, with hysteresis. Sans-IO: positions in, view changes out.
//!
//! The rule, for a **target** `t` (a player this region owns) and any other known player `w`
//! (a possible **watcher**, owned here or a ghost of a neighbouring region):
//! - `w` starts seeing `t` when their distance is at most the inner radius;
//! - `w` stops seeing `t` when their distance is more than the outer radius;
//! - in between, nothing changes, so a player walking along the edge does not flicker.
//!
//! The pair is evaluated whenever either of them moves, so after any sequence of moves,
//! enters and leaves, every target's watcher set satisfies the rule for the positions known
//! now (the property test at the bottom checks exactly that). Each change is reported once,
//! as a [`ViewChange`], for the caller to turn into packets. A player always sees itself;
//! that is not a watcher entry.
//!
//! An **object** (a monster) is a target that watches nothing: players see it by the same
//! rule, and it is never anyone's watcher. The caller keys objects apart from players (the
//! region uses negative ids for monsters, see `region/monsters.rs`).

use crate::game::world::geometry::Pos;
use crate::game::world::grid::Grid;
use crate::game::world::ids::IdMap;

/// A pair coming into or going out of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewChange {
    /// `watcher` starts seeing `target`: send it the target's spawn.
    Spawn {
        /// The player seen.
        target: i32,
        /// The player who sees it.
        watcher: i32,
    },
    /// `watcher` stops seeing `target`: send it the target's despawn.
    Despawn {
        /// The player no longer seen.
        target: i32,
        /// The player who saw it.
        watcher: i32,
    },
}

/// One player's row. Players live in slots (indexes into [`Interest`]'s tables, reused after
/// a player is removed), so the pairs of a move are checked through plain array reads; the
/// id is looked up in a hash map once per call, not once per pair.
#[derive(Debug, Default)]
struct Known {
    id: i32,
    /// Owned here: its watchers are kept here. The relation of a ghost's watchers lives in
    /// its owner region.
    target: bool,
    /// A player (it watches targets near it); false for an object, which only is seen.
    sees: bool,
    /// Slots of the players who see it (empty for a ghost). Unordered: a move never
    /// searches it (see [`Mark`]); only a change does, and a view change is rare next to a
    /// move.
    watchers: Vec<u32>,
    /// Slots of the targets this player sees: the reverse of `watchers`, so that a watcher
    /// who moves far away finds the targets it must drop without a map-wide search.
    watching: Vec<u32>,
}

/// Which pairs of the player being evaluated are in view, stamped with the evaluation's
/// number instead of cleared: a lookup per candidate without a hash set, and no clearing.
#[derive(Debug, Default, Clone, Copy)]
struct Mark {
    /// This slot sees the evaluated player.
    watches: u32,
    /// The evaluated player sees this slot.
    watched: u32,
}

/// The interest state of one region: every player it knows, where, and who sees whom.
#[derive(Debug)]
pub struct Interest {
    inner: f32,
    inner2: f32,
    outer2: f32,
    grid: Grid,
    slots: IdMap<u32>,
    known: Vec<Known>,
    /// Positions by slot, apart from the rows: the candidate scan reads only these.
    pos: Vec<Pos>,
    marks: Vec<Mark>,
    /// The current evaluation's number for `marks`.
    epoch: u32,
    free: Vec<u32>,
    /// Reused lists, so a move does not allocate.
    scratch: Vec<u32>,
}

impl Interest {
    /// No players yet. `half` is half the map's side, `cell` the grid's cell side.
    pub fn new(half: f32, cell: f32, inner: f32, outer: f32) -> Self {
        Interest {
            inner,
            inner2: inner * inner,
            outer2: outer * outer,
            grid: Grid::new(half, cell),
            slots: IdMap::default(),
            known: Vec::new(),
            pos: Vec::new(),
            marks: Vec::new(),
            epoch: 0,
            free: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Players known (owned and ghosts).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when no player is known.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether `id` is known.
    pub fn contains(&self, id: i32) -> bool {
        self.slots.contains_key(&id)
    }

    /// Where `id` is, if known.
    pub fn pos(&self, id: i32) -> Option<Pos> {
        self.slots.get(&id).map(|&s| self.pos[s as usize])
    }

    /// Whether `id` is a target (owned here).
    pub fn is_target(&self, id: i32) -> bool {
        self.slots
            .get(&id)
            .is_some_and(|&s| self.known[s as usize].target)
    }

    /// Who sees target `id` (empty for a ghost or an unknown id).
    pub fn watchers(&self, id: i32) -> impl Iterator<Item = i32> + '_ {
        let list: &[u32] = match self.slots.get(&id) {
            Some(&s) => &self.known[s as usize].watchers,
            None => &[],
        };
        list.iter().map(|&w| self.known[w as usize].id)
    }

    /// The targets (owned here) `watcher` sees.
    pub fn watching(&self, watcher: i32) -> impl Iterator<Item = i32> + '_ {
        let list: &[u32] = match self.slots.get(&watcher) {
            Some(&s) => &self.known[s as usize].watching,
            None => &[],
        };
        list.iter().map(|&t| self.known[t as usize].id)
    }

    /// Whether `watcher` sees target `target`.
    pub fn sees(&self, watcher: i32, target: i32) -> bool {
        match (self.slots.get(&watcher), self.slots.get(&target)) {
            (Some(w), Some(&t)) => self.known[t as usize].watchers.contains(w),
            _ => false,
        }
    }

    /// Every known player and its position.
    pub fn positions(&self) -> impl Iterator<Item = (i32, Pos, bool)> + '_ {
        self.slots.iter().map(|(&id, &s)| {
            let s = s as usize;
            (id, self.pos[s], self.known[s].target)
        })
    }

    /// Adds a player at `pos`, a target if `owned`, and evaluates it against everyone near.
    /// An id already known is only moved.
    pub fn insert(&mut self, id: i32, pos: Pos, owned: bool, out: &mut Vec<ViewChange>) {
        self.insert_row(id, pos, owned, true, out);
    }

    /// Adds an object at `pos`: a target the players near it see, that sees nothing. An id
    /// already known is only moved.
    pub fn insert_object(&mut self, id: i32, pos: Pos, out: &mut Vec<ViewChange>) {
        self.insert_row(id, pos, true, false, out);
    }

    /// The players (not objects) within `radius` of `pos` that `keep` accepts: the nearest,
    /// with its id and position. Ties go to the lower id, so the answer does not depend on
    /// the order of the grid's cells.
    pub fn nearest_player(
        &self,
        pos: Pos,
        radius: f32,
        keep: impl Fn(i32) -> bool,
    ) -> Option<(i32, Pos)> {
        let r2 = radius * radius;
        let mut best: Option<(f32, i32, Pos)> = None;
        self.grid.for_each_near(pos, radius, |slot| {
            let row = &self.known[slot as usize];
            if !row.sees {
                return;
            }
            let at = self.pos[slot as usize];
            let d2 = at.dist2(pos);
            if d2 > r2 || !keep(row.id) {
                return;
            }
            let better = match best {
                None => true,
                Some((bd, bid, _)) => d2 < bd || (d2 == bd && row.id < bid),
            };
            if better {
                best = Some((d2, row.id, at));
            }
        });
        best.map(|(_, id, at)| (id, at))
    }

    fn insert_row(
        &mut self,
        id: i32,
        pos: Pos,
        owned: bool,
        sees: bool,
        out: &mut Vec<ViewChange>,
    ) {
        if self.slots.contains_key(&id) {
            self.set_pos(id, pos, out);
            return;
        }
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.known.push(Known::default());
                self.pos.push(pos);
                self.marks.push(Mark::default());
                (self.known.len() - 1) as u32
            }
        };
        let row = &mut self.known[slot as usize];
        row.id = id;
        row.target = owned;
        row.sees = sees;
        self.pos[slot as usize] = pos;
        self.slots.insert(id, slot);
        self.grid.insert(slot, pos);
        self.evaluate(slot, out);
    }

    /// Moves a known player and evaluates every pair it is part of.
    pub fn set_pos(&mut self, id: i32, pos: Pos, out: &mut Vec<ViewChange>) {
        let Some(&slot) = self.slots.get(&id) else {
            return;
        };
        let from = std::mem::replace(&mut self.pos[slot as usize], pos);
        self.grid.relocate(slot, from, pos);
        self.evaluate(slot, out);
    }

    /// Forgets a player: it stops seeing every target and every watcher stops seeing it.
    pub fn remove(&mut self, id: i32, out: &mut Vec<ViewChange>) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        let s = slot as usize;
        self.grid.remove(slot, self.pos[s]);
        let watchers = std::mem::take(&mut self.known[s].watchers);
        for &w in &watchers {
            let watcher = &mut self.known[w as usize];
            drop_from(&mut watcher.watching, slot);
            out.push(ViewChange::Despawn {
                target: id,
                watcher: watcher.id,
            });
        }
        let watching = std::mem::take(&mut self.known[s].watching);
        for &t in &watching {
            let target = &mut self.known[t as usize];
            drop_from(&mut target.watchers, slot);
            out.push(ViewChange::Despawn {
                target: target.id,
                watcher: id,
            });
        }
        // The lists go back with their capacity, for the slot's next player.
        let row = &mut self.known[s];
        row.watchers = watchers;
        row.watchers.clear();
        row.watching = watching;
        row.watching.clear();
        row.target = false;
        row.sees = false;
        self.free.push(slot);
    }

    /// Makes a known player a target that `watchers` already see (a player handed over by a
    /// neighbouring region, with the view its old owner kept). No change is reported: those
    /// watchers were sent its spawn already. Returns the watchers this region does not know,
    /// which the caller must settle itself. Call [`Interest::set_pos`] afterwards to apply
    /// the rule to the pairs the old owner could not see.
    pub fn adopt(&mut self, id: i32, watchers: &[i32]) -> Vec<i32> {
        let Some(&slot) = self.slots.get(&id) else {
            return watchers
                .iter()
                .copied()
                .filter(|&w| w != id && !self.slots.contains_key(&w))
                .collect();
        };
        // A view it had as a target here is replaced, not merged.
        self.release(id);
        self.known[slot as usize].target = true;
        let epoch = self.next_epoch();
        let mut unknown = Vec::new();
        for &w in watchers {
            if w == id {
                continue;
            }
            match self.slots.get(&w) {
                // The list comes from another region: a repeated id is not a second pair.
                Some(&ws) if self.marks[ws as usize].watches != epoch => {
                    self.marks[ws as usize].watches = epoch;
                    self.link(slot, ws);
                }
                Some(_) => {}
                None => unknown.push(w),
            }
        }
        unknown
    }

    /// Makes a target a ghost, handing its watcher set to the caller (for its new owner)
    /// without reporting any change: its watchers keep seeing it.
    pub fn release(&mut self, id: i32) -> Vec<i32> {
        let Some(&slot) = self.slots.get(&id) else {
            return Vec::new();
        };
        let row = &mut self.known[slot as usize];
        if !row.target {
            return Vec::new();
        }
        row.target = false;
        let watchers = std::mem::take(&mut row.watchers);
        let mut ids = Vec::with_capacity(watchers.len());
        for &w in &watchers {
            let watcher = &mut self.known[w as usize];
            drop_from(&mut watcher.watching, slot);
            ids.push(watcher.id);
        }
        let mut watchers = watchers;
        watchers.clear();
        self.known[slot as usize].watchers = watchers;
        ids
    }

    /// Applies the rule to every pair `slot` is part of, as target and as watcher, in two
    /// passes: its pairs in view (the only ones that can go out of view), then the players
    /// within the inner radius (the only ones that can come into view). A pair cannot be in
    /// both (beyond the outer radius and within the inner), so each is decided once, and
    /// the many pairs in between are never touched.
    fn evaluate(&mut self, slot: u32, out: &mut Vec<ViewChange>) {
        let s = slot as usize;
        let (id, p) = (self.known[s].id, self.pos[s]);
        let epoch = self.next_epoch();
        let mut list = std::mem::take(&mut self.scratch);

        // Pass 1: despawns, and marks for the pairs that stay in view.
        list.clear();
        for &w in &self.known[s].watchers {
            if self.pos[w as usize].dist2(p) > self.outer2 {
                list.push(w);
            } else {
                self.marks[w as usize].watches = epoch;
            }
        }
        for &w in &list {
            self.unlink(slot, w);
            out.push(ViewChange::Despawn {
                target: id,
                watcher: self.known[w as usize].id,
            });
        }
        list.clear();
        for &t in &self.known[s].watching {
            if self.pos[t as usize].dist2(p) > self.outer2 {
                list.push(t);
            } else {
                self.marks[t as usize].watched = epoch;
            }
        }
        for &t in &list {
            self.unlink(t, slot);
            out.push(ViewChange::Despawn {
                target: self.known[t as usize].id,
                watcher: id,
            });
        }

        // Pass 2: spawns, for pairs within the inner radius not marked as in view.
        list.clear();
        let (pos, inner2) = (&self.pos, self.inner2);
        self.grid.for_each_near(p, self.inner, |other| {
            if other != slot && pos[other as usize].dist2(p) <= inner2 {
                list.push(other);
            }
        });
        let (is_target, sees) = (self.known[s].target, self.known[s].sees);
        for &o in &list {
            let mark = self.marks[o as usize];
            if is_target && mark.watches != epoch && self.known[o as usize].sees {
                self.link(slot, o);
                out.push(ViewChange::Spawn {
                    target: id,
                    watcher: self.known[o as usize].id,
                });
            }
            if sees && self.known[o as usize].target && mark.watched != epoch {
                self.link(o, slot);
                out.push(ViewChange::Spawn {
                    target: self.known[o as usize].id,
                    watcher: id,
                });
            }
        }
        self.scratch = list;
    }

    /// A fresh number for [`Mark`]s: no slot carries it yet.
    fn next_epoch(&mut self) -> u32 {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Once per 2^32 evaluations the stamps could collide with old ones: reset them.
            self.marks.fill(Mark::default());
            self.epoch = 1;
        }
        self.epoch
    }

    fn link(&mut self, target: u32, watcher: u32) {
        self.known[target as usize].watchers.push(watcher);
        self.known[watcher as usize].watching.push(target);
    }

    fn unlink(&mut self, target: u32, watcher: u32) {
        drop_from(&mut self.known[target as usize].watchers, watcher);
        drop_from(&mut self.known[watcher as usize].watching, target);
    }

    /// Checks the rule and the reverse index for every pair; for tests.
    #[cfg(test)]
    pub(crate) fn check_rule(&self) -> Result<(), String> {
        let live = |s: u32| self.slots.get(&self.known[s as usize].id) == Some(&s);
        for (&t, &ts) in &self.slots {
            let tk = &self.known[ts as usize];
            if tk.id != t {
                return Err(format!("slot {ts} of {t} holds {}", tk.id));
            }
            for list in [&tk.watchers, &tk.watching] {
                let mut sorted = list.clone();
                sorted.sort_unstable();
                sorted.dedup();
                if sorted.len() != list.len() {
                    return Err(format!("{t} lists a pair twice"));
                }
                if !list.iter().all(|&s| live(s)) {
                    return Err(format!("{t} lists a player no longer known"));
                }
            }
            if !tk.target {
                if !tk.watchers.is_empty() {
                    return Err(format!("ghost {t} has watchers"));
                }
                continue;
            }
            for (&w, &ws) in &self.slots {
                if w == t {
                    continue;
                }
                let seen = tk.watchers.contains(&ws);
                if !self.known[ws as usize].sees {
                    if seen {
                        return Err(format!("object {w} watches {t}"));
                    }
                    continue;
                }
                let d2 = self.pos[ts as usize].dist2(self.pos[ws as usize]);
                if d2 <= self.inner2 && !seen {
                    return Err(format!(
                        "{w} is within the inner radius of {t} but does not see it"
                    ));
                }
                if d2 > self.outer2 && seen {
                    return Err(format!("{w} is beyond the outer radius of {t} but sees it"));
                }
                if seen != self.known[ws as usize].watching.contains(&ts) {
                    return Err(format!("reverse index of ({t}, {w}) out of step"));
                }
            }
        }
        for (&w, &ws) in &self.slots {
            let wk = &self.known[ws as usize];
            if wk
                .watching
                .iter()
                .any(|&t| !self.known[t as usize].watchers.contains(&ws))
            {
                return Err(format!(
                    "{w} claims to watch a target that does not list it"
                ));
            }
        }
        if self.grid.len() != self.slots.len() {
            return Err("grid and player table disagree".into());
        }
        Ok(())
    }
}

/// Removes `slot` from an unordered list.
fn drop_from(list: &mut Vec<u32>, slot: u32) {
    if let Some(at) = list.iter().position(|&s| s == slot) {
        list.swap_remove(at);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn interest() -> Interest {
        Interest::new(50.0, 10.0, 10.0, 15.0)
    }

    fn at(x: f32, z: f32) -> Pos {
        Pos { x, z }
    }

    #[test]
    fn a_player_comes_into_view_inside_the_inner_radius_and_leaves_beyond_the_outer() {
        let mut i = interest();
        let mut out = Vec::new();
        i.insert(1, at(0.0, 0.0), true, &mut out);
        i.insert(2, at(12.0, 0.0), true, &mut out);
        assert!(
            out.is_empty(),
            "12 apart is outside the inner radius 10: {out:?}"
        );
        i.set_pos(2, at(9.0, 0.0), &mut out);
        assert_eq!(
            out,
            vec![
                ViewChange::Spawn {
                    target: 2,
                    watcher: 1
                },
                ViewChange::Spawn {
                    target: 1,
                    watcher: 2
                }
            ]
        );
        out.clear();
        // Walking back and forth between the radii: no flicker.
        for x in [12.0, 14.9, 11.0, 15.0] {
            i.set_pos(2, at(x, 0.0), &mut out);
        }
        assert!(out.is_empty(), "between the radii nothing changes: {out:?}");
        i.set_pos(2, at(15.1, 0.0), &mut out);
        assert_eq!(
            out.len(),
            2,
            "beyond the outer radius both stop seeing each other"
        );
        assert!(out.iter().all(|c| matches!(c, ViewChange::Despawn { .. })));
    }

    #[test]
    fn a_ghost_is_a_watcher_but_never_a_target() {
        let mut i = interest();
        let mut out = Vec::new();
        i.insert(1, at(0.0, 0.0), true, &mut out);
        i.insert(9, at(1.0, 0.0), false, &mut out);
        assert_eq!(
            out,
            vec![ViewChange::Spawn {
                target: 1,
                watcher: 9
            }]
        );
        assert!(!i.is_target(9));
        out.clear();
        i.remove(9, &mut out);
        assert_eq!(
            out,
            vec![ViewChange::Despawn {
                target: 1,
                watcher: 9
            }]
        );
        assert_eq!(i.check_rule(), Ok(()));
    }

    #[test]
    fn release_then_adopt_moves_a_view_without_a_change() {
        let mut i = interest();
        let mut out = Vec::new();
        i.insert(1, at(0.0, 0.0), true, &mut out);
        i.insert(2, at(5.0, 0.0), false, &mut out);
        out.clear();
        let watchers = i.release(1);
        assert_eq!(watchers, vec![2]);
        assert!(!i.sees(2, 1));
        assert_eq!(i.adopt(1, &[2, 77]), vec![77], "77 is not known here");
        i.set_pos(1, at(1.0, 0.0), &mut out);
        assert!(out.is_empty(), "no spurious despawn or spawn: {out:?}");
        assert!(i.sees(2, 1));
    }

    #[test]
    fn an_object_is_seen_by_the_rule_and_sees_nothing() {
        let mut i = interest();
        let mut out = Vec::new();
        i.insert_object(-1, at(0.0, 0.0), &mut out);
        i.insert_object(-2, at(1.0, 0.0), &mut out);
        assert!(out.is_empty(), "objects do not see each other: {out:?}");
        i.insert(7, at(5.0, 0.0), false, &mut out);
        let mut spawns = out.clone();
        spawns.sort_by_key(|c| match *c {
            ViewChange::Spawn { target, .. } | ViewChange::Despawn { target, .. } => target,
        });
        assert_eq!(
            spawns,
            vec![
                ViewChange::Spawn {
                    target: -2,
                    watcher: 7
                },
                ViewChange::Spawn {
                    target: -1,
                    watcher: 7
                }
            ],
            "a ghost player sees both; neither object watches it"
        );
        assert_eq!(i.watching(-1).count(), 0);
        out.clear();
        i.set_pos(-1, at(30.0, 0.0), &mut out);
        assert_eq!(
            out,
            vec![ViewChange::Despawn {
                target: -1,
                watcher: 7
            }]
        );
        assert_eq!(i.check_rule(), Ok(()));
    }

    #[test]
    fn the_nearest_player_skips_objects_and_what_the_caller_refuses() {
        let mut i = interest();
        let mut out = Vec::new();
        i.insert_object(-1, at(0.5, 0.0), &mut out);
        i.insert(3, at(4.0, 0.0), true, &mut out);
        i.insert(2, at(-4.0, 0.0), false, &mut out);
        i.insert(5, at(2.0, 0.0), true, &mut out);
        let near = |keep: &dyn Fn(i32) -> bool| {
            i.nearest_player(at(0.0, 0.0), 6.0, keep).map(|(id, _)| id)
        };
        assert_eq!(near(&|_| true), Some(5));
        assert_eq!(near(&|id| id != 5), Some(2), "a tie goes to the lower id");
        assert_eq!(near(&|id| id == 9), None);
        assert_eq!(
            i.nearest_player(at(0.0, 0.0), 1.9, |_| true),
            None,
            "nobody within 1.9"
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert {
            id: i32,
            x: f32,
            z: f32,
            owned: bool,
        },
        Move {
            id: i32,
            x: f32,
            z: f32,
        },
        Step {
            id: i32,
            dx: f32,
            dz: f32,
        },
        Remove {
            id: i32,
        },
        InsertObject {
            id: i32,
            x: f32,
            z: f32,
        },
        Rehome {
            id: i32,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        let id = 1..12i32;
        let c = -50f32..=50.0;
        prop_oneof![
            (id.clone(), c.clone(), c.clone(), any::<bool>())
                .prop_map(|(id, x, z, owned)| Op::Insert { id, x, z, owned }),
            (id.clone(), c.clone(), c.clone()).prop_map(|(id, x, z)| Op::Move { id, x, z }),
            // Small steps, so pairs spend time between the radii.
            (id.clone(), -6f32..6.0, -6f32..6.0).prop_map(|(id, dx, dz)| Op::Step { id, dx, dz }),
            id.clone().prop_map(|id| Op::Remove { id }),
            // Objects, keyed below 0 as the region keys monsters.
            (-4..0i32, c.clone(), c).prop_map(|(id, x, z)| Op::InsertObject { id, x, z }),
            (-4..0i32).prop_map(|id| Op::Remove { id }),
            (-4..0i32, -6f32..6.0, -6f32..6.0).prop_map(|(id, dx, dz)| Op::Step { id, dx, dz }),
            id.prop_map(|id| Op::Rehome { id }),
        ]
    }

    proptest! {
        /// After any sequence of operations every view equals the rule computed from the
        /// positions, and the reported changes, replayed, give exactly the views: a spawn
        /// only for a pair not in view, a despawn only for one in view.
        #[test]
        fn views_follow_the_rule_and_the_changes_replay_to_them(ops in prop::collection::vec(op(), 1..120)) {
            let mut i = interest();
            let mut replay: HashSet<(i32, i32)> = HashSet::new();
            for op in ops {
                let mut out = Vec::new();
                match op {
                    Op::Insert { id, x, z, owned } => i.insert(id, at(x, z), owned, &mut out),
                    Op::InsertObject { id, x, z } => i.insert_object(id, at(x, z), &mut out),
                    Op::Move { id, x, z } => i.set_pos(id, at(x, z), &mut out),
                    Op::Step { id, dx, dz } => {
                        if let Some(p) = i.pos(id) {
                            let to = at((p.x + dx).clamp(-50.0, 50.0), (p.z + dz).clamp(-50.0, 50.0));
                            i.set_pos(id, to, &mut out);
                        }
                    }
                    Op::Remove { id } => i.remove(id, &mut out),
                    Op::Rehome { id } => {
                        if i.is_target(id) {
                            let watchers = i.release(id);
                            prop_assert!(i.adopt(id, &watchers).is_empty());
                            let p = i.pos(id).unwrap_or(at(0.0, 0.0));
                            i.set_pos(id, p, &mut out);
                            prop_assert!(out.is_empty(), "a hand-over in place changes nothing: {out:?}");
                        }
                    }
                }
                for change in out {
                    match change {
                        ViewChange::Spawn { target, watcher } => prop_assert!(
                            replay.insert((target, watcher)),
                            "spawn of {target} to {watcher}, who already saw it"
                        ),
                        ViewChange::Despawn { target, watcher } => prop_assert!(
                            replay.remove(&(target, watcher)),
                            "despawn of {target} to {watcher}, who did not see it"
                        ),
                    }
                }
                prop_assert_eq!(i.check_rule(), Ok(()));
                let actual: HashSet<(i32, i32)> = i
                    .positions()
                    .flat_map(|(t, _, _)| i.watchers(t).map(move |w| (t, w)).collect::<Vec<_>>())
                    .collect();
                prop_assert_eq!(&actual, &replay);
            }
        }
    }
}
