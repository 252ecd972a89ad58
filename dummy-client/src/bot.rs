//! One bot's receive side: the `PacketSession` that decodes, checks and counts what the
//! server sends it.
//!
//! The handler runs on its session's task, one frame at a time, and shares nothing mutable
//! with other bots: every count goes to the bot's own [`BotShared`], read by the driver a few
//! times a second. Sending is the driver's job (see `driver.rs`), so a bot has no task or
//! timer of its own.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use server_core::{CloseReason, Packet, Session, SessionHandler};

use crate::chat::{self, ChatSeen, ChatSeqs};
use crate::churn::RoomOrder;
use crate::counter::Counter;
use crate::echo::MoveClock;
use crate::frames::{take_frames, FrameReceiver};
use crate::latency::Latency;
use crate::login::{LoginShared, LoginSide};
use crate::moves::{self, Tag};
use crate::packets::{
    PacketHandler, PacketId, PacketManager, SBroadcastEnterGame, SBroadcastLeaveGame,
    SBroadcastMove, SChat, SLogin, SMonsterDespawn, SMonsterMove, SMonsterSpawn, SPlayerList,
    SPong, SUdpBound, SUdpChallenge, SUdpTicket,
};
use crate::pings::{PingLog, Pong};
use crate::sequences::{Seen, SenderSeqs};

/// Slots in the per-id receive counters: every id of the schema.
pub(crate) const ID_SLOTS: usize = PacketId::MAX as usize + 1;

/// State of the whole run that every bot's handler reads.
#[derive(Debug)]
pub(crate) struct RunShared {
    /// Origin of `C_Ping`'s `client_time` (microseconds since this instant).
    pub(crate) start: Instant,
    /// Set once the driver starts closing the bots: disconnects after it are the run's end,
    /// not errors.
    pub(crate) closing: AtomicBool,
    /// Bot sessions that have ended, so the driver knows in O(1) when none is left.
    pub(crate) disconnected: AtomicUsize,
    /// Bots in the run: the sender indexes every receiver tracks (see `sequences.rs`).
    pub(crate) senders: usize,
    /// The bots chat: receivers check every line (see `chat.rs`).
    pub(crate) chat: bool,
    /// Round trips. A std mutex, held only to record one value, never across an `.await`.
    latency: Mutex<Latency>,
    /// Move echoes, the same way: a few a second per bot, one short lock each.
    move_echo: Mutex<Latency>,
}

impl RunShared {
    pub(crate) fn new(
        start: Instant,
        ping_interval_us: u64,
        move_interval_us: u64,
        senders: usize,
    ) -> RunShared {
        RunShared {
            start,
            senders,
            chat: false,
            closing: AtomicBool::new(false),
            disconnected: AtomicUsize::new(0),
            latency: Mutex::new(Latency::new(ping_interval_us)),
            move_echo: Mutex::new(Latency::new(move_interval_us)),
        }
    }

    /// Turns on the chat checks (the run sends chat lines).
    pub(crate) fn chatting(mut self, chat: bool) -> RunShared {
        self.chat = chat;
        self
    }

    /// The move-echo record: own window move to its own `S_BroadcastMove` (see `echo.rs`).
    pub(crate) fn move_echo(&self) -> MutexGuard<'_, Latency> {
        self.move_echo
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The round-trip record.
    pub(crate) fn latency(&self) -> MutexGuard<'_, Latency> {
        // Recording a value cannot leave a histogram half-updated in a way that matters for a
        // report, so a poisoned lock is used as is.
        self.latency
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Microseconds since the run started: the clock of `C_Ping`.
    pub(crate) fn now_us(&self) -> i64 {
        i64::try_from(self.start.elapsed().as_micros()).unwrap_or(i64::MAX)
    }
}

/// How a bot's session ended.
#[derive(Debug, Clone)]
pub(crate) struct Disconnect {
    /// [`CloseReason::label`].
    pub(crate) label: &'static str,
    /// The full reason, for the report's examples.
    pub(crate) detail: String,
    /// It ended before the driver closed it: an error.
    pub(crate) unexpected: bool,
}

