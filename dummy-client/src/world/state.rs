//! What the world-mode driver and bots share: the run's [`Shared`] state, each bot's
//! [`BotState`], and the [`Senders`] table of a run with several servers.
//!
//! Everything here is touched by several tasks, so it is atomics, once-set cells and the
//! one mutex of the timing histograms (locked once per batch of a bot's samples); what only
//! a bot's own session touches lives in its handler (`bot.rs`).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use crate::counter::Counter;
use crate::login::LoginShared;
use crate::world::checker::Checker;
use crate::world::parked::Parked;
use crate::world::senders::SenderIndex;
use crate::world::timings::Timings;

/// What every world bot shares with the driver.
#[derive(Debug)]
pub struct Shared {
    /// Origin of the ping clock.
    pub start: Instant,
    /// Set when the driver starts closing the bots.
    pub closing: AtomicBool,
    /// Round trips, move echoes, hand-offs and delivery times, in microseconds. Each bot
    /// adds its samples in batches (see `timings.rs`), so this is locked once per 32
    /// samples of a bot, and by the driver once at the end.
    timings: Mutex<Timings>,
    /// The sending bots by player id, set by the driver once every bot entered, for the
    /// delivery times (only with several servers).
    pub senders: OnceLock<Senders>,
    /// With churn: the bots whose connection is down, set by the driver once every bot
    /// entered, for the checks of their watchers (see `parked.rs`).
    pub(crate) parked: OnceLock<Parked>,
}

impl Shared {
    /// A fresh run.
    pub fn new() -> Self {
        Shared {
            start: Instant::now(),
            closing: AtomicBool::new(false),
            timings: Mutex::new(Timings::new()),
            senders: OnceLock::new(),
            parked: OnceLock::new(),
        }
    }

    /// The timing histograms.
    pub(crate) fn timings(&self) -> MutexGuard<'_, Timings> {
        // Adding samples cannot leave a histogram half-updated in a way that matters for a
        // report, so a poisoned lock is used as is.
        self.timings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Microseconds since the run started.
    pub fn now_us(&self) -> i64 {
        i64::try_from(self.start.elapsed().as_micros()).unwrap_or(i64::MAX)
    }
}

impl Default for Shared {
    fn default() -> Self {
        Shared::new()
    }
}

/// The bots a move may come from, by player id: which server each is on and when it sent
/// each move.
#[derive(Debug)]
pub struct Senders {
    index: SenderIndex,
    states: Vec<Arc<BotState>>,
}

impl Senders {
    /// `(player id, bot index)` of every sender, over `states` (indexed by bot).
    pub(crate) fn new(
        ids: impl IntoIterator<Item = (i32, usize)>,
        states: Vec<Arc<BotState>>,
    ) -> Senders {
        Senders {
            index: SenderIndex::new(ids),
            states,
        }
    }

    /// The bot whose player id is `player_id`, if any.
    pub(crate) fn get(&self, player_id: i32) -> Option<&BotState> {
        self.index
            .get(player_id)
            .and_then(|bot| self.states.get(bot))
            .map(|s| &**s)
    }
}

/// Moves whose send time a bot remembers, for its move round trip: 4 s at 4 moves a second.
const SENT_SLOTS: usize = 16;

/// One bot connection's state shared with the driver. A bot has one per connection: a churn
/// rejoin gets a new one, and the driver keeps the old (see `driver/churn.rs`).
#[derive(Debug)]
pub struct BotState {
    /// (player id, spawn x, spawn z), once its `S_PlayerList` came.
    pub entered: OnceLock<(i32, f32, f32)>,
    /// Where the driver last walked it: x and z as f32 bits, written by the driver, read on
    /// every frame to check distances.
    pub pos: AtomicU64,
    /// Its receive-side checks, handed over by its session when it ends (see the module
    /// doc). Empty for a bot that never connected.
    pub checker: OnceLock<Checker>,
    /// Why its session ended, if it did before the driver closed it.
    pub lost: OnceLock<String>,
    /// Set by the driver just before it drops this connection on purpose (churn), so that
    /// its end is not counted as a lost session.
    pub(crate) dropped: AtomicBool,
    /// Send times of its latest moves: slot `seq % 16` holds `seq << 40 | micros since the
    /// run started`, so an echo finds its own move's time or sees it was overwritten.
    sent: [AtomicU64; SENT_SLOTS],
    /// Which server it is connected to (index in the run's address list).
    pub server: AtomicU32,
    /// The sequence number of the first move after its latest region crossing (0: none):
    /// its echo is a hand-off round trip.
    pub handoff_probe: AtomicU32,
    /// Frames received. Written by its session's task once per read (see [`Counter`]);
    /// the drain watches the sum over bots stop moving.
    pub(crate) frames: Counter,
    /// Other players come into view, as its checker counts them, published once per read.
    pub(crate) spawns: Counter,
    /// Other players gone out of view, likewise.
    pub(crate) despawns: Counter,
    /// Its login, with `--login` (see `login/`).
    pub(crate) login: LoginShared,
}

impl BotState {
    /// A bot that has received nothing.
    pub fn new() -> Self {
        BotState {
            entered: OnceLock::new(),
            pos: AtomicU64::new(0),
            checker: OnceLock::new(),
            lost: OnceLock::new(),
            dropped: AtomicBool::new(false),
            sent: std::array::from_fn(|_| AtomicU64::new(u64::MAX)),
            server: AtomicU32::new(0),
            handoff_probe: AtomicU32::new(0),
            frames: Counter::default(),
            spawns: Counter::default(),
            despawns: Counter::default(),
            login: LoginShared::default(),
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
    pub(crate) fn sent_at(&self, seq: u32) -> Option<u64> {
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
}

impl Default for BotState {
    fn default() -> Self {
        BotState::new()
    }
}
