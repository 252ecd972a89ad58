//! When each of a bot's own window moves was sent, so its echo (the room's
//! `S_BroadcastMove` of it, back to the bot itself) gives a round trip.
//!
//! `C_Ping` measures the network and the session, but the course's server does not answer
//! it. The move echo works against any server of the course's protocol, and it includes what
//! a player feels: the wait for the room's next flush tick. The driver stamps a move when it
//! queues it; the bot's own session task reads the stamp when the echo arrives, matched by the
//! sequence number the window move carries (see `moves.rs`). Lock-free: one atomic store per
//! move sent and one load per own echo, in a ring of the last [`SLOTS`] moves.

use std::sync::atomic::{AtomicU64, Ordering};

/// Moves remembered per bot: at the course's 4 moves a second, 16 s of them. An echo later
/// than that finds its slot reused by a newer move and is not timed (it is still counted as
/// delivered by the move accounting).
pub(crate) const SLOTS: usize = 64;

/// Bits of a slot that hold the send time, in microseconds since the run started (about
/// 8.9 years); the 16 above them hold the move's sequence number.
const TIME_BITS: u32 = 48;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;
const EMPTY: u64 = u64::MAX;

/// Send times of one bot's last window moves.
#[derive(Debug)]
pub(crate) struct MoveClock {
    slots: [AtomicU64; SLOTS],
}

impl Default for MoveClock {
    fn default() -> Self {
        MoveClock {
            slots: std::array::from_fn(|_| AtomicU64::new(EMPTY)),
        }
    }
}

impl MoveClock {
    /// Window move `seq` (as carried on the wire) was queued at `now_us`.
    pub(crate) fn sent(&self, seq: u16, now_us: u64) {
        let packed = (u64::from(seq) << TIME_BITS) | (now_us & TIME_MASK);
        self.slots[usize::from(seq) % SLOTS].store(packed, Ordering::Relaxed);
    }

    /// The round trip of window move `seq`, echoed at `now_us`; `None` if that move's stamp
    /// is gone (overwritten by a newer move) or was never made.
    pub(crate) fn echoed(&self, seq: u16, now_us: u64) -> Option<u64> {
        let packed = self.slots[usize::from(seq) % SLOTS].load(Ordering::Relaxed);
        if packed == EMPTY || (packed >> TIME_BITS) as u16 != seq {
            return None;
        }
        Some(now_us.saturating_sub(packed & TIME_MASK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echo_finds_its_own_send_time() {
        let clock = MoveClock::default();
        clock.sent(1, 1_000);
        clock.sent(2, 251_000);
        assert_eq!(clock.echoed(1, 260_000), Some(259_000));
        assert_eq!(clock.echoed(2, 260_000), Some(9_000));
        assert_eq!(clock.echoed(3, 260_000), None, "never sent");
    }

    #[test]
    fn a_stamp_overwritten_by_a_newer_move_is_not_mistaken_for_it() {
        let clock = MoveClock::default();
        clock.sent(5, 100);
        clock.sent(5 + SLOTS as u16, 200);
        assert_eq!(clock.echoed(5, 300), None, "slot reused by move 69");
        assert_eq!(clock.echoed(5 + SLOTS as u16, 300), Some(100));
    }

    #[test]
    fn sequence_numbers_wrap_with_the_wire() {
        let clock = MoveClock::default();
        clock.sent(u16::MAX, 10);
        clock.sent(0, 20);
        assert_eq!(clock.echoed(u16::MAX, 30), Some(20));
        assert_eq!(clock.echoed(0, 30), Some(10));
    }
}