/// One bot's counters. Written only by its session's task (see [`Counter`]), read by the
/// driver.
#[derive(Debug)]
pub(crate) struct BotShared {
    /// Set once `S_PlayerList` named this bot.
    entered: AtomicBool,
    /// Frames received, by packet id.
    pub(crate) received: [Counter; ID_SLOTS],
    /// Frames received with an id outside the schema.
    pub(crate) received_unknown: Counter,
    /// Bytes received in whole frames, headers included.
    pub(crate) bytes_received: Counter,
    /// Window moves (see `moves.rs`) carrying this bot's own player id.
    pub(crate) window_own: Counter,
    /// Window moves from other players.
    pub(crate) window_others: Counter,
    /// Window moves of each sender that came before the first this bot saw of it, summed
    /// over senders: owed if it was in the room from the start of the window.
    pub(crate) seq_head_skipped: Counter,
    /// Window moves jumped over in a sender's sequence, summed over senders: lost.
    pub(crate) seq_gaps: Counter,
    /// Window moves seen again, or after a later one of the same sender.
    pub(crate) seq_repeats: Counter,
    /// Window moves naming a sender index outside the run.
    pub(crate) seq_foreign: Counter,
    /// The highest sequence number of this bot's own window moves echoed back to it: the
    /// room ran every one of its moves up to it.
    pub(crate) own_echo_seq: Counter,
    /// The last sequence number seen per sender, handed over when the session ends. Locked
    /// twice per session (hand-over, then read or freed by the driver).
    seen: Mutex<Vec<u32>>,
    /// Frames that did not decode; each closes the session.
    pub(crate) decode_errors: Counter,
    /// Namings of this bot as `isSelf` beyond the first, over all its `S_PlayerList`s.
    pub(crate) player_list_errors: Counter,
    /// The pings sent and which were answered. Locked once per ping by the driver and once
    /// per pong by the session's task (one a second each by default), never across an
    /// `.await`.
    pings: Mutex<PingLog>,
    /// Send times of this bot's last window moves, for the move echo.
    pub(crate) move_clock: MoveClock,
    /// `C_Ping`s queued. Written by the driver only.
    pub(crate) pings_sent: Counter,
    /// `S_Pong`s that answered a ping.
    pub(crate) pongs_answered: Counter,
    /// `S_Pong`s for a ping already answered.
    pub(crate) pong_duplicates: Counter,
    /// `S_Pong`s with a time this bot never sent.
    pub(crate) pong_unknown: Counter,
    /// Set once, by `on_disconnected`.
    pub(crate) disconnect: OnceLock<Disconnect>,
    /// This bot's player id, once its `S_PlayerList` named it.
    pub(crate) player_id: OnceLock<i32>,
    /// Set by the driver when this bot starts leaving (churn): its close is then expected.
    pub(crate) leaving: AtomicBool,
    /// Window moves received (own and others) when this bot's own `S_BroadcastEnterGame`
    /// arrived: where its receive interval starts (see `churn.rs`).
    pub(crate) enter_mark: OnceLock<u64>,
    /// `seq_repeats` at the same moment: repeats before the interval starts.
    pub(crate) enter_repeats_mark: OnceLock<u64>,
    /// Window moves received, this one included, when the latest own window echo arrived.
    pub(crate) last_echo_mark: Counter,
    /// `seq_repeats` at the same moment: with `enter_repeats_mark`, the repeats inside the
    /// interval, so that a duplicate cannot stand in for a lost move there.
    pub(crate) last_echo_repeats_mark: Counter,
    /// The reference receiver's record of the room's order, handed over when its session
    /// ends. Only bot 0 of a churning run records one.
    pub(crate) room_order: OnceLock<RoomOrder>,
    /// Chat lines received, and what was wrong with them (see `chat.rs`).
    pub(crate) chat_received: Counter,
    pub(crate) chat_corrupt: Counter,
    pub(crate) chat_gaps: Counter,
    pub(crate) chat_repeats: Counter,
    pub(crate) chat_foreign: Counter,
    /// The number of this bot's last own chat line that came back.
    pub(crate) own_chat_echo: Counter,
    /// First and last chat number seen per sender, handed over when the session ends.
    chat_seen: Mutex<Vec<(u32, u32)>>,
    /// The server's `S_UdpTicket`, once asked for (`--udp`, see `udp.rs`).
    pub(crate) udp_ticket: OnceLock<SUdpTicket>,
    /// This connection's login, with `--login` (see `login/`).
    pub(crate) login: LoginShared,
}

impl BotShared {
    pub(crate) fn new() -> BotShared {
        BotShared {
            entered: AtomicBool::new(false),
            received: std::array::from_fn(|_| Counter::default()),
            received_unknown: Counter::default(),
            bytes_received: Counter::default(),
            window_own: Counter::default(),
            window_others: Counter::default(),
            seq_head_skipped: Counter::default(),
            seq_gaps: Counter::default(),
            seq_repeats: Counter::default(),
            seq_foreign: Counter::default(),
            own_echo_seq: Counter::default(),
            seen: Mutex::new(Vec::new()),
            decode_errors: Counter::default(),
            player_list_errors: Counter::default(),
            pings: Mutex::new(PingLog::default()),
            move_clock: MoveClock::default(),
            pings_sent: Counter::default(),
            pongs_answered: Counter::default(),
            pong_duplicates: Counter::default(),
            pong_unknown: Counter::default(),
            disconnect: OnceLock::new(),
            player_id: OnceLock::new(),
            leaving: AtomicBool::new(false),
            enter_mark: OnceLock::new(),
            enter_repeats_mark: OnceLock::new(),
            last_echo_mark: Counter::default(),
            last_echo_repeats_mark: Counter::default(),
            room_order: OnceLock::new(),
            chat_received: Counter::default(),
            chat_corrupt: Counter::default(),
            chat_gaps: Counter::default(),
            chat_repeats: Counter::default(),
            chat_foreign: Counter::default(),
            own_chat_echo: Counter::default(),
            chat_seen: Mutex::new(Vec::new()),
            udp_ticket: OnceLock::new(),
            login: LoginShared::default(),
        }
    }

    /// Marks the bot as let in with this player id, as its `S_PlayerList` would.
    #[cfg(test)]
    pub(crate) fn mark_entered_for_test(&self, player_id: i32) {
        let _ = self.player_id.set(player_id);
        self.entered.store(true, Ordering::Release);
    }

    /// True once the server sent this bot its `S_PlayerList`.
    pub(crate) fn entered(&self) -> bool {
        self.entered.load(Ordering::Acquire)
    }

