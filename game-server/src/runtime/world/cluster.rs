//! What a world needs of the cluster it is one node of, as two traits the cluster adapter
//! (`crate::adapters::cluster`, on NATS) implements. The world knows "a region owned
//! elsewhere" and "a gateway"; it never names NATS, a subject or an envelope, so it builds,
//! runs and is tested without them.

use std::fmt::Debug;
use std::sync::Arc;

use bytes::Bytes;

use crate::game::world::geometry::RegionId;
use crate::game::world::message::RegionMsg;
use crate::game::world::region::Route;
use crate::game::world::wire::WireMsg;

/// How a job for a region on another node went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// On its way to the node that runs the region.
    Queued,
    /// Refused: the publish queue is full (an enter or input; a leave is never refused).
    Full,
    /// No live node runs the region, or the job does not fit a frame.
    Unreachable,
}

/// The cluster as a world's seats and start-up see it.
pub trait Cluster: Send + Sync + 'static {
    /// Whether this node runs `region` (only those get a thread here).
    fn runs(&self, region: RegionId) -> bool;

    /// A new outbound for one of this node's regions: where that region's messages and
    /// frames for other nodes go.
    fn region_outbound(&self) -> Arc<dyn RegionOutbound>;

    /// Sends a gateway job (a local player's enter, input or leave) to the node running
    /// `region`. `always`: the job is never refused for a full queue (a leave, one per
    /// admitted enter).
    fn to_region(&self, region: RegionId, job: &WireMsg, always: bool) -> Sent;

    /// World chat: an encoded `S_Chat` for every player of every node. False when refused.
    fn chat(&self, frame: Bytes) -> bool;
}

/// One region's way out to other nodes. Used only by its region's thread.
///
/// Region messages and route changes are *ordered*: nothing the region sent before one
/// may arrive after it; frames for players may wait for the end of the tick.
pub trait RegionOutbound: Send + Sync + Debug + 'static {
    /// This node's id: a player whose id names another node has its session there.
    fn node(&self) -> u16;

    /// The regions (bit `k` for region `k`) whose node is reachable now.
    fn reachable(&self) -> u64;

    /// Frames for `player_id`, whose session is on node `gateway`.
    fn frames(&self, gateway: u16, player_id: i32, frames: Bytes);

    /// Tells `gateway` that `player_id` was handed on (`route`); ordered.
    fn route(&self, gateway: u16, player_id: i32, route: Route);

    /// Tells `gateway` that this region put `player_id` at `pos`, for a logged-in
    /// character's save task there; ordered. Nothing when logins are off.
    fn moved(&self, gateway: u16, player_id: i32, pos: [f32; 3]);

    /// A message for a region another node runs (ordered); dropped and counted when no live
    /// node runs it.
    fn to_region(&self, region: RegionId, msg: &RegionMsg);

    /// Publishes everything pending (the tick, and before an effect that must follow it).
    fn publish_all(&self);

    /// Publishes what holds ordered records (the end of a job).
    fn end_of_job(&self);
}
