//! `ClientSession`: one connected player. Decodes packets and turns them into room jobs.
//!
//! Handlers never touch room state: they validate what the peer sent and push a job. What
//! the peer sent that makes no sense is handled by a fixed policy:
//! - a position that is NaN or infinite closes the session with a protocol error (no honest
//!   client sends one);
//! - a chat line over the length limit is dropped and counted, the session stays;
//! - moves and chat lines beyond the player's rate limits (`ServerConfig::move_rate`,
//!   `chat_rate`) are dropped and counted, so one flooding client cannot fill every other
//!   player's send queue with its broadcasts;
//! - a player that keeps sending refused input (the two cases above) past
//!   `ServerConfig::refused_input_limit` is closed (`ApplicationError`);
//! - every log line a peer can trigger is bounded: summaries of drops at most once a second,
//!   per-session lines from the server-wide `LogBudget`;
//! - a move or chat arriving when the room's input queue is full is dropped and counted (the
//!   room is behind; the player's next move supersedes it);
//! - a player arriving while the room has `max_connections` entries still pending is closed
//!   (`ApplicationError`);
//! - `C_LeaveGame` takes the player out of the room and closes the session
//!   (`ServerClosing`); the disconnect that follows does not broadcast a second leave;
//! - `C_UdpRequest` is answered with `S_UdpTicket` (a token, or port 0 when UDP is off);
//!   `C_UdpBind` and `C_UdpMove` are UDP packets: over TCP they close the session with a
//!   protocol error. The move limits are the player's, shared with its UDP session
//!   (`input_gate.rs`), so moves over both transports together meet one rate;
//! - with logins on (`--login optional`, the default, or `required`), nothing is entered until
//!   the first packet: `C_Login` starts a login (`login.rs`), any other packet, or silence
//!   through the grace, makes a guest (docs/PROTOCOL.md, "Accounts and login"). Until the
//!   session plays, its seat waits in its [`Lobby`], shared with the login and grace tasks;
//!   once it plays, the session takes the seat back and its packets touch no lock.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use server_core::{CloseReason, Packet, PacketSession, ProtocolError, SendError, Session};

use crate::adapters::metrics::TrafficHandle;
use crate::adapters::sessions::login::{
    answer, close_when_sent, start_login, start_timer, Credentials, Lobby, Parked,
};
use crate::adapters::sessions::shared::{drop_full_input, Shared};
use crate::adapters::sessions::udp::link::UdpLink;
use crate::adapters::sessions::udp::stats::bump;
use crate::game::accounts::{Door, LoginResult, Phase, Step};
use crate::game::input_gate::{InputGate, Verdict};
use crate::game::packets::{
    CChat, CLeaveGame, CLogin, CLoginToken, CMove, CPing, CUdpBind, CUdpMove, CUdpProve,
    CUdpRequest, PacketHandler, PacketId, PacketManager, SChat, SPong, SUdpTicket,
};
use crate::game::rate_limit::{Rate, TokenBucket};
use crate::game::world::PlayerInput;
use crate::runtime::job_queue::QueueFull;
use crate::runtime::seat::Seat;

/// `C_UdpRequest`s a session may send: a client asks once, and again if its UDP side broke
/// (a new socket, a NAT that moved); four back to back, then one every ten seconds.
const UDP_REQUEST_RATE: Rate = Rate {
    per_sec: 0.1,
    burst: 4.0,
};

