//! A region's monsters: its [`Herd`] run on the region's tick, and what players see of it.
//!
//! **A monster never leaves its region.** The herd is kept within the region's stripe
//! (`Herd::keep_within`): a chase that reaches the border stops there, and the leash brings
//! the monster home. So one region, the monster's owner for ever, decides who sees it and
//! sends every frame about it, to its own players and to the ghosts of its neighbours'
//! players near the border alike, through the same batch as everything else. That is what
//! gives monsters the players' guarantees with no hand-off: one sender, one queue per
//! recipient, so no update is lost, repeated or reordered; `S_MonsterSpawn` goes before
//! the first `S_MonsterMove` and `S_MonsterDespawn` after the last.
//!
//! In the region's [`Interest`](crate::game::world::interest::Interest) a monster is an
//! object (a target that watches nobody), keyed by the negative of its id so that the two id
//! spaces never meet: a `ViewChange` about a key below zero is about a monster.

use std::sync::atomic::Ordering;

use super::{Directory, PlayerLink, Region};
use crate::game::ai::{Event, Herd, MonsterId, Senses};
use crate::game::map::MonsterDot;
use crate::game::packets::{SMonsterDespawn, SMonsterMove, SMonsterSpawn};
use crate::game::world::geometry::Pos;
use crate::game::world::interest::{Interest, ViewChange};

/// The interest key of monster `id`. Monster ids are numbered from 1 by the spawn tables;
/// `Herd::spawn` refuses tables that would number one past `i32::MAX`.
pub fn monster_key(id: MonsterId) -> i32 {
    -(id.0.min(i32::MAX as u32) as i32)
}

/// The monster an interest key stands for, if it stands for one.
pub fn monster_of(key: i32) -> Option<MonsterId> {
    (key < 0).then(|| MonsterId(key.unsigned_abs()))
}

/// The region's monster state: the herd and what its tick reuses.
pub(super) struct Monsters {
    pub(super) herd: Herd,
    events: Vec<Event>,
    players: Vec<[f32; 2]>,
}

/// What the AI may know about players: the region's interest state, owned players and
/// ghosts alike, so a monster near the border sees the players across it.
struct RegionSenses<'a> {
    interest: &'a Interest,
}

impl Senses for RegionSenses<'_> {
    fn nearest_player(&self, pos: [f32; 2], radius: f32) -> Option<(i32, [f32; 2])> {
        self.interest
            .nearest_player(
                Pos {
                    x: pos[0],
                    z: pos[1],
                },
                radius,
                |id| id > 0,
            )
            .map(|(id, p)| (id, [p.x, p.z]))
    }

    fn player(&self, id: i32) -> Option<[f32; 2]> {
        if id <= 0 {
            return None;
        }
        self.interest.pos(id).map(|p| [p.x, p.z])
    }
}

impl<L: PlayerLink, D: Directory<L>> Region<L, D> {
    /// Gives this region its monsters: `herd` is kept within the region's stripe from now
    /// on, and every living monster becomes visible to the players near it.
    pub fn set_herd(&mut self, mut herd: Herd) {
        // Edges included: a monster's place decides nothing about who owns it.
        let (min_x, max_x) = self.layout.stripe(self.id);
        let half = self.layout.half();
        herd.keep_within([min_x, -half], [max_x, half]);
        let living: Vec<(i32, [f32; 2])> = herd
            .iter()
            .filter(|m| m.alive())
            .map(|m| (monster_key(m.id), m.pos))
            .collect();
        for (key, at) in living {
            self.interest
                .insert_object(key, Pos { x: at[0], z: at[1] }, &mut self.changes);
        }
        self.room_stats
            .monsters
            .store(herd.len(), Ordering::Relaxed);
        self.monsters = Some(Box::new(Monsters {
            herd,
            events: Vec::new(),
            players: Vec::new(),
        }));
        self.apply_changes(None);
    }

