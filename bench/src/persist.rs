//! `bench persist`: what accounts and saved characters cost.
//!
//! - **Logins per second.** The release server on a fresh SQLite file; `--logins` accounts
//!   created, then logged into with their passwords, then with the tokens those logins were
//!   handed (`C_LoginToken`), by `--concurrency` clients at a time. argon2id (19 MiB, 2
//!   passes, 1 lane) is the cost of a password login: one hash each, as many at once as the
//!   server has cores. A token login hashes nothing (a SHA-256 and three statements).
//! - **World mode with every bot saved** (`--world-clients N`): see `persist_world.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use dummy_client::packets::{CLogin, CLoginToken, SLogin};
use server_core::Packet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::persist_world::{Arm, WorldPlan};
use crate::server_proc::ServerProcess;

/// Flags of `bench persist`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Accounts to create, then to log into.
    #[arg(long, default_value_t = 1000)]
    logins: usize,
    /// Logins in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Where the SQLite files go (a fresh one per run).
    #[arg(long, default_value = "target/bench-persist")]
    dir: std::path::PathBuf,
    /// World-mode bots for the side-by-side part (0: logins only).
    #[arg(long, default_value_t = 0)]
    world_clients: usize,
    /// Seconds of each world run's measured window.
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// Runs of each arm (off, SQLite, PostgreSQL), alternating.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// A PostgreSQL database for its arm (its tables are made by the server's migrations);
    /// without it the PostgreSQL arm is left out, and the table says so.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Seconds of play, all bots in, before the kill -9 of each database arm.
    #[arg(long, default_value_t = 12)]
    kill_after_secs: u64,
}

/// One phase's figures.
struct Phase {
    name: &'static str,
    ok: usize,
    refused: Vec<(i32, usize)>,
    wall: Duration,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu: f64,
}

/// Runs the logins part and prints its table.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("warning: cannot raise the open-file limit: {e}");
    }
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir)?;
    let db = args.dir.join("logins.sqlite3");
    let db = db.to_string_lossy().into_owned();
    let max = (args.concurrency + 100).to_string();
    let server = ServerProcess::start(&[
        "--login",
        "optional",
        "--db",
        &db,
        "--reconnect-grace-secs",
        "0",
        "--max-connections",
        &max,
    ])?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "persist, logins: {} accounts, {} in flight, release game-server on SQLite ({db}), argon2id m=19456 KiB t=2 p=1, {cores} cores shared with the clients",
        args.logins, args.concurrency
    );
    let mut phases = Vec::new();
    let mut tokens = Arc::new(Vec::new());
    for (name, how) in [
        ("create", How::Create),
        ("log in", How::Password),
        ("by token", How::Token),
    ] {
        let before = server.sample()?;
        let started = Instant::now();
        let results = runtime.block_on(logins(
            server.addr,
            args.logins,
            args.concurrency,
            how,
            Arc::clone(&tokens),
        ))?;
        let wall = started.elapsed();
        let after = server.sample()?;
        if how == How::Password {
            tokens = Arc::new(results.iter().map(|(_, _, t)| t.clone()).collect());
        }
        let results = results.into_iter().map(|(c, d, _)| (c, d)).collect();
        phases.push(summarize(
            name,
            results,
            wall,
            after.cpu_percent_since(&before),
        ));
    }
    drop(runtime);
    if !server.stop(Duration::from_secs(10)) {
        eprintln!("warning: game-server did not exit cleanly within 10 s");
    }
    println!();
    println!("| phase | logins | ok | refused (code x count) | wall | logins/s | C_Login -> S_Login p50 / p99 | server CPU |");
    println!("|---|---|---|---|---|---|---|---|");
    for p in &phases {
        let refused: Vec<String> = p
            .refused
            .iter()
            .map(|(c, n)| format!("{c} x {n}"))
            .collect();
        println!(
            "| {} | {} | {} | {} | {:.1} s | {:.0} | {:.0} / {:.0} ms | {:.0}% |",
            p.name,
            p.ok + p.refused.iter().map(|(_, n)| n).sum::<usize>(),
            p.ok,
            if refused.is_empty() {
                "none".to_owned()
            } else {
                refused.join(", ")
            },
            p.wall.as_secs_f64(),
            p.ok as f64 / p.wall.as_secs_f64(),
            p.p50_ms,
            p.p99_ms,
            p.server_cpu,
        );
    }
    if args.world_clients > 0 {
        let mut arms = vec![
            Arm::Off,
            Arm::Sqlite(
                args.dir
                    .join("world.sqlite3")
                    .to_string_lossy()
                    .into_owned(),
            ),
        ];
        match &args.postgres {
            Some(url) => arms.push(Arm::Postgres(url.clone())),
            None => println!("\n(no --postgres URL: the PostgreSQL arm is left out)"),
        }
        let plan = WorldPlan {
            clients: args.world_clients,
            secs: args.secs,
            runs: args.runs,
            arms,
            kill_after: Duration::from_secs(args.kill_after_secs),
        };
        let (rows, losses) = crate::persist_world::run(&plan)?;
        crate::persist_world::print(&plan, &rows, &losses);
    }
    Ok(())
}