/// One player's connection.
pub struct ClientSession {
    shared: Arc<Shared>,
    /// Set by `on_connected`, before any packet can arrive.
    session: Option<Arc<Session>>,
    player_id: i32,
    /// The id the session manager knows this connection by: its own, even when it took a
    /// parked character (and that character's id) back.
    registered_id: i32,
    /// True once this player's leave job was pushed, so it is pushed once.
    left: bool,
    /// The move rate and the refusal budget: the player's, shared with its UDP session.
    gate: Arc<InputGate>,
    chats: TokenBucket,
    /// `C_UdpRequest`s: each issues a token, so they are few (see `UDP_REQUEST_RATE`).
    udp_requests: TokenBucket,
    /// This session's packet counters (its own, so counting touches no shared cache line).
    traffic: TrafficHandle,
    /// Where the player's jobs go: the room, or its region of the world. `None` while it
    /// waits in the lobby (logins on, not yet playing).
    seat: Option<Seat>,
    /// With logins on: the door and, until the session plays, the seat.
    lobby: Option<Arc<Mutex<Lobby>>>,
    /// Plays a logged-in account: in a cluster, its inputs stop the moment this node's
    /// claim on it lapses (`Accounts::may_play`), before the periodic check closes it.
    logged_in: bool,
}

fn lock(lobby: &Mutex<Lobby>) -> MutexGuard<'_, Lobby> {
    lobby.lock().unwrap_or_else(|e| e.into_inner())
}

impl ClientSession {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let now = Instant::now();
        ClientSession {
            gate: Arc::new(InputGate::new(
                shared.move_rate,
                shared.refused_input_limit,
                now,
            )),
            chats: TokenBucket::new(shared.chat_rate, now),
            udp_requests: TokenBucket::new(UDP_REQUEST_RATE, now),
            traffic: shared.metrics.traffic.open(),
            seat: Some(shared.game.seat()),
            shared,
            session: None,
            player_id: 0,
            registered_id: 0,
            left: false,
            lobby: None,
            logged_in: false,
        }
    }

    /// Before a packet is handled while the session does not play yet: what the door says.
    /// `Ok(true)` handles it, `Ok(false)` drops it.
    fn through_door(&mut self, id: u16) -> Result<bool, CloseReason> {
        let (Some(lobby), Some(session)) = (self.lobby.clone(), self.session.clone()) else {
            return Ok(true);
        };
        if id == PacketId::CLogin as u16 || id == PacketId::CLoginToken as u16 {
            return Ok(true); // on_c_login asks the door itself
        }
        let mut lobby = lock(&lobby);
        match lobby.door.other(id == PacketId::CPing as u16) {
            Step::Pass => {
                if lobby.door.phase() == Phase::Playing {
                    // Entered by a login or the grace: the seat comes back to the session.
                    self.take_seat(&mut lobby);
                }
                Ok(true)
            }
            Step::Guest => {
                let entered = match lobby.seat.as_mut() {
                    Some(seat) => seat.enter(self.player_id, &session, None, None),
                    None => Err("no seat".to_owned()),
                };
                self.seat = lobby.seat.take();
                match entered {
                    Ok(()) => Ok(true),
                    Err(reason) => {
                        lobby.door.close();
                        self.left = true;
                        Err(CloseReason::ApplicationError(reason))
                    }
                }
            }
            Step::Refuse => {
                self.left = true;
                if let Some(accounts) = &self.shared.accounts {
                    accounts.stats.count(LoginResult::Required);
                }
                answer(&session, LoginResult::Required, 0, None);
                close_when_sent(
                    session,
                    CloseReason::ApplicationError(
                        "this server takes no guests (--login required)".into(),
                    ),
                );
                Ok(false)
            }
            Step::Drop | Step::Nothing | Step::Check | Step::Answer(_) | Step::Close => Ok(false),
        }
    }

    /// Counts a refused input and logs it (at most once a second, server-wide); closes the
    /// session once the peer has used up its refusals.
    fn refused(&mut self, what: &'static str, why: &'static str) {
        let verdict = self.gate.refused(
            what,
            why,
            self.player_id,
            self.shared.meters(),
            Instant::now(),
        );
        if let Verdict::Close(reason) = verdict {
            self.close(reason);
        }
    }

    fn close(&self, reason: CloseReason) {
        if let Some(session) = &self.session {
            session.disconnect(reason);
        }
    }

    /// A login packet: the door says whether to check it.
    fn login(&mut self, packet: &'static str, credentials: Credentials) {
        let Some(session) = self.session.clone() else {
            return;
        };
        let (Some(lobby), Some(accounts)) = (self.lobby.clone(), self.shared.accounts.clone())
        else {
            answer(&session, LoginResult::Disabled, 0, None);
            self.refused(packet, "logins are off (--login off)");
            return;
        };
        let step = lock(&lobby).door.login();
        match step {
            Step::Check => start_login(accounts, lobby, session, self.player_id, credentials),
            Step::Answer(result) => {
                accounts.stats.count(result);
                answer(&session, result, 0, None);
                self.refused(packet, "a login while playing or checking one");
            }
            _ => {}
        }
    }

    /// Takes the seat back from the lobby (entered there by a login or the grace), with the
    /// player id of a parked character the login took back.
    fn take_seat(&mut self, lobby: &mut Lobby) {
        if self.seat.is_none() {
            self.seat = lobby.seat.take();
        }
        if let Some(id) = lobby.player_id.take() {
            self.player_id = id;
        }
        self.logged_in |= lobby.account.is_some();
    }

    /// Takes the player out of the game, or, for a logged-in character whose connection
    /// dropped (`dropped`), parks it for the reconnect grace.
    fn leave(&mut self, dropped: bool) {
        if self.left {
            return;
        }
        self.left = true;
        let mut account = None;
        let playing = match self.lobby.clone() {
            None => true,
            Some(lobby) => {
                let mut lobby = lock(&lobby);
                self.take_seat(&mut lobby);
                account = lobby.account.take();
                lobby.door.close() == Phase::Playing
            }
        };
        if let (true, true, Some(key), Some(accounts), Some(session)) = (
            playing,
            dropped,
            &account,
            &self.shared.accounts,
            &self.session,
        ) {
            if let Some(seat) = self.seat.take() {
                let parked = Parked {
                    player_id: self.player_id,
                    seat,
                };
                match accounts.park(key, session.id(), parked) {
                    // Still in the game, with its seat: nothing to leave, nothing to forget.
                    Ok(()) => return,
                    Err(parked) => self.seat = Some(parked.seat),
                }
            }
        }
        if playing {
            let left = self
                .seat
                .as_mut()
                .is_some_and(|seat| seat.leave(self.player_id));
            if !left {
                tracing::debug!(
                    player_id = self.player_id,
                    "room already stopped; leave not needed"
                );
            }
        }
        if let (Some(key), Some(accounts), Some(session)) =
            (account, &self.shared.accounts, &self.session)
        {
            accounts.release(&key, session.id());
        }
    }

    fn push_input(&mut self, input: PlayerInput) {
        let Some(seat) = self.seat.as_mut() else {
            return; // not playing: dropped at the door
        };
        if self.logged_in
            && self
                .shared
                .accounts
                .as_ref()
                .is_some_and(|accounts| !accounts.may_play())
        {
            // Another node may hold this account by now: nothing more from here.
            self.close(CloseReason::ApplicationError(
                "this node lost the cluster's bus or its lease; log in again".into(),
            ));
            return;
        }
        if let Err(QueueFull(())) = seat.input(self.player_id, input) {
            drop_full_input(&self.shared);
        }
    }
}

