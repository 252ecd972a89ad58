//! `bench soak`: N bots with churn against the release game-server for M minutes. Samples the
//! server's memory and its own counts of sessions and players the whole time, and fails on
//! any lost move, any error, or any warning the server logs.
//!
//! The server is a child process (the release `game-server` next to this binary) unless
//! `--addr` names one already running; the bots are dummy-client in this process, with churn
//! on, so the long run also exercises players leaving and entering while the room is busy.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dummy_client::{Report, RunConfig};

use crate::server_proc::{Launch, ProcSample, ServerProcess};

/// Flags of `bench soak`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bots connected at once.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(2..))]
    clients: u32,
    /// Minutes of the measured window (fractions allowed: 0.5 is 30 s).
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Bots per second that leave and rejoin as new players; default: clients / 100, so each
    /// bot churns about every 100 s.
    #[arg(long)]
    churn_per_sec: Option<f64>,
    /// Use this running server instead of starting the release game-server.
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// With --addr: the server's process id, to sample its memory.
    #[arg(long, requires = "addr")]
    pid: Option<u32>,
    /// Seconds between samples of the server's memory and counts.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    sample_secs: u64,
    /// Seconds between rows of the printed table.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    table_secs: u64,
    /// Write the bots' full report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Milliseconds between one bot's chat lines (0 = no chat). Every line (Korean and an
    /// emoji, in UTF-16) must reach every bot in the room intact; keep it above the server's
    /// 500 ms per line, or its rate limit drops lines and they count as lost.
    #[arg(long, default_value_t = 0)]
    chat_interval_ms: u64,
}

/// What the server said about itself in its latest summary log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ServerCounts {
    sessions: u64,
    players: u64,
    refused: u64,
    dropped: u64,
    job_panics: u64,
}

/// The server's log, read line by line from its stderr.
#[derive(Debug, Default)]
struct ServerLog {
    latest: Option<ServerCounts>,
    /// Lines at WARN or ERROR: each is something the soak must not provoke.
    warnings: u64,
    /// The first few of them, to show.
    examples: Vec<String>,
}

/// One sample of the server.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Seconds since the bots started.
    at: f64,
    rss: Option<u64>,
    counts: Option<ServerCounts>,
}

/// Runs the soak and prints its tables; an error if the soak failed.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if !(args.minutes.is_finite() && args.minutes > 0.0) {
        return Err("--minutes must be a positive number".into());
    }
    // Every bot is a descriptor here and a session there.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("warning: cannot raise the open-file limit: {e}");
    }
    let log = Arc::new(Mutex::new(ServerLog::default()));
    let (child, addr, pid) = match args.addr {
        Some(addr) => (None, addr, args.pid),
        None => {
            let child = start_server(args.clients, args.sample_secs, Arc::clone(&log))?;
            let (addr, pid) = (child.addr, Some(child.pid()));
            (Some(child), addr, pid)
        }
    };
    let churn = args
        .churn_per_sec
        .unwrap_or(f64::from(args.clients) / 100.0);
    let window = Duration::from_secs_f64(args.minutes * 60.0);
    println!(
        "soak: {} bots, churn {churn}/s, window {:.1} min against {addr} ({}); sampling every {} s",
        args.clients,
        args.minutes,
        if child.is_some() {
            "release game-server child"
        } else {
            "external server"
        },
        args.sample_secs
    );

    let started = Instant::now();
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (samples, stop, log) = (Arc::clone(&samples), Arc::clone(&stop), Arc::clone(&log));
        let (every, table_every) = (
            Duration::from_secs(args.sample_secs),
            Duration::from_secs(args.table_secs),
        );
        std::thread::spawn(move || {
            sample_until(pid, started, every, table_every, &samples, &log, &stop)
        })
    };

    let config = RunConfig {
        addr,
        clients: args.clients as usize,
        duration: window,
        churn_per_sec: churn,
        chat_interval: (args.chat_interval_ms > 0)
            .then(|| Duration::from_millis(args.chat_interval_ms)),
        status_line: false,
        ..RunConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report: Report = runtime.block_on(dummy_client::run_until(config, ctrl_c()))?;
    drop(runtime);
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    // Wait for one more summary line of the server's, written after every bot has gone.
    std::thread::sleep(Duration::from_secs(args.sample_secs + 1));
    let final_rss = pid.and_then(|p| ProcSample::of(p).ok()).map(|s| s.rss);
    let clean_exit = child.map(|c| c.stop(Duration::from_secs(10)));

    let samples = lock(&samples).clone();
    let log = lock(&log);
    print_summary(&args, &report, &samples, &log, final_rss, clean_exit);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")?;
    }

    let lost = lost(&report);
    let mut failures = Vec::new();
    if !report.passed {
        failures.push(format!(
            "the bots' run failed: {}",
            report.failures.join("; ")
        ));
    }
    if lost > 0 {
        failures.push(format!("{lost} moves lost"));
    }
    if log.warnings > 0 {
        failures.push(format!(
            "the server logged {} warnings or errors",
            log.warnings
        ));
    }
    if let Some(c) = log.latest.filter(|c| c.sessions != 0 || c.players != 0) {
        failures.push(format!(
            "after every bot left the server still had {} sessions and {} players",
            c.sessions, c.players
        ));
    }
    if let Some(c) = log.latest.filter(|c| c.job_panics != 0) {
        failures.push(format!("{} room jobs panicked", c.job_panics));
    }
    if clean_exit == Some(false) {
        failures.push("the server did not shut down cleanly on SIGINT".into());
    }
    if failures.is_empty() {
        println!("\nverdict: PASSED");
        Ok(())
    } else {
        println!("\nverdict: FAILED");
        Err(failures.join("; ").into())
    }
}

