//! `SeqRuns`: a set of move sequence numbers kept as sorted, disjoint runs. What a receiver
//! gets of one sender is a few long runs (one per stay in view), so a set that would hold
//! thousands of numbers holds a handful of pairs.

/// Sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqRuns {
    /// Every run but the highest.
    earlier: Vec<(u32, u32)>,
    /// The highest run, kept inline: the common insert, the number after it, touches no
    /// memory but this struct's, where a run kept in the `Vec` cost a cache miss per move
    /// (one such set per sender in every bot's checker, and per receiver in the driver).
    /// `None` only when the set is empty, and then so is `earlier`.
    last: Option<(u32, u32)>,
}

impl SeqRuns {
    /// Adds `seq`. Cheap when seqs come in increasing order, as they do.
    #[inline]
    pub fn insert(&mut self, seq: u32) {
        let Some(last) = &mut self.last else {
            self.last = Some((seq, seq));
            return;
        };
        if seq >= last.0 && seq <= last.1 {
            return;
        }
        if last.1.checked_add(1) == Some(seq) {
            last.1 = seq;
            return;
        }
        if seq > last.1 {
            self.earlier.push(*last);
            *last = (seq, seq);
            return;
        }
        self.insert_below(seq);
    }

    /// Out of order (rare): insert `seq`, below the last run, and merge neighbours.
    #[cold]
    fn insert_below(&mut self, seq: u32) {
        let mut runs = std::mem::take(&mut self.earlier);
        runs.extend(self.last.take());
        let at = runs.partition_point(|r| r.1 < seq);
        if runs.get(at).is_none_or(|r| r.0 > seq) {
            runs.insert(at, (seq, seq));
        }
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(runs.len());
        for &(a, b) in &runs {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.last = merged.pop();
        self.earlier = merged;
    }

    /// The runs, lowest first.
    fn runs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.earlier.iter().copied().chain(self.last)
    }

    /// Run `i`, lowest first.
    fn run(&self, i: usize) -> Option<(u32, u32)> {
        match self.earlier.get(i) {
            Some(&run) => Some(run),
            None if i == self.earlier.len() => self.last,
            None => None,
        }
    }

    /// Adds every number of `other`: what a bot received over two connections (a churn
    /// rejoin, see `driver/churn.rs`) is one set per sender.
    pub fn merge(&mut self, other: &SeqRuns) {
        if other.is_empty() {
            return;
        }
        let mut runs: Vec<(u32, u32)> = self.runs().chain(other.runs()).collect();
        runs.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(runs.len());
        for (a, b) in runs {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.last = merged.pop();
        self.earlier = merged;
    }

    /// How many numbers the set holds.
    pub fn len(&self) -> u64 {
        self.runs().map(|(a, b)| (b - a) as u64 + 1).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.last.is_none()
    }

    /// How many numbers both sets hold.
    pub fn overlap(&self, other: &SeqRuns) -> u64 {
        let (mut i, mut j, mut n) = (0, 0, 0u64);
        while let (Some(a), Some(b)) = (self.run(i), other.run(j)) {
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

    /// How many of `first..=last` the set holds.
    pub fn count_in(&self, first: u32, last: u32) -> u64 {
        let from = self.earlier.partition_point(|r| r.1 < first);
        self.earlier[from..]
            .iter()
            .copied()
            .chain(self.last)
            .take_while(|r| r.0 <= last)
            .map(|(a, b)| {
                let (lo, hi) = (a.max(first), b.min(last));
                if lo <= hi {
                    (hi - lo) as u64 + 1
                } else {
                    0
                }
            })
            .sum()
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
            prop_assert_eq!(ra.is_empty(), sa.is_empty());
            prop_assert_eq!(ra.overlap(&rb), sa.intersection(&sb).count() as u64);
            prop_assert_eq!(rb.overlap(&ra), sa.intersection(&sb).count() as u64);
            let runs: Vec<_> = ra.runs().collect();
            prop_assert!(runs.windows(2).all(|w| w[0].1 + 1 < w[1].0), "{:?}", runs);
            prop_assert!(ra.runs().all(|(a, b)| a <= b), "{:?}", runs);
            // One set, one representation: equality is equality of the numbers held.
            let mut sorted = SeqRuns::default();
            sa.iter().for_each(|&s| sorted.insert(s));
            prop_assert_eq!(&ra, &sorted);
        }

        #[test]
        fn a_merge_holds_the_numbers_of_both(
            a in prop::collection::vec(0u32..200, 0..100),
            b in prop::collection::vec(0u32..200, 0..100),
        ) {
            let (mut ra, mut rb) = (SeqRuns::default(), SeqRuns::default());
            a.iter().for_each(|&s| ra.insert(s));
            b.iter().for_each(|&s| rb.insert(s));
            ra.merge(&rb);
            let mut both = SeqRuns::default();
            a.iter().chain(&b).for_each(|&s| both.insert(s));
            prop_assert_eq!(ra, both);
        }

        #[test]
        fn count_in_counts_the_numbers_in_a_range(
            a in prop::collection::vec(0u32..200, 0..150),
            first in 0u32..220,
            len in 0u32..100,
        ) {
            let mut ra = SeqRuns::default();
            a.iter().for_each(|&s| ra.insert(s));
            let sa: BTreeSet<u32> = a.into_iter().collect();
            let last = first + len;
            prop_assert_eq!(ra.count_in(first, last), sa.range(first..=last).count() as u64);
            prop_assert_eq!(ra.count_in(last + 1, first.saturating_sub(1).min(last)), 0);
        }
    }
}
