//! Echo throughput: `server-core`'s `PacketSession` against a bare tokio server.
//!
//! Both servers cut the same `[size u16][id u16][body]` frames and echo each one back; the
//! bare one is the straightforward hand-written tokio version (read into a buffer, write every
//! complete frame of that read back with one `write_all`). The same client load hits both, in
//! alternating rounds within one run, and the ratio of their frame rates is the result.
//! Server and client each get a one-thread runtime, so on a 2-core machine they do not fight
//! over the same core.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use server_core::{
    CloseReason, Config, Listener, PacketSession, Session, TlsAcceptor, TlsConnector,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::pki::BenchPki;

/// Flags of `bench echo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Client connections.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Bytes per frame, header included (at least 4).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(4..))]
    packet_size: u16,
    /// Frames each connection keeps in flight.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Seconds per round.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// Rounds per server (alternating).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Which servers to run (both for the comparison; one alone for profiling).
    #[arg(long, value_enum, default_value_t = Which::Both)]
    server: Which,
    /// Everything over TLS (a CA and certificate made at run time): server-core's TLS
    /// listener against a bare tokio-rustls echo, clients over tokio-rustls. Compare with a
    /// run without it for the cost of TLS itself.
    #[arg(long)]
    tls: bool,
}

/// Servers `bench echo` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// Alternate both, and print the ratio.
    Both,
    /// server-core only.
    Core,
    /// Bare tokio only.
    Bare,
}

/// Echoes every frame as a reply written in place: what a handler answering its own peer
/// does (`Session::send_with`, the path `send_packet` takes).
struct Echo;

impl PacketSession for Echo {
    fn on_recv_packet(
        &mut self,
        session: &Arc<Session>,
        id: u16,
        body: &[u8],
    ) -> Result<(), CloseReason> {
        let size = 4 + body.len();
        let _ = session.send_with(size, |dst| {
            dst[0..2].copy_from_slice(&(size as u16).to_le_bytes());
            dst[2..4].copy_from_slice(&id.to_le_bytes());
            dst[4..].copy_from_slice(body);
            size
        });
        Ok(())
    }
}

async fn start_core_server(
    tls: Option<TlsAcceptor>,
) -> io::Result<(SocketAddr, CancellationToken)> {
    let mut listener = Listener::bind(Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        idle_timeout: None,
        ..Config::default()
    })
    .await?;
    if let Some(tls) = tls {
        listener = listener.with_tls(tls);
    }
    let addr = listener.local_addr()?;
    let token = listener.shutdown_token();
    tokio::spawn(listener.run(|| Echo));
    Ok((addr, token))
}

async fn start_bare_server(
    tls: Option<TlsAcceptor>,
) -> io::Result<(SocketAddr, CancellationToken)> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let token = CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        match &tls {
                            None => {
                                tokio::spawn(bare_echo(stream));
                            }
                            Some(tls) => {
                                let tls = tls.clone();
                                tokio::spawn(async move {
                                    if let Ok(stream) = tls.accept(stream).await {
                                        bare_echo(stream).await;
                                    }
                                });
                            }
                        }
                    }
                    Err(_) => return,
                },
            }
        }
    });
    Ok((addr, token))
}

/// The bare tokio echo: same framing rules, no library. Like the PacketSession handler it
/// writes a reply frame per received frame (header and body copied into an output buffer),
/// then sends everything one read produced with one `write_all`.
async fn bare_echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut out = BytesMut::with_capacity(64 * 1024);
    loop {
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while buf.len() >= 4 {
            let size = u16::from_le_bytes([buf[0], buf[1]]) as usize;
            if size < 4 {
                return;
            }
            if buf.len() < size {
                break;
            }
            let id = u16::from_le_bytes([buf[2], buf[3]]);
            out.extend_from_slice(&(size as u16).to_le_bytes());
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&buf[4..size]);
            buf.advance(size);
        }
        if !out.is_empty() {
            // `flush` pushes a TLS stream's records out; on a TcpStream it does nothing.
            if stream.write_all(&out).await.is_err() || stream.flush().await.is_err() {
                return;
            }
            out.clear();
        }
    }
}

