//! A session's receive side, shared by both drivers (`driver.rs`, `stream_driver.rs`): where
//! a read lands, the handler call that follows, and what is kept for the next read.
//!
//! By default a session reads into its own [`RecvBuffer`]. With
//! [`Config::recv_per_thread`](crate::Config) it reads through its thread's buffer instead
//! (`thread_recv.rs`) and keeps only the partial frame its handler left.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::config::Config;
use crate::error::CloseReason;
use crate::local_batch;
use crate::recv_buffer::{RecvBuffer, RecvBufferError};
use crate::session::{Session, SessionHandler};
use crate::thread_recv;

/// Where a session's reads land and what it keeps between them.
pub(crate) struct Receiver {
    /// The session's own buffer; with `per_thread` it holds only what the handler left.
    recv: RecvBuffer,
    /// `Config::recv_buffer_size`: the first allocation of `recv`, and one read's size.
    recv_initial: usize,
    per_thread: bool,
}

impl Receiver {
    pub(crate) fn new(config: &Config) -> Receiver {
        Receiver {
            recv: RecvBuffer::new(config.max_packet_size.max(config.recv_buffer_size)),
            recv_initial: config.recv_buffer_size,
            per_thread: config.recv_per_thread,
        }
    }

    /// One read through `read` (given the room to fill, it returns what it read, `Ok(0)` at
    /// the end of the stream) and, if bytes came, the handler call that follows. Returns what
    /// `read` returned, or `None` if there was no room to read: the received bytes have
    /// reached the cap without the handler consuming any, and the session is closed.
    pub(crate) fn read<H: SessionHandler>(
        &mut self,
        session: &Arc<Session>,
        handler: &mut H,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> Option<io::Result<usize>> {
        let kept = self.recv.data_size();
        if self.per_thread && kept <= thread_recv::SMALL_CARRY && kept < self.recv.max_capacity() {
            return Some(thread_recv::read_through(
                &mut self.recv,
                self.recv_initial,
                read,
                |data| deliver(session, handler, data),
            ));
        }
        // Without `per_thread`, or with a large partial frame (see `thread_recv.rs`), or a
        // full buffer, which `reserve_for_read` closes.
        if !reserve_for_read(session, &mut self.recv, self.recv_initial) {
            return None;
        }
        let result = read(self.recv.write_segment());
        if let Ok(n @ 1..) = result {
            // `read` filled at most the segment's length, so this cannot fail.
            let _ = self.recv.on_write(n);
            if let Some(consumed) = deliver(session, handler, self.recv.read_segment()) {
                // `deliver` checked the count against the data.
                let _ = self.recv.on_read(consumed);
                self.recv.clean();
                let keep = if self.per_thread {
                    thread_recv::CARRY_KEEP
                } else {
                    self.recv_initial
                };
                if self.recv.data_size() == 0 && self.recv.capacity() > keep {
                    // A burst grew the buffer; hand the memory back now that it is drained.
                    self.recv.release_if_empty();
                }
            }
        }
        Some(result)
    }
}

fn close_full(session: &Session, e: &RecvBufferError) {
    // Only a raw `SessionHandler` that never consumes can fill a buffer capped at
    // `max_packet_size`; `PacketSession` refuses oversized frames first.
    session.disconnect(CloseReason::ApplicationError(format!(
        "receive buffer full: {e}"
    )));
}

/// Makes room in `recv` for the next read. False (and the session closed) if it is full.
#[inline]
fn reserve_for_read(session: &Session, recv: &mut RecvBuffer, recv_initial: usize) -> bool {
    // Room for a good read, not just a byte: a partial frame left near the end of the
    // buffer would otherwise be read a few bytes per syscall. Never more than the cap
    // leaves room for, or a partial frame of exactly `max_packet_size` could not complete.
    let room = recv.max_capacity() - recv.data_size();
    let want = (recv_initial / 4).min(room).max(1);
    if let Err(e) = recv.reserve(want, recv_initial) {
        close_full(session, &e);
        return false;
    }
    true
}

/// Hands `data` to the handler and collects the replies it made into the session's queue.
/// Returns how many bytes it consumed, or `None` if it panicked or claimed more than it was
/// given (the session is closed then).
fn deliver<H: SessionHandler>(
    session: &Arc<Session>,
    handler: &mut H,
    data: &[u8],
) -> Option<usize> {
    local_batch::open(session.id());
    let result = catch_unwind(AssertUnwindSafe(|| handler.on_recv(session, data)));
    local_batch::close(|frames, bytes| session.enqueue_batch(frames, bytes));
    let Ok(consumed) = result else {
        session.disconnect(CloseReason::ApplicationError("on_recv panicked".into()));
        return None;
    };
    if consumed > data.len() {
        let e = RecvBufferError::ReadOverflow {
            count: consumed,
            data: data.len(),
        };
        session.disconnect(CloseReason::ApplicationError(format!("on_recv: {e}")));
        return None;
    }
    if consumed > 0 {
        // Progress for the idle check is input the handler could use (for a
        // PacketSession, a complete frame), not bytes: a peer trickling a frame that never
        // completes is as idle as a silent one.
        session.received_since_check.store(true, Ordering::Relaxed);
    }
    Some(consumed)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Consumes whole `[len u16][len - 2 bytes]` frames and records them.
    struct Frames(Vec<Vec<u8>>);

    impl SessionHandler for Frames {
        fn on_recv(&mut self, _: &Arc<Session>, data: &[u8]) -> usize {
            let mut used = 0;
            while let Some(head) = data.get(used..used + 2) {
                let len = usize::from(u16::from_le_bytes([head[0], head[1]])).max(2);
                let Some(frame) = data.get(used..used + len) else {
                    break;
                };
                self.0.push(frame.to_vec());
                used += len;
            }
            used
        }
    }

    fn stream(lens: &[u16]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            let len = len.max(2);
            bytes.extend(len.to_le_bytes());
            bytes.extend((2..len).map(|j| (i as u8).wrapping_add(j as u8)));
        }
        bytes
    }

