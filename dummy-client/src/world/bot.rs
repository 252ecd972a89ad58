//! `WorldBot`: one bot's session in world mode. It decodes what the server sends and feeds
//! its [`Checker`]; the driver walks it and reads its results.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use hdrhistogram::Histogram;
use server_core::{CloseReason, PacketSession, Session};

use crate::packets::{
    PacketHandler, PacketManager, SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove, SChat,
    SPlayerList, SPong, SUdpBound, SUdpChallenge, SUdpTicket,
};
use crate::world::checker::Checker;

/// What every world bot shares with the driver.
#[derive(Debug)]
pub struct Shared {
    /// Origin of the ping clock.
    pub start: Instant,
    /// Frames received by all bots: the drain waits for it to stop moving.
    pub frames: AtomicU64,
    /// Round trips in microseconds. A std mutex held to record one value.
    pub rtt: Mutex<Histogram<u64>>,
    /// Move round trips (`C_Move` to the bot's own `S_BroadcastMove`, so a tick included),
    /// in microseconds.
    pub echo: Mutex<Histogram<u64>>,
    /// Set when the driver starts closing the bots.
    pub closing: AtomicBool,
    /// Round trips of the first move after a region crossing (the new owner's first
    /// echo), in microseconds: the hand-off's cost as a player feels it.
    pub handoff_echo: Mutex<Histogram<u64>>,
    /// Sender to receiver delivery times of moves, in microseconds: `[same, other]` for a
    /// sender connected to the same server as the receiver, or to another (a cluster:
    /// another process). Recorded only when the run has several servers.
    pub delivery: [Mutex<Histogram<u64>>; 2],
    /// Player id -> the sending bot's state, set by the driver once every bot entered, for
    /// the delivery times (only with several servers).
    pub senders: OnceLock<HashMap<i32, Arc<BotState>>>,
}

impl Shared {
    /// A fresh run.
    pub fn new() -> Self {
        Shared {
            start: Instant::now(),
            frames: AtomicU64::new(0),
            rtt: Mutex::new(histogram()),
            echo: Mutex::new(histogram()),
            closing: AtomicBool::new(false),
            handoff_echo: Mutex::new(histogram()),
            delivery: [Mutex::new(histogram()), Mutex::new(histogram())],
            senders: OnceLock::new(),
        }
    }

    /// The hand-off round-trip histogram.
    pub fn handoff_echo(&self) -> MutexGuard<'_, Histogram<u64>> {
        self.handoff_echo.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The delivery histogram: same server (`false`) or another (`true`).
    pub fn delivery(&self, cross: bool) -> MutexGuard<'_, Histogram<u64>> {
        self.delivery[usize::from(cross)]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Microseconds since the run started.
    pub fn now_us(&self) -> i64 {
        i64::try_from(self.start.elapsed().as_micros()).unwrap_or(i64::MAX)
    }

    /// The round-trip histogram.
    pub fn rtt(&self) -> MutexGuard<'_, Histogram<u64>> {
        self.rtt.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The move round-trip histogram.
    pub fn echo(&self) -> MutexGuard<'_, Histogram<u64>> {
        self.echo.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant histogram bounds are valid")
}

/// Moves whose send time a bot remembers, for its move round trip: 4 s at 4 moves a second.
const SENT_SLOTS: usize = 16;

impl Default for Shared {
    fn default() -> Self {
        Shared::new()
    }
}

/// One bot's state shared with the driver.
#[derive(Debug)]
pub struct BotState {
    /// (player id, spawn x, spawn z), once its `S_PlayerList` came.
    pub entered: OnceLock<(i32, f32, f32)>,
    /// Where the driver last walked it: x and z as f32 bits, written by the driver, read on
    /// every frame to check distances.
    pub pos: AtomicU64,
    /// Its receive-side checks. Locked by its session per frame and by the driver at the end.
    pub checker: Mutex<Checker>,
    /// Why its session ended, if it did before the driver closed it.
    pub lost: OnceLock<String>,
    /// Send times of its latest moves: slot `seq % 16` holds `seq << 40 | micros since the
    /// run started`, so an echo finds its own move's time or sees it was overwritten.
    sent: [AtomicU64; SENT_SLOTS],
    /// Which server it is connected to (index in the run's address list).
    pub server: AtomicU32,
    /// The sequence number of the first move after its latest region crossing (0: none):
    /// its echo is a hand-off round trip.
    pub handoff_probe: AtomicU32,
}

impl BotState {
    /// A bot that flags frames from farther than `far`.
    pub fn new(far: f32) -> Self {
        BotState {
            entered: OnceLock::new(),
            pos: AtomicU64::new(0),
            checker: Mutex::new(Checker::new(far)),
            lost: OnceLock::new(),
            sent: std::array::from_fn(|_| AtomicU64::new(u64::MAX)),
            server: AtomicU32::new(0),
            handoff_probe: AtomicU32::new(0),
        }
    }

