//! Per-sender sequence checking on the receive path: each receiver remembers, for every
//! sender, the last window-move sequence number it saw from it.
//!
//! Totals cannot tell a loss from a duplicate (one of each cancels out), nor a loss from a
//! sender whose moves may or may not have reached the room. Every window move names its sender
//! and its sequence number (see `moves.rs`), and a sender's moves reach the room in the order
//! sent (one TCP stream, one session, the room's one queue), so for one receiver a sender's
//! moves must come as 1, 2, 3, ...: a jump forward skipped moves (lost), a step back or a
//! repeat is a duplicate or a reordering. The receiver keeps a `Vec<u16>` indexed by sender (and
//! the wraps past 2^16 aside): one load, compare and store per move, no hashing and no lock
//! (N x N x 4 bytes for the run, half of it touched per move: 64 MB at N = 4000). What a receiver is owed beyond the last move it saw from a sender, and
//! whether the moves before its first were owed, depends on who was in the room when; that
//! is `accounting.rs`'s job at the end.

use crate::moves::Tag;

/// What one window move was, for its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The first move seen from this sender; `skipped` moves of it came before (owed or not,
    /// depending on when the receiver entered).
    First { skipped: u32 },
    /// The sender's next move.
    Next,
    /// `skipped` moves of this sender were jumped over: lost.
    Gap { skipped: u32 },
    /// A move already seen (or older than one seen): a duplicate or a reordering.
    Repeat,
    /// A sender index outside the run: a move no bot sent.
    Foreign,
}

/// One receiver's last sequence number seen per sender.
///
/// The hot half is `low`: the low 16 bits of the highest number seen, 2 bytes a sender, read
/// and written once per move. The rest of the number, `wraps`, is read only where `low` is 0
/// and written only when `low` wraps, once in 65,536 moves of a sender. Half the bytes per
/// sender of a plain `u32` each is half the cache lines a receiver's moves touch: a bot's
/// moves come in the room's order, not the senders', so at N = 3000 nearly every move's slot
/// was a cache miss (`perf`: a third of `on_s_broadcast_move`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SenderSeqs {
    /// Indexed by sender bot index: the highest sequence number seen, modulo 2^16.
    low: Vec<u16>,
    /// Indexed by sender bot index: the highest sequence number seen, divided by 2^16. With
    /// `low`, both 0 means none was seen (sequences start at 1).
    wraps: Vec<u16>,
}

impl SenderSeqs {
    /// For a run of `senders` bots. `own` is this receiver's bot index and the sequence number
    /// of its last window move before this connection (a rejoin carries on its index's
    /// sequence), so that its own echoes are placed exactly even after 2^16 moves.
    pub(crate) fn new(senders: usize, own: Option<(usize, u32)>) -> SenderSeqs {
        let mut seqs = SenderSeqs {
            low: vec![0; senders],
            wraps: vec![0; senders],
        };
        if let Some((index, base)) = own.filter(|(index, _)| *index < senders) {
            seqs.store(index, base);
        }
        seqs
    }

    fn store(&mut self, sender: usize, value: u32) {
        self.low[sender] = value as u16;
        // Runs end long before 2^32 moves of one sender (an hour is 14,400 at 4 a second);
        // past it the count saturates rather than wraps to 0, which would read as "none".
        self.wraps[sender] = u16::try_from(value >> 16).unwrap_or(u16::MAX);
    }

    /// Checks one window move.
    #[inline]
    pub(crate) fn on_move(&mut self, tag: Tag) -> Seen {
        let sender = usize::from(tag.sender);
        let Some(&low) = self.low.get(sender) else {
            return Seen::Foreign;
        };
        if low == 0 {
            return self.on_move_at_zero(sender, tag.seq);
        }
        self.step(sender, low, tag.seq)
    }

    /// The move after `low` (the last one seen, modulo 2^16): the step from it is exact
    /// while a receiver never misses 2^15 moves of one sender in a row.
    #[inline]
    fn step(&mut self, sender: usize, low: u16, seq: u16) -> Seen {
        match seq.wrapping_sub(low) as i16 {
            1 => {
                self.advance(sender, low, 1);
                Seen::Next
            }
            step if step > 1 => {
                self.advance(sender, low, step as u16);
                Seen::Gap {
                    skipped: step as u32 - 1,
                }
            }
            _ => Seen::Repeat,
        }
    }

    /// `low` is 0: none seen yet, or the last one was a multiple of 2^16. Rare, so the
    /// `wraps` lookup stays off the hot path.
    #[cold]
    fn on_move_at_zero(&mut self, sender: usize, seq: u16) -> Seen {
        if self.wraps[sender] != 0 {
            return self.step(sender, 0, seq);
        }
        // Sequence numbers start at 1, so a 0 in the low bits is 2^16 (or a multiple).
        let first = if seq == 0 { 1 << 16 } else { u32::from(seq) };
        self.store(sender, first);
        Seen::First { skipped: first - 1 }
    }

    #[inline]
    fn advance(&mut self, sender: usize, low: u16, step: u16) {
        let (next, wrapped) = low.overflowing_add(step);
        self.low[sender] = next;
        if wrapped {
            self.wraps[sender] = self.wraps[sender].saturating_add(1);
        }
    }

    /// Senders whose moves this receiver checks.
    pub(crate) fn senders(&self) -> usize {
        self.low.len()
    }

