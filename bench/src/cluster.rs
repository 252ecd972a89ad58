//! `bench cluster`: the same N world-mode bots against one game-server process and against
//! two processes joined by a `nats-server` (each running half the regions, the bots split
//! over both). Reports delivery and violations, the move round trip, the hand-off round trip
//! (a bot's first move after crossing a region border, to its echo from the new owner), the
//! send-to-receipt delivery time for senders on the receiver's process and on the other
//! one, the servers' CPU, and NATS's messages and bytes per second from its monitoring
//! endpoint (`/varz`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dummy_client::world::{run_world, WorldReport, WorldRunConfig};

use crate::server_proc::{free_port, ProcSample, ServerProcess};

/// Flags of `bench cluster`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Bots (the same N for both arms).
    #[arg(long, default_value_t = 2000)]
    clients: usize,
    /// Seconds of the measured window.
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Players per 100 x 100 units (the map grows with N).
    #[arg(long, default_value_t = 20.0)]
    density: f32,
    /// Regions of the world (split half and half in the two-process arm).
    #[arg(long, default_value_t = 2)]
    regions: usize,
    /// Walking speed, units per second (faster crosses more borders).
    #[arg(long, default_value_t = 5.0)]
    speed: f32,
    /// Server tick, milliseconds.
    #[arg(long, default_value_t = 250)]
    tick_ms: u64,
    /// Which arms: `1` (one process), `2` (two processes over NATS) or `both`.
    #[arg(long, default_value = "both")]
    arms: String,
}

struct Row {
    processes: usize,
    report: WorldReport,
    server_cpu: f64,
    /// (msgs/s, bytes/s) in and out of NATS over the run, two-process arm only.
    nats: Option<[f64; 4]>,
}

/// Runs the arms and prints the table.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("warning: cannot raise the open-file limit: {e}");
    }
    if args.regions < 2 {
        return Err("--regions must be at least 2 to split the world over two processes".into());
    }
    println!(
        "cluster: N = {}, density {} per 100x100, {} regions, speed {}/s, tick {} ms, window {} s; servers = release game-server children, bots = dummy-client world mode in this process",
        args.clients, args.density, args.regions, args.speed, args.tick_ms, args.secs
    );
    let mut rows = Vec::new();
    if args.arms == "1" || args.arms == "both" {
        rows.push(run_arm(&args, 1)?);
    }
    if args.arms == "2" || args.arms == "both" {
        rows.push(run_arm(&args, 2)?);
    }
    print_table(&rows);
    Ok(())
}

