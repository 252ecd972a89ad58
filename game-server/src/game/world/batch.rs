//! `Batch`: one region's frames for the current tick, encoded once, gathered per recipient.
//!
//! A move seen by forty players is encoded once into the tick's arena; each of the forty
//! gets a 8-byte reference to it. On the tick, each recipient's references are copied into
//! one `SendBuffer` frame run, so it receives one buffer (one send, one vectored write) per
//! region per tick, its frames in the order they happened.

use bytes::Bytes;
use server_core::{Packet, SendBuffer};

use crate::game::world::ids::IdMap;

/// Where a frame sits in the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef {
    start: u32,
    len: u32,
}

/// The tick's frames and who gets which.
#[derive(Debug, Default)]
pub struct Batch {
    arena: Vec<u8>,
    pending: IdMap<Vec<FrameRef>>,
    refs: usize,
}

impl Batch {
    /// Encodes `packet` once into the arena; `None` if it cannot be encoded (logged).
    pub fn encode<P: Packet>(&mut self, packet: &P) -> Option<FrameRef> {
        let len = match packet.frame_len() {
            Ok(len) => len,
            Err(e) => {
                tracing::error!(packet = P::NAME, error = %e, "world frame did not encode");
                return None;
            }
        };
        let start = self.arena.len();
        self.arena.resize(start + len, 0);
        let written = packet.write_frame(&mut self.arena[start..]);
        self.arena.truncate(start + written);
        Some(FrameRef {
            start: start as u32,
            len: written as u32,
        })
    }

    /// Queues a frame for a recipient.
    pub fn queue(&mut self, to: i32, frame: FrameRef) {
        self.pending.entry(to).or_default().push(frame);
        self.refs += 1;
    }

    /// Memory the batch holds: what the early-flush bound is checked against.
    pub fn bytes(&self) -> usize {
        self.arena.len() + self.refs * std::mem::size_of::<FrameRef>()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes one recipient's frames as one buffer: (frames, bytes).
    pub fn take(&mut self, to: i32) -> Option<(Bytes, usize)> {
        let refs = self.pending.remove(&to)?;
        self.refs -= refs.len();
        Some((self.assemble(&refs), refs.len()))
    }

    /// Takes every recipient's frames and empties the arena.
    pub fn drain(&mut self) -> Vec<(i32, Bytes, usize)> {
        let pending = std::mem::take(&mut self.pending);
        let out = pending
            .into_iter()
            .map(|(to, refs)| (to, self.assemble(&refs), refs.len()))
            .collect();
        self.arena.clear();
        self.refs = 0;
        out
    }

    fn assemble(&self, refs: &[FrameRef]) -> Bytes {
        let total: usize = refs.iter().map(|r| r.len as usize).sum();
        SendBuffer::write(total, |dst| {
            let mut at = 0;
            for r in refs {
                let (s, l) = (r.start as usize, r.len as usize);
                dst[at..at + l].copy_from_slice(&self.arena[s..s + l]);
                at += l;
            }
            at
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::packets::{SBroadcastLeaveGame, SBroadcastMove};

    #[test]
    fn each_recipient_gets_its_frames_in_order_from_one_encoding() {
        let mut batch = Batch::default();
        let m = batch
            .encode(&SBroadcastMove {
                player_id: 1,
                pos_x: 1.0,
                pos_y: 0.0,
                pos_z: 2.0,
            })
            .expect("encodes");
        let l = batch
            .encode(&SBroadcastLeaveGame { player_id: 2 })
            .expect("encodes");
        batch.queue(10, m);
        batch.queue(10, l);
        batch.queue(11, m);
        assert_eq!(batch.bytes(), 20 + 8 + 3 * 8);
        let (ten, frames) = batch.take(10).expect("10 has frames");
        assert_eq!((ten.len(), frames), (28, 2));
        assert_eq!(&ten[2..4], &6u16.to_le_bytes(), "the move first");
        assert_eq!(&ten[22..24], &3u16.to_le_bytes(), "then the leave");
        let rest = batch.drain();
        assert_eq!(rest.len(), 1);
        assert_eq!(&rest[0].1[..], &ten[..20], "11 gets the same move bytes");
        assert!(batch.is_empty() && batch.bytes() == 0);
    }
}
