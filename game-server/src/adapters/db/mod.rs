//! The database: accounts and characters in SQLite (a file, the default) or PostgreSQL.
//!
//! - `store.rs`: [`Store`], one sqlx code path for both, migrations from
//!   `game-server/migrations/`, one-line errors for a bad file, schema or URL.
//! - `saver.rs`: [`Saver`], the task that writes characters behind the game's back: at each
//!   checkpoint, at a leave, and at shutdown.

mod saver;
mod store;

pub use saver::{now_ms, RegionOf, SaveMetrics, Saver, SaverParts, BATCH_SIZES, FLUSH_DEADLINE};
pub use store::{AccountRow, Backend, Claimed, Store, StoreError};
