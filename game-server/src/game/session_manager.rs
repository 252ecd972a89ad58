//! `SessionManager`: gives each client session its player id and finds sessions by it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use server_core::Session;

/// Player ids 1, 2, 3, ... and the sessions that hold them. Safe from any thread.
#[derive(Debug)]
pub struct SessionManager {
    /// An i64 so that the one past the last id (`i32::MAX + 1` at most) fits.
    next_id: AtomicI64,
    /// The last id this manager may hand out (a cluster node has its own range).
    last_id: i32,
    /// A std mutex: held only for a map insert, lookup or remove, never across an `.await`.
    sessions: Mutex<HashMap<i32, Arc<Session>>>,
}

impl Default for SessionManager {
    fn default() -> Self {
        SessionManager::with_range(1, i32::MAX)
    }
}

impl SessionManager {
    /// Ids `first..=last` (a cluster node's range, `cluster::ids::range`).
    pub fn with_range(first: i32, last: i32) -> Self {
        SessionManager {
            next_id: AtomicI64::new(i64::from(first)),
            last_id: last,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Registers `session` under a new player id and returns the id; `None` once all
    /// 2^31 - 1 positive ids were handed out (ids are never reused, so a stale id in a
    /// client's hands can never name someone else).
    pub fn generate(&self, session: Arc<Session>) -> Option<i32> {
        let id = self
            .next_id
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |id| {
                (id <= i64::from(self.last_id)).then_some(id + 1)
            })
            .ok()
            .and_then(|id| i32::try_from(id).ok())?;
        self.lock().insert(id, session);
        Some(id)
    }

    /// The session of a player.
    pub fn find(&self, player_id: i32) -> Option<Arc<Session>> {
        self.lock().get(&player_id).cloned()
    }

    /// Forgets a player's session; returns it if it was registered.
    pub fn remove(&self, player_id: i32) -> Option<Arc<Session>> {
        self.lock().remove(&player_id)
    }

    /// Sum and max of the bytes queued on every registered session. For a scrape, not the
    /// hot path: one pass under the map's lock (a few microseconds per thousand sessions).
    pub fn send_queue_bytes(&self) -> (u64, u64) {
        self.lock().values().fold((0, 0), |(sum, max), s| {
            let q = s.queued_bytes() as u64;
            (sum + q, max.max(q))
        })
    }

    /// Sessions registered now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no session is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i32, Arc<Session>>> {
        // The map is consistent after any panic in insert/remove; ignore poisoning.
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}
