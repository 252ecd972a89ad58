//! Every knob of the networking core in one struct, with the defaults a game server wants.

use std::net::SocketAddr;
use std::time::Duration;

use crate::address_limits::AddressLimits;

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
    /// Read through one buffer per worker thread instead of each session's own, keeping per
    /// session only the partial frame its handler left (an allocation over 256 bytes given
    /// back once a read leaves none). Worth it where many sessions each receive a lot (a load generator's
    /// bots: every read then lands in cached memory rather than in one of thousands of
    /// buffers); a read is then up to `recv_buffer_size` bytes. A partial frame of more than
    /// 1 KiB is read on into the session's own buffer, as without this option, so a large
    /// frame arriving in small pieces is not copied in and out on every piece. Default false.
    pub recv_per_thread: bool,
    /// Largest frame, header included, a peer may send; a larger size header closes the
    /// session with a protocol error. At most 65,535 (the u16 size field). Default 65,535.
    pub max_packet_size: usize,
    /// Bytes a session may have queued and in flight towards its peer. A send that would pass
    /// it closes the session as a slow consumer: memory stays bounded whatever the peer does.
    /// Default 4 MiB.
    pub send_queue_limit: usize,
    /// A session whose handler consumes nothing for this long (for a `PacketSession`: that
    /// completes no frame) is closed with `IdleTimeout`; `None` turns the check off. Bytes of
    /// a frame that never completes do not count, so trickling one byte at a time does not
    /// hold a session. The check runs once per timeout, so an idle peer is closed after
    /// between one and two timeouts. Must not be zero. Default 60 s.
    pub idle_timeout: Option<Duration>,
    /// Accept backlog handed to `listen(2)`. Default 1024.
    pub backlog: u32,
    /// Set TCP_NODELAY on every socket: game packets are small and latency-sensitive, and
    /// sessions already batch their writes. Default true.
    pub nodelay: bool,
    /// How long a [`Connector`](crate::Connector) waits for one connection to open before
    /// reporting it as timed out. Default 10 s.
    pub connect_timeout: std::time::Duration,
    /// How long a TLS handshake may take, on a [`Listener`](crate::Listener) given
    /// [`Listener::with_tls`](crate::Listener::with_tls) (a client that stalls mid-handshake
    /// is dropped then) and on a TLS [`Connector`](crate::Connector). Must not be zero.
    /// Default 10 s.
    pub tls_handshake_timeout: Duration,
    /// `SO_SNDBUF` of every session's socket, in bytes; `None` leaves it to the kernel. On
    /// Linux the kernel then grows it for a peer that does not read up to `tcp_wmem`'s
    /// maximum (4 MiB by default), so a stalled peer pins that much kernel memory on top of
    /// `send_queue_limit`; set, it holds at most twice this value (Linux doubles it for its
    /// bookkeeping, and caps it at `net.core.wmem_max`). Default 256 KiB: the figure
    /// `bench broadcast` showed costs no throughput at 2000 and 3000 players (BENCHMARKS.md).
    pub socket_send_buffer: Option<usize>,
    /// `SO_RCVBUF` of every session's socket, in bytes; `None` leaves it to the kernel (which
    /// grows it up to `tcp_rmem`'s maximum). Game clients send little, so a small buffer
    /// costs nothing and bounds what a peer can park in the kernel. Default 64 KiB.
    pub socket_recv_buffer: Option<usize>,
    /// Limits on the connections from one source address (open at once, and opened per
    /// second), checked by the [`Listener`](crate::Listener) as it accepts; `None` for no
    /// per-address limit. Default: [`AddressLimits::default`] (loopback exempt).
    pub address_limits: Option<AddressLimits>,
}

/// A [`Config`] value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `max_connections` is 0 or beyond what the connection semaphore can count.
    #[error("max_connections must be between 1 and {max}, got {value}")]
    MaxConnections {
        /// The value given.
        value: usize,
        /// The largest allowed.
        max: usize,
    },
    /// `max_packet_size` cannot hold a header, or passes the u16 size field.
    #[error("max_packet_size must be between 4 and 65535, got {0}")]
    MaxPacketSize(usize),
    /// `send_queue_limit` is 0: every send would close the session.
    #[error("send_queue_limit must be at least 1 byte")]
    SendQueueLimit,
    /// `recv_buffer_size` is 0.
    #[error("recv_buffer_size must be at least 1 byte")]
    RecvBufferSize,
    /// A field of `address_limits` is zero, negative or not a number.
    #[error("address_limits: {0}")]
    AddressLimits(&'static str),
    /// A socket buffer size is 0 or beyond what `setsockopt` takes.
    #[error("{name} must be between 1 and {max} bytes, got {value}")]
    SocketBuffer {
        /// Which of the two.
        name: &'static str,
        /// The value given.
        value: usize,
        /// The largest allowed.
        max: usize,
    },
    /// `idle_timeout` is `Some(0)`: use `None` to turn the idle check off.
    #[error("idle_timeout must be longer than zero (None turns the idle check off)")]
    IdleTimeout,
    /// `tls_handshake_timeout` is zero: every handshake would fail.
    #[error("tls_handshake_timeout must be longer than zero")]
    TlsHandshakeTimeout,
}

