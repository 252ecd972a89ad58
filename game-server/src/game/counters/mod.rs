//! Counters kept where things happen, with atomics only (never a lock per packet), read by
//! the summary line and the metrics adapter when `/metrics` is scraped.
//!
//! - [`histogram`]: lock-free fixed-bucket latency histograms.
//! - [`traffic`]: frames and bytes by packet type, per session and per room.
//! - [`room`]: what a room or region delivers; [`server`]: what the sessions count.

pub mod histogram;
pub mod room;
pub mod server;
pub mod traffic;

pub use histogram::{AtomicHistogram, HistogramSnapshot, BUCKETS};
pub use room::RoomStats;
pub use server::ServerStats;
pub use traffic::{PacketCounters, SessionTraffic, TrafficHandle, TrafficRegistry};
