//! The run's phases (ramp-up, measured window, drain, done) as a sans-IO state machine: the
//! driver feeds it what it sees and the time, and it answers with the phase.

use std::time::Duration;

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Bots connect and move; their moves are not accounted for.
    Ramp,
    /// Every bot is in the room; moves are marked and accounted for.
    Window,
    /// Nothing is sent; moves in flight arrive.
    Drain,
    /// The bots can be closed and the report written.
    Done,
}

impl Phase {
    /// Bots send moves, pings and chat in this phase.
    pub(crate) fn sending(self) -> bool {
        matches!(self, Phase::Ramp | Phase::Window)
    }

    /// A short name for the status line.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Phase::Ramp => "ramp-up",
            Phase::Window => "window",
            Phase::Drain => "drain",
            Phase::Done => "done",
        }
    }
}

/// What the driver sees on one tick.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Progress {
    /// Every connect attempt has succeeded or failed.
    pub(crate) connects_done: bool,
    /// Bots connected and not disconnected.
    pub(crate) alive: usize,
    /// Of those, the ones that received their `S_PlayerList`.
    pub(crate) entered: usize,
    /// The user asked to stop (Ctrl-C, or the library caller's signal).
    pub(crate) stop: bool,
    /// Window moves received so far, all bots together.
    pub(crate) window_received: u64,
    /// Pongs that answered a ping so far, all bots together.
    pub(crate) pongs_answered: u64,
    /// Every receiver has received every window move it can expect, and every ping sent is
    /// answered.
    pub(crate) drain_complete: bool,
}

/// Limits of each phase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) window: Duration,
    pub(crate) enter_timeout: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) drain_quiet: Duration,
}

/// The state machine, and when each phase began.
#[derive(Debug, Clone)]
pub(crate) struct Phases {
    limits: Limits,
    phase: Phase,
    connects_done_at: Option<Duration>,
    window_start: Option<Duration>,
    drain_start: Option<Duration>,
    done_at: Option<Duration>,
    /// Last change of `window_received + pongs_answered` during the drain: an answer that
    /// arrives counts as progress as much as a move does.
    last_progress: (u64, Duration),
}

impl Phases {
    pub(crate) fn new(limits: Limits) -> Phases {
        Phases {
            limits,
            phase: Phase::Ramp,
            connects_done_at: None,
            window_start: None,
            drain_start: None,
            done_at: None,
            last_progress: (0, Duration::ZERO),
        }
    }

    /// The current phase.
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// (ramp-up, window, drain) lengths so far; a phase never entered is zero.
    pub(crate) fn lengths(&self, now: Duration) -> (Duration, Duration, Duration) {
        let ramp_end = self.window_start.or(self.drain_start).unwrap_or(now);
        let drain_end = self.done_at.unwrap_or(now);
        let window = match (self.window_start, self.drain_start) {
            (Some(start), Some(end)) => end.saturating_sub(start),
            (Some(start), None) => now.saturating_sub(start),
            _ => Duration::ZERO,
        };
        let drain = self
            .drain_start
            .map_or(Duration::ZERO, |s| drain_end.saturating_sub(s));
        (ramp_end, window, drain)
    }

    /// Moves the machine on with what the driver saw at `now`; returns the phase.
    pub(crate) fn update(&mut self, now: Duration, p: &Progress) -> Phase {
        match self.phase {
            Phase::Ramp => {
                if p.stop {
                    self.enter_drain(now, p);
                } else if p.connects_done {
                    let done_at = *self.connects_done_at.get_or_insert(now);
                    if p.alive == 0 {
                        self.enter_drain(now, p);
                    } else if p.entered >= p.alive
                        || now.saturating_sub(done_at) >= self.limits.enter_timeout
                    {
                        self.phase = Phase::Window;
                        self.window_start = Some(now);
                    }
                }
            }
            Phase::Window => {
                let start = self.window_start.unwrap_or(now);
                // With every bot gone there is nothing left to measure.
                if p.stop || p.alive == 0 || now.saturating_sub(start) >= self.limits.window {
                    self.enter_drain(now, p);
                }
            }
            Phase::Drain => {
                let start = self.drain_start.unwrap_or(now);
                if p.answers() != self.last_progress.0 {
                    self.last_progress = (p.answers(), now);
                }
                let quiet = now.saturating_sub(self.last_progress.1) >= self.limits.drain_quiet;
                if p.drain_complete
                    || quiet
                    || now.saturating_sub(start) >= self.limits.drain_timeout
                {
                    self.phase = Phase::Done;
                    self.done_at = Some(now);
                }
            }
            Phase::Done => {}
        }
        self.phase
    }

