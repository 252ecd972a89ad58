//! Every knob of the networking core in one struct, with the defaults a game server wants.

use std::net::SocketAddr;
use std::time::Duration;

/// Configuration shared by [`Listener`](crate::Listener) and [`Connector`](crate::Connector).
///
/// Build it with struct update syntax: `Config { max_connections: 100, ..Config::default() }`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the listener binds. Default `127.0.0.1:7777`.
    pub addr: SocketAddr,
    /// Sessions open at once; connections beyond it are closed as soon as they are accepted
    /// and counted as refused. Default 10,000.
    pub max_connections: usize,
    /// First allocation of a session's receive buffer, made when the first bytes arrive (an
    /// idle session holds none). It grows on demand up to `max_packet_size`. Default 4 KiB.
    pub recv_buffer_size: usize,
    /// Largest frame, header included, a peer may send; a larger size header closes the
    /// session with a protocol error. At most 65,535 (the u16 size field). Default 65,535.
    pub max_packet_size: usize,
    /// Bytes a session may have queued and in flight towards its peer. A send that would pass
    /// it closes the session as a slow consumer: memory stays bounded whatever the peer does.
    /// Default 4 MiB.
    pub send_queue_limit: usize,
    /// A session that receives nothing for this long is closed with `IdleTimeout`; `None`
    /// turns the check off. The check runs once per timeout, so a silent peer is closed after
    /// between one and two timeouts of silence. Default 60 s.
    pub idle_timeout: Option<Duration>,
    /// Accept backlog handed to `listen(2)`. Default 1024.
    pub backlog: u32,
    /// Set TCP_NODELAY on every socket: game packets are small and latency-sensitive, and
    /// sessions already batch their writes. Default true.
    pub nodelay: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 7777)),
            max_connections: 10_000,
            recv_buffer_size: 4 * 1024,
            max_packet_size: u16::MAX as usize,
            send_queue_limit: 4 * 1024 * 1024,
            idle_timeout: Some(Duration::from_secs(60)),
            backlog: 1024,
            nodelay: true,
        }
    }
}
