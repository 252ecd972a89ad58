//! `UdpPlayerSession`: the handler of one UDP address, which speaks for a player once bound.
//!
//! Policy for what comes over UDP:
//! - `C_UdpBind` with the right (playerId, token) from an address that has not proved it
//!   receives is answered with `S_UdpChallenge { cookie }` (a fresh random cookie, the same
//!   one on every resend), within 3x the bytes the address sent (`proof.rs`); nothing else is
//!   sent there. At most `MAX_UNPROVEN_PER_TICKET` addresses may hold an unproven bind for
//!   one ticket: a further one is refused, counted and closed, so forged sources with one
//!   stolen-or-own ticket cannot fill the session table.
//! - `C_UdpProve` echoing that cookie binds this address to the player and is answered with
//!   `S_UdpBound` (again on every resent bind or proof: the client resends until the answer
//!   arrives). A proof with no challenge outstanding or the wrong cookie is dropped and
//!   counted as a bad bind.
//! - A wrong token, another player's token or a player with no ticket is dropped, counted
//!   and not answered; `max_bad_tokens` of them (bad proofs included) close an unbound UDP
//!   session. A bound one only drops them: a UDP source address can be forged, and closing
//!   would let anyone who knows it cut the player's binding.
//! - `C_UdpMove` from an unbound address is dropped, counted, and closes that session. From
//!   a bound one, the first move after the bind is taken whatever its `seq`; after that a
//!   move whose `seq` is not above the newest taken is stale (UDP reordered or duplicated
//!   it): dropped and counted. The rest take the TCP move's path through the player's input
//!   gate (finite position, one move rate and refusal budget across both transports); a
//!   refused move (a NaN or infinite position included) is dropped and counted, never a
//!   close (the source can be forged), and an admitted one
//!   is pushed to the room's input queue (dropped and counted when full).
//! - Any other packet is a TCP packet: dropped and counted; it closes an unbound session.

use std::sync::Arc;
use std::time::Instant;

use server_core::{CloseReason, Packet, PacketSession, ProtocolError, Session};

use crate::adapters::sessions::shared::{drop_full_input, Shared, UdpShared};
use crate::adapters::sessions::udp::link::UdpLink;
use crate::adapters::sessions::udp::proof::{Budget, MAX_UNPROVEN_PER_TICKET};
use crate::adapters::sessions::udp::stats::bump;
use crate::game::input_gate::{Meters, Verdict};
use crate::game::packets::{
    CChat, CLeaveGame, CLogin, CLoginToken, CMove, CPing, CUdpBind, CUdpMove, CUdpProve,
    CUdpRequest, PacketHandler, PacketManager, SUdpBound, SUdpChallenge,
};
use crate::game::room::RoomJob;

/// This address's player, once bound.
struct Bound {
    link: Arc<UdpLink>,
    /// The token it was bound with: a resend must carry it too, or a datagram forged with
    /// this address could change where the player's moves go.
    token: i64,
    want_moves: bool,
    /// The newest `C_UdpMove` sequence number taken; none yet since the bind, so a client
    /// rebinding after more than `MAX_SEQ_JUMP` moves is not stale for good.
    last_seq: Option<u32>,
}

/// A good bind from an address that has not proved it receives yet.
struct Unproven {
    link: Arc<UdpLink>,
    token: i64,
    want_moves: bool,
    /// What `C_UdpProve` must echo.
    cookie: i64,
}

/// How far ahead of the newest taken `C_UdpMove` a sequence number may be: more than a
/// client loses in a row (11 minutes of moves at 100 a second).
const MAX_SEQ_JUMP: u32 = 1 << 16;

/// One UDP address.
pub(crate) struct UdpPlayerSession {
    shared: Arc<Shared>,
    /// Set by `on_connected`, before any packet.
    session: Option<Arc<Session>>,
    bound: Option<Bound>,
    /// A good bind waiting for its proof; `None` once bound.
    unproven: Option<Unproven>,
    /// Bytes to and from this address while it has not proved it receives.
    budget: Budget,
    bad_tokens: u32,
}

impl UdpPlayerSession {
    pub fn new(shared: Arc<Shared>) -> Self {
        UdpPlayerSession {
            shared,
            session: None,
            bound: None,
            unproven: None,
            budget: Budget::default(),
            bad_tokens: 0,
        }
    }

