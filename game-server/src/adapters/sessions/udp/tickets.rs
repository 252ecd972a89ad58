//! `Tickets`: which player may bind a UDP address, proved by a token it was given over TCP.
//!
//! UDP has no handshake: anyone can send a datagram from any address, and a player id is no
//! secret (every player sees every other's in `S_PlayerList`). So a UDP session speaks for a
//! player only after it presents that player's token, a random 64-bit number the player's
//! own TCP session received in `S_UdpTicket`. A token lives as long as that TCP session.
//! No sockets here: the table is tested alone.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Why a `C_UdpBind` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BindError {
    /// No live TCP session of that player asked for a ticket.
    #[error("no ticket for player {0}")]
    NoTicket(i32),
    /// A ticket exists, with another token.
    #[error("wrong token for player {0}")]
    WrongToken(i32),
}

struct Ticket<T> {
    token: i64,
    link: T,
}

/// Tickets by player id, each carrying what the UDP side needs of that player (`T`).
pub(crate) struct Tickets<T> {
    /// A std mutex: held for one map operation at a ticket request, a bind and a TCP
    /// session's end, never per move and never across an `.await`.
    by_player: Mutex<HashMap<i32, Ticket<T>>>,
}

impl<T: Clone> Tickets<T> {
    pub fn new() -> Self {
        Tickets {
            by_player: Mutex::new(HashMap::new()),
        }
    }

    /// The player's token: a new one from `fresh` the first time, the same one after (a
    /// client that asks twice, say after a lost reply, gets the same answer).
    pub fn issue(&self, player_id: i32, fresh: impl FnOnce() -> i64, link: T) -> i64 {
        self.lock()
            .entry(player_id)
            .or_insert_with(|| Ticket {
                token: fresh(),
                link,
            })
            .token
    }

    /// The player's link if `token` is its token.
    pub fn check(&self, player_id: i32, token: i64) -> Result<T, BindError> {
        match self.lock().get(&player_id) {
            None => Err(BindError::NoTicket(player_id)),
            // A plain comparison: the time it takes leaks at best which of 8 bytes differ
            // first, and a guesser gets a handful of tries per UDP session (see
            // `UdpSettings::max_bad_tokens`) against 2^64 values.
            Some(ticket) if ticket.token != token => Err(BindError::WrongToken(player_id)),
            Some(ticket) => Ok(ticket.link.clone()),
        }
    }

    /// The player's TCP session ended: its token is void. Returns its link, if it had one.
    pub fn revoke(&self, player_id: i32) -> Option<T> {
        self.lock().remove(&player_id).map(|t| t.link)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i32, Ticket<T>>> {
        // Each operation is one insert, lookup or remove: consistent after any panic.
        self.by_player.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_players_own_token_binds_and_only_while_its_ticket_lives() {
        let tickets = Tickets::new();
        let a = tickets.issue(1, || 1111, "player 1");
        let b = tickets.issue(2, || 2222, "player 2");
        assert_eq!(tickets.check(1, a), Ok("player 1"));
        assert_eq!(tickets.check(1, a + 1), Err(BindError::WrongToken(1)));
        assert_eq!(
            tickets.check(1, b),
            Err(BindError::WrongToken(1)),
            "another player's token does not bind this player"
        );
        assert_eq!(tickets.check(3, a), Err(BindError::NoTicket(3)));
        assert_eq!(tickets.revoke(1), Some("player 1"));
        assert_eq!(
            tickets.check(1, a),
            Err(BindError::NoTicket(1)),
            "a revoked token binds nothing"
        );
        assert_eq!(
            tickets.check(2, b),
            Ok("player 2"),
            "revoking one ticket leaves the others"
        );
    }

    #[test]
    fn asking_twice_gives_the_same_token() {
        let tickets = Tickets::new();
        let first = tickets.issue(7, || 42, ());
        let second = tickets.issue(7, || panic!("no second token is drawn"), ());
        assert_eq!(first, second);
    }
}
