//! Malformed frames and bodies: each closes only its sender, with a protocol error.

use std::time::{Duration, Instant};

use game_server::packets::{
    self as server_packets, CChat, CMove, CPing, SBroadcastMove, SPlayerList,
};
use server_core::frame::{parse_header, FrameHeader, HEADER_SIZE};
use server_core::{DecodeError, Packet, ProtocolError};
use tokio::io::AsyncWriteExt;

use crate::common::{capture_logs, decode, lines_about, local_addr, logged, Room, MEMORY};
use crate::support::{raw_frame, start_server, Client, WAIT};

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

#[test]
fn the_byte_soup_is_refused_by_the_sans_io_path_too() {
    // Guards `byte_soup`: if the generator changed into valid frames, say so here.
    let soup = byte_soup();
    assert_eq!(first_error(&soup.bytes, 4096), Some(soup.error));
}