    fn udp(&self) -> Option<&UdpShared> {
        self.shared.udp.as_ref()
    }

    fn close(&self, reason: CloseReason) {
        if let Some(session) = &self.session {
            session.disconnect(reason);
        }
    }

    /// A packet that has no business on UDP: dropped and counted. An unbound address holds
    /// nothing, so it is closed (its table slot freed); a bound one is only dropped, since a
    /// UDP source address can be forged and closing would let anyone cut a player's binding.
    fn tcp_only(&mut self, name: &'static str) {
        if let Some(udp) = self.udp() {
            bump(&udp.stats.refused_packets);
        }
        if self.bound.is_none() {
            self.close(CloseReason::ProtocolError(ProtocolError::Invalid(format!(
                "{name} is a TCP packet, sent over UDP"
            ))));
        }
    }

    /// Tells the room where this player's moves go after a bind or a change of `wantMoves`.
    /// Refused when the room has `max_connections` control jobs waiting (the bind is then
    /// not answered, and the client resends it), so a client toggling `wantMoves` cannot
    /// grow the room's queue. False if refused.
    fn try_route_moves(&self, player_id: i32, outbox: Option<Arc<Session>>) -> bool {
        let Some(room) = self.shared.game.room() else {
            return true;
        };
        match room.try_push_control(RoomJob::UdpMoves { player_id, outbox }) {
            Ok(()) => true,
            Err(_) => {
                tracing::debug!(
                    player_id,
                    "room's control queue full; C_UdpBind not answered"
                );
                false
            }
        }
    }

    /// Takes the route back after an unbind; never refused (one per admitted bind).
    fn unroute_moves(&self, player_id: i32) {
        if let Some(room) = self.shared.game.room() {
            let job = RoomJob::UdpMoves {
                player_id,
                outbox: None,
            };
            if room.push_follow_up(job).is_err() {
                tracing::debug!(player_id, "room stopped; UDP route not needed");
            }
        }
    }

    /// `S_UdpChallenge` to this unproven address, if its byte budget allows.
    fn challenge(&mut self, session: &Arc<Session>, player_id: i32, cookie: i64) {
        let Some(udp) = self.shared.udp.as_ref() else {
            return;
        };
        let challenge = SUdpChallenge { player_id, cookie };
        let len = challenge.frame_len().unwrap_or(usize::MAX);
        if !self.budget.try_send(len) {
            bump(&udp.stats.challenges_capped);
            return;
        }
        bump(&udp.stats.challenges);
        if let Err(e) = session.send_packet(&challenge) {
            tracing::debug!(player_id, error = %e, "S_UdpChallenge not sent");
        }
    }

    fn bad_bind(&mut self, why: &dyn std::fmt::Display) {
        let Some(udp) = self.shared.udp.as_ref() else {
            return;
        };
        bump(&udp.stats.bad_binds);
        self.bad_tokens += 1;
        tracing::debug!(error = %why, bad_tokens = self.bad_tokens, "C_UdpBind refused");
        // A bound address is only dropped from: a forged bind must not cut the binding.
        if self.bound.is_none() && self.bad_tokens >= udp.max_bad_tokens {
            bump(&udp.stats.closed_bad_tokens);
            let reason = CloseReason::ApplicationError(format!(
                "{} C_UdpBind with a bad token",
                self.bad_tokens
            ));
            self.close(reason);
        }
    }
}

impl PacketSession for UdpPlayerSession {
    fn on_connected(&mut self, session: &Arc<Session>) {
        self.session = Some(Arc::clone(session));
    }

    fn on_recv_packet(
        &mut self,
        _session: &Arc<Session>,
        id: u16,
        body: &[u8],
    ) -> Result<(), CloseReason> {
        if self.bound.is_none() {
            self.budget
                .received(body.len() + server_core::frame::HEADER_SIZE);
        }
        PacketManager::dispatch(id, body, self).map_err(CloseReason::from)
    }

