//! A room that follows the course's rules except for one fault the test asks for: the
//! dummy-client's checks must catch each fault, not only pass against a correct server.
//!
//! It speaks the real wire format with the generated packets, lets every connection in at
//! once (`S_PlayerList` naming it, `S_BroadcastEnterGame` to everyone), broadcasts each
//! `C_Move` to every member in one order (bit for bit, so the window mark survives) and
//! answers each `C_Ping` at once. Broadcasting under one lock gives every receiver the same
//! order, as the real room's single job queue does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use game_server::packets::{
    CChat, CMove, CPing, Player, SBroadcastEnterGame, SBroadcastMove, SChat, SPlayerList, SPong,
};
use server_core::Packet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The one thing this room does wrong. Connections are numbered from 0 in accept order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: the room is faithful.
    None,
    /// Connection `conn` is let in (its `S_PlayerList`) only after `delay`.
    LateEnter { conn: usize, delay: Duration },
    /// Connection `conn`'s `nth` pong (from 0) is sent twice.
    DuplicatePong { conn: usize, nth: usize },
    /// Connection `conn`'s `nth` ping is never answered.
    DropPong { conn: usize, nth: usize },
    /// Connection `conn`'s `nth` pong carries `client_time` instead of the ping's.
    ForeignPong {
        conn: usize,
        nth: usize,
        client_time: i64,
    },
    /// Connection `receiver` misses the `drop`th window move from others and gets the
    /// `dup`th twice (counted from 0 over its window deliveries from others).
    LoseOneDuplicateAnother {
        receiver: usize,
        drop: u64,
        dup: u64,
    },
    /// Connection `sender` gets no echo of its window moves after the `stop_after`th (the
    /// others still get them) and is closed `close_after` later, as if its connection died
    /// with its echoes in flight; connection `receiver` also misses its `drop`th window
    /// delivery from others.
    DropSenderAndOneDelivery {
        sender: usize,
        stop_after: u64,
        close_after: Duration,
        receiver: usize,
        drop: u64,
    },
    /// Connection `receiver`'s `nth` chat line from others (from 0) suffers `fault`.
    Chat {
        receiver: usize,
        nth: u64,
        fault: ChatFault,
    },
}

/// What happens to one chat line on its way to one receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatFault {
    /// It never arrives.
    Drop,
    /// It arrives twice.
    Duplicate,
    /// One UTF-16 code unit of it is changed.
    Corrupt,
}

struct Member {
    conn: usize,
    player_id: i32,
    out: mpsc::UnboundedSender<Bytes>,
    /// Chat lines from others offered to this member so far.
    chat_deliveries: u64,
    /// Window moves from others offered to this member so far.
    window_deliveries: u64,
}

struct Room {
    fault: Fault,
    members: Vec<Member>,
}