    /// Its living monsters, as the live map shows them.
    pub(super) fn living_monsters(&self) -> impl Iterator<Item = MonsterDot> + '_ {
        self.herd()
            .into_iter()
            .flat_map(|herd| herd.iter())
            .filter(|m| m.alive())
            .map(|m| {
                MonsterDot(
                    m.id.0,
                    m.kind,
                    m.pos[0],
                    m.pos[1],
                    m.vitals.hp(),
                    m.vitals.max_hp(),
                )
            })
    }

    /// The herd, if this region has monsters (for checks and the live map).
    pub fn herd(&self) -> Option<&Herd> {
        self.monsters.as_ref().map(|m| &m.herd)
    }

    /// One tick of the region's monsters at `now_ms` (the region's clock, in milliseconds):
    /// the AI steps the monsters players can see or reach, and what they did is queued for
    /// those who see them. Runs before the tick's flush, so it goes out with it.
    pub fn tick(&mut self, now_ms: u64) {
        let Some(mut m) = self.monsters.take() else {
            return;
        };
        let started = std::time::Instant::now();
        m.players.clear();
        // Owned players and ghosts: a pass over players, never over the monsters.
        let interest = &self.interest;
        m.players.extend(
            self.owned
                .keys()
                .chain(self.ghosts.keys())
                .filter_map(|&id| interest.pos(id))
                .map(|p| [p.x, p.z]),
        );
        m.events.clear();
        let senses = RegionSenses {
            interest: &self.interest,
        };
        m.herd.tick(now_ms, &m.players, &senses, &mut m.events);
        let events = std::mem::take(&mut m.events);
        let stepped = m.herd.last_stepped;
        self.monsters = Some(m);
        for event in &events {
            match *event {
                Event::Moved { monster, pos } => self.monster_moved(monster, pos),
                Event::Respawned { monster, pos, .. } => {
                    let at = Pos {
                        x: pos[0],
                        z: pos[1],
                    };
                    self.interest
                        .insert_object(monster_key(monster), at, &mut self.changes);
                    self.apply_changes(None);
                }
                // A hit on a player lands with combat (player hit points in the region);
                // until then it is counted, so a test or an operator sees the AI decide it.
                Event::Attack { .. } => {
                    self.stats.monster_attacks.fetch_add(1, Ordering::Relaxed);
                }
                // Only a hurt monster heals, and only combat hurts one.
                Event::Healed { .. } => {}
            }
        }
        if let Some(m) = self.monsters.as_mut() {
            m.events = events;
        }
        let r = Ordering::Relaxed;
        self.room_stats.monsters_awake.store(stepped, r);
        self.room_stats.ai_duration.observe(started.elapsed());
    }

    /// Monster `monster` moved to `pos`: its view changes, then its move to those who saw
    /// it already (a watcher that has just been sent its spawn has the new place in it).
    fn monster_moved(&mut self, monster: MonsterId, pos: [f32; 2]) {
        let key = monster_key(monster);
        let at = Pos {
            x: pos[0],
            z: pos[1],
        };
        self.interest.set_pos(key, at, &mut self.changes);
        let mut fresh = std::mem::take(&mut self.fresh);
        fresh.clear();
        fresh.extend(self.changes.iter().filter_map(|c| match *c {
            ViewChange::Spawn { target, watcher } if target == key => Some(watcher),
            _ => None,
        }));
        self.apply_changes(None);
        let frame = self.batch.encode(&SMonsterMove {
            monster_id: key.wrapping_neg(),
            pos_x: at.x,
            pos_z: at.z,
        });
        if let Some(frame) = frame {
            let mut sent = 0u64;
            for w in self.interest.watchers(key) {
                if !fresh.contains(&w) {
                    self.batch.queue(w, frame);
                    sent += 1;
                }
            }
            self.stats.monster_moves.fetch_add(sent, Ordering::Relaxed);
        }
        self.fresh = fresh;
    }

    /// Queues for `watcher` the spawn of the monster keyed `key` as it is now: its kind,
    /// place and hit points. Nothing if the region has no such monster.
    pub(super) fn show_monster(&mut self, watcher: i32, key: i32) {
        let Some(id) = monster_of(key) else {
            return;
        };
        let Some(herd) = self.monsters.as_ref().map(|m| &m.herd) else {
            return;
        };
        let Some(m) = herd.get(id) else {
            return;
        };
        let spawn = SMonsterSpawn {
            monster_id: key.wrapping_neg(),
            kind: i32::from(m.kind),
            pos_x: m.pos[0],
            pos_z: m.pos[1],
            hp: i32::try_from(m.vitals.hp()).unwrap_or(i32::MAX),
            max_hp: i32::try_from(m.vitals.max_hp()).unwrap_or(i32::MAX),
        };
        if let Some(frame) = self.batch.encode(&spawn) {
            self.stats.monster_spawns.fetch_add(1, Ordering::Relaxed);
            self.batch.queue(watcher, frame);
        }
    }

    /// Queues for `watcher` the despawn of the monster keyed `key`.
    pub(super) fn hide_monster(&mut self, watcher: i32, key: i32) {
        let frame = self.batch.encode(&SMonsterDespawn {
            monster_id: key.wrapping_neg(),
        });
        if let Some(frame) = frame {
            self.stats.monster_despawns.fetch_add(1, Ordering::Relaxed);
            self.batch.queue(watcher, frame);
        }
    }
}
