//! The course's load test at scale: N bots in one room, each moving every 250 ms; every
//! `S_BroadcastMove` must reach every bot. Server (a `game-server` child process) and bots
//! (in this process) share the machine, so both their costs are reported.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dummy_client::RunConfig;

use crate::pki::BenchPki;
use crate::plot;
use crate::server_proc::{free_port, run_bots, BotsRun, ProcSample, ServerProcess};

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
    /// Write the sweep's delivered ratio and p99 against N as an SVG chart here (medians
    /// of the first variant).
    #[arg(long)]
    plot: Option<std::path::PathBuf>,
    /// Runs of each N (and variant); the summary gives the median and the spread, since one
    /// run on a shared 2-core machine can be an outlier.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=20))]
    runs: u64,
    /// One arm of a side-by-side comparison, `NAME=SERVER FLAGS` (e.g.
    /// `--variant "auto=--socket-send-buffer 0" --variant "256k=--socket-send-buffer 262144"`).
    /// Repeatable; every run of every N runs each variant in turn, so they see the same
    /// machine. None: one variant, `default`, with the server's defaults. The flag `@tls`
    /// in a variant puts its bots on TLS: the server gets a TLS listener (a CA and
    /// certificate made at run time) and the bots connect to it, e.g.
    /// `--variant plain= --variant tls=@tls`.
    #[arg(long = "variant", value_parser = parse_variant)]
    variants: Vec<Variant>,
    /// The server's admin endpoint: `off`, `on` (with one live-map viewer and a /metrics
    /// scrape every second during the run), or `both`: every variant run off and then on,
    /// side by side.
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
    /// Each variant twice: off, then on.
    Both,
}

/// Extra `game-server` flags under a name.
#[derive(Debug, Clone)]
pub struct Variant {
    name: String,
    server_args: Vec<String>,
    /// `@tls` was among the flags: server and bots over TLS.
    tls: bool,
}

/// The variant flag that turns TLS on for both the server and the bots.
const TLS_FLAG: &str = "@tls";

fn parse_variant(s: &str) -> Result<Variant, String> {
    let (name, flags) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=SERVER FLAGS, got {s:?}"))?;
    if name.is_empty() {
        return Err(format!("the variant needs a name before '=': {s:?}"));
    }
    let mut server_args: Vec<String> = flags.split_whitespace().map(str::to_owned).collect();
    let tls = server_args.iter().any(|a| a == TLS_FLAG);
    server_args.retain(|a| a != TLS_FLAG);
    Ok(Variant {
        name: name.to_owned(),
        server_args,
        tls,
    })
}

/// One run's results.
#[derive(Debug, Clone)]
pub struct Row {
    variant: String,
    /// Admin endpoint on: (live frames, /metrics scrapes) taken during the run.
    admin: Option<(u64, u64)>,
    run: u64,
    clients: usize,
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
    /// Nanoseconds of bot CPU per move received: what the load generator pays.
    bot_cpu_s_per_m: f64,
}

