//! `SessionSet`: the live sessions of one listener or connector.
//!
//! Shutdown and the idle check are done here, over all sessions at once, instead of by a
//! cancellation future and a timer inside every session's task: those cost a waker
//! registration per session per event on the hot path, and a timer's memory per idle session.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::CloseReason;
use crate::session::Session;

/// The live sessions of one owner. Its size is bounded by the owner's `max_connections`
/// (listener) or by the connections it was asked to open (connector).
#[derive(Default)]
pub(crate) struct SessionSet {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<u64, Arc<Session>>,
    /// Set by `close_all`: sessions added later are closed at once.
    closing: Option<CloseReason>,
}

impl SessionSet {
    /// Adds a session that just started.
    pub fn insert(&self, session: &Arc<Session>) {
        let mut inner = self.lock();
        if let Some(reason) = inner.closing.clone() {
            drop(inner);
            session.disconnect(reason);
            return;
        }
        inner.sessions.insert(session.id(), Arc::clone(session));
    }

    /// Forgets a session that ended.
    pub fn remove(&self, session: &Session) {
        self.lock().sessions.remove(&session.id());
    }

    /// Closes every session with `reason`, and every session added from now on.
    pub fn close_all(&self, reason: CloseReason) {
        let sessions: Vec<Arc<Session>> = {
            let mut inner = self.lock();
            inner.closing = Some(reason.clone());
            inner.sessions.values().cloned().collect()
        };
        for session in sessions {
            session.disconnect(reason.clone());
        }
    }

    /// Closes, with `IdleTimeout`, every session that received nothing since the previous
    /// call. Called once per idle timeout, so a silent peer goes after one to two timeouts.
    pub fn reap_idle(&self) -> usize {
        let idle: Vec<Arc<Session>> = self
            .lock()
            .sessions
            .values()
            .filter(|s| !s.received_since_check.swap(false, Ordering::Relaxed))
            .cloned()
            .collect();
        for session in &idle {
            session.disconnect(CloseReason::IdleTimeout);
        }
        idle.len()
    }

    /// Runs [`SessionSet::reap_idle`] every `every` until the set is closed.
    pub async fn reap_idle_every(self: Arc<Self>, every: Duration) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if self.lock().closing.is_some() {
                return;
            }
            self.reap_idle();
        }
    }

    /// Sessions in the set.
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Inserts and removes leave the map consistent even if a panic interrupted them.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
