//! `bench world`: N bots walking a world-mode game-server (a child process), at a fixed
//! density, with every required move checked. Reports delivery, violations, round trips, the
//! server's CPU per thread (to show the regions on both cores) and its memory over the
//! window.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dummy_client::world::{run_world, WorldReport, WorldRunConfig};

use crate::plot;
use crate::server_proc::{ProcSample, ServerProcess};

/// Flags of `bench world`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bots, or a comma-separated list for a sweep.
    #[arg(long, default_value = "1000,5000,10000,20000", value_delimiter = ',')]
    clients: Vec<usize>,
    /// Seconds of the measured window.
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// Players per 100 x 100 units: the map grows with N so that each bot has the same
    /// neighbourhood (20: about 10 players within the inner radius of 40).
    #[arg(long, default_value_t = 20.0)]
    density: f32,
    /// Inner radius.
    #[arg(long, default_value_t = 40.0)]
    inner_radius: f32,
    /// Outer radius.
    #[arg(long, default_value_t = 50.0)]
    outer_radius: f32,
    /// Walking speed, units per second.
    #[arg(long, default_value_t = 5.0)]
    speed: f32,
    /// Regions (one server thread each).
    #[arg(long, default_value_t = 2)]
    regions: usize,
    /// Server tick, milliseconds.
    #[arg(long, default_value_t = 250)]
    tick_ms: u64,
    /// Monsters spread over the whole map (the shipped kinds and skills, one spawn area of
    /// this many `wolf`s); 0 for players only.
    #[arg(long, default_value_t = 0)]
    monsters: u32,
    /// Write delivered % and p99 against N as an SVG chart here (and a CSV beside it).
    #[arg(long)]
    plot: Option<std::path::PathBuf>,
}

struct Row {
    clients: usize,
    map_size: f32,
    report: WorldReport,
    server_cpu: f64,
    bot_cpu: f64,
    threads: BTreeMap<String, f64>,
    peak_rss: u64,
    rss_start: u64,
    rss_end: u64,
    /// (seconds into the window, RSS) every 5 s: flat or not.
    rss_series: Vec<(f64, u64)>,
}

/// Runs the sweep and prints the table.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("warning: cannot raise the open-file limit: {e}");
    }
    println!(
        "world: density {} players per 100x100, radii {}/{}, speed {} units/s, {} regions, tick {} ms, move every 250 ms, window {} s, {} monsters; server = release game-server child, bots = dummy-client world mode in this process",
        args.density, args.inner_radius, args.outer_radius, args.speed, args.regions, args.tick_ms, args.secs, args.monsters
    );
    let mut rows = Vec::new();
    for &clients in &args.clients {
        rows.push(run_one(&args, clients)?);
        eprintln!("N = {clients}: done");
    }
    print_table(&rows);
    if let Some(path) = &args.plot {
        let points: Vec<plot::Point> = rows
            .iter()
            .map(|r| plot::Point {
                n: r.clients as f64,
                delivered_pct: r.report.delivered_ratio * 100.0,
                p99_ms: r.report.move_rtt_p99_ms,
            })
            .collect();
        std::fs::write(path, plot::chart(&points, &plot::Labels::WORLD))?;
        std::fs::write(path.with_extension("csv"), plot::write_csv(&points))?;
        println!("\nchart written to {}", path.display());
    }
    Ok(())
}

/// Map side for `clients` at `density` players per 100 x 100.
pub(crate) fn map_side(clients: usize, density: f32) -> f32 {
    100.0 * (clients as f32 / density).sqrt()
}

