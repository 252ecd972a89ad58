//! `Cadence`: the driver's sends in time order. Sans-IO: the driver asks what is due by a
//! time it gives.
//!
//! Every bot moves every move interval and pings every ping interval, staggered so the sends
//! spread over the interval: bot `i` of `n` sends its `k`-th move at
//! `k * interval + interval * i / n`. In time order that is bot 0, 1, ..., n - 1 of round 0,
//! then of round 1, and so on, so a cursor (round, bot) per kind gives the next send with
//! no search. A binary heap of every bot's next send did the same with a sift through
//! 2n entries per send, most of the driver's own time at 10,000 bots.

/// What is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Due {
    /// A `C_Move`.
    Move,
    /// A `C_Ping`.
    Ping,
}

/// One kind's cursor: the next send's round and bot.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    interval_us: u64,
    round: u64,
    bot: u64,
}

impl Cursor {
    fn at(&self, n: u64) -> u64 {
        self.round
            .saturating_mul(self.interval_us)
            .saturating_add(self.interval_us.saturating_mul(self.bot) / n)
    }

    fn advance(&mut self, n: u64) {
        self.bot += 1;
        if self.bot == n {
            self.bot = 0;
            self.round += 1;
        }
    }
}

/// The sends of `n` bots, moves and pings, in time order.
#[derive(Debug, Clone)]
pub(crate) struct Cadence {
    n: u64,
    moves: Cursor,
    pings: Cursor,
}

impl Cadence {
    /// The sends of `n` bots (at least one) every `move_us` and `ping_us` microseconds.
    pub(crate) fn new(n: usize, move_us: u64, ping_us: u64) -> Cadence {
        let cursor = |interval_us| Cursor {
            interval_us,
            round: 0,
            bot: 0,
        };
        Cadence {
            n: (n as u64).max(1),
            moves: cursor(move_us),
            pings: cursor(ping_us),
        }
    }

    /// The next send due at or before `now_us`, in order of time, then moves before pings,
    /// then bot: its time, kind and bot. `None` once nothing more is due by `now_us`.
    pub(crate) fn next(&mut self, now_us: u64) -> Option<(u64, Due, usize)> {
        let (m, p) = (self.moves.at(self.n), self.pings.at(self.n));
        let due = (m, Due::Move, self.moves.bot).min((p, Due::Ping, self.pings.bot));
        if due.0 > now_us {
            return None;
        }
        match due.1 {
            Due::Move => self.moves.advance(self.n),
            Due::Ping => self.pings.advance(self.n),
        }
        Some((due.0, due.1, due.2 as usize))
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The same sends in the same order as a heap of every bot's next send.
        #[test]
        fn sends_come_in_the_order_a_heap_gives(
            n in 1usize..50,
            move_us in 1u64..300_000,
            ping_us in 1u64..1_200_000,
            ticks in proptest::collection::vec(0u64..40_000, 1..200),
        ) {
            let mut heap = BinaryHeap::new();
            for i in 0..n {
                heap.push(Reverse((move_us * i as u64 / n as u64, Due::Move, i)));
                heap.push(Reverse((ping_us * i as u64 / n as u64, Due::Ping, i)));
            }
            let mut cadence = Cadence::new(n, move_us, ping_us);
            let mut now = 0;
            for step in ticks {
                now += step;
                let mut want = Vec::new();
                while let Some(&Reverse((at, kind, i))) = heap.peek() {
                    if at > now {
                        break;
                    }
                    heap.pop();
                    want.push((at, kind, i));
                    let every = if kind == Due::Move { move_us } else { ping_us };
                    heap.push(Reverse((at + every, kind, i)));
                }
                let got: Vec<_> = std::iter::from_fn(|| cadence.next(now)).collect();
                prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn nothing_is_due_before_its_time() {
        let mut c = Cadence::new(4, 100, 400);
        assert_eq!(c.next(0), Some((0, Due::Move, 0)));
        assert_eq!(c.next(0), Some((0, Due::Ping, 0)));
        assert_eq!(c.next(0), None);
        assert_eq!(c.next(25), Some((25, Due::Move, 1)));
        assert_eq!(c.next(99), Some((50, Due::Move, 2)));
        assert_eq!(c.next(99), Some((75, Due::Move, 3)));
        assert_eq!(c.next(99), None);
        assert_eq!(c.next(100), Some((100, Due::Move, 0)));
        assert_eq!(c.next(100), Some((100, Due::Ping, 1)));
    }
}