fn summarize(name: &'static str, results: Vec<(i32, Duration)>, wall: Duration, cpu: f64) -> Phase {
    let mut ok: Vec<f64> = results
        .iter()
        .filter(|(code, _)| *code == 0)
        .map(|(_, d)| d.as_secs_f64() * 1000.0)
        .collect();
    ok.sort_by(f64::total_cmp);
    let pick = |q: f64| -> f64 {
        if ok.is_empty() {
            return 0.0;
        }
        ok[((ok.len() - 1) as f64 * q).round() as usize]
    };
    let mut refused: std::collections::BTreeMap<i32, usize> = Default::default();
    for (code, _) in results.iter().filter(|(c, _)| *c != 0) {
        *refused.entry(*code).or_default() += 1;
    }
    Phase {
        name,
        ok: ok.len(),
        refused: refused.into_iter().collect(),
        wall,
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        server_cpu: cpu,
    }
}

/// How a phase logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// `C_Login` with `create`.
    Create,
    /// `C_Login` with the password.
    Password,
    /// `C_LoginToken` with the token the password phase was handed.
    Token,
}

/// A login's result code, time to the answer, and the token it was handed.
type Answer = (i32, Duration, String);

/// `count` logins (account `bench{i}`), `concurrency` at a time: each its own connection,
/// closed after the answer. Returns each one's answer.
async fn logins(
    addr: SocketAddr,
    count: usize,
    concurrency: usize,
    how: How,
    tokens: Arc<Vec<String>>,
) -> Result<Vec<Answer>, Box<dyn std::error::Error>> {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let permit = Arc::clone(&slots).acquire_owned().await?;
        let tokens = Arc::clone(&tokens);
        tasks.push(tokio::spawn(async move {
            let token = tokens.get(i).map(String::as_str).unwrap_or_default();
            let result = login_once(addr, &format!("bench{i}"), how, token).await;
            drop(permit);
            result
        }));
    }
    let mut results = Vec::with_capacity(count);
    for t in tasks {
        results.push(t.await?.map_err(|e| e.to_string())?);
    }
    Ok(results)
}

async fn login_once(
    addr: SocketAddr,
    name: &str,
    how: How,
    token: &str,
) -> Result<Answer, Box<dyn std::error::Error + Send + Sync>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let frame = match how {
        How::Token => CLoginToken {
            name: name.to_owned(),
            token: token.to_owned(),
        }
        .encode()?,
        How::Create | How::Password => CLogin {
            name: name.to_owned(),
            password: format!("pw-{name}-bench"),
            create: how == How::Create,
        }
        .encode()?,
    };
    let started = Instant::now();
    stream.write_all(&frame).await?;
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        while buf.len() >= 4 {
            let size = usize::from(u16::from_le_bytes([buf[0], buf[1]]));
            if size < 4 {
                return Err("a frame shorter than its header".into());
            }
            if buf.len() < size {
                break;
            }
            let frame = buf.split_to(size);
            if u16::from_le_bytes([frame[2], frame[3]]) == SLogin::ID {
                let answer = SLogin::decode(&frame[4..])?;
                return Ok((answer.result, started.elapsed(), answer.token));
            }
        }
        if tokio::time::timeout(Duration::from_secs(30), stream.read_buf(&mut buf)).await?? == 0 {
            return Err("the server closed before S_Login".into());
        }
    }
}
