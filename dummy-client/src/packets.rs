//! The game's packets, generated from `packets.json` by `build.rs` (packet-gen, client role).
//!
//! Every packet struct is here for both directions: the client encodes `C_` packets. The
//! receive side is the client's: [`Incoming`] holds the `S_` packets, [`PacketHandler`] has
//! one method per `S_` packet, and [`PacketManager`] decodes a frame body by id in O(1),
//! refusing unknown ids and `C_` packets with a `ProtocolError`. See `docs/PACKETS.md`.

include!(concat!(env!("OUT_DIR"), "/packets.rs"));
