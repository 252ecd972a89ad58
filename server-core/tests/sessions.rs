//! Sessions over real loopback sockets: framing, batching, limits, closing and shutdown.

#[path = "support/echo.rs"]
mod echo;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use server_core::{
    CloseReason, Config, Connector, Listener, ListenerStats, PacketSession, ProtocolError,
    SendBuffer, Session, SessionHandler,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use echo::{frame, Echo, WAIT};

struct Server {
    addr: SocketAddr,
    shutdown: CancellationToken,
    stats: Arc<ListenerStats>,
    closed: mpsc::UnboundedReceiver<CloseReason>,
    done: tokio::task::JoinHandle<()>,
}

async fn echo_server(config: Config) -> Server {
    let listener = Listener::bind(Config {
        addr: "127.0.0.1:0".parse().expect("literal address"),
        ..config
    })
    .await
    .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("bound address");
    let shutdown = listener.shutdown_token();
    let stats = listener.stats();
    let (tx, closed) = mpsc::unbounded_channel();
    let done = tokio::spawn(listener.run(move || Echo { closed: tx.clone() }));
    Server {
        addr,
        shutdown,
        stats,
        closed,
        done,
    }
}

async fn next_close(server: &mut Server) -> CloseReason {
    tokio::time::timeout(WAIT, server.closed.recv())
        .await
        .expect("a session should have closed in time")
        .expect("listener alive")
}

async fn read_exact(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    tokio::time::timeout(WAIT, stream.read_exact(&mut buf))
        .await
        .expect("echo should arrive in time")
        .expect("read echo");
    buf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_through_packet_session() {
    let server = echo_server(Config::default()).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    let sent = frame(7, b"hello");
    client.write_all(&sent).await.expect("write");
    assert_eq!(
        read_exact(&mut client, sent.len()).await,
        sent,
        "frame should come back unchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragmented_and_coalesced_frames() {
    let server = echo_server(Config::default()).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.set_nodelay(true).expect("nodelay");

    // One frame, one byte per write.
    let one = frame(3, b"fragmented body");
    for b in &one {
        client.write_all(&[*b]).await.expect("write one byte");
        tokio::task::yield_now().await;
    }
    assert_eq!(read_exact(&mut client, one.len()).await, one);

    // A thousand frames in one write.
    let mut many = Vec::new();
    for i in 0..1000u16 {
        many.extend(frame(i, &i.to_le_bytes()));
    }
    client.write_all(&many).await.expect("write batch");
    assert_eq!(
        read_exact(&mut client, many.len()).await,
        many,
        "all 1000 frames should echo back in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sizes_close_with_protocol_error_and_others_keep_working() {
    let mut server = echo_server(Config {
        max_packet_size: 1024,
        ..Config::default()
    })
    .await;
    let mut good = TcpStream::connect(server.addr)
        .await
        .expect("connect good client");

    let cases: [(&[u8], ProtocolError); 5] = [
        (&[0, 0, 1, 0], ProtocolError::FrameTooSmall { size: 0 }),
        (&[1, 0], ProtocolError::FrameTooSmall { size: 1 }),
        (&[2, 0, 0, 0], ProtocolError::FrameTooSmall { size: 2 }),
        (&[3, 0, 9], ProtocolError::FrameTooSmall { size: 3 }),
        (
            &[0x01, 0x04, 1, 0],
            ProtocolError::FrameTooLarge {
                size: 1025,
                max: 1024,
            },
        ),
    ];
    for (bytes, expected) in cases {
        let mut bad = TcpStream::connect(server.addr)
            .await
            .expect("connect bad client");
        bad.write_all(bytes).await.expect("write malformed header");
        assert_eq!(
            next_close(&mut server).await,
            CloseReason::ProtocolError(expected)
        );
        let mut rest = Vec::new();
        let eof = tokio::time::timeout(WAIT, bad.read_to_end(&mut rest)).await;
        assert!(
            eof.is_ok(),
            "server should close the malformed client's socket"
        );
    }

    let sent = frame(1, b"still here");
    good.write_all(&sent).await.expect("write");
    assert_eq!(
        read_exact(&mut good, sent.len()).await,
        sent,
        "other sessions keep working"
    );
}

/// Counts connects/disconnects of client sessions.
#[derive(Clone, Default)]
struct Counters {
    connected: Arc<AtomicUsize>,
    disconnected: Arc<AtomicUsize>,
    frames: Arc<AtomicUsize>,
}

impl PacketSession for Counters {
    fn on_connected(&mut self, _: &Arc<Session>) {
        self.connected.fetch_add(1, Ordering::SeqCst);
    }
    fn on_recv_packet(&mut self, _: &Arc<Session>, _: u16, _: &[u8]) -> Result<(), CloseReason> {
        self.frames.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn on_disconnected(&mut self, _: &Arc<Session>, _: &CloseReason) {
        self.disconnected.fetch_add(1, Ordering::SeqCst);
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_sessions_echo_and_shut_down() {
    let mut server = echo_server(Config::default()).await;
    let connector = Connector::new(Config::default());
    let counters = Counters::default();
    let sessions = connector
        .connect_many(server.addr, 1000, |_| counters.clone())
        .await;
    let sessions: Vec<Arc<Session>> = sessions
        .into_iter()
        .map(|s| s.expect("every one of 1000 connects should succeed"))
        .collect();
    let ping = Bytes::from(frame(1, b"ping"));
    for s in &sessions {
        s.send(ping.clone()).expect("queue ping");
    }
    eventually("1000 echoes arrive", || {
        counters.frames.load(Ordering::SeqCst) == 1000
    })
    .await;
    assert_eq!(server.stats.accepted(), 1000);
    eventually("server sees 1000 active", || server.stats.active() == 1000).await;

    server.shutdown.cancel();
    tokio::time::timeout(WAIT, &mut server.done)
        .await
        .expect("listener should finish shutting down in time")
        .expect("listener task");
    let mut shutdowns = 0;
    while let Ok(reason) = server.closed.try_recv() {
        assert_eq!(reason, CloseReason::ServerShutdown);
        shutdowns += 1;
    }
    assert_eq!(shutdowns, 1000, "every session closes with ServerShutdown");
    assert_eq!(server.stats.active(), 0);
    eventually("clients see the close", || {
        counters.disconnected.load(Ordering::SeqCst) == 1000
    })
    .await;
    connector.shutdown().await;
    assert_eq!(counters.connected.load(Ordering::SeqCst), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_from_a_non_tokio_thread() {
    let server = echo_server(Config::default()).await;
    let connector = Connector::new(Config::default());
    let counters = Counters::default();
    let session = connector
        .connect(server.addr, counters.clone())
        .await
        .expect("connect");
    let thread = std::thread::spawn(move || {
        for i in 0..500u16 {
            // SendBuffer and send on a thread with no runtime at all.
            let f = SendBuffer::copy_from_slice(&frame(i, b"from a plain thread"));
            session.send(f).expect("send from plain thread");
        }
    });
    thread.join().expect("plain thread");
    eventually("500 echoes arrive", || {
        counters.frames.load(Ordering::SeqCst) == 500
    })
    .await;
}

/// Records how often `on_disconnected` fires and with what.
#[derive(Clone, Default)]
struct CloseLog(Arc<Mutex<Vec<CloseReason>>>);

impl SessionHandler for CloseLog {
    fn on_recv(&mut self, _: &Arc<Session>, data: &[u8]) -> usize {
        data.len()
    }
    fn on_disconnected(&mut self, _: &Arc<Session>, reason: &CloseReason) {
        self.0.lock().expect("log").push(reason.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_races_fire_on_disconnected_once() {
    let server = echo_server(Config::default()).await;
    let connector = Connector::new(Config::default());
    for round in 0..50 {
        let log = CloseLog::default();
        let session = connector
            .connect(server.addr, log.clone())
            .await
            .expect("connect");
        let winners = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let session = Arc::clone(&session);
                let winners = Arc::clone(&winners);
                std::thread::spawn(move || {
                    if session.disconnect(CloseReason::ApplicationError(format!("thread {t}"))) {
                        winners.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("closer thread");
        }
        assert_eq!(
            winners.load(Ordering::SeqCst),
            1,
            "round {round}: exactly one disconnect wins"
        );
        eventually("on_disconnected fires", || {
            !log.0.lock().expect("log").is_empty()
        })
        .await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let reasons = log.0.lock().expect("log").clone();
        assert_eq!(
            reasons.len(),
            1,
            "round {round}: on_disconnected fires exactly once"
        );
        assert_eq!(
            Some(&reasons[0]),
            session.close_reason(),
            "the winning reason is reported"
        );
        assert!(
            session.send(Bytes::from_static(b"late")).is_err(),
            "sending after close fails"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed_as_slow_consumer() {
    let limit = 256 * 1024;
    let listener = Listener::bind(Config {
        addr: "127.0.0.1:0".parse().expect("literal"),
        send_queue_limit: limit,
        ..Config::default()
    })
    .await
    .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, mut rx) = mpsc::unbounded_channel::<Arc<Session>>();
    let log = CloseLog::default();
    let server_log = log.clone();
    tokio::spawn(listener.run(move || {
        struct Hand(mpsc::UnboundedSender<Arc<Session>>, CloseLog);
        impl SessionHandler for Hand {
            fn on_connected(&mut self, s: &Arc<Session>) {
                let _ = self.0.send(Arc::clone(s));
            }
            fn on_recv(&mut self, _: &Arc<Session>, d: &[u8]) -> usize {
                d.len()
            }
            fn on_disconnected(&mut self, s: &Arc<Session>, r: &CloseReason) {
                self.1.on_disconnected(s, r);
            }
        }
        Hand(tx.clone(), server_log.clone())
    }));

    // Connects and then never reads a byte.
    let _stalled = TcpStream::connect(addr).await.expect("connect");
    let session = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("accepted")
        .expect("session");
    let chunk = Bytes::from(vec![7u8; 16 * 1024]);
    let mut max_queued = 0;
    let mut sends = 0;
    while session.send(chunk.clone()).is_ok() {
        max_queued = max_queued.max(session.queued_bytes());
        sends += 1;
        assert!(
            sends < 100_000,
            "the session should have been closed long ago"
        );
        if sends % 16 == 0 {
            tokio::task::yield_now().await;
        }
    }
    assert!(
        max_queued <= limit,
        "queued bytes {max_queued} must never pass the limit {limit}"
    );
    eventually("on_disconnected fires", || {
        !log.0.lock().expect("log").is_empty()
    })
    .await;
    let reasons = log.0.lock().expect("log").clone();
    assert!(
        matches!(reasons[..], [CloseReason::SlowConsumer { limit: l, .. }] if l == limit),
        "expected one SlowConsumer close, got {reasons:?}"
    );
    assert_eq!(session.queued_bytes(), 0, "the queue is freed on close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_max_are_refused_at_once() {
    let server = echo_server(Config {
        max_connections: 2,
        ..Config::default()
    })
    .await;
    let mut first = TcpStream::connect(server.addr).await.expect("first");
    let _second = TcpStream::connect(server.addr).await.expect("second");
    eventually("two sessions active", || server.stats.active() == 2).await;

    let mut third = TcpStream::connect(server.addr)
        .await
        .expect("TCP connect itself succeeds");
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(WAIT, third.read(&mut buf))
        .await
        .expect("refused connection should be closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0, "refused connection sees end of stream");
    assert_eq!(server.stats.refused(), 1);

    let sent = frame(1, b"unaffected");
    first.write_all(&sent).await.expect("write");
    assert_eq!(
        read_exact(&mut first, sent.len()).await,
        sent,
        "existing sessions are unaffected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_half_header_clients_hit_the_idle_timeout() {
    for per_thread in RECEIVE_MODES {
        let mut server = echo_server(Config {
            idle_timeout: Some(Duration::from_millis(300)),
            recv_per_thread: per_thread,
            ..Config::default()
        })
        .await;
        let _silent = TcpStream::connect(server.addr).await.expect("connect");
        let mut half = TcpStream::connect(server.addr).await.expect("connect");
        half.write_all(&[10]).await.expect("half a header");
        // A client completing a frame every 50 ms for a second is never idle.
        let mut busy = TcpStream::connect(server.addr).await.expect("connect");
        for i in 0..20u16 {
            let sent = frame(i, b"here");
            busy.write_all(&sent).await.expect("write");
            assert_eq!(read_exact(&mut busy, sent.len()).await, sent);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(next_close(&mut server).await, CloseReason::IdleTimeout);
        assert_eq!(next_close(&mut server).await, CloseReason::IdleTimeout);
        assert!(
            server.closed.try_recv().is_err(),
            "per_thread {per_thread}: the busy client is still open"
        );
        server.shutdown.cancel();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_close_is_reported_as_client_closing() {
    let mut server = echo_server(Config::default()).await;
    let client = TcpStream::connect(server.addr).await.expect("connect");
    drop(client);
    assert_eq!(next_close(&mut server).await, CloseReason::ClientClosing);
}

/// Queues many frames before its task's first write, and records every `on_send`.
struct Burst {
    frames: usize,
    sends: Arc<Mutex<Vec<usize>>>,
}

impl SessionHandler for Burst {
    fn on_connected(&mut self, session: &Arc<Session>) {
        // All queued before the I/O task's loop starts: they must leave together.
        for i in 0..self.frames {
            let f = SendBuffer::copy_from_slice(&frame(i as u16, b"burst!"));
            session.send(f).expect("queue frame");
        }
    }
    fn on_recv(&mut self, _: &Arc<Session>, data: &[u8]) -> usize {
        data.len()
    }
    fn on_send(&mut self, _: &Arc<Session>, bytes: usize) {
        self.sends.lock().expect("log").push(bytes);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_queued_together_leave_in_one_write_and_on_send_reports_it() {
    let listener = Listener::bind(Config {
        addr: "127.0.0.1:0".parse().expect("literal"),
        ..Config::default()
    })
    .await
    .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let sends = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&sends);
    tokio::spawn(listener.run(move || Burst {
        frames: 1000,
        sends: Arc::clone(&log),
    }));
    let mut client = TcpStream::connect(addr).await.expect("connect");
    let total = 1000 * frame(0, b"burst!").len();
    let got = read_exact(&mut client, total).await;
    assert_eq!(
        &got[..10],
        &frame(0, b"burst!")[..],
        "frames arrive in order"
    );
    eventually("on_send reports every byte", || {
        sends.lock().expect("log").iter().sum::<usize>() == total
    })
    .await;
    assert_eq!(
        sends.lock().expect("log").len(),
        1,
        "1000 frames queued while nothing was in flight should go out in a single write"
    );
}

/// Both receive modes: a session's own buffer, and its thread's (`recv_per_thread`).
const RECEIVE_MODES: [bool; 2] = [false, true];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_in_any_pieces_echo_whole_in_both_receive_modes() {
    for per_thread in RECEIVE_MODES {
        // Reads of 64 bytes: most frames span reads, and the large ones span hundreds.
        let config = Config {
            recv_per_thread: per_thread,
            recv_buffer_size: 64,
            max_packet_size: 8192,
            ..Config::default()
        };
        let server = echo_server(config).await;
        let mut clients = Vec::new();
        for c in 0..20u16 {
            let addr = server.addr;
            clients.push(tokio::spawn(async move {
                let client = TcpStream::connect(addr).await.expect("connect");
                client.set_nodelay(true).expect("nodelay");
                let mut sent = Vec::new();
                for i in 0..200u16 {
                    let len = usize::from((c * 37 + i * 101) % 8000);
                    sent.extend(frame(i, &vec![(c + i) as u8; len]));
                }
                // Uneven writes: a few bytes, then whole kilobytes, cutting frames anywhere.
                let (reader, mut writer) = client.into_split();
                let expected = sent.clone();
                let echo = tokio::spawn(async move {
                    let mut reader = reader;
                    let mut got = vec![0; expected.len()];
                    tokio::time::timeout(WAIT, reader.read_exact(&mut got))
                        .await
                        .expect("echo in time")
                        .expect("read echo");
                    assert!(got == expected, "client {c}: the echo differs");
                });
                let mut at = 0;
                let mut step = 1;
                while at < sent.len() {
                    let end = (at + step).min(sent.len());
                    writer.write_all(&sent[at..end]).await.expect("write");
                    at = end;
                    step = step * 7 % 4099 + 1;
                }
                echo.await.expect("echo task");
            }));
        }
        for client in clients {
            client.await.expect("client");
        }
        server.shutdown.cancel();
    }
}

/// How many bytes a handler says it consumed of the ones it was given.
type Claim = fn(usize) -> usize;

/// A raw handler that consumes nothing, claims more than it was given, or panics.
struct Greedy {
    claim: Claim,
    log: CloseLog,
}

impl SessionHandler for Greedy {
    fn on_recv(&mut self, _: &Arc<Session>, data: &[u8]) -> usize {
        (self.claim)(data.len())
    }
    fn on_disconnected(&mut self, s: &Arc<Session>, r: &CloseReason) {
        self.log.on_disconnected(s, r);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_never_consumes_claims_too_much_or_panics_is_closed_in_both_receive_modes() {
    let cases: [(Claim, &str); 3] = [
        (|_| 0, "receive buffer full"),
        (|n| n + 1, "on_recv: cannot mark"),
        (|_| panic!("a handler bug"), "on_recv panicked"),
    ];
    for per_thread in RECEIVE_MODES {
        for (claim, expected) in cases {
            let listener = Listener::bind(Config {
                addr: "127.0.0.1:0".parse().expect("literal"),
                recv_per_thread: per_thread,
                recv_buffer_size: 256,
                max_packet_size: 1024,
                ..Config::default()
            })
            .await
            .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let log = CloseLog::default();
            let server_log = log.clone();
            let shutdown = listener.shutdown_token();
            tokio::spawn(listener.run(move || Greedy {
                claim,
                log: server_log.clone(),
            }));
            let mut client = TcpStream::connect(addr).await.expect("connect");
            // More than the 1024-byte cap, in pieces; the write may fail once it closes.
            for _ in 0..8 {
                if client.write_all(&[1u8; 200]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            eventually("the session closes", || {
                !log.0.lock().expect("log").is_empty()
            })
            .await;
            let reasons = log.0.lock().expect("log").clone();
            assert!(
                matches!(&reasons[..], [CloseReason::ApplicationError(m)] if m.starts_with(expected)),
                "per_thread {per_thread}: expected one close starting {expected:?}, got {reasons:?}"
            );
            shutdown.cancel();
        }
    }
}
