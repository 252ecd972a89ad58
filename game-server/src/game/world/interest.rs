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

use crate::game::world::geometry::Pos;
use crate::game::world::grid::Grid;
use crate::game::world::ids::{IdMap, IdSet};

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

#[derive(Debug)]
struct Known {
    pos: Pos,
    /// `Some` for a target (owned here): who sees it. The relation of a ghost's watchers
    /// lives in its owner region.
    watchers: Option<IdSet>,
    /// Targets of this region that this player sees: the reverse of `watchers`, so that a
    /// watcher who moves far away finds the targets it must drop without a map-wide search.
    watching: IdSet,
}

/// The interest state of one region: every player it knows, where, and who sees whom.
#[derive(Debug)]
pub struct Interest {
    inner2: f32,
    outer2: f32,
    outer: f32,
    grid: Grid,
    players: IdMap<Known>,
    /// Reused candidate list, so a move does not allocate.
    scratch: Vec<i32>,
}

impl Interest {
    /// No players yet. `half` is half the map's side, `cell` the grid's cell side.
    pub fn new(half: f32, cell: f32, inner: f32, outer: f32) -> Self {
        Interest {
            inner2: inner * inner,
            outer2: outer * outer,
            outer,
            grid: Grid::new(half, cell),
            players: IdMap::default(),
            scratch: Vec::new(),
        }
    }

    /// Players known (owned and ghosts).
    pub fn len(&self) -> usize {
        self.players.len()
    }

    /// True when no player is known.
    pub fn is_empty(&self) -> bool {
        self.players.is_empty()
    }

    /// Whether `id` is known.
    pub fn contains(&self, id: i32) -> bool {
        self.players.contains_key(&id)
    }

    /// Where `id` is, if known.
    pub fn pos(&self, id: i32) -> Option<Pos> {
        self.players.get(&id).map(|k| k.pos)
    }

    /// Whether `id` is a target (owned here).
    pub fn is_target(&self, id: i32) -> bool {
        self.players.get(&id).is_some_and(|k| k.watchers.is_some())
    }

