//! A client that never reads: closed at its send queue limit, with memory bounded.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use game_server::packets::{self as server_packets, CChat, SBroadcastLeaveGame};
use server_core::frame::{parse_header, HEADER_SIZE};
use server_core::Packet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::Notify;

use crate::common::{capture_logs, decode, local_addr, lock, logged, MEMORY};
use crate::support::{eventually, start_server, Client, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed_as_a_slow_consumer_and_memory_stays_bounded() {
    // Alone: no other test's servers allocate while this one measures the process.
    let _alone = MEMORY.write().await;
    capture_logs();
    const LIMIT: usize = 64 * 1024;
    let server = start_server(|c| {
        c.net.send_queue_limit = LIMIT;
        // A full room's player list must fit the limit too (ServerConfig::validate).
        c.net.max_connections = 100;
        // Flushes far below the limit, so a reader that keeps up is never near it.
        c.max_pending_bytes = 8 * 1024;
        c.tick = Duration::from_millis(5);
        c.chat_max_chars = 2000;
        // The talker floods on purpose; this test is about the staller, not the rate limit.
        c.chat_rate = game_server::Rate {
            per_sec: 1e9,
            burst: 1e9,
        };
    })
    .await;
    let addr = server.local_addr();

    // A small receive window, so the kernel holds little on the staller's behalf and the
    // server's own send queue is what fills.
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("a small receive buffer");
    let stream = socket.connect(addr).await.expect("connect");
    let (staller, _) = Client::join_stream(stream).await;
    let staller_peer = local_addr(&staller);
    // What the kernel holds for the staller on the server's side, sampled all along: the
    // part of a stalled session's cost that the send queue limit does not count.
    let kernel_peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = Arc::clone(&kernel_peak);
        tokio::spawn(async move {
            loop {
                if let Some(queued) = server_side_tx_queue(addr, staller_peer) {
                    peak.fetch_max(queued, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    // The talker chats and reads everything: the room broadcasts each line to both.
    let (talker, _) = Client::join(addr).await;
    let (stream, leftover) = talker.into_parts();
    let (mut rx, mut tx) = stream.into_split();
    let progress = Arc::new(Progress::default());
    let reader = {
        let progress = Arc::clone(&progress);
        tokio::spawn(async move {
            let mut buf = leftover;
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let mut at = 0;
                while let Ok(Some(h)) = parse_header(&buf[at..], 65535) {
                    let body = &buf[at + HEADER_SIZE..at + h.size];
                    progress.saw(h.id, body);
                    at += h.size;
                }
                buf.drain(..at);
                progress.notify.notify_one();
                match rx.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
    };

    let line = CChat {
        message: "x".repeat(2000),
    }
    .encode()
    .expect("a 2000-character chat encodes");
    // What the room sends each player per line: header, player id, length, 4000 bytes.
    let per_line = (HEADER_SIZE + 4 + 2 + 4000) as u64;
    const LINES: u64 = 12_000; // about 46 MiB to every player in the room
    const WINDOW: u64 = 8; // lines in flight, so the room's input queue stays short
    let rss_before = rss();
    let mut sent = 0;
    while sent < LINES {
        while sent - progress.chats.load(Ordering::Acquire) >= WINDOW {
            let woke = tokio::time::timeout(WAIT, progress.notify.notified()).await;
            assert!(
                woke.is_ok(),
                "the talker should keep receiving its own lines: sent {sent}, received {}, \
                 leaves {:?}, server {:?}",
                progress.chats.load(Ordering::Acquire),
                progress.leaves(),
                server.snapshot()
            );
        }
        tx.write_all(&line).await.expect("the talker keeps sending");
        sent += 1;
    }
    eventually("the talker receives every line", || {
        progress.chats.load(Ordering::Acquire) == LINES
    })
    .await;
    let rss_after = rss();
    sampler.abort();

    let broadcast = LINES * per_line;
    let growth = rss_after.saturating_sub(rss_before);
    assert!(
        growth < 16 << 20 && growth < broadcast / 4,
        "memory should stay bounded: the process grew {} KiB while {} KiB went to every player \
         (a stalled player holding its share would have grown it by that much)",
        growth >> 10,
        broadcast >> 10
    );
    // The whole bound of a stalled session: the send queue limit in the server's memory, plus
    // at most twice SO_SNDBUF in the kernel (Linux doubles the value set). Before the socket
    // buffer was set, the kernel's autotuning let this reach megabytes on loopback.
    let sndbuf = game_server::ServerConfig::default()
        .net
        .socket_send_buffer
        .expect("the default sets SO_SNDBUF") as u64;
    let kernel_peak = kernel_peak.load(Ordering::Relaxed);
    assert!(
        kernel_peak > 0,
        "the sampler should have seen the staller's socket with bytes queued"
    );
    assert!(
        kernel_peak <= 2 * sndbuf,
        "the kernel held {kernel_peak} bytes for the staller, more than 2 x SO_SNDBUF ({sndbuf})"
    );
    let limit = format!("limit {LIMIT}");
    logged(
        staller_peer,
        &["WARN", "disconnected", "reason=slow consumer", &limit],
    )
    .await;
    let leaves = progress.leaves();
    assert_eq!(
        leaves,
        vec![staller.player_id],
        "the stalled player leaves the room exactly once, and nobody else does"
    );
    eventually("the room is down to the talker", || {
        let s = server.snapshot();
        s.players == 1 && s.sessions == 1
    })
    .await;
    drop(tx);
    drop(staller);
    server.shutdown().await;
    let _ = reader.await;
}

/// What the talker's reader has seen.
#[derive(Default)]
struct Progress {
    chats: AtomicU64,
    leaves: Mutex<Vec<i32>>,
    notify: Notify,
}

impl Progress {
    fn saw(&self, id: u16, body: &[u8]) {
        if id == server_packets::SChat::ID {
            self.chats.fetch_add(1, Ordering::Release);
        } else if id == SBroadcastLeaveGame::ID {
            let leave = decode::<SBroadcastLeaveGame>(body);
            lock(&self.leaves).push(leave.player_id);
        }
    }

    fn leaves(&self) -> Vec<i32> {
        lock(&self.leaves).clone()
    }
}

/// Bytes in the send queue of the server's socket from `server` to `peer` (written and not
/// yet acknowledged by the peer), from /proc/net/tcp; `None` once the socket is gone.
fn server_side_tx_queue(server: SocketAddr, peer: SocketAddr) -> Option<u64> {
    let hex = |a: SocketAddr| match a {
        SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        SocketAddr::V6(_) => String::new(),
    };
    let (local, remote) = (hex(server), hex(peer));
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.get(1) != Some(&local.as_str()) || cols.get(2) != Some(&remote.as_str()) {
            return None;
        }
        let tx = cols.get(4)?.split(':').next()?;
        u64::from_str_radix(tx, 16).ok()
    })
}

/// This process's resident set size, from /proc/self/status.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}
