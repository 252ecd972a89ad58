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

/// Ten TLS bots against `acceptor`, trusting `ca`.
async fn tls_bots(acceptor: TlsAcceptor, ca: &std::path::Path) -> dummy_client::Report {
    let server = start_server(|c| {
        c.tls = Some(TlsListen {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            acceptor,
        });
    })
    .await;
    let bots = RunConfig {
        addr: server.tls_addr().expect("a TLS listener"),
        clients: 10,
        ramp_per_sec: 2_000,
        duration: Duration::from_secs(1),
        status_line: false,
        tls: Some(TlsConnector::from_ca_pem_file(ca, "localhost").expect("load the CA")),
        ..RunConfig::default()
    };
    let report = dummy_client::run(bots).await.expect("a valid run config");
    server.shutdown().await;
    report
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("e2e-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// What most people try first, `openssl req -x509`, is one self-signed certificate marked as
/// a CA. rustls refuses it as a server's own; the bots' report must say so in words, not
/// just `InvalidData`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_ca_as_the_servers_certificate_is_named_in_the_report() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let dir = temp_dir("selfsigned");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    let acceptor = TlsAcceptor::from_pem_files(&cert_path, &key_path).expect("loads");

    let report = tls_bots(acceptor, &cert_path).await;
    assert_eq!(report.connected, 0, "{report}");
    let causes: Vec<&String> = report.connect_failures.keys().collect();
    assert!(
        causes
            .iter()
            .any(|c| c.contains("invalid peer certificate") && c.contains("CaUsedAsEndEntity")),
        "the report names the TLS error itself: {causes:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's first TLS step: `game-server gen-cert DIR` makes a CA and a server
/// certificate that work together at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gen_cert_files_serve_tls_bots_at_once() {
    let dir = temp_dir("gencert");
    let names = ["localhost", "127.0.0.1", "::1"].map(str::to_owned);
    let files = game_server::app::gen_cert::gen_cert(&dir, &names).expect("gen-cert");
    let acceptor = TlsAcceptor::from_pem_files(&files.cert, &files.key).expect("loads");
    let report = tls_bots(acceptor, &files.ca).await;
    assert!(
        report.passed,
        "bots trusting the generated CA play:\n{report}"
    );
    assert_eq!(report.connected, 10);
    let _ = std::fs::remove_dir_all(&dir);
}
