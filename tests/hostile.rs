//! Hostile input, faults and overload, over real sockets against an in-process game server.
//!
//! Every socket test has offenders and one well-behaved player. The offender must be closed,
//! with the reason the server logs next to its address; the well-behaved player must keep
//! playing (its move still comes back); the offender's player must leave the room exactly
//! once; and nothing may panic (a panic in a session or room job would show up as a missing
//! close, a missing leave, or a dead good player). The decoders get property tests at the end.

mod support;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use game_server::packets::{
    self as server_packets, CChat, CLeaveGame, CMove, CPing, PacketId, SBroadcastEnterGame,
    SBroadcastLeaveGame, SBroadcastMove, SPlayerList,
};
use game_server::{GameServer, ServerConfig};
use proptest::prelude::*;
use server_core::frame::{parse_header, FrameHeader, HEADER_SIZE};
use server_core::{DecodeError, Packet, ProtocolError};
use support::{eventually, raw_frame, start_server, Client, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::{Notify, RwLock};
use tokio::task::JoinSet;

/// The slow-consumer test measures this process's memory, so it runs alone: it takes this
/// lock for writing, every other test for reading.
static MEMORY: RwLock<()> = RwLock::const_new(());

// ---------------------------------------------------------------------------------------
// Malformed frames
// ---------------------------------------------------------------------------------------

/// One malformed input and the protocol error it must be closed with.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    error: ProtocolError,
}

fn truncated(id: u16, name: &'static str, needed: usize, remaining: usize) -> ProtocolError {
    ProtocolError::Decode {
        id,
        name,
        error: DecodeError::Truncated { needed, remaining },
    }
}

fn malformed_cases() -> Vec<Case> {
    let c_move = CMove::ID;
    let c_chat = CChat::ID;
    let too_small = |size: u16| ProtocolError::FrameTooSmall { size };
    let mut over_max = vec![0x01, 0x10, 7, 0]; // size 4097
    over_max.extend([0u8; 4093]);
    // Declares the largest frame there is, sends 10 bytes of it, and stalls: refused on the
    // size alone, without waiting for the body.
    let mut stall = vec![0xff, 0xff, 5, 0];
    stall.extend([0u8; 6]);
    let invalid_utf16 = ProtocolError::Decode {
        id: c_chat,
        name: "C_Chat",
        error: DecodeError::InvalidString {
            encoding: "utf-16le",
        },
    };
    let mut ping_then_zero = CPing { client_time: 1 }
        .encode()
        .map(|b| b.to_vec())
        .unwrap_or_default();
    ping_then_zero.extend([0, 0, 0, 0]);
    vec![
        Case {
            name: "size 0 (the course loops forever on it)",
            bytes: vec![0, 0, 5, 0],
            error: too_small(0),
        },
        Case {
            name: "size 1",
            bytes: vec![1, 0],
            error: too_small(1),
        },
        Case {
            name: "size 2",
            bytes: vec![2, 0, 5, 0],
            error: too_small(2),
        },
        Case {
            name: "size 3",
            bytes: vec![3, 0, 5],
            error: too_small(3),
        },
        Case {
            name: "size 4097, one over max_packet_size",
            bytes: over_max,
            error: ProtocolError::FrameTooLarge {
                size: 4097,
                max: 4096,
            },
        },
        Case {
            name: "size 65535 with a short body, then a stall",
            bytes: stall,
            error: ProtocolError::FrameTooLarge {
                size: 65535,
                max: 4096,
            },
        },
        Case {
            name: "unknown packet id 999",
            bytes: raw_frame(999, &[]),
            error: ProtocolError::UnknownPacketId { id: 999 },
        },
        Case {
            name: "unknown packet id 0 with a body",
            bytes: raw_frame(0, &[1, 2, 3]),
            error: ProtocolError::UnknownPacketId { id: 0 },
        },
        Case {
            name: "S_BroadcastMove sent by a client",
            bytes: raw_frame(SBroadcastMove::ID, &[0; 16]),
            error: ProtocolError::UnexpectedPacket {
                id: 6,
                name: "S_BroadcastMove",
            },
        },
        Case {
            // No client packet carries a list; a client sending the server's list packet with
            // a count far past its bytes is refused by direction before any decoding (the
            // list decoder's own bound is in the property tests below).
            name: "S_PlayerList claiming 65535 players in 1 byte",
            bytes: raw_frame(SPlayerList::ID, &[0xff, 0xff, 1]),
            error: ProtocolError::UnexpectedPacket {
                id: 4,
                name: "S_PlayerList",
            },
        },
        Case {
            name: "C_Move with 11 of its 12 bytes",
            bytes: raw_frame(c_move, &[0; 11]),
            error: truncated(c_move, "C_Move", 4, 3),
        },
        Case {
            name: "C_Move with a 13th byte",
            bytes: raw_frame(c_move, &[0; 13]),
            error: ProtocolError::Decode {
                id: c_move,
                name: "C_Move",
                error: DecodeError::TrailingBytes { extra: 1 },
            },
        },
        Case {
            name: "C_Chat whose length prefix (10) is past the 2 bytes left",
            bytes: raw_frame(c_chat, &[10, 0, 0x41, 0]),
            error: truncated(c_chat, "C_Chat", 10, 2),
        },
        Case {
            name: "C_Chat with an odd UTF-16 byte length",
            bytes: raw_frame(c_chat, &[1, 0, 0x41]),
            error: invalid_utf16.clone(),
        },
        Case {
            name: "C_Chat with a lone surrogate",
            bytes: raw_frame(c_chat, &[2, 0, 0x00, 0xD8]),
            error: invalid_utf16,
        },
        Case {
            name: "C_Move to a NaN position",
            bytes: raw_frame(c_move, &[0x00, 0x00, 0xC0, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0]),
            error: ProtocolError::Invalid(format!(
                "C_Move with a non-finite position {:?}",
                [f32::NAN, 0.0, 0.0]
            )),
        },
        Case {
            name: "a valid C_Ping, then size 0 in the same write",
            bytes: ping_then_zero,
            error: too_small(0),
        },
        byte_soup(),
    ]
}