fn run_one(args: &Args, clients: usize) -> Result<Row, Box<dyn std::error::Error>> {
    let map_size = map_side(clients, args.density);
    let flags: Vec<String> = vec![
        "--world".into(),
        "grid".into(),
        "--map-size".into(),
        map_size.to_string(),
        "--cell-size".into(),
        args.outer_radius.to_string(),
        "--inner-radius".into(),
        args.inner_radius.to_string(),
        "--outer-radius".into(),
        args.outer_radius.to_string(),
        "--regions".into(),
        args.regions.to_string(),
        "--tick-ms".into(),
        args.tick_ms.to_string(),
        "--max-connections".into(),
        (clients + 100).to_string(),
    ];
    let mut flags = flags;
    if args.monsters > 0 {
        let dir = crate::server_proc::monsters_data(args.monsters, map_size)?;
        flags.push("--data".into());
        flags.push(dir.to_string_lossy().into_owned());
    }
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = ServerProcess::start(&flags)?;
    let pid = server.pid();

    // Sample the server twice a second: whole-process CPU and memory, and CPU per thread.
    type Sample = (ProcSample, Vec<(String, f64)>);
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (samples, stop) = (Arc::clone(&samples), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(s) = ProcSample::of(pid) {
                    let threads = thread_cpu(pid);
                    samples
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((s, threads));
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    let config = WorldRunConfig {
        addr: server.addr,
        clients,
        ramp_per_sec: 2000,
        map_size,
        inner_radius: args.inner_radius,
        outer_radius: args.outer_radius,
        speed: args.speed,
        duration: Duration::from_secs(args.secs),
        min_delivered: 0.999,
        status_line: false,
        ..WorldRunConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let bots_before = ProcSample::this()?;
    let report = runtime.block_on(run_world(config))?;
    let bots_after = ProcSample::this()?;
    let server_after = server.sample()?;
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    drop(runtime);
    if !server.stop(Duration::from_secs(5)) {
        eprintln!("warning: game-server did not exit cleanly within 5 s");
    }

    let samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let window_start = started + Duration::from_secs_f64(report.ramp_secs);
    let window_end = window_start + Duration::from_secs_f64(report.window_secs);
    let near = |t: Instant| {
        samples
            .iter()
            .min_by_key(|(s, _)| if s.at > t { s.at - t } else { t - s.at })
            .cloned()
    };
    let (a, b) = (near(window_start), near(window_end));
    let (server_cpu, threads) = match (&a, &b) {
        (Some((a, ta)), Some((b, tb))) if b.at > a.at => {
            let wall = b.at.duration_since(a.at).as_secs_f64();
            let mut by_name: BTreeMap<String, f64> = BTreeMap::new();
            for (name, secs) in tb {
                *by_name.entry(name.clone()).or_default() += secs;
            }
            for (name, secs) in ta {
                *by_name.entry(name.clone()).or_default() -= secs;
            }
            let threads = by_name
                .into_iter()
                .map(|(n, s)| (n, 100.0 * s / wall))
                .filter(|(_, pct)| *pct >= 0.5)
                .collect();
            (b.cpu_percent_since(a), threads)
        }
        _ => (0.0, BTreeMap::new()),
    };
    let mut rss_series = Vec::new();
    let mut next = 0.0;
    for (sample, _) in &samples {
        if sample.at < window_start || sample.at > window_end {
            continue;
        }
        let t = sample.at.duration_since(window_start).as_secs_f64();
        if t >= next {
            rss_series.push((t, sample.rss));
            next += 5.0;
        }
    }
    Ok(Row {
        clients,
        map_size,
        rss_series,
        report,
        server_cpu,
        bot_cpu: bots_after.cpu_percent_since(&bots_before),
        threads,
        peak_rss: server_after.peak_rss,
        rss_start: a.map_or(0, |s| s.0.rss),
        rss_end: b.map_or(0, |s| s.0.rss),
    })
}

/// CPU seconds so far of each thread of `pid`, by thread name (/proc/<pid>/task/*/stat).
fn thread_cpu(pid: u32) -> Vec<(String, f64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_string();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            // Worker threads share a name: group tokio's as one line.
            let name = if name.starts_with("tokio") {
                "tokio workers".to_string()
            } else {
                name
            };
            Some((name, (utime + stime) / 100.0))
        })
        .collect()
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| N | map | required | delivered | violations | spawns/s | despawns/s | monster frames (spawn / move / despawn, whole run) | rtt p50 | rtt p99 | move rtt p50 / p99 | server CPU | per thread | bots CPU | server peak RSS | RSS window start -> end | errors | verdict |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    for r in rows {
        let threads: Vec<String> = r
            .threads
            .iter()
            .map(|(n, pct)| format!("{n} {pct:.0}%"))
            .collect();
        let w = &r.report;
        println!(
            "| {} | {:.0} | {} | {:.3}% | {} | {:.0} | {:.0} | {} / {} / {} | {:.1} ms | {:.1} ms | {:.0} / {:.0} ms | {:.0}% | {} | {:.0}% | {:.1} MiB | {:.1} -> {:.1} MiB | {} | {} |",
            r.clients,
            r.map_size,
            w.required,
            w.delivered_ratio * 100.0,
            w.violations.total(),
            w.spawns_per_sec,
            w.despawns_per_sec,
            w.monster_frames[0],
            w.monster_frames[1],
            w.monster_frames[2],
            w.rtt_p50_ms,
            w.rtt_p99_ms,
            w.move_rtt_p50_ms,
            w.move_rtt_p99_ms,
            r.server_cpu,
            threads.join(", "),
            r.bot_cpu,
            mib(r.peak_rss),
            mib(r.rss_start),
            mib(r.rss_end),
            w.errors,
            if w.passed { "pass" } else { "FAIL" },
        );
    }
    println!();
    for r in rows {
        let series: Vec<String> = r
            .rss_series
            .iter()
            .map(|(t, rss)| format!("{t:.0}s {:.1}", mib(*rss)))
            .collect();
        println!(
            "RSS over the window, N = {} (MiB): {}",
            r.clients,
            series.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_grows_with_n_at_a_fixed_density() {
        assert_eq!(map_side(20, 20.0), 100.0);
        let (a, b) = (map_side(1000, 20.0), map_side(4000, 20.0));
        assert!(
            (b / a - 2.0).abs() < 1e-4,
            "four times the bots, twice the side"
        );
    }

    #[test]
    fn this_process_has_named_threads_with_cpu_time() {
        let threads = thread_cpu(std::process::id());
        assert!(
            !threads.is_empty(),
            "/proc/self/task lists this process's threads"
        );
    }
}
