//! The rows of the game data tables, as the files spell them. Every row refuses unknown
//! fields (a typo such as `"hpp"` is an error, not a default), and keeps its [`Origin`].
//! Times are whole milliseconds, distances are world units (the map's x/z).

use std::time::Duration;

use serde::Deserialize;

use super::error::Origin;

/// A kind of monster (`monsters.json`): its stats and how its AI behaves.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonsterKind {
    /// Sent to clients in the monster's spawn packet: keep it stable once clients know it.
    pub id: u16,
    /// Referenced by `spawns.json`: lowercase ASCII letters, digits and `_`.
    pub name: String,
    /// Hit points when it spawns, and what it heals back to when it leashes.
    pub hp: u32,
    /// Damage of one of its attacks.
    pub damage: u32,
    /// Units per second when it chases or walks back.
    pub speed: f32,
    /// How far from its spawn point it wanders when idle.
    pub wander_radius: f32,
    /// It attacks the nearest player within this distance.
    pub aggro_radius: f32,
    /// It gives up, walks back and heals when its target is this far from its spawn point.
    pub leash_radius: f32,
    /// It hits from this distance.
    pub attack_range: f32,
    /// At most one attack per this many milliseconds.
    pub attack_cooldown_ms: u32,
    /// Back this long after it died, at its spawn point.
    pub respawn_ms: u32,
    /// Experience for the player that kills it.
    pub exp: u32,
    /// What its AI does: a behaviour's name (`melee`: attacks the nearest player in its
    /// aggro radius; `passive`: only hits back). Default `melee`. The names are the
    /// behaviours registered in `game/ai/behaviour.rs`.
    #[serde(default = "melee")]
    pub behaviour: String,
    /// Where the row is.
    #[serde(skip)]
    pub origin: Origin,
}

fn melee() -> String {
    "melee".to_owned()
}

impl MonsterKind {
    /// `attack_cooldown_ms` as a duration.
    pub fn attack_cooldown(&self) -> Duration {
        Duration::from_millis(self.attack_cooldown_ms.into())
    }

    /// `respawn_ms` as a duration.
    pub fn respawn(&self) -> Duration {
        Duration::from_millis(self.respawn_ms.into())
    }
}

/// A skill players use (`skills.json`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skill {
    /// What a client sends to use it.
    pub id: u16,
    /// For people and logs.
    pub name: String,
    /// Longest distance from user to target, by the server's positions.
    pub range: f32,
    /// At most one use per this many milliseconds, per player.
    pub cooldown_ms: u32,
    /// Damage before the user's level bonus.
    pub damage: u32,
    /// Where the row is.
    #[serde(skip)]
    pub origin: Origin,
}

impl Skill {
    /// `cooldown_ms` as a duration.
    pub fn cooldown(&self) -> Duration {
        Duration::from_millis(self.cooldown_ms.into())
    }
}

/// A player's base stats at one level (`players.json`, `levels`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// 1 for the first row, then one more per row.
    pub level: u32,
    /// Hit points at this level (full on level-up and respawn).
    pub max_hp: u32,
    /// Added to each skill's damage.
    pub attack: u32,
    /// Experience from this level to the next; absent on the last level only.
    #[serde(default)]
    pub exp_to_next: Option<u32>,
    /// Where the row is.
    #[serde(skip)]
    pub origin: Origin,
}

/// What `players.json` holds.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerRules {
    /// A dead player comes back (at a spawn point, full HP) this long after.
    pub respawn_ms: u32,
    /// Level 1 first; the last row is the highest level.
    pub levels: Vec<Level>,
}

impl PlayerRules {
    /// `respawn_ms` as a duration.
    pub fn respawn(&self) -> Duration {
        Duration::from_millis(self.respawn_ms.into())
    }

    /// The row of `level` (clamped to the table: level 0 reads as 1, beyond the last as the
    /// last). The table is never empty: the loader refuses that.
    pub fn level(&self, level: u32) -> &Level {
        let at = (level.max(1) as usize - 1).min(self.levels.len().saturating_sub(1));
        &self.levels[at]
    }
}

/// An axis-aligned rectangle of the map's x/z plane.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rect {
    /// (x, z) of the low corner.
    pub min: [f32; 2],
    /// (x, z) of the high corner.
    pub max: [f32; 2],
}

impl Rect {
    /// Whether (x, z) lies inside or on the edge.
    pub fn contains(&self, x: f32, z: f32) -> bool {
        (self.min[0]..=self.max[0]).contains(&x) && (self.min[1]..=self.max[1]).contains(&z)
    }
}

/// Monsters of one kind placed at random in a rectangle (`spawns.json`); each keeps its own
/// spawn point for wandering, leashing and respawning.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnArea {
    /// The kind's `name` in `monsters.json`.
    pub monster: String,
    /// How many.
    pub count: u32,
    /// Where.
    pub area: Rect,
    /// The kind's id, resolved from `monster` by the loader.
    #[serde(skip)]
    pub kind: u16,
    /// Where the row is.
    #[serde(skip)]
    pub origin: Origin,
}
