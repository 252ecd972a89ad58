//! A region's outbound: how its frames and messages reach other nodes.
//!
//! A region sends frames to a remote player's link (`crate::runtime::world::RemoteLink`) as
//! to a local session; they collect in the
//! region's [`Outbound`], one buffer per destination node, and leave as one NATS message
//! per node at the end of the region's tick (frames batched per gateway per tick). Region
//! messages and route changes are *ordered* records: before one is queued, every other
//! node's pending buffer is published, and buffers holding one are published at the end of
//! the job. So anything a region sent about a player goes out before any message that lets
//! another region send about it (a hand-off), which keeps each watcher's view of a player in
//! order across the process border as it is within one process.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::adapters::cluster::envelope::{EnvelopeWriter, Record};
use crate::adapters::cluster::node::{ClusterNode, Subject};

/// A buffer over this size is published at once (NATS's default max payload is 1 MiB).
const PUBLISH_AT: usize = 512 * 1024;

struct Pending {
    node: u16,
    writer: EnvelopeWriter,
    ordered: bool,
}

/// One region's NATS messages being gathered, per destination node. Touched only by its
/// region's thread (the mutex is never contended; it makes the links `Send + Sync`).
pub struct Outbound {
    node: Arc<ClusterNode>,
    pending: Mutex<Vec<Pending>>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").finish_non_exhaustive()
    }
}

impl Outbound {
    /// An empty outbound for a region of `node`.
    pub fn new(node: Arc<ClusterNode>) -> Self {
        Outbound {
            node,
            pending: Mutex::new(Vec::new()),
        }
    }

