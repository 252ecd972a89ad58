//! The shipped packets against bytes written out by hand from the course's protocol, and
//! the server's `PacketManager` against every kind of bad frame body.

use game_server::packets::{
    CChat, CLeaveGame, CLogin, CLoginToken, CMove, CPing, CUdpBind, CUdpMove, CUdpProve,
    CUdpRequest, Incoming, PacketHandler, PacketId, PacketManager, Player, SBroadcastEnterGame,
    SBroadcastLeaveGame, SBroadcastMove, SChat, SPlayerList, SPong,
};
use proptest::prelude::*;
use server_core::{DecodeError, EncodeError, Packet, ProtocolError};

/// Little-endian bytes of an f32, as the C# course's `BitConverter` writes them.
fn f32le(v: f32) -> [u8; 4] {
    v.to_le_bytes()
}

#[test]
fn course_ids_never_move() {
    let expected = [
        (1, "S_BroadcastEnterGame"),
        (2, "C_LeaveGame"),
        (3, "S_BroadcastLeaveGame"),
        (4, "S_PlayerList"),
        (5, "C_Move"),
        (6, "S_BroadcastMove"),
        (7, "C_Chat"),
        (8, "S_Chat"),
        (9, "C_Ping"),
        (10, "S_Pong"),
        // This project's UDP handshake, appended after the course's.
        (11, "C_UdpRequest"),
        (12, "S_UdpTicket"),
        (13, "C_UdpBind"),
        (14, "S_UdpBound"),
        (15, "C_UdpMove"),
        // Its proof of address (an echoed cookie), appended after those.
        (16, "S_UdpChallenge"),
        (17, "C_UdpProve"),
        // Accounts and login, appended after those.
        (18, "C_Login"),
        (19, "S_Login"),
        // Login by token, appended after those.
        (20, "C_LoginToken"),
        // Monsters in world mode (issue 25), appended after those.
        (21, "S_MonsterSpawn"),
        (22, "S_MonsterMove"),
        (23, "S_MonsterDespawn"),
    ];
    for (id, name) in expected {
        let packet = PacketId::from_u16(id).expect("every schema id should map to a PacketId");
        assert_eq!(packet.name(), name, "id {id} should be {name}");
        assert_eq!(u16::from(packet), id);
    }
    assert_eq!(PacketId::ALL.len(), expected.len());
    assert_eq!(PacketId::from_u16(0), None, "id 0 is never a packet");
    assert_eq!(PacketId::from_u16(24), None);
    assert_eq!(<CMove as Packet>::ID, 5);
    assert_eq!(<SPlayerList as Packet>::NAME, "S_PlayerList");
}

#[test]
fn c_move_matches_the_course_bytes() {
    let packet = CMove {
        pos_x: 1.5,
        pos_y: 0.0,
        pos_z: -42.25,
    };
    let mut expected = vec![16, 0, 5, 0];
    expected.extend(f32le(1.5));
    expected.extend(f32le(0.0));
    expected.extend(f32le(-42.25));
    let frame = packet.encode().expect("C_Move always encodes");
    assert_eq!(&frame[..], &expected[..], "C_Move frame");
    assert_eq!(CMove::decode(&expected[4..]), Ok(packet));
}

#[test]
fn s_player_list_with_two_players_matches_the_course_bytes() {
    let packet = SPlayerList {
        players: vec![
            Player {
                is_self: true,
                player_id: 1,
                pos_x: 0.0,
                pos_y: 0.0,
                pos_z: 0.0,
            },
            Player {
                is_self: false,
                player_id: 258,
                pos_x: 10.0,
                pos_y: -1.0,
                pos_z: 3.5,
            },
        ],
    };
    // size = 4 header + 2 count + 2 x (1 + 4 + 4 + 4 + 4)
    let mut expected = vec![40, 0, 4, 0, 2, 0];
    expected.extend([1, 1, 0, 0, 0]);
    expected.extend(f32le(0.0));
    expected.extend(f32le(0.0));
    expected.extend(f32le(0.0));
    expected.extend([0, 2, 1, 0, 0]);
    expected.extend(f32le(10.0));
    expected.extend(f32le(-1.0));
    expected.extend(f32le(3.5));
    let frame = packet.encode().expect("S_PlayerList encodes");
    assert_eq!(&frame[..], &expected[..], "S_PlayerList frame");
    assert_eq!(SPlayerList::decode(&expected[4..]), Ok(packet));
}

#[test]
fn s_chat_strings_are_utf16le_like_the_course() {
    // C#: Encoding.Unicode.GetBytes("안녕 😀") — the emoji is a surrogate pair.
    let packet = SChat {
        player_id: 7,
        message: "안녕 😀".to_owned(),
    };
    let expected = [
        20, 0, 8, 0, // header: size 20, id 8
        7, 0, 0, 0, // playerId
        10, 0, // byte length: 5 UTF-16 code units
        0x48, 0xC5, 0x55, 0xB1, 0x20, 0x00, 0x3D, 0xD8, 0x00, 0xDE,
    ];
    let frame = packet.encode().expect("S_Chat encodes");
    assert_eq!(&frame[..], &expected[..], "S_Chat frame");
    assert_eq!(SChat::decode(&expected[4..]), Ok(packet));
}

