//! `WorldBot`: one bot's session in world mode. It decodes what the server sends and feeds
//! its [`Checker`]; the driver walks it and reads its results.
//!
//! The bot's session task is the only one that touches its checker and its pending timings,
//! so they are plain fields of the handler, with no lock per frame: the checker is handed to
//! the bot's [`BotState`] when the session ends, and the driver reads it only after every
//! session has ended. What the driver must see while the run goes on (frames, spawns and
//! despawns received) is published to single-writer counters once per read.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use server_core::{CloseReason, Session, SessionHandler};

use crate::frames::{take_frames, FrameReceiver};
use crate::login::LoginSide;
use crate::packets::{
    PacketHandler, PacketManager, SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove, SChat,
    SLogin, SMonsterDespawn, SMonsterMove, SMonsterSpawn, SPlayerList, SPong, SUdpBound,
    SUdpChallenge, SUdpTicket,
};
use crate::world::checker::Checker;
use crate::world::state::{BotState, Shared};
use crate::world::timings::{PendingTimings, Timing};

/// The `SessionHandler` of one world bot.
pub struct WorldBot {
    state: Arc<BotState>,
    shared: Arc<Shared>,
    /// Its checks. Owned here, touched by no other task (see the module doc).
    checker: Checker,
    /// The checker's distance, for the fresh one left behind when it is handed over.
    far: f32,
    /// Timing samples not yet added to `shared`'s histograms.
    pending: PendingTimings,
    /// Frames of the current read, published to `state.frames` at its end.
    frames: u64,
    /// Microseconds since the run started, taken once per read when a frame needs it: the
    /// frames of one read arrived together.
    now_us: Option<u64>,
    /// Its login, with `--login`: until it passes, the bot is not in the world. Boxed: a
    /// guest's handler stays as small as it was.
    login: Option<Box<LoginSide>>,
}

impl WorldBot {
    /// The session handler of the bot whose shared state is `state`; it flags frames from
    /// farther than `far`.
    pub fn new(state: Arc<BotState>, shared: Arc<Shared>, far: f32) -> WorldBot {
        WorldBot {
            state,
            shared,
            checker: Checker::new(far),
            far,
            pending: PendingTimings::new(),
            frames: 0,
            now_us: None,
            login: None,
        }
    }

    /// Makes this bot log in first (`--login`).
    pub(crate) fn logging_in(mut self, login: LoginSide) -> WorldBot {
        self.login = Some(Box::new(login));
        self
    }

    /// Takes whole frames from `data` (see `frames.rs`: the hot frame, another player's move,
    /// by a loop of its own; every other frame through `PacketFilter` and the generated
    /// `PacketManager`); returns the bytes used and, if a frame was malformed, why to close.
    fn on_bytes(&mut self, data: &[u8], max_packet_size: usize) -> (usize, Option<CloseReason>) {
        take_frames(self, data, max_packet_size)
    }

    /// One `S_BroadcastMove`: times it if it is this bot's own echo or (with several
    /// servers) another bot's move, then checks it.
    #[inline]
    fn on_move(&mut self, player_id: i32, x: f32, y: f32, z: f32) {
        if y.fract() == 0.0 {
            if self.checker.me() == Some(player_id) {
                self.time_echo(y as u32);
                // Where its character is now, for the position check of its comeback.
                if let Some(login) = &mut self.login {
                    login.echoed([x, y, z]);
                }
            } else if y >= 1.0 {
                self.time_delivery(player_id, y as u32);
            }
        }
        let at = self.state.pos();
        self.checker.on_move(player_id, x, y, z, at);
    }

    #[inline(never)]
    fn time_echo(&mut self, seq: u32) {
        if let Some(sent) = self.state.sent_at(seq) {
            let took = self.now_us().saturating_sub(sent);
            self.record(Timing::Echo, took);
            if self.state.handoff_probe.load(Ordering::Relaxed) == seq {
                self.record(Timing::Handoff, took);
            }
        }
    }

