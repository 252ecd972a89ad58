//! `SendBuffer`: thread-local chunks that hand out shared, immutable frames.
//!
//! Encoding a packet needs a place to write it. Allocating a fresh `Vec` per packet is what
//! makes naive servers slow, so, like the course's `SendBufferHelper`, every thread keeps one
//! large chunk and carves frames out of it back to back. A carved frame is a [`Bytes`] that
//! shares the chunk's allocation: cloning it to a thousand sessions costs a thousand
//! reference-count increments, not a thousand copies. When a chunk runs out of room the
//! thread takes a new one; frames already handed out keep the old chunk alive until the last
//! of them is dropped.
//!
//! A frame keeps its whole chunk alive, so memory held by queued frames can exceed their
//! byte count when they come from many chunks. Session queues count bytes, which bounds the
//! frames; a session's I/O task copies small frames into its own buffer as it takes them,
//! and the broadcasts the game room sends are large batches that fill most of a chunk.
//!
//! The thread-local chunk is only borrowed inside [`SendBuffer::write`], a plain synchronous
//! call, so no borrow can ever span an `.await` (a task may resume on another worker thread).

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

/// Size of the chunk each thread carves frames from, unless a request is larger.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

thread_local! {
    static CHUNK: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Entry point to the calling thread's send chunk.
///
/// There is nothing to construct: the chunk lives in a thread-local, and every call opens a
/// reservation, lets the caller fill it and closes it in one go.
pub struct SendBuffer;

impl SendBuffer {
    /// Reserves `reserve` bytes in this thread's chunk, lets `fill` write into them, and closes
    /// the reservation with the length `fill` returns, handing back exactly those bytes.
    ///
    /// The slice given to `fill` is zeroed and exactly `reserve` bytes long. A request larger
    /// than [`DEFAULT_CHUNK_SIZE`] gets a chunk of its own.
    ///
    /// # Panics
    ///
    /// If `fill` reports more bytes used than were reserved: that is a bug in the caller's
    /// size computation, never something a peer can cause.
    pub fn write<F>(reserve: usize, fill: F) -> Bytes
    where
        F: FnOnce(&mut [u8]) -> usize,
    {
        CHUNK.with(|cell| match cell.try_borrow_mut() {
            Ok(mut chunk) => Self::write_into(&mut chunk, DEFAULT_CHUNK_SIZE, reserve, fill),
            // `fill` itself called `write` (a nested encode): the inner call gets a buffer of
            // its own instead of a double-borrow panic.
            Err(_) => Self::write_into(&mut BytesMut::new(), reserve, reserve, fill),
        })
    }

    /// Copies `data` into this thread's chunk; handy for frames built elsewhere.
    pub fn copy_from_slice(data: &[u8]) -> Bytes {
        Self::write(data.len(), |dst| {
            dst.copy_from_slice(data);
            data.len()
        })
    }

    /// The reservation logic on an explicit chunk, so tests can use small chunk sizes.
    fn write_into<F>(chunk: &mut BytesMut, chunk_size: usize, reserve: usize, fill: F) -> Bytes
    where
        F: FnOnce(&mut [u8]) -> usize,
    {
        // `chunk` only ever holds the free tail of the current allocation: everything before
        // it has been split off and handed out. Too small a tail means a fresh chunk; the old
        // allocation lives on inside the frames that point into it.
        // Normally empty already; after a `fill` that panicked it holds that reservation,
        // which is dropped here rather than handed out.
        chunk.clear();
        if chunk.capacity() < reserve {
            *chunk = BytesMut::with_capacity(chunk_size.max(reserve));
        }
        // Zeroing costs little next to encoding and keeps this module free of `unsafe`.
        chunk.resize(reserve, 0);
        let used = fill(&mut chunk[..]);
        assert!(
            used <= reserve,
            "SendBuffer: {used} bytes used but only {reserve} reserved"
        );
        chunk.truncate(used);
        chunk.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_from_one_chunk_share_it_and_stay_independent() {
        let mut chunk = BytesMut::new();
        let a = SendBuffer::write_into(&mut chunk, 64, 8, |b| {
            b[..3].copy_from_slice(b"abc");
            3
        });
        let b = SendBuffer::write_into(&mut chunk, 64, 8, |b| {
            b[..4].copy_from_slice(b"defg");
            4
        });
        assert_eq!(&a[..], b"abc", "first frame keeps its own bytes");
        assert_eq!(&b[..], b"defg", "second frame keeps its own bytes");
        // Back to back in one allocation: no copy per frame.
        assert_eq!(
            a.as_ptr() as usize + 3,
            b.as_ptr() as usize,
            "second frame should follow the first in the same chunk"
        );
    }

    #[test]
    fn frames_survive_chunk_replacement() {
        let mut chunk = BytesMut::new();
        let mut frames = Vec::new();
        for i in 0..100u8 {
            frames.push(SendBuffer::write_into(&mut chunk, 16, 5, |b| {
                b.fill(i);
                5
            }));
        }
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(
                &f[..],
                &[i as u8; 5],
                "frame {i} changed after chunks were replaced"
            );
        }
    }

    #[test]
    fn request_larger_than_a_chunk_works() {
        let mut chunk = BytesMut::new();
        let big = SendBuffer::write_into(&mut chunk, 16, 1000, |b| {
            b.fill(7);
            1000
        });
        assert_eq!(big.len(), 1000);
        assert!(big.iter().all(|&x| x == 7));
        let small = SendBuffer::write_into(&mut chunk, 16, 4, |b| {
            b.fill(1);
            4
        });
        assert_eq!(&small[..], &[1; 4]);
        assert!(
            big.iter().all(|&x| x == 7),
            "big frame must not be overwritten"
        );
    }

    #[test]
    fn unused_reservation_is_returned() {
        let a = SendBuffer::write(100, |b| {
            b[0] = 1;
            1
        });
        let b = SendBuffer::write(10, |b| {
            b[0] = 2;
            1
        });
        assert_eq!((&a[..], &b[..]), (&[1u8][..], &[2u8][..]));
    }

    #[test]
    #[should_panic(expected = "bytes used but only")]
    fn overclaiming_the_reservation_panics() {
        SendBuffer::write(4, |_| 5);
    }

    #[test]
    fn a_nested_write_gets_its_own_buffer() {
        let outer = SendBuffer::write(4, |dst| {
            let inner = SendBuffer::write(2, |d| {
                d.copy_from_slice(b"in");
                2
            });
            dst[..2].copy_from_slice(&inner);
            dst[2..].copy_from_slice(b"ok");
            4
        });
        assert_eq!(&outer[..], b"inok");
    }

    #[test]
    fn a_panicking_fill_leaves_the_chunk_usable() {
        let caught = std::panic::catch_unwind(|| SendBuffer::write(8, |_| panic!("encoder bug")));
        assert!(caught.is_err());
        let after = SendBuffer::write(3, |dst| {
            dst.copy_from_slice(b"abc");
            3
        });
        assert_eq!(
            &after[..],
            b"abc",
            "the half-written reservation is not handed out"
        );
    }

    #[test]
    fn frames_are_valid_across_threads() {
        let handles: Vec<_> = (0..8u8)
            .map(|t| {
                std::thread::spawn(move || {
                    (0..5000u32)
                        .map(|i| {
                            SendBuffer::write(9, |b| {
                                b[0] = t;
                                b[1..5].copy_from_slice(&i.to_le_bytes());
                                5
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let all: Vec<(u8, Vec<Bytes>)> = handles
            .into_iter()
            .enumerate()
            .map(|(t, h)| (t as u8, h.join().expect("writer thread panicked")))
            .collect();
        // Read every frame on this thread, after their chunks were replaced many times and the
        // writer threads are gone.
        for (t, frames) in all {
            for (i, f) in frames.iter().enumerate() {
                assert_eq!(f[0], t, "frame from thread {t} has a foreign writer byte");
                assert_eq!(
                    &f[1..5],
                    &(i as u32).to_le_bytes(),
                    "frame {i} of thread {t} was overwritten"
                );
            }
        }
    }
}
