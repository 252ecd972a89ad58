//! `ChurnPlan`: which world bots drop their connection, and when each comes back (`--churn-per-sec`
//! with `--login`). Sans-IO: the driver gives it the time, asks it who may send and who must
//! receive, and does what its [`Step`]s say (`driver/churn.rs`).
//!
//! A churn is one bot's trip, in four stages:
//! 1. **Leaving.** Picked at the run's rate, it is no longer a receiver that moves are
//!    required of, but it walks on for `lead` (the run's lag allowance): the moves sent before
//!    it was picked have that long to reach it before its connection goes, as any move has
//!    until the end of the run's drain.
//! 2. **Away.** Its socket is closed, with no `C_LeaveGame`: the server parks the character,
//!    standing, for its reconnect grace. The bot sends nothing for a pause drawn between
//!    `pause_min` and `pause_max`, well inside the grace.
//! 3. **Rejoining.** It connects again and logs in by token; still silent.
//! 4. **Back.** Its new `S_PlayerList` came: it walks and receives again, and may be picked
//!    again later (one trip at a time).
//!
//! Any bot may go, bot 0 too: the room's churn keeps bot 0 as the reference receiver that
//! the others' stays are checked against (`churn.rs`), but the world's accounting is kept
//! per (receiver, sender) by the driver itself (`required.rs`), and needs no reference.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Where one bot is in its trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Playing, and may be picked.
    Playing,
    /// Picked: walking on until `drop_at`, no longer a required receiver.
    Leaving { drop_at: u64 },
    /// Its connection is closed; it connects again at `rejoin_at`.
    Away { rejoin_at: u64 },
    /// Connecting and logging in again.
    Rejoining,
    /// It did not come back: never picked again, and silent to the end.
    Gone,
}

/// What the driver must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Bot `i` was picked: note the moves it sends from now on (where it may stand when it
    /// is back), and require nothing more of it as a receiver.
    Leave(usize),
    /// Close bot `i`'s connection, with no `C_LeaveGame`.
    Drop(usize),
    /// Connect bot `i` again (then call [`ChurnPlan::rejoining`]; until then this comes on
    /// every tick).
    Reconnect(usize),
}

/// The run's churn.
#[derive(Debug)]
pub(crate) struct ChurnPlan {
    per_sec: f64,
    lead_us: u64,
    pause_us: (u64, u64),
    /// Trips the pace has allowed so far (picked, or skipped when no bot could go).
    begun: u64,
    /// Trips with no bot to take them.
    skipped: u64,
    /// Per bot.
    stages: Vec<Stage>,
    /// The bots on a trip (not `Playing`, not `Gone`), so a tick looks at those only.
    trips: Vec<usize>,
    rng: StdRng,
}

