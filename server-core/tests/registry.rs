//! Several listeners feeding one `SessionRegistry`: one snapshot, one stream of events with
//! the close reasons, one shutdown.

use std::sync::Arc;
use std::time::Duration;

use server_core::{
    CloseReason, Config, Listener, PacketSession, Session, SessionEvents, SessionRegistry,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug)]
enum Event {
    Connected(u64),
    Closed(u64, CloseReason),
}

struct Events(mpsc::UnboundedSender<Event>);

impl SessionEvents for Events {
    fn on_connected(&self, session: &Arc<Session>) {
        let _ = self.0.send(Event::Connected(session.id()));
    }
    fn on_closed(&self, session: &Arc<Session>, reason: &CloseReason) {
        let _ = self.0.send(Event::Closed(session.id(), reason.clone()));
    }
}

/// Reads frames and ignores them.
struct Sink;

impl PacketSession for Sink {
    fn on_recv_packet(&mut self, _: &Arc<Session>, _: u16, _: &[u8]) -> Result<(), CloseReason> {
        Ok(())
    }
}

async fn next(events: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("an event within the timeout")
        .expect("the registry is alive")
}

fn local() -> Config {
    Config {
        addr: "127.0.0.1:0".parse().expect("literal address"),
        ..Config::default()
    }
}

#[tokio::test]
async fn two_listeners_share_one_registry_its_events_and_one_shutdown() {
    let (tx, mut events) = mpsc::unbounded_channel();
    let registry = SessionRegistry::with_events(Events(tx));
    let shutdown = CancellationToken::new();
    let mut addrs = Vec::new();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let listener = Listener::bind(local())
            .await
            .expect("bind 127.0.0.1:0")
            .with_registry(Arc::clone(&registry))
            .with_shutdown_token(shutdown.clone());
        assert!(Arc::ptr_eq(&listener.sessions(), &registry));
        addrs.push(listener.local_addr().expect("bound address"));
        runs.push(tokio::spawn(listener.run(|| Sink)));
    }

    let mut first = TcpStream::connect(addrs[0])
        .await
        .expect("connect to the first");
    let Event::Connected(a) = next(&mut events).await else {
        panic!("expected a connect first");
    };
    let second = TcpStream::connect(addrs[1])
        .await
        .expect("connect to the second");
    let Event::Connected(b) = next(&mut events).await else {
        panic!("expected the second connect");
    };
    assert_eq!(registry.session_count(), 2);
    let mut ids: Vec<u64> = registry.snapshot().iter().map(|s| s.id()).collect();
    ids.sort_unstable();
    assert_eq!(ids, {
        let mut want = vec![a, b];
        want.sort_unstable();
        want
    });
    let found = registry.get(b).expect("look up the second by id");
    assert_eq!(
        found.peer_addr(),
        second.local_addr().expect("client address")
    );

    // A client that closes is reported with the reason, and leaves the snapshot.
    first.shutdown().await.expect("close the first client");
    drop(first);
    match next(&mut events).await {
        Event::Closed(id, CloseReason::ClientClosing) => assert_eq!(id, a),
        other => panic!("expected a's ClientClosing, got {other:?}"),
    }
    assert_eq!(registry.session_count(), 1);
    assert!(registry.get(a).is_none());

    // The game closing a session through the registry is reported the same way.
    registry
        .get(b)
        .expect("b is live")
        .disconnect(CloseReason::ServerClosing);
    match next(&mut events).await {
        Event::Closed(id, CloseReason::ServerClosing) => assert_eq!(id, b),
        other => panic!("expected b's ServerClosing, got {other:?}"),
    }

    // One token stops both listeners, and what is still open closes with ServerShutdown.
    let _third = TcpStream::connect(addrs[1]).await.expect("connect again");
    let Event::Connected(c) = next(&mut events).await else {
        panic!("expected the third connect");
    };
    shutdown.cancel();
    for run in runs {
        tokio::time::timeout(WAIT, run)
            .await
            .expect("listeners stop")
            .expect("listener task");
    }
    match next(&mut events).await {
        Event::Closed(id, CloseReason::ServerShutdown) => assert_eq!(id, c),
        other => panic!("expected c's ServerShutdown, got {other:?}"),
    }
    assert_eq!(registry.session_count(), 0);
    drop(second);
}

#[tokio::test]
async fn a_listener_alongside_another_shares_its_cap_stats_registry_and_shutdown() {
    let first = Listener::bind(Config {
        max_connections: 1,
        ..local()
    })
    .await
    .expect("bind the first");
    // Its own config would allow more; the shared cap is the first's.
    let second = Listener::bind(local())
        .await
        .expect("bind the second")
        .alongside(&first);
    assert!(Arc::ptr_eq(&first.sessions(), &second.sessions()));
    assert!(Arc::ptr_eq(&first.stats(), &second.stats()));
    let registry = first.sessions();
    let stats = first.stats();
    let shutdown = first.shutdown_token();
    let (a1, a2) = (
        first.local_addr().expect("first address"),
        second.local_addr().expect("second address"),
    );
    let runs = [
        tokio::spawn(first.run(|| Sink)),
        tokio::spawn(second.run(|| Sink)),
    ];

    let _one = TcpStream::connect(a1).await.expect("connect to the first");
    let deadline = tokio::time::Instant::now() + WAIT;
    while registry.session_count() < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "first session starts"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The one slot is taken, so the second door refuses.
    let mut two = TcpStream::connect(a2)
        .await
        .expect("TCP accepts before refusal");
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(WAIT, tokio::io::AsyncReadExt::read(&mut two, &mut buf))
        .await
        .expect("the refused connection is closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "refused connection closed");
    assert_eq!(stats.refused(), 1);
    assert_eq!(stats.accepted(), 1);
    assert_eq!(registry.session_count(), 1);

    shutdown.cancel();
    for run in runs {
        tokio::time::timeout(WAIT, run)
            .await
            .expect("both stop on the first's token")
            .expect("listener task");
    }
    assert_eq!(registry.session_count(), 0);
}
