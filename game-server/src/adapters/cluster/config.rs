//! `ClusterConfig`: which NATS server joins the processes, which node this process is, and
//! which regions it owns. From flags (`--nats URL --node-id K --own-regions 0,1`) or from a
//! file that lists every node (`--cluster FILE`), which can also be checked as a whole:
//! every region owned by exactly one node.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::game::world::{has_region, region_bit, RegionId, MAX_REGIONS};

/// Most nodes in a cluster: the node id lives in bits 24..30 of every player id
/// ([`crate::game::player_ids`]), and node ids are `0..MAX_NODES`.
pub const MAX_NODES: u16 = 64;

/// How this node proves itself to NATS, and whether the connection is TLS. Secrets are
/// never printed (`Debug` hides them).
#[derive(Clone, PartialEq, Default)]
pub struct NatsAuth {
    /// User name, with `password`.
    pub user: Option<String>,
    /// Password of `user`.
    pub password: Option<String>,
    /// A token (nats-server's `--auth`), instead of a user and password.
    pub token: Option<String>,
    /// A CA file (PEM) to verify the NATS server's certificate: the connection must be TLS.
    pub tls_ca: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsAuth")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| ".."))
            .field("token", &self.token.as_ref().map(|_| ".."))
            .field("tls_ca", &self.tls_ca)
            .finish()
    }
}

impl NatsAuth {
    /// A user without a password (or the reverse), or a token and a user at once.
    pub fn validate(&self) -> Result<(), ClusterConfigError> {
        match (&self.user, &self.password, &self.token) {
            (Some(_), None, _) | (None, Some(_), _) => Err(ClusterConfigError::Auth(
                "a NATS user needs its password, and a password its user",
            )),
            (Some(_), Some(_), Some(_)) => Err(ClusterConfigError::Auth(
                "give a NATS token or a user and password, not both",
            )),
            _ => Ok(()),
        }
    }
}

/// One process's place in the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`.
    pub nats_url: String,
    /// This process; unique in the cluster, `0..MAX_NODES`.
    pub node_id: u16,
    /// Regions this process runs (bit `k` for region `k`). May be empty: a pure gateway.
    pub own: u64,
    /// Every node's regions, when a cluster file listed them (checked at start); `None`
    /// with flags, where the others are learned from their heartbeats.
    pub nodes: Option<Vec<(u16, u64)>>,
    /// How often this node says it is alive. Default 500 ms.
    pub heartbeat: Duration,
    /// A node not heard from for this long is dead. Default 3 s.
    pub dead_after: Duration,
    /// Messages the NATS client holds for each subscription before it drops (a slow
    /// consumer, treated like a lost connection). Default 65,536.
    pub subscription_capacity: usize,
    /// Publishes waiting for the NATS client; past it a region thread waits (see
    /// `bridge.rs`). Default 16,384.
    pub publish_capacity: usize,
    /// Credentials and TLS for the NATS connection; none by default.
    pub auth: NatsAuth,
    /// Bytes of inputs from other nodes one region holds waiting; past it they are shed
    /// (see `shed.rs`). Default 4 MiB: about 100,000 moves, 25 s of 1,000 remote players.
    pub remote_bytes: usize,
}

impl ClusterConfig {
    /// Flags' form: this node and its regions; the rest from heartbeats.
    pub fn new(nats_url: impl Into<String>, node_id: u16, own: u64) -> Self {
        ClusterConfig {
            nats_url: nats_url.into(),
            node_id,
            own,
            nodes: None,
            heartbeat: Duration::from_millis(500),
            dead_after: Duration::from_secs(3),
            subscription_capacity: 65_536,
            publish_capacity: 16_384,
            auth: NatsAuth::default(),
            remote_bytes: 4 * 1024 * 1024,
        }
    }

