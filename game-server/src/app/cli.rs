//! The `game-server` binary's flags, and the [`ServerConfig`] they make.
//!
//! A library module (like dummy-client's) so the binary stays a table of contents and the
//! flags can be tested without starting a process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::adapters::admin::{AdminConfig, AdminError, AdminToken};
use crate::adapters::db::Store;
use crate::adapters::sessions::udp::UdpSettings;
use crate::app::config::{AccountsConfig, ServerConfig, TlsListen};
use crate::game::accounts::LoginMode;
use crate::game::saves::SaveConfig;
use crate::game::world::WorldArgs;

/// Flags that parse but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The admin endpoint's settings (see [`AdminConfig::validate`]).
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// The TLS certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] server_core::TlsError),
    /// The cluster flags or file.
    #[error(transparent)]
    Cluster(#[from] crate::adapters::cluster::ClusterConfigError),
    /// Flags that do not go together.
    #[error(transparent)]
    Config(#[from] crate::app::config::ServerConfigError),
}

/// What the binary can do besides serving.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Makes a development CA (DIR/ca.pem, the file clients trust) and a server
    /// certificate it signed (DIR/server.pem and DIR/server-key.pem, for --tls-cert and
    /// --tls-key). Never overwrites a file.
    GenCert {
        /// The folder to write into (created if missing).
        dir: PathBuf,
        /// Names the certificate is valid for (DNS names or IP addresses), repeatable.
        #[arg(long = "name", default_values = ["localhost", "127.0.0.1", "::1"])]
        names: Vec<String>,
    },
}

