//! The I/O half of a session: one tokio task per connection that owns the socket and the
//! application's handler, reads (through `receiver.rs`, which calls the handler), and writes
//! what was queued, small frames copied together and large ones by reference.

use std::io::{self, IoSlice};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use tokio::net::TcpStream;

use crate::config::Config;
use crate::error::CloseReason;
use crate::receiver::Receiver;
use crate::session::{Session, SessionHandler};

/// Most buffers handed to one `writev(2)`: well under every platform's `IOV_MAX` (1024).
pub(crate) const MAX_IOVECS: usize = 64;

/// Frames up to this size are copied together into one buffer before writing; larger ones
/// are written from their own (shared) memory.
const COALESCE_MAX: usize = 512;

/// Staging capacity a session keeps between writes; more is given back.
const STAGING_KEEP: usize = 64 * 1024;

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
        receiver: Receiver::new(config),
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
    receiver: Receiver,
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
            tracing::debug!(session = self.session.id(), "on_connected panicked");
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
        let stream = &self.stream;
        let read = self.receiver.read(&self.session, &mut self.handler, |buf| {
            read_draining(stream, buf)
        });
        match read {
            Some(read) => self.read_result(read),
            None => false,
        }
    }

    /// What a read's result means for the session; true if bytes arrived.
    fn read_result(&self, read: io::Result<usize>) -> bool {
        match read {
            Ok(0) => {
                self.session.disconnect(CloseReason::ClientClosing);
                false
            }
            Ok(_) => true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
            Err(e) => {
                self.session.disconnect(CloseReason::from_io(&e));
                false
            }
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

    fn stage(&mut self, taken: &mut Vec<Bytes>) {
        stage(&mut self.staging, &mut self.in_flight, taken);
    }

    /// One non-blocking vectored write of as much of the in-flight frames as the socket takes.
    fn write_once(&mut self) {
        let written = if let [only] = &self.in_flight[..] {
            // The common case once small frames are staged together: a plain write.
            self.stream.try_write(&only[self.in_flight_offset..])
        } else {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let count = io_slices(&self.in_flight, self.in_flight_offset, &mut slices);
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

    fn advance(&mut self, n: usize) {
        advance(&mut self.in_flight, &mut self.in_flight_offset, n);
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
        guard_with(&mut self.handler, session, f)
    }
}

/// One non-blocking read into `buf`. On Linux, a read that fills less of `buf` than it
/// could has drained the socket (TCP copies until its receive queue is empty), so the
/// socket's readiness is cleared then, as tokio's own `poll_read` does for a partial read
/// under edge-triggered epoll, instead of learning it from a second read that only says
/// `WouldBlock`. That second read was a third of a bot's reads at N = 4000, and half of the
/// server's reads of single moves. Readiness is cleared with the event seen before the read,
/// so data that arrives after it still wakes the task (tokio's rule for any `WouldBlock`).
fn read_draining(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        return stream.try_read(buf);
    }
    let asked = buf.len();
    let mut partial = 0;
    let read = stream.try_io(tokio::io::Interest::READABLE, || {
        match stream.try_read(buf) {
            Ok(n) if n > 0 && n < asked => {
                partial = n;
                Err(io::ErrorKind::WouldBlock.into())
            }
            other => other,
        }
    });
    match read {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && partial > 0 => Ok(partial),
        other => other,
    }
}

// The staging below is shared with `stream_driver.rs` (TLS sessions): only the I/O calls
// differ between the two drivers. Plain functions in one crate, so the plain driver compiles
// to what it was when they were its methods.

/// Moves the frames just taken from the queue into `in_flight`, copying runs of small
/// frames into one contiguous buffer. A `writev` pays per buffer, so a hundred 20-byte
/// frames cost far more as a hundred iovecs than as one copied run; large frames (the
/// room's shared broadcast batch) are passed by reference, never copied.
#[inline]
pub(crate) fn stage(staging: &mut BytesMut, in_flight: &mut Vec<Bytes>, taken: &mut Vec<Bytes>) {
    for frame in taken.drain(..) {
        if frame.len() <= COALESCE_MAX {
            // Grows to the largest run seen; once the previous run's `Bytes` is written
            // and dropped, `reserve` reuses the same allocation.
            staging.extend_from_slice(&frame);
        } else {
            if !staging.is_empty() {
                in_flight.push(staging.split().freeze());
            }
            in_flight.push(frame);
        }
    }
    if !staging.is_empty() {
        in_flight.push(staging.split().freeze());
    }
    if staging.capacity() > STAGING_KEEP {
        // A burst grew it; the runs already cut keep their own memory, and an idle
        // session should not hold a large buffer for the next burst.
        *staging = BytesMut::new();
    }
}

/// Drops the `n` bytes just written from the front of `in_flight`; `offset` is how much of
/// its first frame was already out.
#[inline]
pub(crate) fn advance(in_flight: &mut Vec<Bytes>, offset: &mut usize, mut n: usize) {
    let mut done = 0;
    for frame in in_flight.iter() {
        let left = frame.len() - *offset;
        if n < left {
            *offset += n;
            break;
        }
        n -= left;
        *offset = 0;
        done += 1;
    }
    in_flight.drain(..done);
    if let Some(first) = in_flight.first_mut() {
        // Keep the offset small relative to the frame: once it is worth it, re-slice.
        if *offset > 0 && *offset * 2 > first.len() {
            first.advance(*offset);
            *offset = 0;
        }
    }
}

/// The in-flight frames as at most `MAX_IOVECS` slices for one vectored write, the first
/// `offset` bytes skipped; returns how many slices were filled.
#[inline]
pub(crate) fn io_slices<'a>(
    in_flight: &'a [Bytes],
    offset: usize,
    slices: &mut [IoSlice<'a>; MAX_IOVECS],
) -> usize {
    let mut count = 0;
    for (i, frame) in in_flight.iter().take(MAX_IOVECS).enumerate() {
        let skip = if i == 0 { offset } else { 0 };
        slices[count] = IoSlice::new(&frame[skip..]);
        count += 1;
    }
    count
}

/// Runs a handler callback, catching a panic. Returns false if it panicked.
pub(crate) fn guard_with<H>(
    handler: &mut H,
    session: &Arc<Session>,
    f: impl FnOnce(&mut H, &Arc<Session>),
) -> bool {
    catch_unwind(AssertUnwindSafe(|| f(handler, session))).is_ok()
}
