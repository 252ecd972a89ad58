//! `SessionManager`: gives each client session its player id and finds sessions by it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use server_core::Session;

/// Player ids 1, 2, 3, ... and the sessions that hold them. Safe from any thread.
#[derive(Debug)]
pub struct SessionManager {
    next_id: AtomicI32,
    /// A std mutex: held only for a map insert, lookup or remove, never across an `.await`.
    sessions: Mutex<HashMap<i32, Arc<Session>>>,
}

impl Default for SessionManager {
    fn default() -> Self {
        SessionManager {
            next_id: AtomicI32::new(1),
            sessions: Mutex::new(HashMap::new()),
        }
    }
}

impl SessionManager {
    /// Registers `session` under a new player id and returns the id; `None` once all
    /// 2^31 - 1 positive ids were handed out (ids are never reused, so a stale id in a
    /// client's hands can never name someone else).
    pub fn generate(&self, session: Arc<Session>) -> Option<i32> {
        let id = self
            .next_id
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |id| id.checked_add(1))
            .ok()?;
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
