//! `Presence`: which other nodes are alive, which regions each runs and how many players
//! each holds, from their heartbeats. Sans-IO: heartbeats and the time in, verdicts out.
//!
//! A node is alive from its first heartbeat until `dead_after` passes without one, or until
//! it comes back with another bus epoch (it lost NATS and cut its links with everyone, so
//! the others cut theirs with it too, then take it back as new). It is *linked* once its
//! heartbeat lists this node in this node's current epoch: both sides then accept each
//! other's messages, so only then does this node send it anything (a resync sent to a node
//! that has not heard us yet would be dropped there as stale, and lost). Regions another node
//! claims that this node runs itself are refused and counted: the world has one owner per
//! region, and a misconfigured cluster says so in the log instead of splitting a region.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::game::world::has_region;

/// What every node publishes on `world.heartbeat` twice a second (JSON: small, rare, and
/// readable with `nats sub world.heartbeat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The node.
    pub node: u16,
    /// Its bus epoch: one more each time it lost its NATS connection.
    pub epoch: u32,
    /// The regions it runs (bit per region).
    pub regions: u64,
    /// Players whose sessions it holds.
    pub players: u64,
    /// The nodes it hears, each in the epoch it heard: (node, epoch).
    pub sees: Vec<(u16, u32)>,
    /// The sending process's instance number, so another process with the same node id
    /// is told apart (0 from a node that predates it).
    #[serde(default)]
    pub instance: u64,
}

/// Largest heartbeat accepted, in bytes; anything bigger is not one of ours.
pub const MAX_HEARTBEAT: usize = 4096;

impl Heartbeat {
    /// As JSON bytes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// From JSON bytes; `None` for anything malformed or oversized.
    pub fn decode(bytes: &[u8]) -> Option<Heartbeat> {
        if bytes.len() > MAX_HEARTBEAT {
            return None;
        }
        serde_json::from_slice(bytes).ok()
    }
}

#[derive(Debug, Clone)]
struct Peer {
    epoch: u32,
    regions: u64,
    players: u64,
    last_seen: Instant,
    /// It hears this node in this node's current epoch.
    linked: bool,
}

/// What a heartbeat changed; a heartbeat can make both (lost in its old epoch, then
/// linked in the new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Everything shared with `node` ends: it came back in a new epoch (it was cut), or
    /// it stopped hearing this node.
    Lost {
        /// The node.
        node: u16,
        /// Its regions until now.
        regions: u64,
    },
    /// `node` and this one hear each other now: its regions are reachable (resend ghosts).
    Joined {
        /// The node.
        node: u16,
        /// Its regions.
        regions: u64,
    },
}

/// The other nodes as this one sees them.
#[derive(Debug)]
pub struct Presence {
    me: u16,
    own: u64,
    dead_after: Duration,
    peers: BTreeMap<u16, Peer>,
    /// Regions another node claimed that this node runs.
    pub conflicts: u64,
}

impl Presence {
    /// Node `me`, running regions `own`.
    pub fn new(me: u16, own: u64, dead_after: Duration) -> Self {
        Presence {
            me,
            own,
            dead_after,
            peers: BTreeMap::new(),
            conflicts: 0,
        }
    }

    /// Takes a heartbeat in; this node is in bus epoch `my_epoch`.
    pub fn observe(&mut self, hb: &Heartbeat, my_epoch: u32, now: Instant) -> Vec<Change> {
        // A node id outside the cluster's range is no node: kept, it would grow the `sees`
        // list every heartbeat carries (past what a peer accepts) and the peer table.
        if hb.node == self.me || hb.node >= crate::adapters::cluster::config::MAX_NODES {
            return Vec::new();
        }
        let clash = hb.regions & self.own;
        if clash != 0 {
            self.conflicts += 1;
            tracing::error!(
                node = hb.node,
                regions = format!("{clash:#b}"),
                "another node claims regions this node runs; its claim is ignored"
            );
        }
        // Two other nodes claiming one region: the lower node id keeps it.
        let mut regions = hb.regions & !self.own;
        for (&other, peer) in &self.peers {
            if other < hb.node && peer.regions & regions != 0 {
                self.conflicts += 1;
                tracing::error!(node = hb.node, other, "two nodes claim one region");
                regions &= !peer.regions;
            }
        }
        let linked = hb.sees.contains(&(self.me, my_epoch));
        let mut changes = Vec::new();
        let was_linked = match self.peers.get(&hb.node) {
            Some(old) if old.epoch != hb.epoch || (old.linked && !linked) => {
                if old.linked {
                    changes.push(Change::Lost {
                        node: hb.node,
                        regions: old.regions,
                    });
                }
                false
            }
            Some(old) => old.linked,
            None => false,
        };
        if linked && !was_linked {
            changes.push(Change::Joined {
                node: hb.node,
                regions,
            });
        }
        self.peers.insert(
            hb.node,
            Peer {
                epoch: hb.epoch,
                regions,
                players: hb.players,
                last_seen: now,
                linked,
            },
        );
        changes
    }

