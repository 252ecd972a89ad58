//! Churn: bots that leave the room during the window and come back as new players, and the
//! accounting that keeps move loss exactly checkable while they do.
//!
//! A bot that leaves and rejoins is a new player id: each stay in the room is a
//! *membership*. Moves can only be owed to a receiver while both it and the sender are in the
//! room, and the edges of a membership are where a plain count goes fuzzy. Two rules make
//! them sharp:
//!
//! - **A leaver drains first.** It stops sending, waits until the room has echoed every one of
//!   its moves back to it, and only then sends `C_LeaveGame`. So every move it sent was
//!   broadcast before its leave, and the bots that stayed owe all of them (the whole-window
//!   check in `accounting.rs` covers that, with the leaver's sends counted exactly).
//! - **A receiver counts between two marks in its own stream.** The room broadcasts everything
//!   in the one order it ran it, and every player receives that order (the part flushed while
//!   it is in the room). A membership counts the window moves it receives after its own
//!   `S_BroadcastEnterGame` (moves the room ran before letting it in may still reach it in
//!   the same flush; they are not owed) up to and including the echo of its last own move
//!   (what comes after is cut short by its own `C_LeaveGame`, which closes the session at once).
//!   Exactly the window moves the room ran between its enter and its last move are owed.
//!
//! How many moves the room ran between two such points is read off one **reference
//! receiver** (bot 0, which never churns and is in the room for the whole window): it records,
//! in [`RoomOrder`], how many window moves it had seen when each player entered and when each
//! player's last move came by. A receiver's interval count must equal the reference's; a
//! smaller count is a loss, a larger one a duplicate. If the reference itself misses a move,
//! the whole-window check reports it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The reference receiver's record of the room's order, in window moves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RoomOrder {
    /// Window moves seen so far.
    moves: u64,
    players: HashMap<i32, Marks>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Marks {
    /// Window moves seen before this player's `S_BroadcastEnterGame`.
    entered_after: Option<u64>,
    /// Window moves seen up to and including this player's last one.
    last_move: Option<u64>,
}

impl RoomOrder {
    /// A player's `S_BroadcastEnterGame` came by.
    pub(crate) fn on_enter(&mut self, player_id: i32) {
        self.players.entry(player_id).or_default().entered_after = Some(self.moves);
    }

    /// A window move of `player_id` came by.
    pub(crate) fn on_window_move(&mut self, player_id: i32) {
        self.moves += 1;
        self.players.entry(player_id).or_default().last_move = Some(self.moves);
    }

    /// Window moves the room ran after `start` and up to `player_id`'s last window move:
    /// what that player, as a receiver, is owed. `None` when the reference never saw the
    /// player enter (for [`Start::Entered`]) or never saw it move.
    fn owed(&self, player_id: i32, start: Start) -> Option<u64> {
        let marks = self.players.get(&player_id)?;
        let from = match start {
            Start::BeforeWindow => 0,
            Start::Entered => marks.entered_after?,
        };
        marks.last_move?.checked_sub(from)
    }
}

/// Where a membership's receive interval starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// In the room before the window opened: every window move up to its last is owed.
    BeforeWindow,
    /// Entered during the window: owed from its own `S_BroadcastEnterGame` on.
    Entered,
}

/// One membership that churned (left during the run, or entered during the window), as read
/// from its bot's counters at the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Membership {
    pub(crate) player_id: Option<i32>,
    pub(crate) start: Start,
    /// Window moves it sent.
    pub(crate) sent: u64,
    /// Of those, the ones the room echoed back to it.
    pub(crate) echoed: u64,
    /// Window moves it had received when its own `S_BroadcastEnterGame` arrived.
    pub(crate) enter_mark: Option<u64>,
    /// Window moves it had received, own echo included, when its last own echo arrived.
    pub(crate) last_echo_mark: u64,
    /// Of the moves received between the two marks, the repeats (see `sequences.rs`): they
    /// are counted as duplicates by the move accounting and must not stand in for a loss
    /// here.
    pub(crate) repeats_in_interval: u64,
}

/// The outcome of the churn accounting, part of the [`Report`](crate::Report).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChurnAccounting {
    /// Churn was asked for.
    pub enabled: bool,
    /// Bots that left the room cleanly (drained, then `C_LeaveGame`).
    pub leaves: u64,
    /// Leaves that went wrong: the last echo or the server's close did not come within the
    /// leave timeout, or the session closed some other way while leaving. Each is an error.
    pub leave_failures: u64,
    /// New connections made for bots that had left.
    pub rejoins: u64,
    /// Memberships whose receipts were checked against the reference receiver.
    pub checked: u64,
    /// Memberships that sent moves but could not be checked (no reference receiver, or marks
    /// missing). Each is an error.
    pub unchecked: u64,
    /// Moves the checked memberships were owed, summed.
    pub expected: u64,
    /// Distinct moves they received in their intervals (repeats are the move accounting's
    /// duplicates), summed.
    pub received: u64,
    /// Owed moves not received, summed over memberships. Each is an error.
    pub lost: u64,
    /// Distinct moves received beyond what was owed, summed: the reference receiver missed
    /// them. Each is an error.
    pub extra: u64,
    /// Moves of churned memberships that the room never echoed back to their sender, though
    /// it stayed in the room waiting for them. Each is an error (a loss).
    pub echoes_missing: u64,
}

