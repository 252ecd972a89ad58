//! `game-server`: the course's final game server, rebuilt on `server-core`, in four layers.
//! Each layer may import the layers below it and never one above (docs/ARCHITECTURE.md has
//! the table; the workspace's `architecture` test holds the code to it):
//!
//! 1. [`game`]: the rules and plain data, with no thread and no socket: the packets, the
//!    room's rules ([`GameRoom`]), the world's regions and area of interest ([`world`]), the
//!    move and rate rules, player ids, the counters and the live map's snapshot type.
//! 2. [`runtime`]: what owns threads and queues: the [`JobQueue`] each room or region runs
//!    on, the running world of region threads, and a session's seat in either.
//! 3. [`adapters`]: what only looks in or carries messages: the client sessions over
//!    TCP, TLS and UDP, the NATS cluster, the admin endpoint and the metrics.
//! 4. [`app`]: the wiring: flags, [`ServerConfig`], and [`GameServer`], which starts it all.
//!
//! Each connection is a [`ClientSession`] with a player id from the [`SessionManager`]; its
//! packets are decoded by the generated [`packets::PacketManager`] and turned into jobs for
//! the room (the default) or a region of the world (`--world grid`).

#![warn(missing_docs)]

pub mod adapters;
pub mod app;
pub mod game;
pub mod runtime;

// The paths the crate offered before its layers, kept for the tests, benches and users.
pub use adapters::sessions::udp;
pub use adapters::{admin, cluster, metrics};
pub use app::cli;
pub use game::{packets, world};

pub use adapters::metrics::Snapshot;
pub use adapters::sessions::ClientSession;
pub use app::{GameServer, ServerConfig, ServerConfigError, TlsListen};
pub use game::counters::ServerStats;
pub use game::rate_limit::{Rate, TokenBucket};
pub use game::room::{GameRoom, RoomJob, ROOM_BOUNDS};
pub use game::session_manager::SessionManager;
pub use game::{Outbox, RoomStats, PLAYERS_PER_LIST};
pub use runtime::job_queue::{
    JobQueue, JobQueueStats, JobQueueThread, JobRunner, QueueFull, QueueStopped,
};
pub use udp::{UdpGameStats, UdpSettings};
