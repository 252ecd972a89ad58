//! `LoginStats`: logins by result, for `/metrics`. Atomics, counted by the login tasks and
//! the sessions.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::game::accounts::LoginResult;

/// Login counters, by result.
#[derive(Debug, Default)]
pub struct LoginStats {
    by_result: [AtomicU64; LoginResult::ALL.len()],
    /// Sessions closed because the same account logged in elsewhere.
    pub replaced: AtomicU64,
    /// Characters parked when their connection dropped.
    pub parked: AtomicU64,
    /// Parked characters taken back by a login within the grace.
    pub resumed: AtomicU64,
    /// Parked characters whose grace ran out (they left and were saved).
    pub expired: AtomicU64,
}

impl LoginStats {
    /// Counts a login that ended with `result`.
    pub fn count(&self, result: LoginResult) {
        self.by_result[result.code() as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// How many logins ended with `result`.
    pub fn of(&self, result: LoginResult) -> u64 {
        self.by_result[result.code() as usize].load(Ordering::Relaxed)
    }
}
