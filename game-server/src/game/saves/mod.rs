//! Saving characters without making the game wait (issue 24's write-behind rules, sans-IO).
//!
//! - `record.rs`: [`CharacterRecord`], what is saved of a character.
//! - `live.rs`: [`LiveCharacter`], a playing character's state, written by its room or
//!   region and copied out by the save task.
//! - `queue.rs`: [`SaveQueue`], dirty characters coalesced, cut into batches at each
//!   checkpoint or at once for a leave, retried with back-off, bounded with a count of what
//!   was lost. The task that drives it is `adapters/db/saver.rs`.

mod live;
mod queue;
mod record;

pub use live::{LiveCharacter, LiveState};
pub use queue::{Marked, SaveBatch, SaveConfig, SaveQueue, SaveStats};
pub use record::{CharacterRecord, CharacterStats, Place};
