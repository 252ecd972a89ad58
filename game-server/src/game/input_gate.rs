//! `InputGate`: one player's move rate limit and refusal budget, whichever transport the
//! input came by.
//!
//! A player may send moves over TCP (`C_Move`) and, once bound, over UDP (`C_UdpMove`); the
//! two arrive on different tasks. The limits are per player, not per transport, or a client
//! could double its move rate by using both, so the buckets live here behind a mutex that
//! both of the player's sessions hold. It is a std mutex taken for a few arithmetic
//! operations per input, never across an `.await`, and contended only when one player's two
//! sessions receive at the same instant.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use server_core::{CloseReason, ProtocolError};

use crate::game::counters::ServerStats;
use crate::game::rate_limit::{Rate, TokenBucket};

/// Where refusals are counted, and the clock of the once-a-second log.
#[derive(Clone, Copy)]
pub(crate) struct Meters<'a> {
    pub stats: &'a ServerStats,
    /// Inputs dropped by a rate limit (`game_inputs_dropped_total{cause="rate_limit"}`).
    pub rate_limited: &'a AtomicU64,
    pub started: Instant,
}

/// What to do with one input.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    /// Push it to the room.
    Admit,
    /// Drop it (already counted and, at most once a second, logged).
    Drop,
    /// Close the session it came by, for this reason.
    Close(CloseReason),
}

/// The buckets of one player.
#[derive(Debug)]
struct Buckets {
    moves: TokenBucket,
    /// One token per refused input; empty means the peer keeps sending what is refused.
    refusals: TokenBucket,
}

/// One player's input limits, shared by its TCP session and its UDP session.
#[derive(Debug)]
pub(crate) struct InputGate {
    buckets: Mutex<Buckets>,
    refused_input_limit: Rate,
}

impl InputGate {
    /// Full buckets at `now`.
    pub fn new(move_rate: Rate, refused_input_limit: Rate, now: Instant) -> Self {
        InputGate {
            buckets: Mutex::new(Buckets {
                moves: TokenBucket::new(move_rate, now),
                refusals: TokenBucket::new(refused_input_limit, now),
            }),
            refused_input_limit,
        }
    }

    /// The finite check and the move rate limit, the same for `C_Move` and `C_UdpMove`.
    /// `what` names the packet in logs and close reasons.
    pub fn check_move(
        &self,
        what: &'static str,
        player_id: i32,
        pos: [f32; 3],
        meters: Meters<'_>,
        now: Instant,
    ) -> Verdict {
        if !pos.iter().all(|c| c.is_finite()) {
            return Verdict::Close(CloseReason::ProtocolError(ProtocolError::Invalid(format!(
                "{what} with a non-finite position {pos:?}"
            ))));
        }
        if self.lock().moves.try_take(now) {
            return Verdict::Admit;
        }
        meters.rate_limited.fetch_add(1, Ordering::Relaxed);
        self.refused(what, "over the move rate limit", player_id, meters, now)
    }

    /// Counts a refused input and logs it (at most once a second, server-wide); `Close`
    /// once the peer has used up its refusals.
    pub fn refused(
        &self,
        what: &'static str,
        why: &'static str,
        player_id: i32,
        meters: Meters<'_>,
        now: Instant,
    ) -> Verdict {
        let Meters { stats, started, .. } = meters;
        let rejected = stats.inputs_rejected.fetch_add(1, Ordering::Relaxed) + 1;
        if stats.warn_once_a_second(started) {
            tracing::warn!(
                player_id,
                input = what,
                why,
                rejected_total = rejected,
                "input refused (logged at most once a second)"
            );
        }
        if self.lock().refusals.try_take(now) {
            return Verdict::Drop;
        }
        let limit = self.refused_input_limit;
        Verdict::Close(CloseReason::ApplicationError(format!(
            "kept sending refused input ({what}: {why}) past {} refusals at {}/s",
            limit.burst, limit.per_sec
        )))
    }

    fn lock(&self) -> MutexGuard<'_, Buckets> {
        // Each update is a few float operations: a panic cannot leave a bucket half-written.
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> InputGate {
        InputGate::new(
            Rate {
                per_sec: 1.0,
                burst: 2.0,
            },
            Rate {
                per_sec: 1.0,
                burst: 3.0,
            },
            Instant::now(),
        )
    }

    #[test]
    fn moves_past_the_rate_are_dropped_then_the_player_is_closed() {
        let gate = gate();
        let (stats, limited) = (ServerStats::default(), AtomicU64::new(0));
        let now = Instant::now();
        let meters = Meters {
            stats: &stats,
            rate_limited: &limited,
            started: now,
        };
        let check = || gate.check_move("C_Move", 1, [0.0; 3], meters, now);
        assert_eq!(check(), Verdict::Admit);
        assert_eq!(check(), Verdict::Admit, "the burst is two moves");
        for _ in 0..3 {
            assert_eq!(check(), Verdict::Drop, "over the rate: dropped");
        }
        assert!(
            matches!(check(), Verdict::Close(CloseReason::ApplicationError(_))),
            "the fourth refusal finds the refusal budget empty"
        );
        assert_eq!(limited.load(Ordering::Relaxed), 4);
        assert_eq!(stats.inputs_rejected.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn a_non_finite_position_closes_without_taking_a_token() {
        let gate = gate();
        let (stats, limited) = (ServerStats::default(), AtomicU64::new(0));
        let now = Instant::now();
        let meters = Meters {
            stats: &stats,
            rate_limited: &limited,
            started: now,
        };
        let verdict = gate.check_move("C_UdpMove", 1, [f32::NAN, 0.0, 0.0], meters, now);
        assert!(matches!(
            verdict,
            Verdict::Close(CloseReason::ProtocolError(_))
        ));
        assert_eq!(
            gate.check_move("C_Move", 1, [0.0; 3], meters, now),
            Verdict::Admit
        );
        assert_eq!(
            gate.check_move("C_Move", 1, [0.0; 3], meters, now),
            Verdict::Admit,
            "both burst tokens were still there"
        );
    }
}
