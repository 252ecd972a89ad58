//! [`Herd`]: a region's monsters, and which of them think each tick.
//!
//! A monster costs nothing while no player is near it: the herd keeps its monsters in a
//! grid of cells as wide as the view radius, and each tick steps only the monsters in the
//! 3 x 3 cells around some player (everything a player can see or reach), plus the ones on
//! their way somewhere (chasing, walking home, wandering), which finish what they started.
//! A monster that was dormant catches up when it wakes: its clock step is capped
//! ([`MAX_DT`]) and a due respawn happens then, where nobody could have seen it anyway.
//!
//! A herd may be kept within bounds ([`Herd::keep_within`]: a region keeps its monsters in
//! its stripe, so a monster never changes owner). A step that would take a monster out is
//! cut at the edge, and one that only pushes against the edge is no move at all.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg32;
use rustc_hash::FxHashMap;

use super::behaviour::{Behaviour, Ctx, Event, Senses};
use super::monster::{Monster, MonsterId, State};
use super::registry::{behaviour_named, BEHAVIOURS};
use crate::game::combat::Hit;
use crate::game::data::{DataError, GameData, MonsterKind};

/// Longest clock step one tick gives a monster (a monster waking from a long sleep does not
/// jump across the map).
pub const MAX_DT: f32 = 0.5;

struct Kind {
    kind: MonsterKind,
    behaviour: &'static dyn Behaviour,
}

#[derive(Default)]
struct Cell {
    monsters: Vec<usize>,
    stamp: u64,
}

/// A region's monsters.
pub struct Herd {
    monsters: Vec<Monster>,
    /// Per monster: its cell, the tick it last stepped in, its clock then.
    cell_of: Vec<(i32, i32)>,
    stepped: Vec<u64>,
    last_ms: Vec<u64>,
    kinds: Vec<Kind>,
    by_id: FxHashMap<u32, usize>,
    cells: FxHashMap<(i32, i32), Cell>,
    cell_size: f32,
    /// Monsters that step whether or not a player is near (see `Monster::busy`).
    busy: Vec<usize>,
    stamp: u64,
    rng: Pcg32,
    awake: Vec<usize>,
    /// Where monsters may stand: (min, max) corners on (x, z).
    bounds: Option<([f32; 2], [f32; 2])>,
    /// Monsters stepped in the last tick.
    pub last_stepped: usize,
}

impl std::fmt::Debug for Herd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Herd")
            .field("monsters", &self.monsters.len())
            .field("bounds", &self.bounds)
            .finish_non_exhaustive()
    }
}

/// `p` pulled into the box `lo`..`hi`.
fn clamp_to(p: [f32; 2], lo: [f32; 2], hi: [f32; 2]) -> [f32; 2] {
    [p[0].clamp(lo[0], hi[0]), p[1].clamp(lo[1], hi[1])]
}