impl ChurnAccounting {
    /// Checks every churned membership against the reference receiver's `order` (`None`
    /// if there was no usable reference receiver).
    pub(crate) fn check(&mut self, memberships: &[Membership], order: Option<&RoomOrder>) {
        for m in memberships {
            self.echoes_missing += m.sent.saturating_sub(m.echoed);
            if m.sent == 0 || m.echoed == 0 {
                // Never moved (or nothing of it came back, counted just above): no interval.
                continue;
            }
            let received = match m.start {
                Start::BeforeWindow => Some(m.last_echo_mark),
                Start::Entered => m.enter_mark.and_then(|e| m.last_echo_mark.checked_sub(e)),
            }
            .map(|r| r.saturating_sub(m.repeats_in_interval));
            let owed = order
                .zip(m.player_id)
                .and_then(|(o, id)| o.owed(id, m.start));
            let (Some(received), Some(owed)) = (received, owed) else {
                self.unchecked += 1;
                continue;
            };
            self.checked += 1;
            self.expected += owed;
            self.received += received;
            self.lost += owed.saturating_sub(received);
            self.extra += received.saturating_sub(owed);
        }
    }

    /// Errors this accounting found.
    pub fn errors(&self) -> u64 {
        self.leave_failures + self.unchecked + self.lost + self.extra + self.echoes_missing
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    /// What one member of the simulated room has received, counted the way `bot.rs` counts.
    #[derive(Debug, Default)]
    struct Receiver {
        start: Option<Start>,
        window: u64,
        sent: u64,
        echoed: u64,
        enter_mark: Option<u64>,
        last_echo_mark: u64,
        /// Deliveries of others' moves so far, to pick one to drop.
        deliveries: u64,
        /// Drop the delivery with this number (a server bug), and remember the receiver's
        /// count when it happened.
        drop_at: Option<u64>,
        dropped_at_window: Option<u64>,
    }

    #[derive(Debug, Clone, Copy)]
    enum Ev {
        Enter(i32),
        Move(i32),
    }

    #[derive(Debug, Clone, Copy)]
    enum Step {
        Join,
        Move(usize),
        Leave(usize),
        Flush,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            1 => Just(Step::Join),
            6 => any::<usize>().prop_map(Step::Move),
            1 => any::<usize>().prop_map(Step::Leave),
            2 => Just(Step::Flush),
        ]
    }

    /// The room's rules in miniature: moves and enters are broadcast in the order they run,
    /// flushed to whoever is in the room at the flush; a leaver drains first. Player 1 is
    /// the reference receiver; players 2..=4 are in the room before the window.
    fn simulate(steps: &[Step], drop: Option<(usize, u64)>) -> (ChurnAccounting, bool) {
        let mut order = RoomOrder::default();
        let mut members: BTreeMap<i32, Receiver> = BTreeMap::new();
        let mut done: Vec<Membership> = Vec::new();
        for id in 2..=4 {
            members.insert(
                id,
                Receiver {
                    start: Some(Start::BeforeWindow),
                    ..Receiver::default()
                },
            );
        }
        if let Some((victim, at)) = drop {
            let ids: Vec<i32> = members.keys().copied().collect();
            if let Some(m) = members.get_mut(&ids[victim % ids.len()]) {
                m.drop_at = Some(at);
            }
        }
        let mut pending: Vec<Ev> = Vec::new();
        let mut next_id = 5;
        let mut counted_drop = false;
        let flush = |pending: &mut Vec<Ev>,
                     members: &mut BTreeMap<i32, Receiver>,
                     order: &mut RoomOrder| {
            for ev in pending.drain(..) {
                match ev {
                    Ev::Enter(p) => order.on_enter(p),
                    Ev::Move(p) => order.on_window_move(p),
                }
                for (&id, r) in members.iter_mut() {
                    match ev {
                        Ev::Enter(p) if p == id => r.enter_mark = Some(r.window),
                        Ev::Enter(_) => {}
                        Ev::Move(p) if p == id => {
                            r.window += 1;
                            r.echoed += 1;
                            r.last_echo_mark = r.window;
                        }
                        Ev::Move(_) => {
                            r.deliveries += 1;
                            if r.drop_at == Some(r.deliveries) {
                                r.dropped_at_window = Some(r.window);
                            } else {
                                r.window += 1;
                            }
                        }
                    }
                }
            }
        };
        for s in steps {
            match *s {
                Step::Join => {
                    members.insert(
                        next_id,
                        Receiver {
                            start: Some(Start::Entered),
                            ..Receiver::default()
                        },
                    );
                    pending.push(Ev::Enter(next_id));
                    next_id += 1;
                }
                Step::Move(i) => {
                    let ids: Vec<i32> = members.keys().copied().collect();
                    if let Some(&id) = ids.get(i % ids.len().max(1)) {
                        if let Some(r) = members.get_mut(&id) {
                            r.sent += 1;
                        }
                        pending.push(Ev::Move(id));
                    }
                }
                Step::Leave(i) => {
                    let ids: Vec<i32> = members.keys().copied().collect();
                    if let Some(&id) = ids.get(i % ids.len().max(1)) {
                        // Drains first: everything it sent is flushed before it goes.
                        flush(&mut pending, &mut members, &mut order);
                        if let Some(r) = members.remove(&id) {
                            counted_drop |= counts_drop(&r);
                            done.push(membership(id, &r));
                        }
                    }
                }
                Step::Flush => flush(&mut pending, &mut members, &mut order),
            }
        }
        flush(&mut pending, &mut members, &mut order);
        for (&id, r) in &members {
            counted_drop |= counts_drop(r);
            done.push(membership(id, r));
        }
        let mut acc = ChurnAccounting::default();
        acc.check(&done, Some(&order));
        (acc, counted_drop)
    }