    /// The cluster this outbound publishes to.
    pub fn cluster(&self) -> &Arc<ClusterNode> {
        &self.node
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn slot<'a>(&self, pending: &'a mut Vec<Pending>, to: u16) -> &'a mut Pending {
        let i = match pending.iter().position(|p| p.node == to) {
            Some(i) => i,
            None => {
                pending.push(Pending {
                    node: to,
                    writer: EnvelopeWriter::new(self.node.id(), self.node.epoch()),
                    ordered: false,
                });
                pending.len() - 1
            }
        };
        &mut pending[i]
    }

    /// Frames for a player whose session is on `gateway`; they leave with the tick.
    pub fn frames(&self, gateway: u16, player_id: i32, frames: Bytes) {
        let mut pending = self.lock();
        let slot = self.slot(&mut pending, gateway);
        slot.writer.push(&Record::ToPlayer { player_id, frames });
        if let Some(full) = self.take_if_full(slot) {
            drop(pending);
            self.node
                .publish_blocking(Subject::Node(gateway), full.finish());
        }
    }

    /// The slot's buffer, replaced by an empty one, once it has reached `PUBLISH_AT`: far
    /// under NATS's 1 MiB payload limit whatever one record adds.
    fn take_if_full(&self, slot: &mut Pending) -> Option<EnvelopeWriter> {
        if slot.writer.len() < PUBLISH_AT {
            return None;
        }
        slot.ordered = false;
        Some(std::mem::replace(
            &mut slot.writer,
            EnvelopeWriter::new(self.node.id(), self.node.epoch()),
        ))
    }

    /// A record that must not overtake anything queued before it (a region message, a
    /// route change): every other node's pending buffer goes first.
    pub fn ordered(&self, to: u16, record: Record) {
        let mut pending = self.lock();
        // Usually nothing else is pending (frames leave with the tick): no reshuffle then.
        if pending.iter().any(|p| p.node != to) {
            self.publish_others(&mut pending, to);
        }
        let slot = self.slot(&mut pending, to);
        slot.writer.push(&record);
        slot.ordered = true;
        // A resync or a burst of hand-offs can queue far more than one payload holds;
        // everything before it is already out, so publishing now keeps the order.
        if let Some(full) = self.take_if_full(slot) {
            drop(pending);
            self.node.publish_blocking(Subject::Node(to), full.finish());
        }
    }

    fn publish_others(&self, pending: &mut Vec<Pending>, to: u16) {
        let others: Vec<Pending> = {
            let (mine, others) = std::mem::take(pending)
                .into_iter()
                .partition(|p| p.node == to);
            *pending = mine;
            others
        };
        for p in others {
            self.send(p);
        }
    }

    /// Publishes the buffers that hold ordered records (the end of a job: region messages
    /// do not wait for the tick).
    pub fn end_of_job(&self) {
        let ready: Vec<Pending> = {
            let mut pending = self.lock();
            let (ready, wait) = std::mem::take(&mut *pending)
                .into_iter()
                .partition(|p| p.ordered);
            *pending = wait;
            ready
        };
        for p in ready {
            self.send(p);
        }
    }

    /// Publishes everything (the tick, and before a local effect that must follow it).
    pub fn publish_all(&self) {
        let all = std::mem::take(&mut *self.lock());
        for p in all {
            self.send(p);
        }
    }

    fn send(&self, p: Pending) {
        if !p.writer.is_empty() {
            self.node
                .publish_blocking(Subject::Node(p.node), p.writer.finish());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::cluster::config::ClusterConfig;
    use crate::adapters::cluster::envelope;
    use crate::game::outbox::Outbox;
    use crate::game::world::region::PlayerLink;
    use crate::runtime::world::RemoteLink;

    fn drain(
        rx: &mut tokio::sync::mpsc::Receiver<crate::adapters::cluster::node::Publish>,
        epoch: u32,
    ) -> Vec<(Subject, Vec<Record>)> {
        let mut out = Vec::new();
        while let Ok(p) = rx.try_recv() {
            let env = envelope::decode(&p.payload).expect("our own envelope");
            assert_eq!(
                (env.from, env.epoch),
                (0, epoch),
                "stamped with this node and epoch"
            );
            out.push((p.subject, env.records));
        }
        out
    }

    #[test]
    fn ordered_records_leave_in_payloads_under_the_cap_and_in_order() {
        let (node, mut rx) = ClusterNode::new(ClusterConfig::new("nats://x", 0, 0b01));
        let epoch = node.epoch();
        let out = Arc::new(Outbound::new(node));
        let records: Vec<Record> = (0..12u8)
            .map(|i| Record::ToRegion {
                region: 2,
                frame: Bytes::from(vec![i; 100 * 1024]),
            })
            .collect();
        for r in &records {
            out.ordered(2, r.clone());
        }
        let early = drain(&mut rx, epoch);
        assert_eq!(
            early.len(),
            2,
            "1.2 MB of records: two payloads left before the job's end"
        );
        out.end_of_job();
        let mut sent = early;
        sent.extend(drain(&mut rx, epoch));
        for (subject, recs) in &sent {
            assert_eq!(*subject, Subject::Node(2));
            let bytes: usize = recs
                .iter()
                .map(|r| match r {
                    Record::ToRegion { frame, .. } => frame.len(),
                    _ => 0,
                })
                .sum();
            assert!(
                bytes < 1024 * 1024,
                "a payload stays under NATS's 1 MiB: {bytes}"
            );
        }
        let all: Vec<Record> = sent.into_iter().flat_map(|(_, r)| r).collect();
        assert_eq!(all, records, "every record, in order");
    }

    #[test]
    fn frames_wait_for_the_tick_but_never_trail_a_later_message() {
        let (node, mut rx) = ClusterNode::new(ClusterConfig::new("nats://x", 0, 0b01));
        let epoch = node.epoch();
        let out = Arc::new(Outbound::new(node));
        let watcher = RemoteLink {
            player_id: (1 << 24) | 1,
            gateway: 1,
            out: Arc::clone(&out) as Arc<dyn crate::runtime::world::RegionOutbound>,
        };
        watcher.send(Bytes::from_static(b"old owner's last move"));
        out.end_of_job();
        assert!(
            drain(&mut rx, epoch).is_empty(),
            "frames alone wait for the tick"
        );

        // A hand-off to node 2: node 1's pending frames must leave first.
        let handoff = Record::ToRegion {
            region: 2,
            frame: Bytes::from_static(b"handoff"),
        };
        out.ordered(2, handoff.clone());
        watcher.route_to(crate::game::world::Route {
            to: 2,
            from: 0,
            seq: 4,
        });
        out.end_of_job();
        let sent = drain(&mut rx, epoch);
        assert_eq!(
            sent,
            vec![
                (
                    Subject::Node(1),
                    vec![Record::ToPlayer {
                        player_id: (1 << 24) | 1,
                        frames: Bytes::from_static(b"old owner's last move"),
                    }]
                ),
                (Subject::Node(2), vec![handoff]),
                (
                    Subject::Node(1),
                    vec![Record::Route {
                        player_id: (1 << 24) | 1,
                        region: 2,
                        from: 0,
                        seq: 4,
                    }]
                ),
            ],
            "frames, then the hand-off, then the route change, each to its node in that order"
        );

        watcher.send(Bytes::from_static(b"tick"));
        watcher.send(Bytes::from_static(b"tock"));
        out.publish_all();
        let sent = drain(&mut rx, epoch);
        assert_eq!(sent.len(), 1, "one message per gateway per tick");
        assert_eq!(sent[0].1.len(), 2);
    }
}
