//! `game-server`: the course's final game server, rebuilt on `server-core`.
//!
//! Each connection is a [`ClientSession`] with a player id from the [`SessionManager`]. Its
//! packets are decoded by the generated [`packets::PacketManager`] and turned by handlers into
//! [`RoomJob`]s; the [`GameRoom`] runs them one at a time on the thread of its [`JobQueue`],
//! owning all room state without a lock, and flushes the broadcasts it collected on every
//! tick. [`GameServer`] wires it all to a `server_core::Listener`, configured by
//! [`ServerConfig`]. The counters behind `/metrics` live in [`metrics`]; the optional
//! [`admin`] endpoint serves them, a health check and a live map of the room. In world mode
//! the regions may be spread over several processes joined by NATS: [`cluster`].

#![warn(missing_docs)]

pub mod admin;
pub mod cli;
mod client_session;
pub mod cluster;
mod config;
mod game_room;
mod input_gate;
mod job_queue;
mod log_budget;
pub mod metrics;
pub mod packets;
mod rate_limit;
mod seat;
mod server;
mod session_manager;
mod stats;
pub mod udp;
pub mod world;

pub use client_session::ClientSession;
pub use config::{ServerConfig, ServerConfigError, TlsListen};
pub use game_room::{GameRoom, Outbox, RoomJob, RoomStats, PLAYERS_PER_LIST, ROOM_BOUNDS};
pub use job_queue::{JobQueue, JobQueueStats, JobQueueThread, JobRunner, QueueFull, QueueStopped};
pub use rate_limit::{Rate, TokenBucket};
pub use server::GameServer;
pub use session_manager::SessionManager;
pub use stats::{ServerStats, Snapshot};
pub use udp::{UdpGameStats, UdpSettings};
