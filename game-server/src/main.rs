//! `game-server`: parse flags, start the server, stop it on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use game_server::world::WorldArgs;
use game_server::{GameServer, ServerConfig};

/// The MMO game server (course protocol, one room).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7777")]
    addr: SocketAddr,
    /// Sessions open at once; more connections are refused.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Room flush interval in milliseconds.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    tick_ms: u64,
    /// Close sessions that send nothing for this many seconds (0 = never).
    #[arg(long, default_value_t = 60)]
    idle_timeout_secs: u64,
    /// Bytes a session may have queued before it is closed as a slow consumer.
    #[arg(long, default_value_t = 4 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..))]
    send_queue_limit: u64,
    /// Largest frame a client may send, header included (4..=65535).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(4..=65535))]
    max_packet_size: u64,
    /// Seconds between summary log lines (0 = none).
    #[arg(long, default_value_t = 5)]
    stats_secs: u64,
    /// Log filter, e.g. `info`, `warn`, `game_server=debug,server_core=debug`.
    #[arg(long, default_value = "info")]
    log: String,
    /// World mode (`--world grid` and its settings).
    #[command(flatten)]
    world: WorldArgs,
}

impl Args {
    fn config(&self) -> ServerConfig {
        let defaults = ServerConfig::default();
        ServerConfig {
            net: server_core::Config {
                addr: self.addr,
                max_connections: self.max_connections as usize,
                idle_timeout: (self.idle_timeout_secs > 0)
                    .then(|| Duration::from_secs(self.idle_timeout_secs)),
                send_queue_limit: self.send_queue_limit as usize,
                max_packet_size: self.max_packet_size as usize,
                ..defaults.net.clone()
            },
            tick: Duration::from_millis(self.tick_ms),
            stats_interval: (self.stats_secs > 0).then(|| Duration::from_secs(self.stats_secs)),
            world: self.world.config(),
            ..defaults
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = parse_or_usage();
    if let Some(Err(e)) = args.world.config().map(|w| w.validate()) {
        use clap::CommandFactory;
        eprintln!("error: {e}");
        eprintln!("{}", Args::command().render_usage());
        return ExitCode::from(2);
    }
    let filter = match tracing_subscriber::EnvFilter::try_new(&args.log) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("error: invalid --log filter {:?}: {e}", args.log);
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt().with_env_filter(filter).init();
    raise_fd_limit(args.max_connections);

    let server = match GameServer::start(args.config()).await {
        Ok(server) => server,
        Err(e) => {
            tracing::error!(addr = %args.addr, error = %e, "could not start");
            return ExitCode::FAILURE;
        }
    };
    wait_for_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// Parses the flags; a bad one prints what is wrong and the usage line, then exits 2.
fn parse_or_usage() -> Args {
    use clap::CommandFactory;
    Args::try_parse().unwrap_or_else(|e| {
        if e.use_stderr() {
            eprintln!("{e}");
            eprintln!("{}", Args::command().render_usage());
            std::process::exit(2);
        }
        // --help and --version print to stdout and exit 0.
        e.exit()
    })
}

/// Every session is a file descriptor: lift the soft limit to the hard one, and say so if
/// that still cannot hold `max_connections`.
fn raise_fd_limit(max_connections: u64) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < max_connections + 64 => tracing::warn!(
            limit,
            max_connections,
            "open-file limit is below --max-connections; raise the hard limit (ulimit -Hn)"
        ),
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not read or raise the open-file limit"),
    }
}

/// Ctrl-C anywhere; SIGTERM too on Unix (what `kill` and service managers send).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only"),
        }
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::error!(error = %e, "cannot listen for Ctrl-C");
        std::future::pending::<()>().await;
    }
}
