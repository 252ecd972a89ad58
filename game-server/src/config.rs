//! The game server's settings: the networking core's plus the room's.

use std::time::Duration;

use crate::rate_limit::Rate;
use crate::world::WorldConfig;

/// Everything [`GameServer::start`](crate::GameServer::start) needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Sockets, limits and timeouts of the networking core. The game server's default lowers
    /// `max_packet_size` to 4 KiB: no client packet comes near it, and a smaller cap is a
    /// smaller target.
    pub net: server_core::Config,
    /// How often the room flushes its pending broadcasts. Default 250 ms, the course's.
    pub tick: Duration,
    /// Input jobs (moves, chat) the room's queue holds before new ones are dropped. Default
    /// 65,536.
    pub room_queue_capacity: usize,
    /// Pending broadcast bytes that make the room flush before the tick. Default 1 MiB.
    pub max_pending_bytes: usize,
    /// Longest chat message, in characters; longer ones are dropped. Default 200.
    pub chat_max_chars: usize,
    /// How often the one-line summary is logged at info level; `None` for never.
    /// Default 5 s.
    pub stats_interval: Option<Duration>,
    /// Moves one player may send. The course's client moves 4 times a second; the default,
    /// 30 a second with bursts of 60, leaves room for clients that move every frame. Moves over
    /// the limit are dropped and counted.
    pub move_rate: Rate,
    /// Chat lines one player may send. Default 2 a second, bursts of 10; over it, dropped.
    pub chat_rate: Rate,
    /// `Some` for world mode (regions and area of interest, `--world grid`); `None`, the
    /// default, for the course's one room.
    pub world: Option<WorldConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            net: server_core::Config {
                max_packet_size: 4096,
                ..server_core::Config::default()
            },
            tick: Duration::from_millis(250),
            room_queue_capacity: 65_536,
            max_pending_bytes: 1024 * 1024,
            chat_max_chars: 200,
            stats_interval: Some(Duration::from_secs(5)),
            move_rate: Rate {
                per_sec: 30.0,
                burst: 60.0,
            },
            chat_rate: Rate {
                per_sec: 2.0,
                burst: 10.0,
            },
            world: None,
        }
    }
}
