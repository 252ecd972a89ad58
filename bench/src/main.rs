//! `bench`: the benchmark harnesses. Each subcommand prints a table for BENCHMARKS.md.

use clap::{Parser, Subcommand};

mod admin_watch;
mod bots;
mod broadcast;
mod cluster;
mod echo;
mod idle;
mod persist;
mod persist_world;
mod pki;
mod plot;
pub mod server_proc;
mod soak;
mod udp;
mod world;

/// Benchmarks of the workspace (run with --release).
#[derive(Debug, Parser)]
#[command(about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// PacketSession echo throughput against a bare tokio echo server with the same framing.
    Echo(echo::Args),
    /// The course's broadcast load test against the release game-server, for one N or a sweep.
    Broadcast(broadcast::Args),
    /// The bots' own CPU per delivered move, an older dummy-client build against this one,
    /// side by side.
    Bots(bots::Args),
    /// Server memory per connected idle session (10,000 by default).
    Idle(idle::Args),
    /// Redraws a sweep's chart from the CSV it wrote beside it.
    Plot {
        /// The CSV (`n,delivered_pct,p99_ms`).
        csv: std::path::PathBuf,
        /// The SVG to write.
        svg: std::path::PathBuf,
        /// The world sweep's chart (`bench world`) rather than the broadcast sweep's.
        #[arg(long)]
        world: bool,
    },
    /// N bots with churn against the release game-server for M minutes: RSS over time,
    /// errors and lost moves; fails on any loss or error.
    Soak(soak::Args),
    /// N bots walking a world-mode game-server at a fixed density (area of interest).
    World(world::Args),
    /// The same world on one process and on two joined by NATS: hand-off and delivery
    /// latency, NATS messages and bytes per second.
    Cluster(cluster::Args),
    /// What accounts and saved characters cost: logins per second (argon2), and world mode
    /// with every bot logged in and saved, on SQLite and PostgreSQL, against persistence off.
    Persist(persist::Args),
    /// Moves over UDP against TCP at N bots, with 0% and 2% loss on loopback (a private
    /// network namespace made with `unshare -n`; needs root).
    Udp(udp::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Echo(args) => echo::run(args),
        Command::Bots(args) => bots::run(args),
        Command::Broadcast(args) => broadcast::run(args),
        Command::Idle(args) => idle::run(args),
        Command::Plot { csv, svg, world } => std::fs::read_to_string(&csv)
            .map_err(|e| format!("{}: {e}", csv.display()).into())
            .and_then(|text| {
                plot::read_csv(&text).map_err(|e| format!("{}: {e}", csv.display()).into())
            })
            .and_then(|points| {
                let labels = if world {
                    &plot::Labels::WORLD
                } else {
                    &plot::Labels::ROOM
                };
                std::fs::write(&svg, plot::chart(&points, labels)).map_err(Into::into)
            }),
        Command::Soak(args) => soak::run(args),
        Command::Persist(args) => persist::run(args),
        Command::World(args) => world::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Udp(args) => udp::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