    /// The nodes this one hears, for its heartbeat.
    pub fn sees(&self) -> Vec<(u16, u32)> {
        self.peers.iter().map(|(&n, p)| (n, p.epoch)).collect()
    }

    /// Forgets the nodes not heard from for `dead_after`; returns the linked ones with
    /// their regions (what was shared with them ends).
    pub fn expire(&mut self, now: Instant) -> Vec<(u16, u64)> {
        let dead: Vec<u16> = self
            .peers
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.last_seen) >= self.dead_after)
            .map(|(&n, _)| n)
            .collect();
        dead.into_iter()
            .filter_map(|n| {
                self.peers
                    .remove(&n)
                    .filter(|p| p.linked)
                    .map(|p| (n, p.regions))
            })
            .collect()
    }

    /// Forgets every node (this node lost NATS); returns the linked ones with their regions.
    pub fn clear(&mut self) -> Vec<(u16, u64)> {
        std::mem::take(&mut self.peers)
            .into_iter()
            .filter(|(_, p)| p.linked)
            .map(|(n, p)| (n, p.regions))
            .collect()
    }

    /// The regions `node` runs (as its heartbeats claim them, less any this node or a
    /// lower node id runs); 0 for a node not heard from.
    pub fn regions_of(&self, node: u16) -> u64 {
        self.peers.get(&node).map_or(0, |p| p.regions)
    }

    /// Whether `node` is alive in `epoch`: messages from any other epoch are stale.
    pub fn accepts(&self, node: u16, epoch: u32) -> bool {
        self.peers.get(&node).is_some_and(|p| p.epoch == epoch)
    }

    /// The linked node running `region`, if any (this node's own regions are not listed).
    pub fn owner_of(&self, region: u16) -> Option<u16> {
        self.peers
            .iter()
            .find(|(_, p)| p.linked && has_region(p.regions, region))
            .map(|(&n, _)| n)
    }

    /// Regions of linked nodes and this one's.
    pub fn reachable(&self) -> u64 {
        self.peers
            .values()
            .filter(|p| p.linked)
            .fold(self.own, |m, p| m | p.regions)
    }

    /// Every node heard from: (node, its epoch, linked with this one).
    pub fn links(&self) -> Vec<(u16, u32, bool)> {
        self.peers
            .iter()
            .map(|(&n, p)| (n, p.epoch, p.linked))
            .collect()
    }

    /// Other nodes linked with this one.
    pub fn alive(&self) -> usize {
        self.peers.values().filter(|p| p.linked).count()
    }

    /// Players on every live node, this one's `own_players` included.
    pub fn total_players(&self, own_players: u64) -> u64 {
        // A peer's count is its word: saturating, so a bogus one cannot overflow.
        self.peers
            .values()
            .fold(own_players, |sum, p| sum.saturating_add(p.players))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(node: u16, epoch: u32, regions: u64, players: u64, sees: &[(u16, u32)]) -> Heartbeat {
        Heartbeat {
            instance: 0,
            node,
            epoch,
            regions,
            players,
            sees: sees.to_vec(),
        }
    }

    #[test]
    fn heartbeats_from_outside_the_node_range_or_with_absurd_counts_do_no_harm() {
        let mut p = Presence::new(0, 0b01, Duration::from_secs(3));
        let now = Instant::now();
        let bogus = hb(
            crate::adapters::cluster::config::MAX_NODES,
            1,
            0b10,
            9,
            &[(0, 1)],
        );
        assert!(p.observe(&bogus, 1, now).is_empty());
        assert_eq!(p.total_players(5), 5, "no peer from an out-of-range id");
        p.observe(&hb(1, 1, 0b10, u64::MAX, &[(0, 1)]), 1, now);
        assert_eq!(p.total_players(5), u64::MAX, "saturates, no overflow");
    }

    #[test]
    fn a_node_links_once_it_hears_us_lives_on_heartbeats_and_dies_without_them() {
        let t0 = Instant::now();
        let mut p = Presence::new(0, 0b01, Duration::from_secs(3));
        assert!(
            p.observe(&hb(0, 1, 0b01, 5, &[]), 1, t0).is_empty(),
            "own echo"
        );
        assert!(
            p.observe(&hb(1, 1, 0b10, 7, &[]), 1, t0).is_empty(),
            "heard, not linked"
        );
        assert_eq!(
            p.owner_of(1),
            None,
            "nothing is sent to a node that does not hear us"
        );
        assert!(p.accepts(1, 1), "but what it sends is taken");
        assert_eq!(p.sees(), vec![(1, 1)]);
        assert_eq!(
            p.observe(&hb(1, 1, 0b10, 7, &[(0, 1)]), 1, t0),
            vec![Change::Joined {
                node: 1,
                regions: 0b10
            }]
        );
        assert_eq!(p.owner_of(1), Some(1));
        assert_eq!(p.owner_of(0), None, "own regions are not a peer's");
        assert_eq!(p.reachable(), 0b11);
        assert_eq!(p.total_players(5), 12);
        assert!(p.accepts(1, 1) && !p.accepts(1, 0) && !p.accepts(2, 1));
        let t1 = t0 + Duration::from_millis(2500);
        assert!(p.observe(&hb(1, 1, 0b10, 8, &[(0, 1)]), 1, t1).is_empty());
        assert!(p.expire(t1 + Duration::from_millis(2999)).is_empty());
        assert_eq!(p.expire(t1 + Duration::from_secs(3)), vec![(1, 0b10)]);
        assert_eq!(p.reachable(), 0b01);
        assert_eq!(p.total_players(5), 5);
    }

    #[test]
    fn a_new_epoch_is_lost_then_linked_again_and_old_messages_are_refused() {
        let t0 = Instant::now();
        let mut p = Presence::new(0, 0b01, Duration::from_secs(3));
        p.observe(&hb(1, 1, 0b10, 0, &[(0, 1)]), 1, t0);
        // It was cut: it hears nobody in its new epoch yet.
        assert_eq!(
            p.observe(&hb(1, 2, 0b10, 0, &[]), 1, t0),
            vec![Change::Lost {
                node: 1,
                regions: 0b10
            }]
        );
        assert!(!p.accepts(1, 1), "messages of the old epoch are stale");
        assert!(p.accepts(1, 2));
        assert_eq!(
            p.observe(&hb(1, 2, 0b10, 0, &[(0, 1)]), 1, t0),
            vec![Change::Joined {
                node: 1,
                regions: 0b10
            }]
        );
        assert_eq!(p.clear(), vec![(1, 0b10)]);
        assert!(
            !p.accepts(1, 2),
            "after a cut nobody is accepted until heard again"
        );
        // After our own cut (epoch 2), a heartbeat that hears us in epoch 1 is no link.
        assert!(p.observe(&hb(1, 2, 0b10, 0, &[(0, 1)]), 2, t0).is_empty());
        assert_eq!(p.owner_of(1), None);
    }

    #[test]
    fn claims_on_another_nodes_regions_are_refused() {
        let t0 = Instant::now();
        let mut p = Presence::new(0, 0b01, Duration::from_secs(3));
        p.observe(&hb(1, 1, 0b11, 0, &[(0, 1)]), 1, t0);
        assert_eq!(p.conflicts, 1);
        assert_eq!(p.owner_of(0), None, "region 0 stays this node's");
        p.observe(&hb(2, 1, 0b10, 0, &[(0, 1)]), 1, t0);
        assert_eq!(
            p.owner_of(1),
            Some(1),
            "the lower node keeps a contested region"
        );
        assert_eq!(p.conflicts, 2);
    }

    #[test]
    fn heartbeats_round_trip_and_junk_is_refused() {
        let h = hb(3, 9, 0b1100, 42, &[(1, 2)]);
        assert_eq!(Heartbeat::decode(&h.encode()), Some(h));
        assert_eq!(Heartbeat::decode(b"{\"node\":1}"), None);
        assert_eq!(Heartbeat::decode(&[b' '; 5000]), None);
        assert_eq!(Heartbeat::decode(&[0xff, 0x00]), None);
    }
}
