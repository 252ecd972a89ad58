//! Hostile input, faults and overload, over real sockets against an in-process game server.
//!
//! Every socket test has offenders and one well-behaved player. The offender must be closed,
//! with the reason the server logs next to its address; the well-behaved player must keep
//! playing (its move still comes back); the offender's player must leave the room exactly
//! once; and nothing may panic (a panic in a session or room job would show up as a missing
//! close, a missing leave, or a dead good player). The decoders get property tests.
//!
//! One test binary, one file per kind of fault under `tests/hostile/`:
//! - `malformed`: bad frames and bodies, each closing only its sender with a protocol error;
//! - `idle`: slowloris clients, closed by the idle timeout;
//! - `slow_consumer`: a client that never reads, closed at its send queue limit, with the
//!   process's memory bounded;
//! - `flood`: connections beyond `max_connections`, refused at once;
//! - `reconnect`: a reconnect loop and an address holding many connections, checked by the
//!   per-address limits;
//! - `refused`: refused input (over-long chat, over a rate limit), bounded in the log and
//!   closed when it keeps coming;
//! - `resets`: clients that reset with data in flight both ways;
//! - `decoders`: property tests of the framing and every generated decoder;
//! - `common`: the room with one well-behaved player, and the captured server log.

mod support;

#[path = "hostile/common.rs"]
mod common;
#[path = "hostile/decoders.rs"]
mod decoders;
#[path = "hostile/flood.rs"]
mod flood;
#[path = "hostile/idle.rs"]
mod idle;
#[path = "hostile/malformed.rs"]
mod malformed;
#[path = "hostile/reconnect.rs"]
mod reconnect;
#[path = "hostile/refused.rs"]
mod refused;
#[path = "hostile/resets.rs"]
mod resets;
#[path = "hostile/slow_consumer.rs"]
mod slow_consumer;