/// Moves some bot should have received and did not, over every check.
fn lost(report: &Report) -> u64 {
    report.moves.lost + report.churn.lost + report.churn.echoes_missing
}

/// Samples every `every` until `stop`, printing a row every `table_every`.
fn sample_until(
    pid: Option<u32>,
    started: Instant,
    every: Duration,
    table_every: Duration,
    samples: &Mutex<Vec<Sample>>,
    log: &Mutex<ServerLog>,
    stop: &AtomicBool,
) {
    let mut next = started;
    let mut next_row = started;
    println!("\n{}", table_header());
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next {
            next += every;
            let sample = Sample {
                at: now.duration_since(started).as_secs_f64(),
                rss: pid.and_then(|p| ProcSample::of(p).ok()).map(|s| s.rss),
                counts: lock(log).latest,
            };
            lock(samples).push(sample);
            if now >= next_row {
                next_row += table_every;
                println!("{}", table_row(&sample));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn table_header() -> String {
    "| time | server RSS | sessions | players |\n|---|---|---|---|".to_string()
}

fn table_row(s: &Sample) -> String {
    let dash = || "-".to_string();
    format!(
        "| {:>4.0} s | {} | {} | {} |",
        s.at,
        s.rss.map_or_else(dash, |r| format!("{:.1} MiB", mib(r))),
        s.counts.map_or_else(dash, |c| c.sessions.to_string()),
        s.counts.map_or_else(dash, |c| c.players.to_string()),
    )
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn print_summary(
    args: &Args,
    report: &Report,
    samples: &[Sample],
    log: &ServerLog,
    final_rss: Option<u64>,
    clean_exit: Option<bool>,
) {
    println!("\n{report}\n");
    println!("RSS over time (every {} s):\n", args.table_secs);
    println!("{}", table_header());
    let mut next = 0.0;
    for s in samples {
        if s.at + 1e-6 >= next {
            next += args.table_secs as f64;
            println!("{}", table_row(s));
        }
    }
    let window_start = report.timeline.ramp_secs;
    let window_end = window_start + report.timeline.window_secs;
    // Warm-up: the first minute of the window, or its first quarter if it is shorter than
    // four minutes, so a short soak still has a slope to show.
    let warm = window_start + (report.timeline.window_secs / 4.0).min(60.0);
    let after: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.at >= warm && s.at <= window_end)
        .filter_map(|s| s.rss.map(|r| (s.at / 60.0, mib(r))))
        .collect();
    println!();
    match slope(&after) {
        Some(per_min) => {
            let (first, last) = (after[0].1, after[after.len() - 1].1);
            let peak = after.iter().map(|p| p.1).fold(f64::MIN, f64::max);
            println!(
                "RSS after warm-up ({:.0} s into the window, {} samples): {first:.1} -> {last:.1} MiB, \
                 peak {peak:.1} MiB, slope {:+.0} KiB/min",
                warm - window_start,
                after.len(),
                per_min * 1024.0
            );
        }
        None => println!("RSS slope: not enough samples after warm-up"),
    }
    if let Some(rss) = final_rss {
        println!("RSS after the bots left: {:.1} MiB", mib(rss));
    }
    let counts = log.latest;
    println!(
        "sessions: {} connections made ({} of them rejoins); after the bots left the server had \
         {} sessions and {} players",
        report.connected,
        report.churn.rejoins,
        counts.map_or_else(|| "-".to_string(), |c| c.sessions.to_string()),
        counts.map_or_else(|| "-".to_string(), |c| c.players.to_string())
    );
    let by_reason: Vec<String> = report
        .disconnects
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!(
        "disconnects before the end: {}{}",
        report.disconnects.values().sum::<u64>(),
        if by_reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", by_reason.join(", "))
        }
    );
    println!(
        "errors: {} (bots), {} server warnings/errors{}",
        report.errors.total(),
        log.warnings,
        counts.map_or_else(String::new, |c| format!(
            ", server counters: inputs dropped {}, refused {}, job panics {}",
            c.dropped, c.refused, c.job_panics
        ))
    );
    for line in &log.examples {
        println!("  server: {line}");
    }
    println!(
        "packets lost: {} (whole-window receivers {}, churned stays {}, never echoed {})",
        lost(report),
        report.moves.lost,
        report.churn.lost,
        report.churn.echoes_missing
    );
    let chat = &report.chat;
    if chat.enabled {
        println!(
            "chat: {} lines sent, {} received, {} receivers checked whole; corrupt {}, lost {}, duplicates {}, foreign {}",
            chat.sent,
            chat.received,
            chat.receivers_checked,
            chat.corrupt,
            chat.lost,
            chat.duplicates,
            chat.foreign
        );
    }
    if let Some(clean) = clean_exit {
        println!(
            "server shutdown on SIGINT: {}",
            if clean { "clean" } else { "NOT clean" }
        );
    }
}

/// Least-squares slope of (minutes, MiB) points, in MiB per minute.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The counts of a `summary` log line of the game server, ANSI colours or not.
fn parse_summary(line: &str) -> Option<ServerCounts> {
    let plain = strip_ansi(line);
    if !plain.contains(" summary") {
        return None;
    }
    let mut counts = ServerCounts::default();
    let mut seen = 0;
    for token in plain.split_whitespace() {
        let Some((key, value)) = token.split_once('=') else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        let field = match key {
            "sessions" => &mut counts.sessions,
            "players" => &mut counts.players,
            "refused" => &mut counts.refused,
            "dropped" => &mut counts.dropped,
            "job_panics" => &mut counts.job_panics,
            _ => continue,
        };
        *field = value;
        seen += 1;
    }
    (seen == 5).then_some(counts)
}

/// Reads the server's output to its end: summary lines update the counts; warnings, errors
/// and (with `all_bad`, for stderr) every other line are counted as things that went wrong.
fn read_log(output: impl io::Read, log: &Mutex<ServerLog>, all_bad: bool) {
    for line in BufReader::new(output).lines() {
        let Ok(line) = line else { break };
        let mut log = lock(log);
        if let Some(counts) = parse_summary(&line) {
            log.latest = Some(counts);
        } else if all_bad || line.contains("WARN") || line.contains("ERROR") {
            log.warnings += 1;
            if log.examples.len() < 5 {
                log.examples.push(strip_ansi(&line));
            }
        }
    }
}

/// `line` without ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Samples and log counts stay usable whatever panicked while holding them.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Completes on Ctrl-C, which ends the window early (the bots still drain and report).
async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Starts the release `game-server` on a free port, logging warnings and a summary every
/// `stats_secs` into `log` (the soak fails on any warning it sees there).
fn start_server(
    clients: u32,
    stats_secs: u64,
    log: Arc<Mutex<ServerLog>>,
) -> io::Result<ServerProcess> {
    let max_connections = (u64::from(clients) * 2 + 64).to_string();
    let mut server = ServerProcess::launch(&Launch {
        args: &["--max-connections", &max_connections],
        log: "warn,game_server::stats=info",
        stats_secs,
        capture_output: true,
    })?;
    // The server logs to stdout; stderr would carry a panic message.
    if let Some(stdout) = server.take_stdout() {
        let log = Arc::clone(&log);
        std::thread::spawn(move || read_log(stdout, &log, false));
    }
    if let Some(stderr) = server.take_stderr() {
        std::thread::spawn(move || read_log(stderr, &log, true));
    }
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_servers_summary_line_with_or_without_colours() {
        let plain = "2026-11-22T01:00:00.000000Z  INFO game_server::stats: summary sessions=1000 \
                     players=998 in_per_sec=4000 out_per_sec=4000000 refused=0 dropped=3 \
                     rejected=0 job_panics=0";
        let expected = ServerCounts {
            sessions: 1000,
            players: 998,
            refused: 0,
            dropped: 3,
            job_panics: 0,
        };
        assert_eq!(parse_summary(plain), Some(expected));
        let coloured = plain
            .replace("sessions=", "\u{1b}[3msessions\u{1b}[0m\u{1b}[2m=\u{1b}[0m")
            .replace("INFO", "\u{1b}[32m INFO\u{1b}[0m");
        assert_eq!(
            parse_summary(&coloured),
            Some(expected),
            "ANSI colours must not hide the counts"
        );
        assert_eq!(
            parse_summary("WARN game_server::client_session: disconnected player_id=3"),
            None
        );
    }

    #[test]
    fn slope_is_least_squares_in_mib_per_minute() {
        let flat = [(1.0, 50.0), (2.0, 50.0), (3.0, 50.0)];
        assert_eq!(slope(&flat), Some(0.0));
        let growing = [(1.0, 50.0), (2.0, 52.0), (3.0, 54.0)];
        assert_eq!(slope(&growing), Some(2.0), "2 MiB more every minute");
        assert_eq!(slope(&[(1.0, 1.0)]), None, "one point has no slope");
    }
}
