//! `SeqRuns`: a set of move sequence numbers kept as sorted, disjoint runs. What a receiver
//! gets of one sender is a few long runs (one per stay in view), so a set that would hold
//! thousands of numbers holds a handful of pairs.

/// Sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqRuns {
    runs: Vec<(u32, u32)>,
}

impl SeqRuns {
    /// Adds `seq`. Cheap when seqs come in increasing order, as they do.
    pub fn insert(&mut self, seq: u32) {
        if let Some(last) = self.runs.last_mut() {
            if seq >= last.0 && seq <= last.1 {
                return;
            }
            if last.1.checked_add(1) == Some(seq) {
                last.1 = seq;
                return;
            }
            if seq > last.1 {
                self.runs.push((seq, seq));
                return;
            }
        } else {
            self.runs.push((seq, seq));
            return;
        }
        // Out of order (rare): insert and merge neighbours.
        let at = self.runs.partition_point(|r| r.1 < seq);
        if self.runs.get(at).is_some_and(|r| r.0 <= seq) {
            return;
        }
        self.runs.insert(at, (seq, seq));
        self.merge();
    }

    fn merge(&mut self) {
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(self.runs.len());
        for &(a, b) in &self.runs {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.runs = merged;
    }

    /// How many numbers the set holds.
    pub fn len(&self) -> u64 {
        self.runs.iter().map(|&(a, b)| (b - a) as u64 + 1).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// How many numbers both sets hold.
    pub fn overlap(&self, other: &SeqRuns) -> u64 {
        let (mut i, mut j, mut n) = (0, 0, 0u64);
        while i < self.runs.len() && j < other.runs.len() {
            let (a, b) = (self.runs[i], other.runs[j]);
            let lo = a.0.max(b.0);
            let hi = a.1.min(b.1);
            if lo <= hi {
                n += (hi - lo) as u64 + 1;
            }
            if a.1 < b.1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn runs_hold_exactly_the_inserted_numbers(
            a in prop::collection::vec(0u32..200, 0..150),
            b in prop::collection::vec(0u32..200, 0..150),
        ) {
            let (mut ra, mut rb) = (SeqRuns::default(), SeqRuns::default());
            a.iter().for_each(|&s| ra.insert(s));
            b.iter().for_each(|&s| rb.insert(s));
            let sa: BTreeSet<u32> = a.into_iter().collect();
            let sb: BTreeSet<u32> = b.into_iter().collect();
            prop_assert_eq!(ra.len(), sa.len() as u64);
            prop_assert_eq!(ra.overlap(&rb), sa.intersection(&sb).count() as u64);
            prop_assert!(ra.runs.windows(2).all(|w| w[0].1 + 1 < w[1].0), "{:?}", ra.runs);
        }
    }
}
