//! `Required`: which moves each receiver must get, kept by the sender as runs while the
//! run goes on, and tallied against what the receivers saw at the end. Sans-IO.
//!
//! A move is required for every receiver then near the mover (see `driver.rs`). Noting it
//! in each receiver's own set wrote to a different receiver's memory for each of the ~8
//! receivers of every move, two cache misses each at 10,000 bots. But a mover's receivers
//! barely change from one of its moves to the next, so the sender keeps them instead:
//! its receivers of the latest move, each with the first move of its current run, merged
//! with the next move's receivers (all in the sender's own small array). Only a receiver
//! coming or going costs anything more: a run is closed and kept.
//!
//! With churn (`driver/churn.rs`) two more things hold. A receiver whose connection is down
//! is simply not among a move's receivers, so its run closes, and a new one opens with the
//! first move after it is back. And a sender's last moves before its connection dropped may
//! never have been applied: the server shows where it parked the character, and the moves
//! after that one are [`Required::unapplied`], owed to no one.

use std::cmp::Ordering;

use crate::world::runs::SeqRuns;

/// One receiver's run of required moves of one sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Run {
    receiver: u32,
    sender: u32,
    first: u32,
    last: u32,
}

/// The moves every receiver must get, by sender.
#[derive(Debug, Default)]
pub(crate) struct Required {
    /// Per sender (bot index): the receivers of its latest move, by bot index ascending,
    /// each with the sequence number its current run starts at.
    open: Vec<Vec<(u32, u32)>>,
    /// Per sender: the sequence number of its latest move (0 before the first).
    latest: Vec<u32>,
    /// Runs that ended: the receiver was not required the sender's next move.
    closed: Vec<Run>,
    /// The next `open` list of a sender, built here and swapped in.
    scratch: Vec<(u32, u32)>,
    /// (sender, first, last): moves of a sender that the server never applied (sent just
    /// before its connection dropped), taken out of every run at the tally. One per churn
    /// at most, so a list, not a structure per sender.
    unapplied: Vec<(u32, u32, u32)>,
}

/// Required and delivered (receiver, move) pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Pairs that had to arrive.
    pub(crate) required: u64,
    /// Of those, the ones the receiver saw.
    pub(crate) delivered: u64,
}

impl Required {
    /// Nothing required yet of `bots` bots.
    pub(crate) fn new(bots: usize) -> Required {
        Required {
            open: vec![Vec::new(); bots],
            latest: vec![0; bots],
            ..Required::default()
        }
    }

    /// Sender `sender`'s move `seq` is required for exactly `receivers` (bot indexes,
    /// ascending, no repeats). A sender's moves come with increasing sequence numbers; a
    /// run only continues from one move to the next if their numbers follow each other.
    pub(crate) fn on_move(&mut self, sender: usize, seq: u32, receivers: &[u32]) {
        debug_assert!(receivers.windows(2).all(|w| w[0] < w[1]));
        let (Some(open), Some(latest)) = (self.open.get_mut(sender), self.latest.get_mut(sender))
        else {
            return;
        };
        let prev = std::mem::replace(latest, seq);
        let follows = prev.checked_add(1) == Some(seq);
        let next = &mut self.scratch;
        next.clear();
        let (mut i, mut j) = (0, 0);
        loop {
            let order = match (open.get(i), receivers.get(j)) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(&(r, _)), Some(&s)) => r.cmp(&s),
            };
            match order {
                // No longer near: its run ended with the previous move.
                Ordering::Less => {
                    let (receiver, first) = open[i];
                    self.closed.push(Run {
                        receiver,
                        sender: sender as u32,
                        first,
                        last: prev,
                    });
                    i += 1;
                }
                Ordering::Equal if follows => {
                    next.push(open[i]);
                    i += 1;
                    j += 1;
                }
                // Near again after a gap in the numbers: a new run.
                Ordering::Equal => {
                    let (receiver, first) = open[i];
                    self.closed.push(Run {
                        receiver,
                        sender: sender as u32,
                        first,
                        last: prev,
                    });
                    next.push((receiver, seq));
                    i += 1;
                    j += 1;
                }
                Ordering::Greater => {
                    next.push((receivers[j], seq));
                    j += 1;
                }
            }
        }
        std::mem::swap(open, next);
    }

    /// Sender `sender`'s moves `first..=last` were never applied by the server (they were
    /// in flight when its connection dropped, and the character came back before them): no
    /// receiver is owed them.
    pub(crate) fn unapplied(&mut self, sender: usize, first: u32, last: u32) {
        if first <= last && sender < self.latest.len() {
            self.unapplied.push((sender as u32, first, last));
        }
    }

    /// Compares every required move with what its receiver saw: `player_id` names each
    /// sender (by bot index), `seen(receiver, player id)` is what the receiver's checker
    /// saw of that player. Pairs are counted once per (receiver, player id), as if each
    /// receiver had kept one set per player id.
    pub(crate) fn tally<'a>(
        &self,
        player_id: impl Fn(usize) -> i32,
        seen: impl Fn(usize, i32) -> Option<&'a SeqRuns>,
    ) -> Tally {
        let open = self.open.iter().enumerate().flat_map(|(sender, open)| {
            let last = self.latest[sender];
            open.iter().map(move |&(receiver, first)| Run {
                receiver,
                sender: sender as u32,
                first,
                last,
            })
        });
        let mut gaps = self.unapplied.clone();
        gaps.sort_unstable();
        // By receiver and player id, then by first move: two bots the server gave one id
        // would otherwise count the numbers both were required twice.
        let mut runs: Vec<(u32, i32, u32, u32)> = Vec::new();
        for r in self.closed.iter().copied().chain(open) {
            let id = player_id(r.sender as usize);
            let at = gaps.partition_point(|g| g.0 < r.sender);
            let sender_gaps = gaps[at..].iter().take_while(|g| g.0 == r.sender);
            without(
                r.first,
                r.last,
                sender_gaps.map(|g| (g.1, g.2)),
                |first, last| {
                    runs.push((r.receiver, id, first, last));
                },
            );
        }
        runs.sort_unstable();
        let mut tally = Tally::default();
        let mut add = |(receiver, id, first, last): (u32, i32, u32, u32)| {
            tally.required += u64::from(last - first) + 1;
            if let Some(seen) = seen(receiver as usize, id) {
                tally.delivered += seen.count_in(first, last);
            }
        };
        let mut current: Option<(u32, i32, u32, u32)> = None;
        for run in runs {
            current = match current {
                Some(c) if (c.0, c.1) == (run.0, run.1) && run.2 <= c.3.saturating_add(1) => {
                    Some((c.0, c.1, c.2, c.3.max(run.3)))
                }
                Some(c) => {
                    add(c);
                    Some(run)
                }
                None => Some(run),
            };
        }
        if let Some(c) = current {
            add(c);
        }
        tally
    }
}

