//! Reading through one buffer per thread ([`Config::recv_per_thread`](crate::Config)).
//!
//! A session that reads into its own buffer writes a different piece of memory on every
//! read: thousands of sessions that each receive tens of kilobytes a tick touch hundreds of
//! megabytes, so the kernel's copy into the buffer and the parse that follows both miss the
//! cache. Read through one buffer per worker thread instead, every read lands in memory that
//! is already cached, and a session keeps between reads only the partial frame its handler
//! left (usually a few bytes, at most `max_packet_size`). The price is copying that partial
//! frame in before the read and out after it.
//!
//! This module holds no socket: the read and the handler are closures, so the buffering is
//! tested on scripted input.

use std::cell::RefCell;
use std::io;

thread_local! {
    /// The thread's buffer. Grows to the largest read a session on this thread asked for.
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Carried bytes a session may keep between reads without holding the allocation: a burst
/// that left a large partial frame gives its memory back once the frame is through.
const CARRY_KEEP: usize = 256;

/// Reads once through this thread's buffer.
///
/// `carry` holds the bytes the handler did not consume last time; it must be shorter than
/// `cap` (the caller closes a session whose carry has reached it, as a full `RecvBuffer`).
/// They are copied to the front of the buffer, `read` fills up to `chunk` bytes after them
/// (at least as many as are carried, so a large frame arriving in pieces is copied a
/// logarithmic number of times, never past `cap` in all), and `deliver` is handed everything
/// and returns how many bytes it consumed, or `None` if it failed, in which case the session
/// is closing and nothing is kept. Returns what `read` returned: `Ok(0)` at the end of the
/// stream (nothing delivered) or its error (nothing delivered, carry unchanged).
pub(crate) fn read_through(
    carry: &mut Vec<u8>,
    cap: usize,
    chunk: usize,
    read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    deliver: impl FnOnce(&[u8]) -> Option<usize>,
) -> io::Result<usize> {
    let kept = carry.len();
    debug_assert!(
        kept < cap,
        "the caller closes a session whose carry is full"
    );
    let end = (kept + chunk.max(kept).max(1)).min(cap);
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => run(&mut buffer, carry, end, read, deliver),
        // Only a handler that somehow read another session from inside `on_recv` could get
        // here; it gets a buffer of its own for this one read rather than a panic.
        Err(_) => run(&mut Vec::new(), carry, end, read, deliver),
    })
}

fn run(
    buffer: &mut Vec<u8>,
    carry: &mut Vec<u8>,
    end: usize,
    read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    deliver: impl FnOnce(&[u8]) -> Option<usize>,
) -> io::Result<usize> {
    if buffer.len() < end {
        buffer.resize(end, 0);
    }
    let kept = carry.len();
    buffer[..kept].copy_from_slice(carry);
    let n = read(&mut buffer[kept..end])?;
    if n == 0 {
        return Ok(0);
    }
    let data = &buffer[..kept + n];
    carry.clear();
    match deliver(data) {
        Some(consumed) => {
            carry.extend_from_slice(&data[consumed.min(data.len())..]);
            if carry.is_empty() && carry.capacity() > CARRY_KEEP {
                *carry = Vec::new();
            }
        }
        None => *carry = Vec::new(),
    }
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
            let mut carry = Vec::new();
            let mut at = 0;
            for &size in reads.iter().cycle() {
                if at == bytes.len() {
                    break;
                }
                let n = read_through(
                    &mut carry,
                    256,
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
                prop_assert!(carry.len() < 255, "a carry is at most a partial frame");
            }
            prop_assert!(carry.is_empty());
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn a_large_carry_reads_at_least_its_own_size_and_never_past_the_cap() {
        let mut carry = vec![7u8; 100];
        let mut asked = 0;
        let n = read_through(
            &mut carry,
            150,
            10,
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
        assert_eq!(carry.len(), 150, "nothing consumed: all of it is carried");
    }

    #[test]
    fn errors_and_the_end_of_stream_keep_the_carry_and_deliver_nothing() {
        let mut carry = vec![1, 2, 3];
        for result in [Ok(0), Err(io::ErrorKind::WouldBlock.into())] {
            let out = read_through(
                &mut carry,
                64,
                16,
                |_| result,
                |_| panic!("nothing to deliver"),
            );
            assert!(matches!(out, Ok(0) | Err(_)));
            assert_eq!(carry, [1, 2, 3]);
        }
    }

    #[test]
    fn a_failed_delivery_keeps_nothing_and_a_drained_burst_gives_its_memory_back() {
        let mut carry = vec![9u8; 1000];
        let fill = |buf: &mut [u8]| {
            buf.fill(0);
            Ok(buf.len())
        };
        read_through(&mut carry, 4096, 16, fill, |_| None).expect("read");
        assert_eq!((carry.len(), carry.capacity()), (0, 0));

        let mut carry = vec![9u8; 1000];
        read_through(&mut carry, 4096, 16, fill, |data| Some(data.len())).expect("read");
        assert_eq!(
            carry.capacity(),
            0,
            "1000 bytes of capacity is more than a carry keeps"
        );
    }

    #[test]
    fn a_read_from_inside_a_delivery_gets_its_own_buffer() {
        let mut outer = Vec::new();
        let mut inner_seen = Vec::new();
        read_through(
            &mut outer,
            64,
            8,
            |buf| {
                buf[..2].copy_from_slice(b"ab");
                Ok(2)
            },
            |data| {
                let mut inner = Vec::new();
                read_through(
                    &mut inner,
                    64,
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
