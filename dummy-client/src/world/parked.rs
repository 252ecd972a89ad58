//! `Parked`: the bots whose connection the churn dropped, by player id, with where each
//! stands, for their watchers' checks (`checker.rs`: a parked player must neither leave nor
//! enter again).
//!
//! The driver writes it, once per drop and once per rejoin; every bot's session reads it for
//! each spawn and despawn it receives (not for moves, the hot frame). So it is a player-id
//! index built once when every bot has entered (`senders.rs`'s flat arrays) and one atomic
//! per bot: no lock on a frame's path.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::world::senders::SenderIndex;

/// Not parked: NaN bits, which no position the driver walks has.
const NONE: u64 = u64::MAX;

/// The parked bots of a run.
#[derive(Debug)]
pub(crate) struct Parked {
    ids: SenderIndex,
    /// Per bot: where it stands while parked (x and z as f32 bits), [`NONE`] otherwise.
    stands: Vec<AtomicU64>,
    /// Squared distance within which a correct server keeps a parked player in view: the
    /// inner radius less the lag slack, as for the moves a receiver must get (`driver.rs`).
    kept2: f32,
}

impl Parked {
    /// Nobody parked yet, of `bots` bots with `(player id, bot index)` pairs `ids`; a
    /// receiver within `kept` of a parked player must keep it in view.
    pub(crate) fn new(
        ids: impl IntoIterator<Item = (i32, usize)>,
        bots: usize,
        kept: f32,
    ) -> Parked {
        Parked {
            ids: SenderIndex::new(ids),
            stands: (0..bots).map(|_| AtomicU64::new(NONE)).collect(),
            kept2: kept * kept,
        }
    }

    /// Bot `bot`'s connection dropped; it stands at (x, z).
    pub(crate) fn park(&self, bot: usize, x: f32, z: f32) {
        if let Some(slot) = self.stands.get(bot) {
            let bits = (u64::from(x.to_bits()) << 32) | u64::from(z.to_bits());
            slot.store(bits, Ordering::Release);
        }
    }

    /// Bot `bot` is back (or gone for good).
    pub(crate) fn unpark(&self, bot: usize) {
        if let Some(slot) = self.stands.get(bot) {
            slot.store(NONE, Ordering::Release);
        }
    }

    /// If player `player_id` is parked: whether a receiver at `me_at` is near enough that a
    /// correct server keeps it in view.
    pub(crate) fn near(&self, player_id: i32, me_at: (f32, f32)) -> Option<bool> {
        let bot = self.ids.get(player_id)?;
        let bits = self.stands.get(bot)?.load(Ordering::Acquire);
        if bits == NONE {
            return None;
        }
        let (x, z) = (
            f32::from_bits((bits >> 32) as u32),
            f32::from_bits(bits as u32),
        );
        let (dx, dz) = (x - me_at.0, z - me_at.1);
        Some(dx * dx + dz * dz <= self.kept2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parked_bot_is_found_by_its_id_until_it_is_back() {
        let p = Parked::new([(11, 0), (12, 1)], 2, 10.0);
        assert_eq!(p.near(12, (0.0, 0.0)), None, "nobody parked");
        p.park(1, 3.0, 4.0);
        assert_eq!(p.near(12, (0.0, 0.0)), Some(true), "5 away");
        assert_eq!(p.near(12, (3.0, 14.5)), Some(false), "10.5 away");
        assert_eq!(p.near(11, (0.0, 0.0)), None, "another bot");
        assert_eq!(p.near(99, (0.0, 0.0)), None, "no bot's id");
        p.unpark(1);
        assert_eq!(p.near(12, (0.0, 0.0)), None);
        p.park(7, 0.0, 0.0);
        p.unpark(7);
    }
}