    #[inline]
    fn time_delivery(&mut self, sender: i32, seq: u32) {
        let (sent, kind) = {
            // Set only when the run has several servers.
            let Some(senders) = self.shared.senders.get() else {
                return;
            };
            let Some(from) = senders.get(sender) else {
                return;
            };
            let Some(sent) = from.sent_at(seq) else {
                return;
            };
            if from.server.load(Ordering::Relaxed) == self.state.server.load(Ordering::Relaxed) {
                (sent, Timing::DeliverySame)
            } else {
                (sent, Timing::DeliveryCross)
            }
        };
        let took = self.now_us().saturating_sub(sent);
        self.record(kind, took);
    }

    /// If player `id` is parked by a churn drop: whether this bot, at `at`, is near enough
    /// that a correct server keeps it in view (see `parked.rs`).
    fn parked_near(&self, id: i32, at: (f32, f32)) -> Option<bool> {
        self.shared.parked.get()?.near(id, at)
    }

    /// Microseconds since the run started, read once per read.
    fn now_us(&mut self) -> u64 {
        *self
            .now_us
            .get_or_insert_with(|| u64::try_from(self.shared.now_us()).unwrap_or(0))
    }

    fn record(&mut self, kind: Timing, us: u64) {
        if self.pending.push(kind, us) {
            self.pending.add_to(&mut self.shared.timings());
        }
    }

    /// Publishes what the driver watches while the run goes on.
    fn publish(&mut self) {
        self.state.frames.add(std::mem::take(&mut self.frames));
        self.state.spawns.set(self.checker.received.spawns);
        self.state.despawns.set(self.checker.received.despawns);
    }

    /// Hands the checker and the held timings over, once the session has ended.
    fn hand_over(&mut self) {
        self.publish();
        if !self.pending.is_empty() {
            self.pending.add_to(&mut self.shared.timings());
        }
        let checker = std::mem::replace(&mut self.checker, Checker::new(self.far));
        // Only a session's one `on_disconnected` hands over.
        let _ = self.state.checker.set(checker);
    }
}

impl FrameReceiver for WorldBot {
    #[inline]
    fn move_frame(&mut self, player_id: i32, x: u32, y: u32, z: u32) {
        self.frames += 1;
        self.on_move(
            player_id,
            f32::from_bits(x),
            f32::from_bits(y),
            f32::from_bits(z),
        );
    }

    fn other_frame(&mut self, id: u16, body: &[u8]) -> Result<(), CloseReason> {
        self.frames += 1;
        PacketManager::dispatch(id, body, self).map_err(CloseReason::from)
    }
}

impl SessionHandler for WorldBot {
    fn on_connected(&mut self, session: &Arc<Session>) {
        if let Some(login) = &mut self.login {
            login.on_connected(session);
        }
    }

    fn on_recv(&mut self, session: &Arc<Session>, data: &[u8]) -> usize {
        self.now_us = None;
        let (used, close) = self.on_bytes(data, session.max_packet_size());
        if let Some(reason) = close {
            if let CloseReason::ProtocolError(e) = &reason {
                tracing::debug!(session = session.id(), error = %e, "malformed frame");
            }
            session.disconnect(reason);
        }
        self.publish();
        used
    }

    fn on_disconnected(&mut self, _session: &Arc<Session>, reason: &CloseReason) {
        self.hand_over();
        if let Some(login) = &mut self.login {
            login.hand_over(&self.state.login);
        }
        // A bot whose login was refused closed itself, and is counted as that refusal; a
        // churn drop is the driver's doing.
        if !self.shared.closing.load(Ordering::Acquire)
            && !self.state.login.refused()
            && !self.state.dropped.load(Ordering::Acquire)
        {
            let _ = self.state.lost.set(reason.to_string());
        }
    }
}

impl PacketHandler for WorldBot {
    // World-mode bots never ask for UDP (the server's UDP is room-mode only).
    fn on_s_udp_ticket(&mut self, _p: SUdpTicket) {}

