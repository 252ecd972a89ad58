//! Moves over UDP for players who proved over TCP who they are (`--udp-addr`).
//!
//! The handshake: over TCP the client sends `C_UdpRequest` and gets `S_UdpTicket { playerId,
//! token, port }` (port 0: UDP is off). Over UDP, to that port, it sends `C_UdpBind {
//! playerId, token, wantMoves }` until `S_UdpBound` comes back. A good token is first
//! answered with `S_UdpChallenge { playerId, cookie }`; the client echoes it as `C_UdpProve
//! { playerId, cookie }`, which proves its address receives ([`proof`]), and only then is the
//! address bound and answered with `S_UdpBound`. Then `C_UdpMove { seq, pos }`.
//! [`tickets`] holds the tokens, [`link`] what a bound UDP session shares with its player's
//! TCP session, [`session`] the UDP session's handler. A bound move takes the TCP move's path
//! (the same finite check and per-player rate limit, the room's input queue); with
//! `wantMoves` the room sends the player's `S_BroadcastMove`s over UDP (see `game/room.rs`).

pub(crate) mod link;
pub(crate) mod proof;
pub(crate) mod session;
pub(crate) mod settings;
pub(crate) mod stats;
pub(crate) mod tickets;

pub use settings::UdpSettings;
pub use stats::UdpGameStats;
