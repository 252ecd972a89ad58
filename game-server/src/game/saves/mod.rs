//! Saving characters without making the game wait (issue 24's write-behind rules, sans-IO).
//!
//! - `record.rs`: [`CharacterRecord`], what is saved of a character.
//! - `queue.rs`: [`SaveQueue`], dirty characters coalesced, cut into batches at each
//!   checkpoint or at once for a leave, retried with back-off, bounded with a count of what
//!   was lost. The database task that drives it is not written yet; the database itself is
//!   `adapters/db/`.

mod queue;
mod record;

pub use queue::{Marked, SaveBatch, SaveConfig, SaveQueue, SaveStats};
pub use record::{CharacterRecord, Place};
