//! Metrics: the counters the game keeps where things happen (`crate::game::counters`), read
//! by a Prometheus collector on scrape.
//!
//! Counting is atomics only, never a lock per packet: a session counts its own traffic in
//! counters no other thread writes, the room counts what it delivers on its one thread, and
//! latency goes into lock-free fixed-bucket histograms. The [`MetricSources`] collector reads
//! them all when `/metrics` is scraped and writes them with prometheus-client's encoder;
//! [`summary`] reads the same counters for the periodic log line.

mod accounts;
mod admin_stats;
mod collector;
mod process;
mod session_metrics;
pub mod summary;

pub use accounts::{AccountsSource, PlayingProbe};
pub use admin_stats::AdminStats;
pub use collector::{MetricSources, RoomSource, SendQueueProbe};
pub use process::ProcessSample;
pub use session_metrics::{SessionMetrics, CLOSE_REASONS};
pub use summary::Snapshot;

// The counters themselves live with the game; their old paths here stay for users.
pub use crate::game::counters::{
    AtomicHistogram, HistogramSnapshot, PacketCounters, SessionTraffic, TrafficHandle,
    TrafficRegistry, BUCKETS,
};
