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
    /// For each node it hears: how many times it has started hearing that node, (node,
    /// generation). A node that declared the sender dead waits for a higher generation (or
    /// none: the sender forgot it), proof that the sender ran its own lost path too.
    #[serde(default)]
    pub gens: Vec<(u16, u32)>,
    /// When the sender sent it, in milliseconds of the sender's own monotonic clock (0 from
    /// a node that predates it). Only the sender reads it, in its own echo: the echo of a
    /// heartbeat sent at T proves every node could hear this node until T, however late
    /// the echo itself is read (a stalled process reads old echoes on waking).
    #[serde(default)]
    pub sent_ms: u64,
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
    /// The generation it reports for this node (0: it does not list this node).
    their_gen: u32,
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
    /// Per node: how many times this node has started hearing it (a new entry in `peers`),
    /// sent in heartbeats as `gens`.
    gens: BTreeMap<u16, u32>,
    /// Nodes this one declared dead (no heartbeat for `dead_after`), with the epoch they
    /// were in and the generation they last reported for this node. Quarantined: their
    /// heartbeats and messages in that epoch are ignored until they show they have run
    /// their own lost path for this node (they forgot it, or heard it anew), so the two
    /// never link again with one side still holding what the other dropped.
    dead: BTreeMap<u16, (u32, u32)>,
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
            gens: BTreeMap::new(),
            dead: BTreeMap::new(),
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
        let their_gen = hb
            .gens
            .iter()
            .find(|(n, _)| *n == self.me)
            .map_or(0, |&(_, g)| g);
        if let Some(&(epoch, gen)) = self.dead.get(&hb.node) {
            let ran_lost_path = hb.epoch != epoch || their_gen == 0 || their_gen > gen;
            if !ran_lost_path {
                return Vec::new();
            }
            self.dead.remove(&hb.node);
        }
        let linked = hb.sees.contains(&(self.me, my_epoch));
        let mut changes = Vec::new();
        let was_linked = match self.peers.get(&hb.node) {
            Some(old) if old.epoch == hb.epoch && old.linked && !linked => {
                // It stopped hearing this node (it declared this node dead): everything
                // shared ends, and this node forgets it, so that its heartbeats show it
                // ran this lost path (it is heard anew, a higher generation).
                changes.push(Change::Lost {
                    node: hb.node,
                    regions: old.regions,
                });
                self.peers.remove(&hb.node);
                return changes;
            }
            Some(old) if old.epoch != hb.epoch => {
                if old.linked {
                    changes.push(Change::Lost {
                        node: hb.node,
                        regions: old.regions,
                    });
                }
                false
            }
            Some(old) => old.linked,
            None => {
                *self.gens.entry(hb.node).or_insert(0) += 1;
                false
            }
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
                their_gen,
            },
        );
        changes
    }

    /// For the heartbeat: each node heard and how many times this node started hearing it.
    pub fn gens(&self) -> Vec<(u16, u32)> {
        self.peers
            .keys()
            .map(|n| (*n, self.gens.get(n).copied().unwrap_or(0)))
            .collect()
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
                let peer = self.peers.remove(&n)?;
                // Quarantined until it shows it ran its own lost path for this node.
                self.dead.insert(n, (peer.epoch, peer.their_gen));
                peer.linked.then_some((n, peer.regions))
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
            gens: Vec::new(),
            sent_ms: 0,
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

    /// Node 1's heartbeat in epoch 7: whether it hears node 0 (in node 0's epoch 1), and
    /// the generation it reports for node 0.
    fn from_b(hears_a: bool, gen_for_a: Option<u32>) -> Heartbeat {
        Heartbeat {
            gens: gen_for_a.map(|g| vec![(0, g)]).unwrap_or_default(),
            ..hb(1, 7, 0b10, 0, if hears_a { &[(0, 1)] } else { &[] })
        }
    }

    /// Issue 22, items 5 and 7: a node declared dead by timeout (a paused process) comes
    /// back in the same epoch. It is not linked again, nor are its messages taken, until it
    /// shows it ran its own lost path for this node (it forgot this node, or heard it
    /// anew): else pre-death messages would be applied after the cleanup here, and the two
    /// would link with one side still holding what the other dropped.
    #[test]
    fn a_node_declared_dead_is_quarantined_until_it_has_run_its_own_lost_path() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut a = Presence::new(0, 0b01, s(3));
        let joined = vec![Change::Joined {
            node: 1,
            regions: 0b10,
        }];
        assert_eq!(a.observe(&from_b(true, Some(1)), 1, t0), joined);
        assert_eq!(a.expire(t0 + s(3)), vec![(1, 0b10)], "it stopped: dead");
        // Back in the same epoch, still hearing node 0 as before: quarantined.
        assert!(a.observe(&from_b(true, Some(1)), 1, t0 + s(4)).is_empty());
        assert!(!a.accepts(1, 7), "its messages are refused meanwhile");
        assert_eq!(a.owner_of(1), None);
        assert_eq!(a.sees(), vec![], "and it is not heard");
        // It ran its lost path and forgot node 0: the quarantine lifts, no link yet.
        assert!(a.observe(&from_b(false, None), 1, t0 + s(5)).is_empty());
        assert!(a.accepts(1, 7));
        // It hears node 0 anew (generation 2): linked, and both resync.
        assert_eq!(a.observe(&from_b(true, Some(2)), 1, t0 + s(6)), joined);
        // Coming back in another epoch (it restarted or was cut) lifts a quarantine too.
        assert_eq!(a.expire(t0 + s(9)), vec![(1, 0b10)]);
        let restarted = Heartbeat {
            epoch: 8,
            ..from_b(true, Some(2))
        };
        let linked_again = a.observe(&restarted, 1, t0 + s(10));
        assert!(a.accepts(1, 8) && !a.accepts(1, 7));
        assert_eq!(linked_again, joined);
    }

    /// The other side of it: a node that stops hearing this one (it declared this node
    /// dead) is lost here too, and forgotten, so that this node's heartbeats show it ran
    /// its lost path: the next time it is heard, it gets a higher generation.
    #[test]
    fn a_node_that_stops_hearing_us_is_lost_forgotten_and_heard_anew() {
        let t0 = Instant::now();
        let mut b = Presence::new(1, 0b10, Duration::from_secs(3));
        let from_a = |hears_b: bool| hb(0, 1, 0b01, 0, if hears_b { &[(1, 7)] } else { &[] });
        assert_eq!(b.observe(&from_a(true), 7, t0).len(), 1, "joined");
        assert_eq!(b.gens(), vec![(0, 1)]);
        assert_eq!(
            b.observe(&from_a(false), 7, t0),
            vec![Change::Lost {
                node: 0,
                regions: 0b01
            }]
        );
        assert_eq!(
            b.gens(),
            vec![],
            "forgotten: its heartbeat will not list node 0"
        );
        assert!(b.observe(&from_a(false), 7, t0).is_empty());
        assert_eq!(b.gens(), vec![(0, 2)], "heard anew");
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
