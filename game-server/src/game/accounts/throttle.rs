//! `Throttle`: failed logins limited per key. The server keeps one per account name and one
//! per address, so guessing one account's password from many addresses, or many accounts'
//! from one address, both run into a limit. Sans-IO: time is an argument.
//!
//! Each key has a [`TokenBucket`]. Every attempt takes a token as it begins
//! ([`Throttle::begin`]), before its password is checked, so attempts made in parallel cannot
//! all pass on one remaining token. An attempt that did not fail gives its token back
//! ([`Throttle::refund`]); a success on an account forgets the key ([`Throttle::succeeded`]).
//! A key with no token left is refused until one refills. At most `max_tracked` keys are
//! held: when the table is full, keys whose bucket has refilled (as good as never seen) are
//! dropped, at most once a second; if it is still full, a new key is not tracked and counted
//! as such. That fails open for the newcomer rather than closed for everyone: a flood of
//! addresses cannot lock every player out, and the per-account limit still holds for the
//! accounts it targets.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::game::rate_limit::{Rate, TokenBucket};

/// How much a key may fail, and how many keys are held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleConfig {
    /// Failures allowed back to back, then one per `1 / per_sec` seconds.
    pub rate: Rate,
    /// Keys held at most.
    pub max_tracked: usize,
}

/// Failed attempts per key.
#[derive(Debug)]
pub struct Throttle<K> {
    config: ThrottleConfig,
    buckets: HashMap<K, TokenBucket>,
    last_sweep: Option<Instant>,
    /// Failures of keys that could not be tracked (the table was full).
    pub untracked: u64,
}

impl<K: Eq + Hash + Clone> Throttle<K> {
    /// Nobody has failed yet.
    pub fn new(config: ThrottleConfig) -> Self {
        Throttle {
            config,
            buckets: HashMap::new(),
            last_sweep: None,
            untracked: 0,
        }
    }

    /// An attempt of `key` begins at `now`: it takes a token (as if it failed), or is refused
    /// with how long until one refills.
    pub fn begin(&mut self, key: &K, now: Instant) -> Result<(), Duration> {
        if let Some(bucket) = self.buckets.get_mut(key) {
            return if bucket.try_take(now) {
                Ok(())
            } else {
                Err(bucket.wait())
            };
        }
        if self.buckets.len() >= self.config.max_tracked {
            self.sweep(now);
        }
        if self.buckets.len() >= self.config.max_tracked {
            self.untracked += 1;
            return Ok(());
        }
        let mut bucket = TokenBucket::new(self.config.rate, now);
        bucket.try_take(now);
        self.buckets.insert(key.clone(), bucket);
        Ok(())
    }

    /// An attempt of `key` ended without failing (it logged in, or could not be checked):
    /// its token comes back.
    pub fn refund(&mut self, key: &K) {
        if let Some(bucket) = self.buckets.get_mut(key) {
            bucket.give_back();
        }
    }

    /// `key` logged in: its failures are forgotten.
    pub fn succeeded(&mut self, key: &K) {
        self.buckets.remove(key);
    }

    /// Keys held.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }

    fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1))
        {
            return;
        }
        self.last_sweep = Some(now);
        self.buckets.retain(|_, bucket| !bucket.is_full(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(max_tracked: usize) -> Throttle<&'static str> {
        Throttle::new(ThrottleConfig {
            rate: Rate {
                per_sec: 0.5,
                burst: 3.0,
            },
            max_tracked,
        })
    }

    #[test]
    fn a_key_is_refused_after_its_burst_until_a_token_refills() {
        let t0 = Instant::now();
        let mut t = throttle(10);
        for _ in 0..3 {
            assert_eq!(t.begin(&"bob", t0), Ok(()));
        }
        let wait = t.begin(&"bob", t0).expect_err("three failures: refused");
        assert_eq!(wait, Duration::from_secs(2), "one token per two seconds");
        assert_eq!(t.begin(&"eve", t0), Ok(()), "other keys are not affected");
        assert_eq!(t.begin(&"bob", t0 + Duration::from_secs(2)), Ok(()));
        t.succeeded(&"bob");
        assert_eq!(
            t.tracked(),
            1,
            "a success forgets the failures (eve's stays)"
        );
    }

    #[test]
    fn attempts_in_parallel_cannot_pass_one_remaining_token_and_a_refund_gives_it_back() {
        let t0 = Instant::now();
        let mut t = throttle(10);
        // Three begin at once, none has failed yet: the fourth is refused all the same.
        for _ in 0..3 {
            assert_eq!(t.begin(&"bob", t0), Ok(()));
        }
        assert!(t.begin(&"bob", t0).is_err());
        // One of them did not fail: its token is back for the next attempt.
        t.refund(&"bob");
        assert_eq!(t.begin(&"bob", t0), Ok(()));
        assert!(t.begin(&"bob", t0).is_err());
    }

    #[test]
    fn a_full_table_drops_refilled_keys_then_stops_tracking_new_ones() {
        let t0 = Instant::now();
        let mut t = throttle(2);
        for key in ["a", "b", "c"] {
            assert_eq!(t.begin(&key, t0), Ok(()));
        }
        assert_eq!((t.tracked(), t.untracked), (2, 1), "full: c is not tracked");
        assert_eq!(t.begin(&"c", t0), Ok(()), "fails open for the untracked");
        // Ten seconds on, a and b have refilled: the next sweep drops them.
        let later = t0 + Duration::from_secs(10);
        let _ = t.begin(&"d", later);
        assert_eq!(t.tracked(), 1);
        for key in ["e", "f", "g"] {
            for _ in 0..3 {
                let _ = t.begin(&key, later);
            }
        }
        assert_eq!(t.tracked(), 2, "never more than max_tracked");
    }
}
