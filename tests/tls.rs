//! The game server with a TLS listener beside the TCP one, both feeding one room: TLS bots
//! play and pass their exact move accounting while a TCP player in the same room sees their
//! moves, and a plain-TCP client on the TLS port is dropped.

#[path = "../server-core/tests/support/pki.rs"]
mod pki;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use dummy_client::RunConfig;
use game_server::packets::SBroadcastMove;
use game_server::TlsListen;
use pki::TestPki;
use server_core::{Packet, TlsAcceptor, TlsConnector};
use support::{eventually, raw_frame, start_server, Client, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_bots_and_a_tcp_player_share_one_room() {
    let pki = TestPki::new();
    let acceptor = TlsAcceptor::from_pem_files(pki.cert(), pki.key()).expect("load cert and key");
    let server = start_server(|c| {
        c.tls = Some(TlsListen {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            acceptor,
        });
    })
    .await;
    let tls_addr = server.tls_addr().expect("a TLS listener");
    assert_ne!(tls_addr, server.local_addr());

    // A plain-TCP player in the room, through the TCP door.
    let (mut watcher, _) = Client::join(server.local_addr()).await;

    let bots = RunConfig {
        addr: tls_addr,
        clients: 10,
        ramp_per_sec: 2_000,
        duration: Duration::from_secs(1),
        ping_interval: Duration::from_millis(250),
        status_line: false,
        tls: Some(TlsConnector::from_ca_pem_file(pki.ca(), "localhost").expect("load the CA")),
        ..RunConfig::default()
    };
    let report = dummy_client::run(bots).await.expect("a valid run config");
    assert!(report.passed, "the TLS run should pass:\n{report}");
    assert_eq!(report.connected, 10);
    assert_eq!(report.errors.total(), 0, "{report}");
    assert_eq!((report.moves.lost, report.moves.extra), (0, 0));
    assert!(report.moves.sent > 0);

    // The TCP player saw the TLS bots' moves: one room.
    let mut moves_seen = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    while moves_seen == 0 && tokio::time::Instant::now() < deadline {
        let (id, body) = watcher.next_frame().await;
        if id == SBroadcastMove::ID {
            let m = SBroadcastMove::decode(&body).expect("S_BroadcastMove decodes");
            assert_ne!(m.player_id, watcher.player_id, "the watcher never moved");
            moves_seen += 1;
        }
    }
    assert!(moves_seen > 0, "a TCP player sees TLS players' moves");

    // The server's one registry lists sessions from both doors; once the bots' sessions
    // have wound down, only the watcher's (TCP) is left.
    let sessions = server.sessions();
    eventually("the bots' sessions to end", || {
        sessions.session_count() == 1
    })
    .await;

    // A plain-TCP client on the TLS port never reaches the room.
    let before = server.snapshot();
    let mut plain = Client::connect_raw(tls_addr).await;
    plain.send_raw(&raw_frame(1, b"")).await;
    plain.expect_closed().await;
    assert_eq!(server.snapshot().accepted, before.accepted);
    server.shutdown().await;
}