    /// This bot's ping log.
    pub(crate) fn pings(&self) -> MutexGuard<'_, PingLog> {
        // Each update is a push or a flag: a panic cannot leave it half-done.
        self.pings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Pings sent and not (yet) answered.
    pub(crate) fn pongs_outstanding(&self) -> u64 {
        self.pings_sent
            .get()
            .saturating_sub(self.pongs_answered.get())
    }

    /// The last sequence number seen per sender; empty until the session has ended, and
    /// after the driver took it.
    /// First and last chat number seen per sender, once the session has ended.
    pub(crate) fn chat_seen(&self) -> MutexGuard<'_, Vec<(u32, u32)>> {
        self.chat_seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn seen(&self) -> MutexGuard<'_, Vec<u32>> {
        // Replaced whole or taken whole: a panic cannot leave it half-written.
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Errors this bot counted itself (losses are only known at the end).
    pub(crate) fn errors(&self) -> u64 {
        self.decode_errors.get()
            + self.player_list_errors.get()
            + self.pong_duplicates.get()
            + self.pong_unknown.get()
            + self.seq_repeats.get()
            + self.seq_foreign.get()
    }

    /// Window moves received, own echoes included.
    pub(crate) fn window_received(&self) -> u64 {
        self.window_own.get() + self.window_others.get()
    }

    /// Frames received, all ids.
    pub(crate) fn frames_received(&self) -> u64 {
        self.received.iter().map(Counter::get).sum::<u64>() + self.received_unknown.get()
    }
}

/// The `PacketSession` of one bot.
pub(crate) struct Bot {
    shared: Arc<BotShared>,
    run: Arc<RunShared>,
    /// This bot's player id, once known: a plain copy for the per-move comparison.
    player_id: Option<i32>,
    /// This bot's index: its own window moves carry it.
    index: usize,
    /// The last sequence number seen per sender. Owned by the handler while the session
    /// runs (one store per move, no lock), handed to `shared.seen` when it ends.
    seqs: SenderSeqs,
    /// The room's order as this bot sees it, if it is the reference receiver of a churning
    /// run. Owned by the handler while the session runs (no lock per move), handed to
    /// `shared.room_order` when it ends.
    order: Option<RoomOrder>,
    /// First and last chat number seen per sender, when the run chats (see `chat.rs`).
    chats: Option<ChatSeqs>,
    /// The common move's counts since the last read, added to `shared` once per read.
    tally: Tally,
    /// Its login, with `--login`: until it passes, the bot is not in the room. Boxed: a
    /// guest's handler stays as small as it was.
    login: Option<Box<LoginSide>>,
}

/// What the common move (another bot's next window move) changes, counted in plain fields
/// and published to the bot's shared counters once per read: a read carries a thousand moves
/// or more, and three counter updates per move in the shared struct cost more than the
/// check itself. The driver sees the counts at most one read late.
#[derive(Debug, Default)]
struct Tally {
    /// `S_BroadcastMove` frames.
    moves: u64,
    /// Of those, other bots' next window moves.
    others: u64,
}

impl Bot {
    /// The bot with this index, whose earlier connections (churn) sent window moves up to
    /// sequence number `base`.
    pub(crate) fn new(shared: Arc<BotShared>, run: Arc<RunShared>, index: usize, base: u32) -> Bot {
        let seqs = SenderSeqs::new(run.senders, Some((index, base)));
        let chats = run.chat.then(|| ChatSeqs::new(run.senders));
        Bot {
            shared,
            run,
            player_id: None,
            index,
            seqs,
            order: None,
            chats,
            tally: Tally::default(),
            login: None,
        }
    }

    /// Makes this bot log in first (`--login`).
    pub(crate) fn logging_in(mut self, login: LoginSide) -> Bot {
        self.login = Some(Box::new(login));
        self
    }

    /// Makes this bot the reference receiver: it records the room's order (see `churn.rs`).
    pub(crate) fn recording_room_order(mut self) -> Bot {
        self.order = Some(RoomOrder::default());
        self
    }

    /// A bot that already knows its player id: the receive side of a UDP socket, which
    /// never gets an `S_PlayerList` (see `udp.rs`).
    pub(crate) fn known_as(mut self, player_id: i32) -> Bot {
        self.player_id = Some(player_id);
        self
    }

    /// Hands the last sequence numbers seen to `shared.seen`, as `on_disconnected` does,
    /// for a receive side with no session (see `udp.rs`).
    pub(crate) fn hand_over_seen(&mut self) {
        self.publish();
        *self.shared.seen() = std::mem::take(&mut self.seqs).into_vec();
    }
}

impl Bot {
    /// What `on_recv` does, without the session: takes whole frames from `data` (see
    /// `frames.rs`), returns the bytes used and, if a frame was malformed or failed its
    /// checks, why to close.
    fn on_bytes(&mut self, data: &[u8], max_packet_size: usize) -> (usize, Option<CloseReason>) {
        take_frames(self, data, max_packet_size)
    }

    /// One frame of any kind: count it, decode it, dispatch it.
    pub(crate) fn on_frame(&mut self, id: u16, body: &[u8]) -> Result<(), CloseReason> {
        match self.shared.received.get(usize::from(id)) {
            Some(counter) => counter.incr(),
            None => self.shared.received_unknown.incr(),
        }
        match PacketManager::decode(id, body) {
            Ok(packet) => {
                packet.dispatch(self);
                Ok(())
            }
            Err(error) => {
                self.shared.decode_errors.incr();
                Err(CloseReason::ProtocolError(error))
            }
        }
    }

