//! What a room, or each region of a world, counts as it delivers.

use std::sync::atomic::{AtomicU64, AtomicUsize};

use crate::game::counters::histogram::AtomicHistogram;
use crate::game::counters::traffic::PacketCounters;

/// Room counters (one set per region in world mode), read by the summary and the metrics.
#[derive(Debug, Default)]
pub struct RoomStats {
    /// Players in the room now.
    pub players: AtomicUsize,
    /// World mode: ghosts the region holds now (players of other regions near it).
    pub ghosts: AtomicUsize,
    /// Packets delivered to sessions (each broadcast counted once per recipient).
    pub packets_out: AtomicU64,
    /// Bytes handed to sessions.
    pub bytes_out: AtomicU64,
    /// Flushes that sent something.
    pub flushes: AtomicU64,
    /// Frames and bytes delivered, by packet type (written by the room's thread only).
    pub sent: PacketCounters,
    /// How long each flush that sent something took.
    pub flush_duration: AtomicHistogram,
    /// World mode: the region's monsters (living or dead).
    pub monsters: AtomicUsize,
    /// World mode: monsters the AI stepped in the last tick (near players, or on their way).
    pub monsters_awake: AtomicUsize,
    /// World mode: how long each tick's AI took (monsters stepped and their frames queued).
    pub ai_duration: AtomicHistogram,
}
