//! The cluster: one world's regions spread over several game-server processes (nodes),
//! joined by NATS (`--nats URL --node-id K --own-regions 0,1`, or `--cluster FILE`).
//!
//! - [`config`]: which node this is and which regions it runs; checked at start.
//! - [`subjects`] and [`envelope`]: what travels on which subject, in which bytes (sans-IO).
//! - [`check`]: what a record from another node must be to be applied (sans-IO).
//! - [`ids`]: the question a joining node asks: is my id taken, which of my ids are known.
//! - [`presence`]: heartbeats, who is alive and runs what, the world's player count (sans-IO).
//! - [`node`]: what the process shares about the cluster (owners, publish queue, counters).
//! - [`link`]: a region's outbound: its frames and messages for other nodes, batched per
//!   node and kept in order.
//! - [`port`]: this adapter as the world's `Cluster` and `RegionOutbound`.
//! - [`shed`]: what a region takes from other nodes, and sheds when too far behind.
//! - `bridge`: the tasks between NATS and the regions, sessions and heartbeats.
//! - [`claims`]: one session per account across nodes (asking another node to let a
//!   character go, and answering).
//!
//! Player ids carry their gateway node (`crate::game::player_ids`), so frames find their
//! session by id alone. A player's TCP session stays on the node it connected to (its
//! gateway); its inputs go to the region that owns it, here or on another node; the
//! region's frames come back to the gateway, batched per tick. The delivery rules are in docs/ARCHITECTURE.md.

mod args;
mod bridge;
pub mod check;
pub mod claims;
pub mod config;
pub mod envelope;
pub mod ids;
pub mod link;
pub mod node;
pub mod port;
pub mod presence;
pub mod shed;
pub mod subjects;

pub use args::ClusterArgs;
pub use bridge::{Bridge, BridgeError};
pub use config::{parse_regions, ClusterConfig, ClusterConfigError, NatsAuth, MAX_NODES};
pub use node::{ClusterNode, ClusterStats};
pub use port::WorldPort;
pub use presence::Heartbeat;
