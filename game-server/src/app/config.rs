//! The game server's settings: the networking core's plus the room's.

use std::sync::Arc;
use std::time::Duration;

use crate::adapters::admin::AdminConfig;
use crate::adapters::cluster::{ClusterConfig, ClusterConfigError};
use crate::adapters::db::Store;
use crate::adapters::sessions::udp::UdpSettings;
use crate::game::accounts::LoginMode;
use crate::game::data::GameData;
use crate::game::outbox::PLAYERS_PER_LIST;
use crate::game::rate_limit::Rate;
use crate::game::saves::SaveConfig;
use crate::game::world::{WorldConfig, WorldConfigError};

/// Bytes one player takes in `S_PlayerList` (isSelf, playerId, posX, posY, posZ).
const PLAYER_LIST_ENTRY: usize = 1 + 4 + 4 * 3;
/// Header and element count of one `S_PlayerList` frame.
const PLAYER_LIST_OVERHEAD: usize = server_core::frame::HEADER_SIZE + 2;
/// Header, player id and string length of an `S_Chat` frame.
const CHAT_OVERHEAD: usize = server_core::frame::HEADER_SIZE + 4 + 2;
/// Largest broadcast other than chat (`S_BroadcastMove`, `S_BroadcastEnterGame`).
const LARGEST_FIXED_BROADCAST: usize = server_core::frame::HEADER_SIZE + 4 * 4;

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
    /// Pending broadcast bytes that make the room flush before the tick. Default 1 MiB. The
    /// send queue limit must hold two such batches (see [`ServerConfig::validate`]).
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
    /// Refused inputs (over a rate limit, or a chat line over the length limit) a player may
    /// send before it is closed: each refusal takes a token, and a refusal that finds none
    /// closes the session (`ApplicationError`). Default 10 a second, bursts of 100: a client
    /// that now and then goes over a limit is never closed; one that keeps sending what is
    /// refused (a flood, or moves at twice the move rate for about five seconds) is.
    pub refused_input_limit: Rate,
    /// The admin endpoint (metrics, health, live map); `None` (the default) for none.
    pub admin: Option<AdminConfig>,
    /// `Some` for world mode (regions and area of interest, `--world grid`); `None`, the
    /// default, for the course's one room.
    pub world: Option<WorldConfig>,
    /// World mode's game data (monsters, skills, spawn areas), checked; `None` for a world
    /// with players only. Default `None`.
    pub game_data: Option<Arc<GameData>>,
    /// `Some` to run part of the world as one node of a cluster joined by NATS (needs
    /// `world`); `None`, the default, for a process that runs every region itself.
    pub cluster: Option<ClusterConfig>,
    /// A second listener, over TLS, feeding the same room beside the plain TCP one; `None`
    /// for TCP only. Default `None`.
    pub tls: Option<TlsListen>,
    /// A UDP listener for moves of players bound through their TCP session (`--udp-addr`,
    /// room mode only); `None`, the default, for none.
    pub udp: Option<UdpSettings>,
    /// Logins and saved characters on a database (`--login`, `--db`); `None`, the
    /// library's default, for none: every connection a guest at once, as in the course.
    /// (The binary's default is `--login optional` on a SQLite file.)
    pub accounts: Option<AccountsConfig>,
}

/// Logins and saved characters.
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    /// Optional (guests too) or required.
    pub mode: LoginMode,
    /// The database, opened and migrated.
    pub store: Store,
    /// Silence after connecting that makes a guest (optional mode). Default 250 ms, the
    /// course's move interval: a course client's first move usually comes before it.
    pub guest_grace: Duration,
    /// Checkpoints and bounds of the save task.
    pub saves: SaveConfig,
    /// How long a logged-in character whose connection dropped stays in the room for a
    /// login to take it back (room and world mode; not in a cluster). Default 10 s;
    /// `None` for a leave at once.
    pub reconnect_grace: Option<Duration>,
    /// How long a login token stays good. Default a day.
    pub token_ttl: Duration,
    /// In a cluster: this node's lease in the shared database (15 s, renewed every second):
    /// a node that cannot renew it for that long closes its logged-in sessions, and the
    /// others take over the accounts of a node that stopped without ending it that long
    /// after its last renewal.
    pub lease: crate::adapters::db::LeaseConfig,
}

