//! The course's load test at scale: N bots in one room, each moving every 250 ms; every
//! `S_BroadcastMove` must reach every bot. Server (a `game-server` child process) and bots
//! (in this process) share the machine, so both their costs are reported.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dummy_client::{Report, RunConfig};

use crate::plot;
use crate::server_proc::{ProcSample, ServerProcess};

/// Flags of `bench broadcast`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bots, or a comma-separated list for a sweep (e.g. 100,500,1000,2000,3000).
    #[arg(long, default_value = "1000", value_delimiter = ',')]
    clients: Vec<usize>,
    /// Seconds of the measured window, after ramp-up.
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// Milliseconds between one bot's moves (the course: 250).
    #[arg(long, default_value_t = 250)]
    move_interval_ms: u64,
    /// Room flush interval of the server, in milliseconds (the course: 250).
    #[arg(long, default_value_t = 250)]
    tick_ms: u64,
    /// Write the sweep's delivered ratio and p99 against N as an SVG chart here.
    #[arg(long)]
    plot: Option<std::path::PathBuf>,
    /// The server's admin endpoint: `off`, `on` (with one live-map viewer and a /metrics
    /// scrape every second during the run), or `both`, each N run off then on, side by side.
    #[arg(long, value_enum, default_value_t = AdminMode::Off)]
    admin: AdminMode,
}

/// Whether runs have the admin endpoint on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AdminMode {
    /// No admin endpoint (the default, as in production without `--admin`).
    Off,
    /// `--admin` on loopback, watched and scraped.
    On,
    /// Each N twice: off, then on.
    Both,
}

/// One run's results.
#[derive(Debug, Clone)]
pub struct Row {
    clients: usize,
    /// Admin endpoint on: (live frames, /metrics scrapes) taken during the run.
    admin: Option<(u64, u64)>,
    /// Deliveries received over N x N x moves-per-second x window.
    delivered_nominal: f64,
    /// Received over expected (what the bots actually sent, times receivers).
    delivered_sent: f64,
    lost: u64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu: f64,
    bot_cpu: f64,
    peak_rss: u64,
    rss_per_session: f64,
    rss_window_start: u64,
    rss_window_end: u64,
    disconnects: u64,
    errors: u64,
}

/// Runs the benchmark for each N and prints the table.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut rows = Vec::new();
    println!(
        "broadcast: window {} s, move every {} ms, tick {} ms; server = release game-server child, bots = dummy-client in this process",
        args.secs, args.move_interval_ms, args.tick_ms
    );
    let modes: &[bool] = match args.admin {
        AdminMode::Off => &[false],
        AdminMode::On => &[true],
        AdminMode::Both => &[false, true],
    };
    for &clients in &args.clients {
        for &admin in modes {
            let row = run_one(&args, clients, admin)?;
            eprintln!(
                "N = {clients}{}: done",
                if admin { ", admin on" } else { "" }
            );
            rows.push(row);
        }
    }
    print_table(&rows);
    if let Some(path) = &args.plot {
        let points: Vec<plot::Point> = rows
            .iter()
            .filter(|r| r.admin.is_none() || args.admin == AdminMode::On)
            .map(|r| plot::Point {
                n: r.clients as f64,
                delivered_pct: r.delivered_nominal * 100.0,
                p99_ms: r.p99_ms,
            })
            .collect();
        std::fs::write(path, plot::delivered_and_p99(&points))?;
        let csv = path.with_extension("csv");
        std::fs::write(&csv, plot::write_csv(&points))?;
        println!(
            "\nchart written to {} (data: {})",
            path.display(),
            csv.display()
        );
    }
    Ok(())
}

