//! The game's packets, generated from `packets.json` by `build.rs` (packet-gen, server role).
//!
//! Every packet struct is here for both directions: the server encodes `S_` packets and
//! tests may decode them. The receive side is the server's: [`Incoming`] holds the `C_`
//! packets, [`PacketHandler`] has one method per `C_` packet, and [`PacketManager`] decodes a
//! frame body by id in O(1), refusing unknown ids and `S_` packets with a `ProtocolError`.
//! See `docs/PACKETS.md` for the schema format.

include!(concat!(env!("OUT_DIR"), "/packets.rs"));