/// Drives `connections` clients for `secs`, returns frames echoed per second.
async fn load(addr: SocketAddr, args: &Args, tls: Option<&TlsConnector>) -> io::Result<f64> {
    let echoed = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let mut tasks = Vec::new();
    for i in 0..args.connections {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let echoed = Arc::clone(&echoed);
        let running = Arc::clone(&running);
        let size = usize::from(args.packet_size);
        let window = args.window;
        let mut frame = vec![0u8; size];
        frame[0..2].copy_from_slice(&(size as u16).to_le_bytes());
        frame[2..4].copy_from_slice(&(i as u16).to_le_bytes());
        let batch: Vec<u8> = frame.repeat(window);
        let client = Client {
            batch,
            window,
            echoed,
            running,
        };
        tasks.push(match tls {
            None => {
                let (rd, wr) = stream.into_split();
                tokio::spawn(client.run(rd, wr))
            }
            Some(tls) => {
                let (rd, wr) = tokio::io::split(tls.connect(stream).await?);
                tokio::spawn(client.run(rd, wr))
            }
        });
    }
    // Warm up, then measure.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let start_count = echoed.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.secs)).await;
    let count = echoed.load(Ordering::Relaxed) - start_count;
    let rate = count as f64 / started.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    Ok(rate)
}

/// One load connection: a window of frames out, the same window back, repeat: pipelined,
/// bounded.
struct Client {
    batch: Vec<u8>,
    window: usize,
    echoed: Arc<AtomicU64>,
    running: Arc<AtomicBool>,
}

impl Client {
    async fn run<R, W>(self, mut rd: R, mut wr: W)
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut inbox = vec![0u8; self.batch.len()];
        while self.running.load(Ordering::Relaxed) {
            let sent = wr.write_all(&self.batch).await.is_ok() && wr.flush().await.is_ok();
            if !sent || rd.read_exact(&mut inbox).await.is_err() {
                return;
            }
            self.echoed.fetch_add(self.window as u64, Ordering::Relaxed);
        }
    }
}

fn runtime(name: &str) -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
}

/// Runs the benchmark and prints the table.
pub fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let server_rt = runtime("echo-server")?;
    let client_rt = runtime("echo-client")?;
    let pki = if args.tls {
        Some(BenchPki::new()?)
    } else {
        None
    };
    let acceptor = pki.as_ref().map(BenchPki::acceptor).transpose()?;
    let connector = pki.as_ref().map(BenchPki::connector).transpose()?;
    println!(
        "echo: {} connections, {}-byte frames, window {}, {} s x {} rounds per server{}",
        args.connections,
        args.packet_size,
        args.window,
        args.secs,
        args.rounds,
        if args.tls {
            ", over TLS (server-core TLS listener vs bare tokio-rustls)"
        } else {
            ""
        }
    );
    println!("| round | server-core frames/s | bare tokio frames/s | ratio |");
    println!("|---|---|---|---|");
    let mut ratios = Vec::new();
    let mut core_rates = Vec::new();
    let mut bare_rates = Vec::new();
    for round in 1..=args.rounds {
        // Alternate which server goes first, so a drift in the machine's speed (this is a
        // shared 2-core VM) does not always favour the same one.
        let order = if round % 2 == 1 {
            [true, false]
        } else {
            [false, true]
        };
        let mut rates = [None, None];
        for core in order {
            if (core && args.server == Which::Bare) || (!core && args.server == Which::Core) {
                continue;
            }
            let (addr, token) = server_rt.block_on(async {
                if core {
                    start_core_server(acceptor.clone()).await
                } else {
                    start_bare_server(acceptor.clone()).await
                }
            })?;
            let rate = client_rt.block_on(load(addr, &args, connector.as_ref()))?;
            token.cancel();
            rates[usize::from(!core)] = Some(rate);
        }
        let show = |r: Option<f64>| r.map_or("-".to_owned(), |r| format!("{r:.0}"));
        let ratio = match rates {
            [Some(c), Some(b)] => {
                ratios.push(c / b);
                format!("{:.2}", c / b)
            }
            _ => "-".to_owned(),
        };
        println!(
            "| {round} | {} | {} | {ratio} |",
            show(rates[0]),
            show(rates[1])
        );
        core_rates.extend(rates[0]);
        bare_rates.extend(rates[1]);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    println!();
    if let (Some(core), Some(bare), Some(ratio)) = (
        median(&mut core_rates),
        median(&mut bare_rates),
        median(&mut ratios),
    ) {
        println!(
            "median: server-core {core:.0} frames/s, bare tokio {bare:.0} frames/s; median of per-round ratios {ratio:.2}x"
        );
    }
    Ok(())
}
