//! The game's packets, generated from `packets.json` by `build.rs` (packet-gen, client role).
//!
//! Every packet struct is here for both directions: the client encodes `C_` packets. The
//! receive side is the client's: [`Incoming`] holds the `S_` packets, [`PacketHandler`] has
//! one method per `S_` packet, and [`PacketManager`] decodes a frame body by id in O(1),
//! refusing unknown ids and `C_` packets with a `ProtocolError`. See `docs/PACKETS.md`.

include!(concat!(env!("OUT_DIR"), "/packets.rs"));

#[cfg(test)]
mod tests {
    use server_core::{DecodeError, Packet, ProtocolError};

    use super::*;

    #[test]
    fn client_manager_accepts_server_packets_only() {
        let frame = SBroadcastMove {
            player_id: 3,
            pos_x: 1.0,
            pos_y: 0.0,
            pos_z: -1.0,
        }
        .encode()
        .expect("S_BroadcastMove encodes");
        let incoming =
            PacketManager::decode(6, &frame[4..]).expect("the client receives S_ packets");
        assert_eq!(incoming.id(), PacketId::SBroadcastMove);
        assert_eq!(
            PacketManager::decode(5, &[0; 12]),
            Err(ProtocolError::UnexpectedPacket {
                id: 5,
                name: "C_Move"
            }),
            "a server must not send C_ packets"
        );
        assert_eq!(
            PacketManager::decode(500, &[]),
            Err(ProtocolError::UnknownPacketId { id: 500 })
        );
    }

    #[test]
    fn client_manager_refuses_list_counts_past_the_frame() {
        assert_eq!(
            PacketManager::decode(4, &[3, 0, 1]),
            Err(ProtocolError::Decode {
                id: 4,
                name: "S_PlayerList",
                error: DecodeError::Truncated {
                    needed: 51,
                    remaining: 1
                }
            })
        );
    }
}
