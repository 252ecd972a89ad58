//! `UdpLink`: what a player's TCP session shares with the UDP session bound to it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use server_core::{CloseReason, Session};

use crate::game::input_gate::InputGate;

/// One player's side of the UDP binding, made when its TCP session asks for a ticket and
/// dropped when that session ends.
pub(crate) struct UdpLink {
    pub player_id: i32,
    /// The player's move rate and refusal budget, shared with its TCP session.
    pub gate: Arc<InputGate>,
    /// The UDP session that speaks for the player now. A client may bind again from a new
    /// address (a NAT that changed its port): the newest wins and the older one is closed.
    /// A std mutex, held for a swap, never across an `.await`.
    bound: Mutex<Option<Arc<Session>>>,
    /// UDP sessions holding an unproven bind for this player (sent a good token, not yet
    /// echoed the challenge): capped, so forged sources cannot fill the session table.
    unproven: AtomicUsize,
}

impl UdpLink {
    pub fn new(player_id: i32, gate: Arc<InputGate>) -> Self {
        UdpLink {
            player_id,
            gate,
            bound: Mutex::new(None),
            unproven: AtomicUsize::new(0),
        }
    }

    /// Counts one more unproven bind, unless `max` are open already.
    pub fn try_hold_unproven(&self, max: usize) -> bool {
        self.unproven
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// An unproven bind was proved or its session ended.
    pub fn release_unproven(&self) {
        let _ = self
            .unproven
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Makes `session` the player's UDP session; closes the one it replaces, if any.
    pub fn bind(&self, session: &Arc<Session>) {
        let old = self.lock().replace(Arc::clone(session));
        if let Some(old) = old.filter(|old| old.id() != session.id()) {
            old.disconnect(CloseReason::ApplicationError(
                "the player bound UDP from another address".into(),
            ));
        }
    }

    /// Unbinds `session` if it is still the player's UDP session; true if it was.
    pub fn unbind(&self, session: &Session) -> bool {
        let mut bound = self.lock();
        if bound.as_ref().is_some_and(|b| b.id() == session.id()) {
            *bound = None;
            true
        } else {
            false
        }
    }

    /// The player's TCP session ended: close its UDP session too.
    pub fn close(&self) {
        if let Some(udp) = self.lock().take() {
            udp.disconnect(CloseReason::ServerClosing);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<Session>>> {
        self.bound.lock().unwrap_or_else(|p| p.into_inner())
    }
}
