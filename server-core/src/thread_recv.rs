//! Reading through one buffer per thread ([`Config::recv_per_thread`](crate::Config)).
//!
//! A session that reads into its own buffer writes a different piece of memory on every
//! read: thousands of sessions that each receive tens of kilobytes a tick touch hundreds of
//! megabytes, so the kernel's copy into the buffer and the parse that follows both miss the
//! cache. Read through one buffer per worker thread instead, every read lands in memory that
//! is already cached, and a session keeps between reads only the partial frame its handler
//! left (usually a few bytes). The price is copying that partial frame in before the read and
//! out after it, so this path is taken only while the partial frame is small
//! ([`SMALL_CARRY`]); a large frame arriving in pieces is read into the session's own buffer,
//! as without the option, rather than copied in and out on every piece.
//!
//! This module holds no socket: the read and the handler are closures, so the buffering is
//! tested on scripted input.

use std::cell::RefCell;
use std::io;

use crate::recv_buffer::RecvBuffer;

thread_local! {
    /// The thread's buffer. Grows to the largest read a session on this thread asked for.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The most carried bytes a read through the thread's buffer copies in and out (at most
/// twice this per read, so a peer trickling a frame a byte at a time costs little more than
/// its syscalls); a larger partial frame is read into the session's own buffer.
pub(crate) const SMALL_CARRY: usize = 1024;

/// Capacity a session's buffer may keep while nothing is carried; more is given back.
pub(crate) const CARRY_KEEP: usize = 256;

/// Reads once through this thread's buffer.
///
/// `carry` (the session's own buffer) holds the bytes the handler did not consume last time,
/// at most [`SMALL_CARRY`] of them and fewer than its cap. They are copied to the front of the thread's buffer,
/// `read` fills up to `chunk` bytes after them, and `deliver` is handed everything and
/// returns how many bytes it consumed, or `None` if it failed (the session is closing then,
/// and nothing is kept). What it left goes back into `carry`, which gives its memory back
/// once it is empty. Returns what `read` returned: `Ok(0)` at the end of the stream, or its
/// error, with nothing delivered and `carry` unchanged either way.
pub(crate) fn read_through(
    carry: &mut RecvBuffer,
    chunk: usize,
    read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    deliver: impl FnOnce(&[u8]) -> Option<usize>,
) -> io::Result<usize> {
    let kept = carry.data_size();
    debug_assert!(kept <= SMALL_CARRY && kept < carry.max_capacity());
    // Never past the cap a session's own buffer has, so a frame the handler cannot consume
    // still closes the session at the same size.
    let end = (kept + chunk.max(1)).min(carry.max_capacity());
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => run(&mut buffer, carry, end, read, deliver),
        // Only a handler that somehow read another session from inside `on_recv` could get
        // here; it gets a buffer of its own for this one read rather than a panic.
        Err(_) => run(&mut Vec::new(), carry, end, read, deliver),
    })
}

