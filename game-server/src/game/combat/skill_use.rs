//! Whether a skill use is allowed, by the server's own positions and views; what it deals.
//!
//! A client asks to use skill S on target T. The owner of the user checks, in this order:
//! the skill exists, the user is alive, the target exists and is another, the target is
//! alive, the target is in the user's view, the target is within the skill's range, and the
//! skill is off cooldown. The first that fails is the refusal (typed, counted by its label);
//! a refused use does not start the cooldown.

use crate::game::data::Skill;

/// The user or target of a skill, as the server knows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Combatant {
    /// Where it stands (x, z).
    pub pos: [f32; 2],
    /// Alive.
    pub alive: bool,
}

/// Why a skill use was refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// No skill has the id asked for.
    #[error("no such skill")]
    UnknownSkill,
    /// The user is dead.
    #[error("the dead do not act")]
    UserDead,
    /// No object has the target id (or it is the user itself).
    #[error("no such target")]
    UnknownTarget,
    /// The target is dead.
    #[error("the target is dead")]
    TargetDead,
    /// The target is not in the user's view.
    #[error("the target is not in view")]
    OutOfView,
    /// The target is farther than the skill reaches.
    #[error("the target is {distance:.1} away, the skill reaches {range:.1}")]
    OutOfRange {
        /// By the server's positions.
        distance: f32,
        /// The skill's range.
        range: f32,
    },
    /// Used again before its cooldown ended.
    #[error("on cooldown for {ready_in_ms} ms more")]
    Cooldown {
        /// Until it is ready.
        ready_in_ms: u64,
    },
}

impl Refusal {
    /// A short stable name, for a metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::UnknownSkill => "unknown_skill",
            Refusal::UserDead => "user_dead",
            Refusal::UnknownTarget => "unknown_target",
            Refusal::TargetDead => "target_dead",
            Refusal::OutOfView => "out_of_view",
            Refusal::OutOfRange { .. } => "out_of_range",
            Refusal::Cooldown { .. } => "cooldown",
        }
    }

    /// Every label, for metrics that list each one from the start.
    pub const LABELS: [&'static str; 7] = [
        "unknown_skill",
        "user_dead",
        "unknown_target",
        "target_dead",
        "out_of_view",
        "out_of_range",
        "cooldown",
    ];
}

/// When each skill a player used is ready again (ms on the owner's clock). A handful of
/// entries: one per skill the game has, at most.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cooldowns {
    ready_at: Vec<(u16, u64)>,
}

impl Cooldowns {
    /// Milliseconds until `skill` is ready at `now_ms` (0: ready).
    pub fn ready_in(&self, skill: u16, now_ms: u64) -> u64 {
        self.ready_at
            .iter()
            .find(|(s, _)| *s == skill)
            .map_or(0, |(_, at)| at.saturating_sub(now_ms))
    }

    fn start(&mut self, skill: u16, now_ms: u64, cooldown_ms: u32) {
        let at = now_ms + u64::from(cooldown_ms);
        match self.ready_at.iter_mut().find(|(s, _)| *s == skill) {
            Some(entry) => entry.1 = at,
            None => self.ready_at.push((skill, at)),
        }
    }
}

/// One request to use a skill, with what the owner knows.
#[derive(Debug, Clone, Copy)]
pub struct SkillUse<'a> {
    /// The skill asked for; `None` if its id names none.
    pub skill: Option<&'a Skill>,
    /// The user.
    pub user: Combatant,
    /// The target; `None` if its id names nothing the owner knows, or the user itself.
    pub target: Option<Combatant>,
    /// Whether the target is in the user's view (the owner's area of interest).
    pub in_view: bool,
    /// The owner's clock.
    pub now_ms: u64,
}

