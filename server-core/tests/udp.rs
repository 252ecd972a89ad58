//! UDP sessions over loopback: one session per remote address, whole frames per datagram,
//! malformed datagrams dropped and counted, repeated garbage and idleness closing a
//! session, and a flood from many source addresses capped by the session limit, the
//! per-address limits and the per-address datagram rate.

#[path = "support/echo.rs"]
mod echo;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use server_core::{
    AddressLimits, CloseReason, Config, ProtocolError, SessionRegistry, UdpConfig, UdpListener,
    UdpStats,
};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use echo::{frame, Echo, WAIT};

struct Server {
    addr: SocketAddr,
    shutdown: CancellationToken,
    stats: Arc<UdpStats>,
    registry: Arc<SessionRegistry>,
    closed: mpsc::UnboundedReceiver<CloseReason>,
    done: tokio::task::JoinHandle<()>,
}

async fn udp_server(config: Config, udp: UdpConfig) -> Server {
    let listener = UdpListener::bind(
        Config {
            addr: "127.0.0.1:0".parse().expect("literal address"),
            ..config
        },
        udp,
    )
    .await
    .expect("bind UDP 127.0.0.1:0");
    let (tx, closed) = mpsc::unbounded_channel();
    let server = Server {
        addr: listener.local_addr().expect("bound address"),
        shutdown: listener.shutdown_token(),
        stats: listener.stats(),
        registry: listener.sessions(),
        closed,
        done: tokio::spawn(async {}),
    };
    Server {
        done: tokio::spawn(listener.run(move || Echo { closed: tx.clone() })),
        ..server
    }
}

impl Server {
    async fn next_close(&mut self) -> CloseReason {
        tokio::time::timeout(WAIT, self.closed.recv())
            .await
            .expect("a session closes in time")
            .expect("listener alive")
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.done)
            .await
            .expect("listener stops in time")
            .expect("listener task");
    }
}

async fn client(ip: [u8; 4]) -> UdpSocket {
    UdpSocket::bind(SocketAddr::from((ip, 0)))
        .await
        .expect("bind a client socket on loopback")
}

