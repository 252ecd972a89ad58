//! The database: accounts and characters in SQLite (a file, the default) or PostgreSQL.
//!
//! - `store.rs`: [`Store`], one sqlx code path for both, migrations from
//!   `game-server/migrations/`, one-line errors for a bad file, schema or URL.
//! - `claims.rs`: a cluster's account claims (generation-fenced), node leases.
//! - `lease.rs`: [`NodeLease`], this node's lease, renewed by a task; its players stop
//!   before it runs out.
//! - `saver.rs`: [`Saver`], the task that writes characters behind the game's back: at each
//!   checkpoint, at a leave, and at shutdown.

mod claims;
mod lease;
mod saver;
mod store;

pub use claims::{ClaimGen, Claimed, Consent};
pub use lease::{LeaseConfig, LeaseHooks, NodeLease};
pub use saver::{now_ms, RegionOf, SaveMetrics, Saver, SaverParts, BATCH_SIZES, FLUSH_DEADLINE};
pub use store::{AccountRow, Backend, SaveRow, Store, StoreError};
