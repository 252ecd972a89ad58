//! `bench bots`: what the load generator itself costs, one dummy-client build against
//! another, side by side in one run.
//!
//! Each build runs as a child process (`dummy-client --clients N --duration-secs S --json`)
//! against a fresh release game-server, the builds alternating run by run so that both see
//! the same machine. A child's CPU time (user + system) is read from this process's
//! `cutime`/`cstime` around its wait, so it counts every thread of the bots and the kernel
//! work done on their behalf, over the whole run (connects, ramp and drain included);
//! divided by the window moves its bots received (`moves.received` in its JSON report),
//! that is the bots' CPU per delivered move. Both builds pay the same ramp and drain, so
//! the ratio compares like with like. The server is the same binary for both, so what
//! differs is the bots alone.
//!
//! Usage: build the older dummy-client somewhere (e.g. `git worktree add /tmp/old REV &&
//! cargo build --release -p dummy-client --manifest-path /tmp/old/Cargo.toml`), then
//! `bench bots --old /tmp/old/target/release/dummy-client --clients 3000,4000 --runs 3`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::server_proc::{children_cpu_secs, sibling_binary, ServerProcess};

/// Arguments of `bench bots`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The dummy-client binary to compare against (an older build).
    #[arg(long)]
    old: PathBuf,
    /// The dummy-client binary under test; default: the one next to this bench binary.
    #[arg(long)]
    new: Option<PathBuf>,
    /// Bots, or a comma-separated list (e.g. 3000,4000).
    #[arg(long, value_delimiter = ',', default_value = "3000")]
    clients: Vec<u32>,
    /// Seconds of each run's measured window.
    #[arg(long, default_value_t = 15)]
    secs: u64,
    /// Runs of each build at each N; the table gives the median and the spread.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// One run of one build.
#[derive(Debug, Clone)]
struct Run {
    cpu_secs: f64,
    moves: u64,
    delivered_ratio: f64,
    rtt_p99_ms: f64,
    passed: bool,
}

impl Run {
    fn ns_per_move(&self) -> f64 {
        self.cpu_secs * 1e9 / self.moves.max(1) as f64
    }
}

/// Runs `args.runs` rounds of old then new (new then old on odd rounds) at each N.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let new = match &args.new {
        Some(path) => path.clone(),
        None => sibling_binary("dummy-client")?,
    };
    for (name, path) in [("old", &args.old), ("new", &new)] {
        if !path.exists() {
            return Err(
                format!("the {name} dummy-client {} does not exist", path.display()).into(),
            );
        }
    }
    println!(
        "bots: old = {}, new = {}, window {} s, {} run(s) of each, alternating; server = release game-server child",
        args.old.display(),
        new.display(),
        args.secs,
        args.runs
    );
    println!();
    println!("| N | build | run | bots CPU ns / delivered move | bots CPU s | moves received | delivered / sent | rtt p99 | passed |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut summary = Vec::new();
    for &clients in &args.clients {
        let (mut old_runs, mut new_runs) = (Vec::new(), Vec::new());
        for round in 0..args.runs {
            let order: [(&str, &Path); 2] = if round % 2 == 0 {
                [("old", &args.old), ("new", &new)]
            } else {
                [("new", &new), ("old", &args.old)]
            };
            for (name, path) in order {
                let run = run_one(path, clients, args.secs)?;
                println!(
                    "| {clients} | {name} | {} | {:.1} | {:.1} | {} | {:.4}% | {:.0} ms | {} |",
                    round + 1,
                    run.ns_per_move(),
                    run.cpu_secs,
                    run.moves,
                    run.delivered_ratio * 100.0,
                    run.rtt_p99_ms,
                    run.passed
                );
                if name == "old" {
                    old_runs.push(run);
                } else {
                    new_runs.push(run);
                }
            }
        }
        summary.push((clients, old_runs, new_runs));
    }
    println!();
    println!("| N | old ns / move (median, range) | new ns / move (median, range) | new / old | new runs passed |");
    println!("|---|---|---|---|---|");
    for (clients, old, new) in &summary {
        let (om, olo, ohi) = spread(old);
        let (nm, nlo, nhi) = spread(new);
        println!(
            "| {clients} | {om:.1} ({olo:.1} .. {ohi:.1}) | {nm:.1} ({nlo:.1} .. {nhi:.1}) | {:.2}x | {}/{} |",
            nm / om.max(1e-9),
            new.iter().filter(|r| r.passed).count(),
            new.len()
        );
    }
    Ok(())
}

/// Median, lowest and highest ns per move.
fn spread(runs: &[Run]) -> (f64, f64, f64) {
    let mut v: Vec<f64> = runs.iter().map(Run::ns_per_move).collect();
    v.sort_by(f64::total_cmp);
    match (v.first(), v.last()) {
        (Some(&lo), Some(&hi)) => (v[v.len() / 2], lo, hi),
        _ => (0.0, 0.0, 0.0),
    }
}

fn run_one(bots: &Path, clients: u32, secs: u64) -> Result<Run, Box<dyn std::error::Error>> {
    let server = ServerProcess::start(&[])?;
    let json = std::env::temp_dir().join(format!("bench-bots-{}.json", std::process::id()));
    let before = children_cpu_secs()?;
    let status = Command::new(bots)
        .args(["--addr", &server.addr.to_string()])
        .args(["--clients", &clients.to_string()])
        .args(["--ramp-per-sec", "2000"])
        .args(["--duration-secs", &secs.to_string()])
        .arg("--json")
        .arg(&json)
        .arg("--quiet")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()?;
    let cpu_secs = children_cpu_secs()? - before;
    if !server.stop(Duration::from_secs(5)) {
        eprintln!("warning: game-server did not exit cleanly within 5 s");
    }
    let text = std::fs::read_to_string(&json)
        .map_err(|e| format!("{} wrote no report ({status}): {e}", bots.display()))?;
    let _ = std::fs::remove_file(&json);
    let report: serde_json::Value = serde_json::from_str(&text)?;
    let number = |path: &[&str]| {
        path.iter()
            .try_fold(&report, |v, key| v.get(key))
            .and_then(serde_json::Value::as_f64)
    };
    let moves = number(&["moves", "received"]).ok_or("the report has no moves.received")? as u64;
    Ok(Run {
        cpu_secs,
        moves,
        delivered_ratio: number(&["moves", "delivered_ratio"]).unwrap_or(0.0),
        rtt_p99_ms: number(&["rtt", "p99_us"]).unwrap_or(0.0) / 1000.0,
        passed: report
            .get("passed")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
    })
}