fn world_flags(args: &Args, map_size: f32) -> Vec<String> {
    [
        "--world",
        "grid",
        "--map-size",
        &map_size.to_string(),
        "--regions",
        &args.regions.to_string(),
        "--tick-ms",
        &args.tick_ms.to_string(),
        "--max-connections",
        &(args.clients + 100).to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run_arm(args: &Args, processes: usize) -> Result<Row, Box<dyn std::error::Error>> {
    let map_size = 100.0 * (args.clients as f32 / args.density).sqrt();
    let base = world_flags(args, map_size);
    let mut nats = None;
    let mut servers = Vec::new();
    if processes == 1 {
        let flags: Vec<&str> = base.iter().map(String::as_str).collect();
        servers.push(ServerProcess::start(&flags)?);
    } else {
        let n = NatsServer::start()?;
        let half = args.regions / 2;
        for (node, regions) in [(0, 0..half), (1, half..args.regions)] {
            let own: Vec<String> = regions.map(|k| k.to_string()).collect();
            let mut flags = base.clone();
            flags.extend([
                "--nats".to_owned(),
                n.url(),
                "--node-id".to_owned(),
                node.to_string(),
                "--own-regions".to_owned(),
                own.join(","),
            ]);
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            servers.push(ServerProcess::start(&flags)?);
        }
        // Heartbeats every 500 ms: the nodes link within a second.
        std::thread::sleep(Duration::from_millis(1500));
        nats = Some(n);
    }
    let config = WorldRunConfig {
        addr: servers[0].addr,
        also_addrs: servers.iter().skip(1).map(|s| s.addr).collect(),
        regions: args.regions,
        clients: args.clients,
        ramp_per_sec: 2000,
        map_size,
        speed: args.speed,
        duration: Duration::from_secs(args.secs),
        min_delivered: 0.999,
        status_line: false,
        ..WorldRunConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let cpu_before: Vec<ProcSample> = servers
        .iter()
        .map(ServerProcess::sample)
        .collect::<Result<_, _>>()?;
    let varz_before = nats.as_ref().map(NatsServer::varz).transpose()?;
    let started = Instant::now();
    let report = runtime.block_on(run_world(config))?;
    let wall = started.elapsed().as_secs_f64().max(1e-3);
    let varz_after = nats.as_ref().map(NatsServer::varz).transpose()?;
    let server_cpu: f64 = servers
        .iter()
        .zip(&cpu_before)
        .map(|(s, before)| s.sample().map(|now| now.cpu_percent_since(before)))
        .sum::<Result<f64, _>>()?;
    drop(runtime);
    for server in servers {
        if !server.stop(Duration::from_secs(5)) {
            eprintln!("warning: a game-server did not exit cleanly within 5 s");
        }
    }
    let nats = match (varz_before, varz_after) {
        (Some(a), Some(b)) => Some(std::array::from_fn(|i| (b[i] - a[i]) / wall)),
        _ => None,
    };
    eprintln!("{processes} process(es): done\n{report}");
    Ok(Row {
        processes,
        report,
        server_cpu,
        nats,
    })
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "| processes | required | delivered | violations | move rtt p50 / p99 | hand-off rtt p50 / p99 (moves) | delivery same process p50 / p99 | delivery other process p50 / p99 | servers CPU | NATS in msgs/s | NATS out msgs/s | NATS in bytes/s | NATS out bytes/s | errors | verdict |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let w = &r.report;
        let nats = r.nats.map_or_else(
            || "- | - | - | -".to_owned(),
            |n| format!("{:.0} | {:.0} | {:.0} | {:.0}", n[0], n[1], n[2], n[3]),
        );
        let delivery = |d: [f64; 3]| {
            if d[0] > 0.0 {
                format!("{:.0} / {:.0} ms", d[1], d[2])
            } else {
                "-".to_owned()
            }
        };
        println!(
            "| {} | {} | {:.3}% | {} | {:.0} / {:.0} ms | {:.0} / {:.0} ms ({}) | {} | {} | {:.0}% | {} | {} | {} |",
            r.processes,
            w.required,
            w.delivered_ratio * 100.0,
            w.violations.total(),
            w.move_rtt_p50_ms,
            w.move_rtt_p99_ms,
            w.handoff_rtt_p50_ms,
            w.handoff_rtt_p99_ms,
            w.handoff_moves,
            delivery(w.delivery_same),
            delivery(w.delivery_cross),
            r.server_cpu,
            nats,
            w.errors,
            if w.passed { "pass" } else { "FAIL" },
        );
    }
}

/// A `nats-server` child with its monitoring endpoint on.
struct NatsServer {
    child: Child,
    port: u16,
    monitor: u16,
}

impl NatsServer {
    fn start() -> Result<NatsServer, Box<dyn std::error::Error>> {
        let program = ["nats-server", "/usr/sbin/nats-server"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| {
                Command::new(p)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .ok_or("nats-server is not installed (Debian package: nats-server)")?;
        let (port, monitor) = (free_port()?.port(), free_port()?.port());
        let child = Command::new(program)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-m",
                &monitor.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("nats-server did not start listening".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(NatsServer {
            child,
            port,
            monitor,
        })
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// in_msgs, out_msgs, in_bytes, out_bytes from `/varz`.
    fn varz(&self) -> Result<[f64; 4], Box<dyn std::error::Error>> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.monitor))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            stream,
            "GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .ok_or("no body in the /varz answer")?;
        let v: serde_json::Value = serde_json::from_str(body)?;
        let get = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
        Ok([
            get("in_msgs"),
            get("out_msgs"),
            get("in_bytes"),
            get("out_bytes"),
        ])
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