    fn on_s_udp_bound(&mut self, _p: SUdpBound) {}

    fn on_s_udp_challenge(&mut self, _p: SUdpChallenge) {}

    fn on_s_login(&mut self, p: SLogin) {
        // A guest never sends C_Login, so the server never answers one.
        if let Some(login) = &mut self.login {
            login.on_answer(&p, &self.state.login);
        }
    }

    fn on_s_broadcast_enter_game(&mut self, p: SBroadcastEnterGame) {
        let at = self.state.pos();
        if self.parked_near(p.player_id, at).is_some() {
            self.checker
                .on_enter_of_parked(p.player_id, p.pos_x, p.pos_y, p.pos_z, at);
        } else {
            self.checker
                .on_enter(p.player_id, p.pos_x, p.pos_y, p.pos_z, at);
        }
    }

    fn on_s_broadcast_leave_game(&mut self, p: SBroadcastLeaveGame) {
        let at = self.state.pos();
        match self.parked_near(p.player_id, at) {
            Some(near) => self.checker.on_leave_of_parked(p.player_id, near),
            None => self.checker.on_leave(p.player_id),
        }
    }

    fn on_s_player_list(&mut self, p: SPlayerList) {
        if let Some(login) = &mut self.login {
            if !login.logged_in() {
                // Before S_Login 0 the server took this connection for a guest (its logins
                // are off): not the bot's character. The refusal that follows counts it.
                return;
            }
            let me = p.players.iter().find(|p| p.is_self);
            if let (Some(me), None) = (me, self.checker.me()) {
                let at = [me.pos_x, me.pos_y, me.pos_z];
                login.on_self(me.player_id, at, &self.state.login);
            }
        }
        let players: Vec<_> = p
            .players
            .iter()
            .map(|p| (p.player_id, p.is_self, p.pos_x, p.pos_y, p.pos_z))
            .collect();
        // Where it spawned is where it is, before the list's distances are checked.
        if let Some(me) = players.iter().find(|p| p.1) {
            self.state.set_pos(me.2, me.4);
        }
        if let Some(entered) = self.checker.on_list(&players) {
            let _ = self.state.entered.set(entered);
        }
    }

    fn on_s_broadcast_move(&mut self, p: SBroadcastMove) {
        // `on_moves` takes moves itself; this is the table's way in, for a move frame the
        // loop leaves to the filter (none that decodes, today).
        self.on_move(p.player_id, p.pos_x, p.pos_y, p.pos_z);
    }

    fn on_s_chat(&mut self, _p: SChat) {}

    fn on_s_monster_spawn(&mut self, p: SMonsterSpawn) {
        let at = self.state.pos();
        self.checker
            .on_monster_spawn(p.monster_id, p.pos_x, p.pos_z, p.hp, p.max_hp, at);
    }

    fn on_s_monster_move(&mut self, p: SMonsterMove) {
        let at = self.state.pos();
        self.checker
            .on_monster_move(p.monster_id, p.pos_x, p.pos_z, at);
    }

    fn on_s_monster_despawn(&mut self, p: SMonsterDespawn) {
        self.checker.on_monster_despawn(p.monster_id);
    }

