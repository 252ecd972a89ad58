//! `LiveCharacter`: a logged-in character's state while it plays, written by whatever owns the
//! character's truth (the room, or the region that owns the player) and read by the database
//! task at each checkpoint. The game never waits for the database: it writes here and goes
//! on; the save task copies out what changed.

use std::sync::{Mutex, MutexGuard};

use super::record::CharacterStats;

/// The state that is saved, and a version that counts its changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveState {
    /// Position in the room or the world.
    pub pos: [f32; 3],
    /// Level, experience, hit points.
    pub stats: CharacterStats,
    /// Bumped by every change: a save records the version it wrote, so a character that did
    /// not change since is not written again.
    pub version: u64,
}

/// One playing character's state, shared by its owner and the save task.
///
/// A mutex, not atomics: a position is three floats that must be read together, the owner
/// writes once per move and the save task reads once per checkpoint, so it is never
/// contended in practice (an uncontended lock is one compare-and-swap).
#[derive(Debug)]
pub struct LiveCharacter {
    state: Mutex<LiveState>,
    /// When the character was made, ms since the Unix epoch (saved with every record).
    created_ms: i64,
}

impl LiveCharacter {
    /// A character at `pos` whose state has changed `version` times. A character loaded
    /// from the database starts at the version that was saved; a new one at 1 with nothing
    /// saved, so its first checkpoint writes it.
    pub fn new(pos: [f32; 3], version: u64, created_ms: i64) -> Self {
        LiveCharacter {
            state: Mutex::new(LiveState {
                pos,
                version,
                stats: CharacterStats::default(),
            }),
            created_ms,
        }
    }

    /// The same character with `stats` (as loaded), at the same version.
    pub fn with_stats(self, stats: CharacterStats) -> Self {
        self.lock().stats = stats;
        self
    }

    /// The owner changed the character's stats (a hit, experience, a level).
    pub fn set_stats(&self, stats: CharacterStats) {
        let mut state = self.lock();
        if state.stats != stats {
            state.stats = stats;
            state.version += 1;
        }
    }

    fn lock(&self) -> MutexGuard<'_, LiveState> {
        // A writer cannot panic while holding it (two plain stores), so a poisoned lock
        // still holds a whole state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The owner moved the character.
    pub fn set_pos(&self, pos: [f32; 3]) {
        let mut state = self.lock();
        if state.pos != pos {
            state.pos = pos;
            state.version += 1;
        }
    }

    /// The state now.
    pub fn state(&self) -> LiveState {
        *self.lock()
    }

    /// When the character was made.
    pub fn created_ms(&self) -> i64 {
        self.created_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_bumps_the_version_and_standing_still_does_not() {
        let c = LiveCharacter::new([1.0, 0.0, 2.0], 7, 100);
        c.set_pos([1.0, 0.0, 2.0]);
        assert_eq!(c.state().version, 7);
        c.set_pos([3.0, 0.0, 2.0]);
        assert_eq!(
            c.state(),
            LiveState {
                pos: [3.0, 0.0, 2.0],
                version: 8,
                stats: CharacterStats::default(),
            }
        );
        assert_eq!(c.created_ms(), 100);
        let hurt = CharacterStats {
            hp: Some(40),
            ..CharacterStats::default()
        };
        c.set_stats(hurt);
        c.set_stats(hurt);
        assert_eq!(
            (c.state().stats, c.state().version),
            (hurt, 9),
            "a change, once"
        );
        let loaded = LiveCharacter::new([0.0; 3], 0, 1).with_stats(hurt);
        assert_eq!((loaded.state().stats, loaded.state().version), (hurt, 0));
    }
}
