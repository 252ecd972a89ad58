//! The [`Behaviour`] trait, what a behaviour sees ([`Ctx`], [`Senses`]) and does
//! ([`Event`]), and the steps every behaviour shares ([`shared_step`]).
//!
//! A new behaviour is one type in one file implementing `Behaviour` (usually a few lines
//! that call [`shared_step`] with its own choice of target), added to `registry.rs`'s
//! `BEHAVIOURS`; a monster kind picks it by name in `monsters.json` (`"behaviour": "..."`).

use rand_pcg::Pcg32;

use super::monster::{Monster, MonsterId, State};
use super::steer::{dist_sq, point_in_disc, step_toward};
use crate::game::data::MonsterKind;

/// What the region tells the AI about players (its grid and positions).
pub trait Senses {
    /// The nearest living player within `radius` of `pos`: its id and position.
    fn nearest_player(&self, pos: [f32; 2], radius: f32) -> Option<(i32, [f32; 2])>;
    /// Where living player `id` stands, if the region has it.
    fn player(&self, id: i32) -> Option<[f32; 2]>;
}

/// What a monster did this tick, for the region to apply and show.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// It moved to `pos`.
    Moved {
        /// Who.
        monster: MonsterId,
        /// Where to.
        pos: [f32; 2],
    },
    /// It hit player `target` for `damage` (the region applies it to the player).
    Attack {
        /// Who.
        monster: MonsterId,
        /// The player.
        target: i32,
        /// How much.
        damage: u32,
    },
    /// Back home from a leash, healed to `hp`.
    Healed {
        /// Who.
        monster: MonsterId,
        /// Its HP now (full).
        hp: u32,
    },
    /// Back from the dead at `pos` with `hp`.
    Respawned {
        /// Who.
        monster: MonsterId,
        /// Its spawn point.
        pos: [f32; 2],
        /// Full.
        hp: u32,
    },
}

/// One monster's tick.
pub struct Ctx<'a> {
    /// The monster.
    pub monster: &'a mut Monster,
    /// Its kind.
    pub kind: &'a MonsterKind,
    /// The region's clock.
    pub now_ms: u64,
    /// Seconds since its last step.
    pub dt: f32,
    /// The players.
    pub senses: &'a dyn Senses,
    /// The region's random draws (seeded: a replay draws the same).
    pub rng: &'a mut Pcg32,
    /// What it did.
    pub events: &'a mut Vec<Event>,
}

/// What a kind of monster does each tick.
pub trait Behaviour: Sync {
    /// The name `monsters.json` uses.
    fn name(&self) -> &'static str;
    /// One tick of `ctx.monster`.
    fn step(&self, ctx: &mut Ctx<'_>);
}

/// How long an idle monster stands before it wanders again: 2 to 6 s.
const IDLE_MS: std::ops::Range<u64> = 2_000..6_000;
/// Wandering is a stroll: this share of the kind's speed.
const WANDER_PACE: f32 = 0.5;

/// The steps every behaviour shares: respawn, walk home and heal, idle and wander, chase
/// and hit. `pick_target` chooses whom an idle or wandering monster goes after (`None`: it
/// keeps to itself); hit, every behaviour hits back (`Monster::hit`).
pub fn shared_step(ctx: &mut Ctx<'_>, pick_target: impl Fn(&Ctx<'_>) -> Option<i32>) {
    use rand::Rng;
    let (id, kind, now) = (ctx.monster.id, ctx.kind, ctx.now_ms);
    match ctx.monster.state {
        State::Dead { respawn_ms } => {
            if now >= respawn_ms {
                let m = &mut *ctx.monster;
                m.pos = m.spawn;
                m.vitals.heal_full();
                m.state = State::Idle {
                    until_ms: now + ctx.rng.gen_range(IDLE_MS),
                };
                ctx.events.push(Event::Respawned {
                    monster: id,
                    pos: m.pos,
                    hp: m.vitals.hp(),
                });
            }
        }
        State::Return => {
            let m = &mut *ctx.monster;
            let (pos, home) = step_toward(m.pos, m.spawn, kind.speed * ctx.dt, 0.0);
            if pos != m.pos {
                m.pos = pos;
                ctx.events.push(Event::Moved { monster: id, pos });
            }
            if home {
                if m.vitals.heal_full() {
                    ctx.events.push(Event::Healed {
                        monster: id,
                        hp: m.vitals.hp(),
                    });
                }
                m.state = State::Idle {
                    until_ms: now + ctx.rng.gen_range(IDLE_MS),
                };
            }
        }
        State::Idle { .. } | State::Wander { .. } => {
            if let Some(target) = pick_target(ctx) {
                ctx.monster.state = State::Chase { target };
                chase(ctx, target);
                return;
            }
            match ctx.monster.state {
                State::Idle { until_ms } if now >= until_ms => {
                    let to = point_in_disc(ctx.rng, ctx.monster.spawn, kind.wander_radius);
                    ctx.monster.state = State::Wander { to };
                }
                State::Wander { to } => {
                    let m = &mut *ctx.monster;
                    let (pos, there) =
                        step_toward(m.pos, to, kind.speed * WANDER_PACE * ctx.dt, 0.0);
                    if pos != m.pos {
                        m.pos = pos;
                        ctx.events.push(Event::Moved { monster: id, pos });
                    }
                    if there {
                        m.state = State::Idle {
                            until_ms: now + ctx.rng.gen_range(IDLE_MS),
                        };
                    }
                }
                _ => {}
            }
        }
        State::Chase { target } => chase(ctx, target),
    }
}

/// Goes after player `target`: gives up (walks home) when it is gone, dead, or has left
/// the leash radius around the spawn point; hits it when in range and off cooldown; else
/// moves toward it, stopping a little inside attack range.
fn chase(ctx: &mut Ctx<'_>, target: i32) {
    let (id, kind, now) = (ctx.monster.id, ctx.kind, ctx.now_ms);
    let leash_sq = kind.leash_radius * kind.leash_radius;
    let Some(at) = ctx
        .senses
        .player(target)
        .filter(|at| dist_sq(*at, ctx.monster.spawn) <= leash_sq)
    else {
        ctx.monster.state = State::Return;
        return;
    };
    let m = &mut *ctx.monster;
    let range = kind.attack_range;
    if dist_sq(m.pos, at) <= range * range {
        if now >= m.attack_ready_ms {
            m.attack_ready_ms = now + u64::from(kind.attack_cooldown_ms);
            ctx.events.push(Event::Attack {
                monster: id,
                target,
                damage: kind.damage,
            });
        }
        return;
    }
    let (pos, _) = step_toward(m.pos, at, kind.speed * ctx.dt, range * 0.8);
    if pos != m.pos {
        m.pos = pos;
        ctx.events.push(Event::Moved { monster: id, pos });
    }
}
