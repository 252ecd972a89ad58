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

use crate::close_reason::CloseReason;
use crate::config::Config;
use crate::local_batch;
use crate::recv_buffer::{RecvBuffer, RecvBufferError};
use crate::session::{Session, SessionHandler};
use crate::thread_recv;

/// Where a session's reads land and what it keeps between them.
pub(crate) struct Receiver {
    /// The session's own buffer; with `per_thread` it stays empty and only gives the cap.
    recv: RecvBuffer,
    /// `Config::recv_buffer_size`: the first allocation of `recv`, or one read's size.
    recv_initial: usize,
    per_thread: bool,
    /// With `per_thread`, the bytes the handler left unconsumed.
    carry: Vec<u8>,
}

impl Receiver {
    pub(crate) fn new(config: &Config) -> Receiver {
        Receiver {
            recv: RecvBuffer::new(config.max_packet_size.max(config.recv_buffer_size)),
            recv_initial: config.recv_buffer_size,
            per_thread: config.recv_per_thread,
            carry: Vec::new(),
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
        let cap = self.recv.max_capacity();
        if self.per_thread {
            if self.carry.len() >= cap {
                // As `reserve_for_read` for a full buffer.
                let e = RecvBufferError::CapacityExceeded {
                    needed: cap + 1,
                    max: cap,
                };
                close_full(session, &e);
                return None;
            }
            return Some(thread_recv::read_through(
                &mut self.carry,
                cap,
                self.recv_initial,
                read,
                |data| deliver(session, handler, data),
            ));
        }
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
                if self.recv.data_size() == 0 && self.recv.capacity() > self.recv_initial {
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
