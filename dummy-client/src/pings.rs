//! Pings matched with their pongs.

use serde::{Deserialize, Serialize};

/// The outcome of matching every bot's pongs to its pings, part of the
/// [`Report`](crate::Report).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PongAccounting {
    /// `C_Ping`s the bots sent.
    pub pings: u64,
    /// Pongs that answered a ping: one per ping, the first to carry its time.
    pub answered: u64,
    /// Pings still unanswered when the drain ended. Each is an error.
    pub lost: u64,
    /// Pongs for a ping that was already answered. Each is an error.
    pub duplicate: u64,
    /// Pongs carrying a time the bot never sent. Each is an error.
    pub unknown: u64,
}