    fn on_s_pong(&mut self, p: SPong) {
        // A time in the future, or so far back that the difference overflows, is none this
        // bot sent: not a round trip (and no overflow panic on a peer's number).
        let rtt = self.shared.now_us().checked_sub(p.client_time);
        if let Some(rtt) = rtt.and_then(|rtt| u64::try_from(rtt).ok()) {
            self.record(Timing::Rtt, rtt);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use server_core::Packet;

    use super::*;
    use crate::frames::{take_frames_slowly, MOVE_HEADER};
    use crate::login::{BotNames, LoginRecord};
    use crate::packets::Player;
    use crate::world::checker::Violations;
    use crate::world::parked::Parked;
    use crate::world::state::Senders;

    const FAR: f32 = 20.0;

    fn bot() -> WorldBot {
        WorldBot::new(Arc::new(BotState::new()), Arc::new(Shared::new()), FAR)
    }

    fn frame_of<P: Packet>(packet: &P) -> Vec<u8> {
        packet.encode().map(|b| b.to_vec()).unwrap_or_default()
    }

    fn moved(player_id: i32, x: f32, y: f32) -> Vec<u8> {
        frame_of(&SBroadcastMove {
            player_id,
            pos_x: x,
            pos_y: y,
            pos_z: 0.0,
        })
    }

    /// Enters the bot as player 5 at the origin, with player 2 in view.
    fn entered(b: &mut WorldBot) {
        let player = |player_id, is_self| Player {
            is_self,
            player_id,
            ..Player::default()
        };
        let list = frame_of(&SPlayerList {
            players: vec![player(5, true), player(2, false)],
        });
        assert_eq!(b.on_bytes(&list, 4096), (list.len(), None));
    }

    /// `on_bytes` with the move loop turned off: the filter and the decoder for every frame.
    fn generic(b: &mut WorldBot, data: &[u8], max: usize) -> (usize, Option<CloseReason>) {
        take_frames_slowly(b, data, max)
    }

    /// One piece of a received stream: moves of every kind, other frames, garbage.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        let y = prop_oneof![
            (0u32..8).prop_map(|s| s as f32),
            Just(0.5f32),
            Just(-3.0f32)
        ];
        prop_oneof![
            6 => (0i32..8, -30.0f32..30.0, y).prop_map(|(who, x, y)| moved(who, x, y)),
            1 => any::<[u8; 16]>().prop_map(|body| {
                let mut f = MOVE_HEADER.to_le_bytes().to_vec();
                f.extend(body);
                f
            }),
            1 => (0usize..24).prop_map(|extra| {
                let mut f = moved(3, 1.0, 1.0);
                f.extend(std::iter::repeat_n(7u8, extra));
                f[..2].copy_from_slice(&((20 + extra) as u16).to_le_bytes());
                f
            }),
            2 => (0i32..8, 0u32..4).prop_map(|(who, s)| frame_of(&SBroadcastEnterGame {
                player_id: who,
                pos_x: 1.0,
                pos_y: s as f32,
                pos_z: 1.0,
            })),
            2 => (0i32..8).prop_map(|who| frame_of(&SBroadcastLeaveGame { player_id: who })),
            1 => any::<i64>().prop_map(|t| frame_of(&SPong { client_time: t })),
            1 => proptest::collection::vec(any::<u8>(), 0..8),
        ]
    }

    proptest! {
        #[test]
        fn the_move_loop_decides_exactly_as_the_filter_and_the_decoder(
            pieces in proptest::collection::vec(piece(), 0..40),
            cut in 0usize..2000,
            max in prop_oneof![Just(4096usize), 4usize..40],
        ) {
            let stream: Vec<u8> = pieces.concat();
            let stream = &stream[..cut.min(stream.len())];
            let (mut fast, mut slow) = (bot(), bot());
            for b in [&mut fast, &mut slow] {
                entered(b);
            }
            let got = fast.on_bytes(stream, max);
            let want = generic(&mut slow, stream, max);
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(fast.frames, slow.frames);
            prop_assert_eq!(fast.checker.violations, slow.checker.violations);
            prop_assert_eq!(fast.checker.received, slow.checker.received);
            for id in 0..8 {
                prop_assert_eq!(fast.checker.seen(id), slow.checker.seen(id));
                prop_assert_eq!(fast.checker.in_view(id), slow.checker.in_view(id));
            }
        }
    }