impl AccountsConfig {
    /// Optional logins on `store` with the default grace and saves.
    pub fn new(store: Store) -> Self {
        AccountsConfig {
            mode: LoginMode::Optional,
            store,
            guest_grace: Duration::from_millis(250),
            saves: SaveConfig::default(),
            reconnect_grace: Some(Duration::from_secs(10)),
            token_ttl: Duration::from_secs(86_400),
            lease: crate::adapters::db::LeaseConfig::default(),
        }
    }
}

/// Where and with what certificate the TLS listener runs. It shares the TCP listener's
/// connection cap, per-address limits, sessions and counters.
#[derive(Debug, Clone)]
pub struct TlsListen {
    /// Address the TLS listener binds.
    pub addr: std::net::SocketAddr,
    /// The certificate chain and key (see [`server_core::TlsAcceptor::from_pem_files`]).
    pub acceptor: server_core::TlsAcceptor,
}

/// A [`ServerConfig`] the server refuses to start with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServerConfigError {
    /// The networking core's part is invalid.
    #[error(transparent)]
    Net(#[from] server_core::ConfigError),
    /// The world's part (`--world grid`) is invalid.
    #[error(transparent)]
    World(#[from] WorldConfigError),
    /// The cluster's part (`--nats`, `--own-regions`, `--cluster`) is invalid.
    #[error(transparent)]
    Cluster(#[from] ClusterConfigError),
    /// A cluster shares a world's regions; the course's one room cannot be split.
    #[error("a cluster (--nats or --cluster) needs world mode (--world grid)")]
    ClusterWithoutWorld,
    /// The send queue limit is below what a player that reads normally can have queued, so
    /// players would be closed as slow consumers for no fault of theirs.
    #[error(
        "send queue limit of {limit} bytes is too small: a player that keeps up can have \
         {needed} bytes queued (the player list of a full room, {player_lists} bytes, plus \
         one flush batch being written and the next, up to {batch} bytes each); raise the \
         limit to at least {needed}, or lower the room's max pending bytes or max connections"
    )]
    SendQueueLimitTooSmall {
        /// The configured `net.send_queue_limit`.
        limit: usize,
        /// The smallest limit that works with the rest of the config.
        needed: usize,
        /// Bytes of `S_PlayerList` a newcomer to a full room receives.
        player_lists: usize,
        /// The largest flush batch (see [`ServerConfig::largest_flush_batch`]).
        batch: usize,
    },
    /// UDP moves go through the room's input queue; a world's players move through their
    /// region's seat, which UDP is not wired to.
    #[error("--udp-addr works in room mode only, not with --world grid")]
    UdpNeedsRoom,
    /// A zero UDP idle timeout would unbind every player at once.
    #[error("the UDP idle timeout must be above zero")]
    UdpIdleTimeout,
    /// A cluster's nodes share their accounts and characters: a SQLite file cannot be
    /// shared between processes (and hosts).
    #[error(
        "logins in a cluster (--nats or --cluster) need the nodes to share a PostgreSQL \
         database: give --db postgres://..., or run the nodes with --login off"
    )]
    AccountsInCluster,
    /// The game data tables hold monsters, skills and spawn areas, which only world mode has.
    #[error("--data needs world mode (--world grid): the course's room has no monsters")]
    DataWithoutWorld,
}

impl ServerConfig {
    /// Checks the networking core's config and the rule that ties the send queue limit to
    /// what the room sends.
    ///
    /// The rule: a session's send queue counts every byte queued or being written, and a
    /// send that would pass the limit closes the session as a slow consumer. A player that
    /// reads as fast as the server writes can still have, at worst, its player lists (sent
    /// together on entering a full room) and two flush batches (one being written when the
    /// next arrives) queued at once, so the limit must hold that much, or well-behaved
    /// players are closed.
    pub fn validate(&self) -> Result<(), ServerConfigError> {
        self.net.validate()?;
        if let Some(world) = &self.world {
            world.validate()?;
        }
        match (&self.cluster, &self.world) {
            (Some(cluster), Some(world)) => cluster.validate(world.regions)?,
            (Some(_), None) => return Err(ServerConfigError::ClusterWithoutWorld),
            (None, _) => {}
        }
        let shared_db = self
            .accounts
            .as_ref()
            .is_none_or(|a| a.store.backend() == crate::adapters::db::Backend::Postgres);
        if self.cluster.is_some() && !shared_db {
            return Err(ServerConfigError::AccountsInCluster);
        }
        if let Some(udp) = &self.udp {
            if self.world.is_some() {
                return Err(ServerConfigError::UdpNeedsRoom);
            }
            if udp.idle_timeout.is_zero() {
                return Err(ServerConfigError::UdpIdleTimeout);
            }
        }
        let player_lists = Self::player_lists_bytes(self.net.max_connections);
        let batch = self.largest_flush_batch();
        let needed = player_lists.saturating_add(batch.saturating_mul(2));
        if self.net.send_queue_limit < needed {
            return Err(ServerConfigError::SendQueueLimitTooSmall {
                limit: self.net.send_queue_limit,
                needed,
                player_lists,
                batch,
            });
        }
        Ok(())
    }

