//! `AtomicHistogram`: a fixed-bucket latency histogram that any thread records into without a
//! lock, exported through prometheus-client's encoder.
//!
//! prometheus-client's own `Histogram` takes a lock per observation; the room's thread records
//! one wait time per job (thousands a second), so this one is a row of relaxed atomics
//! instead. The buckets are fixed (50 µs to 5 s) because every histogram here measures the
//! same kind of thing: how long the room took or waited, where 250 ms is one tick.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds; a last, implicit bucket is +Inf.
pub const BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

/// Bucket counts (not cumulative), the last one +Inf.
pub type BucketCounts = [u64; BUCKETS.len() + 1];

/// A latency histogram with the [`BUCKETS`] bounds.
#[derive(Debug)]
pub struct AtomicHistogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        AtomicHistogram {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

/// A copy of a histogram's counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HistogramSnapshot {
    /// Observations per bucket (not cumulative); the last is +Inf.
    pub counts: BucketCounts,
    /// Sum of every observation, in seconds.
    pub sum_seconds: f64,
}

impl AtomicHistogram {
    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&bound| secs <= bound)
            .unwrap_or(BUCKETS.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The counts now. Not atomic as a whole (a scrape may see a count without its sum); each
    /// number is exact on its own, which is what Prometheus expects of a live histogram.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed)),
            sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

impl HistogramSnapshot {
    /// Observations in total.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// What was observed since `earlier` (a snapshot of the same histogram).
    pub fn since(&self, earlier: &HistogramSnapshot) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: std::array::from_fn(|i| self.counts[i].saturating_sub(earlier.counts[i])),
            sum_seconds: (self.sum_seconds - earlier.sum_seconds).max(0.0),
        }
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1), in seconds: the value
    /// Prometheus' `histogram_quantile` would interpolate within. `None` with no observation;
    /// +Inf if it falls past the last bound.
    pub fn quantile_bound(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(BUCKETS.get(i).copied().unwrap_or(f64::INFINITY));
            }
        }
        Some(f64::INFINITY)
    }

    /// `(upper bound, count)` pairs as prometheus-client's encoder takes them.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts.iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = AtomicHistogram::default();
        h.observe(Duration::from_micros(10));
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.counts[0], 2, "10 µs and exactly 50 µs are both <= 50 µs");
        assert_eq!(s.counts[6], 1, "3 ms is in the 5 ms bucket");
        assert_eq!(s.counts[BUCKETS.len()], 1, "a minute is past every bound");
        assert_eq!(s.count(), 4);
        assert!((s.sum_seconds - 60.003_06).abs() < 1e-9);
    }

    #[test]
    fn quantile_bound_reports_the_bucket_of_the_ranked_observation() {
        let h = AtomicHistogram::default();
        for _ in 0..99 {
            h.observe(Duration::from_micros(80));
        }
        let before = h.snapshot();
        assert_eq!(before.quantile_bound(0.99), Some(0.000_1));
        h.observe(Duration::from_millis(40));
        h.observe(Duration::from_millis(40));
        let after = h.snapshot();
        assert_eq!(
            after.quantile_bound(0.99),
            Some(0.05),
            "2 slow of 101: the 100th observation is slow"
        );
        let window = after.since(&before);
        assert_eq!(window.count(), 2);
        assert_eq!(window.quantile_bound(0.5), Some(0.05));
        assert_eq!(HistogramSnapshot::default().quantile_bound(0.99), None);
    }
}
