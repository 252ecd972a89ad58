//! `LoginSide`: a bot session's login, the I/O around [`LoginFlow`]; and [`LoginShared`],
//! what it leaves for the driver.
//!
//! A bot's session handler (the room's `Bot`, the world's `WorldBot`, the world's comeback)
//! holds one when the run logs in, and hands it the session, the `S_Login`s, its own
//! `S_PlayerList` entry and its own echoes. Everything here runs on the session's task;
//! a retry after a wait is the one thing that runs later, on a timer task of its own that
//! only queues the packet.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use server_core::{CloseReason, Packet, Session};

use crate::login::flow::{Ask, LoginFlow, Step};
use crate::login::names::{password, BotNames};
use crate::login::record::LoginRecord;
use crate::packets::SLogin;

/// What one connection's login left for the driver. Each cell is set once, by the
/// connection's session task; the driver reads them, the last echo after the session ended.
#[derive(Debug, Default)]
pub(crate) struct LoginShared {
    /// `S_Login.playerId`, once the login passed.
    pub(crate) player_id: OnceLock<i32>,
    /// Once the login passed: whether it was by token (a world churn rejoin counts its own).
    pub(crate) by_token: OnceLock<bool>,
    /// The result the login was given up on; the session is then closed on purpose.
    pub(crate) refused: OnceLock<i32>,
    /// The position of the `isSelf` entry of the `S_PlayerList` after the login.
    pub(crate) entered_at: OnceLock<[f32; 3]>,
    /// The position of the last own `S_BroadcastMove` (`None`: there was none), handed over
    /// when the session ends.
    pub(crate) last_echo: OnceLock<Option<[f32; 3]>>,
}

impl LoginShared {
    /// True once the login was given up.
    pub(crate) fn refused(&self) -> bool {
        self.refused.get().is_some()
    }
}

/// One bot session's login.
#[derive(Debug)]
pub(crate) struct LoginSide {
    /// The bot's index, under which its token is kept for its next login.
    index: usize,
    flow: LoginFlow,
    record: Arc<LoginRecord>,
    /// Kept from `on_connected` to send the retries; let go when the session ends.
    session: Option<Arc<Session>>,
    /// The position of the latest own echo. A plain field: only the session's task writes
    /// it, once per own move, and hands it over at the end.
    last_echo: Option<[f32; 3]>,
}

impl LoginSide {
    /// The login of bot `index` of `names`, counted in `record`; by the token an earlier
    /// login of the bot was handed, if there was one.
    pub(crate) fn new(names: &BotNames, index: usize, record: Arc<LoginRecord>) -> LoginSide {
        let name = names.name(index);
        let password = password(&name);
        let token = record.token(index);
        LoginSide {
            index,
            flow: LoginFlow::new(name, password, token),
            record,
            session: None,
            last_echo: None,
        }
    }

    /// The connection is up: the login is its first packet.
    pub(crate) fn on_connected(&mut self, session: &Arc<Session>) {
        self.session = Some(Arc::clone(session));
        let packet = self.flow.start(Instant::now());
        self.send(&packet);
    }

    /// Starts the login with no session to send on: what `on_connected` does, for the
    /// bots' tests.
    #[cfg(test)]
    pub(crate) fn start_for_test(&mut self) {
        self.flow.start(Instant::now());
    }

    /// True once `S_Login` said 0: the room's or region's packets follow, as for a guest.
    pub(crate) fn logged_in(&self) -> bool {
        self.flow.player_id().is_some()
    }

    /// An `S_Login` came.
    pub(crate) fn on_answer(&mut self, answer: &SLogin, out: &LoginShared) {
        let (took, step) = self.flow.on_answer(answer, Instant::now());
        self.record.answered(answer.result, took);
        match step {
            Step::Send(packet) => self.send(&packet),
            Step::SendAt(at, packet) => self.send_at(at, packet),
            Step::In {
                player_id,
                created,
                by_token,
            } => {
                let _ = out.player_id.set(player_id);
                let _ = out.by_token.set(by_token);
                self.record.logged_in(created, by_token);
                self.record.keep_token(self.index, &answer.token);
            }
            Step::Refused(result) => {
                let _ = out.refused.set(result);
                self.record.refused(result);
                tracing::debug!(result, "login refused; closing the bot");
                if let Some(session) = &self.session {
                    session.disconnect(CloseReason::ApplicationError(format!(
                        "login refused with result {result}"
                    )));
                }
            }
            Step::Ignore => {}
        }
    }

    /// The `isSelf` entry of the `S_PlayerList` after the login: `player_id` at `at`.
    pub(crate) fn on_self(&mut self, player_id: i32, at: [f32; 3], out: &LoginShared) {
        if self.flow.player_id() != Some(player_id) {
            tracing::debug!(
                listed = player_id,
                logged_in = ?self.flow.player_id(),
                "S_Login named another player than S_PlayerList"
            );
            self.record.wrong_player_id();
        }
        let _ = out.entered_at.set(at);
    }

    /// The server echoed this bot's own move at `at`.
    #[inline]
    pub(crate) fn echoed(&mut self, at: [f32; 3]) {
        self.last_echo = Some(at);
    }

    /// The session ended: hands the last echo over and lets the session go.
    pub(crate) fn hand_over(&mut self, out: &LoginShared) {
        let _ = out.last_echo.set(self.last_echo);
        self.session = None;
    }

    fn send(&self, packet: &Ask) {
        let Some(session) = &self.session else {
            return;
        };
        send(session, &self.record, packet);
    }

    /// Queues `packet` at `at`, from a timer task: the session's task only runs when bytes
    /// come, and none will until this is sent.
    fn send_at(&self, at: Instant, packet: Ask) {
        let Some(session) = self.session.clone() else {
            return;
        };
        let record = Arc::clone(&self.record);
        tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            if !session.is_closed() {
                send(&session, &record, &packet);
            }
        });
    }
}

fn send(session: &Session, record: &LoginRecord, packet: &Ask) {
    let (frame, by_token) = match packet {
        Ask::Password(p) => (p.encode(), false),
        Ask::Token(p) => (p.encode(), true),
    };
    match frame {
        Ok(frame) => {
            let len = frame.len();
            // A closed session is counted where it closed; nothing more to do here.
            if session.send(frame).is_ok() {
                record.sent(len, by_token);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot encode a login"),
    }
}
