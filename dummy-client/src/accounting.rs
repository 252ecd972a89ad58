//! Did every bot see every bot's moves? Checked per sender, so that nothing cancels out.
//!
//! The reference room broadcasts each `C_Move` to everyone in the room, the sender included,
//! and a sender's moves reach the room in the order sent. Every window move names its sender
//! and its sequence number (`moves.rs`), and each receiver checks each sender's sequence as it
//! comes (`sequences.rs`): a jump forward is a loss, a step back or repeat a duplicate. At the
//! end, what each sender's moves owed is bounded per sender: a sender still in the room when
//! the run ended (or that left on purpose, after draining) owed every move it sent; one that
//! was dropped owed at least the moves up to its last own echo (the room ran those, and sent
//! them to everyone in the same flush) and at most all it sent. A receiver that was in the
//! room for the whole window must then have seen, from each sender, every move from 1 up to
//! that lower bound: what it is short of is lost, sender by sender, so a dropped sender's
//! unechoed moves can no longer hide another sender's loss, and a duplicate, counted on its
//! own, can no longer cancel one.
//!
//! A bot that entered during the window has no first move to start from per sender (what the
//! room ran before its enter is not owed): a churned-in stay is checked as a count against
//! the reference receiver (`churn.rs`), a late entrant (an error of its own) for jumps and
//! repeats only.

use serde::{Deserialize, Serialize};

/// How a bot's receipts are checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Receiver {
    /// In the room for the whole window, connected to the end: every owed move, per sender.
    WholeWindow,
    /// Let in after the window opened (not churn): jumps in a sender's sequence.
    Late,
    /// Churned, dropped or never in: not here (repeats are still counted).
    #[default]
    Unchecked,
}

/// One connection's part in the accounting, read from its counters at the end of the run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BotMoves {
    /// The bot's index: the sender its window moves name. Several connections share one
    /// when a bot churns.
    pub(crate) index: usize,
    /// Window moves this connection queued for sending.
    pub(crate) sent: u64,
    /// Window moves received carrying this bot's own player id.
    pub(crate) own_received: u64,
    /// Window moves received from other players.
    pub(crate) others_received: u64,
    /// How its receipts are checked.
    pub(crate) receiver: Receiver,
    /// The connection was in the room and ended with the run or by a planned leave: every
    /// move it sent reached the room.
    pub(crate) stayed: bool,
    /// The highest sequence number of its own moves echoed back to it.
    pub(crate) own_echo_seq: u32,
    /// Per sender, moves before the first it saw (`sequences.rs`).
    pub(crate) head_skipped: u64,
    /// Per sender, moves jumped over, summed.
    pub(crate) gaps: u64,
    /// Repeats and steps back.
    pub(crate) repeats: u64,
    /// Moves naming a sender index outside the run.
    pub(crate) foreign: u64,
    /// The last sequence number it saw per sender index (needed for whole-window receivers
    /// only; may be empty otherwise).
    pub(crate) seen: Vec<u32>,
}

/// The outcome of the move accounting, part of the [`Report`](crate::Report).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MoveAccounting {
    /// Bots in the room for the whole window: the receivers that are checked.
    pub receivers: u64,
    /// Bots that were not in the room for the whole window (entered late, churned, left
    /// early): not checked as whole-window receivers.
    pub partial_bots: u64,
    /// Of those, bots the server let in after the window opened: each is an error
    /// (`late_enters`), and their receipts are checked for gaps and repeats.
    #[serde(default)]
    pub late_receivers: u64,
    /// Window moves sent by all bots.
    pub sent: u64,
    /// Window moves each receiver must have received, at least: for each sender, all it
    /// sent if it was still in the room at the end, else up to its last echoed move...
    pub expected_per_receiver_min: u64,
    /// ...and at most: all it sent. Equal unless some sender was dropped.
    pub expected_per_receiver_max: u64,
    /// Sum over receivers of the lower bound: the deliveries the server owed.
    pub expected: u64,
    /// Window moves the receivers received, their own echoes included.
    pub received: u64,
    /// Of `received`, those from other bots.
    pub received_from_others: u64,
    /// Moves missing, counted per sender: jumped over in a sender's sequence, or missing
    /// before the first or after the last seen up to that sender's lower bound. Summed over
    /// the whole-window receivers (late receivers: jumps only). Each is an error.
    pub lost: u64,
    /// `duplicates + never_sent`. Each is an error.
    pub extra: u64,
    /// Of `extra`, deliveries of a move the receiver had already received (or of one older
    /// than a move of the same sender it had received), over every bot.
    #[serde(default)]
    pub duplicates: u64,
    /// Of `extra`, moves naming a sender outside the run or a sequence number past all its
    /// sender sent.
    #[serde(default)]
    pub never_sent: u64,
    /// Receivers that missed at least one move.
    pub receivers_missing_moves: u64,
    /// `received / expected` (1.0 when nothing was expected).
    pub delivered_ratio: f64,
    /// True when the expectation is exact (every sender's moves all reached the room).
    pub exact: bool,
}