    #[test]
    fn a_logging_in_bot_enters_after_its_login_only_and_keeps_its_last_echo() {
        let record = Arc::new(LoginRecord::new());
        let names = BotNames::new("Walker", 8).unwrap_or_else(|e| panic!("{e}"));
        let mut login = LoginSide::new(&names, 2, Arc::clone(&record));
        login.start_for_test();
        let mut b = bot().logging_in(login);
        let list = |x: f32| SPlayerList {
            players: vec![Player {
                is_self: true,
                player_id: 5,
                pos_x: x,
                pos_y: 40.0,
                ..Player::default()
            }],
        };
        b.on_s_player_list(list(1.0));
        assert!(b.state.entered.get().is_none(), "a guest's list");
        b.on_s_login(SLogin {
            result: 0,
            player_id: 5,
            retry_after_ms: 0,
            token: String::new(),
        });
        b.on_s_player_list(list(2.0));
        assert_eq!(b.state.entered.get(), Some(&(5, 2.0, 0.0)));
        assert_eq!(b.state.login.entered_at.get(), Some(&[2.0, 40.0, 0.0]));
        b.on_bytes(&moved(5, 3.0, 41.0), 4096);
        b.on_bytes(&moved(2, 1.0, 7.0), 4096);
        if let Some(login) = &mut b.login {
            login.hand_over(&b.state.login);
        }
        assert_eq!(
            b.state.login.last_echo.get(),
            Some(&Some([3.0, 41.0, 0.0])),
            "its own echo, not another's move"
        );
        let report = record.report("Walker");
        assert_eq!((report.logged_in, report.wrong_player_id), (1, 0));
    }

    #[test]
    fn a_parked_neighbour_must_not_leave_nearby_nor_enter_again() {
        let shared = Arc::new(Shared::new());
        // Bot 1 is player 2, bot 2 is player 3; kept in view within 10.
        let _ = shared.parked.set(Parked::new([(2, 1), (3, 2)], 3, 10.0));
        let parked = |bot, x| {
            if let Some(p) = shared.parked.get() {
                p.park(bot, x, 0.0);
            }
        };
        let mut b = WorldBot::new(Arc::new(BotState::new()), Arc::clone(&shared), FAR);
        entered(&mut b);
        let enter = |who, x| {
            frame_of(&SBroadcastEnterGame {
                player_id: who,
                pos_x: x,
                ..SBroadcastEnterGame::default()
            })
        };
        let leave = |who| frame_of(&SBroadcastLeaveGame { player_id: who });
        b.on_bytes(&enter(3, 15.0), 4096);
        parked(1, 3.0);
        parked(2, 15.0);
        b.on_bytes(&leave(3), 4096);
        assert_eq!(b.checker.violations.total(), 0, "15 away: it may go");
        b.on_bytes(&enter(2, 3.0), 4096);
        b.on_bytes(&leave(2), 4096);
        assert_eq!(
            b.checker.violations,
            Violations {
                parked_entered: 1,
                parked_left: 1,
                ..Violations::default()
            },
            "player 2, in view 3 away, entered again and left"
        );
        if let Some(p) = shared.parked.get() {
            p.unpark(1);
        }
        b.on_bytes(&enter(2, 3.0), 4096);
        b.on_bytes(&enter(2, 3.0), 4096);
        assert_eq!(
            b.checker.violations.spawn_in_view, 1,
            "back: an ordinary player again"
        );
    }

    #[test]
    fn frames_and_the_view_are_published_once_per_read() {
        let mut b = bot();
        entered(&mut b);
        let mut data = moved(2, 1.0, 1.0);
        data.extend(frame_of(&SBroadcastEnterGame {
            player_id: 3,
            ..SBroadcastEnterGame::default()
        }));
        data.extend(frame_of(&SBroadcastLeaveGame { player_id: 2 }));
        data.extend(&moved(3, 1.0, 2.0)[..7]);
        let (used, close) = b.on_bytes(&data, 4096);
        assert_eq!(
            (used, close),
            (data.len() - 7, None),
            "the partial move is left"
        );
        assert_eq!(b.state.frames.get(), 0, "not yet published");
        b.publish();
        assert_eq!(b.state.frames.get(), 4, "the list and three frames");
        assert_eq!((b.state.spawns.get(), b.state.despawns.get()), (1, 1));
        assert_eq!(
            b.checker.violations.total(),
            0,
            "{:?}",
            b.checker.violations
        );
    }