    fn on_disconnected(&mut self, session: &Arc<Session>, reason: &CloseReason) {
        if let Some(unproven) = self.unproven.take() {
            unproven.link.release_unproven();
        }
        let Some(bound) = self.bound.take() else {
            return;
        };
        // Only if this session is still the player's: a newer binding keeps its route, and
        // a player whose TCP session ended has left the room anyway.
        if bound.link.unbind(session) && bound.want_moves {
            self.unroute_moves(bound.link.player_id);
        }
        tracing::debug!(player_id = bound.link.player_id, %reason, "UDP session unbound");
    }
}

impl PacketHandler for UdpPlayerSession {
    fn on_c_udp_bind(&mut self, packet: CUdpBind) {
        let Some(session) = self.session.clone() else {
            return;
        };
        if let Some(bound) = &self.bound {
            if bound.link.player_id != packet.player_id || bound.token != packet.token {
                let why = format!(
                    "address bound to player {} asked again for player {} with {} token",
                    bound.link.player_id,
                    packet.player_id,
                    if bound.token == packet.token {
                        "its"
                    } else {
                        "another"
                    }
                );
                self.bad_bind(&why);
                return;
            }
            // A resend (our S_UdpBound was lost): answer again; a changed wantMoves counts.
            let (player_id, want) = (packet.player_id, packet.want_moves);
            if bound.want_moves != want {
                if !self.try_route_moves(player_id, want.then(|| Arc::clone(&session))) {
                    return;
                }
                if let Some(bound) = &mut self.bound {
                    bound.want_moves = want;
                }
            }
            reply_bound(&session, player_id, want);
            return;
        }
        if let Some(unproven) = &self.unproven {
            if unproven.link.player_id == packet.player_id && unproven.token == packet.token {
                // A resend while the proof is on its way (or the challenge was lost): the
                // same cookie again; a changed wantMoves is taken with the proof.
                let cookie = unproven.cookie;
                if let Some(unproven) = &mut self.unproven {
                    unproven.want_moves = packet.want_moves;
                }
                self.challenge(&session, packet.player_id, cookie);
            } else {
                self.bad_bind(&"an unproven address asked again for another player or token");
            }
            return;
        }
        let Some(udp) = self.udp() else {
            return;
        };
        match udp.tickets.check(packet.player_id, packet.token) {
            Ok(link) => {
                if !link.try_hold_unproven(MAX_UNPROVEN_PER_TICKET) {
                    bump(&udp.stats.binds_refused_unproven);
                    self.close(CloseReason::ApplicationError(format!(
                        "player {} has {MAX_UNPROVEN_PER_TICKET} unproven UDP binds open already",
                        packet.player_id
                    )));
                    return;
                }
                let cookie = rand::random::<i64>();
                self.unproven = Some(Unproven {
                    link,
                    token: packet.token,
                    want_moves: packet.want_moves,
                    cookie,
                });
                self.challenge(&session, packet.player_id, cookie);
            }
            Err(e) => self.bad_bind(&e),
        }
    }

    fn on_c_login(&mut self, _packet: CLogin) {
        self.close(CloseReason::ProtocolError(ProtocolError::Invalid(
            "C_Login is a TCP packet, sent over UDP".into(),
        )));
    }

    fn on_c_login_token(&mut self, _packet: CLoginToken) {
        self.close(CloseReason::ProtocolError(ProtocolError::Invalid(
            "C_LoginToken is a TCP packet, sent over UDP".into(),
        )));
    }

