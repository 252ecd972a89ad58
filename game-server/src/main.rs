//! `game-server`: parse flags, start the server, stop it on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use game_server::world::{Spawn, WorldConfig};
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
    #[command(flatten)]
    world: WorldArgs,
}

/// What the game is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// The course's one room: everyone sees everyone (the default).
    Room,
    /// A square map in grid cells and stripes of regions, with area of interest.
    Grid,
}

/// World mode's settings (used with `--world grid`).
#[derive(Debug, clap::Args)]
struct WorldArgs {
    /// `room` (the course's, default) or `grid` (a world of regions with area of interest).
    #[arg(long, value_enum, default_value_t = Mode::Room)]
    world: Mode,
    /// Side of the square map, centred on (0, 0).
    #[arg(long, default_value_t = 1000.0)]
    map_size: f32,
    /// Side of a grid cell.
    #[arg(long, default_value_t = 50.0)]
    cell_size: f32,
    /// A player comes into view within this distance.
    #[arg(long, default_value_t = 40.0)]
    inner_radius: f32,
    /// A player in view goes out of view beyond this distance.
    #[arg(long, default_value_t = 50.0)]
    outer_radius: f32,
    /// Regions (stripes along x), one thread each.
    #[arg(long, default_value_t = 2)]
    regions: usize,
    /// Longest step one C_Move may take; longer ones are shortened to it.
    #[arg(long, default_value_t = 10.0)]
    max_step: f32,
    /// Spawn points: `random` (spread over the map) or `X,Z` (everyone there).
    #[arg(long, default_value = "random", value_parser = parse_spawn)]
    spawn: Spawn,
    /// Seed of the random spawn points.
    #[arg(long, default_value_t = 0x5eed)]
    spawn_seed: u64,
}

fn parse_spawn(s: &str) -> Result<Spawn, String> {
    if s == "random" {
        return Ok(Spawn::Random { seed: 0 });
    }
    let (x, z) = s
        .split_once(',')
        .ok_or_else(|| format!("expected `random` or `X,Z`, got {s:?}"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<f32>()
            .map_err(|e| format!("{v:?} is not a number: {e}"))
    };
    Ok(Spawn::At {
        x: parse(x)?,
        z: parse(z)?,
    })
}

impl WorldArgs {
    fn config(&self) -> Option<WorldConfig> {
        (self.world == Mode::Grid).then_some(WorldConfig {
            map_size: self.map_size,
            cell_size: self.cell_size,
            inner_radius: self.inner_radius,
            outer_radius: self.outer_radius,
            regions: self.regions,
            max_step: self.max_step,
            spawn: match self.spawn {
                Spawn::Random { .. } => Spawn::Random {
                    seed: self.spawn_seed,
                },
                at => at,
            },
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_stays_the_default() {
        let args = Args::try_parse_from(["game-server"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(args.config().world, None);
    }

    #[test]
    fn world_flags_reach_the_world_config() {
        let args = Args::try_parse_from([
            "game-server",
            "--world",
            "grid",
            "--map-size",
            "2000",
            "--regions",
            "4",
            "--inner-radius",
            "30",
            "--spawn",
            "10,-5",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let world = args.config().world.expect("world mode");
        assert_eq!(world.map_size, 2000.0);
        assert_eq!(world.regions, 4);
        assert_eq!(world.inner_radius, 30.0);
        assert_eq!(world.spawn, Spawn::At { x: 10.0, z: -5.0 });
        assert_eq!(world.validate(), Ok(()));
        let random = Args::try_parse_from(["game-server", "--world", "grid", "--spawn-seed", "9"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            random.config().world.map(|w| w.spawn),
            Some(Spawn::Random { seed: 9 })
        );
    }

    #[test]
    fn bad_world_flags_are_refused() {
        for args in [
            &["game-server", "--world", "cube"][..],
            &["game-server", "--world", "grid", "--spawn", "here"],
            &["game-server", "--world", "grid", "--spawn", "1,x"],
            &["game-server", "--map-size", "big"],
        ] {
            assert!(
                Args::try_parse_from(args).is_err(),
                "{args:?} should be refused"
            );
        }
        let inverted =
            Args::try_parse_from(["game-server", "--world", "grid", "--inner-radius", "60"])
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(inverted
            .world
            .config()
            .is_some_and(|w| w.validate().is_err()));
    }
}