#[test]
fn empty_packets_are_header_only() {
    let frame = CLeaveGame.encode().expect("C_LeaveGame encodes");
    assert_eq!(&frame[..], &[4, 0, 2, 0]);
    assert_eq!(CLeaveGame::decode(&[]), Ok(CLeaveGame));
}

#[test]
fn over_long_strings_are_refused_before_anything_is_written() {
    let packet = CChat {
        message: "a".repeat(40_000),
    };
    assert_eq!(
        packet.encode(),
        Err(EncodeError::TooLong {
            packet: "C_Chat",
            field: "message",
            len: 80_000
        })
    );
}

#[test]
fn manager_decodes_client_packets() {
    let body = [0u8; 12];
    assert_eq!(
        PacketManager::decode(5, &body),
        Ok(Incoming::CMove(CMove::default()))
    );
    let ping = CPing {
        client_time: -1_234_567_890_123,
    };
    let frame = ping.encode().expect("C_Ping encodes");
    let decoded = PacketManager::decode(9, &frame[4..]).expect("C_Ping decodes");
    assert_eq!(decoded.id(), PacketId::CPing);
    assert_eq!(decoded, Incoming::CPing(ping));
}

#[test]
fn manager_refuses_unknown_ids() {
    for id in [0, 24, 999, u16::MAX] {
        assert_eq!(
            PacketManager::decode(id, &[]),
            Err(ProtocolError::UnknownPacketId { id }),
            "id {id} has no packet"
        );
    }
}

#[test]
fn manager_refuses_server_packets_from_a_client() {
    let frame = SBroadcastMove::default().encode().expect("encodes");
    assert_eq!(
        PacketManager::decode(6, &frame[4..]),
        Err(ProtocolError::UnexpectedPacket {
            id: 6,
            name: "S_BroadcastMove"
        }),
        "a client must not send S_ packets"
    );
}

#[test]
fn manager_refuses_truncated_bodies() {
    assert_eq!(
        PacketManager::decode(5, &[0; 11]),
        Err(ProtocolError::Decode {
            id: 5,
            name: "C_Move",
            error: DecodeError::Truncated {
                needed: 4,
                remaining: 3
            }
        })
    );
    // A string length that runs past the frame.
    assert!(matches!(
        PacketManager::decode(7, &[10, 0, 0x41, 0]),
        Err(ProtocolError::Decode {
            error: DecodeError::Truncated { .. },
            ..
        })
    ));
}

#[test]
fn manager_refuses_trailing_garbage() {
    assert_eq!(
        PacketManager::decode(2, &[0xAA]),
        Err(ProtocolError::Decode {
            id: 2,
            name: "C_LeaveGame",
            error: DecodeError::TrailingBytes { extra: 1 }
        })
    );
    assert_eq!(
        PacketManager::decode(5, &[0; 13]),
        Err(ProtocolError::Decode {
            id: 5,
            name: "C_Move",
            error: DecodeError::TrailingBytes { extra: 1 }
        })
    );
}

#[test]
fn manager_refuses_invalid_strings() {
    let invalid = Err(ProtocolError::Decode {
        id: 7,
        name: "C_Chat",
        error: DecodeError::InvalidString {
            encoding: "utf-16le",
        },
    });
    assert_eq!(
        PacketManager::decode(7, &[1, 0, 0x41]),
        invalid,
        "odd length"
    );
    assert_eq!(
        PacketManager::decode(7, &[2, 0, 0x00, 0xD8]),
        invalid,
        "lone surrogate"
    );
}

#[test]
fn list_counts_larger_than_the_frame_are_refused() {
    // Claims 5 players but carries one (17 bytes): refused before allocating 5.
    let mut body = vec![5, 0];
    body.extend([0u8; 17]);
    assert_eq!(
        SPlayerList::decode(&body),
        Err(DecodeError::Truncated {
            needed: 85,
            remaining: 17
        })
    );
    assert!(
        SPlayerList::decode(&[0xFF, 0xFF]).is_err(),
        "65535 players in 0 bytes"
    );
}

#[derive(Default)]
struct Recorder {
    calls: Vec<String>,
}