    /// Adds the tally to the shared counters. `on_recv` does it after every read; a receive
    /// side with no session (`udp.rs`) after every datagram.
    pub(crate) fn publish(&mut self) {
        let tally = std::mem::take(&mut self.tally);
        self.shared.received[usize::from(SBroadcastMove::ID)].add(tally.moves);
        self.shared.window_others.add(tally.others);
    }

    /// Bytes of whole frames received without a session (`udp.rs`).
    pub(crate) fn count_received_bytes(&self, bytes: usize) {
        self.shared.bytes_received.add(bytes as u64);
    }

    /// Window moves received so far, own echoes included, the unpublished tally too.
    fn window_received(&self) -> u64 {
        self.shared.window_received() + self.tally.others
    }

    /// One `S_BroadcastMove`, its position as raw bits. The common case, another bot's next
    /// window move, is a sequence check and a count; everything else is `on_move_rest`.
    /// Inlined into the move loop: as a call, its register saves and restores were a
    /// fifth of its time.
    #[inline(always)]
    fn on_move_bits(&mut self, player_id: i32, x: u32, y: u32, z: u32) {
        if y != moves::WINDOW_Y_BITS {
            // Outside the window (the ramp): only a logging-in bot looks at its own echo.
            if self.login.is_some() && Some(player_id) == self.player_id {
                self.on_own_place(x, y, z);
            }
            return;
        }
        let tag = moves::tag_of_bits(x, z);
        let seen = self.seqs.on_move(tag);
        if seen == Seen::Next && Some(player_id) != self.player_id && self.order.is_none() {
            self.tally.others += 1;
            return;
        }
        if self.login.is_some() && Some(player_id) == self.player_id {
            self.on_own_place(x, y, z);
        }
        self.on_move_rest(player_id, tag, seen);
    }

    /// The server echoed this bot's own move to (x, y, z) (raw bits): where its character
    /// is now, for the position check of its next login (see `login/place.rs`).
    #[inline(never)]
    fn on_own_place(&mut self, x: u32, y: u32, z: u32) {
        if let Some(login) = &mut self.login {
            login.echoed([f32::from_bits(x), f32::from_bits(y), f32::from_bits(z)]);
        }
    }

    #[inline(never)]
    fn on_move_rest(&mut self, player_id: i32, tag: Tag, seen: Seen) {
        let fresh = match seen {
            Seen::Next => true,
            Seen::First { skipped } => {
                self.shared.seq_head_skipped.add(u64::from(skipped));
                true
            }
            Seen::Gap { skipped } => {
                self.shared.seq_gaps.add(u64::from(skipped));
                true
            }
            Seen::Repeat => {
                self.shared.seq_repeats.incr();
                false
            }
            Seen::Foreign => {
                self.shared.seq_foreign.incr();
                false
            }
        };
        if Some(player_id) == self.player_id {
            self.shared.window_own.incr();
            // A repeated echo is counted as a repeat, and does not move the end of this
            // bot's receive interval (see `churn.rs`).
            if fresh {
                let now = u64::try_from(self.run.now_us()).unwrap_or(0);
                if let Some(rtt) = self.shared.move_clock.echoed(tag.seq, now) {
                    self.run.move_echo().record(rtt);
                }
                self.shared
                    .own_echo_seq
                    .set(u64::from(self.seqs.last(self.index)));
                self.shared.last_echo_mark.set(self.window_received());
                self.shared
                    .last_echo_repeats_mark
                    .set(self.shared.seq_repeats.get());
            }
        } else {
            self.tally.others += 1;
        }
        if fresh {
            if let Some(order) = &mut self.order {
                order.on_window_move(player_id);
            }
        }
    }
}

impl FrameReceiver for Bot {
    #[inline]
    fn move_frame(&mut self, player_id: i32, x: u32, y: u32, z: u32) {
        self.tally.moves += 1;
        self.on_move_bits(player_id, x, y, z);
    }

    fn other_frame(&mut self, id: u16, body: &[u8]) -> Result<(), CloseReason> {
        self.on_frame(id, body)
    }
}

impl SessionHandler for Bot {
    fn on_connected(&mut self, session: &Arc<Session>) {
        if let Some(login) = &mut self.login {
            login.on_connected(session);
        }
    }

    fn on_recv(&mut self, session: &Arc<Session>, data: &[u8]) -> usize {
        // A read of many moves (a flush batch is N moves) touches most senders' slots:
        // bring them in at once rather than one miss at a time. A move is 20 bytes and a
        // cache line holds 32 slots, so this pays off from about one move per 8 senders.
        if data.len() >= self.seqs.senders() * 5 / 2 {
            self.seqs.warm();
        }
        let (used, close) = self.on_bytes(data, session.max_packet_size());
        if let Some(reason) = close {
            if let CloseReason::ProtocolError(e) = &reason {
                tracing::debug!(session = session.id(), error = %e, "malformed frame");
            }
            session.disconnect(reason);
        }
        // Whole frames, the one that failed to decode (if any) included.
        self.shared.bytes_received.add(used as u64);
        self.publish();
        used
    }