impl Config {
    /// Checks every field; [`Listener::bind`](crate::Listener::bind) and
    /// [`Connector::new`](crate::Connector::new) refuse a config that fails this.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let max_conn = tokio::sync::Semaphore::MAX_PERMITS;
        if self.max_connections == 0 || self.max_connections > max_conn {
            return Err(ConfigError::MaxConnections {
                value: self.max_connections,
                max: max_conn,
            });
        }
        if !(crate::frame::HEADER_SIZE..=usize::from(u16::MAX)).contains(&self.max_packet_size) {
            return Err(ConfigError::MaxPacketSize(self.max_packet_size));
        }
        if self.send_queue_limit == 0 {
            return Err(ConfigError::SendQueueLimit);
        }
        if self.recv_buffer_size == 0 {
            return Err(ConfigError::RecvBufferSize);
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return Err(ConfigError::IdleTimeout);
        }
        if self.tls_handshake_timeout.is_zero() {
            return Err(ConfigError::TlsHandshakeTimeout);
        }
        for (name, size) in [
            ("socket_send_buffer", self.socket_send_buffer),
            ("socket_recv_buffer", self.socket_recv_buffer),
        ] {
            // The kernel doubles the value into an int: half of i32::MAX is the most it takes.
            let max = (i32::MAX / 2) as usize;
            if let Some(value) = size.filter(|v| *v == 0 || *v > max) {
                return Err(ConfigError::SocketBuffer { name, value, max });
            }
        }
        if let Some(limits) = &self.address_limits {
            if limits.max_open == 0 {
                return Err(ConfigError::AddressLimits("max_open must be at least 1"));
            }
            if !(limits.connects_per_sec.is_finite() && limits.connects_per_sec > 0.0) {
                return Err(ConfigError::AddressLimits(
                    "connects_per_sec must be a number above 0",
                ));
            }
            if limits.connect_burst == 0 {
                return Err(ConfigError::AddressLimits(
                    "connect_burst must be at least 1",
                ));
            }
            if limits.max_tracked == 0 {
                return Err(ConfigError::AddressLimits("max_tracked must be at least 1"));
            }
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 7777)),
            max_connections: 10_000,
            recv_buffer_size: 4 * 1024,
            recv_per_thread: false,
            max_packet_size: u16::MAX as usize,
            send_queue_limit: 4 * 1024 * 1024,
            idle_timeout: Some(Duration::from_secs(60)),
            backlog: 1024,
            nodelay: true,
            connect_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            socket_send_buffer: Some(256 * 1024),
            socket_recv_buffer: Some(64 * 1024),
            address_limits: Some(AddressLimits::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_nonsense_is_refused() {
        assert_eq!(Config::default().validate(), Ok(()));
        let bad = |f: fn(&mut Config)| {
            let mut c = Config::default();
            f(&mut c);
            c.validate()
        };
        assert!(matches!(
            bad(|c| c.max_connections = 0),
            Err(ConfigError::MaxConnections { .. })
        ));
        assert_eq!(
            bad(|c| c.max_packet_size = 3),
            Err(ConfigError::MaxPacketSize(3))
        );
        assert_eq!(
            bad(|c| c.max_packet_size = 70_000),
            Err(ConfigError::MaxPacketSize(70_000))
        );
        assert_eq!(
            bad(|c| c.send_queue_limit = 0),
            Err(ConfigError::SendQueueLimit)
        );
        assert_eq!(
            bad(|c| c.recv_buffer_size = 0),
            Err(ConfigError::RecvBufferSize)
        );
        assert!(matches!(
            bad(|c| c.socket_send_buffer = Some(0)),
            Err(ConfigError::SocketBuffer {
                name: "socket_send_buffer",
                ..
            })
        ));
        assert!(matches!(
            bad(|c| c.socket_recv_buffer = Some(usize::MAX)),
            Err(ConfigError::SocketBuffer {
                name: "socket_recv_buffer",
                ..
            })
        ));
    }

    #[test]
    fn a_zero_idle_timeout_is_refused_not_left_to_panic_the_reaper() {
        // `None` is how the check is turned off; zero would make the reaper's interval panic
        // (unobserved, in its own task) and leave idle sessions open forever.
        let zero = Config {
            idle_timeout: Some(Duration::ZERO),
            ..Config::default()
        };
        assert_eq!(zero.validate(), Err(ConfigError::IdleTimeout));
        let off = Config {
            idle_timeout: None,
            ..Config::default()
        };
        assert_eq!(off.validate(), Ok(()));
    }
}
