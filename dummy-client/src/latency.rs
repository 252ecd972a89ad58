//! Round-trip times, in two hdrhistograms: the whole run and the current second. One for
//! `C_Ping` -> `S_Pong`, one for a bot's own window move -> its own `S_BroadcastMove`.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Largest round trip recorded, in microseconds; longer ones are recorded as this.
const MAX_RTT_US: u64 = 60_000_000;

/// Round-trip statistics of a run, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RttSummary {
    /// Round trips measured (pongs, or own moves echoed), before the coordinated-omission
    /// correction. Zero when the server never answered: the percentiles are then not zeros
    /// but meaningless, and the summary says "no pongs" instead.
    #[serde(alias = "pongs")]
    pub samples: u64,
    /// Values in the histogram, the correction's synthetic ones included.
    pub corrected_samples: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Largest.
    pub max_us: u64,
    /// Mean.
    pub mean_us: f64,
}

/// Round trips recorded so far.
///
/// Pongs are few (one per bot per ping interval), so the session tasks share one of these
/// behind a mutex rather than keeping a histogram per bot, which would cost tens of KiB each.
#[derive(Debug)]
pub(crate) struct Latency {
    /// Every round trip of the run, corrected for coordinated omission.
    total: Histogram<u64>,
    /// Round trips since the last status line, uncorrected: the live view.
    second: Histogram<u64>,
    /// The ping interval in microseconds: a round trip longer than this hid the pings a bot
    /// would have sent meanwhile, which `record_correct` adds back.
    expected_interval_us: u64,
    samples: u64,
}

impl Latency {
    /// An empty record for pings sent every `expected_interval_us`.
    pub(crate) fn new(expected_interval_us: u64) -> Latency {
        Latency {
            total: histogram(),
            second: histogram(),
            expected_interval_us: expected_interval_us.max(1),
            samples: 0,
        }
    }

    /// Records one round trip.
    pub(crate) fn record(&mut self, rtt_us: u64) {
        let rtt_us = rtt_us.clamp(1, MAX_RTT_US);
        self.samples += 1;
        // Both calls only fail for values outside the histogram's range, excluded above.
        let _ = self.total.record_correct(rtt_us, self.expected_interval_us);
        let _ = self.second.record(rtt_us);
    }

    /// (p50, p99) since the last call, in microseconds, or `None` if no pong arrived; starts
    /// a new second.
    pub(crate) fn take_second(&mut self) -> Option<(u64, u64)> {
        if self.second.is_empty() {
            return None;
        }
        let out = (
            self.second.value_at_quantile(0.50),
            self.second.value_at_quantile(0.99),
        );
        self.second.reset();
        Some(out)
    }

    /// The whole run's statistics.
    pub(crate) fn summary(&self) -> RttSummary {
        if self.total.is_empty() {
            return RttSummary::default();
        }
        RttSummary {
            samples: self.samples,
            corrected_samples: self.total.len(),
            p50_us: self.total.value_at_quantile(0.50),
            p90_us: self.total.value_at_quantile(0.90),
            p99_us: self.total.value_at_quantile(0.99),
            max_us: self.total.max(),
            mean_us: self.total.mean(),
        }
    }
}

fn histogram() -> Histogram<u64> {
    // Three significant digits over 1 us ..= 60 s: about 30 KiB, twice per run.
    // The bounds are constants, not peer data: they are valid or every test fails.
    Histogram::new_with_bounds(1, MAX_RTT_US, 3).expect("constant histogram bounds are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_known_samples() {
        let mut l = Latency::new(1_000_000);
        for rtt in 1..=1000u64 {
            l.record(rtt * 100);
        }
        let s = l.summary();
        assert_eq!(s.samples, 1000);
        assert_eq!(
            s.corrected_samples, 1000,
            "all below the interval: nothing added"
        );
        assert!((49_900..=50_100).contains(&s.p50_us), "p50 {}", s.p50_us);
        assert!((98_900..=99_100).contains(&s.p99_us), "p99 {}", s.p99_us);
        assert!((99_900..=100_100).contains(&s.max_us));
    }

    #[test]
    fn a_stall_longer_than_the_ping_interval_is_corrected_for() {
        let mut l = Latency::new(100_000);
        for _ in 0..99 {
            l.record(1_000);
        }
        // One 1 s stall hid nine pings that would have waited 900 ms, 800 ms, ...
        l.record(1_000_000);
        let s = l.summary();
        assert_eq!(s.samples, 100);
        assert_eq!(s.corrected_samples, 109);
        // Uncorrected, the mean would be about 11 ms; the hidden waits lift it to about 51 ms.
        assert!(
            s.mean_us > 40_000.0,
            "the corrected mean should see the stall, got {}",
            s.mean_us
        );
    }

    #[test]
    fn the_live_second_restarts_after_each_read() {
        let mut l = Latency::new(1_000_000);
        assert_eq!(l.take_second(), None);
        l.record(500);
        let (p50, p99) = l.take_second().unwrap_or_default();
        assert!((499..=501).contains(&p50) && (499..=501).contains(&p99));
        assert_eq!(l.take_second(), None, "a new second starts empty");
        assert_eq!(l.summary().samples, 1, "the run's total keeps everything");
    }

    #[test]
    fn absurd_round_trips_are_clamped_not_dropped() {
        let mut l = Latency::new(1_000_000);
        l.record(0);
        l.record(u64::MAX);
        assert_eq!(l.summary().samples, 2);
    }
}
