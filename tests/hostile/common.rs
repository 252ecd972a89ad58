//! What every hostile test shares: a room with one well-behaved player, and the server's log.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use game_server::packets::{
    CMove, PacketId, SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove,
};
use game_server::{GameServer, ServerConfig};
use server_core::Packet;
use tokio::sync::RwLock;

use crate::support::{eventually, start_server, Client, WAIT};

/// The slow-consumer test measures this process's memory, so it runs alone: it takes this
/// lock for writing, every other test for reading.
pub(crate) static MEMORY: RwLock<()> = RwLock::const_new(());

/// A server and one well-behaved player in its room.
pub(crate) struct Room {
    pub(crate) server: GameServer,
    pub(crate) good: Client,
    /// Moves of the good player so far, to tell its moves apart.
    moves: u32,
}

impl Room {
    pub(crate) async fn open(tweak: impl FnOnce(&mut ServerConfig)) -> Room {
        capture_logs();
        let server = start_server(tweak).await;
        let (mut good, _) = Client::join(server.local_addr()).await;
        let enter: SBroadcastEnterGame = good.expect().await;
        assert_eq!(enter.player_id, good.player_id, "the good player enters");
        Room {
            server,
            good,
            moves: 0,
        }
    }

    /// A new player joins; the good player sees it enter.
    pub(crate) async fn join(&mut self) -> Client {
        let (client, _) = Client::join(self.server.local_addr()).await;
        let enter: SBroadcastEnterGame = self.good.expect().await;
        assert_eq!(
            enter.player_id, client.player_id,
            "the good player sees the newcomer enter"
        );
        client
    }

    /// The good player moves and waits for its move to come back. Returns the leaves it saw
    /// on the way: the room runs jobs in order, so every leave pushed before the move comes
    /// before its echo.
    pub(crate) async fn good_moves(&mut self) -> Vec<i32> {
        self.moves += 1;
        let x = 1000.0 + self.moves as f32;
        self.good
            .send(&CMove {
                pos_x: x,
                pos_y: 0.0,
                pos_z: 0.0,
            })
            .await;
        let mut leaves = Vec::new();
        loop {
            let (id, body) = self.good.next_frame().await;
            match PacketId::from_u16(id) {
                Some(PacketId::SBroadcastLeaveGame) => {
                    leaves.push(decode::<SBroadcastLeaveGame>(&body).player_id)
                }
                Some(PacketId::SBroadcastMove) => {
                    let m = decode::<SBroadcastMove>(&body);
                    if m.player_id == self.good.player_id && m.pos_x == x {
                        return leaves;
                    }
                }
                Some(PacketId::SBroadcastEnterGame | PacketId::SPong) => {}
                other => panic!("the good player got an unexpected {other:?}"),
            }
        }
    }

    /// Waits until the server has exactly `n` sessions and `n` players.
    pub(crate) async fn settles_at(&self, n: u64, what: &str) {
        let server = &self.server;
        eventually(what, || {
            let s = server.snapshot();
            s.sessions == n && s.players == n
        })
        .await;
    }
}

pub(crate) fn decode<P: Packet>(body: &[u8]) -> P {
    match P::decode(body) {
        Ok(p) => p,
        Err(e) => panic!("the server sent a {} that does not decode: {e}", P::NAME),
    }
}

pub(crate) fn local_addr(client: &Client) -> SocketAddr {
    client.stream.local_addr().expect("a connected socket")
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every log line of this test process, so tests can check what the server reported.
pub(crate) static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Where the captured log goes: `LOG`.
pub(crate) struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        lock(&LOG).extend(text.lines().map(str::to_owned));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Routes every `tracing` event of this process at info and above into `LOG`.
pub(crate) fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .try_init();
    });
}

/// The captured log lines that name `peer`.
pub(crate) fn lines_about(peer: SocketAddr) -> Vec<String> {
    let peer = format!("peer={peer}");
    lock(&LOG)
        .iter()
        .filter(|l| l.contains(&peer))
        .cloned()
        .collect()
}

/// Waits until a log line names `peer` and contains all of `needles`.
pub(crate) async fn logged(peer: SocketAddr, needles: &[&str]) {
    let peer = format!("peer={peer}");
    let mut wanted: Vec<&str> = needles.to_vec();
    wanted.push(&peer);
    logged_anywhere(&wanted).await;
}

/// Waits until a log line contains all of `needles`; on failure shows the closest lines.
pub(crate) async fn logged_anywhere(needles: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = lock(&LOG).clone();
        if lines.iter().any(|l| needles.iter().all(|n| l.contains(n))) {
            return;
        }
        if Instant::now() > deadline {
            let near: Vec<&String> = lines
                .iter()
                .filter(|l| l.contains(needles[needles.len() - 1]))
                .collect();
            panic!(
                "the server should have logged a line with {needles:?}; lines for it: {near:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
