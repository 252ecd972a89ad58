//! The I/O half of a session over any `AsyncRead + AsyncWrite` stream (a TLS stream).
//!
//! `driver.rs` drives a plain `TcpStream` by readiness (`poll_read_ready` + `try_read`),
//! which a TLS stream cannot offer: readable bytes on the socket may hold no plaintext, and
//! a write may need a flush of records. This driver does the same job through `poll_read`,
//! `poll_write_vectored` and `poll_flush`, sharing the receive side (`receiver.rs`) and the
//! staging logic with the plain driver; only the I/O calls differ.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::Config;
use crate::driver::{advance, guard_with, io_slices, stage, MAX_IOVECS};
use crate::error::CloseReason;
use crate::receiver::Receiver;
use crate::session::{Session, SessionHandler};

/// Creates the session for `stream` (already connected, and for TLS already past its
/// handshake); the caller runs the returned future on a task it tracks.
pub(crate) fn start<S, H>(
    stream: S,
    peer_addr: SocketAddr,
    local_addr: SocketAddr,
    handler: H,
    config: &Config,
) -> (Arc<Session>, impl Future<Output = CloseReason>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: SessionHandler,
{
    let session = Arc::new(Session::new(peer_addr, local_addr, config));
    let driver = StreamDriver {
        session: Arc::clone(&session),
        stream,
        handler,
        receiver: Receiver::new(config),
        in_flight: Vec::new(),
        in_flight_offset: 0,
        staging: BytesMut::new(),
        unflushed: false,
    };
    (session, driver.run())
}

struct StreamDriver<S, H> {
    session: Arc<Session>,
    stream: S,
    handler: H,
    receiver: Receiver,
    in_flight: Vec<Bytes>,
    in_flight_offset: usize,
    staging: BytesMut,
    /// Written into the stream but maybe not yet onto the socket (a TLS stream buffers
    /// records): flushed before the driver waits.
    unflushed: bool,
}

impl<S, H> StreamDriver<S, H>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: SessionHandler,
{
    async fn run(mut self) -> CloseReason {
        let session = Arc::clone(&self.session);
        if !guard_with(&mut self.handler, &session, |h, s| h.on_connected(s)) {
            session.disconnect(CloseReason::ApplicationError("handler panicked".into()));
        }
        let wake = session.wake.notified();
        tokio::pin!(wake);
        let mut spare = Vec::new();
        let reason = loop {
            if let Some(reason) = session.close_reason() {
                break reason.clone();
            }
            // Cheap when empty (one lock and a swap); replies made in `on_recv` wake nobody,
            // so the queue is looked at after every round of I/O as well as on a wake-up.
            if self.in_flight.is_empty() {
                session.take_queue(&mut spare);
                stage(&mut self.staging, &mut self.in_flight, &mut spare);
            }
            tokio::select! {
                biased;
                _ = &mut wake => wake.set(session.wake.notified()),
                done = std::future::poll_fn(|cx| self.poll_io(cx)) => {
                    if let Err(e) = done {
                        session.disconnect(CloseReason::from_io(&e));
                    }
                }
            }
        };
        self.in_flight = Vec::new();
        session.clear_queue();
        // A polite close (TLS close_notify) for a session this side ended, bounded so a
        // peer that does not read cannot hold the task.
        if !matches!(
            reason,
            CloseReason::ClientClosing | CloseReason::SocketError { .. }
        ) {
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(1),
                tokio::io::AsyncWriteExt::shutdown(&mut self.stream),
            )
            .await;
        }
        let _ = guard_with(&mut self.handler, &session, |h, s| {
            h.on_disconnected(s, &reason)
        });
        reason
    }

    /// Writes, flushes and reads as far as the stream allows without waiting. Ready when
    /// something moved (the loop then looks at the queue and comes back), pending when every
    /// direction waits, with a waker registered on each.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut moved = false;
        if !self.in_flight.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let count = io_slices(&self.in_flight, self.in_flight_offset, &mut slices);
            match Pin::new(&mut self.stream).poll_write_vectored(cx, &slices[..count]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    advance(&mut self.in_flight, &mut self.in_flight_offset, n);
                    self.session.written(n);
                    self.unflushed = true;
                    moved = true;
                    let session = Arc::clone(&self.session);
                    if !guard_with(&mut self.handler, &session, |h, s| h.on_send(s, n)) {
                        session
                            .disconnect(CloseReason::ApplicationError("on_send panicked".into()));
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        if self.unflushed {
            match Pin::new(&mut self.stream).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        let stream = Pin::new(&mut self.stream);
        let mut pending = false;
        let read = self.receiver.read(&self.session, &mut self.handler, |buf| {
            let mut buf = ReadBuf::new(buf);
            match stream.poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => Ok(buf.filled().len()),
                Poll::Ready(Err(e)) => Err(e),
                Poll::Pending => {
                    // The waker is registered: the task comes back when there is more.
                    pending = true;
                    Err(io::ErrorKind::WouldBlock.into())
                }
            }
        });
        match read {
            // No room: the session is closed, which the loop sees.
            None => return Poll::Ready(Ok(())),
            Some(Ok(0)) => {
                self.session.disconnect(CloseReason::ClientClosing);
                moved = true;
            }
            Some(Ok(_)) => moved = true,
            Some(Err(_)) if pending => {}
            Some(Err(e)) => return Poll::Ready(Err(e)),
        }
        if moved {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }
}
