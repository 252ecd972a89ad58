//! The client sessions: one per TCP or TLS connection ([`client`]), one per UDP address
//! ([`udp`]), both on what they share ([`shared`]). They validate what a peer sent and
//! push jobs to the player's seat; they never touch game state. A TCP or TLS connection
//! logs in (or becomes a guest) through `login.rs`.

pub mod client;
pub(crate) mod login;
pub(crate) mod shared;
pub mod udp;

pub use client::ClientSession;