impl Herd {
    /// The monsters of `data`'s spawn areas that `here` keeps (a region keeps those whose
    /// spawn point it owns), seeded with `seed`. Every region draws the same points in the
    /// same order from `seed` and keeps its own, so a monster's id (its place in that
    /// order, from 1) is the same whichever region holds it. `view_radius` sizes the
    /// cells. A kind naming an unknown behaviour is refused at its row.
    pub fn spawn(
        data: &GameData,
        seed: u64,
        view_radius: f32,
        now_ms: u64,
        here: impl Fn([f32; 2]) -> bool,
    ) -> Result<Herd, DataError> {
        let kinds = data
            .monsters
            .iter()
            .map(|kind| {
                let behaviour = behaviour_named(&kind.behaviour).ok_or_else(|| {
                    let known: Vec<&str> = BEHAVIOURS.iter().map(|b| b.name()).collect();
                    DataError::at(
                        &kind.origin,
                        "behaviour",
                        format!(
                            "no behaviour {:?} (there are: {})",
                            kind.behaviour,
                            known.join(", ")
                        ),
                    )
                })?;
                Ok(Kind {
                    kind: kind.clone(),
                    behaviour,
                })
            })
            .collect::<Result<Vec<_>, DataError>>()?;
        let mut herd = Herd {
            monsters: Vec::new(),
            cell_of: Vec::new(),
            stepped: Vec::new(),
            last_ms: Vec::new(),
            kinds,
            by_id: FxHashMap::default(),
            cells: FxHashMap::default(),
            cell_size: view_radius.max(1.0),
            busy: Vec::new(),
            stamp: 0,
            rng: Pcg32::seed_from_u64(seed),
            awake: Vec::new(),
            bounds: None,
            last_stepped: 0,
        };
        let mut places = Pcg32::seed_from_u64(seed ^ 0x5a5a_5a5a);
        let mut next_id = 1u32;
        for area in &data.spawns {
            // Resolved by the loader; a table built by hand may not be, and is refused.
            let kind = herd.kind_index(area.kind).ok_or_else(|| {
                DataError::at(
                    &area.origin,
                    "monster",
                    format!("no monster kind with id {} ({:?})", area.kind, area.monster),
                )
            })?;
            for _ in 0..area.count {
                let r = area.area;
                let at = [
                    r.min[0] + (r.max[0] - r.min[0]) * places.gen::<f32>(),
                    r.min[1] + (r.max[1] - r.min[1]) * places.gen::<f32>(),
                ];
                // Regions key monsters by the negative of their id in an i32.
                if next_id > i32::MAX as u32 {
                    return Err(DataError::at(
                        &area.origin,
                        "count",
                        format!("more than {} monsters in all", i32::MAX),
                    ));
                }
                let id = MonsterId(next_id);
                next_id += 1;
                if here(at) {
                    let monster = Monster::new(id, &herd.kinds[kind].kind, at, now_ms);
                    herd.insert(monster, now_ms);
                }
            }
        }
        Ok(herd)
    }

    /// Keeps every monster within the box `min`..`max` (on x, z) from now on; `min` must
    /// not exceed `max` on either axis. Spawn points outside it are pulled in.
    pub fn keep_within(&mut self, min: [f32; 2], max: [f32; 2]) {
        let (lo, hi) = (
            [min[0].min(max[0]), min[1].min(max[1])],
            [min[0].max(max[0]), min[1].max(max[1])],
        );
        self.bounds = Some((lo, hi));
        for at in 0..self.monsters.len() {
            let m = &mut self.monsters[at];
            m.spawn = clamp_to(m.spawn, lo, hi);
            m.pos = clamp_to(m.pos, lo, hi);
            let cell = self.cell(self.monsters[at].pos);
            if cell != self.cell_of[at] {
                if let Some(old) = self.cells.get_mut(&self.cell_of[at]) {
                    old.monsters.retain(|&m| m != at);
                }
                self.cells.entry(cell).or_default().monsters.push(at);
                self.cell_of[at] = cell;
            }
        }
    }

    /// Cuts what monster `at`'s step did at the bounds (see the module comment); `before`
    /// is where the monster stood, `first` the first of its step's events.
    fn hold_in(&mut self, at: usize, before: [f32; 2], events: &mut Vec<Event>, first: usize) {
        let Some((lo, hi)) = self.bounds else {
            return;
        };
        let m = &mut self.monsters[at];
        if let State::Wander { to } = &mut m.state {
            *to = clamp_to(*to, lo, hi);
        }
        let held = clamp_to(m.pos, lo, hi);
        if held == m.pos {
            return;
        }
        m.pos = held;
        let id = m.id;
        let mut i = first;
        while i < events.len() {
            match &mut events[i] {
                Event::Moved { monster, .. } if *monster == id && held == before => {
                    events.remove(i);
                    continue;
                }
                Event::Moved { monster, pos } if *monster == id => *pos = held,
                _ => {}
            }
            i += 1;
        }
    }

    fn kind_index(&self, id: u16) -> Option<usize> {
        self.kinds.iter().position(|k| k.kind.id == id)
    }

    fn cell(&self, pos: [f32; 2]) -> (i32, i32) {
        (
            (pos[0] / self.cell_size).floor() as i32,
            (pos[1] / self.cell_size).floor() as i32,
        )
    }