    proptest! {
        /// Both receive modes hand the handler the same frames as one read of the whole
        /// stream would, whatever the reads' sizes, with frames small and large enough to
        /// move a per-thread session between the thread's buffer and its own.
        #[test]
        fn both_modes_deliver_every_frame_in_order(
            lens in proptest::collection::vec(2u16..4000, 0..30),
            reads in proptest::collection::vec(1usize..5000, 1..100),
            chunk in 16usize..3000,
            per_thread in any::<bool>(),
        ) {
            let bytes = stream(&lens);
            let config = Config {
                recv_per_thread: per_thread,
                recv_buffer_size: chunk,
                max_packet_size: 4096,
                ..Config::default()
            };
            let addr = "127.0.0.1:1".parse().expect("literal");
            let session = Arc::new(Session::new(addr, addr, &config));
            let mut receiver = Receiver::new(&config);
            let mut handler = Frames(Vec::new());
            let mut at = 0;
            for &size in reads.iter().cycle() {
                if at == bytes.len() {
                    break;
                }
                let read = receiver.read(&session, &mut handler, |buf| {
                    let n = size.min(buf.len()).min(bytes.len() - at);
                    buf[..n].copy_from_slice(&bytes[at..at + n]);
                    Ok(n)
                });
                let n = match read {
                    Some(Ok(n)) => n,
                    other => return Err(TestCaseError::fail(format!("read gave {other:?}"))),
                };
                prop_assert!(n > 0, "never an empty read");
                at += n;
            }
            prop_assert!(!session.is_closed());
            prop_assert_eq!(receiver.recv.data_size(), 0);
            let want: Vec<Vec<u8>> = {
                let mut whole = Frames(Vec::new());
                prop_assert_eq!(whole.on_recv(&session, &bytes), bytes.len());
                whole.0
            };
            prop_assert_eq!(handler.0, want);
        }
    }
}