/// The MMO game server (course protocol, one room).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7777")]
    pub addr: SocketAddr,
    /// Sessions open at once; more connections are refused.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Room flush interval in milliseconds.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    tick_ms: u64,
    /// Close sessions that send nothing for this many seconds (0 = never).
    #[arg(long, default_value_t = 60)]
    idle_timeout_secs: u64,
    /// Bytes a session may have queued (and in flight) before it is closed as a slow
    /// consumer. Must hold a full room's player list plus two flush batches (see
    /// --max-pending-bytes); the server refuses to start with less.
    #[arg(long, default_value_t = 4 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..))]
    send_queue_limit: u64,
    /// Pending broadcast bytes that make the room flush before its tick (the largest flush
    /// batch is this plus one broadcast).
    #[arg(long, default_value_t = 1024 * 1024, value_parser = clap::value_parser!(u64).range(64..=1 << 30))]
    max_pending_bytes: u64,
    /// SO_SNDBUF of each session's socket in bytes (0 = the kernel's autotuning, which lets
    /// a client that does not read pin up to tcp_wmem's maximum, 4 MiB, in the kernel).
    #[arg(long, default_value_t = 256 * 1024)]
    socket_send_buffer: u64,
    /// SO_RCVBUF of each session's socket in bytes (0 = the kernel's autotuning).
    #[arg(long, default_value_t = 64 * 1024)]
    socket_recv_buffer: u64,
    /// Sessions one source address may have open (0 = no per-address limits; IPv6 counts
    /// by /64; loopback is exempt unless --limit-loopback).
    #[arg(long, default_value_t = 128)]
    max_connections_per_address: u64,
    /// New connections one source address may open per second, on average.
    #[arg(long, default_value_t = 5.0, value_parser = positive_f64)]
    connects_per_address_per_sec: f64,
    /// New connections one source address may open back to back.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    connect_burst_per_address: u32,
    /// Apply the per-address limits to loopback clients too (exempt by default, for local
    /// load tests and a proxy on the same host).
    #[arg(long)]
    limit_loopback: bool,
    /// Largest frame a client may send, header included (4..=65535).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(4..=65535))]
    max_packet_size: u64,
    /// Seconds between summary log lines (0 = none).
    #[arg(long, default_value_t = 5)]
    stats_secs: u64,
    /// PEM certificate chain for a TLS listener beside the TCP one (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Address of the TLS listener (with --tls-cert and --tls-key); TLS and TCP players
    /// share one room.
    #[arg(long, default_value = "127.0.0.1:7778", requires = "tls_cert")]
    tls_addr: SocketAddr,
    /// Accept moves over UDP on this address from players bound through their TCP session
    /// (C_UdpRequest, then C_UdpBind), and send moves over UDP to those who ask (off unless
    /// given; room mode only).
    #[arg(long, value_name = "ADDR")]
    udp_addr: Option<SocketAddr>,
    /// Unbind a UDP session that sent nothing for this many seconds (its player's moves go
    /// back to TCP).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    udp_idle_timeout_secs: u64,
    /// Log filter, e.g. `info`, `warn`, `game_server=debug,server_core=debug`.
    #[arg(long, default_value = "info")]
    pub log: String,
    /// Serve /metrics, /healthz and the live map page on this address, e.g.
    /// 127.0.0.1:9100 (off unless given). Anything but loopback needs --admin-token.
    #[arg(long, value_name = "ADDR")]
    admin: Option<SocketAddr>,
    /// Token every admin request must carry (`Authorization: Bearer TOKEN`, or as the
    /// password of a browser's login prompt); at least 16 characters. Prefer the environment
    /// variable: a command line is visible to every user of the machine.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "GAME_SERVER_ADMIN_TOKEN",
        hide_env_values = true,
        requires = "admin"
    )]
    admin_token: Option<String>,
    /// World mode (`--world grid` and its settings).
    #[command(flatten)]
    world: WorldArgs,
    /// Cluster mode (`--nats`, `--node-id`, `--own-regions`, or `--cluster FILE`).
    #[command(flatten)]
    cluster: crate::adapters::cluster::ClusterArgs,
    /// Logins and saved characters: `optional` (guests play too, as in the course; the
    /// default), `required` (production: no guests), or `off` (no database at all; the
    /// default in a cluster, whose nodes must share a PostgreSQL `--db` to log players in).
    #[arg(long, value_name = "MODE")]
    login: Option<LoginMode>,
    /// The database: a SQLite file (created with its folder if missing) or a
    /// postgres://user:password@host/db URL.
    #[arg(long, default_value = "data/game.sqlite3", value_name = "PATH|URL")]
    pub db: String,
    /// Milliseconds of silence after connecting that make a connection a guest.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    guest_grace_ms: u64,
    /// Seconds between checkpoints of the characters in play (at most this much play is lost
    /// if the process is killed).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    save_interval_secs: u64,
    /// Seconds a logged-in character whose connection dropped stays in the room, standing
    /// still, for a login to take it back (0 = it leaves at once; room and world mode, not in
    /// a cluster).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    reconnect_grace_secs: u64,
    /// Seconds a login token (S_Login.token, for C_LoginToken) stays good; each login that
    /// passes issues a new one and ends the one before.
    #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    token_ttl_secs: u64,
    /// Folder of the game data tables (monsters.json, skills.json, players.json,
    /// spawns.json), read and checked at start in world mode. Default: data/ if it has
    /// them, else the copies built into the binary.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Instead of serving: `gen-cert DIR` makes a development CA and server certificate.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The server's configuration from the flags (not yet validated as a whole: see
    /// [`ServerConfig::validate`]).
    pub fn config(&self) -> Result<ServerConfig, CliError> {
        let defaults = ServerConfig::default();
        let admin = match self.admin {
            Some(addr) => {
                let mut admin = AdminConfig::new(addr);
                admin.token = self
                    .admin_token
                    .as_deref()
                    .map(AdminToken::new)
                    .transpose()?;
                admin.validate()?;
                Some(admin)
            }
            None => None,
        };
        // --tls-cert and --tls-key come together (clap's `requires`).
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsListen {
                addr: self.tls_addr,
                acceptor: server_core::TlsAcceptor::from_pem_files(cert, key)?,
            }),
            _ => None,
        };
        if self.data.is_some() && !self.world_mode() {
            return Err(crate::app::config::ServerConfigError::DataWithoutWorld.into());
        }
        let cluster = self.cluster.config()?;
        let postgres = self.db.starts_with("postgres://") || self.db.starts_with("postgresql://");
        if cluster.is_some() && self.login.is_some_and(|m| m != LoginMode::Off) && !postgres {
            return Err(crate::app::config::ServerConfigError::AccountsInCluster.into());
        }
        Ok(ServerConfig {
            net: server_core::Config {
                addr: self.addr,
                max_connections: self.max_connections as usize,
                idle_timeout: (self.idle_timeout_secs > 0)
                    .then(|| Duration::from_secs(self.idle_timeout_secs)),
                send_queue_limit: self.send_queue_limit as usize,
                max_packet_size: self.max_packet_size as usize,
                socket_send_buffer: (self.socket_send_buffer > 0)
                    .then_some(self.socket_send_buffer as usize),
                socket_recv_buffer: (self.socket_recv_buffer > 0)
                    .then_some(self.socket_recv_buffer as usize),
                address_limits: (self.max_connections_per_address > 0).then(|| {
                    server_core::AddressLimits {
                        max_open: self.max_connections_per_address as usize,
                        connects_per_sec: self.connects_per_address_per_sec,
                        connect_burst: self.connect_burst_per_address,
                        exempt_loopback: !self.limit_loopback,
                        ..server_core::AddressLimits::default()
                    }
                }),
                ..defaults.net.clone()
            },
            tick: Duration::from_millis(self.tick_ms),
            max_pending_bytes: self.max_pending_bytes as usize,
            stats_interval: (self.stats_secs > 0).then(|| Duration::from_secs(self.stats_secs)),
            admin,
            world: self.world.config(),
            cluster,
            tls,
            udp: self.udp_addr.map(|addr| UdpSettings {
                idle_timeout: Duration::from_secs(self.udp_idle_timeout_secs),
                ..UdpSettings::new(addr)
            }),
            ..defaults
        })
    }
}

impl Cli {
    /// World mode (`--world grid`): game data is read.
    pub fn world_mode(&self) -> bool {
        self.world.world == crate::game::world::Mode::Grid
    }

    /// `--login`, or its default: optional, and off in a cluster.
    pub fn login_mode(&self) -> LoginMode {
        match self.login {
            Some(mode) => mode,
            None if self.cluster.is_set() => LoginMode::Off,
            None => LoginMode::Optional,
        }
    }

    /// With logins on, the settings around the database `store` (the caller opens it: that
    /// is async and may fail with a one-line error of its own).
    pub fn accounts(&self, store: Store) -> Option<AccountsConfig> {
        let mode = self.login_mode();
        (mode != LoginMode::Off).then(|| AccountsConfig {
            mode,
            store,
            guest_grace: Duration::from_millis(self.guest_grace_ms),
            saves: SaveConfig {
                interval: Duration::from_secs(self.save_interval_secs),
                ..SaveConfig::default()
            },
            reconnect_grace: (self.reconnect_grace_secs > 0)
                .then(|| Duration::from_secs(self.reconnect_grace_secs)),
            token_ttl: Duration::from_secs(self.token_ttl_secs),
            lease: crate::adapters::db::LeaseConfig::default(),
        })
    }
}

/// A number above zero, for rates.
fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("expected a number above 0, got {s:?}")),
    }
}