    /// Takes `monster` in (a spawn, or one walking in from another region).
    pub fn insert(&mut self, monster: Monster, now_ms: u64) {
        let at = self.monsters.len();
        let cell = self.cell(monster.pos);
        self.by_id.insert(monster.id.0, at);
        self.cells.entry(cell).or_default().monsters.push(at);
        self.cell_of.push(cell);
        self.stepped.push(0);
        self.last_ms.push(now_ms);
        if monster.busy() {
            self.busy.push(at);
        }
        self.monsters.push(monster);
    }

    /// The monster with id `id`.
    pub fn get(&self, id: MonsterId) -> Option<&Monster> {
        self.by_id.get(&id.0).map(|&at| &self.monsters[at])
    }

    /// Every monster.
    pub fn iter(&self) -> impl Iterator<Item = &Monster> {
        self.monsters.iter()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.monsters.len()
    }

    /// None.
    pub fn is_empty(&self) -> bool {
        self.monsters.is_empty()
    }

    /// The kind of monster `id`.
    pub fn kind_of(&self, id: MonsterId) -> Option<&MonsterKind> {
        let m = self.get(id)?;
        self.kind_index(m.kind).map(|k| &self.kinds[k].kind)
    }

    /// Player `attacker` hits monster `id` for `damage` (see `Monster::hit`); it wakes.
    pub fn hit(&mut self, id: MonsterId, damage: u32, attacker: i32, now_ms: u64) -> Option<Hit> {
        let at = *self.by_id.get(&id.0)?;
        let kind = self.kind_index(self.monsters[at].kind)?;
        let hit = self.monsters[at].hit(damage, attacker, now_ms, &self.kinds[kind].kind)?;
        if self.monsters[at].busy() {
            self.busy.push(at);
        }
        Some(hit)
    }

    /// One tick at `now_ms`: steps the monsters near any of `players` (positions) and the
    /// busy ones, each once; what they did goes to `events`.
    pub fn tick(
        &mut self,
        now_ms: u64,
        players: &[[f32; 2]],
        senses: &dyn Senses,
        events: &mut Vec<Event>,
    ) {
        self.stamp += 1;
        let stamp = self.stamp;
        let mut awake = std::mem::take(&mut self.awake);
        awake.clear();
        for &p in players {
            let (cx, cz) = self.cell(p);
            for dx in -1..=1 {
                for dz in -1..=1 {
                    if let Some(cell) = self.cells.get_mut(&(cx + dx, cz + dz)) {
                        if cell.stamp != stamp {
                            cell.stamp = stamp;
                            awake.extend_from_slice(&cell.monsters);
                        }
                    }
                }
            }
        }
        awake.append(&mut self.busy);
        let mut stepped = 0;
        for &at in &awake {
            if self.stepped[at] == stamp {
                continue;
            }
            self.stepped[at] = stamp;
            stepped += 1;
            let dt = (now_ms.saturating_sub(self.last_ms[at]) as f32 / 1000.0).min(MAX_DT);
            self.last_ms[at] = now_ms;
            let Some(kind) = self.kind_index(self.monsters[at].kind) else {
                continue;
            };
            let Kind { kind, behaviour } = &self.kinds[kind];
            let (before, first) = (self.monsters[at].pos, events.len());
            let mut ctx = Ctx {
                monster: &mut self.monsters[at],
                kind,
                now_ms,
                dt,
                senses,
                rng: &mut self.rng,
                events: &mut *events,
            };
            behaviour.step(&mut ctx);
            self.hold_in(at, before, events, first);
            let (pos, busy) = (self.monsters[at].pos, self.monsters[at].busy());
            if busy {
                self.busy.push(at);
            }
            let cell = self.cell(pos);
            if cell != self.cell_of[at] {
                if let Some(old) = self.cells.get_mut(&self.cell_of[at]) {
                    old.monsters.retain(|&m| m != at);
                }
                self.cells.entry(cell).or_default().monsters.push(at);
                self.cell_of[at] = cell;
            }
        }
        self.last_stepped = stepped;
        self.awake = awake;
    }
}
