//! Layer 1: the game's rules and plain data. No thread, no queue, no socket: everything here
//! is driven by a caller (a runtime thread, a test) and tested without I/O.
//!
//! - [`packets`]: the code packet-gen writes from `packets.json`.
//! - [`room`]: the course's one room; [`world`]: regions, area of interest, hand-offs.
//! - [`outbox`]: where a room or region sends a player's frames, and the counters both keep.
//! - [`input_gate`], [`rate_limit`], [`log_budget`]: the limits on what a peer may send or
//!   make the server log.
//! - [`player_ids`], [`session_manager`]: who gets which player id, on which node.
//! - [`counters`]: lock-free counters and histograms the metrics read.
//! - [`combat`]: skill checks, hit points, experience and levels (the rules).
//! - [`ai`]: monsters and what they do each tick (the rules).
//! - [`data`]: the game data tables (`data/*.json`: monsters, skills, levels, spawns),
//!   parsed and checked.
//! - [`map`]: the live map's snapshot, published by a room or region, read by the admin.
//! - [`saves`]: write-behind saving of characters (the rules).
//! - [`accounts`]: names, passwords, the login throttle, the first-packet rule and the
//!   accounts in play (the rules).

pub mod accounts;
pub mod ai;
pub mod combat;
pub mod counters;
pub mod data;
pub mod input_gate;
pub mod log_budget;
pub mod map;
pub mod outbox;
pub mod packets;
pub mod player_ids;
pub mod rate_limit;
pub mod room;
pub mod saves;
pub mod session_manager;
pub mod world;

pub use counters::RoomStats;
pub use outbox::{player_lists, Outbox, PLAYERS_PER_LIST};
