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
    assert_eq!(report.rtt.samples, pings);
    assert_eq!(
        report.pongs,
        dummy_client::PongAccounting {
            pings,
            answered: pings,
            ..Default::default()
        },
        "every ping matched with exactly one pong"
    );
    assert!(report.rtt.p50_us > 0 && report.rtt.p50_us <= report.rtt.max_us);
    // Every own window move that came back was timed (a few may be left untimed only if
    // their stamp was reused, which needs an echo 64 moves late).
    assert!(
        report.move_echo.samples > 0 && report.move_echo.samples <= report.moves.sent,
        "own echoes timed: {} of {} window moves",
        report.move_echo.samples,
        report.moves.sent
    );
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

// Rooms that get one thing wrong: the run must catch each fault and name it. Before issue 16
// each of these runs said PASSED.

#[path = "bots/faulty_room.rs"]
mod faulty_room;

use faulty_room::{ChatFault, Fault, FaultyRoom};

async fn run_against(fault: Fault, clients: usize, tweak: impl FnOnce(&mut RunConfig)) -> Report {
    let room = FaultyRoom::start(fault).await;
    let mut config = RunConfig {
        duration: Duration::from_millis(1_500),
        drain_quiet: Duration::from_millis(300),
        enter_timeout: Duration::from_millis(300),
        ..bots(room.addr(), clients)
    };
    tweak(&mut config);
    run(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faithful_fake_room_passes() {
    let report = run_against(Fault::None, 6, |_| {}).await;
    assert!(report.passed, "the fake room is faithful:\n{report}");
    assert!(report.moves.sent > 0 && report.moves.exact, "{report}");
    assert_eq!(
        report.pongs.lost + report.pongs.duplicate + report.pongs.unknown,
        0
    );
}

fn chatting(c: &mut RunConfig) {
    c.chat_interval = Some(Duration::from_millis(100));
    c.duration = Duration::from_secs(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_chat_line_arrives_intact_once_and_each_fault_is_named() {
    let report = run_against(Fault::None, 5, chatting).await;
    assert!(report.passed, "a faithful room passes with chat:\n{report}");
    let chat = &report.chat;
    assert!(chat.enabled && chat.sent > 0, "{report}");
    // Every line to all 5 bots, but for lines sent in the ramp-up before all had entered.
    assert!(
        chat.received <= chat.sent * 5 && chat.received + 5 * 4 >= chat.sent * 5,
        "every line to every bot in the room:\n{report}"
    );
    assert_eq!(chat.receivers_checked, 5);
    assert_eq!(chat.errors(), 0);

    for (fault, what) in [
        (ChatFault::Drop, "lost"),
        (ChatFault::Duplicate, "duplicate"),
        (ChatFault::Corrupt, "corrupt"),
    ] {
        let report = run_against(
            Fault::Chat {
                receiver: 2,
                nth: 7,
                fault,
            },
            5,
            chatting,
        )
        .await;
        let c = &report.chat;
        let found = match fault {
            ChatFault::Drop => c.lost,
            ChatFault::Duplicate => c.duplicates,
            ChatFault::Corrupt => c.corrupt,
        };
        assert_eq!(found, 1, "one {what} chat line:\n{report}");
        // A corrupt line also leaves its number missing: the line as sent never arrived.
        let expected = if fault == ChatFault::Corrupt { 2 } else { 1 };
        assert_eq!(c.errors(), expected, "and nothing else:\n{report}");
        assert_eq!(report.errors.chat, expected);
        assert!(!report.passed, "a {what} line fails the run:\n{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_let_in_after_the_window_opened_is_an_error() {
    // Let in 1.5 s after connecting: the window opens 0.3 s after the last connect and
    // lasts 3 s, so it enters well inside it even on a slow machine.
    let fault = Fault::LateEnter {
        conn: 3,
        delay: Duration::from_millis(1_500),
    };
    let report = run_against(fault, 6, |c| c.duration = Duration::from_secs(3)).await;
    assert!(!report.passed, "a late enter must fail the run:\n{report}");
    assert_eq!(report.errors.late_enters, 1, "{report}");
    assert_eq!(report.entered, 6, "it did enter, late:\n{report}");
    assert_eq!(report.errors.not_entered, 0);
    assert_eq!(
        report.errors.total(),
        1,
        "the late enter is the only fault:\n{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicated_pong_is_an_error_of_its_kind() {
    let report = run_against(Fault::DuplicatePong { conn: 2, nth: 1 }, 4, |_| {}).await;
    assert!(!report.passed, "{report}");
    assert_eq!(
        (
            report.pongs.duplicate,
            report.pongs.lost,
            report.pongs.unknown
        ),
        (1, 0, 0),
        "{report}"
    );
    assert_eq!(report.errors.pong, 1);
    assert_eq!(report.errors.total(), 1, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_ping_is_a_lost_pong() {
    let report = run_against(Fault::DropPong { conn: 1, nth: 2 }, 4, |_| {}).await;
    assert!(!report.passed, "{report}");
    assert_eq!(
        (
            report.pongs.lost,
            report.pongs.duplicate,
            report.pongs.unknown
        ),
        (1, 0, 0),
        "{report}"
    );
    assert_eq!(report.errors.total(), 1, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pong_for_a_time_never_sent_is_an_error_not_a_crash() {
    // i64::MIN made `now - client_time` overflow: a panic in debug builds, seen as a drop.
    for client_time in [i64::MIN, 1] {
        let fault = Fault::ForeignPong {
            conn: 0,
            nth: 1,
            client_time,
        };
        let report = run_against(fault, 3, |_| {}).await;
        assert!(!report.passed, "{report}");
        assert!(
            report.disconnects.is_empty(),
            "a bogus pong is not a crash:\n{report}"
        );
        // The ping it replaced went unanswered.
        assert_eq!(
            (
                report.pongs.unknown,
                report.pongs.lost,
                report.pongs.duplicate
            ),
            (1, 1, 0),
            "client_time {client_time}:\n{report}"
        );
        assert_eq!(report.errors.total(), 2, "{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_move_and_a_duplicate_do_not_cancel_out() {
    let fault = Fault::LoseOneDuplicateAnother {
        receiver: 2,
        drop: 5,
        dup: 9,
    };
    let report = run_against(fault, 5, |_| {}).await;
    assert!(!report.passed, "{report}");
    assert_eq!(
        (
            report.moves.lost,
            report.moves.duplicates,
            report.moves.never_sent
        ),
        (1, 1, 0),
        "{report}"
    );
    assert_eq!(
        (report.errors.lost_moves, report.errors.extra_moves),
        (1, 1)
    );
    assert_eq!(report.errors.total(), 2, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_dropped_with_unechoed_moves_does_not_hide_a_loss() {
    let fault = Fault::DropSenderAndOneDelivery {
        sender: 3,
        stop_after: 2,
        close_after: Duration::from_millis(800),
        receiver: 1,
        drop: 6,
    };
    // 2.5 s of window: bot 3 makes its third window move and is closed well inside it.
    let report = run_against(fault, 5, |c| c.duration = Duration::from_millis(2_500)).await;
    assert!(!report.passed, "{report}");
    assert_eq!(report.errors.unexpected_disconnects, 1, "{report}");
    assert_eq!(
        (report.moves.lost, report.moves.duplicates),
        (1, 0),
        "the one delivery lost to bot 1 must show, whatever bot 3 took with it:\n{report}"
    );
    assert_eq!(report.errors.total(), 2, "{report}");
}
