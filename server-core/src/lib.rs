//! `server-core`: the networking library of the game server, after the C# ServerCore course.
//!
//! Bytes come in through a [`Session`]'s [`RecvBuffer`]; a [`PacketSession`] cuts them into
//! `[size u16][id u16][body]` frames ([`frame`]) and hands each to the application. Replies
//! are encoded once into thread-local [`SendBuffer`] chunks as shared [`bytes::Bytes`] and
//! queued on any number of sessions with the non-blocking [`Session::send`]. A [`Listener`]
//! accepts sessions on the server side and a [`Connector`] opens them on the client side, both
//! configured by [`Config`]. Generated packet code implements [`Packet`] with the [`wire`]
//! field encodings.
//!
//! Framing, buffers and encodings are plain structs with no sockets, tested without I/O; the
//! tokio tasks in `session` and `listener` only move bytes.

mod close_reason;
pub mod frame;
mod packet;
mod send_buffer;
pub mod wire;

pub use close_reason::{CloseReason, ProtocolError};
pub use packet::{DecodeError, EncodeError, Packet};
pub use send_buffer::{SendBuffer, DEFAULT_CHUNK_SIZE};
