//! The NATS subjects of the cluster.
//!
//! - `world.node.{k}`: node k's inbox. Everything addressed to one node travels here, in one
//!   subscription, so the order in which a sender published is the order in which the
//!   receiver applies: region messages for its regions, its players' frames, route changes,
//!   and gateway enters, inputs and leaves (see `envelope.rs`). Separate subjects per region
//!   and per gateway (`world.region.{k}`, `world.gateway.{n}`) were the first design; they
//!   were dropped because two subscriptions are two channels in the client, and a hand-off
//!   followed by its route change must not be applied in the other order (an input sent to
//!   the new owner before it owns the player would be lost).
//! - `world.chat`: every chat line (an `S_Chat` frame), for every player of every node.
//! - `world.ids`: asked once by a joining node, answered by every node (see `ids.rs`).
//! - `world.release.{k}`: a login on another node asks node k to let an account's character
//!   go (see `claims.rs`).
//! - `world.heartbeat`: every node's [`Heartbeat`](crate::adapters::cluster::presence::Heartbeat).

/// The ids question a node asks as it joins (request/reply): who else runs my node id,
/// and the highest id of my range the cluster still remembers.
pub const IDS: &str = "world.ids";
/// World chat.
pub const CHAT: &str = "world.chat";
/// Heartbeats.
pub const HEARTBEAT: &str = "world.heartbeat";

/// Node `k`'s questions from logins on other nodes: let an account's character go
/// (request/reply, see `claims.rs`).
pub fn release(k: u16) -> String {
    format!("world.release.{k}")
}

/// Node `k`'s inbox.
pub fn node(k: u16) -> String {
    format!("world.node.{k}")
}