impl PacketSession for ClientSession {
    fn on_connected(&mut self, session: &Arc<Session>) {
        self.session = Some(Arc::clone(session));
        let Some(player_id) = self.shared.sessions.generate(Arc::clone(session)) else {
            // 2^31 players since start: refuse rather than reuse an id.
            self.left = true;
            session.disconnect(CloseReason::ApplicationError("player ids exhausted".into()));
            return;
        };
        self.player_id = player_id;
        self.registered_id = player_id;
        if let Some(suppressed) = self.shared.peer_log.allow(Instant::now()) {
            tracing::info!(player_id = self.player_id, peer = %session.peer_addr(), suppressed, "connected");
        }
        if let Some(accounts) = &self.shared.accounts {
            // Logins on: nothing is entered before the first packet or the grace.
            let lobby = Arc::new(Mutex::new(Lobby {
                door: Door::new(accounts.mode),
                seat: self.seat.take(),
                account: None,
                player_id: None,
            }));
            start_timer(
                accounts,
                Arc::clone(&lobby),
                Arc::clone(session),
                self.player_id,
            );
            self.lobby = Some(lobby);
            return;
        }
        let entered = match self.seat.as_mut() {
            Some(seat) => seat.enter(self.player_id, session, None, None),
            None => Ok(()),
        };
        if let Err(reason) = entered {
            // The room is far behind on letting players in (or, in a cluster, the spawn
            // region's process is gone): refuse this one rather than queue without bound.
            // It never entered, so it has nothing to leave.
            self.left = true;
            session.disconnect(CloseReason::ApplicationError(reason));
        }
    }

