//! Counters of the game's UDP side, readable while it runs.

use std::sync::atomic::{AtomicU64, Ordering};

/// What happened to UDP binds and moves.
#[derive(Debug, Default)]
pub struct UdpGameStats {
    pub(crate) tickets: AtomicU64,
    pub(crate) binds: AtomicU64,
    pub(crate) bad_binds: AtomicU64,
    pub(crate) closed_bad_tokens: AtomicU64,
    pub(crate) moves: AtomicU64,
    pub(crate) moves_unbound: AtomicU64,
    pub(crate) moves_stale: AtomicU64,
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
    /// UDP sessions bound to a player.
    binds,
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
    /// Packets other than `C_UdpBind` and `C_UdpMove` over UDP (dropped; an unbound session
    /// is closed).
    refused_packets,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