/// 512 bytes of fixed-seed garbage (xorshift64), and the error the server must find in them:
/// worked out here by the same sans-IO framing and decoder the server runs, which must find
/// one (a soup that happened to be valid frames would test nothing).
fn byte_soup() -> Case {
    let mut state: u64 = 0x5EED_0FC0_FFEE;
    let bytes: Vec<u8> = (0..512)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let error = match first_error(&bytes, 4096) {
        Some(error) => error,
        None => panic!("the byte soup must hold a protocol error, or it tests nothing"),
    };
    Case {
        name: "512 bytes of fixed-seed garbage",
        bytes,
        error,
    }
}

/// What the server's framing and decoder make of `stream`: the first protocol error, or
/// `None` if it is whole, valid frames (and perhaps a partial one still waiting).
fn first_error(stream: &[u8], max_packet_size: usize) -> Option<ProtocolError> {
    let mut rest = stream;
    loop {
        match parse_header(rest, max_packet_size) {
            Ok(Some(FrameHeader { size, id })) => {
                if let Err(e) = server_packets::PacketManager::decode(id, &rest[HEADER_SIZE..size])
                {
                    return Some(e);
                }
                rest = &rest[size..];
            }
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_malformed_frame_closes_only_its_sender_with_a_protocol_error() {
    let _shared = MEMORY.read().await;
    let mut room = Room::open(|_| {}).await;
    for case in malformed_cases() {
        let name = case.name;
        let mut offender = room.join().await;
        let peer = local_addr(&offender);
        // The server may close after the first bytes, so the rest of a long write can fail.
        let _ = offender.stream.write_all(&case.bytes).await;
        let sent = Instant::now();
        offender.expect_closed().await;
        assert!(
            sent.elapsed() < Duration::from_secs(3),
            "{name}: the offender should be closed at once, not by the 60 s idle timeout"
        );
        let reason = format!("reason=protocol error: {}", case.error);
        logged(peer, &["WARN", "disconnected", &reason]).await;
        let leaves = room.good_moves().await;
        assert_eq!(
            leaves,
            vec![offender.player_id],
            "{name}: the offender's player should leave the room once, and the good player \
             keep playing"
        );
        room.settles_at(1, &format!("{name}: only the good player is left"))
            .await;
    }
    room.server.shutdown().await;
}

/// A `C_Chat` frame of exactly `size` bytes (header, u16 length, text of 'a's in UTF-16LE).
/// An odd size makes an odd byte length: a frame the framing must take whole, and the string
/// decoder must then refuse.
fn chat_frame(size: usize) -> Vec<u8> {
    let text = size - HEADER_SIZE - 2;
    let mut body = (text as u16).to_le_bytes().to_vec();
    body.extend((0..text).map(|i| if i % 2 == 0 { b'a' } else { 0 }));
    raw_frame(CChat::ID, &body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_of_exactly_max_packet_size_are_taken_whole_even_when_trickled() {
    let _shared = MEMORY.read().await;
    capture_logs();
    // (max_packet_size, frame size, chat characters broadcast back or None if refused)
    let cases = [
        (4096, 4096, Some(2045)),
        // The largest chat whose S_Chat (6 bytes more) still fits a frame.
        (65535, 65530, Some(32762)),
        // 65535 is odd, so a frame that large holds an odd-length string: accepted by the
        // framing (it is not too large), refused by the decoder.
        (65535, 65535, None),
    ];
    for (max, size, echoed) in cases {
        let server = start_server(|c| {
            c.net.max_packet_size = max;
            c.chat_max_chars = 40_000;
        })
        .await;
        let (mut client, _) = Client::join(server.local_addr()).await;
        let peer = local_addr(&client);
        let mut bytes = CPing { client_time: 1 }
            .encode()
            .expect("C_Ping encodes")
            .to_vec();
        bytes.extend(chat_frame(size));
        bytes.extend_from_slice(&CPing { client_time: 2 }.encode().expect("C_Ping encodes"));
        // 1000-byte pieces, each its own read, so the big frame crosses many reads and starts
        // 12 bytes into the receive buffer.
        for piece in bytes.chunks(1000) {
            if client.stream.write_all(piece).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let what = format!("a {size}-byte frame with max_packet_size {max}");
        match echoed {
            Some(chars) => {
                let (mut pongs, mut chat) = (Vec::new(), None);
                while pongs.len() < 2 || chat.is_none() {
                    let frame = tokio::time::timeout(WAIT, client.try_next_frame()).await;
                    let Ok(Some((id, body))) = frame else {
                        panic!(
                            "{what}: the session should stay open and answer; the server \
                             logged: {:#?}",
                            lines_about(peer)
                        );
                    };
                    if id == server_packets::SPong::ID {
                        pongs.push(decode::<server_packets::SPong>(&body).client_time);
                    } else if id == server_packets::SChat::ID {
                        chat = Some(decode::<server_packets::SChat>(&body).message);
                    }
                }
                assert_eq!(
                    pongs,
                    [1, 2],
                    "{what}: the frames around it are answered in order"
                );
                assert_eq!(
                    chat.map(|m| m.chars().count()),
                    Some(chars),
                    "{what}: taken whole and broadcast back whole"
                );
            }
            None => {
                client.expect_closed().await;
                let reason = format!(
                    "reason=protocol error: {}",
                    ProtocolError::Decode {
                        id: CChat::ID,
                        name: "C_Chat",
                        error: DecodeError::InvalidString {
                            encoding: "utf-16le"
                        },
                    }
                );
                logged(peer, &["disconnected", &reason]).await;
            }
        }
        server.shutdown().await;
    }
}

// ---------------------------------------------------------------------------------------
// Slowloris
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_clients_are_closed_by_the_idle_timeout_and_nobody_else() {
    let _shared = MEMORY.read().await;
    capture_logs();
    const IDLE: Duration = Duration::from_millis(300);
    // The largest frame size allowed, so a declared 65535-byte frame is not refused on its
    // size and only the idle timeout can end the stall.
    let server = start_server(|c| {
        c.net.idle_timeout = Some(IDLE);
        c.net.max_packet_size = 65535;
    })
    .await;
    let addr = server.local_addr();
    let (mut good, _) = Client::join(addr).await;

    let mut huge = vec![0xff, 0xff, CChat::ID as u8, 0];
    huge.extend([0u8; 96]);
    let cases: [(&'static str, Vec<u8>); 3] = [
        ("connects and sends nothing", Vec::new()),
        ("sends half a header, then nothing", vec![16, 0]),
        ("declares a 65535-byte frame, sends 100 bytes of it", huge),
    ];
    let mut offenders = JoinSet::new();
    let mut ids = Vec::new();
    for (name, bytes) in cases {
        // The idle clock of a silent client starts when it connects.
        let connecting = Instant::now();
        let (mut client, _) = Client::join(addr).await;
        ids.push(client.player_id);
        offenders.spawn(async move {
            let peer = local_addr(&client);
            let mut last_sent = connecting;
            if !bytes.is_empty() {
                client.send_raw(&bytes).await;
                last_sent = Instant::now();
            }
            client.expect_closed().await;
            (name, peer, last_sent.elapsed())
        });
    }

    // The good player pings every 100 ms, so it is never idle, and collects the leaves.
    let mut leaves = Vec::new();
    let mut closed = Vec::new();
    let deadline = Instant::now() + WAIT;
    while closed.len() < ids.len() || leaves.len() < ids.len() {
        assert!(
            Instant::now() < deadline,
            "the idle clients should be closed and leave: closed {closed:?}, leaves {leaves:?}"
        );
        good.send(&CPing { client_time: 0 }).await;
        let until = tokio::time::Instant::now() + Duration::from_millis(100);
        while let Ok(frame) = tokio::time::timeout_at(until, good.try_next_frame()).await {
            let Some((id, body)) = frame else {
                panic!("the good player, which pings, must not be closed as idle");
            };
            if id == SBroadcastLeaveGame::ID {
                leaves.push(decode::<SBroadcastLeaveGame>(&body).player_id);
            }
        }
        while let Some(done) = offenders.try_join_next() {
            closed.push(done.expect("an offender task should not panic"));
        }
    }
    for (name, peer, after) in &closed {
        assert!(
            *after >= IDLE && *after < 2 * IDLE + Duration::from_secs(1),
            "{name}: closed {after:?} after its last bytes; the check closes after one to two \
             idle timeouts of {IDLE:?}"
        );
        logged(*peer, &["disconnected", "reason=idle timeout"]).await;
    }
    leaves.sort_unstable();
    ids.sort_unstable();
    assert_eq!(leaves, ids, "each idle player leaves the room exactly once");

    good.send(&CMove {
        pos_x: 7.0,
        pos_y: 0.0,
        pos_z: 0.0,
    })
    .await;
    loop {
        let (id, body) = good.next_frame().await;
        assert_ne!(id, SBroadcastLeaveGame::ID, "no second leave");
        if id == SBroadcastMove::ID && decode::<SBroadcastMove>(&body).pos_x == 7.0 {
            break;
        }
    }
    eventually("only the good player is left", || {
        let s = server.snapshot();
        s.players == 1 && s.sessions == 1
    })
    .await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// A client that never reads
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed_as_a_slow_consumer_and_memory_stays_bounded() {
    // Alone: no other test's servers allocate while this one measures the process.
    let _alone = MEMORY.write().await;
    capture_logs();
    const LIMIT: usize = 64 * 1024;
    let server = start_server(|c| {
        c.net.send_queue_limit = LIMIT;
        // Flushes far below the limit, so a reader that keeps up is never near it.
        c.max_pending_bytes = 8 * 1024;
        c.tick = Duration::from_millis(5);
        c.chat_max_chars = 2000;
        // The talker floods on purpose; this test is about the staller, not the rate limit.
        c.chat_rate = game_server::Rate {
            per_sec: 1e9,
            burst: 1e9,
        };
    })
    .await;
    let addr = server.local_addr();

    // A small receive window, so the kernel holds little on the staller's behalf and the
    // server's own send queue is what fills.
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("a small receive buffer");
    let stream = socket.connect(addr).await.expect("connect");
    let (staller, _) = Client::join_stream(stream).await;
    let staller_peer = local_addr(&staller);

    // The talker chats and reads everything: the room broadcasts each line to both.
    let (talker, _) = Client::join(addr).await;
    let (stream, leftover) = talker.into_parts();
    let (mut rx, mut tx) = stream.into_split();
    let progress = Arc::new(Progress::default());
    let reader = {
        let progress = Arc::clone(&progress);
        tokio::spawn(async move {
            let mut buf = leftover;
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let mut at = 0;
                while let Ok(Some(h)) = parse_header(&buf[at..], 65535) {
                    let body = &buf[at + HEADER_SIZE..at + h.size];
                    progress.saw(h.id, body);
                    at += h.size;
                }
                buf.drain(..at);
                progress.notify.notify_one();
                match rx.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
    };

    let line = CChat {
        message: "x".repeat(2000),
    }
    .encode()
    .expect("a 2000-character chat encodes");
    // What the room sends each player per line: header, player id, length, 4000 bytes.
    let per_line = (HEADER_SIZE + 4 + 2 + 4000) as u64;
    const LINES: u64 = 12_000; // about 46 MiB to every player in the room
    const WINDOW: u64 = 8; // lines in flight, so the room's input queue stays short
    let rss_before = rss();
    let mut sent = 0;
    while sent < LINES {
        while sent - progress.chats.load(Ordering::Acquire) >= WINDOW {
            let woke = tokio::time::timeout(WAIT, progress.notify.notified()).await;
            assert!(
                woke.is_ok(),
                "the talker should keep receiving its own lines: sent {sent}, received {}, \
                 leaves {:?}, server {:?}",
                progress.chats.load(Ordering::Acquire),
                progress.leaves(),
                server.snapshot()
            );
        }
        tx.write_all(&line).await.expect("the talker keeps sending");
        sent += 1;
    }
    eventually("the talker receives every line", || {
        progress.chats.load(Ordering::Acquire) == LINES
    })
    .await;
    let rss_after = rss();

    let broadcast = LINES * per_line;
    let growth = rss_after.saturating_sub(rss_before);
    assert!(
        growth < 16 << 20 && growth < broadcast / 4,
        "memory should stay bounded: the process grew {} KiB while {} KiB went to every player \
         (a stalled player holding its share would have grown it by that much)",
        growth >> 10,
        broadcast >> 10
    );
    let limit = format!("limit {LIMIT}");
    logged(
        staller_peer,
        &["WARN", "disconnected", "reason=slow consumer", &limit],
    )
    .await;
    let leaves = progress.leaves();
    assert_eq!(
        leaves,
        vec![staller.player_id],
        "the stalled player leaves the room exactly once, and nobody else does"
    );
    eventually("the room is down to the talker", || {
        let s = server.snapshot();
        s.players == 1 && s.sessions == 1
    })
    .await;
    drop(tx);
    drop(staller);
    server.shutdown().await;
    let _ = reader.await;
}

/// What the talker's reader has seen.
#[derive(Default)]
struct Progress {
    chats: AtomicU64,
    leaves: Mutex<Vec<i32>>,
    notify: Notify,
}

impl Progress {
    fn saw(&self, id: u16, body: &[u8]) {
        if id == server_packets::SChat::ID {
            self.chats.fetch_add(1, Ordering::Release);
        } else if id == SBroadcastLeaveGame::ID {
            let leave = decode::<SBroadcastLeaveGame>(body);
            lock(&self.leaves).push(leave.player_id);
        }
    }

    fn leaves(&self) -> Vec<i32> {
        lock(&self.leaves).clone()
    }
}

/// This process's resident set size, from /proc/self/status.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

// ---------------------------------------------------------------------------------------
// Connection flood
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_beyond_max_connections_is_refused_at_once_and_the_players_keep_playing() {
    let _shared = MEMORY.read().await;
    const MAX: usize = 20;
    const FLOOD: usize = 100;
    let mut room = Room::open(|c| c.net.max_connections = MAX).await;
    let mut players = Vec::new();
    for _ in 1..MAX {
        players.push(room.join().await);
    }
    room.settles_at(MAX as u64, "the server is full").await;

    let addr = room.server.local_addr();
    let mut flood = JoinSet::new();
    for _ in 0..FLOOD {
        flood.spawn(async move {
            let started = Instant::now();
            let mut stream = tokio::net::TcpStream::connect(addr)
                .await
                .expect("the kernel accepts the connection into the backlog");
            let mut byte = [0u8; 1];
            // Refused: the server accepts and closes at once, so the read sees the end (or a
            // reset) instead of an S_PlayerList.
            let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut byte)).await;
            (read, started.elapsed())
        });
    }
    while let Some(joined) = flood.join_next().await {
        let (read, took) = joined.expect("a flood task should not panic");
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => {}
            Ok(Ok(_)) => panic!("a connection beyond max_connections got data: it was let in"),
            Err(_) => panic!("a connection beyond max_connections stayed open for 3 s"),
        }
        assert!(
            took < Duration::from_secs(3),
            "refused at once, took {took:?}"
        );
    }
    eventually("every extra connection is counted as refused", || {
        room.server.snapshot().refused == FLOOD as u64
    })
    .await;
    let snapshot = room.server.snapshot();
    assert_eq!(
        (snapshot.accepted, snapshot.sessions, snapshot.players),
        (MAX as u64, MAX as u64, MAX as u64),
        "the flood must not take a slot or a player's place"
    );
    logged_anywhere(&[
        "WARN",
        "refused_total=",
        "max_connections=20",
        "connection refused: max_connections reached",
    ])
    .await;

    // Everyone inside is unaffected: the good player's move reaches the others.
    assert!(room.good_moves().await.is_empty(), "nobody left");
    let good_id = room.good.player_id;
    for p in players.iter_mut() {
        loop {
            let (id, body) = p.next_frame().await;
            if id == SBroadcastMove::ID {
                let m = decode::<SBroadcastMove>(&body);
                assert_eq!(m.player_id, good_id, "only the good player moved");
                break;
            }
            assert_eq!(
                id,
                SBroadcastEnterGame::ID,
                "player {} should see only enters before the move",
                p.player_id
            );
        }
    }
    // A slot freed by a leaving player is usable again.
    let gone = players.pop().map(|p| p.player_id);
    let mut leaves = Vec::new();
    while leaves.is_empty() {
        leaves = room.good_moves().await;
    }
    assert_eq!(leaves.first().copied(), gone, "the dropped player leaves");
    let (newcomer, _) = Client::join(addr).await;
    assert!(newcomer.player_id > 0, "a freed slot takes a new player");
    room.server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Abrupt resets
// ---------------------------------------------------------------------------------------

/// Closes with a TCP reset instead of an orderly FIN: SO_LINGER with a zero timeout makes
/// `close` discard whatever is in flight and send RST.
fn reset(client: Client) {
    // Deprecated in tokio because a non-zero linger blocks the thread in `close`; with zero
    // there is nothing to wait for, and an abrupt reset is exactly the fault under test.
    #[allow(deprecated)]
    client
        .stream
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_mid_send_and_mid_receive_clean_up_every_session_and_player_once() {
    let _shared = MEMORY.read().await;
    let mut room = Room::open(|_| {}).await;
    let baseline_tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();

    // Mid-send: a burst of moves and half a frame on the wire, then a reset.
    let mut senders = Vec::new();
    for _ in 0..10 {
        senders.push(room.join().await);
    }
    // Mid-receive: players that read nothing while the room sends them a stream of moves.
    let mut receivers = Vec::new();
    for _ in 0..10 {
        receivers.push(room.join().await);
    }
    let mut ids: Vec<i32> = senders
        .iter()
        .chain(&receivers)
        .map(|c| c.player_id)
        .collect();
    let mut burst = Vec::new();
    for i in 0..50 {
        let m = CMove {
            pos_x: i as f32,
            pos_y: 0.0,
            pos_z: 0.0,
        };
        burst.extend_from_slice(&m.encode().expect("C_Move encodes"));
    }
    let half = burst.len() - 8;
    for mut s in senders {
        s.send_raw(&burst[..half]).await;
        reset(s);
    }
    for _ in 0..20 {
        room.good
            .send(&CMove {
                pos_x: -1.0,
                pos_y: 0.0,
                pos_z: 0.0,
            })
            .await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    for r in receivers {
        reset(r);
    }

    let mut leaves = Vec::new();
    let deadline = Instant::now() + WAIT;
    while leaves.len() < ids.len() {
        assert!(Instant::now() < deadline, "every reset player should leave");
        leaves.extend(room.good_moves().await);
    }
    // One more round trip: a second leave of anyone would have come before its move.
    leaves.extend(room.good_moves().await);
    leaves.sort_unstable();
    ids.sort_unstable();
    assert_eq!(
        leaves, ids,
        "each reset player leaves the room exactly once"
    );
    room.settles_at(1, "only the good player is left").await;

    let Room { server, good, .. } = room;
    reset(good);
    eventually("sessions and players return to zero", || {
        let s = server.snapshot();
        s.sessions == 0 && s.players == 0
    })
    .await;
    // The baseline included the good player's session task, now ended too.
    eventually(
        "every session task has ended, and nothing else was left behind",
        || {
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
                == baseline_tasks - 1
        },
    )
    .await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Decoders, with arbitrary bytes
// ---------------------------------------------------------------------------------------

/// A frame body a decoder might meet: pure noise, or noise behind a plausible u16 length or
/// count prefix (pure noise almost never gets past a string's or a list's length).
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..80),
        (0u16..48, prop::collection::vec(any::<u8>(), 0..80)).prop_map(|(len, rest)| {
            let mut b = len.to_le_bytes().to_vec();
            b.extend(rest);
            b
        }),
        (
            0u16..4,
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..80)
        )
            .prop_map(|(count, skew, rest)| {
                // A list count and exactly, or nearly, count x 17 bytes of players.
                let mut b = count.to_le_bytes().to_vec();
                let len = (usize::from(count) * 17 + usize::from(skew % 3)).saturating_sub(1);
                b.extend(rest.iter().cycle().take(len));
                b
            }),
    ]
}

/// The body a decoded server-side packet encodes back to.
fn reencode(packet: &server_packets::Incoming) -> Vec<u8> {
    use server_packets::Incoming;
    let frame = match packet {
        Incoming::CLeaveGame(p) => p.encode(),
        Incoming::CMove(p) => p.encode(),
        Incoming::CChat(p) => p.encode(),
        Incoming::CPing(p) => p.encode(),
    };
    frame
        .expect("a decoded packet encodes")
        .slice(HEADER_SIZE..)
        .to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_header_accepts_exactly_the_frames_that_are_there(
        buf in prop::collection::vec(any::<u8>(), 0..12),
        max in 0usize..70_000,
    ) {
        let _shared = MEMORY.blocking_read();
        let size = buf.get(0..2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])));
        match parse_header(&buf, max) {
            Ok(Some(h)) => {
                prop_assert_eq!(Some(h.size), size);
                prop_assert!(h.size >= HEADER_SIZE && h.size <= max && h.size <= buf.len());
                prop_assert_eq!(h.id, u16::from_le_bytes([buf[2], buf[3]]));
            }
            Ok(None) => prop_assert!(
                size.is_none_or(|s| (HEADER_SIZE..=max).contains(&s) && buf.len() < s),
                "waits only for a frame that is valid and not all there"
            ),
            Err(ProtocolError::FrameTooSmall { size: s }) => {
                prop_assert_eq!(size, Some(usize::from(s)));
                prop_assert!(usize::from(s) < HEADER_SIZE);
            }
            Err(ProtocolError::FrameTooLarge { size: s, max: m }) => {
                prop_assert_eq!(size, Some(usize::from(s)));
                prop_assert!(usize::from(s) > max && m == max);
            }
            Err(other) => prop_assert!(false, "framing cannot fail with {other:?}"),
        }
    }

    #[test]
    fn every_server_decoder_reads_exactly_its_body_or_refuses_it(
        id in 0u16..=20,
        body in body(),
    ) {
        let _shared = MEMORY.blocking_read();
        match server_packets::PacketManager::decode(id, &body) {
            Ok(packet) => {
                prop_assert_eq!(u16::from(packet.id()), id);
                // Encoding gives back the very bytes: the decoder used all of the body and
                // nothing beyond it.
                prop_assert_eq!(reencode(&packet), body);
            }
            Err(ProtocolError::UnknownPacketId { id: got }) => {
                prop_assert_eq!(got, id);
                prop_assert!(PacketId::from_u16(id).is_none());
            }
            Err(ProtocolError::UnexpectedPacket { id: got, name }) => {
                prop_assert_eq!(got, id);
                prop_assert!(name.starts_with("S_"), "only S_ packets are refused by direction");
            }
            Err(ProtocolError::Decode { id: got, .. }) => prop_assert_eq!(got, id),
            Err(other) => prop_assert!(false, "decode cannot fail with {other:?}"),
        }
    }

    #[test]
    fn every_packet_decoder_of_both_sides_survives_arbitrary_bodies(
        id in 0u16..=20,
        body in body(),
    ) {
        let _shared = MEMORY.blocking_read();
        // The client side decodes the S_ packets, S_PlayerList's list count included.
        if let Ok(packet) = dummy_client::packets::PacketManager::decode(id, &body) {
            prop_assert_eq!(u16::from(packet.id()), id);
        }
        // Each S_ struct on its own: what a decoded body encodes to has the body's length
        // (bools may come back as 1 instead of another non-zero byte).
        fn same_len<P: Packet>(body: &[u8]) -> Result<(), TestCaseError> {
            if let Ok(p) = P::decode(body) {
                let frame = p.encode().expect("a decoded packet encodes");
                prop_assert_eq!(frame.len() - HEADER_SIZE, body.len(), "{}", P::NAME);
            }
            Ok(())
        }
        same_len::<SPlayerList>(&body)?;
        same_len::<SBroadcastMove>(&body)?;
        same_len::<SBroadcastEnterGame>(&body)?;
        same_len::<SBroadcastLeaveGame>(&body)?;
        same_len::<server_packets::SChat>(&body)?;
        same_len::<server_packets::SPong>(&body)?;
        same_len::<CLeaveGame>(&body)?;
    }

    #[test]
    fn a_player_list_decodes_only_if_its_count_matches_its_bytes(
        count in any::<u16>(),
        len in 0usize..200,
    ) {
        let _shared = MEMORY.blocking_read();
        let mut body = count.to_le_bytes().to_vec();
        body.extend(vec![0u8; len]);
        let fits = len == usize::from(count) * 17;
        prop_assert_eq!(SPlayerList::decode(&body).is_ok(), fits);
    }

    #[test]
    fn any_byte_stream_is_framed_the_same_however_it_is_cut(
        stream in prop::collection::vec(any::<u8>(), 0..300),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let _shared = MEMORY.blocking_read();
        // Frames and first error of the stream fed whole, against the same stream offered
        // in growing prefixes, the way the receive buffer offers what has arrived.
        let whole = frames_until_error(&stream, stream.len());
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        ends.push(stream.len());
        ends.sort_unstable();
        let mut last = (Vec::new(), None);
        for end in ends {
            last = frames_until_error(&stream, end);
            if last.1.is_some() {
                break;
            }
        }
        prop_assert_eq!(last, whole);
    }
}

/// The (id, body) frames the server would deliver from the first `arrived` bytes of `stream`,
/// and the protocol error that would close the session, if one is in them.
type Delivered = (Vec<(u16, Vec<u8>)>, Option<ProtocolError>);

fn frames_until_error(stream: &[u8], arrived: usize) -> Delivered {
    let mut rest = &stream[..arrived];
    let mut frames = Vec::new();
    loop {
        match parse_header(rest, 4096) {
            Ok(Some(h)) => {
                let body = &rest[HEADER_SIZE..h.size];
                if let Err(e) = server_packets::PacketManager::decode(h.id, body) {
                    return (frames, Some(e));
                }
                frames.push((h.id, body.to_vec()));
                rest = &rest[h.size..];
            }
            Ok(None) => return (frames, None),
            Err(e) => return (frames, Some(e)),
        }
    }
}

#[test]
fn the_byte_soup_is_refused_by_the_sans_io_path_too() {
    // Guards `byte_soup`: if the generator changed into valid frames, say so here.
    let soup = byte_soup();
    assert_eq!(first_error(&soup.bytes, 4096), Some(soup.error));
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A server and one well-behaved player in its room.
struct Room {
    server: GameServer,
    good: Client,
    /// Moves of the good player so far, to tell its moves apart.
    moves: u32,
}

impl Room {
    async fn open(tweak: impl FnOnce(&mut ServerConfig)) -> Room {
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
    async fn join(&mut self) -> Client {
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
    async fn good_moves(&mut self) -> Vec<i32> {
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
    async fn settles_at(&self, n: u64, what: &str) {
        let server = &self.server;
        eventually(what, || {
            let s = server.snapshot();
            s.sessions == n && s.players == n
        })
        .await;
    }
}

fn decode<P: Packet>(body: &[u8]) -> P {
    match P::decode(body) {
        Ok(p) => p,
        Err(e) => panic!("the server sent a {} that does not decode: {e}", P::NAME),
    }
}

fn local_addr(client: &Client) -> SocketAddr {
    client.stream.local_addr().expect("a connected socket")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every log line of this test process, so tests can check what the server reported.
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Where the captured log goes: `LOG`.
struct LogWriter;

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
fn capture_logs() {
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
fn lines_about(peer: SocketAddr) -> Vec<String> {
    let peer = format!("peer={peer}");
    lock(&LOG)
        .iter()
        .filter(|l| l.contains(&peer))
        .cloned()
        .collect()
}

/// Waits until a log line names `peer` and contains all of `needles`.
async fn logged(peer: SocketAddr, needles: &[&str]) {
    let peer = format!("peer={peer}");
    let mut wanted: Vec<&str> = needles.to_vec();
    wanted.push(&peer);
    logged_anywhere(&wanted).await;
}

/// Waits until a log line contains all of `needles`; on failure shows the closest lines.
async fn logged_anywhere(needles: &[&str]) {
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
