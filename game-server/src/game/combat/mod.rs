//! Combat rules, sans-I/O: whether a skill use is allowed ([`check_use`]), what it does
//! ([`Vitals`], [`damage`]), and what a kill is worth ([`Progress`]). The region that owns
//! the attacker applies them with its own positions and views; nothing here trusts a
//! client, reads a clock or touches a socket, so every rule is tested on plain values.

mod progress;
mod skill_use;
mod vitals;

pub use progress::Progress;
pub use skill_use::{check_use, damage, Combatant, Cooldowns, Refusal, SkillUse};
pub use vitals::{Hit, Vitals};