/// Checks `use_` (see the module comment); on success starts the skill's cooldown.
pub fn check_use(use_: &SkillUse<'_>, cooldowns: &mut Cooldowns) -> Result<(), Refusal> {
    let skill = use_.skill.ok_or(Refusal::UnknownSkill)?;
    if !use_.user.alive {
        return Err(Refusal::UserDead);
    }
    let target = use_.target.ok_or(Refusal::UnknownTarget)?;
    if !target.alive {
        return Err(Refusal::TargetDead);
    }
    if !use_.in_view {
        return Err(Refusal::OutOfView);
    }
    let (dx, dz) = (
        target.pos[0] - use_.user.pos[0],
        target.pos[1] - use_.user.pos[1],
    );
    let distance_sq = dx * dx + dz * dz;
    let within = distance_sq.partial_cmp(&(skill.range * skill.range));
    if !matches!(
        within,
        Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
    ) {
        // A NaN position (never stored, but never trusted either) compares as nothing: out
        // of range.
        return Err(Refusal::OutOfRange {
            distance: distance_sq.sqrt(),
            range: skill.range,
        });
    }
    let ready_in_ms = cooldowns.ready_in(skill.id, use_.now_ms);
    if ready_in_ms > 0 {
        return Err(Refusal::Cooldown { ready_in_ms });
    }
    cooldowns.start(skill.id, use_.now_ms, skill.cooldown_ms);
    Ok(())
}

/// Damage of `skill` used by a player whose level gives `attack`.
pub fn damage(skill: &Skill, attack: u32) -> u32 {
    skill.damage.saturating_add(attack)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::data::{GameData, BUILT_IN};

    fn at(x: f32, z: f32) -> Combatant {
        Combatant {
            pos: [x, z],
            alive: true,
        }
    }

    #[test]
    fn each_rule_refuses_in_order_and_a_refusal_costs_no_cooldown() {
        let data = GameData::parse(&BUILT_IN).expect("valid");
        let strike = data.skill(1).expect("strike: range 2.5, cooldown 1000 ms");
        let mut cds = Cooldowns::default();
        let base = SkillUse {
            skill: Some(strike),
            user: at(0.0, 0.0),
            target: Some(at(2.0, 1.0)),
            in_view: true,
            now_ms: 10_000,
        };
        let dead = Combatant {
            alive: false,
            ..at(0.0, 0.0)
        };
        let cases = [
            (
                SkillUse {
                    skill: None,
                    ..base
                },
                Refusal::UnknownSkill,
            ),
            (SkillUse { user: dead, ..base }, Refusal::UserDead),
            (
                SkillUse {
                    target: None,
                    ..base
                },
                Refusal::UnknownTarget,
            ),
            (
                SkillUse {
                    target: Some(dead),
                    ..base
                },
                Refusal::TargetDead,
            ),
            (
                SkillUse {
                    in_view: false,
                    ..base
                },
                Refusal::OutOfView,
            ),
        ];
        for (use_, refusal) in cases {
            assert_eq!(check_use(&use_, &mut cds), Err(refusal));
            assert!(Refusal::LABELS.contains(&refusal.label()));
        }
        let far = SkillUse {
            target: Some(at(2.0, 1.6)),
            ..base
        };
        assert!(matches!(
            check_use(&far, &mut cds),
            Err(Refusal::OutOfRange { range, .. }) if range == 2.5
        ));
        let nan = SkillUse {
            target: Some(at(f32::NAN, 0.0)),
            ..base
        };
        assert!(matches!(
            check_use(&nan, &mut cds),
            Err(Refusal::OutOfRange { .. })
        ));
        assert_eq!(cds, Cooldowns::default(), "no refusal started the cooldown");

        assert_eq!(check_use(&base, &mut cds), Ok(()));
        let spam = SkillUse {
            now_ms: 10_999,
            ..base
        };
        assert_eq!(
            check_use(&spam, &mut cds),
            Err(Refusal::Cooldown { ready_in_ms: 1 })
        );
        let later = SkillUse {
            now_ms: 11_000,
            ..base
        };
        assert_eq!(check_use(&later, &mut cds), Ok(()), "ready exactly on time");
        let arrow = data.skill(2).expect("arrow");
        let other = SkillUse {
            skill: Some(arrow),
            now_ms: 11_001,
            ..base
        };
        assert_eq!(
            check_use(&other, &mut cds),
            Ok(()),
            "each skill its own cooldown"
        );
        assert_eq!(damage(strike, 7), 22);
        assert_eq!(damage(strike, u32::MAX), u32::MAX);
    }
}
