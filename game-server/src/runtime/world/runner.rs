//! A region on its thread: runs the region's rules (`crate::game::world::region`) one job at
//! a time and carries out what it asks for: messages to other regions (on their queues here,
//! or through the cluster's outbound), route changes, and the tick's flush.

use std::sync::Arc;
use std::time::Instant;

use crate::game::world::geometry::RegionId;
use crate::game::world::message::{RegionJob, RegionMsg};
use crate::game::world::region::{Outgoing, PlayerLink, Region};
use crate::runtime::job_queue::JobRunner;
use crate::runtime::world::cluster::RegionOutbound;
use crate::runtime::world::link::{Link, RegionDirectory};
use crate::runtime::world::queues::RegionQueues;

pub(super) struct RegionRunner {
    pub region: Region<Link, RegionDirectory>,
    /// The region's clock starts here (its monsters count time in milliseconds from it).
    pub started: Instant,
    pub queues: RegionQueues,
    /// In a cluster: what leaves this region for other processes.
    pub out: Option<Arc<dyn RegionOutbound>>,
}

impl RegionRunner {
    fn send(&self, to: RegionId, msg: RegionMsg) {
        if let Some(queue) = self.queues.get(to) {
            // Frames queued for other processes go before a message that lets another
            // region send about the same players.
            if let Some(out) = &self.out {
                out.publish_all();
            }
            if queue.push_follow_up(RegionJob::Peer(msg)).is_err() {
                tracing::debug!(to, "region stopped; message dropped at shutdown");
            }
            return;
        }
        // Another process's region: see the delivery rules in docs/ARCHITECTURE.md.
        if let Some(out) = &self.out {
            out.to_region(to, &msg);
        }
    }
}

impl JobRunner for RegionRunner {
    type Job = RegionJob;

    fn run(&mut self, job: RegionJob) {
        if let Some(out) = &self.out {
            self.region.set_reachable(out.reachable());
        }
        self.region.run(job);
        for effect in self.region.take_outgoing() {
            match effect {
                Outgoing::Msg(to, msg) => self.send(to, msg),
                Outgoing::Route(link, route) => {
                    // The hand-off must be on its way before the session sends its next
                    // input to the new owner.
                    if let Some(out) = &self.out {
                        out.publish_all();
                    }
                    link.route_to(route)
                }
            }
        }
        if let Some(out) = &self.out {
            out.end_of_job();
        }
    }

    fn tick(&mut self, now: Instant) {
        let now_ms = now.saturating_duration_since(self.started).as_millis();
        self.region.tick(u64::try_from(now_ms).unwrap_or(u64::MAX));
        self.region.flush();
        if let Some(out) = &self.out {
            out.publish_all();
        }
    }
}