/// Runs the benchmark for each N and prints the table.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let base = if args.variants.is_empty() {
        vec![Variant {
            name: "default".into(),
            server_args: Vec::new(),
            tls: false,
        }]
    } else {
        args.variants.clone()
    };
    let modes: &[bool] = match args.admin {
        AdminMode::Off => &[false],
        AdminMode::On => &[true],
        AdminMode::Both => &[false, true],
    };
    // Each (variant, admin) pair is one arm; "+admin" names the arms with the endpoint on.
    let variants: Vec<(Variant, bool)> = base
        .iter()
        .flat_map(|v| {
            modes.iter().map(move |&admin| {
                let mut v = v.clone();
                if admin {
                    v.name.push_str("+admin");
                }
                (v, admin)
            })
        })
        .collect();
    let mut rows = Vec::new();
    println!(
        "broadcast: window {} s, move every {} ms, tick {} ms, {} run(s) of each; server = release game-server child, bots = dummy-client in this process",
        args.secs, args.move_interval_ms, args.tick_ms, args.runs
    );
    for (v, _) in &variants {
        println!(
            "variant {}: game-server {}{}",
            v.name,
            v.server_args.join(" "),
            if v.tls {
                " (server and bots over TLS)"
            } else {
                ""
            }
        );
    }
    // One CA and certificate for every TLS run of the sweep.
    let pki = if variants.iter().any(|(v, _)| v.tls) {
        Some(BenchPki::new()?)
    } else {
        None
    };
    for &clients in &args.clients {
        for run in 1..=args.runs {
            for (variant, admin) in &variants {
                let row = run_one(&args, clients, variant, run, *admin, pki.as_ref())?;
                eprintln!(
                    "N = {clients}, {} run {run}: {:.2}% delivered, p99 {:.0} ms",
                    variant.name,
                    row.delivered_nominal * 100.0,
                    row.p99_ms
                );
                rows.push(row);
            }
        }
    }
    print_table(&rows);
    let summary = summarize(&rows);
    print_summary(&summary);
    let rows: Vec<Row> = summary
        .iter()
        .filter(|s| s.variant == variants[0].0.name)
        .map(|s| s.median.clone())
        .collect();
    if let Some(path) = &args.plot {
        let points: Vec<plot::Point> = rows
            .iter()
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

fn run_one(
    args: &Args,
    clients: usize,
    variant: &Variant,
    run: u64,
    admin: bool,
    pki: Option<&BenchPki>,
) -> Result<Row, Box<dyn std::error::Error>> {
    let tick = args.tick_ms.to_string();
    let admin_addr = if admin {
        Some(crate::admin_watch::free_loopback_port()?)
    } else {
        None
    };
    let mut server_args: Vec<String> = ["--tick-ms", &tick, "--max-connections", "10000"]
        .map(str::to_owned)
        .to_vec();
    server_args.extend(variant.server_args.iter().cloned());
    if let Some(admin_addr) = admin_addr {
        server_args.extend(["--admin".to_owned(), admin_addr.to_string()]);
    }
    // The bots' address and TLS settings: the TLS listener's for a TLS variant.
    let mut tls = None;
    if let (true, Some(pki)) = (variant.tls, pki) {
        let tls_addr = free_port()?;
        server_args.extend([
            "--tls-cert".to_owned(),
            pki.cert().display().to_string(),
            "--tls-key".to_owned(),
            pki.key().display().to_string(),
            "--tls-addr".to_owned(),
            tls_addr.to_string(),
        ]);
        tls = Some((tls_addr, pki.connector()?));
    }
    let server_args: Vec<&str> = server_args.iter().map(String::as_str).collect();
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
        addr: tls.as_ref().map_or(server.addr, |(addr, _)| *addr),
        tls: tls.map(|(_, connector)| connector),
        clients,
        move_interval: Duration::from_millis(args.move_interval_ms),
        duration: Duration::from_secs(args.secs),
        status_line: false,
        ..RunConfig::default()
    };
    let BotsRun {
        report,
        bots_before,
        bots_after,
        server_before,
        server_after,
    } = run_bots(&server, dummy_client::run(config))?;
    let admin = watcher.map(crate::admin_watch::AdminWatch::stop);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.join();
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
    let bot_cpu_secs = bots_after.cpu_secs - bots_before.cpu_secs;
    Ok(Row {
        variant: variant.name.clone(),
        run,
        admin,
        bot_cpu_s_per_m: bot_cpu_secs * 1e9 / report.moves.received.max(1) as f64,
        clients,
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
        "| N | variant | run | delivered / nominal | delivered / sent | lost | rtt p50 | rtt p99 | server CPU | bots CPU | bots CPU ns / move | server peak RSS | RSS / session | RSS window start -> end | disconnects | errors | admin frames / scrapes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    for r in rows {
        println!(
            "| {} | {} | {} | {:.2}% | {:.4}% | {} | {:.1} ms | {:.1} ms | {:.0}% | {:.0}% | {:.1} | {:.1} MiB | {:.1} KiB | {:.1} -> {:.1} MiB | {} | {} | {} |",
            r.clients,
            r.variant,
            r.run,
            r.delivered_nominal * 100.0,
            r.delivered_sent * 100.0,
            r.lost,
            r.p50_ms,
            r.p99_ms,
            r.server_cpu,
            r.bot_cpu,
            r.bot_cpu_s_per_m,
            mib(r.peak_rss),
            r.rss_per_session / 1024.0,
            mib(r.rss_window_start),
            mib(r.rss_window_end),
            r.disconnects,
            r.errors,
            r.admin
                .map_or("-".to_owned(), |(frames, scrapes)| format!("{frames} / {scrapes}")),
        );
    }
}

/// The runs of one (N, variant): the median run of each column, and the spread.
#[derive(Debug, Clone)]
struct Summary {
    clients: usize,
    variant: String,
    runs: usize,
    /// Each field the median over the runs (counts of losses and errors: the sum).
    median: Row,
    delivered_min: f64,
    delivered_max: f64,
    p99_min: f64,
    p99_max: f64,
    /// Runs that delivered every move they owed, with no error.
    clean_runs: usize,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn summarize(rows: &[Row]) -> Vec<Summary> {
    let mut keys: Vec<(usize, String)> = Vec::new();
    for r in rows {
        if !keys.iter().any(|(n, v)| *n == r.clients && *v == r.variant) {
            keys.push((r.clients, r.variant.clone()));
        }
    }
    keys.into_iter()
        .filter_map(|(clients, variant)| {
            let runs: Vec<&Row> = rows
                .iter()
                .filter(|r| r.clients == clients && r.variant == variant)
                .collect();
            let first = (*runs.first()?).clone();
            let col = |f: fn(&Row) -> f64| median(runs.iter().map(|r| f(r)).collect());
            let spread = |f: fn(&Row) -> f64| {
                runs.iter()
                    .map(|r| f(r))
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        (lo.min(v), hi.max(v))
                    })
            };
            let (delivered_min, delivered_max) = spread(|r| r.delivered_nominal);
            let (p99_min, p99_max) = spread(|r| r.p99_ms);
            let median = Row {
                run: 0,
                delivered_nominal: col(|r| r.delivered_nominal),
                delivered_sent: col(|r| r.delivered_sent),
                lost: runs.iter().map(|r| r.lost).sum(),
                p50_ms: col(|r| r.p50_ms),
                p99_ms: col(|r| r.p99_ms),
                server_cpu: col(|r| r.server_cpu),
                bot_cpu: col(|r| r.bot_cpu),
                peak_rss: col(|r| r.peak_rss as f64) as u64,
                rss_per_session: col(|r| r.rss_per_session),
                rss_window_start: col(|r| r.rss_window_start as f64) as u64,
                rss_window_end: col(|r| r.rss_window_end as f64) as u64,
                disconnects: runs.iter().map(|r| r.disconnects).sum(),
                errors: runs.iter().map(|r| r.errors).sum(),
                bot_cpu_s_per_m: col(|r| r.bot_cpu_s_per_m),
                ..first
            };
            Some(Summary {
                clients,
                variant,
                runs: runs.len(),
                clean_runs: runs
                    .iter()
                    .filter(|r| r.lost == 0 && r.errors == 0 && r.disconnects == 0)
                    .count(),
                median,
                delivered_min,
                delivered_max,
                p99_min,
                p99_max,
            })
        })
        .collect()
}

