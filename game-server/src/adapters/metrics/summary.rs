//! The periodic one-line summary of the server's counters, and the [`Snapshot`] it and the
//! tests read.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use server_core::ListenerStats;

use crate::game::counters::{RoomStats, ServerStats};
use crate::runtime::job_queue::JobQueueStats;

/// A point-in-time view of the server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Sessions open.
    pub sessions: u64,
    /// Players in the room.
    pub players: u64,
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections refused at `max_connections`.
    pub refused: u64,
    /// Connections refused by the per-address limits.
    pub refused_by_address: u64,
    /// Packets received.
    pub packets_in: u64,
    /// Packets delivered to sessions (broadcasts once per recipient, plus direct replies).
    pub packets_out: u64,
    /// Bytes handed to sessions by the room.
    pub bytes_out: u64,
    /// Inputs dropped because the room was behind.
    pub inputs_dropped: u64,
    /// Packets rejected by validation.
    pub inputs_rejected: u64,
    /// Room jobs that panicked.
    pub job_panics: u64,
    /// In a cluster: the other nodes alive now (0 otherwise).
    pub cluster_nodes: u64,
    /// Players in the whole world: this process's, plus in a cluster every live node's
    /// from its last heartbeat.
    pub world_players: u64,
}

/// Everything a snapshot is read from.
#[derive(Clone)]
pub(crate) struct StatSources {
    pub listener: Arc<ListenerStats>,
    /// The room's counters, or each region's.
    pub rooms: Vec<Arc<RoomStats>>,
    pub server: Arc<ServerStats>,
    /// The room's queue, or every region's.
    pub jobs: Vec<Arc<JobQueueStats>>,
    /// In a cluster, the node (for the world's player count).
    pub cluster: Option<Arc<crate::adapters::cluster::ClusterNode>>,
}

impl StatSources {
    pub fn snapshot(&self) -> Snapshot {
        let r = Ordering::Relaxed;
        let sum = |f: fn(&RoomStats) -> u64| self.rooms.iter().map(|room| f(room)).sum::<u64>();
        Snapshot {
            sessions: self.listener.active(),
            players: sum(|room| room.players.load(Ordering::Relaxed) as u64),
            accepted: self.listener.accepted(),
            refused: self.listener.refused(),
            refused_by_address: self.listener.refused_by_address(),
            packets_in: self.server.packets_in.load(r),
            packets_out: sum(|room| room.packets_out.load(Ordering::Relaxed))
                + self.server.direct_out.load(r),
            bytes_out: sum(|room| room.bytes_out.load(Ordering::Relaxed)),
            inputs_dropped: self.server.inputs_dropped.load(r),
            inputs_rejected: self.server.inputs_rejected.load(r),
            job_panics: self.jobs.iter().map(|j| j.panics.load(r)).sum(),
            cluster_nodes: self
                .cluster
                .as_ref()
                .map_or(0, |c| c.stats.nodes_alive.load(r)),
            world_players: match &self.cluster {
                Some(c) => c.stats.players_total.load(r),
                None => sum(|room| room.players.load(Ordering::Relaxed) as u64),
            },
        }
    }

    /// Logs one summary line every `every` until the task is aborted.
    pub async fn log_every(self, every: Duration) {
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await;
        let mut last = self.snapshot();
        let mut last_at = Instant::now();
        loop {
            ticker.tick().await;
            let now = self.snapshot();
            let secs = last_at.elapsed().as_secs_f64().max(1e-3);
            last_at = Instant::now();
            // The target is the one operators and `bench soak` filter on
            // (`--log warn,game_server::stats=info`), kept from before the module moved.
            tracing::info!(
                target: "game_server::stats",
                sessions = now.sessions,
                players = now.players,
                in_per_sec = ((now.packets_in - last.packets_in) as f64 / secs).round() as u64,
                out_per_sec = ((now.packets_out - last.packets_out) as f64 / secs).round() as u64,
                refused = now.refused,
                dropped = now.inputs_dropped,
                rejected = now.inputs_rejected,
                job_panics = now.job_panics,
                "summary"
            );
            last = now;
        }
    }
}
