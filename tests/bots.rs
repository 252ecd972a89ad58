//! dummy-client against an in-process game-server, over real sockets: the course's load test
//! in miniature, where every bot must see every bot's moves and the report must add up.

use std::net::SocketAddr;
use std::time::Duration;

use dummy_client::{Report, RunConfig};
use game_server::{GameServer, ServerConfig};

async fn start_server(tick: Duration) -> GameServer {
    let config = ServerConfig {
        net: server_core::Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..server_core::Config::default()
        },
        tick,
        ..ServerConfig::default()
    };
    GameServer::start(config)
        .await
        .unwrap_or_else(|e| panic!("the game server should start: {e}"))
}

fn bots(addr: SocketAddr, clients: usize) -> RunConfig {
    RunConfig {
        addr,
        clients,
        ramp_per_sec: 2_000,
        duration: Duration::from_secs(2),
        ping_interval: Duration::from_millis(250),
        status_line: false,
        ..RunConfig::default()
    }
}

async fn run(config: RunConfig) -> Report {
    dummy_client::run(config)
        .await
        .unwrap_or_else(|e| panic!("the config is valid: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_bots_see_every_move_and_the_report_adds_up() {
    // A 100 ms flush keeps the drain short; the room's rules do not depend on the tick.
    let server = start_server(Duration::from_millis(100)).await;
    let report = run(bots(server.local_addr(), 200)).await;
    server.shutdown().await;

    assert!(report.passed, "the run should pass:\n{report}");
    assert_eq!(report.connected, 200, "every bot should connect");
    assert_eq!(
        report.entered, 200,
        "every bot should be named once in S_PlayerList"
    );
    assert_eq!(report.errors.total(), 0, "no errors of any kind:\n{report}");
    assert!(
        report.disconnects.is_empty(),
        "no bot dropped before the end"
    );

    let m = &report.moves;
    assert!(m.exact, "every bot was in the room for the whole window");
    assert_eq!(m.receivers, 200);
    // 200 bots x 4 moves/s over the window, fewer if a loaded machine made the driver skip.
    let nominal = (200.0 * 4.0 * report.timeline.window_secs) as u64;
    assert!(
        (nominal / 2..=nominal + 200).contains(&m.sent),
        "about {nominal} window moves expected, {} sent",
        m.sent
    );
    assert_eq!(
        m.expected_per_receiver_min, m.sent,
        "each bot should expect every window move, its own included"
    );
    assert_eq!(m.expected, m.sent * 200);
    assert_eq!(
        m.received, m.expected,
        "every bot should receive every bot's window moves"
    );
    assert_eq!(m.received_from_others, m.sent * 199);
    assert_eq!((m.lost, m.extra), (0, 0));

    let sent_moves = report.sent.packets.get("C_Move").copied().unwrap_or(0);
    let got_moves = report
        .received
        .packets
        .get("S_BroadcastMove")
        .copied()
        .unwrap_or(0);
    assert!(sent_moves >= m.sent, "window moves are a part of all moves");
    assert!(
        got_moves >= m.received,
        "window deliveries are a part of all S_BroadcastMove"
    );
    assert_eq!(report.received.packets.get("S_PlayerList"), Some(&200));
    let pings = report.sent.packets.get("C_Ping").copied().unwrap_or(0);
    assert!(pings > 0, "bots should ping");
    assert_eq!(
        report.received.packets.get("S_Pong"),
        Some(&pings),
        "every ping answered"
    );
    assert_eq!(report.rtt.pongs, pings);
    assert!(report.rtt.p50_us > 0 && report.rtt.p50_us <= report.rtt.max_us);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_is_broadcast_to_every_bot() {
    let server = start_server(Duration::from_millis(50)).await;
    let config = RunConfig {
        chat_interval: Some(Duration::from_millis(200)),
        duration: Duration::from_secs(1),
        ..bots(server.local_addr(), 20)
    };
    let report = run(config).await;
    server.shutdown().await;

    assert!(report.passed, "the run should pass:\n{report}");
    let chats = report.sent.packets.get("C_Chat").copied().unwrap_or(0);
    assert!(chats > 0, "bots should chat when asked to");
    // A chat reaches everyone in the room at the next flush; only chats sent while the 20
    // were still connecting can miss someone.
    let got = report.received.packets.get("S_Chat").copied().unwrap_or(0);
    assert!(
        got <= chats * 20 && got >= chats.saturating_sub(20) * 20,
        "{chats} chats should reach all 20 bots, received {got}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_is_a_failed_run_not_a_hang() {
    // A port that was just free: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("a free port: {e}"));
    let report = run(bots(addr, 5)).await;

    assert!(!report.passed, "a run where nothing connects must fail");
    assert_eq!(report.connected, 0);
    assert_eq!(report.errors.failed_connects, 5);
    assert_eq!(
        report.connect_failures.get("ConnectionRefused"),
        Some(&5),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_dies_mid_run_fails_it_promptly() {
    let server = start_server(Duration::from_millis(50)).await;
    let config = RunConfig {
        duration: Duration::from_secs(30),
        ..bots(server.local_addr(), 20)
    };
    let run = tokio::spawn(dummy_client::run(config));
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.shutdown().await;
    let report = run
        .await
        .unwrap_or_else(|e| panic!("the run should not panic: {e}"))
        .unwrap_or_else(|e| panic!("the config is valid: {e}"));

    assert!(!report.passed, "losing the server must fail the run");
    assert_eq!(
        report.errors.unexpected_disconnects, 20,
        "every bot's drop is an error:\n{report}"
    );
    assert_eq!(report.disconnects.values().sum::<u64>(), 20);
    assert!(
        report.timeline.total_secs < 10.0,
        "the window should close once every bot is gone, not run its 30 s:\n{report}"
    );
}
