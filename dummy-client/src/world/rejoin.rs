//! `Departure`: what a churned world bot left behind when its connection dropped, and the
//! check of its rejoin against it. Sans-IO.
//!
//! The server parks a dropped character where it stood and hands it back, under the same
//! player id, to a login within its reconnect grace (docs/PROTOCOL.md, "Reconnect"). Where
//! it stood is the last move the server applied: the last own echo the bot saw, or one of
//! the moves it sent after that echo, which were in flight when the socket closed and may
//! or may not have been applied. That is the room's uncertainty at a churn leave, and the
//! same [`SentPlaces`] and [`LeftAt`] settle it (`login/place.rs`): a bot whose steps the
//! server applies as sent (no longer than `--max-step`) must come back exactly at one of
//! those points; a faster one within `--max-step` per move in flight.
//!
//! The `y` of the place it comes back at is the sequence number of the last move applied
//! (see `checker.rs`), so the rejoin also says which of the moves in flight were never
//! applied: those are owed to no receiver (`required.rs`).

use crate::login::{LeftAt, SentPlaces};
use crate::world::checker::seq_of;

/// What a bot left when its connection dropped.
#[derive(Debug, Clone)]
pub(crate) struct Departure {
    /// The player id it had.
    pub(crate) player_id: i32,
    /// The sequence number of the last move it sent before the drop.
    pub(crate) last_seq: u32,
    /// The moves it sent since it was picked: the last echo is among them or before them.
    places: SentPlaces,
    /// The server applies its moves as sent: each step is within `--max-step`.
    exact: bool,
    max_step: f32,
}

/// How a rejoin went, against its [`Departure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// `S_Login` and the list named the player id it had.
    pub(crate) same_id: bool,
    /// Where it came back.
    pub(crate) place: Place,
    /// Moves it sent that the server never applied: `first..=last`.
    pub(crate) unapplied: Option<(u32, u32)>,
}

/// Whether it came back where it stood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Where it may have stood.
    Kept,
    /// Anywhere else.
    Elsewhere,
    /// Not known well enough to check: the moves after its last echo were not all noted.
    Unknown,
}

impl Departure {
    /// A bot with player id `player_id` picked to leave; its steps are `step` long (the
    /// run's speed times its move interval), the server's limit `max_step`.
    pub(crate) fn new(player_id: i32, step: f32, max_step: f32) -> Departure {
        Departure {
            player_id,
            last_seq: 0,
            places: SentPlaces::default(),
            exact: step <= max_step,
            max_step,
        }
    }

    /// It sent a move to `at` (`y` its sequence number).
    pub(crate) fn sent(&mut self, at: [f32; 3]) {
        self.places.sent(at);
    }

    /// Where it may stand, given where its connection entered the world and its last echo
    /// (`None`: not known well enough).
    pub(crate) fn left_at(&self, entered: [f32; 3], echo: Option<[f32; 3]>) -> Option<LeftAt> {
        if self.exact {
            self.places.left_at(entered, echo)
        } else {
            Some(LeftAt::world(entered, echo, self.last_seq, self.max_step))
        }
    }

    /// Checks a rejoin that logged in as `player_id` and was listed at `at`, against where
    /// it left (`left`, from [`left_at`](Self::left_at)).
    pub(crate) fn check(&self, left: Option<&LeftAt>, player_id: i32, at: [f32; 3]) -> Verdict {
        let place = match left {
            None => Place::Unknown,
            Some(left) if left.admits(at) => Place::Kept,
            Some(_) => Place::Elsewhere,
        };
        // The last move applied is the one whose number the place carries; a place that is
        // wrong says nothing, and its violation fails the run anyway.
        let applied = match place {
            Place::Elsewhere => None,
            _ => seq_of(at[1]).filter(|&seq| seq <= self.last_seq),
        };
        Verdict {
            same_id: player_id == self.player_id,
            place,
            unapplied: applied.and_then(|seq| self.after(seq)),
        }
    }

