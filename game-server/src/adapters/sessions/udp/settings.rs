//! What `--udp-addr` turns on, and its limits.

use std::net::SocketAddr;
use std::time::Duration;

/// The game's UDP listener (room mode only).
#[derive(Debug, Clone)]
pub struct UdpSettings {
    /// Address the UDP socket binds.
    pub addr: SocketAddr,
    /// Close (and so unbind) a UDP session that sent nothing for this long; the player's
    /// moves go back to TCP. A client that only receives moves resends `C_UdpBind` to stay
    /// bound. Default 15 s.
    pub idle_timeout: Duration,
    /// `C_UdpBind`s with a wrong token, or for a player with no ticket, one UDP session may
    /// send before it is closed. Default 3: a client that mistyped nothing never sends one,
    /// and a guesser gets three tries per address against 2^64 tokens.
    pub max_bad_tokens: u32,
    /// The UDP transport's limits (datagram size, per-peer rate, inbox).
    pub transport: server_core::UdpConfig,
}

impl UdpSettings {
    /// Defaults on `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        UdpSettings {
            addr,
            idle_timeout: Duration::from_secs(15),
            max_bad_tokens: 3,
            transport: server_core::UdpConfig::default(),
        }
    }
}