    /// Refuses settings that cannot make a cluster of `regions` regions.
    pub fn validate(&self, regions: usize) -> Result<(), ClusterConfigError> {
        if self.nats_url.trim().is_empty() {
            return Err(ClusterConfigError::NoUrl);
        }
        if self.node_id >= MAX_NODES {
            return Err(ClusterConfigError::NodeId(self.node_id));
        }
        self.auth.validate()?;
        let all = if regions >= 64 {
            u64::MAX
        } else {
            (1u64 << regions) - 1
        };
        if self.own & !all != 0 {
            return Err(ClusterConfigError::NoSuchRegion {
                region: (self.own & !all).trailing_zeros() as usize,
                regions,
            });
        }
        if self.heartbeat.is_zero() || self.dead_after <= self.heartbeat * 2 {
            return Err(ClusterConfigError::Timing {
                heartbeat: self.heartbeat,
                dead_after: self.dead_after,
            });
        }
        if self.subscription_capacity == 0 || self.publish_capacity == 0 || self.remote_bytes == 0 {
            return Err(ClusterConfigError::Capacity);
        }
        let Some(nodes) = &self.nodes else {
            return Ok(());
        };
        let mut owned = 0u64;
        let mut seen = Vec::new();
        for &(node, mask) in nodes {
            if node >= MAX_NODES {
                return Err(ClusterConfigError::NodeId(node));
            }
            if seen.contains(&node) {
                return Err(ClusterConfigError::DuplicateNode(node));
            }
            seen.push(node);
            if mask & !all != 0 {
                return Err(ClusterConfigError::NoSuchRegion {
                    region: (mask & !all).trailing_zeros() as usize,
                    regions,
                });
            }
            if owned & mask != 0 {
                return Err(ClusterConfigError::Overlap {
                    region: (owned & mask).trailing_zeros() as usize,
                    node,
                });
            }
            owned |= mask;
        }
        if owned != all {
            return Err(ClusterConfigError::Missing {
                region: (!owned & all).trailing_zeros() as usize,
            });
        }
        if !seen.contains(&self.node_id) {
            return Err(ClusterConfigError::NotListed(self.node_id));
        }
        Ok(())
    }

    /// The cluster file's form: every node and its regions; this process is `node_id`.
    pub fn from_file(path: &Path, node_id: u16) -> Result<Self, ClusterConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ClusterConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_json(&text, node_id).map_err(|e| match e {
            ClusterConfigError::File { reason, .. } => ClusterConfigError::File {
                path: path.display().to_string(),
                reason,
            },
            other => other,
        })
    }

    /// [`ClusterConfig::from_file`] on the file's text.
    pub fn from_json(text: &str, node_id: u16) -> Result<Self, ClusterConfigError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            nats: String,
            nodes: Vec<Node>,
            #[serde(default)]
            user: Option<String>,
            #[serde(default)]
            password: Option<String>,
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            tls_ca: Option<std::path::PathBuf>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Node {
            id: u16,
            regions: Vec<usize>,
        }
        let file: File = serde_json::from_str(text).map_err(|e| ClusterConfigError::File {
            path: String::new(),
            reason: e.to_string(),
        })?;
        let mut nodes = Vec::new();
        for node in file.nodes {
            nodes.push((node.id, mask_of(&node.regions)?));
        }
        let own = nodes
            .iter()
            .find(|(id, _)| *id == node_id)
            .map_or(0, |(_, mask)| *mask);
        Ok(ClusterConfig {
            nodes: Some(nodes),
            auth: NatsAuth {
                user: file.user,
                password: file.password,
                token: file.token,
                tls_ca: file.tls_ca,
            },
            ..ClusterConfig::new(file.nats, node_id, own)
        })
    }
}

/// `0,1,3` as a region bit set; duplicates are an error.
pub fn parse_regions(s: &str) -> Result<u64, ClusterConfigError> {
    let mut list = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let k: usize = part
            .parse()
            .map_err(|_| ClusterConfigError::BadRegionList(s.to_owned()))?;
        list.push(k);
    }
    mask_of(&list)
}

fn mask_of(regions: &[usize]) -> Result<u64, ClusterConfigError> {
    let mut mask = 0u64;
    for &k in regions {
        if k >= MAX_REGIONS {
            return Err(ClusterConfigError::NoSuchRegion {
                region: k,
                regions: MAX_REGIONS,
            });
        }
        if has_region(mask, k as RegionId) {
            return Err(ClusterConfigError::DuplicateRegion(k));
        }
        mask |= region_bit(k as RegionId);
    }
    Ok(mask)
}