    fn on_disconnected(&mut self, _session: &Arc<Session>, reason: &CloseReason) {
        self.publish();
        self.run.disconnected.fetch_add(1, Ordering::Relaxed);
        if let Some(order) = self.order.take() {
            let _ = self.shared.room_order.set(order);
        }
        *self.shared.seen() = std::mem::take(&mut self.seqs).into_vec();
        if let Some(chats) = self.chats.take() {
            *self.shared.chat_seen() = chats.into_vec();
        }
        if let Some(login) = &mut self.login {
            login.hand_over(&self.shared.login);
        }
        // A bot that is leaving on purpose (churn) is closed by the server after its
        // C_LeaveGame: that close is the plan, not an error. One whose login was refused
        // closed itself, and is counted as that refusal.
        let unexpected = !self.run.closing.load(Ordering::Acquire)
            && !self.shared.leaving.load(Ordering::Acquire)
            && !self.shared.login.refused();
        if unexpected {
            tracing::debug!(player_id = ?self.player_id, %reason, "bot disconnected");
        }
        let _ = self.shared.disconnect.set(Disconnect {
            label: reason.label(),
            detail: reason.to_string(),
            unexpected,
        });
    }
}

impl PacketHandler for Bot {
    fn on_s_broadcast_enter_game(&mut self, packet: SBroadcastEnterGame) {
        if Some(packet.player_id) == self.player_id {
            let _ = self.shared.enter_mark.set(self.window_received());
            let _ = self
                .shared
                .enter_repeats_mark
                .set(self.shared.seq_repeats.get());
        }
        if let Some(order) = &mut self.order {
            order.on_enter(packet.player_id);
        }
    }

    fn on_s_broadcast_leave_game(&mut self, _packet: SBroadcastLeaveGame) {}

    fn on_s_player_list(&mut self, packet: SPlayerList) {
        if let Some(login) = &mut self.login {
            if !login.logged_in() {
                // Before S_Login 0 the server took this connection for a guest (its logins
                // are off): not the bot's character. The refusal that follows counts it.
                return;
            }
        }
        // A room too big for one frame sends several lists, so the bot must be named exactly
        // once across all of them: a second naming is an error as soon as it comes, and never
        // being named leaves the bot outside the room, counted at the end.
        for me in packet.players.iter().filter(|p| p.is_self) {
            if self.player_id.is_none() {
                if let Some(login) = &mut self.login {
                    let at = [me.pos_x, me.pos_y, me.pos_z];
                    login.on_self(me.player_id, at, &self.shared.login);
                }
                self.player_id = Some(me.player_id);
                let _ = self.shared.player_id.set(me.player_id);
                self.shared.entered.store(true, Ordering::Release);
            } else {
                tracing::debug!(player_id = me.player_id, "named as self twice");
                self.shared.player_list_errors.incr();
            }
        }
    }

    fn on_s_broadcast_move(&mut self, packet: SBroadcastMove) {
        // `on_frame` reads moves itself; this is the table's way in, for completeness.
        self.on_move_bits(
            packet.player_id,
            packet.pos_x.to_bits(),
            packet.pos_y.to_bits(),
            packet.pos_z.to_bits(),
        );
    }

    fn on_s_chat(&mut self, packet: SChat) {
        self.shared.chat_received.incr();
        let Some((sender, seq)) = chat::parse(&packet.message) else {
            tracing::debug!(message = ?packet.message, "a chat line no bot sent");
            self.shared.chat_corrupt.incr();
            return;
        };
        let Some(chats) = &mut self.chats else {
            return;
        };
        match chats.on_line(sender, seq) {
            ChatSeen::Next => {
                if sender == self.index {
                    self.shared.own_chat_echo.set(u64::from(seq));
                }
            }
            ChatSeen::Gap { skipped } => {
                self.shared.chat_gaps.add(u64::from(skipped));
                if sender == self.index {
                    self.shared.own_chat_echo.set(u64::from(seq));
                }
            }
            ChatSeen::Repeat => self.shared.chat_repeats.incr(),
            ChatSeen::Foreign => self.shared.chat_foreign.incr(),
        }
    }

    fn on_s_udp_ticket(&mut self, packet: SUdpTicket) {
        // Kept for the driver's UDP side; a repeat (the bot asks once) changes nothing.
        let _ = self.shared.udp_ticket.set(packet);
    }

    fn on_s_udp_bound(&mut self, _packet: SUdpBound) {
        // Comes over UDP, to `udp.rs`; the server never sends it over TCP.
    }

    fn on_s_udp_challenge(&mut self, _packet: SUdpChallenge) {
        // Comes over UDP, to `udp.rs` (which echoes it); never over TCP.
    }

    // The course's room has no monsters (they live in world mode, checked by `world/`);
    // like the course's client, a room bot lets them pass.
    fn on_s_monster_spawn(&mut self, _packet: SMonsterSpawn) {}

    fn on_s_monster_move(&mut self, _packet: SMonsterMove) {}

    fn on_s_monster_despawn(&mut self, _packet: SMonsterDespawn) {}

    fn on_s_login(&mut self, packet: SLogin) {
        // A guest never sends C_Login, so the server never answers one (counted by id).
        if let Some(login) = &mut self.login {
            login.on_answer(&packet, &self.shared.login);
        }
    }

    fn on_s_pong(&mut self, packet: SPong) {
        let now = self.run.now_us();
        let pong = self.shared.pings().on_pong(packet.client_time, now);
        match pong {
            Pong::Answered { rtt_us } => {
                self.shared.pongs_answered.incr();
                self.run.latency().record(rtt_us);
            }
            Pong::Duplicate => self.shared.pong_duplicates.incr(),
            Pong::Unknown => self.shared.pong_unknown.incr(),
        }
    }
}