fn run_one(args: &Args, clients: usize, admin: bool) -> Result<Row, Box<dyn std::error::Error>> {
    let tick = args.tick_ms.to_string();
    let admin_addr = if admin {
        Some(crate::admin_watch::free_loopback_port()?)
    } else {
        None
    };
    let admin_arg = admin_addr.map(|a| a.to_string()).unwrap_or_default();
    let mut server_args = vec!["--tick-ms", &tick, "--max-connections", "10000"];
    if admin_addr.is_some() {
        server_args.extend(["--admin", &admin_arg]);
    }
    let server = ServerProcess::start(&server_args)?;
    let watcher = admin_addr.map(crate::admin_watch::AdminWatch::start);
    let idle_rss = server.sample()?.rss;

    // Sample the server once a second while the bots run.
    let samples: Arc<Mutex<Vec<ProcSample>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let samples = Arc::clone(&samples);
        let stop = Arc::clone(&stop);
        let pid = server.pid();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(s) = ProcSample::of(pid) {
                    samples.lock().unwrap_or_else(|p| p.into_inner()).push(s);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };

    let config = RunConfig {
        addr: server.addr,
        clients,
        move_interval: Duration::from_millis(args.move_interval_ms),
        duration: Duration::from_secs(args.secs),
        status_line: false,
        ..RunConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let bots_before = ProcSample::this()?;
    let server_before = server.sample()?;
    let report: Report = runtime.block_on(dummy_client::run(config))?;
    let bots_after = ProcSample::this()?;
    let server_after = server.sample()?;
    let admin = watcher.map(crate::admin_watch::AdminWatch::stop);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.join();
    drop(runtime);
    let clean_exit = server.stop(Duration::from_secs(5));
    if !clean_exit {
        eprintln!("warning: game-server did not exit cleanly within 5 s");
    }

    let samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let window_start = server_before.at + Duration::from_secs_f64(report.timeline.ramp_secs);
    let window_end = window_start + Duration::from_secs_f64(report.timeline.window_secs);
    let rss_near = |t: std::time::Instant| {
        samples
            .iter()
            .min_by_key(|s| if s.at > t { s.at - t } else { t - s.at })
            .map_or(0, |s| s.rss)
    };
    let moves_per_sec = 1000.0 / args.move_interval_ms as f64;
    let nominal = clients as f64 * clients as f64 * moves_per_sec * report.timeline.window_secs;
    Ok(Row {
        clients,
        admin,
        delivered_nominal: report.moves.received as f64 / nominal.max(1.0),
        delivered_sent: report.moves.delivered_ratio,
        lost: report.moves.lost,
        p50_ms: report.rtt.p50_us as f64 / 1000.0,
        p99_ms: report.rtt.p99_us as f64 / 1000.0,
        server_cpu: server_after.cpu_percent_since(&server_before),
        bot_cpu: bots_after.cpu_percent_since(&bots_before),
        peak_rss: server_after.peak_rss,
        rss_per_session: server_after.peak_rss.saturating_sub(idle_rss) as f64 / clients as f64,
        rss_window_start: rss_near(window_start + Duration::from_secs(1)),
        rss_window_end: rss_near(window_end),
        disconnects: report.disconnects.values().sum(),
        errors: report.errors.total(),
    })
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| N | admin | delivered / nominal | delivered / sent | lost | rtt p50 | rtt p99 | server CPU | bots CPU | server peak RSS | RSS / session | RSS window start -> end | disconnects | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    for r in rows {
        println!(
            "| {} | {} | {:.2}% | {:.4}% | {} | {:.1} ms | {:.1} ms | {:.0}% | {:.0}% | {:.1} MiB | {:.1} KiB | {:.1} -> {:.1} MiB | {} | {} |",
            r.clients,
            r.admin.map_or("off".to_owned(), |(frames, scrapes)| format!(
                "on ({frames} frames, {scrapes} scrapes)"
            )),
            r.delivered_nominal * 100.0,
            r.delivered_sent * 100.0,
            r.lost,
            r.p50_ms,
            r.p99_ms,
            r.server_cpu,
            r.bot_cpu,
            mib(r.peak_rss),
            r.rss_per_session / 1024.0,
            mib(r.rss_window_start),
            mib(r.rss_window_end),
            r.disconnects,
            r.errors,
        );
    }
}
