//! Did every bot see every bot's moves? Expected against received, without a matrix.
//!
//! The reference room broadcasts each `C_Move` to everyone in the room, the sender included.
//! So a bot that was in the room for the whole measured window must receive every window move
//! of every bot, its own echoes included, and the expected count is the same for every such
//! receiver: the sum of everyone's window sends. Each bot therefore keeps three numbers (its
//! window sends, its own echoes, the window moves it received from others) instead of a count
//! per sender, which at 3000 bots would be nine million pairs.
//!
//! Bots that were not in the room for the whole window (entered late, or disconnected before
//! the end) make the expectation a range. Their moves that reached the server went to every
//! receiver; how many did is bounded below by the echoes they saw themselves (the room sends
//! one flush to everyone) and above by what they sent. Their own receipts are not checked.

use serde::{Deserialize, Serialize};

/// One bot's part in the accounting, read from its counters at the end of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BotMoves {
    /// Window moves this bot queued for sending.
    pub(crate) sent: u64,
    /// Window moves received carrying this bot's own player id.
    pub(crate) own_received: u64,
    /// Window moves received from other players.
    pub(crate) others_received: u64,
    /// In the room for the whole window: entered before it opened, connected until the end.
    pub(crate) whole_window: bool,
}

/// The outcome of the move accounting, part of the [`Report`](crate::Report).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MoveAccounting {
    /// Bots in the room for the whole window: the receivers that are checked.
    pub receivers: u64,
    /// Bots that entered late or left early: their moves are expected within a range and
    /// their receipts are not checked.
    pub partial_bots: u64,
    /// Window moves sent by all bots.
    pub sent: u64,
    /// Window moves each receiver must have received, at least...
    pub expected_per_receiver_min: u64,
    /// ...and at most. Equal unless some bot was partial.
    pub expected_per_receiver_max: u64,
    /// Sum over receivers of the lower bound: the deliveries the server owed.
    pub expected: u64,
    /// Window moves the receivers received, their own echoes included.
    pub received: u64,
    /// Of `received`, those from other bots.
    pub received_from_others: u64,
    /// Deliveries missing below the lower bound, summed over receivers. Each is an error.
    pub lost: u64,
    /// Deliveries above the upper bound (duplicates), summed over receivers. Each is an error.
    pub extra: u64,
    /// Of `extra`, deliveries of a move the receiver had already received.
    #[serde(default)]
    pub duplicates: u64,
    /// Of `extra`, deliveries of a move its sender never sent.
    #[serde(default)]
    pub never_sent: u64,
    /// Receivers that missed at least one move.
    pub receivers_missing_moves: u64,
    /// `received / expected` (1.0 when nothing was expected).
    pub delivered_ratio: f64,
    /// True when the expectation is exact (no partial bots).
    pub exact: bool,
}

impl MoveAccounting {
    /// Accounts for every bot of the run.
    pub(crate) fn compute(bots: &[BotMoves]) -> MoveAccounting {
        let mut acc = MoveAccounting::default();
        let mut full_sent = 0u64;
        let mut partial_echoed = 0u64;
        let mut partial_sent = 0u64;
        for bot in bots {
            acc.sent += bot.sent;
            if bot.whole_window {
                acc.receivers += 1;
                full_sent += bot.sent;
            } else {
                acc.partial_bots += 1;
                // A partial bot cannot have had more echoes than sends; a broken server
                // might claim otherwise, and the bound must not exceed the sends.
                partial_echoed += bot.own_received.min(bot.sent);
                partial_sent += bot.sent;
            }
        }
        acc.expected_per_receiver_min = full_sent + partial_echoed;
        acc.expected_per_receiver_max = full_sent + partial_sent;
        acc.exact = acc.partial_bots == 0;
        for bot in bots.iter().filter(|b| b.whole_window) {
            let received = bot.own_received + bot.others_received;
            acc.received += received;
            acc.received_from_others += bot.others_received;
            let lost = acc.expected_per_receiver_min.saturating_sub(received);
            acc.lost += lost;
            acc.extra += received.saturating_sub(acc.expected_per_receiver_max);
            if lost > 0 {
                acc.receivers_missing_moves += 1;
            }
        }
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

    fn full(sent: u64, own: u64, others: u64) -> BotMoves {
        BotMoves {
            sent,
            own_received: own,
            others_received: others,
            whole_window: true,
        }
    }

    #[test]
    fn a_perfect_room_adds_up_exactly() {
        // Three bots sent 10, 20 and 30: each must see 60, its own included.
        let bots = [full(10, 10, 50), full(20, 20, 40), full(30, 30, 30)];
        let acc = MoveAccounting::compute(&bots);
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
    fn missing_and_duplicated_moves_are_counted_per_receiver() {
        // Bot 0 missed 5 moves; bot 2 got 2 twice. They do not cancel out.
        let bots = [full(10, 10, 45), full(20, 20, 40), full(30, 30, 32)];
        let acc = MoveAccounting::compute(&bots);
        assert_eq!(acc.lost, 5);
        assert_eq!(acc.extra, 2);
        assert_eq!(acc.receivers_missing_moves, 1);
    }

    #[test]
    fn a_bot_that_left_early_widens_the_expectation_instead_of_faking_losses() {
        // The leaver sent 8, saw 5 of them echoed, so 5..=8 of its moves reached the room.
        let leaver = BotMoves {
            sent: 8,
            own_received: 5,
            others_received: 3,
            whole_window: false,
        };
        // Anything from 25 to 28 is fine: one receiver got 25, the other 28.
        let bots = [full(10, 10, 15), full(10, 10, 18), leaver];
        let acc = MoveAccounting::compute(&bots);
        assert!(!acc.exact);
        assert_eq!(acc.partial_bots, 1);
        assert_eq!(
            (acc.expected_per_receiver_min, acc.expected_per_receiver_max),
            (25, 28)
        );
        assert_eq!(acc.receivers, 2, "the leaver's receipts are not checked");
        assert_eq!((acc.lost, acc.extra), (0, 0));

        // Below the echoed lower bound is still a loss.
        let acc = MoveAccounting::compute(&[full(10, 10, 13), full(10, 10, 18), leaver]);
        assert_eq!(
            acc.lost, 2,
            "23 received where at least 25 were delivered to others"
        );
    }

    #[test]
    fn no_window_means_nothing_expected() {
        let acc = MoveAccounting::compute(&[]);
        assert_eq!(acc.expected, 0);
        assert_eq!(acc.delivered_ratio, 1.0);
    }

    proptest::proptest! {
        #[test]
        fn perfect_delivery_adds_up_and_any_loss_is_found(
            sends in proptest::collection::vec(0u64..500, 1..50),
            victim in 0usize..50,
            missing in 1u64..100,
        ) {
            let total: u64 = sends.iter().sum();
            let mut bots: Vec<BotMoves> = sends
                .iter()
                .map(|&s| full(s, s, total - s))
                .collect();
            let acc = MoveAccounting::compute(&bots);
            proptest::prop_assert_eq!(acc.received, acc.expected);
            proptest::prop_assert_eq!((acc.lost, acc.extra), (0, 0));

            let victim = victim % bots.len();
            let missing = missing.min(bots[victim].others_received);
            bots[victim].others_received -= missing;
            let acc = MoveAccounting::compute(&bots);
            proptest::prop_assert_eq!(acc.lost, missing);
            proptest::prop_assert_eq!(acc.received + missing, acc.expected);
        }
    }
}
