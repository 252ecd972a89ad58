//! `LogBudget`: how many log lines peers can make the server write, over time.
//!
//! Every log line a peer can trigger is a way for that peer to make the server do work and
//! fill its disk: a connection loop writes a "connected" and a "disconnected" line per
//! connection, from as many addresses as the attacker has. Lines per event (one per
//! session) draw from this server-wide budget; when it is empty they are counted instead of
//! written, and the next line written says how many were left out. Lines that sum up many
//! events (drops by the rate limits, a full queue) are written at most once a second instead
//! (`ServerStats::warn_once_a_second`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::game::rate_limit::{Rate, TokenBucket};

/// Lines a second the budget refills, and the burst it allows after a quiet spell. A burst
/// of a few hundred keeps a normal login wave fully logged; a sustained flood is cut to 50
/// lines a second, a few KiB.
pub(crate) const PEER_LOG_RATE: Rate = Rate {
    per_sec: 50.0,
    burst: 300.0,
};

/// A server-wide budget of log lines that peers trigger.
#[derive(Debug)]
pub(crate) struct LogBudget {
    /// A std mutex: held for a few arithmetic operations, never across an `.await`, and
    /// only on events that would write a log line anyway (far costlier than the lock).
    bucket: Mutex<TokenBucket>,
    /// Lines left out since the last one written.
    suppressed: AtomicU64,
}

impl LogBudget {
    /// A full budget at `now`.
    pub(crate) fn new(rate: Rate, now: Instant) -> Self {
        LogBudget {
            bucket: Mutex::new(TokenBucket::new(rate, now)),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` if a line may be written at `now`, `n` being the lines left out since the
    /// last one written (to say so in it); `None` if this line is to be left out.
    pub(crate) fn allow(&self, now: Instant) -> Option<u64> {
        let allowed = self
            .bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .try_take(now);
        if allowed {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_flood_is_cut_to_the_rate_and_the_next_line_counts_what_was_left_out() {
        let rate = Rate {
            per_sec: 2.0,
            burst: 3.0,
        };
        let t0 = Instant::now();
        let budget = LogBudget::new(rate, t0);
        let written: Vec<_> = (0..100).map(|_| budget.allow(t0)).collect();
        assert_eq!(
            written.iter().filter(|w| w.is_some()).count(),
            3,
            "the burst"
        );
        assert_eq!(
            written[0],
            Some(0),
            "nothing left out before the first line"
        );
        // Half a second later one token is back: that line reports the 97 left out.
        assert_eq!(budget.allow(t0 + Duration::from_millis(500)), Some(97));
        assert_eq!(budget.allow(t0 + Duration::from_millis(500)), None);
    }
}
