//! Where a room or a region sends a player's frames ([`Outbox`]), and the `S_PlayerList`
//! a newcomer gets from either, cut to fit a frame ([`player_lists`]).

use std::sync::Arc;

use bytes::Bytes;
use server_core::{EncodeError, Packet, Session};

use crate::game::packets::{Player, SPlayerList};

/// Players per `S_PlayerList` packet. One player takes 17 bytes, and a frame at most 65,535,
/// so a bigger room is sent as several lists; the course client handles each as it comes.
pub const PLAYERS_PER_LIST: usize = 3000;

/// Where a room or region sends a player's packets. The game's rules know only this; the
/// runtime fills it with a session here, or a link to a session on another node.
pub trait Outbox: Send + 'static {
    /// Queues `frame` for the player. False if the player can no longer receive (closed, or
    /// just closed as a slow consumer); its leave job is on its way.
    fn send(&self, frame: Bytes) -> bool;
}

impl Outbox for Arc<Session> {
    fn send(&self, frame: Bytes) -> bool {
        Session::send(self, frame).is_ok()
    }
}

/// `players` as `S_PlayerList` frames of at most [`PLAYERS_PER_LIST`] players each, in order:
/// what a newcomer learns of those already there, in the room and in a region alike.
pub fn player_lists(players: &[Player]) -> impl Iterator<Item = Result<Bytes, EncodeError>> + '_ {
    players.chunks(PLAYERS_PER_LIST).map(|chunk| {
        SPlayerList {
            players: chunk.to_vec(),
        }
        .encode()
    })
}
