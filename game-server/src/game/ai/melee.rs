//! `melee`: goes after the nearest living player within its aggro radius (if that player is
//! within its leash), and hits it in range.

use super::behaviour::{shared_step, Behaviour, Ctx};
use super::steer::dist_sq;

/// See the module comment.
pub struct Melee;

impl Behaviour for Melee {
    fn name(&self) -> &'static str {
        "melee"
    }

    fn step(&self, ctx: &mut Ctx<'_>) {
        shared_step(ctx, |ctx| {
            let (pos, kind) = (ctx.monster.pos, ctx.kind);
            let (target, at) = ctx.senses.nearest_player(pos, kind.aggro_radius)?;
            (dist_sq(at, ctx.monster.spawn) <= kind.leash_radius * kind.leash_radius)
                .then_some(target)
        });
    }
}
