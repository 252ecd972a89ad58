//! Per-sender sequence checking on the receive path: each receiver remembers, for every
//! sender, the last window-move sequence number it saw from it.
//!
//! Totals cannot tell a loss from a duplicate (one of each cancels out), nor a loss from a
//! sender whose moves may or may not have reached the room. Every window move names its sender
//! and its sequence number (see `moves.rs`), and a sender's moves reach the room in the order
//! sent (one TCP stream, one session, the room's one queue), so for one receiver a sender's
//! moves must come as 1, 2, 3, ...: a jump forward skipped moves (lost), a step back or a
//! repeat is a duplicate or a reordering. The receiver keeps a `Vec<u32>` indexed by sender:
//! one load, compare and store per move, no hashing and no lock (N x N x 4 bytes for the run:
//! 64 MB at N = 4000). What a receiver is owed beyond the last move it saw from a sender, and
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SenderSeqs {
    /// Indexed by sender bot index: the highest sequence number seen, reconstructed from its
    /// low 16 bits; 0 when none was seen (sequences start at 1).
    last: Vec<u32>,
}

impl SenderSeqs {
    /// For a run of `senders` bots. `own` is this receiver's bot index and the sequence number
    /// of its last window move before this connection (a rejoin carries on its index's
    /// sequence), so that its own echoes are placed exactly even after 2^16 moves.
    pub(crate) fn new(senders: usize, own: Option<(usize, u32)>) -> SenderSeqs {
        let mut last = vec![0; senders];
        if let Some(slot) = own.and_then(|(index, base)| last.get_mut(index).zip(Some(base))) {
            *slot.0 = slot.1;
        }
        SenderSeqs { last }
    }

    /// Checks one window move.
    #[inline]
    pub(crate) fn on_move(&mut self, tag: Tag) -> Seen {
        let Some(last) = self.last.get_mut(usize::from(tag.sender)) else {
            return Seen::Foreign;
        };
        if *last == 0 {
            // Sequence numbers start at 1, so a 0 in the low bits is 2^16 (or a multiple).
            let first = if tag.seq == 0 {
                1 << 16
            } else {
                u32::from(tag.seq)
            };
            *last = first;
            return Seen::First { skipped: first - 1 };
        }
        // The step from the last one, modulo 2^16: exact while a receiver never misses 2^15
        // moves of one sender in a row.
        let step = tag.seq.wrapping_sub(*last as u16) as i16;
        match step {
            1 => {
                *last += 1;
                Seen::Next
            }
            step if step > 1 => {
                *last = last.saturating_add(step as u32);
                Seen::Gap {
                    skipped: step as u32 - 1,
                }
            }
            _ => Seen::Repeat,
        }
    }

    /// The highest sequence number seen from `sender` (0: none).
    pub(crate) fn last(&self, sender: usize) -> u32 {
        self.last.get(sender).copied().unwrap_or(0)
    }

    /// The per-sender record, for the accounting at the end.
    pub(crate) fn into_vec(self) -> Vec<u32> {
        self.last
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

    #[test]
    fn a_rejoined_bot_places_its_own_echoes_after_its_earlier_moves() {
        let mut s = SenderSeqs::new(4, Some((2, 65_540)));
        assert_eq!(s.on_move(t(2, 65_541)), Seen::Next);
        assert_eq!(s.last(2), 65_541);
        assert_eq!(s.into_vec(), vec![0, 0, 65_541, 0]);
    }
}
