//! When each bot sends: periodic timers, staggered across the interval, driven by one task.
//!
//! Thousands of bots each with its own timer task would cost thousands of timer entries and
//! wake-ups. Instead one driver task ticks every few milliseconds and asks each bot's
//! [`Timers`] what is due, with time passed in (sans-IO), so the schedule is tested without a
//! clock.

use std::time::Duration;

/// How often each periodic action repeats.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    pub(crate) move_interval: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) chat_interval: Option<Duration>,
}

/// One bot's next due times, as offsets from the start of the run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timers {
    next_move: Duration,
    next_ping: Duration,
    next_chat: Option<Duration>,
}

/// What a bot must send on this tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Due {
    pub(crate) send_move: bool,
    pub(crate) ping: bool,
    pub(crate) chat: bool,
}

impl Schedule {
    /// Timers for the bot with this index, joining at `now`.
    ///
    /// Bots are spread over each interval by the golden-ratio sequence (index x 0.618...,
    /// fractional part), which spreads any number of bots evenly without knowing how many
    /// there will be: the server then sees a steady stream, not a burst every 250 ms.
    pub(crate) fn timers(&self, index: usize, now: Duration) -> Timers {
        const GOLDEN: f64 = 0.618_033_988_749_894_9;
        let phase = (index as f64 * GOLDEN).fract();
        let next_move = now + self.move_interval.mul_f64(phase);
        // A timer whose interval is a whole number of move intervals fires with a move: the
        // bot's ping (or chat line) and its move are queued in the same tick and leave in
        // one write, one segment, instead of two syscalls and two wake-ups of the server a
        // few milliseconds apart. Otherwise it keeps its own phase.
        let start = |interval: Duration| {
            if self.with_moves(interval) {
                next_move
            } else {
                now + interval.mul_f64(phase)
            }
        };
        Timers {
            next_move,
            next_ping: start(self.ping_interval),
            next_chat: self.chat_interval.map(start),
        }
    }

    /// True if `interval` is a whole number of move intervals.
    fn with_moves(&self, interval: Duration) -> bool {
        let (every, moves) = (interval.as_nanos(), self.move_interval.as_nanos());
        moves > 0 && every >= moves && every % moves == 0
    }

    /// When the first of the timers falls due: nothing is before it, so the driver, which
    /// keeps it per bot in a packed array, passes over the bots with nothing due without
    /// touching their slots or sessions (at N = 3000, 200 ticks a second, that touching was
    /// 6% of the bots' CPU).
    #[inline]
    pub(crate) fn earliest(&self, timers: &Timers) -> Duration {
        let first = timers.next_move.min(timers.next_ping);
        timers.next_chat.map_or(first, |chat| first.min(chat))
    }

    /// What is due at `now`, advancing the timers past it.
    pub(crate) fn due(&self, timers: &mut Timers, now: Duration) -> Due {
        Due {
            send_move: fire(&mut timers.next_move, self.move_interval, now),
            ping: fire(&mut timers.next_ping, self.ping_interval, now),
            chat: match (&mut timers.next_chat, self.chat_interval) {
                (Some(next), Some(interval)) => fire(next, interval, now),
                _ => false,
            },
        }
    }
}

/// True if `next` has come; moves `next` to the first due time after `now`.
///
/// A driver that fell more than an interval behind skips the missed sends instead of
/// bursting them: a burst would measure the bots' hiccup, not the server. The phase is kept so
/// bots stay spread out.
fn fire(next: &mut Duration, interval: Duration, now: Duration) -> bool {
    if now < *next {
        return false;
    }
    let behind = now - *next;
    let skipped = behind.as_nanos() / interval.as_nanos().max(1);
    // `skipped` is at most `behind / interval`, so this stays within a few intervals of now.
    let steps = u32::try_from(skipped + 1).unwrap_or(u32::MAX);
    *next += interval.saturating_mul(steps);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule {
            move_interval: Duration::from_millis(250),
            ping_interval: Duration::from_secs(1),
            chat_interval: None,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn earliest_says_when_due_would_fire() {
        let schedule = Schedule {
            move_interval: Duration::from_millis(250),
            ping_interval: Duration::from_millis(1000),
            chat_interval: Some(Duration::from_millis(700)),
        };
        for index in 0..50 {
            let mut timers = schedule.timers(index, Duration::ZERO);
            for ms in (0..3000).step_by(7) {
                let now = Duration::from_millis(ms);
                let any = now >= schedule.earliest(&timers);
                assert_eq!(
                    any,
                    schedule.due(&mut timers, now) != Due::default(),
                    "bot {index} at {ms} ms"
                );
            }
        }
    }

    #[test]
    fn a_ping_every_whole_number_of_moves_leaves_with_a_move() {
        let aligned = schedule();
        let apart = Schedule {
            ping_interval: Duration::from_millis(900),
            ..schedule()
        };
        for index in 0..20 {
            let mut timers = aligned.timers(index, ms(100));
            let mut pings = 0;
            for t in (100..5_000).step_by(5) {
                let due = aligned.due(&mut timers, ms(t));
                if due.ping {
                    pings += 1;
                    assert!(
                        due.send_move,
                        "bot {index}: its ping at {t} ms goes with a move"
                    );
                }
            }
            assert!((4..=5).contains(&pings), "one ping a second, got {pings}");
            let mut timers = apart.timers(index, ms(100));
            let alone = (100..5_000)
                .step_by(5)
                .map(|t| apart.due(&mut timers, ms(t)))
                .filter(|due| due.ping && !due.send_move)
                .count();
            if index > 0 {
                assert!(
                    alone > 0,
                    "bot {index}: 900 ms is not a whole number of moves"
                );
            }
        }
    }

    #[test]
    fn a_bot_moves_once_per_interval_at_any_tick_resolution() {
        let s = schedule();
        for tick in [1, 5, 10, 7] {
            let mut timers = s.timers(3, ms(0));
            let moves = (0..10_000 / tick)
                .filter(|i| s.due(&mut timers, ms(i * tick)).send_move)
                .count();
            assert!(
                (39..=41).contains(&moves),
                "10 s at 250 ms is 40 moves, got {moves} with a {tick} ms tick"
            );
        }
    }

    #[test]
    fn bots_are_spread_over_the_interval() {
        let s = schedule();
        let mut buckets = [0usize; 10];
        for i in 0..1000 {
            let t = s.timers(i, ms(0));
            buckets[(t.next_move.as_millis() / 25) as usize] += 1;
        }
        for (i, n) in buckets.iter().enumerate() {
            assert!(
                (80..=120).contains(n),
                "each 25 ms slice should hold about 100 of 1000 bots, slice {i} holds {n}"
            );
        }
    }

    #[test]
    fn a_late_driver_skips_missed_sends_instead_of_bursting() {
        let s = schedule();
        let mut timers = s.timers(0, ms(0));
        assert!(s.due(&mut timers, ms(0)).send_move);
        // A 2 s stall: one send now, not eight.
        assert!(s.due(&mut timers, ms(2_000)).send_move);
        assert!(!s.due(&mut timers, ms(2_001)).send_move);
        assert!(s.due(&mut timers, ms(2_250)).send_move, "the phase is kept");
    }

    #[test]
    fn chat_only_when_configured() {
        let mut s = schedule();
        let mut timers = s.timers(0, ms(0));
        assert!(!s.due(&mut timers, ms(5_000)).chat);
        s.chat_interval = Some(ms(100));
        let mut timers = s.timers(0, ms(0));
        assert!(s.due(&mut timers, ms(0)).chat);
    }
}