    /// Reads the hot half once, front to back, so that the moves of a read that will touch
    /// most of it find it in the cache. A receiver's moves come in the room's order, so each
    /// first touch of a line was a cache miss on its own; read in order, the hardware
    /// prefetcher streams the lines in.
    pub(crate) fn warm(&self) {
        // One `u16` per 64-byte line; a plain stride (`step_by` went through `nth` per step).
        let mut touched = 0u16;
        let mut i = 0;
        while let Some(v) = self.low.get(i) {
            touched ^= v;
            i += 32;
        }
        std::hint::black_box(touched);
    }

    /// The highest sequence number seen from `sender` (0: none).
    pub(crate) fn last(&self, sender: usize) -> u32 {
        match (self.low.get(sender), self.wraps.get(sender)) {
            (Some(&low), Some(&wraps)) => u32::from(wraps) << 16 | u32::from(low),
            _ => 0,
        }
    }

    /// The per-sender record, for the accounting at the end.
    pub(crate) fn into_vec(self) -> Vec<u32> {
        (0..self.low.len()).map(|s| self.last(s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(sender: u16, seq: u32) -> Tag {
        Tag::new(usize::from(sender), seq)
    }

    #[test]
    fn an_unbroken_stream_is_next_after_next() {
        let mut s = SenderSeqs::new(3, None);
        assert_eq!(s.on_move(t(1, 1)), Seen::First { skipped: 0 });
        assert_eq!(s.on_move(t(1, 2)), Seen::Next);
        assert_eq!(s.on_move(t(2, 1)), Seen::First { skipped: 0 });
        assert_eq!(s.on_move(t(1, 3)), Seen::Next);
        assert_eq!((s.last(0), s.last(1), s.last(2)), (0, 3, 1));
    }

    #[test]
    fn a_gap_and_a_repeat_are_each_seen() {
        let mut s = SenderSeqs::new(2, None);
        s.on_move(t(0, 1));
        assert_eq!(s.on_move(t(0, 4)), Seen::Gap { skipped: 2 }, "2 and 3 lost");
        assert_eq!(s.on_move(t(0, 4)), Seen::Repeat, "4 again");
        assert_eq!(s.on_move(t(0, 3)), Seen::Repeat, "3 late: reordered");
        assert_eq!(s.on_move(t(0, 5)), Seen::Next);
        assert_eq!(s.on_move(t(1, 3)), Seen::First { skipped: 2 });
        assert_eq!(s.on_move(t(5, 1)), Seen::Foreign, "no bot 5 in a run of 2");
    }

    #[test]
    fn sequences_carry_on_past_the_sixteen_bits_on_the_wire() {
        let mut s = SenderSeqs::new(1, None);
        for seq in 1..=70_000u32 {
            let seen = s.on_move(t(0, seq));
            let expected = if seq == 1 {
                Seen::First { skipped: 0 }
            } else {
                Seen::Next
            };
            assert_eq!(seen, expected, "seq {seq}");
        }
        assert_eq!(s.last(0), 70_000);
        assert_eq!(s.on_move(t(0, 70_003)), Seen::Gap { skipped: 2 });
        assert_eq!(s.last(0), 70_003);
    }

    /// The former `Vec<u32>` check, kept as the reference the 16-bit storage must match.
    fn reference(last: &mut u32, seq: u16) -> Seen {
        if *last == 0 {
            let first = if seq == 0 { 1 << 16 } else { u32::from(seq) };
            *last = first;
            return Seen::First { skipped: first - 1 };
        }
        match seq.wrapping_sub(*last as u16) as i16 {
            1 => {
                *last += 1;
                Seen::Next
            }
            step if step > 1 => {
                *last += step as u32;
                Seen::Gap {
                    skipped: step as u32 - 1,
                }
            }
            _ => Seen::Repeat,
        }
    }

    #[test]
    fn a_gap_and_a_repeat_across_the_wrap_are_placed_exactly() {
        let mut s = SenderSeqs::new(1, Some((0, 65_530)));
        assert_eq!(s.on_move(t(0, 65_540)), Seen::Gap { skipped: 9 });
        assert_eq!(s.last(0), 65_540);
        assert_eq!(
            s.on_move(t(0, 65_536)),
            Seen::Repeat,
            "behind, across the wrap"
        );
        let mut s = SenderSeqs::new(1, Some((0, 65_535)));
        assert_eq!(s.on_move(t(0, 65_536)), Seen::Next, "onto a zero low half");
        assert_eq!(s.on_move(t(0, 65_536)), Seen::Repeat, "a repeat at zero");
        assert_eq!(s.on_move(t(0, 65_539)), Seen::Gap { skipped: 2 });
        assert_eq!(s.into_vec(), vec![65_539]);
    }

    proptest::proptest! {
        #[test]
        fn sixteen_bit_storage_decides_as_the_full_numbers_did(
            start in 0u32..200_000,
            steps in proptest::collection::vec(-40i32..3000, 1..200),
        ) {
            let mut s = SenderSeqs::new(1, Some((0, start)));
            let mut last = start;
            let mut seq = start;
            for step in steps {
                seq = seq.saturating_add_signed(step);
                let got = s.on_move(t(0, seq));
                let want = reference(&mut last, seq as u16);
                proptest::prop_assert_eq!(got, want, "seq {}", seq);
                proptest::prop_assert_eq!(s.last(0), last);
            }
        }
    }

    #[test]
    fn a_rejoined_bot_places_its_own_echoes_after_its_earlier_moves() {
        let mut s = SenderSeqs::new(4, Some((2, 65_540)));
        assert_eq!(s.on_move(t(2, 65_541)), Seen::Next);
        assert_eq!(s.last(2), 65_541);
        assert_eq!(s.into_vec(), vec![0, 0, 65_541, 0]);
    }
}
