//! The framing and every generated decoder against arbitrary bytes: never a panic, never a
//! read past the body.

use game_server::packets::{
    self as server_packets, CLeaveGame, PacketId, SBroadcastEnterGame, SBroadcastLeaveGame,
    SBroadcastMove, SPlayerList,
};
use proptest::prelude::*;
use server_core::frame::{parse_header, HEADER_SIZE};
use server_core::{Packet, ProtocolError};

use crate::common::MEMORY;

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
        Incoming::CUdpRequest(p) => p.encode(),
        Incoming::CUdpBind(p) => p.encode(),
        Incoming::CUdpMove(p) => p.encode(),
        Incoming::CUdpProve(p) => p.encode(),
        Incoming::CLogin(p) => p.encode(),
        Incoming::CLoginToken(p) => p.encode(),
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
                // nothing beyond it. A bool decodes any non-zero byte as true and encodes
                // it as 1 (C_UdpBind's last field), so that byte is compared as a bool.
                let mut expected = body.clone();
                if matches!(packet, server_packets::Incoming::CUdpBind(_)) {
                    if let Some(want_moves) = expected.last_mut() {
                        *want_moves = u8::from(*want_moves != 0);
                    }
                }
                prop_assert_eq!(reencode(&packet), expected);
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
