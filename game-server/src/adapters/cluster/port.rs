//! The cluster as the world sees it: this adapter's side of the two traits the world's
//! runtime defines (`crate::runtime::world::cluster`), on NATS subjects and envelopes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::adapters::cluster::envelope::{EnvelopeWriter, Record};
use crate::adapters::cluster::link::Outbound;
use crate::adapters::cluster::node::{ClusterNode, Subject};
use crate::game::world::geometry::RegionId;
use crate::game::world::message::RegionMsg;
use crate::game::world::region::Route;
use crate::game::world::wire::{self, WireMsg};
use crate::runtime::world::{Cluster, RegionOutbound, Sent};

/// A [`ClusterNode`] as the world's [`Cluster`].
pub struct WorldPort(pub Arc<ClusterNode>);

impl Cluster for WorldPort {
    fn runs(&self, region: RegionId) -> bool {
        self.0.runs(region)
    }

    fn region_outbound(&self) -> Arc<dyn RegionOutbound> {
        Arc::new(Outbound::new(Arc::clone(&self.0)))
    }

    fn to_region(&self, region: RegionId, job: &WireMsg, always: bool) -> Sent {
        let node = &self.0;
        let Some(owner) = node.owner_of(region) else {
            return Sent::Unreachable;
        };
        let Ok(frame) = wire::encode_any(job) else {
            return Sent::Unreachable;
        };
        let mut w = EnvelopeWriter::new(node.id(), node.epoch());
        w.push(&Record::ToRegion { region, frame });
        let payload = w.finish();
        if always {
            node.publish_soon(Subject::Node(owner), payload);
            Sent::Queued
        } else if node.try_publish(Subject::Node(owner), payload) {
            Sent::Queued
        } else {
            Sent::Full
        }
    }

    fn chat(&self, frame: Bytes) -> bool {
        self.0.try_publish(Subject::Chat, frame)
    }
}

impl RegionOutbound for Outbound {
    fn node(&self) -> u16 {
        self.cluster().id()
    }

    fn reachable(&self) -> u64 {
        self.cluster().reachable()
    }

    fn frames(&self, gateway: u16, player_id: i32, frames: Bytes) {
        Outbound::frames(self, gateway, player_id, frames);
    }

    fn route(&self, gateway: u16, player_id: i32, route: Route) {
        self.ordered(
            gateway,
            Record::Route {
                player_id,
                region: route.to,
                from: route.from,
                seq: route.seq,
            },
        );
    }

    fn moved(&self, gateway: u16, player_id: i32, pos: [f32; 3]) {
        if self.cluster().persisting() {
            self.ordered(gateway, Record::Moved { player_id, pos });
        }
    }

    fn to_region(&self, region: RegionId, msg: &RegionMsg) {
        let cluster = self.cluster();
        // Encoded only once someone owns the region (at start-up, most border moves find no
        // owner yet).
        let Some((node, Ok(frame))) = cluster
            .owner_of(region)
            .map(|node| (node, wire::encode(msg)))
        else {
            // Its process is not alive (or, impossibly, the message does not fit a frame):
            // see the delivery rules in docs/ARCHITECTURE.md.
            cluster.stats.unroutable.fetch_add(1, Ordering::Relaxed);
            return;
        };
        self.ordered(node, Record::ToRegion { region, frame });
    }

    fn publish_all(&self) {
        Outbound::publish_all(self);
    }

    fn end_of_job(&self) {
        Outbound::end_of_job(self);
    }
}