fn print_summary(summary: &[Summary]) {
    println!();
    println!("Median of the runs, with the spread (min .. max):");
    println!();
    println!(
        "| N | variant | runs | clean runs | delivered / nominal | rtt p99 | server CPU | bots CPU | bots CPU ns / move | server peak RSS | lost (all runs) | errors (all runs) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for s in summary {
        let m = &s.median;
        println!(
            "| {} | {} | {} | {} | {:.2}% ({:.2} .. {:.2}) | {:.0} ms ({:.0} .. {:.0}) | {:.0}% | {:.0}% | {:.1} | {:.1} MiB | {} | {} |",
            s.clients,
            s.variant,
            s.runs,
            s.clean_runs,
            m.delivered_nominal * 100.0,
            s.delivered_min * 100.0,
            s.delivered_max * 100.0,
            m.p99_ms,
            s.p99_min,
            s.p99_max,
            m.server_cpu,
            m.bot_cpu,
            m.bot_cpu_s_per_m,
            m.peak_rss as f64 / (1024.0 * 1024.0),
            m.lost,
            m.errors,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_parse_and_bad_ones_say_why() {
        let v = parse_variant("auto=--socket-send-buffer 0").expect("a variant");
        assert_eq!(v.name, "auto");
        assert_eq!(v.server_args, ["--socket-send-buffer", "0"]);
        let none = parse_variant("off=").expect("a variant with no flags");
        assert!(none.server_args.is_empty());
        assert!(!none.tls);
        let tls = parse_variant("tls=@tls --tick-ms 100").expect("a TLS variant");
        assert!(tls.tls);
        assert_eq!(
            tls.server_args,
            ["--tick-ms", "100"],
            "@tls is not a server flag"
        );
        assert!(parse_variant("no-equals").is_err());
        assert!(parse_variant("=--admin x").is_err());
    }

    #[test]
    fn the_median_is_the_middle_run() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }
}
