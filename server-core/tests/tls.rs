//! TLS listeners and connectors over loopback, with a CA and certificate made at run time:
//! sessions play as over TCP, bad files are typed errors, and hostile or broken handshakes
//! are dropped with a counted reason without holding up other clients.

#[path = "support/echo.rs"]
mod echo;
#[path = "support/pki.rs"]
mod pki;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pki::TestPki;
use server_core::{
    CloseReason, Config, Connector, Listener, ListenerStats, PacketSession, SendBuffer, Session,
    TlsAcceptor, TlsConnector, TlsError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use echo::{frame, Echo, WAIT};

/// Client side: forwards every frame it gets.
struct Collect {
    frames: mpsc::UnboundedSender<(u16, Vec<u8>)>,
}

impl PacketSession for Collect {
    fn on_recv_packet(
        &mut self,
        _: &Arc<Session>,
        id: u16,
        body: &[u8],
    ) -> Result<(), CloseReason> {
        let _ = self.frames.send((id, body.to_vec()));
        Ok(())
    }
}

struct Server {
    addr: SocketAddr,
    shutdown: CancellationToken,
    stats: Arc<ListenerStats>,
    closed: mpsc::UnboundedReceiver<CloseReason>,
    done: tokio::task::JoinHandle<()>,
}

async fn tls_server(pki: &TestPki, config: Config) -> Server {
    let acceptor = TlsAcceptor::from_pem_files(pki.cert(), pki.key()).expect("load cert and key");
    let listener = Listener::bind(Config {
        addr: "127.0.0.1:0".parse().expect("literal address"),
        ..config
    })
    .await
    .expect("bind 127.0.0.1:0")
    .with_tls(acceptor);
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

impl Server {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.done)
            .await
            .expect("listener stops in time")
            .expect("listener task");
    }
}

fn tls_client(pki: &TestPki) -> Connector {
    tls_client_with(pki, Config::default())
}

fn tls_client_with(pki: &TestPki, config: Config) -> Connector {
    let tls = TlsConnector::from_ca_pem_file(pki.ca(), "localhost").expect("load the CA");
    Connector::new(config).with_tls(tls)
}

/// Polls `f` until it holds (the server counts a failed handshake on its own task).
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

/// Reads until the peer closes; true if it did (end of stream or a reset) within WAIT.
async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(WAIT, read_to_end).await.is_ok()
}