    fn on_c_udp_prove(&mut self, packet: CUdpProve) {
        let Some(session) = self.session.clone() else {
            return;
        };
        if let Some(bound) = &self.bound {
            // A resent proof (our S_UdpBound was lost): answer again, nothing else changes.
            if bound.link.player_id == packet.player_id {
                reply_bound(&session, packet.player_id, bound.want_moves);
            }
            return;
        }
        let proved = self
            .unproven
            .as_ref()
            .is_some_and(|u| u.link.player_id == packet.player_id && u.cookie == packet.cookie);
        if !proved {
            if let Some(udp) = self.udp() {
                bump(&udp.stats.bad_proofs);
            }
            self.bad_bind(&"C_UdpProve without a challenge, or with the wrong cookie");
            return;
        }
        let Some(unproven) = self.unproven.take() else {
            return;
        };
        // The ticket may have gone (its TCP session ended) or been replaced (asked again)
        // while the proof was on its way: the bind holds only for the live ticket.
        let live = self.udp().is_some_and(|udp| {
            udp.tickets
                .check(packet.player_id, unproven.token)
                .is_ok_and(|link| Arc::ptr_eq(&link, &unproven.link))
        });
        if !live {
            unproven.link.release_unproven();
            self.bad_bind(&"C_UdpProve for a ticket that is no longer live");
            return;
        }
        // Routed on every bind, wanted or not: a bind from a new address replaces (and
        // closes) the old one, whose route to the room must not outlive it.
        let outbox = unproven.want_moves.then(|| Arc::clone(&session));
        if !self.try_route_moves(packet.player_id, outbox) {
            // Not answered; the client resends its bind, and proves again.
            self.unproven = Some(unproven);
            return;
        }
        unproven.link.release_unproven();
        if let Some(udp) = self.udp() {
            bump(&udp.stats.binds);
        }
        unproven.link.bind(&session);
        self.bound = Some(Bound {
            link: unproven.link,
            token: unproven.token,
            want_moves: unproven.want_moves,
            last_seq: None,
        });
        reply_bound(&session, packet.player_id, unproven.want_moves);
    }

    fn on_c_udp_move(&mut self, packet: CUdpMove) {
        let Some(udp) = self.shared.udp.as_ref() else {
            return;
        };
        let Some(bound) = &mut self.bound else {
            // An unbound address holds nothing: closing it frees its table slot, so forged
            // sources cannot keep the table full with moves (the client binds again).
            bump(&udp.stats.moves_unbound);
            self.close(CloseReason::ProtocolError(ProtocolError::Invalid(
                "C_UdpMove before C_UdpBind".into(),
            )));
            return;
        };
        // Newer means ahead by at most MAX_SEQ_JUMP, modulo 2^32: an older move is stale,
        // and a forged jump to u32::MAX cannot make every later move look stale.
        if let Some(last) = bound.last_seq {
            let ahead = packet.seq.wrapping_sub(last);
            if ahead == 0 || ahead > MAX_SEQ_JUMP {
                bump(&udp.stats.moves_stale);
                return;
            }
        }
        bound.last_seq = Some(packet.seq);
        bump(&udp.stats.moves);
        let player_id = bound.link.player_id;
        let pos = [packet.pos_x, packet.pos_y, packet.pos_z];
        let meters = Meters {
            stats: &self.shared.stats,
            rate_limited: &self.shared.metrics.rate_limited,
            started: self.shared.started,
        };
        match bound
            .link
            .gate
            .check_move("C_UdpMove", player_id, pos, meters, Instant::now())
        {
            Verdict::Admit => {
                if let Some(room) = self.shared.game.room() {
                    if room.try_push(RoomJob::Move { player_id, pos }).is_err() {
                        drop_full_input(&self.shared);
                    }
                }
            }
            Verdict::Drop => {}
            // Over UDP a close would let a forged datagram cut the player's binding; the
            // move is dropped (and was counted by the gate), the TCP session decides.
            Verdict::Close(reason) => {
                bump(&udp.stats.moves_refused);
                tracing::debug!(player_id, %reason, "C_UdpMove refused");
            }
        }
    }

    fn on_c_leave_game(&mut self, _packet: CLeaveGame) {
        self.tcp_only("C_LeaveGame");
    }

    fn on_c_move(&mut self, _packet: CMove) {
        self.tcp_only("C_Move");
    }

    fn on_c_chat(&mut self, _packet: CChat) {
        self.tcp_only("C_Chat");
    }

    fn on_c_ping(&mut self, _packet: CPing) {
        self.tcp_only("C_Ping");
    }

    fn on_c_udp_request(&mut self, _packet: CUdpRequest) {
        self.tcp_only("C_UdpRequest");
    }
}

/// `S_UdpBound` over UDP, inside `on_recv`: it goes out with this session's next datagram.
fn reply_bound(session: &Arc<Session>, player_id: i32, moves_over_udp: bool) {
    let reply = SUdpBound {
        player_id,
        moves_over_udp,
    };
    if let Err(e) = session.send_packet(&reply) {
        tracing::debug!(player_id, error = %e, "S_UdpBound not sent");
    }
}
