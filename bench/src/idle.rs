//! Memory per connected idle session: open N connections to the release game-server, let it
//! settle, and read its RSS. The course allocated a 64 KiB receive buffer per session up
//! front; ours start with none and grow on demand.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::server_proc::{ProcSample, ServerProcess};

/// Flags of `bench idle`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Idle sessions to hold open at the end.
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// Session counts at which to measure, up to `--clients` (comma-separated).
    #[arg(long, default_value = "1000,5000,10000", value_delimiter = ',')]
    checkpoints: Vec<usize>,
    /// New connections per second.
    #[arg(long, default_value_t = 2000)]
    ramp_per_sec: u32,
}

/// Runs the measurement and prints the table.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // This process holds one descriptor per connection too.
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    if limit < args.clients as u64 + 64 {
        return Err(format!(
            "open-file limit {limit} is too low for {} connections",
            args.clients
        )
        .into());
    }
    let max = (args.clients + 100).to_string();
    // Idle means idle: no idle timeout, or the server would (rightly) close them.
    let server = ServerProcess::start(&["--idle-timeout-secs", "0", "--max-connections", &max])?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let baseline = settle(&server)?;
    println!(
        "idle: game-server with no sessions: RSS {:.1} MiB; connections read and discard what the server sends and send nothing",
        mib(baseline.rss)
    );
    println!();
    println!("| idle sessions | server RSS | RSS - baseline | per session |");
    println!("|---|---|---|---|");

    let received = Arc::new(AtomicUsize::new(0));
    let mut streams = 0usize;
    let mut checkpoints: Vec<usize> = args
        .checkpoints
        .iter()
        .copied()
        .filter(|&c| c <= args.clients)
        .collect();
    checkpoints.sort_unstable();
    let pause = Duration::from_secs_f64(1.0 / f64::from(args.ramp_per_sec.max(1)));
    for checkpoint in checkpoints {
        while streams < checkpoint {
            runtime.block_on(connect_reader(server.addr, Arc::clone(&received)))?;
            streams += 1;
            std::thread::sleep(pause);
        }
        let settled = settle(&server)?;
        let per = settled.rss.saturating_sub(baseline.rss) as f64 / checkpoint as f64;
        println!(
            "| {checkpoint} | {:.1} MiB | {:.1} MiB | {:.1} KiB |",
            mib(settled.rss),
            mib(settled.rss.saturating_sub(baseline.rss)),
            per / 1024.0
        );
    }
    println!();
    println!(
        "{} bytes received by the idle clients in all (player lists and enter broadcasts)",
        received.load(Ordering::Relaxed)
    );
    drop(runtime);
    server.stop(Duration::from_secs(10));
    Ok(())
}

/// Connects one client that reads and discards everything, forever.
async fn connect_reader(addr: SocketAddr, received: Arc<AtomicUsize>) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(addr).await?;
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            received.fetch_add(n, Ordering::Relaxed);
        }
    });
    Ok(())
}

/// Waits until the server has been nearly idle (under 2% of a core) for a second, or 60 s,
/// and returns that last sample.
fn settle(server: &ServerProcess) -> std::io::Result<ProcSample> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = server.sample()?;
    let mut quiet = 0;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = server.sample()?;
        quiet = if now.cpu_percent_since(&last) < 2.0 {
            quiet + 1
        } else {
            0
        };
        last = now;
        if quiet >= 2 || Instant::now() > deadline {
            return Ok(last);
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
