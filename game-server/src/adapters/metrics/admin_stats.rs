//! The admin endpoint's own counters. Kept here, with the collector that exports them, so
//! that the admin endpoint (which serves the metrics) imports the metrics and never the
//! other way round.

use std::sync::atomic::AtomicU64;

/// The admin endpoint's own counters.
#[derive(Debug, Default)]
pub struct AdminStats {
    /// Requests refused for a missing or wrong token.
    pub unauthorized: AtomicU64,
    /// Requests refused without a token for a Host or Origin that is not loopback (a page
    /// that rebound its name to 127.0.0.1).
    pub forbidden: AtomicU64,
    /// Connections closed at once because `max_connections` were open.
    pub connections_refused: AtomicU64,
    /// Connections open.
    pub connections_open: AtomicU64,
}
