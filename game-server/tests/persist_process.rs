//! Saved characters across a process's death: `kill -9` loses at most the last checkpoint
//! interval, SIGTERM loses nothing (README, "Accounts and saved characters").

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use game_server::packets::{CLogin, CMove, SBroadcastMove, SLogin, SPlayerList};
use server_core::Packet;

const BIN: &str = env!("CARGO_BIN_EXE_game-server");

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

struct Server(Child);

impl Server {
    fn start(addr: SocketAddr, db: &str) -> Server {
        let child = Command::new(BIN)
            .args(["--addr", &addr.to_string(), "--db", db])
            .args([
                "--save-interval-secs",
                "1",
                "--log",
                "warn",
                "--stats-secs",
                "0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start game-server");
        Server(child)
    }

    fn signal(&mut self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.0.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.0.try_wait().expect("poll").is_none() {
            assert!(Instant::now() < deadline, "game-server outlived {signal}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Player {
    stream: TcpStream,
    buf: Vec<u8>,
    id: i32,
}

impl Player {
    /// Connects (waiting for the server to listen), logs in, and reads its own position.
    fn login(addr: SocketAddr, name: &str, create: bool) -> (Player, [f32; 3]) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let stream = loop {
            match TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("game-server never listened: {e}"),
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut p = Player {
            stream,
            buf: Vec::new(),
            id: 0,
        };
        p.send(&CLogin {
            name: name.into(),
            password: "correct horse".into(),
            create,
        });
        let answer: SLogin = p.expect();
        assert_eq!(answer.result, 0, "{answer:?}");
        p.id = answer.player_id;
        let list: SPlayerList = p.expect();
        let me = list.players.iter().find(|x| x.is_self).expect("self");
        (p, [me.pos_x, me.pos_y, me.pos_z])
    }

    fn send<P: Packet>(&mut self, packet: &P) {
        let frame = packet.encode().expect("encodes");
        self.stream.write_all(&frame).expect("write");
    }

    fn frame(&mut self) -> (u16, Vec<u8>) {
        loop {
            if self.buf.len() >= 4 {
                let size = u16::from_le_bytes([self.buf[0], self.buf[1]]) as usize;
                if self.buf.len() >= size {
                    let frame: Vec<u8> = self.buf.drain(..size).collect();
                    return (
                        u16::from_le_bytes([frame[2], frame[3]]),
                        frame[4..].to_vec(),
                    );
                }
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).expect("read from the server");
            assert!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn expect<P: Packet>(&mut self) -> P {
        let (id, body) = self.frame();
        assert_eq!(id, P::ID, "expected {}", P::NAME);
        P::decode(&body).expect("decodes")
    }

    /// Moves and waits for the room's echo.
    fn move_to(&mut self, pos: [f32; 3]) {
        self.send(&CMove {
            pos_x: pos[0],
            pos_y: pos[1],
            pos_z: pos[2],
        });
        loop {
            let (id, body) = self.frame();
            if id == SBroadcastMove::ID {
                let m = SBroadcastMove::decode(&body).expect("decodes");
                if m.player_id == self.id {
                    assert_eq!([m.pos_x, m.pos_y, m.pos_z], pos);
                    return;
                }
            }
        }
    }
}

#[cfg(unix)]
#[test]
fn kill_9_loses_at_most_the_last_checkpoint_and_sigterm_loses_nothing() {
    let dir = std::env::temp_dir().join(format!("persist-process-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("game.sqlite3").to_string_lossy().into_owned();
    let addr = free_addr();

    let mut server = Server::start(addr, &db);
    let (mut player, _) = Player::login(addr, "Survivor", true);
    let checkpointed = [11.0, 0.0, 22.0];
    player.move_to(checkpointed);
    // Two checkpoint intervals (1 s each): this position is in the database.
    std::thread::sleep(Duration::from_millis(2_500));
    let last = [33.0, 0.0, 44.0];
    player.move_to(last);
    server.signal("-KILL");
    drop(player);

    let mut server = Server::start(addr, &db);
    let (player, at) = Player::login(addr, "Survivor", false);
    assert!(
        at == checkpointed || at == last,
        "after kill -9 the character is where it was at most one interval before: {at:?}"
    );
    drop(player);

    // A clean stop saves what the last checkpoint had not.
    let (mut player, _) = Player::login(addr, "Survivor", false);
    let unsaved = [-5.0, 2.0, 7.0];
    player.move_to(unsaved);
    server.signal("-TERM");
    assert!(server.0.wait().expect("exit").success());
    drop(player);

    let _server = Server::start(addr, &db);
    let (_player, at) = Player::login(addr, "Survivor", false);
    assert_eq!(at, unsaved, "SIGTERM saves every character before exit");
}
