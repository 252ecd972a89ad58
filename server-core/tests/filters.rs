//! Receive filters over real sockets: a terminator-framed session relays lines, and a line
//! over the maximum closes only its sender.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use server_core::filter::TerminatorFilter;
use server_core::{CloseReason, Config, Listener, ProtocolError, Session};
use server_core::{Filtered, FrameHandler};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Echoes each line back upper-cased, and records how the session ended.
struct Upper {
    closed: Arc<Mutex<Vec<CloseReason>>>,
}

impl FrameHandler for Upper {
    fn on_frame(&mut self, session: &Arc<Session>, line: &[u8]) -> Result<(), CloseReason> {
        let mut reply = line.to_ascii_uppercase();
        reply.extend_from_slice(b"\r\n");
        let _ = session.send(reply.into());
        Ok(())
    }

    fn on_disconnected(&mut self, _: &Arc<Session>, reason: &CloseReason) {
        self.closed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(reason.clone());
    }
}

#[tokio::test]
async fn lines_in_and_out_and_an_endless_line_closes_only_its_sender() {
    let listener = Listener::bind(Config {
        addr: "127.0.0.1:0".parse().expect("an address"),
        max_packet_size: 64,
        ..Config::default()
    })
    .await
    .expect("bind");
    let addr = listener.local_addr().expect("bound");
    let shutdown = listener.shutdown_token();
    let closed: Arc<Mutex<Vec<CloseReason>>> = Arc::default();
    let server = {
        let closed = Arc::clone(&closed);
        tokio::spawn(listener.run(move || {
            Filtered::new(
                TerminatorFilter::crlf(64),
                Upper {
                    closed: Arc::clone(&closed),
                },
            )
        }))
    };

    let good = TcpStream::connect(addr).await.expect("connect");
    let (rx, mut tx) = good.into_split();
    let mut rx = BufReader::new(rx);
    // Two lines in one write, the second split over two writes.
    tx.write_all(b"hello\r\nwor").await.expect("write");
    tx.write_all(b"ld\r\n").await.expect("write");
    let mut line = String::new();
    for expected in ["HELLO\r\n", "WORLD\r\n"] {
        line.clear();
        tokio::time::timeout(Duration::from_secs(5), rx.read_line(&mut line))
            .await
            .expect("a reply within 5 s")
            .expect("read");
        assert_eq!(line, expected);
    }

    let mut bad = TcpStream::connect(addr).await.expect("connect");
    bad.write_all(&[b'x'; 100]).await.expect("write");
    let mut rest = Vec::new();
    let end = tokio::time::timeout(Duration::from_secs(5), bad.read_to_end(&mut rest)).await;
    assert!(end.is_ok(), "the endless line's sender should be closed");

    // The good client still talks.
    tx.write_all(b"still here\r\n").await.expect("write");
    line.clear();
    rx.read_line(&mut line).await.expect("read");
    assert_eq!(line, "STILL HERE\r\n");
    assert_eq!(
        closed.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        vec![CloseReason::ProtocolError(ProtocolError::Filter(
            server_core::filter::FilterError::FrameTooLong { max: 64 }
        ))],
        "only the endless line's session closed, with the filter's error"
    );
    shutdown.cancel();
    let _ = server.await;
}
