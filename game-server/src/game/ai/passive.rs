//! `passive`: never starts a fight; wanders near its spawn point, and hits back when hit
//! (every behaviour does: `Monster::hit`).

use super::behaviour::{shared_step, Behaviour, Ctx};

/// See the module comment.
pub struct Passive;

impl Behaviour for Passive {
    fn name(&self) -> &'static str {
        "passive"
    }

    fn step(&self, ctx: &mut Ctx<'_>) {
        shared_step(ctx, |_| None);
    }
}
