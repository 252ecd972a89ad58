//! Saving characters without making the game wait (issue 24's write-behind rules, sans-IO).
//!
//! - `queue.rs`: [`SaveQueue`], dirty characters coalesced, cut into batches at each
//!   checkpoint or at once for a leave, retried with back-off, bounded with a count of what
//!   was lost. The database task that drives it is not written yet.

mod queue;

pub use queue::{Marked, SaveBatch, SaveConfig, SaveQueue, SaveStats};