    /// The largest buffer the room hands a session in one flush: it flushes as soon as
    /// `max_pending_bytes` are pending, so a batch is at most that less one byte plus the
    /// largest broadcast (a chat line of `chat_max_chars` characters of up to two UTF-16
    /// units each, or a 20-byte move).
    pub fn largest_flush_batch(&self) -> usize {
        let chat = CHAT_OVERHEAD
            .saturating_add(self.chat_max_chars.saturating_mul(4))
            .min(usize::from(u16::MAX));
        let largest = chat.max(LARGEST_FIXED_BROADCAST);
        self.max_pending_bytes
            .saturating_sub(1)
            .saturating_add(largest)
    }

    /// Bytes of the `S_PlayerList` frames a newcomer to a room of `players` receives.
    pub fn player_lists_bytes(players: usize) -> usize {
        let frames = players.div_ceil(PLAYERS_PER_LIST).max(1);
        frames
            .saturating_mul(PLAYER_LIST_OVERHEAD)
            .saturating_add(players.saturating_mul(PLAYER_LIST_ENTRY))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            net: server_core::Config {
                max_packet_size: 4096,
                // Thousands of sessions each read a few small frames a second: through one
                // buffer per worker thread, every read lands in cached memory and a session
                // keeps only a partial frame, not a 4 KiB buffer of its own.
                recv_per_thread: true,
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
            refused_input_limit: Rate {
                per_sec: 10.0,
                burst: 100.0,
            },
            admin: None,
            world: None,
            game_data: None,
            cluster: None,
            tls: None,
            udp: None,
            accounts: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_leave_room_for_a_full_room_and_two_batches() {
        let config = ServerConfig::default();
        assert_eq!(config.validate(), Ok(()));
        // 1 MiB - 1 + the longest chat line (200 characters, 4 bytes each at most).
        assert_eq!(config.largest_flush_batch(), 1024 * 1024 - 1 + 10 + 800);
    }

    #[test]
    fn a_send_queue_limit_below_one_flush_batch_is_refused() {
        // Seen from outside: 64 KiB against the default 1 MiB batches closed every player
        // of a busy room as a slow consumer within a second.
        let mut config = ServerConfig::default();
        config.net.send_queue_limit = 65_536;
        match config.validate() {
            Err(ServerConfigError::SendQueueLimitTooSmall { limit, needed, .. }) => {
                assert_eq!(limit, 65_536);
                assert!(needed > 2 * 1024 * 1024, "two 1 MiB batches, got {needed}");
            }
            other => panic!("64 KiB against 1 MiB batches must be refused, got {other:?}"),
        }
        // Smaller batches and a smaller room make the same limit fine.
        config.max_pending_bytes = 8 * 1024;
        config.net.max_connections = 1000;
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn the_player_lists_of_a_full_room_count() {
        assert_eq!(ServerConfig::player_lists_bytes(0), 6);
        assert_eq!(ServerConfig::player_lists_bytes(1), 6 + 17);
        assert_eq!(ServerConfig::player_lists_bytes(3000), 6 + 17 * 3000);
        assert_eq!(ServerConfig::player_lists_bytes(3001), 12 + 17 * 3001);
    }

    #[test]
    fn the_networking_core_is_checked_too() {
        let mut config = ServerConfig::default();
        config.net.idle_timeout = Some(Duration::ZERO);
        assert_eq!(
            config.validate(),
            Err(ServerConfigError::Net(
                server_core::ConfigError::IdleTimeout
            ))
        );
    }
}
