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

/// One character's saved state. Stats and an inventory join it with their migration.
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
}