    #[test]
    fn an_undecodable_frame_closes_the_session() {
        let mut b = bot();
        let mut data = moved(2, 1.0, 1.0);
        // An S_BroadcastLeaveGame one byte short.
        data.extend([7, 0, 3, 0, 1, 2, 3]);
        data.extend(moved(2, 1.0, 2.0));
        let (used, close) = b.on_bytes(&data, 4096);
        assert_eq!(used, 27, "up to and with the bad frame");
        assert!(
            matches!(close, Some(CloseReason::ProtocolError(_))),
            "{close:?}"
        );
    }

    #[test]
    fn an_own_echo_is_timed_and_a_hand_off_probe_too() {
        let mut b = bot();
        entered(&mut b);
        b.state.sent(3, 0);
        b.state.sent(4, 0);
        b.state.handoff_probe.store(4, Ordering::Relaxed);
        for seq in [3.0, 4.0, 4.5, 9.0] {
            b.on_bytes(&moved(5, 0.0, seq), 4096);
        }
        b.hand_over();
        let t = b.shared.timings();
        assert_eq!(
            t.of(Timing::Echo).len(),
            2,
            "seq 9 was never sent, 4.5 is no seq"
        );
        assert_eq!(t.of(Timing::Handoff).len(), 1);
        assert_eq!(t.of(Timing::DeliverySame).len(), 0, "one server: not timed");
        let handed = b.state.checker.get().map(|c| c.received);
        assert_eq!(handed.map(|r| r.own_moves), Some(4));
    }

    #[test]
    fn deliveries_are_timed_by_the_senders_server_and_strangers_are_not() {
        let states: Vec<Arc<BotState>> = (0..3).map(|_| Arc::new(BotState::new())).collect();
        states[1].server.store(1, Ordering::Relaxed);
        for s in &states {
            s.sent(7, 0);
        }
        let shared = Arc::new(Shared::new());
        // Bot 0 is this one (player 5), bot 1 is player 2 on the other server, bot 2 is
        // player 1 << 24 | 1 on this one.
        let ids = [(5, 0), (2, 1), (1 << 24 | 1, 2)];
        let _ = shared.senders.set(Senders::new(ids, states.clone()));
        let mut b = WorldBot::new(Arc::clone(&states[0]), shared, FAR);
        entered(&mut b);
        let mut data = Vec::new();
        for (who, seq) in [(2, 7.0), (1 << 24 | 1, 7.0), (2, 8.0), (99, 7.0), (-1, 7.0)] {
            data.extend(moved(who, 0.0, seq));
        }
        b.on_bytes(&data, 4096);
        b.hand_over();
        let t = b.shared.timings();
        assert_eq!(t.of(Timing::DeliveryCross).len(), 1);
        assert_eq!(t.of(Timing::DeliverySame).len(), 1, "seq 8 was never sent");
    }

    #[test]
    fn pongs_are_timed_and_impossible_ones_ignored() {
        let mut b = bot();
        for t in [0, i64::MIN, i64::MAX, -5] {
            b.on_s_pong(SPong { client_time: t });
        }
        b.hand_over();
        assert_eq!(b.shared.timings().of(Timing::Rtt).len(), 2, "0 and -5");
    }

    #[test]
    fn samples_past_a_batch_reach_the_histograms_before_the_end() {
        let mut b = bot();
        for _ in 0..40 {
            b.on_s_pong(SPong { client_time: 0 });
        }
        assert_eq!(b.shared.timings().of(Timing::Rtt).len(), 32, "one batch in");
        b.hand_over();
        assert_eq!(b.shared.timings().of(Timing::Rtt).len(), 40);
    }
}