    /// The moves it sent after its connection's last echo (or, with none, after where it
    /// entered): whether the server applied them is not known when the bot never came back,
    /// so they are owed to no one (the missing rejoin is the run's error).
    pub(crate) fn unconfirmed(
        &self,
        entered: Option<[f32; 3]>,
        echo: Option<[f32; 3]>,
    ) -> Option<(u32, u32)> {
        let from = echo.or(entered).and_then(|p| seq_of(p[1])).unwrap_or(0);
        self.after(from)
    }

    /// `seq + 1 ..= last_seq`, if not empty.
    fn after(&self, seq: u32) -> Option<(u32, u32)> {
        let first = seq.checked_add(1)?;
        (first <= self.last_seq).then_some((first, self.last_seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bot 9, which entered at (0, 4, 0) (its move 4 of an earlier run), sent moves 5 to 8,
    /// and saw the echo of 6.
    fn departure(exact: bool) -> (Departure, [f32; 3], Option<[f32; 3]>) {
        let (step, max_step) = if exact { (1.0, 10.0) } else { (12.0, 10.0) };
        let mut d = Departure::new(9, step, max_step);
        for seq in 5..=8 {
            d.sent([seq as f32, seq as f32, 0.5]);
        }
        d.last_seq = 8;
        (d, [0.0, 4.0, 0.0], Some([6.0, 6.0, 0.5]))
    }

    #[test]
    fn a_bot_back_at_its_echo_or_a_move_in_flight_is_kept_and_later_moves_were_not_applied() {
        let (d, entered, echo) = departure(true);
        let left = d.left_at(entered, echo);
        let check = |id, at| d.check(left.as_ref(), id, at);
        assert_eq!(
            check(9, [6.0, 6.0, 0.5]),
            Verdict {
                same_id: true,
                place: Place::Kept,
                unapplied: Some((7, 8))
            },
            "at its echo: the two moves in flight were never applied"
        );
        assert_eq!(check(9, [7.0, 7.0, 0.5]).unapplied, Some((8, 8)));
        assert_eq!(
            check(9, [8.0, 8.0, 0.5]),
            Verdict {
                same_id: true,
                place: Place::Kept,
                unapplied: None
            }
        );
        let elsewhere = check(9, [5.0, 5.0, 0.5]);
        assert_eq!(
            (elsewhere.place, elsewhere.unapplied),
            (Place::Elsewhere, None),
            "before its echo: the echo was applied after it"
        );
        assert_eq!(check(9, [7.0, 7.0, 0.75]).place, Place::Elsewhere);
        assert!(!check(10, [8.0, 8.0, 0.5]).same_id, "another player");
    }

    #[test]
    fn a_fast_bot_is_checked_within_the_step_limit() {
        let (d, entered, echo) = departure(false);
        let left = d.left_at(entered, echo);
        assert!(matches!(left, Some(LeftAt::World { unechoed: 2, .. })));
        let v = d.check(left.as_ref(), 9, [20.0, 8.0, 0.5]);
        assert_eq!((v.place, v.unapplied), (Place::Kept, None));
        assert_eq!(
            d.check(left.as_ref(), 9, [30.0, 8.0, 0.5]).place,
            Place::Elsewhere,
            "beyond two steps of 10"
        );
    }

    #[test]
    fn an_unknown_place_still_says_what_was_applied_and_a_missing_bot_owes_its_flight() {
        let (d, entered, echo) = departure(true);
        let v = d.check(None, 9, [7.0, 7.0, 0.5]);
        assert_eq!((v.place, v.unapplied), (Place::Unknown, Some((8, 8))));
        assert_eq!(d.check(None, 9, [0.0, 99.0, 0.0]).unapplied, None);
        assert_eq!(d.unconfirmed(Some(entered), echo), Some((7, 8)));
        assert_eq!(
            d.unconfirmed(Some(entered), None),
            Some((5, 8)),
            "never echoed"
        );
        assert_eq!(d.unconfirmed(None, None), Some((1, 8)));
    }
}
