//! `Session`: one connection, its send queue, and the task that drives its socket.
//!
//! The shared half, [`Session`], is what the application holds (in an `Arc`): `send` and
//! `disconnect` work from any thread, tokio or not, and never block. The other half is one
//! tokio task per connection that owns the socket and the application's [`SessionHandler`]; it
//! waits for readiness and does the reads and the batched, vectored writes itself, so the
//! handler needs no lock and the socket is never shared.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::{Buf, Bytes, BytesMut};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::close_reason::CloseReason;
use crate::config::Config;
use crate::local_batch;
use crate::packet::{EncodeError, Packet};
use crate::recv_buffer::RecvBuffer;
use crate::send_buffer::SendBuffer;

/// Most buffers handed to one `writev(2)`: well under every platform's `IOV_MAX` (1024).
const MAX_IOVECS: usize = 64;

/// Frames up to this size are copied together into one buffer before writing; larger ones
/// are written from their own (shared) memory.
const COALESCE_MAX: usize = 512;

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
    /// and `send` must work from threads that have no runtime.
    queue: Mutex<SendQueue>,
    /// Wakes the I/O task: the queue went from empty to non-empty, or a close was requested.
    /// One `Notify` for both, since the task checks both whenever it wakes.
    wake: Notify,
    /// Set by the I/O task on every read, cleared by the idle check (see `SessionSet`).
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
    fn enqueue_batch(&self, frames: &mut Vec<Bytes>, bytes: usize) {
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

    fn take_queue(&self, into: &mut Vec<Bytes>) {
        let mut queue = self.lock_queue();
        std::mem::swap(&mut queue.frames, into);
    }

    fn written(&self, bytes: usize) {
        let mut queue = self.lock_queue();
        queue.bytes = queue.bytes.saturating_sub(bytes);
    }

    fn clear_queue(&self) {
        let mut queue = self.lock_queue();
        queue.frames = Vec::new();
        queue.bytes = 0;
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

/// Creates the session for `stream` and spawns nothing: the caller runs the returned future
/// on a task it tracks.
pub(crate) fn start<H: SessionHandler>(
    stream: TcpStream,
    handler: H,
    config: &Config,
) -> io::Result<(Arc<Session>, impl std::future::Future<Output = CloseReason>)> {
    if config.nodelay {
        stream.set_nodelay(true)?;
    }
    let session = Arc::new(Session::new(
        stream.peer_addr()?,
        stream.local_addr()?,
        config,
    ));
    let driver = Driver {
        session: Arc::clone(&session),
        stream,
        handler,
        recv: RecvBuffer::new(config.max_packet_size.max(config.recv_buffer_size)),
        recv_initial: config.recv_buffer_size,
        in_flight: Vec::new(),
        in_flight_offset: 0,
        staging: BytesMut::new(),
    };
    Ok((session, driver.run()))
}

/// The I/O half of a session, owned by its task.
struct Driver<H> {
    session: Arc<Session>,
    stream: TcpStream,
    handler: H,
    recv: RecvBuffer,
    recv_initial: usize,
    /// Frames taken from the queue and being written; the first `in_flight_offset` bytes of
    /// `in_flight[0]` are already out.
    in_flight: Vec<Bytes>,
    in_flight_offset: usize,
    /// Where runs of small frames are copied together before writing (see `stage`).
    staging: BytesMut,
}

/// Waits until the socket is readable, or writable when `writing`; says which.
fn poll_ready(
    stream: &TcpStream,
    writing: bool,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<io::Result<(bool, bool)>> {
    use std::task::Poll;
    let readable = match stream.poll_read_ready(cx) {
        Poll::Ready(Ok(())) => true,
        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
        Poll::Pending => false,
    };
    let writable = writing
        && match stream.poll_write_ready(cx) {
            Poll::Ready(Ok(())) => true,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => false,
        };
    if readable || writable {
        Poll::Ready(Ok((readable, writable)))
    } else {
        Poll::Pending
    }
}

impl<H: SessionHandler> Driver<H> {
    async fn run(mut self) -> CloseReason {
        if !self.guard(|h, s| h.on_connected(s)) {
            tracing::debug!(session = self.session.id, "on_connected panicked");
        }
        let mut spare = Vec::new();
        // Shutdown and the idle timeout reach this task through `disconnect` (see
        // `SessionSet`), so it waits on just two things: its wake-up and its socket. The
        // wake-up future lives across iterations: re-creating it each time round would
        // register and unregister a waiter (a lock each) per event.
        let session = Arc::clone(&self.session);
        let wake = session.wake.notified();
        tokio::pin!(wake);
        // Set by a wake-up: the queue may hold frames; taken as soon as nothing is in flight.
        let mut queue_dirty = false;

        let reason = loop {
            if let Some(reason) = session.close_reason() {
                break reason.clone();
            }
            if queue_dirty && self.in_flight.is_empty() {
                queue_dirty = false;
                self.write_queued(&mut spare);
            }
            let writing = !self.in_flight.is_empty();
            tokio::select! {
                biased;
                _ = &mut wake => {
                    wake.set(session.wake.notified());
                    queue_dirty = true;
                }
                // `poll_*_ready` use the socket's one waker slot per direction, cheaper than
                // a `ready()` future per iteration; this task is the only one polling them.
                ready = std::future::poll_fn(|cx| poll_ready(&self.stream, writing, cx)) => match ready {
                    Ok((readable, writable)) => {
                        if readable && self.read_once() {
                            // Replies made in `on_recv` go out now, like a hand-written
                            // read-then-write loop, instead of after another trip round.
                            if self.in_flight.is_empty() && !session.is_closed() {
                                self.write_queued(&mut spare);
                            }
                        }
                        if writable && !session.is_closed() {
                            self.write_once();
                            if self.in_flight.is_empty() {
                                // More may have been queued while this write was in flight.
                                queue_dirty = true;
                            }
                        }
                    }
                    Err(e) => {
                        session.disconnect(CloseReason::from_io(&e));
                    }
                },
            }
        };

        self.in_flight = Vec::new();
        self.session.clear_queue();
        let _ = self.guard(|h, s| h.on_disconnected(s, &reason));
        reason
    }

    /// One non-blocking read and the handler call that follows. Returns true if bytes
    /// arrived.
    fn read_once(&mut self) -> bool {
        if let Err(e) = self.recv.reserve(1, self.recv_initial) {
            // Only a raw `SessionHandler` that never consumes can fill a buffer capped at
            // `max_packet_size`; `PacketSession` refuses oversized frames first.
            self.session
                .disconnect(CloseReason::ApplicationError(format!(
                    "receive buffer full: {e}"
                )));
            return false;
        }
        match self.stream.try_read(self.recv.write_segment()) {
            Ok(0) => {
                self.session.disconnect(CloseReason::ClientClosing);
                false
            }
            Ok(n) => {
                self.session
                    .received_since_check
                    .store(true, Ordering::Relaxed);
                // `try_read` wrote at most the segment's length, so this cannot fail.
                let _ = self.recv.on_write(n);
                self.deliver();
                true
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
            Err(e) => {
                self.session.disconnect(CloseReason::from_io(&e));
                false
            }
        }
    }

    fn deliver(&mut self) {
        let session = Arc::clone(&self.session);
        let recv = &self.recv;
        let handler = &mut self.handler;
        let data = recv.read_segment();
        local_batch::open(session.id);
        let result = catch_unwind(AssertUnwindSafe(|| handler.on_recv(&session, data)));
        local_batch::close(|frames, bytes| session.enqueue_batch(frames, bytes));
        let consumed = match result {
            Ok(consumed) => consumed,
            Err(_) => {
                session.disconnect(CloseReason::ApplicationError("on_recv panicked".into()));
                return;
            }
        };
        if let Err(e) = self.recv.on_read(consumed) {
            session.disconnect(CloseReason::ApplicationError(format!("on_recv: {e}")));
            return;
        }
        self.recv.clean();
        if self.recv.data_size() == 0 && self.recv.capacity() > self.recv_initial {
            // A burst grew the buffer; hand the memory back now that it is drained.
            self.recv.release_if_empty();
        }
    }

    /// Takes everything queued and tries to write it at once: a socket is writable far more
    /// often than not, and if it is not, the write readiness wait picks it up.
    fn write_queued(&mut self, spare: &mut Vec<Bytes>) {
        self.session.take_queue(spare);
        self.stage(spare);
        if !self.in_flight.is_empty() {
            self.write_once();
        }
    }

    /// Moves the frames just taken from the queue into `in_flight`, copying runs of small
    /// frames into one contiguous buffer. A `writev` pays per buffer, so a hundred 20-byte
    /// frames cost far more as a hundred iovecs than as one copied run; large frames (the
    /// room's shared broadcast batch) are passed by reference, never copied.
    fn stage(&mut self, taken: &mut Vec<Bytes>) {
        for frame in taken.drain(..) {
            if frame.len() <= COALESCE_MAX {
                // Grows to the largest run seen; once the previous run's `Bytes` is written
                // and dropped, `reserve` reuses the same allocation.
                self.staging.extend_from_slice(&frame);
            } else {
                if !self.staging.is_empty() {
                    self.in_flight.push(self.staging.split().freeze());
                }
                self.in_flight.push(frame);
            }
        }
        if !self.staging.is_empty() {
            self.in_flight.push(self.staging.split().freeze());
        }
    }

    /// One non-blocking vectored write of as much of the in-flight frames as the socket takes.
    fn write_once(&mut self) {
        let written = if let [only] = &self.in_flight[..] {
            // The common case once small frames are staged together: a plain write.
            self.stream.try_write(&only[self.in_flight_offset..])
        } else {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let mut count = 0;
            for (i, frame) in self.in_flight.iter().take(MAX_IOVECS).enumerate() {
                let skip = if i == 0 { self.in_flight_offset } else { 0 };
                slices[count] = IoSlice::new(&frame[skip..]);
                count += 1;
            }
            self.stream.try_write_vectored(&slices[..count])
        };
        match written {
            Ok(0) => {
                self.session
                    .disconnect(CloseReason::from_io(&io::Error::from(
                        io::ErrorKind::WriteZero,
                    )));
            }
            Ok(n) => {
                self.advance(n);
                self.session.written(n);
                let session = Arc::clone(&self.session);
                if !self.guard_with(&session, |h, s| h.on_send(s, n)) {
                    session.disconnect(CloseReason::ApplicationError("on_send panicked".into()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                self.session.disconnect(CloseReason::from_io(&e));
            }
        }
    }

    fn advance(&mut self, mut n: usize) {
        let mut done = 0;
        for frame in &self.in_flight {
            let left = frame.len() - self.in_flight_offset;
            if n < left {
                self.in_flight_offset += n;
                break;
            }
            n -= left;
            self.in_flight_offset = 0;
            done += 1;
        }
        self.in_flight.drain(..done);
        if let Some(first) = self.in_flight.first_mut() {
            // Keep the offset small relative to the frame: once it is worth it, re-slice.
            if self.in_flight_offset > 0 && self.in_flight_offset * 2 > first.len() {
                first.advance(self.in_flight_offset);
                self.in_flight_offset = 0;
            }
        }
    }

    /// Runs a handler callback, turning a panic into an `ApplicationError` close instead of
    /// a dead task that never reports `on_disconnected`. Returns false if it panicked.
    fn guard(&mut self, f: impl FnOnce(&mut H, &Arc<Session>)) -> bool {
        let session = Arc::clone(&self.session);
        let ok = self.guard_with(&session, f);
        if !ok {
            session.disconnect(CloseReason::ApplicationError("handler panicked".into()));
        }
        ok
    }

    fn guard_with(
        &mut self,
        session: &Arc<Session>,
        f: impl FnOnce(&mut H, &Arc<Session>),
    ) -> bool {
        let handler = &mut self.handler;
        catch_unwind(AssertUnwindSafe(|| f(handler, session))).is_ok()
    }
}
