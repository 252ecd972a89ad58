//! `SessionRegistry`: the live sessions the game layer can see, and their connect/close events.
//!
//! One registry can be shared by several [`Listener`](crate::Listener)s (TCP on one port, TLS
//! on another), so the game sees one set of sessions whichever door they came in by. It is
//! separate from each listener's own `SessionSet`, which scopes shutdown and the idle check to
//! that listener.
//!
//! The registry is touched twice per session (when it starts and when it ends), never per
//! packet, so it is off the hot path by construction. It is still sharded by session id, so
//! thousands of connects and closes at once on several workers do not queue on one lock, and
//! `session_count` is an atomic read.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::CloseReason;
use crate::session::Session;

/// Shards of the id map: a power of two well above the worker count of a game server's box.
const SHARDS: usize = 32;

/// One shard of the id -> session map.
type Shard = Mutex<HashMap<u64, Arc<Session>>>;

/// Connect and close events of every session in a [`SessionRegistry`], SuperSocket's
/// `NewSessionConnected` / `SessionClosed`.
///
/// Both run on the task that started or ended the session: keep them short and non-blocking
/// (push a job to a queue, bump a counter). A panic in one is caught and logged; it does not
/// stop the listener or the session.
pub trait SessionEvents: Send + Sync + 'static {
    /// `session` is registered and about to run (for TLS: its handshake is done). Called
    /// before its handler's `on_connected` and before its first byte is read.
    fn on_connected(&self, session: &Arc<Session>) {
        let _ = session;
    }

    /// `session` ended with `reason` and left the registry; called once, after its handler's
    /// `on_disconnected`.
    fn on_closed(&self, session: &Arc<Session>, reason: &CloseReason) {
        let _ = (session, reason);
    }
}

/// The live sessions of one or more listeners, looked up by [`Session::id`].
pub struct SessionRegistry {
    /// Sharded by id. Std mutexes: held for one map operation or a clone of one shard's
    /// values, never across an `.await` or a callback.
    shards: Box<[Shard]>,
    /// Kept beside the maps so counting needs no lock.
    count: AtomicUsize,
    events: Option<Arc<dyn SessionEvents>>,
}

impl Default for SessionRegistry {
    fn default() -> Self {
        SessionRegistry {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            count: AtomicUsize::new(0),
            events: None,
        }
    }
}

impl std::fmt::Debug for SessionRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRegistry")
            .field("sessions", &self.session_count())
            .field("events", &self.events.is_some())
            .finish()
    }
}

impl SessionRegistry {
    /// An empty registry with no event observer.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// An empty registry that reports every session's start and end to `events`.
    pub fn with_events(events: impl SessionEvents) -> Arc<Self> {
        Arc::new(SessionRegistry {
            events: Some(Arc::new(events)),
            ..SessionRegistry::default()
        })
    }

    /// Sessions live now (an atomic read, no lock).
    pub fn session_count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// The live session with this id.
    pub fn get(&self, id: u64) -> Option<Arc<Session>> {
        self.shard(id).get(&id).cloned()
    }

    /// Calls `f` with every live session. Each shard is copied out and its lock released
    /// before `f` runs, so `f` may send, disconnect or use this registry; a session that
    /// starts or ends meanwhile may or may not be seen.
    pub fn for_each(&self, mut f: impl FnMut(&Arc<Session>)) {
        let mut batch = Vec::new();
        for shard in self.shards.iter() {
            batch.extend(lock(shard).values().cloned());
            for session in batch.drain(..) {
                f(&session);
            }
        }
    }

    /// Every live session now, in no particular order.
    pub fn snapshot(&self) -> Vec<Arc<Session>> {
        let mut all = Vec::with_capacity(self.session_count());
        self.for_each(|s| all.push(Arc::clone(s)));
        all
    }

    /// Adds a session that is about to run, then reports it.
    pub(crate) fn register(&self, session: &Arc<Session>) {
        self.shard(session.id())
            .insert(session.id(), Arc::clone(session));
        self.count.fetch_add(1, Ordering::AcqRel);
        if let Some(events) = &self.events {
            report(|| events.on_connected(session), "on_connected");
        }
    }