/// Calls `f` with each piece of `first..=last` outside every one of `gaps` (sorted by
/// first).
fn without(
    first: u32,
    last: u32,
    gaps: impl Iterator<Item = (u32, u32)>,
    mut f: impl FnMut(u32, u32),
) {
    let mut from = first;
    for (a, b) in gaps {
        if b < from {
            continue;
        }
        if a > last {
            break;
        }
        if a > from {
            f(from, a - 1);
        }
        match b.checked_add(1) {
            Some(next) => from = next,
            None => return,
        }
        if from > last {
            return;
        }
    }
    f(from, last);
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_receiver_that_leaves_and_comes_back_has_two_runs() {
        let mut r = Required::new(3);
        r.on_move(0, 1, &[1, 2]);
        r.on_move(0, 2, &[1, 2]);
        r.on_move(0, 3, &[2]);
        r.on_move(0, 4, &[1, 2]);
        r.on_move(1, 1, &[0]);
        let mut seen: HashMap<(usize, i32), SeqRuns> = HashMap::new();
        for (receiver, sender, seqs) in [(1, 100, vec![1, 2, 4]), (2, 100, vec![1, 3, 4])] {
            let set = seen.entry((receiver, sender)).or_default();
            seqs.into_iter().for_each(|s| set.insert(s));
        }
        let t = r.tally(|bot| 100 + bot as i32, |rcv, id| seen.get(&(rcv, id)));
        assert_eq!(
            t,
            Tally {
                required: 3 + 4 + 1,
                delivered: 3 + 3
            },
            "bot 1 needs 1, 2, 4 of bot 0 and has them; bot 2 needs 1..=4 and misses 2; \
             bot 0 needs 1 of bot 1 and missed it"
        );
    }

    #[test]
    fn a_receiver_away_owes_nothing_and_a_sender_owes_no_unapplied_move() {
        let mut r = Required::new(3);
        // Bot 1 receives bot 0's moves 1 and 2, drops, is back for 5 and 6.
        for (seq, receivers) in [(1, &[1, 2][..]), (2, &[1, 2]), (3, &[2]), (4, &[2])] {
            r.on_move(0, seq, receivers);
        }
        r.on_move(0, 5, &[1, 2]);
        r.on_move(0, 6, &[1, 2]);
        // Bot 2 sends 1..=4, drops; the server parked it after 2: 3 and 4 never applied.
        for seq in 1..=4 {
            r.on_move(2, seq, &[0]);
        }
        r.unapplied(2, 3, 4);
        r.on_move(2, 5, &[0]);
        r.unapplied(7, 1, 1);
        r.unapplied(2, 9, 8);
        let mut seen: HashMap<(usize, i32), SeqRuns> = HashMap::new();
        for (receiver, sender, seqs) in [
            (1, 100, vec![1, 2, 5, 6]),
            (2, 100, vec![1, 2, 3, 4, 5, 6]),
            (0, 102, vec![1, 2, 5]),
        ] {
            let set = seen.entry((receiver, sender)).or_default();
            seqs.into_iter().for_each(|s| set.insert(s));
        }
        let t = r.tally(|bot| 100 + bot as i32, |rcv, id| seen.get(&(rcv, id)));
        assert_eq!(
            t,
            Tally {
                required: 4 + 6 + 3,
                delivered: 4 + 6 + 3
            },
            "bot 1 owes nothing while away, bot 0 nothing of bot 2's unapplied 3 and 4"
        );
    }

    #[test]
    fn pieces_outside_gaps() {
        let pieces = |first, last, gaps: &[(u32, u32)]| {
            let mut out = Vec::new();
            without(first, last, gaps.iter().copied(), |a, b| out.push((a, b)));
            out
        };
        assert_eq!(pieces(1, 10, &[]), [(1, 10)]);
        assert_eq!(pieces(1, 10, &[(3, 4), (7, 7)]), [(1, 2), (5, 6), (8, 10)]);
        assert_eq!(pieces(3, 4, &[(1, 5)]), []);
        assert_eq!(pieces(3, 8, &[(1, 3), (8, 20)]), [(4, 7)]);
        assert_eq!(pieces(1, 3, &[(5, 6)]), [(1, 3)]);
        assert_eq!(pieces(1, u32::MAX, &[(2, u32::MAX)]), [(1, 1)]);
    }

    #[test]
    fn a_sender_out_of_range_is_ignored() {
        let mut r = Required::new(1);
        r.on_move(5, 1, &[0]);
        assert_eq!(r.tally(|_| 1, |_, _| None), Tally::default());
    }

    /// A run's events: each a sender's move and the receivers it is required for.
    fn moves() -> impl Strategy<Value = Vec<(usize, BTreeSet<u32>, bool)>> {
        proptest::collection::vec(
            (
                0usize..6,
                proptest::collection::btree_set(0u32..6, 0..5),
                proptest::bool::weighted(0.05),
            ),
            0..120,
        )
    }

    proptest! {
        /// The same requirements as one set per (receiver, sender's player id), the plain
        /// way, whatever the moves, gaps in a sender's numbers and repeated player ids.
        #[test]
        fn tallies_what_a_set_per_receiver_and_player_tallies(
            moves in moves(),
            ids in proptest::collection::vec(1i32..5, 6),
            seen_seqs in proptest::collection::vec((0usize..6, 1i32..5, 1u32..40), 0..200),
            gaps in proptest::collection::vec((0usize..6, 1u32..40, 0u32..4), 0..4),
        ) {
            let mut r = Required::new(6);
            // (sender, receiver, seq) of every requirement, the plain way.
            let mut sent: Vec<(usize, usize, u32)> = Vec::new();
            let mut seq = [0u32; 6];
            for (sender, receivers, skip) in moves {
                // Now and then a sender's number jumps (a move that was never evaluated).
                seq[sender] += if skip { 2 } else { 1 };
                let receivers: Vec<u32> = receivers.into_iter().filter(|&x| x as usize != sender).collect();
                for &x in &receivers {
                    sent.push((sender, x as usize, seq[sender]));
                }
                r.on_move(sender, seq[sender], &receivers);
            }
            // Some of a sender's moves never applied: owed to no one.
            for &(sender, first, len) in &gaps {
                r.unapplied(sender, first, first + len);
            }
            let unapplied = |sender: usize, seq: u32| {
                gaps.iter().any(|&(g, first, len)| g == sender && (first..=first + len).contains(&seq))
            };
            let mut plain: HashMap<(usize, i32), SeqRuns> = HashMap::new();
            for (sender, receiver, seq) in sent {
                if !unapplied(sender, seq) {
                    plain.entry((receiver, ids[sender])).or_default().insert(seq);
                }
            }
            let mut seen: HashMap<(usize, i32), SeqRuns> = HashMap::new();
            for (receiver, id, s) in seen_seqs {
                seen.entry((receiver, id)).or_default().insert(s);
            }
            let mut want = Tally::default();
            for (key, need) in &plain {
                want.required += need.len();
                if let Some(s) = seen.get(key) {
                    want.delivered += need.overlap(s);
                }
            }
            let got = r.tally(|bot| ids[bot], |rcv, id| seen.get(&(rcv, id)));
            prop_assert_eq!(got, want);
        }
    }
}