async fn echo_round_trip(client: &Connector, addr: SocketAddr) {
    let (tx, mut frames) = mpsc::unbounded_channel();
    let session = client
        .connect(addr, Collect { frames: tx })
        .await
        .expect("TLS connect and handshake");
    // Small frames in a burst, and one near the size limit that spans several TLS records.
    let big = vec![0xAB; 60_000];
    for i in 0..100u16 {
        session
            .send(SendBuffer::copy_from_slice(&frame(i, &i.to_le_bytes())))
            .expect("queue");
    }
    session
        .send(SendBuffer::copy_from_slice(&frame(999, &big)))
        .expect("queue the big frame");
    for i in 0..100u16 {
        let got = tokio::time::timeout(WAIT, frames.recv())
            .await
            .expect("echo in time")
            .expect("client alive");
        assert_eq!(got, (i, i.to_le_bytes().to_vec()), "frames echo in order");
    }
    let got = tokio::time::timeout(WAIT, frames.recv())
        .await
        .expect("big echo in time")
        .expect("client alive");
    assert_eq!(got, (999, big));
    session.disconnect(CloseReason::ServerClosing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_client_plays_like_a_tcp_one() {
    let pki = TestPki::new();
    let mut server = tls_server(&pki, Config::default()).await;
    let client = tls_client(&pki);
    echo_round_trip(&client, server.addr).await;
    let reason = tokio::time::timeout(WAIT, server.closed.recv())
        .await
        .expect("server session closes")
        .expect("listener alive");
    // The client's close_notify (or its socket closing) ends the server's session.
    assert!(
        matches!(
            reason,
            CloseReason::ClientClosing | CloseReason::SocketError { .. }
        ),
        "unexpected reason {reason:?}"
    );
    assert_eq!(server.stats.tls_handshake_failed(), 0);
    client.shutdown().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_sessions_can_read_through_the_thread_buffer() {
    // Reads of 512 bytes against a 60,000-byte frame: the carry grows over many reads on
    // both sides, and the small frames arrive many to a read.
    let per_thread = Config {
        recv_per_thread: true,
        recv_buffer_size: 512,
        ..Config::default()
    };
    let pki = TestPki::new();
    let server = tls_server(&pki, per_thread.clone()).await;
    let client = tls_client_with(&pki, per_thread);
    echo_round_trip(&client, server.addr).await;
    client.shutdown().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_tcp_client_on_the_tls_port_is_closed_and_counted() {
    let pki = TestPki::new();
    let server = tls_server(&pki, Config::default()).await;
    let mut plain = TcpStream::connect(server.addr).await.expect("connect");
    // A course frame, not a ClientHello.
    plain.write_all(&frame(1, b"hello")).await.expect("write");
    assert!(
        closed_by_peer(&mut plain).await,
        "server closes a non-TLS client"
    );
    eventually("the failed handshake to be counted", || {
        server.stats.tls_handshake_failed() == 1
    })
    .await;
    assert_eq!(server.stats.accepted(), 0, "no session was started for it");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_a_client_hello_is_closed_and_counted() {
    let pki = TestPki::new();
    let server = tls_server(&pki, Config::default()).await;
    let mut garbage = TcpStream::connect(server.addr).await.expect("connect");
    // Looks like a handshake record header, then nonsense.
    let mut bytes = vec![0x16, 0x03, 0x01, 0x00, 0x40];
    bytes.extend((0..64u8).map(|i| i.wrapping_mul(37)));
    garbage.write_all(&bytes).await.expect("write");
    assert!(closed_by_peer(&mut garbage).await);
    eventually("the failed handshake to be counted", || {
        server.stats.tls_handshake_failed() == 1
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_ca_or_a_wrong_name_fails_the_client_handshake() {
    let pki = TestPki::new();
    let other = TestPki::new();
    let server = tls_server(&pki, Config::default()).await;

    let untrusted = Connector::new(Config::default()).with_tls(
        TlsConnector::from_ca_pem_file(other.ca(), "localhost").expect("load the other CA"),
    );
    let err = untrusted
        .connect(
            server.addr,
            Collect {
                frames: mpsc::unbounded_channel().0,
            },
        )
        .await
        .expect_err("a server signed by an untrusted CA is refused");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    let wrong_name = Connector::new(Config::default())
        .with_tls(TlsConnector::from_ca_pem_file(pki.ca(), "game.example").expect("load the CA"));
    let err = wrong_name
        .connect(
            server.addr,
            Collect {
                frames: mpsc::unbounded_channel().0,
            },
        )
        .await
        .expect_err("a certificate for another name is refused");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // The server saw both handshakes fail (the client aborts with an alert).
    eventually("both failures to be counted", || {
        server.stats.tls_handshake_failed() == 2
    })
    .await;
    assert_eq!(server.stats.accepted(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_handshakes_do_not_hold_up_other_clients_and_time_out() {
    let pki = TestPki::new();
    // Long enough that the good client below can only get through while the stallers are
    // still stalled if the handshakes run off the accept loop.
    let server = tls_server(
        &pki,
        Config {
            tls_handshake_timeout: Duration::from_secs(60),
            ..Config::default()
        },
    )
    .await;
    let mut stallers = Vec::new();
    for i in 0..20 {
        let mut s = TcpStream::connect(server.addr)
            .await
            .expect("connect a staller");
        if i % 2 == 0 {
            // Half a record header: the server waits for the rest.
            s.write_all(&[0x16, 0x03]).await.expect("write");
        }
        stallers.push(s);
    }
    let client = tls_client(&pki);
    tokio::time::timeout(WAIT, echo_round_trip(&client, server.addr))
        .await
        .expect("a good client plays while 20 handshakes stall");
    assert_eq!(server.stats.tls_handshake_timed_out(), 0);
    client.shutdown().await;
    server.stop().await;

    // With a short timeout, a staller is dropped and counted as timed out.
    let server = tls_server(
        &pki,
        Config {
            tls_handshake_timeout: Duration::from_millis(300),
            ..Config::default()
        },
    )
    .await;
    let mut staller = TcpStream::connect(server.addr).await.expect("connect");
    assert!(closed_by_peer(&mut staller).await, "the staller is dropped");
    eventually("the timeout to be counted", || {
        server.stats.tls_handshake_timed_out() == 1
    })
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_mid_handshake_or_mid_record_closes_with_a_reason() {
    let pki = TestPki::new();
    let mut server = tls_server(&pki, Config::default()).await;

    // Mid-handshake: part of a ClientHello, then gone.
    let mut half = TcpStream::connect(server.addr).await.expect("connect");
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .await
        .expect("write");
    drop(half);
    eventually("the broken handshake to be counted", || {
        server.stats.tls_handshake_failed() == 1
    })
    .await;

    // Mid-record: a real TLS session, then half an application-data record on the raw
    // socket, then the socket closes without a close_notify.
    let roots = {
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(pki.ca()).expect("read the CA");
        for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
            roots.add(cert.expect("CA PEM")).expect("add the CA");
        }
        roots
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    tls.write_all(&frame(1, b"ok"))
        .await
        .expect("a whole frame");
    tls.flush().await.expect("flush");
    let mut echoed = [0u8; 6];
    tokio::time::timeout(WAIT, tls.read_exact(&mut echoed))
        .await
        .expect("echo in time")
        .expect("echo");
    let (tcp, _) = tls.get_mut();
    tcp.write_all(&[0x17, 0x03, 0x03, 0x01, 0x00, 1, 2, 3, 4, 5])
        .await
        .expect("half a record");
    drop(tls);
    let reason = tokio::time::timeout(WAIT, server.closed.recv())
        .await
        .expect("the session closes")
        .expect("listener alive");
    assert!(
        matches!(reason, CloseReason::SocketError { .. }),
        "a truncated record is a socket error, got {reason:?}"
    );
    server.stop().await;
}

#[test]
fn missing_unreadable_malformed_and_mismatched_files_are_typed_errors() {
    let pki = TestPki::new();
    let missing = pki.dir().join("nope.pem");
    assert!(matches!(
        TlsAcceptor::from_pem_files(&missing, pki.key()),
        Err(TlsError::Read {
            what: "certificate chain",
            ..
        })
    ));
    assert!(matches!(
        TlsAcceptor::from_pem_files(pki.cert(), &missing),
        Err(TlsError::Read {
            what: "private key",
            ..
        })
    ));
    // A folder cannot be read as a file.
    assert!(matches!(
        TlsAcceptor::from_pem_files(pki.dir(), pki.key()),
        Err(TlsError::Read { .. })
    ));
    // The key file given as the certificate: PEM, but no CERTIFICATE in it.
    assert!(matches!(
        TlsAcceptor::from_pem_files(pki.key(), pki.key()),
        Err(TlsError::Empty {
            what: "certificate chain",
            ..
        })
    ));
    let not_pem = pki.dir().join("not.pem");
    std::fs::write(&not_pem, "-----BEGIN CERTIFICATE-----\n!!!!\n").expect("write");
    assert!(matches!(
        TlsAcceptor::from_pem_files(&not_pem, pki.key()),
        Err(TlsError::Pem { .. })
    ));
    let err = TlsAcceptor::from_pem_files(pki.cert(), pki.stray_key())
        .expect_err("a key of another certificate is refused");
    assert!(matches!(err, TlsError::Rejected { .. }), "{err:?}");
    assert!(matches!(
        TlsConnector::from_ca_pem_file(&missing, "localhost"),
        Err(TlsError::Read {
            what: "CA certificate",
            ..
        })
    ));
    assert!(matches!(
        TlsConnector::from_ca_pem_file(pki.ca(), "not a name!"),
        Err(TlsError::ServerName(_))
    ));
}