impl ChurnPlan {
    /// `bots` bots, `per_sec` trips a second on average; each walks on for `lead_us` after
    /// it is picked, and stays away between `pause_us.0` and `pause_us.1` (microseconds).
    pub(crate) fn new(
        bots: usize,
        per_sec: f64,
        lead_us: u64,
        pause_us: (u64, u64),
        seed: u64,
    ) -> ChurnPlan {
        ChurnPlan {
            per_sec: if per_sec.is_finite() {
                per_sec.max(0.0)
            } else {
                0.0
            },
            lead_us,
            pause_us: (pause_us.0.min(pause_us.1), pause_us.0.max(pause_us.1)),
            begun: 0,
            skipped: 0,
            stages: vec![Stage::Playing; bots],
            trips: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// What is due by `now_us` (microseconds since the window opened), appended to `out`.
    /// With `picking`, starts the trips the pace allows, each taking a random bot that is
    /// playing and that `can_go` allows (one that entered the world).
    pub(crate) fn tick(
        &mut self,
        now_us: u64,
        picking: bool,
        can_go: impl Fn(usize) -> bool,
        out: &mut Vec<Step>,
    ) {
        for &i in &self.trips {
            match self.stages[i] {
                Stage::Leaving { drop_at } if drop_at <= now_us => {
                    let pause = self.rng.gen_range(self.pause_us.0..=self.pause_us.1);
                    self.stages[i] = Stage::Away {
                        rejoin_at: now_us.saturating_add(pause),
                    };
                    out.push(Step::Drop(i));
                }
                Stage::Away { rejoin_at } if rejoin_at <= now_us => out.push(Step::Reconnect(i)),
                _ => {}
            }
        }
        if !picking {
            return;
        }
        // The number of trips begun by now, so a late tick starts the ones it missed.
        let allowed = (self.per_sec * now_us as f64 / 1e6) as u64;
        if self.begun >= allowed {
            return;
        }
        let mut free: Vec<usize> = (0..self.stages.len())
            .filter(|&i| self.stages[i] == Stage::Playing && can_go(i))
            .collect();
        while self.begun < allowed {
            self.begun += 1;
            if free.is_empty() {
                self.skipped += 1;
                continue;
            }
            let i = free.swap_remove(self.rng.gen_range(0..free.len()));
            self.stages[i] = Stage::Leaving {
                drop_at: now_us.saturating_add(self.lead_us),
            };
            self.trips.push(i);
            out.push(Step::Leave(i));
        }
    }

    /// Bot `i` is connecting again.
    pub(crate) fn rejoining(&mut self, i: usize) {
        if matches!(self.stages.get(i), Some(Stage::Away { .. })) {
            self.stages[i] = Stage::Rejoining;
        }
    }

    /// Bot `i` is back in the world: it plays again.
    pub(crate) fn back(&mut self, i: usize) {
        self.end_trip(i, Stage::Playing);
    }

    /// Bot `i` did not come back: it stays silent to the end of the run.
    pub(crate) fn gone(&mut self, i: usize) {
        self.end_trip(i, Stage::Gone);
    }

    fn end_trip(&mut self, i: usize, to: Stage) {
        if let Some(stage) = self.stages.get_mut(i) {
            *stage = to;
            self.trips.retain(|&t| t != i);
        }
    }

    /// True if bot `i` sends moves and pings: it plays, or walks on before its drop.
    pub(crate) fn sends(&self, i: usize) -> bool {
        matches!(
            self.stages.get(i),
            Some(Stage::Playing | Stage::Leaving { .. })
        )
    }

    /// True if bot `i` must receive the moves sent now: it plays, and is on no trip.
    #[inline]
    pub(crate) fn receives(&self, i: usize) -> bool {
        matches!(self.stages.get(i), Some(Stage::Playing))
    }

    /// True if bot `i` is connecting again (`Rejoining`).
    pub(crate) fn is_rejoining(&self, i: usize) -> bool {
        matches!(self.stages.get(i), Some(Stage::Rejoining))
    }

    /// The bots on a trip now.
    pub(crate) fn on_trip(&self) -> &[usize] {
        &self.trips
    }

    /// Trips the pace allowed that found no bot to take them.
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MS: u64 = 1000;

    fn plan(bots: usize, per_sec: f64) -> ChurnPlan {
        ChurnPlan::new(bots, per_sec, 1000 * MS, (200 * MS, 1000 * MS), 7)
    }

    #[test]
    fn a_trip_leaves_drops_pauses_and_reconnects_in_that_order() {
        let mut p = plan(3, 1.0);
        let mut out = Vec::new();
        p.tick(999 * MS, true, |_| true, &mut out);
        assert!(out.is_empty(), "one a second: none before 1 s");
        p.tick(1000 * MS, true, |i| i == 2, &mut out);
        assert_eq!(out, [Step::Leave(2)], "only bot 2 may go");
        assert!(p.sends(2) && !p.receives(2), "walks on, owed nothing");
        out.clear();
        p.tick(1999 * MS, false, |_| true, &mut out);
        assert!(out.is_empty(), "the lead is a second");
        p.tick(2000 * MS, false, |_| true, &mut out);
        assert_eq!(out, [Step::Drop(2)]);
        assert!(!p.sends(2) && !p.receives(2), "away: silent");
        out.clear();
        p.tick(2199 * MS, false, |_| true, &mut out);
        assert!(out.is_empty(), "the pause is at least 200 ms");
        p.tick(3000 * MS, false, |_| true, &mut out);
        assert_eq!(out, [Step::Reconnect(2)]);
        out.clear();
        p.tick(3001 * MS, false, |_| true, &mut out);
        assert_eq!(out, [Step::Reconnect(2)], "asked again until it connects");
        p.rejoining(2);
        out.clear();
        p.tick(3002 * MS, false, |_| true, &mut out);
        assert!(out.is_empty());
        assert!(p.is_rejoining(2) && !p.sends(2));
        assert_eq!(p.on_trip(), [2]);
        p.back(2);
        assert!(p.sends(2) && p.receives(2));
        assert!(p.on_trip().is_empty());
    }

    #[test]
    fn trips_with_no_bot_free_are_skipped_and_a_gone_bot_never_goes_again() {
        let mut p = plan(2, 10.0);
        let mut out = Vec::new();
        p.tick(300 * MS, true, |_| true, &mut out);
        assert_eq!(out.len(), 2, "three due, two bots");
        assert_eq!(p.skipped(), 1);
        for &s in &out {
            if let Step::Leave(i) = s {
                p.gone(i);
            }
        }
        out.clear();
        p.tick(10_000 * MS, true, |_| true, &mut out);
        assert!(out.is_empty(), "gone bots stay gone");
        assert_eq!(p.skipped(), 100 - 2);
        assert!(!p.sends(0) && !p.receives(1));
    }

    #[test]
    fn no_rate_no_trip() {
        for per_sec in [0.0, -3.0, f64::NAN] {
            let mut p = plan(5, per_sec);
            let mut out = Vec::new();
            p.tick(u64::MAX / 2, true, |_| true, &mut out);
            assert!(out.is_empty(), "{per_sec}");
        }
    }

    proptest! {
        /// Whatever the ticks, a bot is on one trip at a time, its steps come in order, the
        /// pace is kept, and a drop comes `lead` after its leave at the earliest.
        #[test]
        fn trips_keep_their_order_and_the_pace(
            bots in 1usize..8,
            per_sec in 0.5f64..20.0,
            ticks in proptest::collection::vec((1u64..400, any::<bool>()), 1..200),
        ) {
            let mut p = ChurnPlan::new(bots, per_sec, 300 * MS, (50 * MS, 400 * MS), 3);
            let mut now = 0;
            let mut last: Vec<Option<(Step, u64)>> = vec![None; bots];
            let mut trips = 0u64;
            for (step_ms, comes_back) in ticks {
                now += step_ms * MS;
                let mut out = Vec::new();
                p.tick(now, true, |_| true, &mut out);
                for s in out {
                    let i = match s { Step::Leave(i) | Step::Drop(i) | Step::Reconnect(i) => i };
                    let before = last[i].map(|(s, _)| s);
                    match s {
                        Step::Leave(_) => {
                            prop_assert!(matches!(before, None | Some(Step::Reconnect(_))));
                            trips += 1;
                        }
                        Step::Drop(_) => {
                            prop_assert!(matches!(before, Some(Step::Leave(_))));
                            let left = last[i].map_or(0, |(_, at)| at);
                            prop_assert!(now >= left + 300 * MS);
                        }
                        Step::Reconnect(_) => {
                            prop_assert!(matches!(before, Some(Step::Drop(_) | Step::Reconnect(_))));
                            p.rejoining(i);
                            if comes_back { p.back(i); } else { p.gone(i); }
                        }
                    }
                    last[i] = Some((s, now));
                }
                let allowed = (per_sec * now as f64 / 1e6) as u64;
                prop_assert_eq!(trips + p.skipped(), allowed);
            }
        }
    }
}