    /// Removes a session that ended, then reports it with the reason it closed with.
    pub(crate) fn unregister(&self, session: &Arc<Session>) {
        if self.shard(session.id()).remove(&session.id()).is_none() {
            return;
        }
        self.count.fetch_sub(1, Ordering::AcqRel);
        if let Some(events) = &self.events {
            // Every driver sets a reason before it returns; a task that unwound may not have.
            let fallback = CloseReason::ApplicationError("session task ended abruptly".into());
            let reason = session.close_reason().unwrap_or(&fallback);
            report(|| events.on_closed(session, reason), "on_closed");
        }
    }

    fn shard(&self, id: u64) -> MutexGuard<'_, HashMap<u64, Arc<Session>>> {
        // Ids are sequential, so the low bits spread them evenly.
        lock(&self.shards[(id as usize) % SHARDS])
    }
}

fn lock(shard: &Shard) -> MutexGuard<'_, HashMap<u64, Arc<Session>>> {
    // One insert or remove cannot leave a map inconsistent; ignore poisoning.
    shard.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs an observer callback; a panic in application code is logged, not spread into the
/// accept loop or the session's cleanup.
fn report(f: impl FnOnce(), which: &'static str) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!(callback = which, "SessionEvents callback panicked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl SessionEvents for Arc<Log> {
        fn on_connected(&self, session: &Arc<Session>) {
            lock_log(self).push(format!("+{}", session.id()));
        }
        fn on_closed(&self, session: &Arc<Session>, reason: &CloseReason) {
            lock_log(self).push(format!("-{} {}", session.id(), reason.label()));
        }
    }

    fn lock_log(log: &Log) -> MutexGuard<'_, Vec<String>> {
        log.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn session() -> Arc<Session> {
        let addr = "127.0.0.1:1".parse().expect("literal address");
        Arc::new(Session::new(addr, addr, &Config::default()))
    }

    #[test]
    fn counts_finds_lists_and_reports_each_session_once() {
        let log = Arc::new(Log::default());
        let registry = SessionRegistry::with_events(Arc::clone(&log));
        let sessions: Vec<_> = (0..100).map(|_| session()).collect();
        for s in &sessions {
            registry.register(s);
        }
        assert_eq!(registry.session_count(), 100);
        let id = sessions[42].id();
        assert_eq!(registry.get(id).map(|s| s.id()), Some(id));
        let mut listed: Vec<u64> = registry.snapshot().iter().map(|s| s.id()).collect();
        listed.sort_unstable();
        let mut want: Vec<u64> = sessions.iter().map(|s| s.id()).collect();
        want.sort_unstable();
        assert_eq!(listed, want);

        sessions[42].disconnect(CloseReason::IdleTimeout);
        registry.unregister(&sessions[42]);
        registry.unregister(&sessions[42]);
        assert_eq!(registry.session_count(), 99);
        assert!(registry.get(id).is_none());
        let log = lock_log(&log);
        assert_eq!(log.len(), 101, "100 connects and exactly one close");
        assert_eq!(log[100], format!("-{id} idle_timeout"));
    }

    #[test]
    fn a_panicking_observer_does_not_break_the_registry() {
        struct Panics;
        impl SessionEvents for Panics {
            fn on_connected(&self, _: &Arc<Session>) {
                panic!("observer bug");
            }
        }
        let registry = SessionRegistry::with_events(Panics);
        let s = session();
        registry.register(&s);
        assert_eq!(registry.session_count(), 1);
        registry.unregister(&s);
        assert_eq!(registry.session_count(), 0);
    }

    #[test]
    fn for_each_may_use_the_registry_it_walks() {
        let registry = SessionRegistry::new();
        let sessions: Vec<_> = (0..10).map(|_| session()).collect();
        for s in &sessions {
            registry.register(s);
        }
        let mut seen = 0;
        registry.for_each(|s| {
            // Would deadlock if a shard lock were held while `f` runs.
            assert!(registry.get(s.id()).is_some());
            registry.unregister(s);
            seen += 1;
        });
        assert_eq!(seen, 10);
        assert_eq!(registry.session_count(), 0);
    }
}