async fn recv(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65_536];
    let n = tokio::time::timeout(WAIT, socket.recv(&mut buf))
        .await
        .expect("a datagram in time")
        .expect("recv");
    buf.truncate(n);
    buf
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_address_is_a_session_and_frames_travel_whole_in_datagrams() {
    let server = udp_server(Config::default(), UdpConfig::default()).await;
    let a = client([127, 0, 0, 1]).await;
    a.connect(server.addr).await.expect("connect a");
    let mut two = frame(1, b"hello");
    two.extend(frame(2, b"world"));
    a.send(&two).await.expect("send");
    // Replies to one datagram are packed together again.
    assert_eq!(recv(&a).await, two);
    let b = client([127, 0, 0, 1]).await;
    b.connect(server.addr).await.expect("connect b");
    b.send(&frame(3, b"b")).await.expect("send");
    assert_eq!(recv(&b).await, frame(3, b"b"));
    assert_eq!(server.registry.session_count(), 2);
    assert_eq!(server.stats.sessions_opened(), 2);
    let peers: Vec<SocketAddr> = server
        .registry
        .snapshot()
        .iter()
        .map(|s| s.peer_addr())
        .collect();
    assert!(peers.contains(&a.local_addr().expect("a's address")));

    // Many replies at once are split over datagrams of at most max_datagram_size, whole.
    let mut many = Vec::new();
    for i in 0..100u16 {
        many.extend(frame(i, &[7; 40]));
    }
    a.send(&many)
        .await
        .expect("send 100 frames in one datagram");
    let mut back = Vec::new();
    while back.len() < many.len() {
        let d = recv(&a).await;
        assert!(d.len() <= 1200, "datagram of {} bytes", d.len());
        assert_eq!(d.len() % 44, 0, "whole frames only");
        back.extend(d);
    }
    assert_eq!(back, many);

    // A batch of frames sent from outside the handler as one buffer (what the room's
    // broadcast is) is cut at frame boundaries too.
    let session = server
        .registry
        .snapshot()
        .into_iter()
        .find(|s| s.peer_addr() == b.local_addr().expect("b's address"))
        .expect("b's session");
    session
        .send(bytes::Bytes::from(many.clone()))
        .expect("queue a 4400-byte batch");
    let mut back = Vec::new();
    while back.len() < many.len() {
        let d = recv(&b).await;
        assert!(d.len() <= 1200, "datagram of {} bytes", d.len());
        assert_eq!(d.len() % 44, 0, "whole frames only");
        back.extend(d);
    }
    assert_eq!(back, many);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_datagrams_are_dropped_and_repeated_garbage_closes_the_session() {
    let mut server = udp_server(
        Config::default(),
        UdpConfig {
            max_malformed: 3,
            ..UdpConfig::default()
        },
    )
    .await;
    let c = client([127, 0, 0, 1]).await;
    c.connect(server.addr).await.expect("connect");
    // Garbage first opens no session.
    c.send(&[1, 2, 3]).await.expect("send");
    eventually("the garbage to be counted", || {
        server.stats.malformed() == 1
    })
    .await;
    assert_eq!(server.stats.sessions_opened(), 0);

    c.send(&frame(1, b"hi")).await.expect("send");
    assert_eq!(recv(&c).await, frame(1, b"hi"));
    // A cut frame is dropped whole; a good datagram after it still works.
    let mut cut = frame(2, b"whole");
    cut.extend(&frame(3, b"cut")[..5]);
    c.send(&cut).await.expect("send");
    c.send(&frame(4, b"ok")).await.expect("send");
    assert_eq!(
        recv(&c).await,
        frame(4, b"ok"),
        "the cut datagram was not half-delivered"
    );
    for _ in 0..3 {
        c.send(&[0xFF; 9]).await.expect("send garbage");
    }
    match server.next_close().await {
        CloseReason::ProtocolError(ProtocolError::Invalid(why)) => {
            assert!(why.contains("3 malformed datagrams in a row"), "{why}")
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
    assert_eq!(server.stats.malformed(), 5);
    eventually("the session to leave the registry", || {
        server.registry.session_count() == 0
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_is_closed_and_shutdown_closes_the_rest() {
    let mut server = udp_server(
        Config {
            idle_timeout: Some(Duration::from_millis(200)),
            ..Config::default()
        },
        UdpConfig::default(),
    )
    .await;
    let c = client([127, 0, 0, 1]).await;
    c.connect(server.addr).await.expect("connect");
    c.send(&frame(1, b"")).await.expect("send");
    assert_eq!(recv(&c).await, frame(1, b""));
    assert_eq!(server.next_close().await, CloseReason::IdleTimeout);

    // The same address comes back: a new session.
    c.send(&frame(2, b"")).await.expect("send");
    assert_eq!(recv(&c).await, frame(2, b""));
    assert_eq!(server.stats.sessions_opened(), 2);
    server.shutdown.cancel();
    assert_eq!(server.next_close().await, CloseReason::ServerShutdown);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_capped_by_the_session_limit_the_address_limits_and_the_rate() {
    // Sessions from 40 source addresses (127.0.0.2 .. 127.0.0.41: all loopback, standing in
    // for spoofed sources), at most 10 sessions.
    let server = udp_server(
        Config {
            max_connections: 10,
            address_limits: None,
            ..Config::default()
        },
        UdpConfig::default(),
    )
    .await;
    let mut flood = Vec::new();
    for i in 2..42u8 {
        let s = client([127, 0, 0, i]).await;
        s.send_to(&frame(1, b"x"), server.addr).await.expect("send");
        flood.push(s);
    }
    eventually("all 40 first datagrams to be seen", || {
        server.stats.datagrams_in() == 40
    })
    .await;
    assert_eq!(server.stats.sessions_opened(), 10);
    assert_eq!(server.stats.refused_full(), 30);
    assert_eq!(server.registry.session_count(), 10);
    server.stop().await;

    // Per address: at most 2 sessions from one IP (many ports), and a datagram rate.
    let server = udp_server(
        Config {
            address_limits: Some(AddressLimits {
                max_open: 2,
                exempt_loopback: false,
                ..AddressLimits::default()
            }),
            ..Config::default()
        },
        UdpConfig {
            datagrams_per_sec: 1.0,
            datagram_burst: 10,
            ..UdpConfig::default()
        },
    )
    .await;
    let mut ports = Vec::new();
    for _ in 0..5 {
        let s = client([127, 0, 0, 50]).await;
        s.send_to(&frame(1, b"x"), server.addr).await.expect("send");
        ports.push(s);
    }
    eventually("5 first datagrams", || server.stats.datagrams_in() == 5).await;
    assert_eq!(server.stats.sessions_opened(), 2);
    assert_eq!(server.stats.refused_by_address(), 3);

    let started = Instant::now();
    let noisy = &ports[0];
    for _ in 0..100 {
        noisy
            .send_to(&frame(2, b"y"), server.addr)
            .await
            .expect("send");
    }
    eventually("the burst to be seen", || {
        server.stats.datagrams_in() == 105
    })
    .await;
    // The first datagram took one token of the burst of 10; a token a second refills.
    let refilled = started.elapsed().as_secs() + 1;
    assert!(
        server.stats.rate_limited() >= 100 - 9 - refilled,
        "rate-limited {}",
        server.stats.rate_limited()
    );
    server.stop().await;
}
