//! The admin endpoint under misuse: the token on every request (the event stream too), no
//! token off loopback, malformed HTTP, slow and idle clients, and more connections than the
//! cap. Through all of it a game client keeps playing.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use game_server::admin::{AdminConfig, AdminError};
use game_server::packets::{CPing, PacketId, SPong};
use game_server::{GameServer, ServerConfig};
use server_core::Packet;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::{bearer, start_with_admin, start_with_token, TOKEN};
use crate::exposition::{parse, value};
use crate::http::{
    get, parse as parse_response, read_to_close, read_to_close_or_reset, send_raw, EventStream,
};
use crate::support::{Client, WAIT};

/// The player answers a ping: the game side is unharmed.
async fn still_playing(client: &mut Client, stamp: i64) {
    client.send(&CPing { client_time: stamp }).await;
    loop {
        let (id, body) = client.next_frame().await;
        if id == PacketId::SPong as u16 {
            let pong = SPong::decode(&body).expect("S_Pong decodes");
            if pong.client_time == stamp {
                return;
            }
        }
    }
}

async fn scrape(
    addr: SocketAddr,
    auth: Option<&str>,
) -> std::collections::HashMap<String, crate::exposition::Family> {
    let resp = get(addr, "/metrics", auth).await;
    assert_eq!(resp.status, 200, "/metrics with the right credentials");
    parse(&resp.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_needs_the_token_and_refusals_are_counted() {
    let server = start_with_token(|_| {}).await;
    let admin = server.admin_addr().expect("admin is on");

    let refused = [
        ("/", None),
        ("/metrics", Some("Bearer wrong-token-wrong-token")),
        ("/metrics", Some(TOKEN)), // the token without its scheme
        ("/live", None),
        ("/no-such-page", None),
    ];
    for (path, auth) in refused {
        let resp = get(admin, path, auth).await;
        assert_eq!(resp.status, 401, "{path} with {auth:?} is refused");
        let challenges = resp.header_values("www-authenticate");
        assert!(
            challenges.iter().any(|c| c.starts_with("Basic")),
            "a browser is offered its login prompt: {challenges:?}"
        );
        assert!(!resp.body.contains("game_"), "a 401 leaks no metric");
    }
    let mut live = EventStream::open(admin, None).await;
    assert_eq!(live.status, 401, "the event stream needs the token too");
    drop(live);

    let metrics = scrape(admin, Some(&bearer())).await;
    assert_eq!(
        value(&metrics, "game_admin_unauthorized_total", &[]),
        (refused.len() + 1) as f64,
        "every refusal is counted"
    );
    assert_eq!(get(admin, "/healthz", Some(&bearer())).await.status, 200);
    // Health probes carry no token: /healthz answers them, and says nothing else.
    let health = get(admin, "/healthz", None).await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let page = get(admin, "/", Some(&bearer())).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<svg"), "the page is served");
    // A browser's login prompt: any user name, the token as password.
    let basic = format!("Basic {}", base64_encode(&format!("ops:{TOKEN}")));
    assert_eq!(get(admin, "/metrics", Some(&basic)).await.status, 200);

    live = EventStream::open(admin, Some(&bearer())).await;
    assert_eq!(live.status, 200, "the event stream opens with the token");
    let frame = live.next_frame().await;
    assert!(frame["players"].is_number(), "a live frame: {frame}");
    drop(live);
    server.shutdown().await;
}

/// Standard base64, enough for one short test string.
fn base64_encode(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A request with this `Host` (and `Origin`, if any), as a browser sends it.
async fn get_as(admin: SocketAddr, path: &str, host: &str, origin: Option<&str>) -> u16 {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(origin) = origin {
        request.push_str(&format!("Origin: {origin}\r\n"));
    }
    request.push_str("\r\n");
    let resp = send_raw(admin, request.as_bytes()).await;
    if resp.status != 200 {
        assert!(
            !resp.body.contains("game_"),
            "a {} leaks no metric",
            resp.status
        );
    }
    resp.status
}

/// DNS rebinding: a page the operator visits points its own name at 127.0.0.1 and reads
/// the tokenless endpoint. Its requests carry that name as `Host` (and its own origin as
/// `Origin`); without a token only loopback names are served, and the refusals are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_a_rebound_host_name_reads_nothing() {
    let server = start_with_admin(|_| {}).await;
    let admin = server.admin_addr().expect("admin is on");
    let port = admin.port();
    let evil = format!("attacker.example:{port}");
    for path in ["/", "/metrics", "/live", "/index.html"] {
        assert_eq!(
            get_as(admin, path, &evil, None).await,
            403,
            "{path} for {evil}"
        );
    }
    let evil_origin = Some("http://attacker.example");
    let loopback = format!("127.0.0.1:{port}");
    assert_eq!(
        get_as(admin, "/live", &loopback, evil_origin).await,
        403,
        "the event stream refuses a foreign Origin even with a loopback Host"
    );
    // The operator's own browser and scripts still get everything.
    for host in [loopback.clone(), format!("localhost:{port}")] {
        assert_eq!(get_as(admin, "/metrics", &host, None).await, 200, "{host}");
    }
    let own_origin = format!("http://localhost:{port}");
    let mut live = EventStream::open(admin, None).await;
    assert_eq!(live.status, 200, "the page's own event stream opens");
    drop(live);
    live = EventStream::open_with(admin, None, Some(&own_origin)).await;
    assert_eq!(live.status, 200, "with its own loopback Origin too");
    drop(live);
    assert_eq!(
        get_as(admin, "/healthz", &evil, None).await,
        200,
        "health says only ok"
    );

    let metrics = scrape(admin, None).await;
    assert_eq!(
        value(&metrics, "game_admin_forbidden_total", &[]),
        5.0,
        "every refusal is counted"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_non_loopback_admin_address_without_a_token_refuses_to_start() {
    let mut config = ServerConfig {
        admin: Some(AdminConfig::new(SocketAddr::from(([0, 0, 0, 0], 0)))),
        ..ServerConfig::default()
    };
    config.net.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let err = match GameServer::start(config).await {
        Ok(_) => panic!("the server must not start with an open admin port and no token"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<AdminError>())
        .expect("the admin error is inside");
    assert!(matches!(inner, AdminError::TokenRequired { .. }), "{inner}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_an_error_and_the_game_plays_on() {
    let server = start_with_admin(|_| {}).await;
    let admin = server.admin_addr().expect("admin is on");
    let (mut player, _) = Client::join(server.local_addr()).await;

    let huge_header = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let bad: Vec<Vec<u8>> = vec![
        b"GARBAGE\r\n\r\n".to_vec(),
        b"GET / HTTP/9.9\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n".to_vec(),
        b"\x00\xff\x16\x03\x01\x02\x00binary".to_vec(),
        huge_header.into_bytes(),
        b"GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n".to_vec(),
    ];
    for (i, request) in bad.iter().enumerate() {
        let mut stream = TcpStream::connect(admin).await.expect("connect");
        // The server may close before reading all of a huge request: a failed write is fine.
        let _ = stream.write_all(request).await;
        let raw = read_to_close(&mut stream, WAIT).await;
        if let Some(resp) = parse_response(&raw) {
            assert!(
                (400..500).contains(&resp.status),
                "bad request {i} gets a 4xx, not {}",
                resp.status
            );
        }
        still_playing(&mut player, i as i64).await;
    }
    assert_eq!(
        get(admin, "/healthz", None).await.status,
        200,
        "admin still serves"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_trickling_clients_are_cut_off_by_the_header_timeout() {
    let server = start_with_admin(|a| a.header_timeout = Duration::from_secs(1)).await;
    let admin = server.admin_addr().expect("admin is on");
    let (mut player, _) = Client::join(server.local_addr()).await;

    // Connects and says nothing.
    let mut idle = TcpStream::connect(admin).await.expect("connect");
    let raw = read_to_close(&mut idle, WAIT).await;
    assert!(
        !raw.starts_with(b"HTTP/1.1 200"),
        "nothing was asked, nothing served"
    );

    // One request on a kept-alive connection, then silence.
    let mut kept = TcpStream::connect(admin).await.expect("connect");
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let raw = read_to_close(&mut kept, WAIT).await;
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "the request was served before the idle close"
    );

    // A head trickled a byte every 200 ms: 60 bytes would take 12 s; the 1 s timeout ends it.
    let mut slow = TcpStream::connect(admin).await.expect("connect");
    let head =
        b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut sent = 0;
    for byte in head.iter().take(60) {
        if slow.write_all(&[*byte]).await.is_err() {
            break;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if sent % 10 == 0 {
            still_playing(&mut player, sent).await;
        }
    }
    let raw = read_to_close(&mut slow, WAIT).await;
    assert!(
        sent < 60 && !raw.starts_with(b"HTTP/1.1 200"),
        "the trickled request is cut off before it completes ({sent} bytes went through)"
    );
    still_playing(&mut player, 1000).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_get_503_and_the_game_plays_on() {
    const CAP: usize = 4;
    let server = start_with_admin(|a| {
        a.max_connections = CAP;
        a.header_timeout = Duration::from_secs(60);
    })
    .await;
    let admin = server.admin_addr().expect("admin is on");
    let (mut player, _) = Client::join(server.local_addr()).await;

    let mut holders = Vec::new();
    for _ in 0..CAP {
        holders.push(TcpStream::connect(admin).await.expect("connect"));
    }
    for i in 0..3 {
        let mut extra = TcpStream::connect(admin).await.expect("connect");
        // The request may still be unread when the server closes, which makes the close a
        // reset; either way the answer is a 503 or nothing, never the page.
        let _ = extra
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await;
        let raw = read_to_close_or_reset(&mut extra).await;
        if let Some(resp) = parse_response(&raw) {
            assert_eq!(
                resp.status,
                503,
                "connection {} past the cap is refused",
                CAP + i
            );
        }
        still_playing(&mut player, i as i64).await;
    }
    drop(holders);
    // The slots free as the server sees the holders go.
    let deadline = tokio::time::Instant::now() + WAIT;
    let metrics = loop {
        let mut probe = TcpStream::connect(admin).await.expect("connect");
        let _ = probe
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await;
        let raw = read_to_close_or_reset(&mut probe).await;
        if let Some(resp) = parse_response(&raw).filter(|r| r.status == 200) {
            break parse(&resp.body);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "slots free after the holders close"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(value(&metrics, "game_admin_connections_refused_total", &[]) >= 3.0);
    still_playing(&mut player, 99).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_viewer_that_stops_reading_is_dropped() {
    let server = start_with_admin(|a| {
        a.stall_timeout = Duration::from_secs(1);
        // Frames every millisecond fill a non-reading viewer's socket buffers in a moment.
        a.frame_interval = Duration::from_millis(1);
    })
    .await;
    let admin = server.admin_addr().expect("admin is on");
    let (mut player, _) = Client::join(server.local_addr()).await;
    // Players make the frames bigger (a dot each), so the buffers fill sooner.
    let mut crowd = Vec::new();
    for _ in 0..100 {
        crowd.push(Client::join(server.local_addr()).await.0);
    }

    // A viewer with a tiny receive window that never reads.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let mut viewer = socket.connect(admin).await.expect("connect");
    viewer
        .write_all(b"GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");

    // The server gives up on it: only the scrape's own connection stays open.
    let deadline = tokio::time::Instant::now() + WAIT * 3;
    loop {
        let metrics = scrape(admin, None).await;
        if value(&metrics, "game_admin_connections_open", &[]) == 1.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled viewer's connection should be closed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // What it had buffered drains, then the stream ends.
    let _ = read_to_close_or_reset(&mut viewer).await;
    still_playing(&mut player, 7).await;
    drop(crowd);
    server.shutdown().await;
}
