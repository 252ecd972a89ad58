//! Where a character may be when its bot comes back: the position check of `--login`. Sans-IO.
//!
//! The server saves the position it applied, and a login puts the character back there
//! (docs/ARCHITECTURE.md, "Accounts and saved characters"). What a bot knows of that
//! position is the last echo of its own moves (its own `S_BroadcastMove`) before it left,
//! and the moves it sent after that echo, which the server may or may not have applied
//! before the leave. So the `isSelf` entry of the `S_PlayerList` after the next login must
//! be the last echo, or:
//! - in the room, which applies a move as sent, exactly one of the later moves;
//! - in the world, which shortens a move to `--max-step` and clamps it onto the map, a
//!   point within `max_step` per later move of the last echo (`y` is carried as sent: the
//!   echo's, or a later move's).
//!
//! A bot that never had an echo left where it entered, or at one of the moves it sent.

use std::collections::VecDeque;
use std::fmt::Write as _;

/// Moves a room bot remembers for the check. A leaver waits for every echo before it goes
/// (see `churn.rs`), so the check needs the moves after the last echo only when that wait
/// ran out: at most the leave timeout's worth (20 moves in 5 s at the default 250 ms).
pub(crate) const SENT_PLACES: usize = 64;

/// Slack for float arithmetic in the world's step limit: the server shortens a move along
/// its line, in f32, on a map of a few hundred units.
const STEP_SLACK: f32 = 1e-3;

/// The positions one room connection sent, the latest [`SENT_PLACES`] of them.
#[derive(Debug, Clone, Default)]
pub(crate) struct SentPlaces {
    places: VecDeque<[f32; 3]>,
    /// Older moves were forgotten.
    forgot: bool,
}

impl SentPlaces {
    /// A move to `at` was queued.
    pub(crate) fn sent(&mut self, at: [f32; 3]) {
        if self.places.len() == SENT_PLACES {
            self.places.pop_front();
            self.forgot = true;
        }
        self.places.push_back(at);
    }

    /// Where the connection may have left its character, given where it entered and its
    /// last echo; `None` if the moves after that echo are no longer all remembered.
    pub(crate) fn left_at(&self, entered: [f32; 3], echo: Option<[f32; 3]>) -> Option<LeftAt> {
        let from = echo.unwrap_or(entered);
        // Positions are random floats: the echo is the latest move sent to that point.
        let later = match self.places.iter().rposition(|&p| p == from) {
            Some(i) => self.places.range(i + 1..).copied().collect(),
            // No echo yet, or (a server bug) an echo of nothing sent: every move sent may
            // be where it stands, if none was forgotten.
            None if !self.forgot => self.places.iter().copied().collect(),
            None => return None,
        };
        Some(LeftAt::Room { from, later })
    }
}

/// Where a character may be when it comes back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LeftAt {
    /// Room: moves applied as sent.
    Room {
        /// The last echo (or where it entered).
        from: [f32; 3],
        /// The moves sent after it, oldest first.
        later: Vec<[f32; 3]>,
    },
    /// World: moves step-limited and clamped.
    World {
        /// The last echo (or where it entered).
        from: [f32; 3],
        /// Moves sent after it.
        unechoed: u32,
        /// The server's `--max-step`.
        max_step: f32,
        /// The sequence number (the `y`) of the last move sent.
        last_seq: u32,
    },
}

impl LeftAt {
    /// A world bot that entered at `entered`, had its last echo at `echo`, and sent moves
    /// up to sequence number `last_seq` (each move's `y`; see `world/checker.rs`).
    pub(crate) fn world(
        entered: [f32; 3],
        echo: Option<[f32; 3]>,
        last_seq: u32,
        max_step: f32,
    ) -> LeftAt {
        let from = echo.unwrap_or(entered);
        // An echo's y is its move's sequence number; where it entered, the last one before.
        let from_seq = seq_of(from[1]).unwrap_or(0);
        LeftAt::World {
            from,
            unechoed: last_seq.saturating_sub(from_seq),
            max_step,
            last_seq,
        }
    }

    /// True if a character found at `at` came back where it may be.
    pub(crate) fn admits(&self, at: [f32; 3]) -> bool {
        match self {
            LeftAt::Room { from, later } => at == *from || later.contains(&at),
            LeftAt::World {
                from,
                unechoed,
                max_step,
                last_seq,
            } => {
                let steps = *unechoed as f32;
                let reach = max_step * steps + STEP_SLACK * (steps + 1.0);
                let (dx, dz) = (at[0] - from[0], at[2] - from[2]);
                let near = (dx * dx + dz * dz).sqrt() <= reach;
                let first_later = last_seq.saturating_sub(*unechoed).saturating_add(1);
                let y_ok = at[1] == from[1]
                    || seq_of(at[1]).is_some_and(|seq| (first_later..=*last_seq).contains(&seq));
                near && y_ok
            }
        }
    }

    /// One line for the report: where it came back, and where it may have been.
    pub(crate) fn describe(&self, at: [f32; 3]) -> String {
        let mut line = format!("came back at {}, ", point(at));
        match self {
            LeftAt::Room { from, later } => {
                let _ = write!(
                    line,
                    "left at {} with {} later moves",
                    point(*from),
                    later.len()
                );
                if let Some(last) = later.last() {
                    let _ = write!(line, " (the last to {})", point(*last));
                }
            }
            LeftAt::World {
                from,
                unechoed,
                max_step,
                ..
            } => {
                let _ = write!(
                    line,
                    "left at {} with {unechoed} later moves of at most {max_step}",
                    point(*from)
                );
            }
        }
        line
    }
}