fn run(
    buffer: &mut Vec<u8>,
    carry: &mut RecvBuffer,
    end: usize,
    read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    deliver: impl FnOnce(&[u8]) -> Option<usize>,
) -> io::Result<usize> {
    if buffer.len() < end {
        buffer.resize(end, 0);
    }
    let kept = carry.data_size();
    buffer[..kept].copy_from_slice(carry.read_segment());
    let n = read(&mut buffer[kept..end])?;
    if n == 0 {
        return Ok(0);
    }
    let data = &buffer[..kept + n];
    // Emptied: the cursors go back to the start (cannot fail: `kept` bytes are there).
    let _ = carry.on_read(kept);
    carry.clean();
    let left = match deliver(data) {
        Some(consumed) => &data[consumed.min(data.len())..],
        None => &[][..],
    };
    if left.is_empty() {
        if carry.capacity() > CARRY_KEEP {
            carry.release_if_empty();
        }
        return Ok(n);
    }
    // `left` came from a read that ended at the cap, so an empty buffer has room for it; were
    // that ever not so, the session closes with the reason rather than lose the bytes.
    carry
        .reserve(left.len(), left.len())
        .map_err(io::Error::other)?;
    carry.write_segment()[..left.len()].copy_from_slice(left);
    // Room for `left` was just reserved.
    let _ = carry.on_write(left.len());
    Ok(n)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A handler that consumes whole frames of `[len u8][len - 1 bytes]` and records them.
    fn frames(data: &[u8], out: &mut Vec<Vec<u8>>) -> usize {
        let mut used = 0;
        while let Some(&len) = data.get(used) {
            let len = usize::from(len.max(1));
            let Some(frame) = data.get(used..used + len) else {
                break;
            };
            out.push(frame.to_vec());
            used += len;
        }
        used
    }

    fn stream(lens: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            let len = len.max(1);
            bytes.push(len);
            bytes.extend((1..len).map(|j| (i as u8).wrapping_add(j)));
        }
        bytes
    }

    /// A carry holding `bytes`, capped at `cap`.
    fn carrying(bytes: &[u8], cap: usize) -> RecvBuffer {
        let mut carry = RecvBuffer::new(cap);
        carry.reserve(bytes.len().max(1), 1).expect("under the cap");
        carry.write_segment()[..bytes.len()].copy_from_slice(bytes);
        carry.on_write(bytes.len()).expect("reserved");
        carry
    }

    proptest! {
        /// Whatever the split of the stream into reads, the handler sees the same frames in
        /// the same order as it would reading the whole stream at once, and each read ends
        /// with exactly the unconsumed tail carried.
        #[test]
        fn frames_survive_any_split(
            lens in proptest::collection::vec(1u8..=255, 0..40),
            reads in proptest::collection::vec(1usize..300, 1..200),
            chunk in 1usize..64,
        ) {
            let bytes = stream(&lens);
            let mut want = Vec::new();
            let all = frames(&bytes, &mut want);
            prop_assert_eq!(all, bytes.len());

            let mut got = Vec::new();
            let mut carry = RecvBuffer::new(256);
            let mut at = 0;
            for &size in reads.iter().cycle() {
                if at == bytes.len() {
                    break;
                }
                let n = read_through(
                    &mut carry,
                    chunk,
                    |buf| {
                        let n = size.min(buf.len()).min(bytes.len() - at);
                        buf[..n].copy_from_slice(&bytes[at..at + n]);
                        Ok(n)
                    },
                    |data| Some(frames(data, &mut got)),
                )
                .expect("scripted reads do not fail");
                prop_assert!(n > 0);
                at += n;
                prop_assert!(carry.data_size() < 255, "a carry is at most a partial frame");
            }
            prop_assert_eq!(carry.data_size(), 0);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn a_read_comes_after_the_carry_and_never_passes_the_cap() {
        let mut carry = carrying(&[7u8; 100], 150);
        let mut asked = 0;
        let n = read_through(
            &mut carry,
            1000,
            |buf| {
                asked = buf.len();
                buf.fill(1);
                Ok(buf.len())
            },
            |data| {
                assert_eq!(&data[..100], &[7u8; 100][..], "the carry comes first");
                Some(0)
            },
        )
        .expect("read");
        assert_eq!(
            (asked, n),
            (50, 50),
            "100 carried: read up to the cap of 150"
        );
        assert_eq!(
            carry.data_size(),
            150,
            "nothing consumed: all of it is carried"
        );
    }

    #[test]
    fn errors_and_the_end_of_stream_keep_the_carry_and_deliver_nothing() {
        let mut carry = carrying(&[1, 2, 3], 64);
        let end = read_through(&mut carry, 16, |_| Ok(0), |_| panic!("nothing to deliver"));
        assert_eq!(end.ok(), Some(0), "the end of the stream");
        assert_eq!(carry.read_segment(), [1, 2, 3]);
        let blocked = read_through(
            &mut carry,
            16,
            |_| Err(io::ErrorKind::WouldBlock.into()),
            |_| panic!("nothing to deliver"),
        );
        assert_eq!(
            blocked.map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock)
        );
        assert_eq!(carry.read_segment(), [1, 2, 3]);
    }

    #[test]
    fn a_failed_delivery_keeps_nothing_and_a_drained_carry_gives_its_memory_back() {
        let fill = |buf: &mut [u8]| {
            buf.fill(0);
            Ok(buf.len())
        };
        let mut carry = carrying(&[9u8; 1000], 4096);
        read_through(&mut carry, 16, fill, |_| None).expect("read");
        assert_eq!((carry.data_size(), carry.capacity()), (0, 0));

        let mut carry = carrying(&[9u8; 1000], 4096);
        read_through(&mut carry, 16, fill, |data| Some(data.len())).expect("read");
        assert_eq!(carry.capacity(), 0, "more capacity than a carry keeps");

        let mut carry = carrying(&[9u8; 1000], 4096);
        read_through(&mut carry, 16, fill, |_| Some(10)).expect("read");
        assert_eq!(carry.data_size(), 1006, "1016 delivered, 10 consumed");
    }

    #[test]
    fn a_read_from_inside_a_delivery_gets_its_own_buffer() {
        let mut outer = RecvBuffer::new(64);
        let mut inner_seen = Vec::new();
        read_through(
            &mut outer,
            8,
            |buf| {
                buf[..2].copy_from_slice(b"ab");
                Ok(2)
            },
            |data| {
                let mut inner = RecvBuffer::new(64);
                read_through(
                    &mut inner,
                    8,
                    |buf| {
                        buf[..2].copy_from_slice(b"xy");
                        Ok(2)
                    },
                    |d| {
                        inner_seen.extend_from_slice(d);
                        Some(2)
                    },
                )
                .expect("inner read");
                assert_eq!(
                    data, b"ab",
                    "the inner read did not write over the outer one"
                );
                Some(2)
            },
        )
        .expect("outer read");
        assert_eq!(inner_seen, b"xy");
    }
}
