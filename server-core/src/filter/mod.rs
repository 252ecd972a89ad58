//! Receive filters: how a byte stream is cut into frames, as a trait in the style of
//! tokio-util's `Decoder`, with the framings SuperSocketLite users reach for.
//!
//! A filter looks at the front of the bytes received and not yet consumed and answers with a
//! [`FrameSpan`] (a whole frame is there: how long it is in the stream and where its payload
//! lies), `Ok(None)` (not yet: wait for more bytes; the filter may remember how far it
//! looked), or an error (the stream cannot be framed: the session is closed with a protocol
//! error). Filters are sans-IO: they see slices, never sockets, and [`deliver`] is the one
//! loop that runs any of them over a session's received bytes.
//!
//! - [`PacketFilter`]: the course's `[size u16][id u16][body]`, used by
//!   [`PacketSession`](crate::PacketSession);
//! - [`TerminatorFilter`]: lines ending in a terminator such as `\r\n`;
//! - [`FixedSizeFilter`]: every frame the same length;
//! - [`MarkFilter`]: a frame between a begin mark and an end mark;
//! - [`FixedHeaderFilter`]: a fixed-size header carrying the body length at a configurable
//!   offset and width.
//!
//! [`Filtered`](crate::Filtered) pairs a filter with a
//! [`FrameHandler`](crate::FrameHandler) to make a [`SessionHandler`](crate::SessionHandler)
//! for any of them; it lives with the sessions, above this module.

mod fixed_header;
mod fixed_size;
mod mark;
mod packet;
mod terminator;

use std::sync::Arc;

use crate::error::{CloseReason, ProtocolError};

pub use crate::error::FilterError;
pub use fixed_header::{FixedHeaderFilter, LengthField};
pub use fixed_size::FixedSizeFilter;
pub use mark::MarkFilter;
pub use packet::PacketFilter;
pub use terminator::TerminatorFilter;

/// One whole frame at the front of the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSpan {
    /// Bytes the frame takes in the stream (header, body, marks, terminator): what is
    /// consumed.
    pub len: usize,
    /// Start of the payload handed to the application, within those bytes.
    pub payload_start: usize,
    /// End (exclusive) of the payload.
    pub payload_end: usize,
}

impl FrameSpan {
    /// A frame whose payload is all of it.
    pub fn whole(len: usize) -> Self {
        FrameSpan {
            len,
            payload_start: 0,
            payload_end: len,
        }
    }
}

/// Cuts a byte stream into frames; see the module docs.
pub trait ReceiveFilter: Send + 'static {
    /// What a malformed stream is reported as.
    type Error: Into<ProtocolError>;

    /// The longest frame this filter accepts, in stream bytes. It must fit the session's
    /// receive buffer ([`Config::max_packet_size`](crate::Config::max_packet_size)).
    fn max_frame_len(&self) -> usize;

    /// Looks for a whole frame at the front of `buf`.
    ///
    /// `Ok(None)` means not yet: call again with the same bytes and more after them. After
    /// `Ok(Some(span))` the caller drops `span.len` bytes from the front.
    fn decode(&mut self, buf: &[u8]) -> Result<Option<FrameSpan>, Self::Error>;
}

/// What [`deliver`] needs of the session it delivers for: whether it is still open, and a way
/// to close it with a reason. The session layer implements it for `Session`, so framing never
/// names a session and sits below it.
pub trait FrameSink {
    /// True once the session is closed: delivery stops (a handler may close it itself).
    fn is_closed(&self) -> bool;
    /// Closes the session with `reason` (the first reason wins).
    fn close(&self, reason: CloseReason);
    /// Who it is, for the log line of a malformed stream.
    fn describe(&self) -> String;
}

impl<T: FrameSink + ?Sized> FrameSink for Arc<T> {
    fn is_closed(&self) -> bool {
        (**self).is_closed()
    }

    fn close(&self, reason: CloseReason) {
        (**self).close(reason);
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Runs `filter` over `data` (a session's received, unconsumed bytes), handing each frame and
/// its span to `on_frame` until the bytes run out, the filter fails or the session closes.
/// Returns the bytes consumed. A filter error or an `on_frame` error closes the session.
///
/// Generic over the filter so that each use compiles to a loop of its own: the course's
/// framing through this costs what the hand-written loop did.
#[inline]
pub fn deliver<F, S, C>(filter: &mut F, session: &S, data: &[u8], mut on_frame: C) -> usize
where
    F: ReceiveFilter,
    S: FrameSink + ?Sized,
    C: FnMut(&[u8], FrameSpan) -> Result<(), CloseReason>,
{
    let mut consumed = 0;
    // `session.is_closed()` stops delivery after a handler closed the session itself.
    while !session.is_closed() {
        let rest = &data[consumed..];
        match filter.decode(rest) {
            Ok(Some(span)) => {
                // A filter that claims more than it was given is a bug in the filter, not
                // the peer's doing; close rather than slice out of bounds.
                let Some(frame) = rest.get(..span.len).filter(|_| {
                    span.len > 0
                        && span.payload_start <= span.payload_end
                        && span.payload_end <= span.len
                }) else {
                    session.close(CloseReason::ApplicationError(format!(
                        "receive filter returned an invalid span {span:?} for {} bytes",
                        rest.len()
                    )));
                    break;
                };
                consumed += span.len;
                if let Err(reason) = on_frame(frame, span) {
                    session.close(reason);
                }
            }
            Ok(None) => break,
            Err(e) => {
                let e: ProtocolError = e.into();
                tracing::debug!(session = %session.describe(), error = %e, "malformed frame");
                session.close(CloseReason::ProtocolError(e));
                break;
            }
        }
    }
    consumed
}

/// Test helpers shared by the filters' tests: feed a stream whole and in pieces.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Payloads cut from `stream` by `filter`, with the stream offered in pieces ending at
    /// `cuts` (a `RecvBuffer` offers the unconsumed bytes plus what arrived), or the error.
    pub(crate) fn payloads<F: ReceiveFilter>(
        filter: &mut F,
        stream: &[u8],
        cuts: &[usize],
    ) -> Result<(Vec<Vec<u8>>, usize), ProtocolError> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut ends: Vec<usize> = cuts.iter().map(|c| (*c).min(stream.len())).collect();
        ends.push(stream.len());
        ends.sort_unstable();
        for end in ends {
            loop {
                if end < start {
                    break;
                }
                match filter.decode(&stream[start..end]).map_err(Into::into)? {
                    Some(span) => {
                        let frame = &stream[start..start + span.len];
                        out.push(frame[span.payload_start..span.payload_end].to_vec());
                        start += span.len;
                    }
                    None => break,
                }
            }
        }
        Ok((out, start))
    }

    /// Every split of `stream` into single bytes gives what the whole stream gives.
    pub(crate) fn same_whole_and_trickled<F: ReceiveFilter>(make: impl Fn() -> F, stream: &[u8]) {
        let whole = payloads(&mut make(), stream, &[]);
        let cuts: Vec<usize> = (1..stream.len()).collect();
        let trickled = payloads(&mut make(), stream, &cuts);
        assert_eq!(whole, trickled, "fragmentation must not change the frames");
    }
}