/// The move sequence number a world bot's `y` carries, if it is one.
fn seq_of(y: f32) -> Option<u32> {
    ((0.0..16_777_216.0).contains(&y) && y.fract() == 0.0).then_some(y as u32)
}

fn point(p: [f32; 3]) -> String {
    format!("({}, {}, {})", p[0], p[1], p[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTERED: [f32; 3] = [0.0, 0.0, 0.0];

    fn sent(places: &[[f32; 3]]) -> SentPlaces {
        let mut s = SentPlaces::default();
        places.iter().for_each(|&p| s.sent(p));
        s
    }

    #[test]
    fn a_room_bot_comes_back_at_its_last_echo_or_a_move_after_it() {
        let (a, b, c) = ([1.5, 0.0, 2.5], [-3.25, -0.0, 4.0], [7.0, -0.0, -8.5]);
        let s = sent(&[a, b, c]);
        let left = s
            .left_at(ENTERED, Some(b))
            .unwrap_or_else(|| panic!("checkable"));
        assert!(left.admits(b), "the last echo");
        assert!(
            left.admits(c),
            "a move sent after it, applied before the leave"
        );
        assert!(
            !left.admits(a),
            "a move before the echo was overwritten by it"
        );
        assert!(!left.admits(ENTERED), "nor is it back where it entered");
        assert!(!left.admits([7.0, 0.0, -8.25]), "nor anywhere else");
        // A saved -0.0 may come back as 0.0 (a database's REAL); the same number.
        assert!(left.admits([-3.25, 0.0, 4.0]));
        let line = left.describe([9.0, 0.0, 9.0]);
        assert!(
            line.contains("(9, 0, 9)") && line.contains("1 later moves"),
            "{line}"
        );
    }

    #[test]
    fn a_room_bot_never_echoed_comes_back_where_it_entered_or_at_a_move_it_sent() {
        let (a, b) = ([1.0, 0.0, 1.0], [2.0, 0.0, 2.0]);
        let left = sent(&[a, b])
            .left_at([5.0, 0.0, 5.0], None)
            .unwrap_or_else(|| panic!("checkable"));
        for ok in [[5.0, 0.0, 5.0], a, b] {
            assert!(left.admits(ok), "{ok:?}");
        }
        assert!(!left.admits(ENTERED));
    }

    #[test]
    fn a_room_bot_that_forgot_moves_after_its_echo_is_not_checked() {
        let mut s = SentPlaces::default();
        for i in 0..SENT_PLACES + 3 {
            s.sent([i as f32, 0.0, 0.0]);
        }
        assert!(
            s.left_at(ENTERED, Some([1.0, 0.0, 0.0])).is_none(),
            "the echo's move was forgotten, and some after it"
        );
        assert!(s.left_at(ENTERED, None).is_none());
        let last = [(SENT_PLACES + 1) as f32, 0.0, 0.0];
        let left = s
            .left_at(ENTERED, Some(last))
            .unwrap_or_else(|| panic!("a recent echo is checkable"));
        assert!(left.admits([(SENT_PLACES + 2) as f32, 0.0, 0.0]));
    }

    #[test]
    fn a_world_bot_comes_back_within_a_step_per_unechoed_move() {
        // Echo of move 10 at (100, 10, 50); moves 11 and 12 sent after it.
        let left = LeftAt::world([0.0, 0.0, 0.0], Some([100.0, 10.0, 50.0]), 12, 10.0);
        assert_eq!(
            left,
            LeftAt::World {
                from: [100.0, 10.0, 50.0],
                unechoed: 2,
                max_step: 10.0,
                last_seq: 12
            }
        );
        assert!(left.admits([100.0, 10.0, 50.0]), "the echo");
        assert!(left.admits([112.0, 11.0, 50.0]), "one shortened move on");
        assert!(left.admits([100.0, 12.0, 70.0]), "two full steps on");
        assert!(!left.admits([100.0, 12.0, 70.1]), "beyond two steps");
        assert!(
            !left.admits([100.0, 9.0, 50.0]),
            "y of a move before the echo"
        );
        assert!(!left.admits([100.0, 13.0, 50.0]), "y of a move never sent");
        assert!(!left.admits([100.0, 11.5, 50.0]), "y that is no move");

        let exact = LeftAt::world([0.0, 0.0, 0.0], Some([3.0, 7.0, 4.0]), 7, 10.0);
        assert!(exact.admits([3.0, 7.0, 4.0]));
        assert!(
            !exact.admits([3.0, 7.0, 4.1]),
            "every move echoed: no tolerance"
        );
        assert!(exact
            .describe([3.0, 7.0, 4.1])
            .contains("0 later moves of at most 10"));
    }

    #[test]
    fn a_world_bot_never_echoed_is_measured_from_where_it_entered() {
        // It entered at a saved position whose y was move 40 of an earlier run, and sent
        // moves 41 and 42 this time.
        let left = LeftAt::world([-5.0, 40.0, 5.0], None, 42, 10.0);
        assert!(left.admits([-5.0, 40.0, 5.0]));
        assert!(left.admits([10.0, 42.0, 5.0]));
        assert!(!left.admits([16.0, 42.0, 5.0]));
    }
}
