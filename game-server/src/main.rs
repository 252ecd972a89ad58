//! `game-server`: parse flags, start the server, stop it on Ctrl-C or SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use game_server::adapters::db::Store;
use game_server::app::game_data::{self, WorldData};
use game_server::app::gen_cert::gen_cert;
use game_server::cli::{Cli, Command};
use game_server::game::accounts::LoginMode;
use game_server::GameServer;

#[tokio::main]
async fn main() -> ExitCode {
    let args = parse_or_usage();
    if let Some(Command::GenCert { dir, names }) = &args.command {
        return match gen_cert(dir, names) {
            Ok(files) => {
                println!(
                    "wrote {} (trust this), {} (its key), {} and {} (the server's)",
                    files.ca.display(),
                    files.ca_key.display(),
                    files.cert.display(),
                    files.key.display()
                );
                println!(
                    "run:  game-server --tls-cert {} --tls-key {}",
                    files.cert.display(),
                    files.key.display()
                );
                println!(
                    "and:  dummy-client --tls --tls-ca {} --addr 127.0.0.1:7778",
                    files.ca.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut config = match args.config() {
        Ok(config) => config,
        Err(e) => usage_error(&e.to_string()),
    };
    let filter = match tracing_subscriber::EnvFilter::try_new(&args.log) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("error: invalid --log filter {:?}: {e}", args.log);
            return ExitCode::from(2);
        }
    };
    if let Err(e) = config.validate() {
        // Flags that parse but cannot work together: as much a usage error as a bad flag.
        usage_error(&format!(
            "{e}\n(flags: --send-queue-limit, --max-pending-bytes, --max-connections, --socket-*-buffer, --regions, --nats, --own-regions, --cluster)"
        ));
    }
    tracing_subscriber::fmt().with_env_filter(filter).init();
    if let Some(world) = &config.world {
        // A bad table: one line naming the file, line and JSON path; exit 2.
        match game_data::for_world(args.data.as_deref(), world.map_size, world.inner_radius) {
            Ok(WorldData::Tables(data, from)) => {
                tracing::info!(from = ?from, "game data: {}", data.summary());
                config.game_data = Some(std::sync::Arc::new(data));
            }
            Ok(WorldData::PlayersOnly(why)) => tracing::warn!(
                "game data: the shipped tables are made for the default world and do not fit \
                 this one ({why}); running with players only (give --data DIR for this world)"
            ),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    raise_fd_limit(args.max_connections);
    if args.login_mode() != LoginMode::Off {
        // A bad file, a newer schema or an unreachable server: one line, exit 2, nothing
        // written.
        match Store::open(&args.db).await {
            Ok(store) => config.accounts = args.accounts(store),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }

    let server = match GameServer::start(config).await {
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

/// Prints what is wrong with the flags and the usage line, then exits 2.
fn usage_error(message: &str) -> ! {
    use clap::CommandFactory;
    eprintln!("error: {message}");
    eprintln!("{}", Cli::command().render_usage());
    std::process::exit(2);
}

/// Parses the flags; a bad one prints what is wrong and the usage line, then exits 2.
fn parse_or_usage() -> Cli {
    use clap::CommandFactory;
    Cli::try_parse().unwrap_or_else(|e| {
        if e.use_stderr() {
            eprintln!("{e}");
            eprintln!("{}", Cli::command().render_usage());
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