    fn on_recv_packet(
        &mut self,
        _session: &Arc<Session>,
        id: u16,
        body: &[u8],
    ) -> Result<(), CloseReason> {
        self.shared.stats.packets_in.fetch_add(1, Ordering::Relaxed);
        self.traffic.received(id, body.len());
        if self.seat.is_none() && !self.through_door(id)? {
            return Ok(());
        }
        PacketManager::dispatch(id, body, self).map_err(CloseReason::from)
    }

    fn on_disconnected(&mut self, session: &Arc<Session>, reason: &CloseReason) {
        // A network's fault parks a logged-in character for the reconnect grace; a close the
        // server or the protocol chose does not.
        let dropped = matches!(
            reason,
            CloseReason::ClientClosing
                | CloseReason::SocketError { .. }
                | CloseReason::IdleTimeout
                | CloseReason::SlowConsumer { .. }
        );
        self.leave(dropped);
        // The player's token dies with this session, and its UDP session with it.
        if let Some(link) = self
            .shared
            .udp
            .as_ref()
            .and_then(|udp| udp.tickets.revoke(self.player_id))
        {
            link.close();
        }
        if let Some(seat) = self.seat.as_mut() {
            seat.forget();
        }
        self.shared.sessions.remove(self.registered_id);
        self.shared.metrics.closed(reason);
        let Some(suppressed) = self.shared.peer_log.allow(Instant::now()) else {
            return;
        };
        match reason {
            CloseReason::ProtocolError(_)
            | CloseReason::SlowConsumer { .. }
            | CloseReason::ApplicationError(_) => {
                tracing::warn!(player_id = self.player_id, peer = %session.peer_addr(), %reason, suppressed, "disconnected");
            }
            _ => {
                tracing::info!(player_id = self.player_id, peer = %session.peer_addr(), %reason, suppressed, "disconnected")
            }
        }
    }
}

impl PacketHandler for ClientSession {
    fn on_c_login(&mut self, packet: CLogin) {
        self.login("C_Login", Credentials::Password(packet));
    }

    fn on_c_login_token(&mut self, packet: CLoginToken) {
        self.login("C_LoginToken", Credentials::Token(packet));
    }

    fn on_c_leave_game(&mut self, _packet: CLeaveGame) {
        self.leave(false);
        self.close(CloseReason::ServerClosing);
    }

    fn on_c_move(&mut self, packet: CMove) {
        let pos = [packet.pos_x, packet.pos_y, packet.pos_z];
        if self.left && pos.iter().all(|c| c.is_finite()) {
            return;
        }
        let verdict = self.gate.check_move(
            "C_Move",
            self.player_id,
            pos,
            self.shared.meters(),
            Instant::now(),
        );
        match verdict {
            Verdict::Admit => self.push_input(PlayerInput::Move { pos }),
            Verdict::Drop => {}
            Verdict::Close(reason) => self.close(reason),
        }
    }

