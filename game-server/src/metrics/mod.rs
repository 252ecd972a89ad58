//! Metrics: counters kept where things happen, read by a Prometheus collector on scrape.
//!
//! Counting is atomics only, never a lock per packet: a session counts its own traffic in
//! counters no other thread writes ([`traffic`]), the room counts what it delivers on its one
//! thread, and latency goes into lock-free fixed-bucket histograms ([`histogram`]). The
//! [`MetricSources`] collector reads them all when `/metrics` is scraped and writes them with
//! prometheus-client's encoder.

mod collector;
mod histogram;
mod process;
mod session_metrics;
mod traffic;

pub use collector::{MetricSources, RoomSource, SendQueueProbe};
pub use histogram::{AtomicHistogram, HistogramSnapshot, BUCKETS};
pub use process::ProcessSample;
pub use session_metrics::{SessionMetrics, CLOSE_REASONS};
pub use traffic::{PacketCounters, SessionTraffic, TrafficHandle, TrafficRegistry};