/// A faulty room listening on 127.0.0.1:0, until the test ends.
pub struct FaultyRoom {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl FaultyRoom {
    pub async fn start(fault: Fault) -> FaultyRoom {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind 127.0.0.1:0: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local addr: {e}"));
        let room = Arc::new(Mutex::new(Room {
            fault,
            members: Vec::new(),
        }));
        let task = tokio::spawn(async move {
            let mut conn = 0;
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(connection(Arc::clone(&room), conn, stream));
                conn += 1;
            }
        });
        FaultyRoom { addr, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for FaultyRoom {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(room: &Mutex<Room>) -> MutexGuard<'_, Room> {
    room.lock().unwrap_or_else(|p| p.into_inner())
}

fn frame<P: Packet>(p: &P) -> Bytes {
    p.encode()
        .unwrap_or_else(|e| panic!("{} encodes: {e}", P::NAME))
}

async fn connection(room: Arc<Mutex<Room>>, conn: usize, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (out, mut outq) = mpsc::unbounded_channel::<Bytes>();
    let writer_task = tokio::spawn(async move {
        while let Some(bytes) = outq.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let player_id = conn as i32 + 1;
    let fault = lock(&room).fault;
    if let Fault::LateEnter { conn: late, delay } = fault {
        if late == conn {
            tokio::time::sleep(delay).await;
        }
    }
    enter(&room, conn, player_id, out.clone());

    let mut pings = 0usize;
    let mut window_moves = 0u64;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    'read: loop {
        while buf.len() >= 4 {
            let size = usize::from(u16::from_le_bytes([buf[0], buf[1]]));
            if size < 4 {
                break 'read;
            }
            if buf.len() < size {
                break;
            }
            let bytes: Vec<u8> = buf.drain(..size).collect();
            let id = u16::from_le_bytes([bytes[2], bytes[3]]);
            let body = &bytes[4..];
            if id == CMove::ID {
                let Ok(m) = CMove::decode(body) else {
                    break 'read;
                };
                let window = m.pos_y == 0.0 && m.pos_y.is_sign_negative();
                let mut echo = true;
                if let Fault::DropSenderAndOneDelivery {
                    sender,
                    stop_after,
                    close_after,
                    ..
                } = fault
                {
                    if window && sender == conn {
                        window_moves += 1;
                        // Its moves still reach everyone else; its own echoes are lost with
                        // its connection, which is about to go.
                        echo = window_moves <= stop_after;
                        if window_moves == stop_after + 1 {
                            let room = Arc::clone(&room);
                            tokio::spawn(async move {
                                tokio::time::sleep(close_after).await;
                                lock(&room).members.retain(|m| m.conn != conn);
                            });
                        }
                    }
                }
                broadcast_move(&room, conn, player_id, &m, window, echo);
            } else if id == CChat::ID {
                let Ok(c) = CChat::decode(body) else {
                    break 'read;
                };
                broadcast_chat(&room, conn, player_id, c.message);
            } else if id == CPing::ID {
                let Ok(p) = CPing::decode(body) else {
                    break 'read;
                };
                pong(&out, conn, pings, p.client_time, fault);
                pings += 1;
            }
        }
        if !lock(&room).members.iter().any(|m| m.conn == conn) {
            // Closed by a fault.
            break;
        }
        match tokio::time::timeout(Duration::from_millis(50), reader.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    }
    lock(&room).members.retain(|m| m.conn != conn);
    drop(out);
    writer_task.abort();
}

fn enter(room: &Mutex<Room>, conn: usize, player_id: i32, out: mpsc::UnboundedSender<Bytes>) {
    let mut room = lock(room);
    let mut players: Vec<Player> = room
        .members
        .iter()
        .map(|m| Player {
            player_id: m.player_id,
            ..Player::default()
        })
        .collect();
    players.push(Player {
        is_self: true,
        player_id,
        ..Player::default()
    });
    let _ = out.send(frame(&SPlayerList { players }));
    room.members.push(Member {
        conn,
        player_id,
        out,
        window_deliveries: 0,
        chat_deliveries: 0,
    });
    let entered = frame(&SBroadcastEnterGame {
        player_id,
        ..SBroadcastEnterGame::default()
    });
    for m in &room.members {
        let _ = m.out.send(entered.clone());
    }
}

fn broadcast_chat(room: &Mutex<Room>, conn: usize, player_id: i32, message: String) {
    let line = frame(&SChat {
        player_id,
        message: message.clone(),
    });
    let mut room = lock(room);
    let fault = room.fault;
    for member in &mut room.members {
        if member.conn == conn {
            let _ = member.out.send(line.clone());
            continue;
        }
        let nth = member.chat_deliveries;
        member.chat_deliveries += 1;
        match fault {
            Fault::Chat {
                receiver,
                nth: at,
                fault,
            } if receiver == member.conn && at == nth => match fault {
                ChatFault::Drop => {}
                ChatFault::Duplicate => {
                    let _ = member.out.send(line.clone());
                    let _ = member.out.send(line.clone());
                }
                ChatFault::Corrupt => {
                    // A Korean syllable one code point off: still valid UTF-16.
                    let bent = message.replacen('안', "앉", 1);
                    let _ = member.out.send(frame(&SChat {
                        player_id,
                        message: bent,
                    }));
                }
            },
            _ => {
                let _ = member.out.send(line.clone());
            }
        }
    }
}

fn broadcast_move(
    room: &Mutex<Room>,
    conn: usize,
    player_id: i32,
    m: &CMove,
    window: bool,
    echo: bool,
) {
    let moved = frame(&SBroadcastMove {
        player_id,
        pos_x: m.pos_x,
        pos_y: m.pos_y,
        pos_z: m.pos_z,
    });
    let mut room = lock(room);
    let fault = room.fault;
    for member in &mut room.members {
        let mut copies = u8::from(echo || member.conn != conn);
        if window && member.conn != conn {
            let nth = member.window_deliveries;
            member.window_deliveries += 1;
            match fault {
                Fault::LoseOneDuplicateAnother {
                    receiver,
                    drop,
                    dup,
                } if receiver == member.conn => {
                    if nth == drop {
                        copies = 0;
                    } else if nth == dup {
                        copies = 2;
                    }
                }
                Fault::DropSenderAndOneDelivery { receiver, drop, .. }
                    if receiver == member.conn && nth == drop =>
                {
                    copies = 0;
                }
                _ => {}
            }
        }
        for _ in 0..copies {
            let _ = member.out.send(moved.clone());
        }
    }
}

fn pong(out: &mpsc::UnboundedSender<Bytes>, conn: usize, nth: usize, time: i64, fault: Fault) {
    let (client_time, copies) = match fault {
        Fault::DuplicatePong { conn: c, nth: n } if (c, n) == (conn, nth) => (time, 2),
        Fault::DropPong { conn: c, nth: n } if (c, n) == (conn, nth) => (time, 0),
        Fault::ForeignPong {
            conn: c,
            nth: n,
            client_time,
        } if (c, n) == (conn, nth) => (client_time, 1),
        _ => (time, 1),
    };
    for _ in 0..copies {
        let _ = out.send(frame(&SPong { client_time }));
    }
}
