//! The errors of the wire: what a peer's bytes can be wrong with ([`ProtocolError`],
//! [`DecodeError`]) and what local data cannot be encoded as ([`EncodeError`]).
//!
//! They live together, below every module that uses them, so the modules stack without a
//! cycle: `error` first; `wire`, `frame` and `close_reason` on it; `packet` on `wire` and
//! `frame`; the sessions on top. (Before, `close_reason` -> `packet` -> `frame` ->
//! `close_reason` and `packet` -> `wire` -> `packet` imported each other.)

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
    Filter(#[from] crate::filter::FilterError),
    /// The packet decoded but makes no sense to the application (a move before entering, a
    /// NaN position, ...).
    #[error("invalid packet: {0}")]
    Invalid(String),
}
