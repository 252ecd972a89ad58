//! UDP sessions: each remote address is a [`Session`](crate::Session), created by its first
//! well-formed datagram and closed by the idle timeout, with our frames inside datagrams.

pub mod datagram;
mod listener;

pub use listener::{UdpConfig, UdpListener, UdpStats};