    /// The dropped delivery fell inside the receiver's interval: it came before its last
    /// own echo (the victims were all in the room before the window, so after its start).
    fn counts_drop(r: &Receiver) -> bool {
        r.dropped_at_window.is_some_and(|w| w < r.last_echo_mark)
    }

    fn membership(id: i32, r: &Receiver) -> Membership {
        Membership {
            player_id: Some(id),
            start: r.start.unwrap_or(Start::Entered),
            sent: r.sent,
            echoed: r.echoed,
            enter_mark: r.enter_mark,
            last_echo_mark: r.last_echo_mark,
            repeats_in_interval: 0,
        }
    }

    #[test]
    fn a_late_joiner_is_owed_only_what_ran_after_it_entered() {
        let mut order = RoomOrder::default();
        order.on_window_move(2); // 1: before player 9 entered
        order.on_enter(9);
        order.on_window_move(2); // 2
        order.on_window_move(9); // 3: player 9's last move
        order.on_window_move(2); // 4: after it; not owed
        let joiner = Membership {
            player_id: Some(9),
            start: Start::Entered,
            sent: 1,
            echoed: 1,
            // It also got move 1 in the same flush as its enter: before its mark.
            enter_mark: Some(1),
            last_echo_mark: 3,
            repeats_in_interval: 0,
        };
        let mut acc = ChurnAccounting::default();
        acc.check(&[joiner], Some(&order));
        assert_eq!((acc.checked, acc.expected, acc.received), (1, 2, 2));
        assert_eq!(acc.errors(), 0, "moves 2 and 3 were owed and received");

        let mut acc = ChurnAccounting::default();
        acc.check(
            &[Membership {
                last_echo_mark: 2,
                ..joiner
            }],
            Some(&order),
        );
        assert_eq!(acc.lost, 1, "one owed move missing in the interval");

        // One owed move missing and another received twice: the count still adds up to
        // the owed 2, but the repeat does not stand in for the loss.
        let mut acc = ChurnAccounting::default();
        acc.check(
            &[Membership {
                repeats_in_interval: 1,
                ..joiner
            }],
            Some(&order),
        );
        assert_eq!(
            (acc.lost, acc.extra),
            (1, 0),
            "the duplicate is the move accounting's"
        );
    }

    #[test]
    fn no_reference_or_missing_echoes_are_errors_not_silence() {
        let m = Membership {
            player_id: Some(3),
            start: Start::BeforeWindow,
            sent: 4,
            echoed: 3,
            enter_mark: None,
            last_echo_mark: 10,
            repeats_in_interval: 0,
        };
        let mut acc = ChurnAccounting::default();
        acc.check(&[m], None);
        assert_eq!(
            acc.unchecked, 1,
            "without a reference nothing can be checked"
        );
        assert_eq!(
            acc.echoes_missing, 1,
            "a move the room never echoed is lost"
        );
        assert_eq!(acc.errors(), 2);
    }

    proptest! {
        #[test]
        fn a_faithful_room_adds_up_exactly_and_one_dropped_delivery_is_found(
            steps in prop::collection::vec(step(), 0..200),
            victim in 0usize..3,
            at in 1u64..100,
        ) {
            let (clean, _) = simulate(&steps, None);
            prop_assert_eq!(clean.errors(), 0, "{:?}", clean);
            prop_assert_eq!(clean.received, clean.expected);

            let (acc, counted) = simulate(&steps, Some((victim, at)));
            // A delivery dropped inside the receiver's interval is one loss; after its last
            // echo it is outside what can be checked, and must not be reported.
            prop_assert_eq!(acc.lost, u64::from(counted), "{:?}", acc);
            prop_assert_eq!(acc.extra, 0);
        }
    }
}