    /// Notes when move `seq` was sent (micros since the run started).
    pub fn sent(&self, seq: u32, at_us: u64) {
        let slot = &self.sent[seq as usize % SENT_SLOTS];
        slot.store(
            (u64::from(seq) << 40) | (at_us & ((1 << 40) - 1)),
            Ordering::Release,
        );
    }

    /// When move `seq` was sent, if still remembered.
    fn sent_at(&self, seq: u32) -> Option<u64> {
        let v = self.sent[seq as usize % SENT_SLOTS].load(Ordering::Acquire);
        (v != u64::MAX && v >> 40 == u64::from(seq)).then_some(v & ((1 << 40) - 1))
    }

    /// Records where the bot is.
    pub fn set_pos(&self, x: f32, z: f32) {
        self.pos.store(
            (u64::from(x.to_bits()) << 32) | u64::from(z.to_bits()),
            Ordering::Release,
        );
    }

    /// Where the bot is.
    pub fn pos(&self) -> (f32, f32) {
        let bits = self.pos.load(Ordering::Acquire);
        (
            f32::from_bits((bits >> 32) as u32),
            f32::from_bits(bits as u32),
        )
    }

    /// The checker.
    pub fn checker(&self) -> MutexGuard<'_, Checker> {
        self.checker.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The `PacketSession` of one world bot.
pub struct WorldBot {
    pub(crate) state: Arc<BotState>,
    pub(crate) shared: Arc<Shared>,
}

impl PacketSession for WorldBot {
    fn on_recv_packet(
        &mut self,
        _session: &Arc<Session>,
        id: u16,
        body: &[u8],
    ) -> Result<(), CloseReason> {
        self.shared.frames.fetch_add(1, Ordering::Relaxed);
        PacketManager::dispatch(id, body, self).map_err(CloseReason::from)
    }

    fn on_disconnected(&mut self, _session: &Arc<Session>, reason: &CloseReason) {
        if !self.shared.closing.load(Ordering::Acquire) {
            let _ = self.state.lost.set(reason.to_string());
        }
    }
}

impl PacketHandler for WorldBot {
    // World-mode bots never ask for UDP (the server's UDP is room-mode only).
    fn on_s_udp_ticket(&mut self, _p: SUdpTicket) {}

    fn on_s_udp_bound(&mut self, _p: SUdpBound) {}

    fn on_s_udp_challenge(&mut self, _p: SUdpChallenge) {}

    fn on_s_broadcast_enter_game(&mut self, p: SBroadcastEnterGame) {
        let at = self.state.pos();
        self.state
            .checker()
            .on_enter(p.player_id, p.pos_x, p.pos_y, p.pos_z, at);
    }

    fn on_s_broadcast_leave_game(&mut self, p: SBroadcastLeaveGame) {
        self.state.checker().on_leave(p.player_id);
    }

    fn on_s_player_list(&mut self, p: SPlayerList) {
        let players: Vec<_> = p
            .players
            .iter()
            .map(|p| (p.player_id, p.is_self, p.pos_x, p.pos_y, p.pos_z))
            .collect();
        // Where it spawned is where it is, before the list's distances are checked.
        if let Some(me) = players.iter().find(|p| p.1) {
            self.state.set_pos(me.2, me.4);
        }
        if let Some(entered) = self.state.checker().on_list(&players) {
            let _ = self.state.entered.set(entered);
        }
    }

    fn on_s_broadcast_move(&mut self, p: SBroadcastMove) {
        let mine = self.state.checker().me() == Some(p.player_id);
        if mine && p.pos_y.fract() == 0.0 {
            if let Some(sent) = self.state.sent_at(p.pos_y as u32) {
                let now = u64::try_from(self.shared.now_us()).unwrap_or(0);
                let took = now.saturating_sub(sent).clamp(1, 60_000_000);
                let _ = self.shared.echo().record(took);
                if self.state.handoff_probe.load(Ordering::Relaxed) == p.pos_y as u32 {
                    let _ = self.shared.handoff_echo().record(took);
                }
            }
        } else if p.pos_y.fract() == 0.0 && p.pos_y >= 1.0 {
            let sender = self.shared.senders.get().and_then(|s| s.get(&p.player_id));
            if let Some(sender) = sender {
                if let Some(sent) = sender.sent_at(p.pos_y as u32) {
                    let now = u64::try_from(self.shared.now_us()).unwrap_or(0);
                    let cross = sender.server.load(Ordering::Relaxed)
                        != self.state.server.load(Ordering::Relaxed);
                    let _ = self
                        .shared
                        .delivery(cross)
                        .record(now.saturating_sub(sent).clamp(1, 60_000_000));
                }
            }
        }
        let at = self.state.pos();
        self.state
            .checker()
            .on_move(p.player_id, p.pos_x, p.pos_y, p.pos_z, at);
    }

    fn on_s_chat(&mut self, _p: SChat) {}

    fn on_s_pong(&mut self, p: SPong) {
        if let Ok(rtt) = u64::try_from(self.shared.now_us() - p.client_time) {
            let _ = self.shared.rtt().record(rtt.clamp(1, 60_000_000));
        }
    }
}
