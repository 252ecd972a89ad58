//! `CharacterRecord`: what is saved of a character, as plain data.

/// Where a character is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The course's one room (the default server).
    Room,
    /// A world of regions (`--world grid`).
    World,
}

impl Place {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Room => "room",
            Place::World => "world",
        }
    }

    /// The place a stored name stands for.
    pub fn parse(s: &str) -> Option<Place> {
        match s {
            "room" => Some(Place::Room),
            "world" => Some(Place::World),
            _ => None,
        }
    }
}

/// A character's level, experience and hit points, as saved. The combat rules
/// (`game/combat/`) change them; `data/players.json` bounds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharacterStats {
    /// From 1.
    pub level: u32,
    /// Toward the next level.
    pub exp: u32,
    /// Hit points; `None`: full (a new character, or one saved before stats existed).
    pub hp: Option<u32>,
}

impl Default for CharacterStats {
    fn default() -> Self {
        CharacterStats {
            level: 1,
            exp: 0,
            hp: None,
        }
    }
}

/// One character's saved state. An inventory joins it with its migration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CharacterRecord {
    /// Room or world.
    pub place: Place,
    /// The region that owned it (0 in the room).
    pub region: u16,
    /// Its position.
    pub pos: [f32; 3],
    /// When it was first saved, ms since the Unix epoch.
    pub created_ms: i64,
    /// When it was last seen in play, ms since the Unix epoch.
    pub last_seen_ms: i64,
    /// Level, experience, hit points.
    pub stats: CharacterStats,
}
