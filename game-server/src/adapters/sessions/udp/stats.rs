//! Counters of the game's UDP side, readable while it runs.

use std::sync::atomic::{AtomicU64, Ordering};

/// What happened to UDP binds and moves.
#[derive(Debug, Default)]
pub struct UdpGameStats {
    pub(crate) tickets: AtomicU64,
    pub(crate) binds: AtomicU64,
    pub(crate) bad_binds: AtomicU64,
    pub(crate) closed_bad_tokens: AtomicU64,
    pub(crate) challenges: AtomicU64,
    pub(crate) challenges_capped: AtomicU64,
    pub(crate) binds_refused_unproven: AtomicU64,
    pub(crate) bad_proofs: AtomicU64,
    pub(crate) ticket_requests_refused: AtomicU64,
    pub(crate) moves: AtomicU64,
    pub(crate) moves_unbound: AtomicU64,
    pub(crate) moves_stale: AtomicU64,
    pub(crate) moves_refused: AtomicU64,
    pub(crate) refused_packets: AtomicU64,
}

macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        impl UdpGameStats {
            $($(#[$doc])* pub fn $name(&self) -> u64 { self.$name.load(Ordering::Relaxed) })*
        }
    };
}

getters! {
    /// `S_UdpTicket`s handed out with a token (a repeat request counts again).
    tickets,
    /// UDP sessions bound to a player (after proving their address).
    binds,
    /// `S_UdpChallenge`s sent to addresses that had not proved they receive.
    challenges,
    /// `S_UdpChallenge`s not sent: the address had been sent 3x what it sent already.
    challenges_capped,
    /// Good `C_UdpBind`s refused because the player's ticket had too many unproven binds
    /// open from other addresses (forged sources); the session is closed.
    binds_refused_unproven,
    /// `C_UdpProve`s with no challenge outstanding or the wrong cookie.
    bad_proofs,
    /// `C_UdpRequest`s dropped: over the rate limit, or after `C_LeaveGame`.
    ticket_requests_refused,
    /// `C_UdpBind`s refused: wrong token, another player's token, no ticket.
    bad_binds,
    /// Unbound UDP sessions closed for sending too many bad binds.
    closed_bad_tokens,
    /// `C_UdpMove`s taken (bound, in order); they then meet the move rate limit.
    moves,
    /// `C_UdpMove`s dropped because their UDP session was not bound to a player.
    moves_unbound,
    /// `C_UdpMove`s dropped because a newer one of the same player had come first.
    moves_stale,
    /// `C_UdpMove`s dropped for what would close a TCP session (a NaN or infinite
    /// position, refusals past the budget): over UDP they close nothing, since the source
    /// can be forged.
    moves_refused,
    /// Packets other than `C_UdpBind` and `C_UdpMove` over UDP (dropped; an unbound session
    /// is closed).
    refused_packets,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