    fn enter_drain(&mut self, now: Duration, p: &Progress) {
        self.phase = Phase::Drain;
        self.drain_start = Some(now);
        self.last_progress = (p.answers(), now);
    }
}

impl Progress {
    /// Everything the drain waits for, as one count that grows while it comes in.
    fn answers(&self) -> u64 {
        self.window_received.saturating_add(self.pongs_answered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn phases() -> Phases {
        Phases::new(Limits {
            window: ms(3_000),
            enter_timeout: ms(1_000),
            drain_timeout: ms(2_000),
            drain_quiet: ms(500),
        })
    }

    fn ramping(alive: usize, entered: usize) -> Progress {
        Progress {
            connects_done: true,
            alive,
            entered,
            ..Progress::default()
        }
    }

    #[test]
    fn a_clean_run_goes_through_every_phase() {
        let mut p = phases();
        let connecting = Progress {
            alive: 5,
            entered: 5,
            ..Progress::default()
        };
        assert_eq!(
            p.update(ms(100), &connecting),
            Phase::Ramp,
            "connects pending"
        );
        assert_eq!(
            p.update(ms(200), &ramping(10, 9)),
            Phase::Ramp,
            "one not entered"
        );
        assert_eq!(p.update(ms(300), &ramping(10, 10)), Phase::Window);
        assert_eq!(p.update(ms(3_299), &ramping(10, 10)), Phase::Window);
        assert_eq!(p.update(ms(3_300), &ramping(10, 10)), Phase::Drain);
        let complete = Progress {
            drain_complete: true,
            ..ramping(10, 10)
        };
        assert_eq!(p.update(ms(3_400), &complete), Phase::Done);
        assert_eq!(p.lengths(ms(9_999)), (ms(300), ms(3_000), ms(100)));
    }

    #[test]
    fn the_window_opens_without_bots_that_never_enter() {
        let mut p = phases();
        assert_eq!(p.update(ms(500), &ramping(10, 9)), Phase::Ramp);
        assert_eq!(p.update(ms(1_499), &ramping(10, 9)), Phase::Ramp);
        assert_eq!(p.update(ms(1_500), &ramping(10, 9)), Phase::Window);
    }

    #[test]
    fn nothing_connected_goes_straight_to_drain_with_no_window() {
        let mut p = phases();
        assert_eq!(p.update(ms(10), &ramping(0, 0)), Phase::Drain);
        assert_eq!(p.lengths(ms(10)).1, Duration::ZERO, "no window");
    }

    #[test]
    fn the_window_closes_early_when_every_bot_is_gone() {
        let mut p = phases();
        assert_eq!(p.update(ms(0), &ramping(3, 3)), Phase::Window);
        assert_eq!(p.update(ms(500), &ramping(1, 1)), Phase::Window);
        assert_eq!(p.update(ms(600), &ramping(0, 0)), Phase::Drain);
    }

    #[test]
    fn the_drain_ends_when_quiet_or_at_its_timeout() {
        let mut p = phases();
        p.update(ms(0), &ramping(2, 2));
        let received = |n| Progress {
            window_received: n,
            stop: true,
            ..ramping(2, 2)
        };
        assert_eq!(
            p.update(ms(10), &received(100)),
            Phase::Drain,
            "stop requested"
        );
        assert_eq!(p.update(ms(400), &received(150)), Phase::Drain);
        assert_eq!(
            p.update(ms(800), &received(150)),
            Phase::Drain,
            "quiet 400 ms"
        );
        assert_eq!(
            p.update(ms(900), &received(150)),
            Phase::Done,
            "quiet 500 ms"
        );

        let mut p = phases();
        p.update(ms(0), &ramping(2, 2));
        p.update(ms(3_000), &received(0));
        let mut n = 0;
        let mut t = 3_000;
        while p.phase() == Phase::Drain {
            n += 1;
            t += 100;
            p.update(ms(t), &received(n));
        }
        assert_eq!(
            t, 5_000,
            "a drain that keeps trickling stops at its timeout"
        );
    }
}
