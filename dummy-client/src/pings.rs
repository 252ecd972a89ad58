//! Pings matched with their pongs: every `C_Ping` a bot sends must come back as exactly one
//! `S_Pong` carrying its time.
//!
//! The driver records each ping's `client_time` in the bot's [`PingLog`] before queuing it,
//! and the bot's session task looks each pong's time up there. A time found unanswered is a
//! round trip; found answered, a duplicate; not found, a time this bot never sent (or sent so
//! long ago that it has left the log). A ping never answered stays counted as sent and not
//! answered, which the end of the drain turns into a lost pong. Pings are one per bot per
//! interval (a second by default), so this costs one uncontended lock per ping and per pong
//! and a binary search over a few entries; the move path is untouched.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Pings remembered per bot. At the default one ping a second this is a minute of pings: a
/// pong later than that is beyond the round-trip histogram's range anyway. A ping that
/// leaves the log unanswered is still counted lost (sent, never answered); a pong that comes
/// for it afterwards counts as unknown.
pub(crate) const PING_LOG_CAPACITY: usize = 64;

/// The outcome of matching every bot's pongs to its pings, part of the
/// [`Report`](crate::Report).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PongAccounting {
    /// `C_Ping`s the bots sent.
    pub pings: u64,
    /// Pongs that answered a ping: one per ping, the first to carry its time.
    pub answered: u64,
    /// Pings still unanswered when the drain ended (bots dropped before the end excepted:
    /// their drop is the error). Each is an error.
    pub lost: u64,
    /// Pongs for a ping that was already answered. Each is an error.
    pub duplicate: u64,
    /// Pongs carrying a time the bot never sent (or sent more than
    /// `PING_LOG_CAPACITY` pings earlier). Each is an error.
    pub unknown: u64,
}

impl PongAccounting {
    /// Errors this accounting found.
    pub fn errors(&self) -> u64 {
        self.lost + self.duplicate + self.unknown
    }
}

/// What a pong turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pong {
    /// It answered an outstanding ping sent `rtt_us` ago.
    Answered { rtt_us: u64 },
    /// Its ping was answered before.
    Duplicate,
    /// No ping of this bot (within the log) carried its time.
    Unknown,
}

/// One bot's latest pings, oldest first, bounded by [`PING_LOG_CAPACITY`]: when full, the
/// oldest entry is forgotten (see the constant for what that means).
#[derive(Debug, Clone)]
pub(crate) struct PingLog {
    /// (client_time, answered), times strictly increasing.
    sent: VecDeque<(i64, bool)>,
}

impl Default for PingLog {
    fn default() -> Self {
        PingLog {
            sent: VecDeque::with_capacity(PING_LOG_CAPACITY),
        }
    }
}

impl PingLog {
    /// Records a ping about to be sent at `now` (microseconds on the run's clock) and returns
    /// the time to put in it: `now`, or one past the previous ping's time if the clock has
    /// not moved on, so that every ping's time is unique and a pong names exactly one ping.
    pub(crate) fn on_ping(&mut self, now: i64) -> i64 {
        let time = match self.sent.back() {
            Some(&(last, _)) if now <= last => last.saturating_add(1),
            _ => now,
        };
        if self.sent.len() >= PING_LOG_CAPACITY {
            self.sent.pop_front();
        }
        self.sent.push_back((time, false));
        time
    }

    /// Forgets the ping just recorded with `time`: it could not be queued.
    pub(crate) fn cancel(&mut self, time: i64) {
        if self.sent.back() == Some(&(time, false)) {
            self.sent.pop_back();
        }
    }

    /// Matches a pong carrying `time`, arriving at `now`.
    pub(crate) fn on_pong(&mut self, time: i64, now: i64) -> Pong {
        let Ok(i) = self.sent.binary_search_by_key(&time, |&(t, _)| t) else {
            return Pong::Unknown;
        };
        match self.sent.get_mut(i) {
            Some((_, answered)) if !*answered => {
                *answered = true;
                // `time` is one this bot sent, so at or before `now`; saturating anyway, so
                // no value a server sends can overflow.
                let rtt_us = u64::try_from(now.saturating_sub(time)).unwrap_or(0);
                Pong::Answered { rtt_us }
            }
            Some(_) => Pong::Duplicate,
            None => Pong::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ping_is_answered_once_and_a_second_pong_is_a_duplicate() {
        let mut log = PingLog::default();
        let a = log.on_ping(1_000);
        let b = log.on_ping(2_000);
        assert_eq!((a, b), (1_000, 2_000));
        assert_eq!(log.on_pong(a, 1_500), Pong::Answered { rtt_us: 500 });
        assert_eq!(log.on_pong(a, 1_600), Pong::Duplicate, "a answered twice");
        // A server may answer out of order; that is not an error here.
        let c = log.on_ping(3_000);
        assert_eq!(log.on_pong(c, 3_100), Pong::Answered { rtt_us: 100 });
        assert_eq!(log.on_pong(b, 3_200), Pong::Answered { rtt_us: 1_200 });
        assert_eq!(log.on_pong(b, 3_300), Pong::Duplicate);
    }

    #[test]
    fn a_time_never_sent_is_unknown_whatever_its_value() {
        let mut log = PingLog::default();
        log.on_ping(1_000);
        log.on_ping(2_000);
        for time in [i64::MIN, -1, 0, 999, 1_500, 2_001, i64::MAX] {
            assert_eq!(
                log.on_pong(time, 5_000),
                Pong::Unknown,
                "{time} was never sent"
            );
        }
        assert_eq!(
            PingLog::default().on_pong(i64::MIN, i64::MAX),
            Pong::Unknown
        );
    }

    #[test]
    fn pings_in_the_same_microsecond_get_distinct_times() {
        let mut log = PingLog::default();
        assert_eq!(log.on_ping(7), 7);
        assert_eq!(log.on_ping(7), 8);
        assert_eq!(
            log.on_ping(5),
            9,
            "the clock never goes back, but if it did"
        );
        assert_eq!(log.on_pong(8, 10), Pong::Answered { rtt_us: 2 });
        assert_eq!(log.on_pong(7, 10), Pong::Answered { rtt_us: 3 });
    }

    #[test]
    fn a_ping_that_could_not_be_queued_is_forgotten() {
        let mut log = PingLog::default();
        let t = log.on_ping(100);
        log.cancel(t);
        assert_eq!(log.on_pong(t, 200), Pong::Unknown);
    }

    #[test]
    fn the_log_is_bounded_and_forgets_the_oldest() {
        let mut log = PingLog::default();
        for i in 0..(PING_LOG_CAPACITY as i64 + 10) {
            log.on_ping(i * 1_000);
        }
        assert_eq!(log.sent.len(), PING_LOG_CAPACITY);
        assert_eq!(log.on_pong(0, 1), Pong::Unknown, "forgotten");
        assert_eq!(
            log.on_pong(10_000, 10_500),
            Pong::Answered { rtt_us: 500 },
            "the oldest kept"
        );
    }
}
