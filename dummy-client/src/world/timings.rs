//! `Timings`: the run's timing histograms (ping round trips, move echoes, hand-offs,
//! delivery times), and `PendingTimings`, the few samples a bot holds before adding them in.
//!
//! Every bot records into the same histograms, from the tokio worker that reads its socket.
//! One lock per sample made the process-wide mutex a point every worker passed through a
//! few hundred thousand times a second in a cluster run (a delivery time per move received).
//! A bot instead keeps its samples in a small array of its own and adds them in under one
//! lock when it is full, and once more when its session ends; the driver reads the
//! histograms only after every session has ended, so nothing is missing from the report.

use hdrhistogram::Histogram;

/// Largest time recorded, in microseconds; longer ones are recorded as this.
const MAX_US: u64 = 60_000_000;

/// Samples a bot holds before adding them in: 8 bytes each, so 256 bytes a bot, and one
/// lock per 32 samples.
const PENDING: usize = 32;

/// Which histogram a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timing {
    /// `C_Ping` to its `S_Pong`.
    Rtt,
    /// `C_Move` to the bot's own `S_BroadcastMove` (a tick included).
    Echo,
    /// The echo of the first move after a region crossing.
    Handoff,
    /// A move's send to its receipt by a bot on the sender's server.
    DeliverySame,
    /// A move's send to its receipt by a bot on another server.
    DeliveryCross,
}

const KINDS: usize = 5;

impl Timing {
    fn index(self) -> usize {
        match self {
            Timing::Rtt => 0,
            Timing::Echo => 1,
            Timing::Handoff => 2,
            Timing::DeliverySame => 3,
            Timing::DeliveryCross => 4,
        }
    }
}

/// The run's histograms, in microseconds.
#[derive(Debug)]
pub(crate) struct Timings {
    by_kind: [Histogram<u64>; KINDS],
}

impl Timings {
    /// Empty histograms.
    pub(crate) fn new() -> Timings {
        Timings {
            by_kind: std::array::from_fn(|_| histogram()),
        }
    }

    /// The histogram of `kind`.
    pub(crate) fn of(&self, kind: Timing) -> &Histogram<u64> {
        &self.by_kind[kind.index()]
    }

    fn record(&mut self, kind: Timing, us: u32) {
        // In range: clamped on the way into `PendingTimings`.
        let _ = self.by_kind[kind.index()].record(u64::from(us));
    }
}

impl Default for Timings {
    fn default() -> Self {
        Timings::new()
    }
}

fn histogram() -> Histogram<u64> {
    // The bounds are constants, not peer data: they are valid or every test fails.
    Histogram::new_with_bounds(1, MAX_US, 3).expect("constant histogram bounds are valid")
}

/// One bot's samples not yet in [`Timings`].
#[derive(Debug)]
pub(crate) struct PendingTimings {
    samples: [(Timing, u32); PENDING],
    len: usize,
}

impl PendingTimings {
    /// None held.
    pub(crate) fn new() -> PendingTimings {
        PendingTimings {
            samples: [(Timing::Rtt, 0); PENDING],
            len: 0,
        }
    }

    /// Holds one sample of `us` microseconds (clamped to the histograms' range); returns
    /// true when full, and then the caller must [`add_to`](Self::add_to) before the next.
    #[inline]
    pub(crate) fn push(&mut self, kind: Timing, us: u64) -> bool {
        // `len < PENDING` whenever the caller emptied us when told: if not, the sample is
        // dropped rather than the array indexed out of bounds.
        if let Some(slot) = self.samples.get_mut(self.len) {
            // The clamp makes it fit in a u32.
            *slot = (kind, us.clamp(1, MAX_US) as u32);
            self.len += 1;
        }
        self.len == PENDING
    }

    /// Adds every held sample to `timings` and empties.
    pub(crate) fn add_to(&mut self, timings: &mut Timings) {
        for &(kind, us) in &self.samples[..self.len] {
            timings.record(kind, us);
        }
        self.len = 0;
    }

    /// True when nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for PendingTimings {
    fn default() -> Self {
        PendingTimings::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_samples_reach_their_histograms_once() {
        let mut t = Timings::new();
        let mut p = PendingTimings::new();
        let mut full = 0;
        for i in 0..100u64 {
            let kind = if i % 4 == 0 {
                Timing::Rtt
            } else {
                Timing::Echo
            };
            if p.push(kind, 1000 + i) {
                full += 1;
                p.add_to(&mut t);
            }
        }
        assert_eq!(full, 3, "full at 32, 64 and 96");
        assert!(!p.is_empty());
        p.add_to(&mut t);
        assert!(p.is_empty());
        p.add_to(&mut t);
        assert_eq!(t.of(Timing::Rtt).len(), 25);
        assert_eq!(t.of(Timing::Echo).len(), 75);
        assert_eq!(t.of(Timing::Handoff).len(), 0);
        assert_eq!(t.of(Timing::Rtt).min(), 1000);
        assert_eq!(t.of(Timing::Echo).max(), 1099);
    }

    #[test]
    fn absurd_times_are_clamped_not_dropped() {
        let mut t = Timings::new();
        let mut p = PendingTimings::new();
        p.push(Timing::DeliverySame, 0);
        p.push(Timing::DeliveryCross, u64::MAX);
        p.add_to(&mut t);
        assert_eq!(t.of(Timing::DeliverySame).min(), 1);
        assert!(t.of(Timing::DeliveryCross).max() >= MAX_US);
    }

    #[test]
    fn a_caller_that_does_not_empty_a_full_array_loses_samples_not_memory_safety() {
        let mut p = PendingTimings::new();
        for _ in 0..PENDING {
            p.push(Timing::Rtt, 5);
        }
        assert!(p.push(Timing::Rtt, 5), "still full");
        let mut t = Timings::new();
        p.add_to(&mut t);
        assert_eq!(t.of(Timing::Rtt).len(), PENDING as u64);
    }
}
