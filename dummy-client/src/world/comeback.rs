//! The world bots' comeback (`--login`): once the window's checks are over and the driver
//! has closed every bot, each bot that was in the world logs in again on a new connection,
//! and the `isSelf` entry of its `S_PlayerList` must be where it left (see
//! `login/place.rs`).
//!
//! The room's bots come back during the window (churn); the world's accounting is kept by
//! bot, one player id each, so its bots come back after it instead, every one of them, and
//! a comeback does nothing but log in, read its own entry and close.

use std::sync::Arc;
use std::time::{Duration, Instant};

use server_core::{CloseReason, Connector, Session, SessionHandler};
use tokio::task::JoinSet;

use crate::frames::{take_frames, FrameReceiver};
use crate::login::{BotNames, LeftAt, LoginRecord, LoginShared, LoginSide};
use crate::packets::{
    PacketHandler, PacketManager, SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove, SChat,
    SLogin, SMonsterDespawn, SMonsterMove, SMonsterSpawn, SPlayerList, SPong, SUdpBound,
    SUdpChallenge, SUdpTicket,
};
use crate::world::config::WorldRunConfig;

/// A bot that left, and where its character may be.
#[derive(Debug, Clone)]
pub(crate) struct Leaver {
    /// Its bot index.
    pub(crate) index: usize,
    /// Where it left.
    pub(crate) left: LeftAt,
}

/// How one comeback went.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Logged in and listed at `at`.
    Back {
        /// `bot i (NAME)`, for the report.
        who: String,
        /// Where it left.
        left: LeftAt,
        /// Where the server put it.
        at: [f32; 3],
    },
    /// The login was refused: counted by the run's [`LoginRecord`].
    Refused,
    /// Not back within the enter timeout, or its connection failed: why.
    Missing(String),
}

/// Logs every leaver in again, at the run's ramp rate, and reports where each came back.
pub(crate) async fn come_back(
    config: &WorldRunConfig,
    names: &BotNames,
    record: &Arc<LoginRecord>,
    leavers: Vec<Leaver>,
) -> Vec<Outcome> {
    let connector = Arc::new(Connector::new(server_core::Config {
        idle_timeout: None,
        connect_timeout: config.connect_timeout,
        ..server_core::Config::default()
    }));
    let mut connecting = JoinSet::new();
    let per_slice = (config.ramp_per_sec as f64 / 100.0).max(1.0);
    let start = Instant::now();
    let mut outs = Vec::with_capacity(leavers.len());
    for (k, leaver) in leavers.iter().enumerate() {
        let due = start + Duration::from_secs_f64((k as f64 / per_slice).floor() / 100.0);
        tokio::time::sleep_until(due.into()).await;
        let out = Arc::new(LoginShared::default());
        let handler = Returning {
            login: LoginSide::new(names, leaver.index, Arc::clone(record)),
            out: Arc::clone(&out),
        };
        outs.push(out);
        let (connector, addr) = (Arc::clone(&connector), config.addr_of(leaver.index));
        connecting.spawn(async move { (k, connector.connect(addr, handler).await) });
    }
    let mut failed: Vec<Option<String>> = vec![None; leavers.len()];
    while let Some(joined) = connecting.join_next().await {
        match joined {
            Ok((_, Ok(_session))) => {}
            Ok((k, Err(e))) => failed[k] = Some(format!("connect failed: {e}")),
            Err(e) => tracing::warn!(error = %e, "comeback connect task failed"),
        }
    }
    let waiting = |k: usize, out: &LoginShared| {
        failed[k].is_none() && out.entered_at.get().is_none() && !out.refused()
    };
    let deadline = Instant::now() + config.enter_timeout;
    while Instant::now() < deadline && outs.iter().enumerate().any(|(k, o)| waiting(k, o)) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    connector.shutdown().await;

    leavers
        .into_iter()
        .zip(outs)
        .zip(failed)
        .map(|((leaver, out), failed)| {
            let who = format!("bot {} ({})", leaver.index, names.name(leaver.index));
            match (out.entered_at.get(), failed) {
                (Some(&at), _) => Outcome::Back {
                    who,
                    left: leaver.left,
                    at,
                },
                (None, _) if out.refused() => Outcome::Refused,
                (None, Some(why)) => Outcome::Missing(format!("{who}: comeback {why}")),
                (None, None) => Outcome::Missing(format!(
                    "{who}: no S_PlayerList within the enter timeout after logging in again"
                )),
            }
        })
        .collect()
}

/// The session handler of one comeback: its login, then its own `S_PlayerList` entry.
struct Returning {
    login: LoginSide,
    out: Arc<LoginShared>,
}

impl FrameReceiver for Returning {
    fn move_frame(&mut self, _player_id: i32, _x: u32, _y: u32, _z: u32) {}

    fn other_frame(&mut self, id: u16, body: &[u8]) -> Result<(), CloseReason> {
        PacketManager::dispatch(id, body, self).map_err(CloseReason::from)
    }
}

impl SessionHandler for Returning {
    fn on_connected(&mut self, session: &Arc<Session>) {
        self.login.on_connected(session);
    }

    fn on_recv(&mut self, session: &Arc<Session>, data: &[u8]) -> usize {
        let (used, close) = take_frames(self, data, session.max_packet_size());
        if let Some(reason) = close {
            session.disconnect(reason);
        }
        used
    }

    fn on_disconnected(&mut self, _session: &Arc<Session>, _reason: &CloseReason) {
        self.login.hand_over(&self.out);
    }
}

impl PacketHandler for Returning {
    fn on_s_login(&mut self, p: SLogin) {
        self.login.on_answer(&p, &self.out);
    }

    fn on_s_player_list(&mut self, p: SPlayerList) {
        // Before S_Login 0 the list would be a guest's; after the first, there is no other.
        if !self.login.logged_in() || self.out.entered_at.get().is_some() {
            return;
        }
        if let Some(me) = p.players.iter().find(|p| p.is_self) {
            let at = [me.pos_x, me.pos_y, me.pos_z];
            self.login.on_self(me.player_id, at, &self.out);
        }
    }

    // The rest of the world goes on around it, unchecked: the window is over.
    fn on_s_broadcast_enter_game(&mut self, _p: SBroadcastEnterGame) {}

    fn on_s_broadcast_leave_game(&mut self, _p: SBroadcastLeaveGame) {}

    fn on_s_broadcast_move(&mut self, _p: SBroadcastMove) {}

    fn on_s_chat(&mut self, _p: SChat) {}

    fn on_s_pong(&mut self, _p: SPong) {}

    fn on_s_udp_ticket(&mut self, _p: SUdpTicket) {}

    fn on_s_udp_bound(&mut self, _p: SUdpBound) {}

    fn on_s_udp_challenge(&mut self, _p: SUdpChallenge) {}

    fn on_s_monster_spawn(&mut self, _p: SMonsterSpawn) {}

    fn on_s_monster_move(&mut self, _p: SMonsterMove) {}

    fn on_s_monster_despawn(&mut self, _p: SMonsterDespawn) {}
}
