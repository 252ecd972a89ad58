//! `server-core`: the networking library of the game server, after the C# ServerCore course.
//!
//! Bytes come in through a [`Session`]'s [`RecvBuffer`] (or, with
//! [`Config::recv_per_thread`], through one buffer per worker thread); a [`PacketSession`]
//! cuts them into `[size u16][id u16][body]` frames ([`frame`]) and hands each to the
//! application. Replies are encoded once into thread-local [`SendBuffer`] chunks as shared
//! [`bytes::Bytes`] and queued on any number of sessions with the non-blocking
//! [`Session::send`]. A [`Listener`] accepts sessions on the server side and a [`Connector`]
//! opens them on the client side, both configured by [`Config`], over plain TCP or TLS
//! ([`TlsAcceptor`], [`TlsConnector`]). The sessions of one or several listeners are listed,
//! looked up and reported as they start and end in a [`SessionRegistry`]. A [`UdpListener`]
//! makes each remote address a session, with whole frames inside datagrams ([`udp`]).
//! Generated packet code implements [`Packet`] with the [`wire`] field encodings. Every
//! session ends exactly once, with a [`CloseReason`].
//!
//! Framing, buffers and encodings are plain structs with no sockets, tested without I/O; the
//! tokio task behind each session only moves bytes.

#![warn(missing_docs)]

mod address_limits;
mod config;
mod connector;
mod driver;
mod error;
pub mod filter;
mod filtered;
pub mod frame;
mod listener;
mod local_batch;
mod packet;
mod packet_session;
mod receiver;
mod recv_buffer;
mod registry;
mod send_buffer;
mod session;
mod session_set;
mod stream_driver;
mod thread_recv;
mod tls;
pub mod udp;
pub mod wire;

pub use address_limits::AddressLimits;
pub use config::{Config, ConfigError};
pub use connector::{ConnectError, Connector};
pub use error::{CloseReason, DecodeError, EncodeError, ProtocolError};
pub use filtered::{Filtered, FrameHandler};
pub use listener::{Listener, ListenerStats};
pub use packet::Packet;
pub use packet_session::PacketSession;
pub use recv_buffer::{RecvBuffer, RecvBufferError};
pub use registry::{SessionEvents, SessionRegistry};
pub use send_buffer::{SendBuffer, DEFAULT_CHUNK_SIZE};
pub use session::{SendError, Session, SessionHandler};
pub use tls::{TlsAcceptor, TlsConnector, TlsError};
pub use udp::{UdpConfig, UdpListener, UdpStats};
