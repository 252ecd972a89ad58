//! `Session`: one connection's shared half, its send queue, and the handler callbacks.
//!
//! [`Session`] is what the application holds (in an `Arc`): `send` and `disconnect` work from
//! any thread, tokio or not, and never block. The other half is one tokio task per connection
//! (`driver.rs`) that owns the socket and the application's [`SessionHandler`]; it waits for
//! readiness and does the reads and the batched writes itself, so the handler needs no lock
//! and the socket is never shared.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::config::Config;
use crate::error::CloseReason;
use crate::error::EncodeError;
use crate::filter::FrameSink;
use crate::local_batch;
use crate::packet::Packet;
use crate::send_buffer::SendBuffer;

/// The callbacks of one session, the course's overridable `OnConnected` / `OnRecv` /
/// `OnSend` / `OnDisconnected`. They run on the session's own task, one at a time.
pub trait SessionHandler: Send + 'static {
    /// The connection is up; `session` can be stored and used to send from anywhere.
    fn on_connected(&mut self, session: &Arc<Session>) {
        let _ = session;
    }

    /// New bytes arrived. `data` is everything received and not consumed yet; return how
    /// many bytes were consumed. The rest is offered again, with more, on the next call.
    fn on_recv(&mut self, session: &Arc<Session>, data: &[u8]) -> usize;

    /// `bytes` were written to the socket.
    fn on_send(&mut self, session: &Arc<Session>, bytes: usize) {
        let _ = (session, bytes);
    }

    /// The session is closed; called exactly once, last.
    fn on_disconnected(&mut self, session: &Arc<Session>, reason: &CloseReason) {
        let _ = (session, reason);
    }
}

/// Why [`Session::send`] did not queue a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The session is closed (or closing); nothing more goes out.
    #[error("session is closed")]
    Closed,
    /// The frame would have passed the send queue limit; the session is now closed as a
    /// slow consumer.
    #[error("send queue limit exceeded: session closed as a slow consumer")]
    QueueFull,
    /// The packet could not be encoded (see [`EncodeError`]); nothing was queued.
    #[error(transparent)]
    Encode(EncodeError),
}

/// The application's handle on one connection.
pub struct Session {
    id: u64,
    peer_addr: SocketAddr,
    local_addr: SocketAddr,
    send_queue_limit: usize,
    max_packet_size: usize,
    /// Frames waiting for the I/O task, and the byte count it must stay under. A std mutex,
    /// not a tokio one: it is held only to push or swap a `Vec`, never across an `.await`,
    /// and `send` must work from threads that have no runtime. Other threads' sends wake the
    /// task on the empty -> non-empty edge; the task's own `enqueue_batch` (replies made in
    /// `on_recv`) wakes nobody, because the task writes the queue right after it returns.
    queue: Mutex<SendQueue>,
    /// Wakes the I/O task: the queue went from empty to non-empty, or a close was requested.
    /// One `Notify` for both, since the task checks both whenever it wakes.
    pub(crate) wake: Notify,
    /// Set by the I/O task whenever the handler consumed input, cleared by the idle check
    /// (see `SessionSet`).
    pub(crate) received_since_check: AtomicBool,
    /// Set once by the first `disconnect`; the reason that won the race.
    closed: AtomicBool,
    reason: OnceLock<CloseReason>,
}

#[derive(Default)]
struct SendQueue {
    frames: Vec<Bytes>,
    /// Bytes queued plus bytes taken by the I/O task and not yet written.
    bytes: usize,
}

