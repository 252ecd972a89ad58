//! `dummy-client`: parse flags, run the bots, print the summary, write the JSON report, and
//! exit non-zero if the run failed.

use std::process::ExitCode;

use clap::Parser;
use dummy_client::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        // A bad flag prints what is wrong and the usage line, then exits 2; --help and
        // --version print to stdout and exit 0.
        if e.use_stderr() {
            eprintln!("{e}");
            eprintln!(
                "{}",
                <Cli as clap::CommandFactory>::command().render_usage()
            );
            std::process::exit(2);
        }
        e.exit()
    });
    if let Err(e) = cli.check_login() {
        // As clap's own: what is wrong, the usage line, status 2, before anything connects.
        eprintln!("error: {e}");
        eprintln!(
            "{}",
            <Cli as clap::CommandFactory>::command().render_usage()
        );
        return ExitCode::from(2);
    }
    let filter = match tracing_subscriber::EnvFilter::try_new(&cli.log) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("error: invalid --log filter {:?}: {e}", cli.log);
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    if cli.world.is_world() {
        if cli.udp {
            eprintln!("error: --udp is room mode only (the server's UDP moves are too)");
            return ExitCode::from(2);
        }
        return world(&cli).await;
    }
    let mut config = cli.config();
    match cli.tls() {
        Ok(tls) => config.tls = tls,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    match dummy_client::run_until(config, ctrl_c()).await {
        Ok(report) => finish(&cli, &report, report.passed),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `--world grid`: the world-mode run, its summary and JSON report.
async fn world(cli: &Cli) -> ExitCode {
    let config = cli.world.config(&cli.config());
    if let Err(e) = config.validate() {
        // A setting that cannot make a run (churn without --login, say) is a usage error,
        // as clap's own, before anything connects.
        eprintln!("error: {e}");
        eprintln!(
            "{}",
            <Cli as clap::CommandFactory>::command().render_usage()
        );
        return ExitCode::from(2);
    }
    match dummy_client::world::run_world(config).await {
        Ok(report) => finish(cli, &report, report.passed),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Prints the summary, writes the JSON report if asked, and turns the verdict into the exit
/// status (2 if the JSON could not be written).
fn finish<R: std::fmt::Display + serde::Serialize>(
    cli: &Cli,
    report: &R,
    passed: bool,
) -> ExitCode {
    println!("{report}");
    if let Some(path) = &cli.json {
        let written = serde_json::to_string_pretty(report)
            .map_err(std::io::Error::from)
            .and_then(|json| std::fs::write(path, json + "\n"));
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Completes on Ctrl-C, which ends the window early; never, if Ctrl-C cannot be watched.
async fn ctrl_c() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::warn!(error = %e, "cannot listen for Ctrl-C; the run ends on its own");
        std::future::pending::<()>().await;
    }
}
