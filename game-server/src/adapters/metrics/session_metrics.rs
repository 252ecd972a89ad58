//! What the client sessions count for the metrics beyond `ServerStats`: their traffic by
//! packet type, why they closed, and the inputs their rate limits dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use server_core::CloseReason;

use crate::game::counters::traffic::TrafficRegistry;

/// Every `CloseReason::label`, in a fixed order (the slots of [`SessionMetrics::closed`]).
pub const CLOSE_REASONS: [&str; 8] = [
    "client_closing",
    "server_closing",
    "server_shutdown",
    "protocol_error",
    "socket_error",
    "idle_timeout",
    "slow_consumer",
    "application_error",
];

/// Shared by every client session; each field is touched once per session or per dropped
/// input, never per delivered packet.
#[derive(Debug, Default)]
pub struct SessionMetrics {
    /// Per-session packet and byte counters.
    pub traffic: Arc<TrafficRegistry>,
    closed: [AtomicU64; CLOSE_REASONS.len()],
    /// Moves and chat lines dropped by a player's rate limit.
    pub rate_limited: AtomicU64,
}

impl SessionMetrics {
    /// Counts one closed session under its reason's label.
    pub fn closed(&self, reason: &CloseReason) {
        // A label added to CloseReason later and not listed above is counted under the last
        // slot rather than lost; the unit test below keeps the list complete.
        let slot = CLOSE_REASONS
            .iter()
            .position(|&l| l == reason.label())
            .unwrap_or(CLOSE_REASONS.len() - 1);
        self.closed[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// `(reason label, sessions closed for it)`.
    pub fn closed_by_reason(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        CLOSE_REASONS
            .iter()
            .zip(&self.closed)
            .map(|(&l, n)| (l, n.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_close_reason_has_its_own_slot() {
        let reasons = [
            CloseReason::ClientClosing,
            CloseReason::ServerClosing,
            CloseReason::ServerShutdown,
            CloseReason::ProtocolError(server_core::ProtocolError::Invalid("x".into())),
            CloseReason::SocketError {
                kind: std::io::ErrorKind::ConnectionReset,
                message: "reset".into(),
            },
            CloseReason::IdleTimeout,
            CloseReason::SlowConsumer {
                queued: 2,
                limit: 1,
            },
            CloseReason::ApplicationError("x".into()),
        ];
        let m = SessionMetrics::default();
        for r in &reasons {
            m.closed(r);
        }
        for (label, n) in m.closed_by_reason() {
            assert_eq!(n, 1, "{label} should be counted exactly once");
        }
    }
}
