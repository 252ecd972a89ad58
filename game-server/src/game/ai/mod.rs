//! Monsters and their AI, sans-I/O: what each monster does each tick, given what the region
//! tells it about players ([`Senses`]); what it did comes back as [`Event`]s for the region
//! to apply (damage to players) and show (moves, heals, respawns).
//!
//! - `monster.rs`: [`Monster`], its [`State`] and what a hit does.
//! - `behaviour.rs`: the [`Behaviour`] trait and the steps every behaviour shares: idle and
//!   wander near the spawn point, chase at the kind's speed, attack in range on the
//!   cooldown, leash home and heal, respawn.
//! - `melee.rs`, `passive.rs`: the behaviours there are (one file each), registered in
//!   `registry.rs` ([`BEHAVIOURS`]).
//! - `herd.rs`: [`Herd`], a region's monsters: which of them think each tick (only those a
//!   player can see or reach, and those on their way somewhere).
//! - `steer.rs`: plane geometry.
//!
//! Everything random comes from one PCG per region, seeded: the same seed and the same
//! players replay the same ticks.

mod behaviour;
mod herd;
mod melee;
mod monster;
mod passive;
mod registry;
mod steer;

pub use behaviour::{shared_step, Behaviour, Ctx, Event, Senses};
pub use herd::{Herd, MAX_DT};
pub use monster::{Monster, MonsterId, State};
pub use registry::{behaviour_named, BEHAVIOURS};

#[cfg(test)]
mod tests;
