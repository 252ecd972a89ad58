//! What the client sessions count, whichever transport and game mode.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Counters kept by the client sessions.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Packets received and dispatched.
    pub packets_in: AtomicU64,
    /// `S_Pong` and other direct (not broadcast) replies sent.
    pub direct_out: AtomicU64,
    /// Inputs dropped because the room's input lane was full.
    pub inputs_dropped: AtomicU64,
    /// Inputs refused (over-long chat, over a rate limit) and dropped.
    pub inputs_rejected: AtomicU64,
    /// Unix-ish second of the last "room queue full" warning, to log it once a second.
    pub(crate) last_drop_warning: AtomicU64,
}

impl ServerStats {
    /// Logs a warning at most once per second; returns whether it logged.
    pub(crate) fn warn_once_a_second(&self, since: Instant) -> bool {
        let now = since.elapsed().as_secs() + 1;
        let last = self.last_drop_warning.load(Ordering::Relaxed);
        now > last
            && self
                .last_drop_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}