impl PacketHandler for Recorder {
    fn on_c_leave_game(&mut self, _packet: CLeaveGame) {
        self.calls.push("leave".to_owned());
    }
    fn on_c_move(&mut self, packet: CMove) {
        self.calls.push(format!("move {}", packet.pos_x));
    }
    fn on_c_chat(&mut self, packet: CChat) {
        self.calls.push(format!("chat {}", packet.message));
    }
    fn on_c_ping(&mut self, packet: CPing) {
        self.calls.push(format!("ping {}", packet.client_time));
    }
    fn on_c_udp_request(&mut self, _packet: CUdpRequest) {
        self.calls.push("udp request".to_owned());
    }
    fn on_c_udp_bind(&mut self, packet: CUdpBind) {
        self.calls.push(format!(
            "udp bind {} {} {}",
            packet.player_id, packet.token, packet.want_moves
        ));
    }
    fn on_c_udp_move(&mut self, packet: CUdpMove) {
        self.calls
            .push(format!("udp move {} {}", packet.seq, packet.pos_x));
    }
    fn on_c_udp_prove(&mut self, packet: CUdpProve) {
        self.calls
            .push(format!("udp prove {} {}", packet.player_id, packet.cookie));
    }
    fn on_c_login(&mut self, packet: CLogin) {
        self.calls
            .push(format!("login {} {}", packet.name, packet.create));
    }
    fn on_c_login_token(&mut self, packet: CLoginToken) {
        self.calls
            .push(format!("token login {} {}", packet.name, packet.token));
    }
}

#[test]
fn dispatch_calls_the_matching_handler_method() {
    let mut recorder = Recorder::default();
    let frames = [
        CMove {
            pos_x: 2.5,
            ..CMove::default()
        }
        .encode(),
        CChat {
            message: "héllo".to_owned(),
        }
        .encode(),
        CPing { client_time: 42 }.encode(),
        CUdpRequest.encode(),
        CUdpBind {
            player_id: 7,
            token: -3,
            want_moves: true,
        }
        .encode(),
        CUdpMove {
            seq: 9,
            pos_x: 1.5,
            ..CUdpMove::default()
        }
        .encode(),
        CUdpProve {
            player_id: 7,
            cookie: -11,
        }
        .encode(),
        CLoginToken {
            name: "Ann".to_owned(),
            token: "ab".to_owned(),
        }
        .encode(),
        CLeaveGame.encode(),
    ];
    for frame in frames {
        let frame = frame.expect("encodes");
        let id = u16::from_le_bytes([frame[2], frame[3]]);
        PacketManager::dispatch(id, &frame[4..], &mut recorder).expect("dispatches");
    }
    assert_eq!(
        recorder.calls,
        [
            "move 2.5",
            "chat héllo",
            "ping 42",
            "udp request",
            "udp bind 7 -3 true",
            "udp move 9 1.5",
            "udp prove 7 -11",
            "token login Ann ab",
            "leave"
        ],
        "each packet should reach its own handler method, in order"
    );
    assert!(
        PacketManager::dispatch(1, &[], &mut recorder).is_err(),
        "an S_ packet must not reach the server's handler"
    );
    assert_eq!(recorder.calls.len(), 9);
}

fn finite_f32() -> impl Strategy<Value = f32> {
    use proptest::num::f32;
    f32::POSITIVE | f32::NEGATIVE | f32::NORMAL | f32::SUBNORMAL | f32::ZERO | f32::INFINITE
}

fn player() -> impl Strategy<Value = Player> {
    (
        any::<bool>(),
        any::<i32>(),
        finite_f32(),
        finite_f32(),
        finite_f32(),
    )
        .prop_map(|(is_self, player_id, pos_x, pos_y, pos_z)| Player {
            is_self,
            player_id,
            pos_x,
            pos_y,
            pos_z,
        })
}

proptest! {
    #[test]
    fn shipped_packets_round_trip(
        players in prop::collection::vec(player(), 0..50),
        player_id in any::<i32>(),
        message in any::<String>(),
        time in any::<i64>(),
        pos in (finite_f32(), finite_f32(), finite_f32()),
    ) {
        fn round_trip<P: Packet + PartialEq + std::fmt::Debug>(packet: P) -> Result<(), TestCaseError> {
            let frame = packet.encode().expect("small packets encode");
            prop_assert_eq!(usize::from(u16::from_le_bytes([frame[0], frame[1]])), frame.len());
            prop_assert_eq!(u16::from_le_bytes([frame[2], frame[3]]), P::ID);
            prop_assert_eq!(P::decode(&frame[4..]), Ok(packet));
            Ok(())
        }
        round_trip(SPlayerList { players })?;
        round_trip(SChat { player_id, message: message.clone() })?;
        round_trip(CChat { message })?;
        round_trip(CPing { client_time: time })?;
        round_trip(SPong { client_time: time })?;
        round_trip(SBroadcastLeaveGame { player_id })?;
        round_trip(SBroadcastEnterGame { player_id, pos_x: pos.0, pos_y: pos.1, pos_z: pos.2 })?;
        round_trip(SBroadcastMove { player_id, pos_x: pos.0, pos_y: pos.1, pos_z: pos.2 })?;
        round_trip(CMove { pos_x: pos.0, pos_y: pos.1, pos_z: pos.2 })?;
    }

    #[test]
    fn any_body_decodes_or_fails_without_panicking(
        id in 0u16..16,
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = PacketManager::decode(id, &body);
    }
}