impl MoveAccounting {
    /// Accounts for every connection of the run, in the order they were made (a churned
    /// bot's last connection last). `issued[i]` is the number of window moves bot index `i`
    /// sent over all its connections.
    pub(crate) fn compute(bots: &[BotMoves], issued: &[u32]) -> MoveAccounting {
        let mut acc = MoveAccounting::default();
        // Per sender index: (lower bound, its latest connection stayed).
        let mut bounds: Vec<(u32, bool)> = vec![(0, false); issued.len()];
        for bot in bots {
            acc.sent += bot.sent;
            if let Some(b) = bounds.get_mut(bot.index) {
                b.0 = b.0.max(bot.own_echo_seq);
                b.1 = bot.stayed;
            }
        }
        let lower: Vec<u32> = bounds
            .iter()
            .zip(issued)
            .map(|(&(echoed, stayed), &sent)| if stayed { sent } else { echoed.min(sent) })
            .collect();
        acc.expected_per_receiver_min = lower.iter().map(|&l| u64::from(l)).sum();
        acc.expected_per_receiver_max = issued.iter().map(|&i| u64::from(i)).sum();
        acc.exact = acc.expected_per_receiver_min == acc.expected_per_receiver_max;

        for bot in bots {
            acc.duplicates += bot.repeats;
            acc.never_sent += bot.foreign;
            let lost = match bot.receiver {
                Receiver::WholeWindow => {
                    acc.receivers += 1;
                    acc.received += bot.own_received + bot.others_received;
                    acc.received_from_others += bot.others_received;
                    let mut lost = bot.head_skipped + bot.gaps;
                    for (sender, (&owed, &sent)) in lower.iter().zip(issued).enumerate() {
                        let last = bot.seen.get(sender).copied().unwrap_or(0);
                        lost += u64::from(owed.saturating_sub(last));
                        acc.never_sent += u64::from(last.saturating_sub(sent));
                    }
                    lost
                }
                Receiver::Late => {
                    acc.partial_bots += 1;
                    acc.late_receivers += 1;
                    bot.gaps
                }
                Receiver::Unchecked => {
                    acc.partial_bots += 1;
                    0
                }
            };
            acc.lost += lost;
            acc.receivers_missing_moves += u64::from(lost > 0);
        }
        acc.extra = acc.duplicates + acc.never_sent;
        acc.expected = acc.expected_per_receiver_min * acc.receivers;
        acc.delivered_ratio = if acc.expected == 0 {
            1.0
        } else {
            acc.received as f64 / acc.expected as f64
        };
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulated room: `sends[i]` window moves by bot `i`, each delivered to every
    /// receiver in order through the same `SenderSeqs` check the bots use.
    struct Room {
        issued: Vec<u32>,
        bots: Vec<BotMoves>,
        seqs: Vec<crate::sequences::SenderSeqs>,
    }

    impl Room {
        fn new(sends: &[u32]) -> Room {
            let n = sends.len();
            Room {
                issued: sends.to_vec(),
                bots: (0..n)
                    .map(|i| BotMoves {
                        index: i,
                        sent: u64::from(sends[i]),
                        receiver: Receiver::WholeWindow,
                        stayed: true,
                        ..BotMoves::default()
                    })
                    .collect(),
                seqs: (0..n)
                    .map(|i| crate::sequences::SenderSeqs::new(n, Some((i, 0))))
                    .collect(),
            }
        }

        /// Delivers move `seq` of `sender` to `receiver`.
        fn deliver(&mut self, sender: usize, seq: u32, receiver: usize) {
            use crate::sequences::Seen;
            let tag = crate::moves::Tag::new(sender, seq);
            let bot = &mut self.bots[receiver];
            if sender == receiver {
                bot.own_received += 1;
            } else {
                bot.others_received += 1;
            }
            match self.seqs[receiver].on_move(tag) {
                Seen::First { skipped } => bot.head_skipped += u64::from(skipped),
                Seen::Gap { skipped } => bot.gaps += u64::from(skipped),
                Seen::Repeat => bot.repeats += 1,
                Seen::Foreign => bot.foreign += 1,
                Seen::Next => {}
            }
            if sender == receiver {
                bot.own_echo_seq = self.seqs[receiver].last(receiver);
            }
        }

        /// Every move of every sender to everyone, except `skip(sender, seq, receiver)`.
        fn run(&mut self, skip: impl Fn(usize, u32, usize) -> bool) {
            let n = self.issued.len();
            let most = self.issued.iter().copied().max().unwrap_or(0);
            for seq in 1..=most {
                for sender in 0..n {
                    if seq > self.issued[sender] {
                        continue;
                    }
                    for receiver in 0..n {
                        if !skip(sender, seq, receiver) {
                            self.deliver(sender, seq, receiver);
                        }
                    }
                }
            }
        }

        fn account(&mut self) -> MoveAccounting {
            for (bot, seqs) in self.bots.iter_mut().zip(&self.seqs) {
                bot.seen = seqs.clone().into_vec();
            }
            MoveAccounting::compute(&self.bots, &self.issued)
        }
    }

    #[test]
    fn a_perfect_room_adds_up_exactly() {
        let mut room = Room::new(&[10, 20, 30]);
        room.run(|_, _, _| false);
        let acc = room.account();
        assert!(acc.exact);
        assert_eq!(acc.receivers, 3);
        assert_eq!(acc.sent, 60);
        assert_eq!(acc.expected_per_receiver_min, 60);
        assert_eq!(acc.expected, 180);
        assert_eq!(acc.received, 180);
        assert_eq!(acc.received_from_others, 120);
        assert_eq!((acc.lost, acc.extra), (0, 0), "nothing lost, nothing extra");
        assert_eq!(acc.delivered_ratio, 1.0);
    }

    #[test]
    fn a_loss_and_a_duplicate_are_each_counted() {
        // Receiver 0 misses move 4 of bot 1 and gets move 7 of bot 2 twice: its total is
        // right, which is all the old accounting compared.
        let mut room = Room::new(&[10, 10, 10]);
        room.run(|sender, seq, receiver| (sender, seq, receiver) == (1, 4, 0));
        room.deliver(2, 7, 0);
        let acc = room.account();
        assert_eq!(acc.received, acc.expected, "the totals hide both");
        assert_eq!((acc.lost, acc.duplicates, acc.never_sent), (1, 1, 0));
        assert_eq!(acc.extra, 1);
        assert_eq!(acc.receivers_missing_moves, 1);
    }

    #[test]
    fn a_dropped_senders_unechoed_moves_do_not_hide_another_senders_loss() {
        // Bot 2 sent 10 but was dropped after its 6th echo; moves 7..=10 reached the others.
        // Receiver 0 misses move 3 of bot 1: one loss, whatever bot 2 took with it.
        let mut room = Room::new(&[10, 10, 10]);
        room.run(|sender, seq, receiver| {
            (sender == 2 && seq > 6 && receiver == 2) || (sender, seq, receiver) == (1, 3, 0)
        });
        room.bots[2].receiver = Receiver::Unchecked;
        room.bots[2].stayed = false;
        let acc = room.account();
        assert!(!acc.exact);
        assert_eq!(
            (acc.expected_per_receiver_min, acc.expected_per_receiver_max),
            (26, 30)
        );
        assert_eq!(acc.lost, 1, "{acc:?}");
        assert_eq!(acc.extra, 0);

        // Its moves up to its last echo are owed to everyone, per sender.
        let mut room = Room::new(&[10, 10, 10]);
        room.run(|sender, seq, receiver| sender == 2 && seq > 6 && receiver != 1);
        room.bots[2].receiver = Receiver::Unchecked;
        room.bots[2].stayed = false;
        let acc = room.account();
        assert_eq!((acc.lost, acc.extra), (0, 0), "7..=10 may never have run");
        let mut room = Room::new(&[10, 10, 10]);
        room.run(|sender, seq, receiver| {
            sender == 2 && ((seq > 6 && receiver == 2) || (seq > 5 && receiver == 0))
        });
        room.bots[2].stayed = false;
        room.bots[2].receiver = Receiver::Unchecked;
        let acc = room.account();
        assert_eq!(
            acc.lost, 1,
            "move 6 was echoed to bot 2, so it ran: receiver 0 lost it"
        );
    }

    #[test]
    fn a_sender_that_stayed_owes_every_move_even_unechoed() {
        // Bot 1's last two moves never came back to anyone: the room dropped them.
        let mut room = Room::new(&[5, 5]);
        room.run(|sender, seq, _| sender == 1 && seq > 3);
        let acc = room.account();
        assert_eq!(acc.lost, 4, "two moves, lost to two receivers");
    }

    #[test]
    fn late_receivers_are_checked_for_jumps_and_moves_never_sent_are_extra() {
        let mut room = Room::new(&[6, 6]);
        room.run(|sender, seq, receiver| receiver == 1 && (seq < 3 || (sender, seq) == (0, 4)));
        room.bots[1].receiver = Receiver::Late;
        // A move past all that bot 1 sent, and one from no bot of the run.
        room.deliver(1, 7, 0);
        room.deliver(7, 1, 0);
        let acc = room.account();
        assert_eq!(acc.late_receivers, 1);
        assert_eq!(acc.receivers, 1);
        assert_eq!(
            acc.lost, 1,
            "the jump over move 4; 1 and 2 came before it entered"
        );
        assert_eq!(acc.never_sent, 2, "7 of bot 1 and one from bot 7: {acc:?}");
    }

    #[test]
    fn no_window_means_nothing_expected() {
        let acc = MoveAccounting::compute(&[], &[]);
        assert_eq!(acc.expected, 0);
        assert_eq!(acc.delivered_ratio, 1.0);
    }

    proptest::proptest! {
        #[test]
        fn perfect_delivery_adds_up_and_every_loss_and_duplicate_is_found(
            sends in proptest::collection::vec(0u32..40, 1..8),
            drops in proptest::collection::btree_set((0usize..8, 1u32..40, 0usize..8), 0..6),
            dups in proptest::collection::vec((0usize..8, 1u32..40, 0usize..8), 0..4),
        ) {
            let n = sends.len();
            let mut room = Room::new(&sends);
            room.run(|_, _, _| false);
            let acc = room.account();
            proptest::prop_assert_eq!(acc.received, acc.expected);
            proptest::prop_assert_eq!((acc.lost, acc.extra), (0, 0));

            let valid = |&(s, q, r): &(usize, u32, usize)| s < n && r < n && q <= sends[s];
            let drops: std::collections::BTreeSet<_> = drops.into_iter().filter(valid).collect();
            let dups: Vec<_> = dups.into_iter().filter(valid).filter(|d| !drops.contains(d)).collect();
            let mut room = Room::new(&sends);
            room.run(|s, q, r| drops.contains(&(s, q, r)));
            for &(s, q, r) in &dups {
                room.deliver(s, q, r);
            }
            let acc = room.account();
            proptest::prop_assert_eq!(acc.lost, drops.len() as u64, "{:?}", acc);
            proptest::prop_assert_eq!(acc.duplicates, dups.len() as u64, "{:?}", acc);
            proptest::prop_assert_eq!(acc.never_sent, 0);
        }
    }
}