    /// Who sees target `id` (empty for a ghost or an unknown id).
    pub fn watchers(&self, id: i32) -> impl Iterator<Item = i32> + '_ {
        self.players
            .get(&id)
            .and_then(|k| k.watchers.as_ref())
            .into_iter()
            .flatten()
            .copied()
    }

    /// Whether `watcher` sees target `target`.
    pub fn sees(&self, watcher: i32, target: i32) -> bool {
        self.players
            .get(&target)
            .and_then(|k| k.watchers.as_ref())
            .is_some_and(|w| w.contains(&watcher))
    }

    /// Every known player and its position.
    pub fn positions(&self) -> impl Iterator<Item = (i32, Pos, bool)> + '_ {
        self.players
            .iter()
            .map(|(&id, k)| (id, k.pos, k.watchers.is_some()))
    }

    /// Adds a player at `pos`, a target if `owned`, and evaluates it against everyone near.
    /// An id already known is only moved.
    pub fn insert(&mut self, id: i32, pos: Pos, owned: bool, out: &mut Vec<ViewChange>) {
        if self.players.contains_key(&id) {
            self.set_pos(id, pos, out);
            return;
        }
        self.grid.insert(id, pos);
        self.players.insert(
            id,
            Known {
                pos,
                watchers: owned.then(IdSet::default),
                watching: IdSet::default(),
            },
        );
        self.evaluate(id, out);
    }

    /// Moves a known player and evaluates every pair it is part of.
    pub fn set_pos(&mut self, id: i32, pos: Pos, out: &mut Vec<ViewChange>) {
        let Some(known) = self.players.get_mut(&id) else {
            return;
        };
        let from = known.pos;
        known.pos = pos;
        self.grid.relocate(id, from, pos);
        self.evaluate(id, out);
    }

    /// Forgets a player: it stops seeing every target and every watcher stops seeing it.
    pub fn remove(&mut self, id: i32, out: &mut Vec<ViewChange>) {
        let Some(known) = self.players.remove(&id) else {
            return;
        };
        self.grid.remove(id, known.pos);
        for watcher in known.watchers.into_iter().flatten() {
            if let Some(w) = self.players.get_mut(&watcher) {
                w.watching.remove(&id);
            }
            out.push(ViewChange::Despawn {
                target: id,
                watcher,
            });
        }
        for target in known.watching {
            if let Some(ws) = self
                .players
                .get_mut(&target)
                .and_then(|t| t.watchers.as_mut())
            {
                ws.remove(&id);
            }
            out.push(ViewChange::Despawn {
                target,
                watcher: id,
            });
        }
    }

    /// Makes a known player a target that `watchers` already see (a player handed over by a
    /// neighbouring region, with the view its old owner kept). No change is reported: those
    /// watchers were sent its spawn already. Returns the watchers this region does not know,
    /// which the caller must settle itself. Call [`Interest::set_pos`] afterwards to apply
    /// the rule to the pairs the old owner could not see.
    pub fn adopt(&mut self, id: i32, watchers: &[i32]) -> Vec<i32> {
        let mut unknown = Vec::new();
        let mut set = IdSet::with_capacity_and_hasher(watchers.len(), Default::default());
        for &w in watchers {
            if w == id {
                continue;
            }
            match self.players.get_mut(&w) {
                Some(known) => {
                    known.watching.insert(id);
                    set.insert(w);
                }
                None => unknown.push(w),
            }
        }
        if let Some(known) = self.players.get_mut(&id) {
            known.watchers = Some(set);
        }
        unknown
    }

    /// Makes a target a ghost, handing its watcher set to the caller (for its new owner)
    /// without reporting any change: its watchers keep seeing it.
    pub fn release(&mut self, id: i32) -> Vec<i32> {
        let Some(watchers) = self.players.get_mut(&id).and_then(|k| k.watchers.take()) else {
            return Vec::new();
        };
        for &w in &watchers {
            if let Some(known) = self.players.get_mut(&w) {
                known.watching.remove(&id);
            }
        }
        watchers.into_iter().collect()
    }

    /// Applies the rule to every pair `id` is part of, as target and as watcher.
    fn evaluate(&mut self, id: i32, out: &mut Vec<ViewChange>) {
        let Some(known) = self.players.get(&id) else {
            return;
        };
        let pos = known.pos;
        let mut candidates = std::mem::take(&mut self.scratch);
        candidates.clear();
        // Anyone in view now might leave it; anyone within the outer radius might enter it.
        // Pairs farther than the outer radius that are not in view stay out of view.
        candidates.extend(known.watching.iter().copied());
        if let Some(ws) = &known.watchers {
            candidates.extend(ws.iter().copied());
        }
        self.grid
            .for_each_near(pos, self.outer, |other| candidates.push(other));
        // Watchers are mostly also in the nearby cells: evaluate each pair once.
        candidates.sort_unstable();
        candidates.dedup();
        let is_target = known.watchers.is_some();
        for &other in &candidates {
            if other == id {
                continue;
            }
            if is_target {
                self.pair(id, other, out);
            }
            if self.is_target(other) {
                self.pair(other, id, out);
            }
        }
        self.scratch = candidates;
    }

    /// Applies the rule to one pair; idempotent.
    fn pair(&mut self, target: i32, watcher: i32, out: &mut Vec<ViewChange>) {
        let (Some(t), Some(w)) = (self.players.get(&target), self.players.get(&watcher)) else {
            return;
        };
        let d2 = t.pos.dist2(w.pos);
        let seen = t.watchers.as_ref().is_some_and(|s| s.contains(&watcher));
        if seen && d2 > self.outer2 {
            self.link(target, watcher, false);
            out.push(ViewChange::Despawn { target, watcher });
        } else if !seen && d2 <= self.inner2 {
            self.link(target, watcher, true);
            out.push(ViewChange::Spawn { target, watcher });
        }
    }

    fn link(&mut self, target: i32, watcher: i32, on: bool) {
        if let Some(ws) = self
            .players
            .get_mut(&target)
            .and_then(|t| t.watchers.as_mut())
        {
            if on {
                ws.insert(watcher);
            } else {
                ws.remove(&watcher);
            }
        }
        if let Some(w) = self.players.get_mut(&watcher) {
            if on {
                w.watching.insert(target);
            } else {
                w.watching.remove(&target);
            }
        }
    }

    /// Checks the rule and the reverse index for every pair; for tests.
    #[cfg(test)]
    pub(crate) fn check_rule(&self) -> Result<(), String> {
        for (&t, tk) in &self.players {
            let Some(ws) = &tk.watchers else { continue };
            for (&w, wk) in &self.players {
                if w == t {
                    continue;
                }
                let d2 = tk.pos.dist2(wk.pos);
                let seen = ws.contains(&w);
                if d2 <= self.inner2 && !seen {
                    return Err(format!(
                        "{w} is within the inner radius of {t} but does not see it"
                    ));
                }
                if d2 > self.outer2 && seen {
                    return Err(format!("{w} is beyond the outer radius of {t} but sees it"));
                }
                if seen != wk.watching.contains(&t) {
                    return Err(format!("reverse index of ({t}, {w}) out of step"));
                }
            }
            if ws.iter().any(|w| !self.players.contains_key(w)) {
                return Err(format!("{t} is watched by a player no longer known"));
            }
        }
        for (&w, wk) in &self.players {
            if wk.watching.iter().any(|t| !self.sees(w, *t)) {
                return Err(format!(
                    "{w} claims to watch a target that does not list it"
                ));
            }
        }
        if self.grid.len() != self.players.len() {
            return Err("grid and player table disagree".into());
        }
        Ok(())
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
            (id.clone(), c.clone(), c).prop_map(|(id, x, z)| Op::Move { id, x, z }),
            // Small steps, so pairs spend time between the radii.
            (id.clone(), -6f32..6.0, -6f32..6.0).prop_map(|(id, dx, dz)| Op::Step { id, dx, dz }),
            id.clone().prop_map(|id| Op::Remove { id }),
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