#[cfg(test)]
mod tests {
    use server_core::{Packet, ProtocolError};

    use super::*;
    use crate::frames::{take_frames_slowly, MOVE_HEADER};
    use crate::login::{BotNames, LoginRecord};
    use crate::packets::Player;

    fn bot() -> (Bot, Arc<BotShared>) {
        let shared = Arc::new(BotShared::new());
        let run = Arc::new(RunShared::new(Instant::now(), 1_000_000, 250_000, 16));
        (Bot::new(Arc::clone(&shared), run, 5, 0), shared)
    }

    fn player(id: i32, is_self: bool) -> Player {
        Player {
            is_self,
            player_id: id,
            ..Player::default()
        }
    }

    fn list(players: Vec<Player>) -> SPlayerList {
        SPlayerList { players }
    }

    fn frame_of<P: Packet>(packet: &P) -> Vec<u8> {
        packet.encode().map(|b| b.to_vec()).unwrap_or_default()
    }

    /// Window move number `seq` of the bot whose index equals its player id.
    fn window_move(player_id: i32, seq: u32) -> SBroadcastMove {
        let tag = moves::Tag::new(player_id as usize, seq);
        let m = moves::random_move(&mut rand::thread_rng(), Some(tag));
        SBroadcastMove {
            player_id,
            pos_x: m.pos_x,
            pos_y: m.pos_y,
            pos_z: m.pos_z,
        }
    }

    #[test]
    fn a_list_naming_the_bot_once_enters_it() {
        let (mut b, shared) = bot();
        assert!(!shared.entered());
        b.on_s_player_list(list(vec![player(1, false), player(7, true)]));
        assert!(shared.entered());
        assert_eq!(b.player_id, Some(7));
        assert_eq!(shared.errors(), 0);
    }

    #[test]
    fn a_big_room_may_send_several_lists_but_names_the_bot_once() {
        let (mut b, shared) = bot();
        b.on_s_player_list(list(vec![player(1, false), player(2, false)]));
        assert!(!shared.entered(), "not named yet");
        b.on_s_player_list(list(vec![player(3, true)]));
        assert!(shared.entered());
        assert_eq!(shared.player_list_errors.get(), 0);
    }

    #[test]
    fn being_named_twice_is_an_error() {
        let (mut b, shared) = bot();
        b.on_s_player_list(list(vec![player(1, true), player(2, true)]));
        assert_eq!(shared.player_list_errors.get(), 1, "two selves in one list");
        b.on_s_player_list(list(vec![player(1, true)]));
        assert_eq!(shared.player_list_errors.get(), 2, "a self in a later list");
        assert_eq!(b.player_id, Some(1), "the first naming stands");
    }

    #[test]
    fn a_logging_in_bot_enters_after_its_login_only_and_keeps_its_last_echo() {
        let shared = Arc::new(BotShared::new());
        let run = Arc::new(RunShared::new(Instant::now(), 1_000_000, 250_000, 16));
        let record = Arc::new(LoginRecord::new());
        let names = BotNames::new("Bot", 16).unwrap_or_else(|e| panic!("{e}"));
        let mut login = LoginSide::new(&names, 5, Arc::clone(&record));
        login.start_for_test();
        let mut b = Bot::new(Arc::clone(&shared), run, 5, 0).logging_in(login);
        let me = |x: f32| Player {
            is_self: true,
            player_id: 7,
            pos_x: x,
            ..Player::default()
        };

        b.on_s_player_list(list(vec![me(1.0)]));
        assert!(!shared.entered(), "a list before S_Login 0 is a guest's");
        b.on_s_login(SLogin {
            result: 0,
            player_id: 7,
            retry_after_ms: 0,
            token: "t5".into(),
        });
        assert_eq!(shared.login.player_id.get(), Some(&7));
        assert_eq!(
            record.token(5).as_deref(),
            Some("t5"),
            "kept for the bot's next login"
        );
        b.on_s_player_list(list(vec![me(2.0)]));
        assert!(shared.entered(), "in once logged in");
        assert_eq!(shared.login.entered_at.get(), Some(&[2.0, 0.0, 0.0]));

        // An echo outside the window, then one inside it, then another player's move.
        let plain = SBroadcastMove {
            player_id: 7,
            pos_x: 3.0,
            pos_y: 0.0,
            pos_z: 4.0,
        };
        b.on_s_broadcast_move(plain);
        let window = SBroadcastMove {
            player_id: 7,
            ..window_move(5, 1)
        };
        b.on_s_broadcast_move(window.clone());
        b.on_s_broadcast_move(window_move(6, 1));
        if let Some(login) = &mut b.login {
            login.hand_over(&shared.login);
        }
        assert_eq!(
            shared.login.last_echo.get(),
            Some(&Some([window.pos_x, window.pos_y, window.pos_z])),
            "the last own echo is where the character is"
        );
        let report = record.report("Bot");
        assert_eq!((report.logged_in, report.wrong_player_id), (1, 0));
    }