/// A cluster setting the server refuses to start with.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ClusterConfigError {
    /// `--nats` is empty.
    #[error("the NATS address is empty")]
    NoUrl,
    /// A node id at or past [`MAX_NODES`].
    #[error("node id {0} is out of range (0..{MAX_NODES})")]
    NodeId(u16),
    /// A region the world does not have.
    #[error("region {region} does not exist: the world has {regions} regions (--regions)")]
    NoSuchRegion {
        /// The region named.
        region: usize,
        /// Regions in the world.
        regions: usize,
    },
    /// The same region twice in one list.
    #[error("region {0} is listed twice")]
    DuplicateRegion(usize),
    /// Not a comma-separated list of region numbers.
    #[error("expected region numbers like 0,1, got {0:?}")]
    BadRegionList(String),
    /// Two nodes own one region.
    #[error("region {region} is owned by two nodes (node {node} and an earlier one)")]
    Overlap {
        /// The region.
        region: usize,
        /// The second owner.
        node: u16,
    },
    /// A region no node owns.
    #[error("region {region} is owned by no node")]
    Missing {
        /// The region.
        region: usize,
    },
    /// A node listed twice in the file.
    #[error("node {0} is listed twice")]
    DuplicateNode(u16),
    /// `--node-id` is not one of the file's nodes.
    #[error("node {0} is not one of the cluster file's nodes")]
    NotListed(u16),
    /// Heartbeats must come at least twice within the death timeout.
    #[error(
        "heartbeat {heartbeat:?} must be above zero and under half of dead_after {dead_after:?}"
    )]
    Timing {
        /// Heartbeat interval.
        heartbeat: Duration,
        /// Death timeout.
        dead_after: Duration,
    },
    /// NATS credentials that do not go together.
    #[error("{0}")]
    Auth(&'static str),
    /// A zero capacity.
    #[error("subscription and publish capacities must be above zero")]
    Capacity,
    /// The cluster file could not be read or parsed.
    #[error("cluster file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_list_parses_to_a_bit_set() {
        assert_eq!(parse_regions("0,1"), Ok(0b11));
        assert_eq!(parse_regions(" 3 "), Ok(0b1000));
        assert_eq!(parse_regions(""), Ok(0));
        assert!(parse_regions("0,x").is_err());
        assert_eq!(
            parse_regions("1,1"),
            Err(ClusterConfigError::DuplicateRegion(1))
        );
        assert!(parse_regions("64").is_err());
    }

    #[test]
    fn flags_are_checked_against_the_world() {
        let ok = ClusterConfig::new("nats://127.0.0.1:4222", 1, 0b10);
        assert_eq!(ok.validate(2), Ok(()));
        assert!(matches!(
            ClusterConfig::new("nats://x", 1, 0b100).validate(2),
            Err(ClusterConfigError::NoSuchRegion { region: 2, .. })
        ));
        assert_eq!(
            ClusterConfig::new("nats://x", 64, 1).validate(2),
            Err(ClusterConfigError::NodeId(64))
        );
        assert_eq!(
            ClusterConfig::new(" ", 0, 1).validate(2),
            Err(ClusterConfigError::NoUrl)
        );
        let slow = ClusterConfig {
            dead_after: Duration::from_millis(600),
            ..ok
        };
        assert!(matches!(
            slow.validate(2),
            Err(ClusterConfigError::Timing { .. })
        ));
    }

    #[test]
    fn a_cluster_file_must_cover_every_region_once() {
        let good = r#"{"nats": "nats://127.0.0.1:4222",
                       "nodes": [{"id": 0, "regions": [0, 1]}, {"id": 1, "regions": [2, 3]}]}"#;
        let c = ClusterConfig::from_json(good, 1).expect("parses");
        assert_eq!(c.own, 0b1100);
        assert_eq!(c.validate(4), Ok(()));

        let overlap =
            r#"{"nats": "n", "nodes": [{"id": 0, "regions": [0, 1]}, {"id": 1, "regions": [1]}]}"#;
        assert_eq!(
            ClusterConfig::from_json(overlap, 0).and_then(|c| c.validate(2)),
            Err(ClusterConfigError::Overlap { region: 1, node: 1 })
        );
        let missing = r#"{"nats": "n", "nodes": [{"id": 0, "regions": [0]}]}"#;
        assert_eq!(
            ClusterConfig::from_json(missing, 0).and_then(|c| c.validate(3)),
            Err(ClusterConfigError::Missing { region: 1 })
        );
        let stranger = r#"{"nats": "n", "nodes": [{"id": 0, "regions": [0, 1]}]}"#;
        assert_eq!(
            ClusterConfig::from_json(stranger, 5).and_then(|c| c.validate(2)),
            Err(ClusterConfigError::NotListed(5))
        );
        let twice =
            r#"{"nats": "n", "nodes": [{"id": 0, "regions": [0]}, {"id": 0, "regions": [1]}]}"#;
        assert_eq!(
            ClusterConfig::from_json(twice, 0).and_then(|c| c.validate(2)),
            Err(ClusterConfigError::DuplicateNode(0))
        );
        assert!(matches!(
            ClusterConfig::from_json(r#"{"nats": "n", "nodes": [], "extra": 1}"#, 0),
            Err(ClusterConfigError::File { .. })
        ));
    }
}
