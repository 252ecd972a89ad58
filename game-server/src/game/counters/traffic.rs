//! Packets and bytes by packet type, counted where they happen without a shared hot atomic.
//!
//! A session's task owns a [`SessionTraffic`] of its own: counting a packet is a relaxed load
//! and store on cache lines no other thread writes (no locked instruction, no contention).
//! The [`TrafficRegistry`] knows every live session's counters and folds a closed session's
//! into a running total, so a scrape sums live + retired. The lock on the registry is taken
//! when a session opens, when it closes and on a scrape, never per packet.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::game::packets::PacketId;

/// Counter slots: one per possible schema id (0..=MAX), plus the last for ids not in the
/// schema (such a frame closes its session, but its bytes did arrive).
pub const SLOTS: usize = PacketId::MAX as usize + 2;

/// Packets and bytes per packet type.
#[derive(Debug)]
pub struct PacketCounters {
    packets: [AtomicU64; SLOTS],
    bytes: [AtomicU64; SLOTS],
}

impl Default for PacketCounters {
    fn default() -> Self {
        PacketCounters {
            packets: std::array::from_fn(|_| AtomicU64::new(0)),
            bytes: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

fn slot(id: u16) -> usize {
    match PacketId::from_u16(id) {
        Some(_) => usize::from(id),
        None => SLOTS - 1,
    }
}

impl PacketCounters {
    /// Counts `packets` frames of type `id` totalling `bytes`, from a thread that is the only
    /// writer of these counters (a session's task, the room's thread): a plain load and store,
    /// which readers see as a consistent, monotonic value.
    pub fn add_single_writer(&self, id: u16, packets: u64, bytes: u64) {
        let s = slot(id);
        let r = Ordering::Relaxed;
        self.packets[s].store(self.packets[s].load(r) + packets, r);
        self.bytes[s].store(self.bytes[s].load(r) + bytes, r);
    }

    /// Counts one flush of the room, from the room's thread: every frame of `frames` went to
    /// `full` players, and each newcomer that skipped the first `k` frames got frame `i` if
    /// `i >= k` (`newcomer_skips` holds their `k`s and is sorted here). Summed per type first,
    /// so a flush of thousands of moves is one store per type.
    pub fn add_batch(&self, frames: &[Bytes], full: u64, newcomer_skips: &mut [usize]) {
        newcomer_skips.sort_unstable();
        let mut sums = [(0u64, 0u64); SLOTS];
        let mut newcomers = 0u64;
        let mut next = 0;
        for (i, frame) in frames.iter().enumerate() {
            while newcomer_skips.get(next).is_some_and(|&k| k <= i) {
                newcomers += 1;
                next += 1;
            }
            let recipients = full + newcomers;
            // Our own encoded frames; a short one (impossible) lands in the unknown slot.
            let id = frame
                .get(2..4)
                .map_or(u16::MAX, |b| u16::from_le_bytes([b[0], b[1]]));
            let sum = &mut sums[slot(id)];
            sum.0 += recipients;
            sum.1 += recipients * frame.len() as u64;
        }
        let r = Ordering::Relaxed;
        for (s, (packets, bytes)) in sums.into_iter().enumerate() {
            if packets > 0 {
                self.packets[s].store(self.packets[s].load(r) + packets, r);
                self.bytes[s].store(self.bytes[s].load(r) + bytes, r);
            }
        }
    }

    /// Counts frames from any thread.
    pub fn add(&self, id: u16, packets: u64, bytes: u64) {
        let s = slot(id);
        self.packets[s].fetch_add(packets, Ordering::Relaxed);
        self.bytes[s].fetch_add(bytes, Ordering::Relaxed);
    }

    /// Adds every count of `self` to `into`, whose only writer the caller must be: a sum
    /// being built, or the registry's retired totals under its lock. Plain stores, so a
    /// scrape over 10,000 sessions costs loads and adds, not a locked instruction each.
    pub(crate) fn add_to(&self, into: &PacketCounters) {
        let r = Ordering::Relaxed;
        for s in 0..SLOTS {
            let packets = self.packets[s].load(r);
            if packets > 0 {
                into.packets[s].store(into.packets[s].load(r) + packets, r);
                into.bytes[s].store(into.bytes[s].load(r) + self.bytes[s].load(r), r);
            }
        }
    }

    /// `(packet name, packets, bytes)` for every type seen at least once.
    pub fn totals(&self) -> Vec<(&'static str, u64, u64)> {
        let r = Ordering::Relaxed;
        (0..SLOTS)
            .filter_map(|s| {
                let packets = self.packets[s].load(r);
                if packets == 0 {
                    return None;
                }
                let name = if s == SLOTS - 1 {
                    "unknown"
                } else {
                    PacketId::from_u16(s as u16)?.name()
                };
                Some((name, packets, self.bytes[s].load(r)))
            })
            .collect()
    }

    /// Packets of every type.
    pub fn packets(&self) -> u64 {
        self.packets.iter().map(|p| p.load(Ordering::Relaxed)).sum()
    }
}

/// What one session received and sent by itself (replies such as `S_Pong`; broadcasts are
/// counted by the room).
#[derive(Debug, Default)]
pub struct SessionTraffic {
    /// Frames received.
    pub received: PacketCounters,
    /// Frames this session sent directly.
    pub sent: PacketCounters,
}

/// Every live session's traffic and the sum of the closed ones'.
#[derive(Debug, Default)]
pub struct TrafficRegistry {
    inner: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    next_key: u64,
    live: HashMap<u64, Arc<SessionTraffic>>,
    retired: SessionTraffic,
}

impl TrafficRegistry {
    /// Counters for a new session; they are folded into the totals when the handle drops.
    pub fn open(self: &Arc<Self>) -> TrafficHandle {
        let counters = Arc::new(SessionTraffic::default());
        let mut inner = self.lock();
        inner.next_key += 1;
        let key = inner.next_key;
        inner.live.insert(key, Arc::clone(&counters));
        TrafficHandle {
            registry: Arc::clone(self),
            key,
            counters,
        }
    }

    /// The sum over every session, live and closed.
    pub fn totals(&self) -> SessionTraffic {
        let inner = self.lock();
        let sum = SessionTraffic::default();
        inner.retired.received.add_to(&sum.received);
        inner.retired.sent.add_to(&sum.sent);
        for live in inner.live.values() {
            live.received.add_to(&sum.received);
            live.sent.add_to(&sum.sent);
        }
        sum
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // Every update under this lock leaves the registry consistent; ignore poisoning.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One session's counters; dropping it moves them into the registry's retired totals.
#[derive(Debug)]
pub struct TrafficHandle {
    registry: Arc<TrafficRegistry>,
    key: u64,
    counters: Arc<SessionTraffic>,
}

impl TrafficHandle {
    /// Counts one received frame (`body_len` plus the 4-byte header).
    pub fn received(&self, id: u16, body_len: usize) {
        self.counters
            .received
            .add_single_writer(id, 1, body_len as u64 + 4);
    }

    /// Counts one frame this session sent itself.
    pub fn sent(&self, id: u16, frame_len: usize) {
        self.counters
            .sent
            .add_single_writer(id, 1, frame_len as u64);
    }
}

impl Drop for TrafficHandle {
    fn drop(&mut self) {
        // Fold and forget under one lock, so a scrape never counts this session twice or
        // not at all.
        let mut inner = self.registry.lock();
        if let Some(counters) = inner.live.remove(&self.key) {
            counters.received.add_to(&inner.retired.received);
            counters.sent.add_to(&inner.retired.sent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(totals: &[(&str, u64, u64)], name: &str) -> Option<(u64, u64)> {
        totals
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|&(_, p, b)| (p, b))
    }

    #[test]
    fn totals_include_live_and_closed_sessions_exactly_once() {
        let registry = Arc::new(TrafficRegistry::default());
        let a = registry.open();
        let b = registry.open();
        let ping = PacketId::CPing.as_u16();
        a.received(ping, 8);
        b.received(ping, 8);
        b.received(ping, 8);
        drop(b);
        let totals = registry.totals().received.totals();
        assert_eq!(
            find(&totals, "C_Ping"),
            Some((3, 36)),
            "two live pings and one from the closed session, 12 bytes each"
        );
        drop(a);
        assert_eq!(
            registry.lock().live.len(),
            0,
            "closed sessions are forgotten"
        );
        assert_eq!(registry.totals().received.packets(), 3);
    }

    #[test]
    fn a_batch_counts_each_frame_once_per_player_that_got_it() {
        let frame = |id: u16, len: usize| {
            let mut f = vec![0u8; len];
            f[2..4].copy_from_slice(&id.to_le_bytes());
            Bytes::from(f)
        };
        let mv = PacketId::SBroadcastMove.as_u16();
        let enter = PacketId::SBroadcastEnterGame.as_u16();
        let frames = [frame(mv, 20), frame(enter, 20), frame(mv, 20)];
        let counters = PacketCounters::default();
        // Three players had it all; one newcomer skipped the first frame, one the first two.
        counters.add_batch(&frames, 3, &mut [2, 1]);
        let totals = counters.totals();
        assert_eq!(
            find(&totals, "S_BroadcastMove"),
            Some((3 + 5, 8 * 20)),
            "first move to the 3, last move to all 5"
        );
        assert_eq!(find(&totals, "S_BroadcastEnterGame"), Some((4, 80)));
    }

    #[test]
    fn ids_outside_the_schema_share_the_unknown_slot() {
        let counters = PacketCounters::default();
        counters.add(9999, 1, 10);
        counters.add(PacketId::MAX + 1, 1, 10);
        assert_eq!(find(&counters.totals(), "unknown"), Some((2, 20)));
    }
}
