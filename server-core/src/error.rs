//! Every error type of the crate, and why a session ended: what a peer's bytes can be wrong
//! with ([`ProtocolError`], [`DecodeError`], [`FilterError`]), what local data cannot be
//! encoded as ([`EncodeError`]), and the one [`CloseReason`] each session ends with.
//!
//! They live together at the bottom of the crate and import nothing of it, so every other
//! module can name them without a circle: the framing and the filters, the encodings, the
//! sessions and the drivers all sit on this file (docs/ARCHITECTURE.md has the layer table;
//! the `architecture` test keeps it).

use std::fmt;
use std::io;

/// A body that cannot be decoded. Peers cause these; they never panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A field needs more bytes than the frame has left.
    #[error("truncated: needed {needed} bytes, {remaining} left")]
    Truncated {
        /// Bytes the field needed.
        needed: usize,
        /// Bytes left in the frame.
        remaining: usize,
    },
    /// A string's bytes are not valid in the schema's encoding.
    #[error("invalid {encoding} string")]
    InvalidString {
        /// `"utf-8"` or `"utf-16le"`.
        encoding: &'static str,
    },
    /// Bytes were left over after the last field.
    #[error("{extra} trailing bytes after the last field")]
    TrailingBytes {
        /// How many bytes were left.
        extra: usize,
    },
}

/// A packet that cannot be encoded. Only local data causes these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A string, byte field or list is longer than its u16 length prefix can say.
    #[error("{packet}.{field}: length {len} does not fit the u16 length prefix")]
    TooLong {
        /// The packet's schema name.
        packet: &'static str,
        /// The field's schema name.
        field: &'static str,
        /// Its length (bytes for strings and bytes, elements for lists).
        len: usize,
    },
    /// The whole frame is larger than the 65535 bytes the size header can say.
    #[error("{packet}: frame of {size} bytes does not fit the u16 size header")]
    FrameTooLarge {
        /// The packet's schema name.
        packet: &'static str,
        /// The frame's size.
        size: usize,
    },
}

/// A peer broke the wire protocol. Always fatal for that one session, never for the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The frame header's size is smaller than the 4-byte header itself.
    #[error("frame size {size} is smaller than the 4-byte header")]
    FrameTooSmall {
        /// The size the header claimed.
        size: u16,
    },
    /// The frame header's size is larger than the configured maximum.
    #[error("frame size {size} exceeds the maximum packet size {max}")]
    FrameTooLarge {
        /// The size the header claimed.
        size: u16,
        /// The configured `max_packet_size`.
        max: usize,
    },
    /// No packet has this id.
    #[error("unknown packet id {id}")]
    UnknownPacketId {
        /// The id from the frame header.
        id: u16,
    },
    /// The packet exists but travels the other way (a client sent an `S_` packet, ...).
    #[error("packet {name} (id {id}) is not accepted in this direction")]
    UnexpectedPacket {
        /// The id from the frame header.
        id: u16,
        /// The packet's schema name.
        name: &'static str,
    },
    /// The packet's body did not decode.
    #[error("packet {name} (id {id}) did not decode: {error}")]
    Decode {
        /// The id from the frame header.
        id: u16,
        /// The packet's schema name.
        name: &'static str,
        /// What was wrong with the body.
        error: DecodeError,
    },
    /// A [`ReceiveFilter`](crate::filter::ReceiveFilter) could not cut the stream into
    /// frames (a line over its maximum, a missing begin mark, a bad length field).
    #[error("malformed frame: {0}")]
    Filter(#[from] FilterError),
    /// The packet decoded but makes no sense to the application (a move before entering, a
    /// NaN position, ...).
    #[error("invalid packet: {0}")]
    Invalid(String),
}

/// A stream the filter cannot cut into frames. Each closes the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// No frame ends within the filter's maximum frame length.
    #[error("no frame ends within the maximum of {max} bytes")]
    FrameTooLong {
        /// The filter's maximum frame length.
        max: usize,
    },
    /// A length field announces a frame longer than the maximum.
    #[error("length field announces a {len}-byte frame, over the maximum of {max}")]
    LengthTooLarge {
        /// The frame length the header announced.
        len: u64,
        /// The filter's maximum frame length.
        max: usize,
    },
    /// A length field announces a frame shorter than its own header.
    #[error("length field announces a {len}-byte frame, shorter than its {header}-byte header")]
    LengthTooSmall {
        /// The frame length the header announced.
        len: i128,
        /// The header's length.
        header: usize,
    },
    /// The bytes at the front are not the begin mark.
    #[error("frame does not start with the begin mark")]
    MissingBeginMark,
}

/// The one reason a session was closed, reported to `on_disconnected` and in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed its side (read returned end of stream). Named from the server's side,
    /// as in the course; on a client session it means the server closed.
    ClientClosing,
    /// This side chose to close the session (a kick, a `C_LeaveGame`, ...).
    ServerClosing,
    /// The whole server is shutting down.
    ServerShutdown,
    /// The peer broke the protocol; the session cannot continue.
    ProtocolError(ProtocolError),
    /// The socket failed (reset, broken pipe, ...).
    SocketError {
        /// The error's kind, kept so callers can match on it.
        kind: io::ErrorKind,
        /// The error as the OS reported it.
        message: String,
    },
    /// Nothing was received for longer than the configured idle timeout.
    IdleTimeout,
    /// The peer does not read fast enough: its send queue passed the configured limit.
    SlowConsumer {
        /// Bytes that would have been queued, including the send that overflowed.
        queued: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Application code closed the session for a reason of its own.
    ApplicationError(String),
}

impl CloseReason {
    /// A socket error turned into a reason, keeping its kind.
    pub fn from_io(error: &io::Error) -> Self {
        CloseReason::SocketError {
            kind: error.kind(),
            message: error.to_string(),
        }
    }

    /// A short, stable label for metrics and reports (`"protocol_error"`, ...).
    pub fn label(&self) -> &'static str {
        match self {
            CloseReason::ClientClosing => "client_closing",
            CloseReason::ServerClosing => "server_closing",
            CloseReason::ServerShutdown => "server_shutdown",
            CloseReason::ProtocolError(_) => "protocol_error",
            CloseReason::SocketError { .. } => "socket_error",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::SlowConsumer { .. } => "slow_consumer",
            CloseReason::ApplicationError(_) => "application_error",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ClientClosing => f.write_str("peer closed the connection"),
            CloseReason::ServerClosing => f.write_str("server closed the session"),
            CloseReason::ServerShutdown => f.write_str("server shutdown"),
            CloseReason::ProtocolError(e) => write!(f, "protocol error: {e}"),
            CloseReason::SocketError { message, .. } => write!(f, "socket error: {message}"),
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::SlowConsumer { queued, limit } => {
                write!(f, "slow consumer: {queued} bytes queued, limit {limit}")
            }
            CloseReason::ApplicationError(why) => write!(f, "application error: {why}"),
        }
    }
}

impl From<ProtocolError> for CloseReason {
    fn from(e: ProtocolError) -> Self {
        CloseReason::ProtocolError(e)
    }
}
