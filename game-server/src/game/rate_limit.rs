//! `TokenBucket`: how many inputs of one kind a player may send, over time.
//!
//! Without a limit one client can send moves as fast as its link allows, and since every move
//! is broadcast to every player, it would fill every other player's send queue until they are
//! closed as slow consumers. Each session keeps a bucket per input kind; an input that finds it
//! empty is dropped and counted. Time is an argument, so the bucket is tested without sleeping.

use std::time::{Duration, Instant};

/// A rate limit: `per_sec` inputs a second on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Inputs per second allowed on average.
    pub per_sec: f64,
    /// Inputs allowed back to back after a quiet spell.
    pub burst: f64,
}

/// Tokens refill at `per_sec` up to `burst`; each input takes one.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: Rate,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: Rate, now: Instant) -> Self {
        TokenBucket {
            rate,
            tokens: rate.burst,
            last: now,
        }
    }

    /// Takes a token if there is one at `now`.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Gives one token back (what was taken for something that turned out not to count),
    /// never past the burst.
    pub fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.rate.burst);
    }

    /// Whether a token is there at `now`, without taking it.
    pub fn has_token(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    /// Whether the bucket is full at `now`: as if it had never been used.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.rate.burst
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens =
            (self.tokens + elapsed.as_secs_f64() * self.rate.per_sec).min(self.rate.burst);
    }

    /// How long until the next token, for logs.
    pub fn wait(&self) -> Duration {
        if self.tokens >= 1.0 || self.rate.per_sec <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64((1.0 - self.tokens) / self.rate.per_sec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_sec: 10.0,
        burst: 5.0,
    };

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(RATE, t0);
        let burst = (0..20).filter(|_| bucket.try_take(t0)).count();
        assert_eq!(burst, 5, "only the burst passes at one instant");
        assert!(bucket.wait() > Duration::ZERO);
        // One second later: ten more tokens, capped at the burst of five.
        let later = t0 + Duration::from_secs(1);
        let refill = (0..20).filter(|_| bucket.try_take(later)).count();
        assert_eq!(refill, 5, "refill never exceeds the burst");
    }

    #[test]
    fn a_steady_sender_under_the_rate_is_never_refused() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(RATE, t0);
        for i in 0..1000 {
            let now = t0 + Duration::from_millis(100 * i); // exactly 10 per second
            assert!(
                bucket.try_take(now),
                "input {i} at the allowed rate was refused"
            );
        }
    }

    #[test]
    fn a_flood_gets_the_rate_and_no_more() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(RATE, t0);
        // 10,000 inputs spread over 10 s: 1,000 per second.
        let passed = (0..10_000)
            .filter(|i| bucket.try_take(t0 + Duration::from_millis(*i)))
            .count();
        assert!(
            (100..=106).contains(&passed),
            "10 s at 10/s plus a burst of 5, got {passed}"
        );
    }
}