    #[test]
    fn a_refused_login_or_a_list_naming_another_player_is_counted() {
        let record = Arc::new(LoginRecord::new());
        let names = BotNames::new("Bot", 16).unwrap_or_else(|e| panic!("{e}"));
        let bot = || {
            let shared = Arc::new(BotShared::new());
            let run = Arc::new(RunShared::new(Instant::now(), 1_000_000, 250_000, 16));
            let mut login = LoginSide::new(&names, 1, Arc::clone(&record));
            login.start_for_test();
            (
                Bot::new(Arc::clone(&shared), run, 1, 0).logging_in(login),
                shared,
            )
        };
        let answer = |result, player_id| SLogin {
            result,
            player_id,
            retry_after_ms: 0,
            token: String::new(),
        };
        let (mut b, shared) = bot();
        b.on_s_login(answer(8, 0));
        assert!(shared.login.refused(), "logins off: given up");
        let (mut b, shared) = bot();
        b.on_s_login(answer(0, 3));
        b.on_s_player_list(list(vec![player(4, true)]));
        assert!(shared.entered(), "the list is the room's word");
        let report = record.report("Bot");
        assert_eq!((report.refused, report.wrong_player_id), (1, 1));
    }

    #[test]
    fn an_own_window_echo_times_the_move_and_others_do_not() {
        let (mut b, shared) = bot();
        b.on_s_player_list(list(vec![player(5, true)]));
        shared.move_clock.sent(1, 0);
        shared.move_clock.sent(2, 0);
        b.on_s_broadcast_move(window_move(6, 1));
        assert_eq!(b.run.move_echo().summary().samples, 0, "not its own move");
        b.on_s_broadcast_move(window_move(5, 1));
        b.on_s_broadcast_move(window_move(5, 1));
        let echo = b.run.move_echo().summary();
        assert_eq!(
            echo.samples, 1,
            "its own echo, once: the repeat is not timed"
        );
        assert!(echo.max_us > 0, "from the stamp at time 0 to now");
    }

    #[test]
    fn window_moves_are_counted_as_own_or_others_and_the_rest_ignored() {
        let (mut b, shared) = bot();
        b.on_s_player_list(list(vec![player(5, true)]));
        b.on_s_broadcast_move(window_move(5, 1));
        b.on_s_broadcast_move(window_move(6, 1));
        b.on_s_broadcast_move(window_move(7, 1));
        b.on_s_broadcast_move(SBroadcastMove {
            pos_y: 0.0,
            ..window_move(6, 2)
        });
        b.publish();
        assert_eq!(shared.window_own.get(), 1);
        assert_eq!(
            shared.window_others.get(),
            2,
            "the unmarked move is not counted"
        );
    }

    #[test]
    fn marks_bound_the_receive_interval_and_the_reference_records_the_order() {
        let shared = Arc::new(BotShared::new());
        let run = Arc::new(RunShared::new(Instant::now(), 1_000_000, 250_000, 16));
        let mut b = Bot::new(Arc::clone(&shared), run, 5, 0).recording_room_order();
        b.on_s_player_list(list(vec![player(1, false), player(5, true)]));
        b.on_s_broadcast_move(window_move(1, 1));
        b.on_s_broadcast_enter_game(SBroadcastEnterGame {
            player_id: 5,
            ..SBroadcastEnterGame::default()
        });
        b.on_s_broadcast_move(window_move(1, 2));
        b.on_s_broadcast_move(window_move(5, 1));
        b.on_s_broadcast_move(window_move(1, 3));
        assert_eq!(
            shared.enter_mark.get(),
            Some(&1),
            "one window move came before its own enter broadcast"
        );
        assert_eq!(
            shared.last_echo_mark.get(),
            3,
            "its own echo was the third window move it received"
        );
        assert!(
            shared.room_order.get().is_none(),
            "handed over only at the end"
        );
        assert_eq!(shared.player_id.get(), Some(&5));
    }

    #[test]
    fn each_senders_sequence_is_checked_on_the_way_in() {
        let (mut b, shared) = bot();
        b.on_s_player_list(list(vec![player(5, true)]));
        b.on_s_broadcast_move(window_move(3, 2)); // 1 came before
        b.on_s_broadcast_move(window_move(3, 3));
        b.on_s_broadcast_move(window_move(3, 6)); // 4 and 5 jumped over
        b.on_s_broadcast_move(window_move(3, 6)); // again
        b.on_s_broadcast_move(window_move(5, 1));
        b.on_s_broadcast_move(window_move(5, 1)); // own echo again
        b.on_s_broadcast_move(window_move(40, 1)); // no bot 40 in a run of 16
        assert_eq!(shared.seq_head_skipped.get(), 1);
        assert_eq!(shared.seq_gaps.get(), 2);
        assert_eq!(shared.seq_repeats.get(), 2);
        assert_eq!(shared.seq_foreign.get(), 1);
        assert_eq!(shared.own_echo_seq.get(), 1);
        assert_eq!(
            shared.last_echo_mark.get(),
            5,
            "the echo was the fifth window move; its repeat does not move the mark"
        );
        assert_eq!(shared.last_echo_repeats_mark.get(), 1);
        assert!(shared.seen().is_empty(), "handed over only at the end");
    }

