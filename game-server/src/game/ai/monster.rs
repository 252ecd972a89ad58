//! [`Monster`]: one monster's state, and what a hit does to it.

use crate::game::combat::{Hit, Vitals};
use crate::game::data::MonsterKind;

/// A monster's id: its own space, apart from players' ids. The region that spawned it
/// numbers it; ids are never reused while the process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonsterId(pub u32);

/// What a monster is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum State {
    /// Standing at or near its spawn point until `until_ms`, then it wanders.
    Idle {
        /// When it moves again.
        until_ms: u64,
    },
    /// Walking to a point near its spawn point.
    Wander {
        /// Where.
        to: [f32; 2],
    },
    /// Going after player `target` (and hitting it when in range).
    Chase {
        /// The player's id.
        target: i32,
    },
    /// Walking back to its spawn point, taking no target; healed on arrival.
    Return,
    /// Dead until `respawn_ms`, then back at its spawn point with full HP.
    Dead {
        /// When it comes back.
        respawn_ms: u64,
    },
}

/// One monster.
#[derive(Debug, Clone, PartialEq)]
pub struct Monster {
    /// Its id.
    pub id: MonsterId,
    /// Its kind's id (`monsters.json`).
    pub kind: u16,
    /// Where it stands (x, z).
    pub pos: [f32; 2],
    /// Where it spawned, wanders around, returns to and respawns.
    pub spawn: [f32; 2],
    /// Its hit points.
    pub vitals: Vitals,
    /// What it is doing.
    pub state: State,
    /// When it may attack again.
    pub attack_ready_ms: u64,
}

impl Monster {
    /// A new one of `kind` at `at`, idle until `now_ms`.
    pub fn new(id: MonsterId, kind: &MonsterKind, at: [f32; 2], now_ms: u64) -> Monster {
        Monster {
            id,
            kind: kind.id,
            pos: at,
            spawn: at,
            vitals: Vitals::full(kind.hp),
            state: State::Idle { until_ms: now_ms },
            attack_ready_ms: 0,
        }
    }

    /// Alive.
    pub fn alive(&self) -> bool {
        self.vitals.alive()
    }

    /// Player `attacker` hits it for `damage` at `now_ms`. A hit on an idle or wandering
    /// monster makes it go after the attacker (every behaviour hits back); a kill makes it
    /// dead until its respawn time. `None` if it was dead already, or walking home (it
    /// takes no damage then, so it cannot be kited along its leash).
    pub fn hit(
        &mut self,
        damage: u32,
        attacker: i32,
        now_ms: u64,
        kind: &MonsterKind,
    ) -> Option<Hit> {
        if matches!(self.state, State::Return | State::Dead { .. }) {
            return None;
        }
        let hit = self.vitals.take(damage)?;
        if hit.died {
            self.state = State::Dead {
                respawn_ms: now_ms + u64::from(kind.respawn_ms),
            };
        } else if matches!(self.state, State::Idle { .. } | State::Wander { .. }) {
            self.state = State::Chase { target: attacker };
        }
        Some(hit)
    }

    /// Whether it needs stepping even with no player near: it is on its way somewhere.
    pub fn busy(&self) -> bool {
        matches!(
            self.state,
            State::Wander { .. } | State::Chase { .. } | State::Return
        )
    }
}
