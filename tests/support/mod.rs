//! Helpers shared by the end-to-end tests: an in-process server and a raw-socket client.

#![allow(dead_code)] // each test file uses its own subset

pub mod accounts;
pub mod nats;
pub mod postgres;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use game_server::packets::{PacketId, SPlayerList};
use game_server::{GameServer, ServerConfig};
use server_core::Packet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A two-region world of 200 x 200 (the border at x = 0; radii 20 and 25, steps of 10), for
/// the tests that need players to meet across a border quickly.
pub fn small_world(spawn: game_server::world::Spawn) -> game_server::world::WorldConfig {
    game_server::world::WorldConfig {
        map_size: 200.0,
        cell_size: 25.0,
        inner_radius: 20.0,
        outer_radius: 25.0,
        regions: 2,
        max_step: 10.0,
        spawn,
    }
}

/// How long a test waits for something that should happen well within a second.
pub const WAIT: Duration = Duration::from_secs(10);

/// A server on 127.0.0.1:0 with a fast tick so tests run quickly.
pub async fn start_server(tweak: impl FnOnce(&mut ServerConfig)) -> GameServer {
    let mut config = ServerConfig {
        tick: Duration::from_millis(20),
        stats_interval: None,
        ..ServerConfig::default()
    };
    config.net.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    tweak(&mut config);
    GameServer::start(config)
        .await
        .expect("game server starts on 127.0.0.1:0")
}

/// A client that speaks raw frames over a plain socket.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// This client's player id, from its `S_PlayerList`.
    pub player_id: i32,
}

impl Client {
    /// Connects without reading anything.
    pub async fn connect_raw(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr)
            .await
            .expect("connect to the game server");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream,
            buf: Vec::new(),
            player_id: 0,
        }
    }

    /// Connects and reads the `S_PlayerList`, learning its own id.
    pub async fn join(addr: SocketAddr) -> (Client, SPlayerList) {
        Client::join_stream(Client::connect_raw(addr).await.stream).await
    }

    /// Like [`Client::join`] over a socket the caller connected (with its own buffer sizes or
    /// other options).
    pub async fn join_stream(stream: TcpStream) -> (Client, SPlayerList) {
        let mut client = Client {
            stream,
            buf: Vec::new(),
            player_id: 0,
        };
        let list: SPlayerList = client.expect().await;
        let me: Vec<_> = list.players.iter().filter(|p| p.is_self).collect();
        assert_eq!(
            me.len(),
            1,
            "S_PlayerList must flag exactly one player as self: {list:?}"
        );
        client.player_id = me[0].player_id;
        (client, list)
    }

    pub async fn send<P: Packet>(&mut self, packet: &P) {
        let frame = packet.encode().expect("test packet encodes");
        self.send_raw(&frame).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write to server");
    }

    /// The next frame: (id, body). Panics on timeout or end of stream.
    pub async fn next_frame(&mut self) -> (u16, Bytes) {
        match tokio::time::timeout(WAIT, self.try_next_frame()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => panic!("player {}: server closed the connection", self.player_id),
            Err(_) => panic!("player {}: no frame within {WAIT:?}", self.player_id),
        }
    }

    /// The next frame, or None at end of stream.
    pub async fn try_next_frame(&mut self) -> Option<(u16, Bytes)> {
        loop {
            if self.buf.len() >= 4 {
                let size = u16::from_le_bytes([self.buf[0], self.buf[1]]) as usize;
                assert!(size >= 4, "server sent a frame with size {size}");
                if self.buf.len() >= size {
                    let frame: Vec<u8> = self.buf.drain(..size).collect();
                    let id = u16::from_le_bytes([frame[2], frame[3]]);
                    return Some((id, Bytes::copy_from_slice(&frame[4..])));
                }
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads the next frame and decodes it as `P`, failing if it is another packet.
    pub async fn expect<P: Packet + std::fmt::Debug>(&mut self) -> P {
        let (id, body) = self.next_frame().await;
        assert_eq!(
            id,
            P::ID,
            "player {} expected {} but got {:?}",
            self.player_id,
            P::NAME,
            PacketId::from_u16(id).map(|p| p.name())
        );
        P::decode(&body).expect("server frame decodes")
    }

    /// The socket, and the bytes already read from it that no frame has consumed yet: for a
    /// test that splits the socket and reads it its own way.
    pub fn into_parts(self) -> (TcpStream, Vec<u8>) {
        (self.stream, self.buf)
    }

    /// Waits until the server closes this connection; panics if it stays open.
    pub async fn expect_closed(&mut self) {
        let closed = tokio::time::timeout(WAIT, async {
            while self.try_next_frame().await.is_some() {}
        })
        .await;
        assert!(
            closed.is_ok(),
            "player {}: server should have closed the connection",
            self.player_id
        );
    }
}

/// A fresh, empty directory under the system's temp dir, unique to this process and call.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A SQLite database path in a fresh temp directory (the file is not made yet).
pub fn temp_db(name: &str) -> std::path::PathBuf {
    temp_dir(name).join("game.sqlite3")
}

/// A size-prefixed frame built by hand.
pub fn raw_frame(id: u16, body: &[u8]) -> Vec<u8> {
    let mut f = ((4 + body.len()) as u16).to_le_bytes().to_vec();
    f.extend_from_slice(&id.to_le_bytes());
    f.extend_from_slice(body);
    f
}

/// Polls `check` until it holds or `WAIT` passes.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
