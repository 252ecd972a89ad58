//! `Counter`: a statistic with exactly one writer and occasional readers.

use std::sync::atomic::{AtomicU64, Ordering};

/// A count bumped by one task and read by others.
///
/// Each bot's receive counters are bumped by its session's task for every packet (thousands
/// of times a second per bot) and read by the driver a few times a second. With a single
/// writer a relaxed load and store is exact, and it avoids the locked read-modify-write of
/// `fetch_add`, a measurable cost at millions of packets per second on two cores. A reader
/// may see a value a few increments old, which is fine for live totals; the final totals are
/// read after the session tasks have finished, which orders them after every write.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the counter's one writer may call this.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        let value = self.0.load(Ordering::Relaxed);
        self.0.store(value.wrapping_add(n), Ordering::Relaxed);
    }

    /// Adds one. Only the counter's one writer may call this.
    #[inline]
    pub(crate) fn incr(&self) {
        self.add(1);
    }

    /// Replaces the value. Only the counter's one writer may call this.
    #[inline]
    pub(crate) fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// The current value.
    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_up() {
        let c = Counter::default();
        c.incr();
        c.add(41);
        assert_eq!(c.get(), 42);
    }
}
