//! `Walking`: a bot in the world as the driver walks it, shared by the driver and its churn.

use std::sync::Arc;

use server_core::Session;

use crate::world::walk::Walker;

/// A bot in the world, as the driver walks it.
pub(super) struct Walking {
    pub(super) walker: Walker,
    /// The sequence number of its latest move, over all its connections.
    pub(super) seq: u32,
    /// The player id of its first connection (a churn rejoin must keep it).
    pub(super) player_id: i32,
    /// Its current connection.
    pub(super) session: Arc<Session>,
}