    #[test]
    fn frames_are_counted_by_id_and_decoded() {
        let (mut b, shared) = bot();
        let mut stream = frame_of(&window_move(9, 1));
        stream.extend(frame_of(&SPong { client_time: 0 }));
        stream.extend(&frame_of(&window_move(9, 2))[..7]);
        assert_eq!(
            b.on_bytes(&stream, 4096),
            (32, None),
            "the partial move waits"
        );
        assert_eq!(
            shared.received[usize::from(SPong::ID)].get(),
            1,
            "other ids count at once"
        );
        assert_eq!(
            shared.received[usize::from(SBroadcastMove::ID)].get(),
            0,
            "moves are tallied, not yet published"
        );
        assert_eq!(b.window_received(), 1, "the marks see the tally");
        b.publish();
        assert_eq!(shared.received[usize::from(SBroadcastMove::ID)].get(), 1);
        assert_eq!(shared.window_others.get(), 1);
    }

    /// `on_bytes` with the move loop turned off: the filter and the decoder for every frame.
    fn generic(b: &mut Bot, data: &[u8], max: usize) -> (usize, Option<CloseReason>) {
        take_frames_slowly(b, data, max)
    }

    fn counts(b: &mut Bot) -> Vec<u64> {
        b.publish();
        let s = &b.shared;
        let mut out: Vec<u64> = s.received.iter().map(Counter::get).collect();
        out.extend(
            [
                &s.received_unknown,
                &s.window_own,
                &s.window_others,
                &s.seq_head_skipped,
                &s.seq_gaps,
                &s.seq_repeats,
                &s.seq_foreign,
                &s.own_echo_seq,
                &s.decode_errors,
                &s.pong_unknown,
            ]
            .map(Counter::get),
        );
        out
    }

    /// One piece of a received stream: moves of every kind, other frames, garbage.
    fn piece() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (0i32..20, 1u32..6).prop_map(|(who, seq)| frame_of(&window_move(who, seq))),
            1 => any::<[u8; 16]>().prop_map(|body| {
                let mut f = MOVE_HEADER.to_le_bytes().to_vec();
                f.extend(body);
                f
            }),
            1 => (0usize..24).prop_map(|extra| {
                let mut f = frame_of(&window_move(3, 1));
                f.extend(std::iter::repeat_n(7u8, extra));
                f[..2].copy_from_slice(&((20 + extra) as u16).to_le_bytes());
                f
            }),
            1 => any::<i64>().prop_map(|t| frame_of(&SPong { client_time: t })),
            1 => proptest::collection::vec(any::<u8>(), 0..8),
        ]
    }

    proptest::proptest! {
        #[test]
        fn the_move_loop_decides_exactly_as_the_filter_and_the_decoder(
            pieces in proptest::collection::vec(piece(), 0..40),
            cut in 0usize..2000,
            max in proptest::prop_oneof![proptest::strategy::Just(4096usize), 4usize..40],
        ) {
            let stream: Vec<u8> = pieces.concat();
            let stream = &stream[..cut.min(stream.len())];
            let (mut fast, _) = bot();
            let (mut slow, _) = bot();
            for b in [&mut fast, &mut slow] {
                b.on_s_player_list(list(vec![player(5, true)]));
            }
            let got = fast.on_bytes(stream, max);
            let want = generic(&mut slow, stream, max);
            proptest::prop_assert_eq!(&got, &want);
            proptest::prop_assert_eq!(counts(&mut fast), counts(&mut slow));
            proptest::prop_assert_eq!(fast.seqs.clone().into_vec(), slow.seqs.clone().into_vec());
        }
    }

    #[test]
    fn an_undecodable_frame_is_an_error_that_closes_the_session() {
        let (mut b, shared) = bot();
        let frame = frame_of(&window_move(9, 1));
        let truncated = &frame[4..frame.len() - 1];
        match b.on_frame(SBroadcastMove::ID, truncated) {
            Err(CloseReason::ProtocolError(ProtocolError::Decode { .. })) => {}
            other => panic!("a truncated S_BroadcastMove should close the session, got {other:?}"),
        }
        assert!(matches!(
            b.on_frame(999, &[]),
            Err(CloseReason::ProtocolError(ProtocolError::UnknownPacketId {
                id: 999
            }))
        ));
        assert_eq!(shared.decode_errors.get(), 2);
        assert_eq!(shared.received_unknown.get(), 1);
        assert_eq!(shared.frames_received(), 2);
    }

    #[test]
    fn pongs_are_matched_to_pings_and_bogus_ones_counted_by_kind() {
        let (mut b, shared) = bot();
        let sent = shared.pings().on_ping(b.run.now_us());
        shared.pings_sent.incr();
        b.on_s_pong(SPong { client_time: sent });
        assert_eq!(b.run.latency().summary().samples, 1);
        assert_eq!(shared.pongs_answered.get(), 1);
        assert_eq!(shared.pongs_outstanding(), 0);

        b.on_s_pong(SPong { client_time: sent });
        assert_eq!(shared.pong_duplicates.get(), 1, "answered twice");
        // Times this bot never sent, i64::MIN included: `now - client_time` used to overflow
        // there (a panic in debug builds, seen as a disconnect).
        for client_time in [i64::MIN, -1, sent + 1, sent + 3_600_000_000, i64::MAX] {
            b.on_s_pong(SPong { client_time });
        }
        assert_eq!(shared.pong_unknown.get(), 5);
        assert_eq!(
            b.run.latency().summary().samples,
            1,
            "only the real answer is a sample"
        );
        assert_eq!(shared.errors(), 6);

        shared.pings().on_ping(b.run.now_us());
        shared.pings_sent.incr();
        assert_eq!(shared.pongs_outstanding(), 1, "not answered yet");
    }
}
