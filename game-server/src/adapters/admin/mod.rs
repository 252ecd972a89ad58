//! The admin endpoint (`game-server --admin ADDR`): Prometheus `/metrics`, `/healthz`, and a
//! live top-down map of the room at `/` fed by a server-sent event stream (`/live`).
//!
//! The page is one HTML file built into the binary. The map comes from a [`MapSource`] (the
//! room now; the world's regions implement the same trait) through a [`MapFeed`] that
//! samples at most `max_dots` players and only while a page is open; [`live`] turns the
//! latest snapshot and the counters into one event a few times a second, serialized once for
//! every viewer. Requests are decided by [`routes::decide`] (pure), the token by
//! [`AdminToken`], and [`http`] holds the sockets with their caps and timeouts.

mod auth;
mod http;
mod live;
mod routes;
mod world_map;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::game::map::{
    keep_for_sample, sample_players, LineKind, MapBounds, MapDot, MapFeed, MapLine, MapSnapshot,
    MapSource, ViewerGuard,
};
pub use auth::{AdminToken, MIN_TOKEN_LEN};
pub use live::{FrameBuilder, LiveFrame};
pub use routes::{decide, is_loopback_host, is_loopback_origin, Decision, RequestHead, Route};
pub use world_map::{spawn_publisher as publish_world, world_bounds};

pub use crate::adapters::metrics::AdminStats;
use crate::adapters::metrics::MetricSources;

/// Settings of the admin endpoint.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Where to listen. Loopback unless a token is set.
    pub addr: SocketAddr,
    /// Required on every request when set; required to listen anywhere but loopback.
    pub token: Option<AdminToken>,
    /// Admin connections open at once; more are answered 503 and closed. Default 32.
    pub max_connections: usize,
    /// Time a client has to send a request head, and to start the next one on a kept-alive
    /// connection. Default 5 s.
    pub header_timeout: Duration,
    /// Time an event-stream viewer may take to accept a frame before it is dropped.
    /// Default 10 s.
    pub stall_timeout: Duration,
    /// Most players drawn per map frame (a sample beyond that). Default 2000.
    pub max_dots: usize,
    /// Time between map frames. Default 250 ms.
    pub frame_interval: Duration,
}

impl AdminConfig {
    /// The defaults, listening on `addr` without a token.
    pub fn new(addr: SocketAddr) -> Self {
        AdminConfig {
            addr,
            token: None,
            max_connections: 32,
            header_timeout: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(10),
            max_dots: 2000,
            frame_interval: Duration::from_millis(250),
        }
    }

    /// Refuses a non-loopback address without a token, and zero limits.
    pub fn validate(&self) -> Result<(), AdminError> {
        if !self.addr.ip().is_loopback() && self.token.is_none() {
            return Err(AdminError::TokenRequired { addr: self.addr });
        }
        if self.max_connections == 0 || self.max_dots == 0 || self.frame_interval.is_zero() {
            return Err(AdminError::ZeroLimit);
        }
        Ok(())
    }
}

/// Why the admin endpoint cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Anything but loopback is reachable by others: it needs a token.
    #[error("--admin {addr} is not a loopback address: set --admin-token as well")]
    TokenRequired {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The token is too short or has characters a header cannot carry.
    #[error("the admin token must be at least {MIN_TOKEN_LEN} visible ASCII characters")]
    BadToken,
    /// A limit of zero would serve nothing.
    #[error("admin max_connections, max_dots and frame_interval must be above zero")]
    ZeroLimit,
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: io::Error,
    },
}

/// A running admin endpoint.
pub struct AdminServer {
    addr: SocketAddr,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl AdminServer {
    /// Binds `config.addr` and serves `sources` and `feed` until [`AdminServer::shutdown`].
    pub async fn start(
        config: AdminConfig,
        sources: MetricSources,
        feed: Arc<MapFeed>,
    ) -> Result<AdminServer, AdminError> {
        config.validate()?;
        let bind_error = |source| AdminError::Bind {
            addr: config.addr,
            source,
        };
        let listener = TcpListener::bind(config.addr).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let (live_tx, live_rx) = watch::channel(Bytes::new());
        let builder = FrameBuilder::new(sources.clone(), Instant::now());
        tracker.spawn(live::run_pump(
            builder,
            Arc::clone(&feed),
            live_tx,
            config.frame_interval,
            shutdown.clone(),
        ));
        let served = Arc::new(http::Served {
            token: config.token.clone(),
            stats: Arc::clone(&sources.admin),
            registry: sources.registry(),
            feed,
            live: live_rx,
            stall_timeout: config.stall_timeout,
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
        });
        let limits = http::Limits {
            max_connections: config.max_connections,
            header_timeout: config.header_timeout,
        };
        tracker.spawn(http::accept_loop(listener, served, limits));
        tracing::info!(%addr, token = config.token.is_some(), "admin endpoint listening");
        Ok(AdminServer {
            addr,
            shutdown,
            tracker,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, ends every stream and waits (a few seconds at most) for the
    /// connections to close.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(Duration::from_secs(3), self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("admin connections still open after 3 s; leaving them");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_may_go_without_a_token() {
        let open = |addr: &str| AdminConfig::new(addr.parse().expect("address"));
        assert!(open("127.0.0.1:9100").validate().is_ok());
        assert!(open("[::1]:9100").validate().is_ok());
        assert!(matches!(
            open("0.0.0.0:9100").validate(),
            Err(AdminError::TokenRequired { .. })
        ));
        assert!(matches!(
            open("192.0.2.7:9100").validate(),
            Err(AdminError::TokenRequired { .. })
        ));
        let mut with_token = open("0.0.0.0:9100");
        with_token.token = Some(AdminToken::new("a-long-enough-admin-token").expect("valid"));
        assert!(with_token.validate().is_ok());
    }
}