    fn on_c_chat(&mut self, packet: CChat) {
        let chars = packet.message.chars().count();
        // The broadcast carries 4 bytes more than the C_Chat did (the player id), so a line
        // that filled a whole frame could not be broadcast: refused here like an over-long
        // one, not left to fail in the room.
        let broadcast = SChat {
            player_id: self.player_id,
            message: packet.message,
        };
        if chars > self.shared.chat_max_chars || broadcast.frame_len().is_err() {
            // Before this went through `refused`, each over-long line wrote a warning of its
            // own: a client looping 201-character lines flooded the log from the I/O threads.
            self.refused("C_Chat", "over the chat length limit");
            return;
        }
        if self.left {
            return;
        }
        if !self.chats.try_take(Instant::now()) {
            self.shared
                .metrics
                .rate_limited
                .fetch_add(1, Ordering::Relaxed);
            self.refused("C_Chat", "over the chat rate limit");
            return;
        }
        self.push_input(PlayerInput::Chat {
            message: broadcast.message,
        });
    }

    fn on_c_ping(&mut self, packet: CPing) {
        // Answered here, on the I/O task, not on the room's tick: the round trip measures the
        // network and the session, not the flush interval.
        let pong = SPong {
            client_time: packet.client_time,
        };
        if let Some(session) = &self.session {
            // `send_packet` from inside `on_recv` writes straight into this session's next
            // write: no SendBuffer frame, no queue lock per pong.
            match session.send_packet(&pong) {
                Ok(()) => {
                    self.shared.stats.direct_out.fetch_add(1, Ordering::Relaxed);
                    self.traffic.sent(SPong::ID, pong.frame_len().unwrap_or(0));
                }
                Err(SendError::Encode(e)) => tracing::error!(error = %e, "S_Pong did not encode"),
                Err(_) => {}
            }
        }
    }

    fn on_c_udp_request(&mut self, _packet: CUdpRequest) {
        let Some(session) = self.session.clone() else {
            return;
        };
        // Each answer takes the tickets' lock and a send: a player that left has no use for
        // a ticket, and a client looping requests is refused like any flood.
        if self.left || !self.udp_requests.try_take(Instant::now()) {
            if let Some(udp) = &self.shared.udp {
                bump(&udp.stats.ticket_requests_refused);
            }
            if !self.left {
                self.shared
                    .metrics
                    .rate_limited
                    .fetch_add(1, Ordering::Relaxed);
                self.refused("C_UdpRequest", "over the C_UdpRequest rate limit");
            }
            return;
        }
        let ticket = match &self.shared.udp {
            // Port 0: this server has no UDP; the client stays on TCP.
            None => SUdpTicket {
                player_id: self.player_id,
                token: 0,
                port: 0,
            },
            Some(udp) => {
                let link = Arc::new(UdpLink::new(self.player_id, Arc::clone(&self.gate)));
                // rand's thread_rng is a CSPRNG seeded from the OS: the token cannot be
                // guessed from other players' tokens.
                let token = udp.tickets.issue(self.player_id, rand::random::<i64>, link);
                bump(&udp.stats.tickets);
                SUdpTicket {
                    player_id: self.player_id,
                    token,
                    port: i32::from(udp.port),
                }
            }
        };
        match session.send_packet(&ticket) {
            Ok(()) => {
                self.shared.stats.direct_out.fetch_add(1, Ordering::Relaxed);
                self.traffic
                    .sent(SUdpTicket::ID, ticket.frame_len().unwrap_or(0));
            }
            Err(SendError::Encode(e)) => tracing::error!(error = %e, "S_UdpTicket did not encode"),
            Err(_) => {}
        }
    }

    fn on_c_udp_bind(&mut self, _packet: CUdpBind) {
        self.close(CloseReason::ProtocolError(ProtocolError::Invalid(
            "C_UdpBind is a UDP packet, sent over TCP".into(),
        )));
    }

    fn on_c_udp_move(&mut self, _packet: CUdpMove) {
        self.close(CloseReason::ProtocolError(ProtocolError::Invalid(
            "C_UdpMove is a UDP packet, sent over TCP".into(),
        )));
    }

    fn on_c_udp_prove(&mut self, _packet: CUdpProve) {
        self.close(CloseReason::ProtocolError(ProtocolError::Invalid(
            "C_UdpProve is a UDP packet, sent over TCP".into(),
        )));
    }
}
