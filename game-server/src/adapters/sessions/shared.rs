//! What every client session shares, over TCP, TLS or UDP: the game's seat maker, the limits,
//! the counters. Its own file so that both transports' sessions import it and neither
//! imports the other.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crate::adapters::metrics::SessionMetrics;
use crate::adapters::sessions::login::Accounts;
use crate::adapters::sessions::udp::link::UdpLink;
use crate::adapters::sessions::udp::stats::UdpGameStats;
use crate::adapters::sessions::udp::tickets::Tickets;
use crate::game::counters::ServerStats;
use crate::game::input_gate::Meters;
use crate::game::log_budget::LogBudget;
use crate::game::rate_limit::Rate;
use crate::game::session_manager::SessionManager;
use crate::runtime::seat::Game;

/// What every client session shares.
pub(crate) struct Shared {
    pub sessions: SessionManager,
    /// The room, or the world (`--world grid`).
    pub game: Game,
    pub stats: Arc<ServerStats>,
    pub metrics: Arc<SessionMetrics>,
    pub chat_max_chars: usize,
    pub move_rate: Rate,
    pub chat_rate: Rate,
    pub refused_input_limit: Rate,
    /// Per-session log lines (connected, disconnected) draw from this.
    pub peer_log: LogBudget,
    pub started: Instant,
    /// Moves over UDP (`--udp-addr`); `None` when off.
    pub udp: Option<UdpShared>,
    /// Logins and saved characters; `None` with `--login off`.
    pub accounts: Option<Arc<Accounts>>,
}

impl Shared {
    pub fn meters(&self) -> Meters<'_> {
        Meters {
            stats: &self.stats,
            rate_limited: &self.metrics.rate_limited,
            started: self.started,
        }
    }
}

/// Counts an input dropped because the room's queue is full, and says so at most once a
/// second. For both transports.
pub(crate) fn drop_full_input(shared: &Shared) {
    let dropped = shared.stats.inputs_dropped.fetch_add(1, Ordering::Relaxed) + 1;
    if shared.stats.warn_once_a_second(shared.started) {
        tracing::warn!(
            dropped_total = dropped,
            "room input queue full: dropping player input"
        );
    }
}

/// What every UDP session shares: the tickets the TCP sessions hand out, and counters.
pub(crate) struct UdpShared {
    pub tickets: Tickets<Arc<UdpLink>>,
    pub stats: Arc<UdpGameStats>,
    pub max_bad_tokens: u32,
    /// The UDP port, sent in `S_UdpTicket`.
    pub port: u16,
}
