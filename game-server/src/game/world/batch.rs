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
///
/// Each recipient keeps its list (and the list its capacity) from tick to tick, found through
/// one hash lookup per frame queued; a tick allocates nothing but the buffers it sends.
#[derive(Debug, Default)]
pub struct Batch {
    arena: Vec<u8>,
    /// Recipient -> its place in `lists`.
    index: IdMap<u32>,
    lists: Vec<(i32, Vec<FrameRef>)>,
    /// Places of the lists that got a frame since the last drain, in the order they got
    /// their first. A place may repeat (taken, then queued to again); the drain skips a list
    /// already emptied.
    active: Vec<u32>,
    refs: usize,
}

/// Recipients kept without a frame past this many (plus twice those active) make the drain
/// forget every list: players who left or walked away do not hold memory for ever.
const IDLE_LISTS: usize = 4096;

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
        let lists = &mut self.lists;
        let at = *self.index.entry(to).or_insert_with(|| {
            lists.push((to, Vec::new()));
            (lists.len() - 1) as u32
        });
        let list = &mut self.lists[at as usize].1;
        if list.is_empty() {
            self.active.push(at);
        }
        list.push(frame);
        self.refs += 1;
    }

    /// Memory the batch holds: what the early-flush bound is checked against.
    pub fn bytes(&self) -> usize {
        self.arena.len() + self.refs * std::mem::size_of::<FrameRef>()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.refs == 0
    }

    /// With nothing queued, forgets what [`Batch::take`] left behind (the arena's bytes and
    /// the places of lists it emptied), which a drain would otherwise clear: a tick whose
    /// frames all went out early does not carry them into the next.
    pub fn clear_taken(&mut self) {
        if self.refs == 0 {
            self.arena.clear();
            self.active.clear();
        }
    }

    /// Takes one recipient's frames as one buffer: (frames, bytes).
    pub fn take(&mut self, to: i32) -> Option<(Bytes, usize)> {
        let at = *self.index.get(&to)? as usize;
        let refs = std::mem::take(&mut self.lists[at].1);
        if refs.is_empty() {
            self.lists[at].1 = refs;
            return None;
        }
        let out = (self.assemble(&refs), refs.len());
        self.refs -= refs.len();
        let mut refs = refs;
        refs.clear();
        self.lists[at].1 = refs;
        Some(out)
    }

    /// Hands every recipient's frames to `send` as one buffer each (recipient, buffer,
    /// frames), in the order recipients got their first frame, and empties the arena.
    pub fn drain(&mut self, mut send: impl FnMut(i32, Bytes, usize)) {
        let active = std::mem::take(&mut self.active);
        let mut recipients = 0;
        for &at in &active {
            let (to, refs) = &mut self.lists[at as usize];
            if refs.is_empty() {
                continue;
            }
            let (to, mut refs) = (*to, std::mem::take(refs));
            recipients += 1;
            send(to, self.assemble(&refs), refs.len());
            refs.clear();
            self.lists[at as usize].1 = refs;
        }
        let mut active = active;
        active.clear();
        self.active = active;
        self.arena.clear();
        self.refs = 0;
        if self.lists.len() > IDLE_LISTS + 2 * recipients {
            self.index.clear();
            self.lists.clear();
        }
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

    /// A move of player 1 (20 bytes) and a leave of player 2 (8 bytes), encoded.
    fn move_and_leave(batch: &mut Batch) -> (FrameRef, FrameRef) {
        let m = batch.encode(&SBroadcastMove {
            player_id: 1,
            pos_x: 1.0,
            pos_y: 0.0,
            pos_z: 2.0,
        });
        let l = batch.encode(&SBroadcastLeaveGame { player_id: 2 });
        (m.expect("encodes"), l.expect("encodes"))
    }

    #[test]
    fn each_recipient_gets_its_frames_in_order_from_one_encoding() {
        let mut batch = Batch::default();
        let (m, l) = move_and_leave(&mut batch);
        batch.queue(10, m);
        batch.queue(10, l);
        batch.queue(11, m);
        assert_eq!(batch.bytes(), 20 + 8 + 3 * 8);
        let (ten, frames) = batch.take(10).expect("10 has frames");
        assert_eq!((ten.len(), frames), (28, 2));
        assert_eq!(&ten[2..4], &6u16.to_le_bytes(), "the move first");
        assert_eq!(&ten[22..24], &3u16.to_le_bytes(), "then the leave");
        let mut rest = Vec::new();
        batch.drain(|to, frame, frames| rest.push((to, frame, frames)));
        assert_eq!(rest.len(), 1);
        assert_eq!(&rest[0].1[..], &ten[..20], "11 gets the same move bytes");
        assert!(batch.is_empty() && batch.bytes() == 0);
        assert_eq!(batch.take(10), None, "10's list was emptied by the take");

        // Everything taken early: the tick has nothing to send, and nothing stays behind.
        let m2 = batch
            .encode(&SBroadcastLeaveGame { player_id: 3 })
            .expect("encodes");
        batch.queue(12, m2);
        assert!(batch.take(12).is_some());
        assert!(batch.is_empty());
        batch.clear_taken();
        assert_eq!((batch.bytes(), batch.active.len()), (0, 0));

        // The next tick reuses the lists: a recipient taken and queued to again is sent once.
        let (m, l) = move_and_leave(&mut batch);
        batch.queue(10, m);
        assert!(batch.take(10).is_some());
        batch.queue(10, l);
        batch.queue(11, m);
        let mut next = Vec::new();
        batch.drain(|to, frame, frames| next.push((to, frame.len(), frames)));
        assert_eq!(next, vec![(10, 8, 1), (11, 20, 1)]);
    }
}