impl Session {
    pub(crate) fn new(peer_addr: SocketAddr, local_addr: SocketAddr, config: &Config) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Session {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            peer_addr,
            local_addr,
            send_queue_limit: config.send_queue_limit,
            max_packet_size: config.max_packet_size,
            queue: Mutex::new(SendQueue::default()),
            wake: Notify::new(),
            received_since_check: AtomicBool::new(true),
            closed: AtomicBool::new(false),
            reason: OnceLock::new(),
        }
    }

    /// Process-wide unique id of this session (1, 2, 3, ...).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// This side's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Largest frame the peer may send (from [`Config::max_packet_size`]).
    pub fn max_packet_size(&self) -> usize {
        self.max_packet_size
    }

    /// Queues `frame` for sending. Never blocks and never waits; callable from any thread.
    ///
    /// Everything queued while a write is in flight goes out together in the next vectored
    /// write. A frame that would take the queue past [`Config::send_queue_limit`] is not
    /// queued: the session is closed as [`CloseReason::SlowConsumer`] instead, which is the
    /// policy that keeps one stalled client from growing server memory.
    pub fn send(&self, frame: Bytes) -> Result<(), SendError> {
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        let frame = match local_batch::push(self.id, frame, self.send_queue_limit) {
            local_batch::Pushed::Batched => return Ok(()),
            local_batch::Pushed::OverLimit(queued) => {
                self.disconnect(CloseReason::SlowConsumer {
                    queued,
                    limit: self.send_queue_limit,
                });
                return Err(SendError::QueueFull);
            }
            local_batch::Pushed::NotOpen(frame) => frame,
        };
        let mut queue = self.lock_queue();
        // Checked again under the lock: the I/O task clears the queue under it when the
        // session closes, and a frame pushed after that would sit there until the last
        // handle is dropped.
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        let queued = queue.bytes + frame.len();
        if queued > self.send_queue_limit {
            drop(queue);
            self.disconnect(CloseReason::SlowConsumer {
                queued,
                limit: self.send_queue_limit,
            });
            return Err(SendError::QueueFull);
        }
        queue.bytes = queued;
        queue.frames.push(frame);
        let first = queue.frames.len() == 1;
        drop(queue);
        // Only the empty -> non-empty edge needs a wake-up: the task takes the whole queue
        // each time it wakes, and `Notify` keeps the permit if it is busy writing.
        if first {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Writes a frame of at most `reserve` bytes with `fill` (which returns the bytes it
    /// used) and queues it, like [`Session::send`].
    ///
    /// From inside this session's own `on_recv` (a reply to the peer), the frame is written
    /// straight into the batch the I/O task writes next, with no allocation and no reference
    /// count per frame. Anywhere else it goes through [`SendBuffer`].
    pub fn send_with<F>(&self, reserve: usize, fill: F) -> Result<(), SendError>
    where
        F: FnOnce(&mut [u8]) -> usize,
    {
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        match local_batch::write(self.id, reserve, self.send_queue_limit, fill) {
            local_batch::Written::Batched => Ok(()),
            local_batch::Written::OverLimit(queued) => {
                self.disconnect(CloseReason::SlowConsumer {
                    queued,
                    limit: self.send_queue_limit,
                });
                Err(SendError::QueueFull)
            }
            local_batch::Written::NotOpen(fill) => self.send(SendBuffer::write(reserve, fill)),
        }
    }

    /// Encodes `packet` and queues it, by the cheapest route (see [`Session::send_with`]).
    pub fn send_packet<P: Packet>(&self, packet: &P) -> Result<(), SendError> {
        let size = packet.frame_len().map_err(SendError::Encode)?;
        self.send_with(size, |dst| packet.write_frame(dst))
    }

    /// Closes the session with `reason`. Only the first call, from whichever thread, has an
    /// effect and returns true; its reason is the one `on_disconnected` sees.
    pub fn disconnect(&self, reason: CloseReason) -> bool {
        if self
            .closed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        // Only the winner of the exchange gets here, so this `set` cannot lose.
        let _ = self.reason.set(reason);
        self.wake.notify_one();
        true
    }

    /// True once `disconnect` was called, even if the socket is still being closed.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The reason the session was closed, once it was.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.reason.get()
    }

    /// Bytes queued or in flight towards the peer.
    pub fn queued_bytes(&self) -> usize {
        self.lock_queue().bytes
    }

    fn lock_queue(&self) -> MutexGuard<'_, SendQueue> {
        // A panic while holding this lock can only come from a push or swap of a `Vec`;
        // the queue is still consistent, so poisoning is ignored rather than spread.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends the frames the session sent itself during `on_recv`, under one lock. Only
    /// the I/O task calls this, and it writes the queue right after, so nobody is woken.
    pub(crate) fn enqueue_batch(&self, frames: &mut Vec<Bytes>, bytes: usize) {
        if self.is_closed() {
            return;
        }
        let mut queue = self.lock_queue();
        let queued = queue.bytes + bytes;
        if queued > self.send_queue_limit {
            drop(queue);
            self.disconnect(CloseReason::SlowConsumer {
                queued,
                limit: self.send_queue_limit,
            });
            return;
        }
        queue.bytes = queued;
        queue.frames.append(frames);
    }

    pub(crate) fn take_queue(&self, into: &mut Vec<Bytes>) {
        let mut queue = self.lock_queue();
        std::mem::swap(&mut queue.frames, into);
    }

    pub(crate) fn written(&self, bytes: usize) {
        let mut queue = self.lock_queue();
        queue.bytes = queue.bytes.saturating_sub(bytes);
    }

    pub(crate) fn clear_queue(&self) {
        let mut queue = self.lock_queue();
        queue.frames = Vec::new();
        queue.bytes = 0;
    }
}

/// Framing closes a session through this, and never names `Session` itself.
impl FrameSink for Session {
    fn is_closed(&self) -> bool {
        Session::is_closed(self)
    }

    fn close(&self, reason: CloseReason) {
        self.disconnect(reason);
    }

    fn describe(&self) -> String {
        format!("{} ({})", self.id, self.peer_addr())
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("peer_addr", &self.peer_addr)
            .field("closed", &self.is_closed())
            .finish()
    }
}
