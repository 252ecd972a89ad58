//! [`Progress`]: a player's level and experience, against `players.json`'s levels.

use crate::game::data::PlayerRules;

/// A player's level and the experience it has toward the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// From 1 to the last level of the table.
    pub level: u32,
    /// Toward the next level; always 0 at the last level (there is nothing to gain).
    pub exp: u32,
}

impl Default for Progress {
    fn default() -> Self {
        Progress { level: 1, exp: 0 }
    }
}

impl Progress {
    /// Adds `exp`, levelling up as many times as it pays for (the leftover carries over);
    /// returns the levels gained.
    pub fn gain(&mut self, rules: &PlayerRules, exp: u32) -> u32 {
        let mut gained = 0;
        let mut exp = u64::from(self.exp) + u64::from(exp);
        while let Some(next) = rules.level(self.level).exp_to_next {
            if exp < u64::from(next) {
                break;
            }
            exp -= u64::from(next);
            self.level += 1;
            gained += 1;
        }
        // The last level keeps nothing: there is no next.
        self.exp = match rules.level(self.level).exp_to_next {
            Some(_) => u32::try_from(exp).unwrap_or(u32::MAX),
            None => 0,
        };
        gained
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::data::{GameData, BUILT_IN};

    #[test]
    fn experience_levels_up_carries_over_and_stops_at_the_last_level() {
        let data = GameData::parse(&BUILT_IN).expect("valid");
        let rules = &data.players;
        let mut p = Progress::default();
        assert_eq!(p.gain(rules, 49), 0);
        assert_eq!(p, Progress { level: 1, exp: 49 });
        assert_eq!(p.gain(rules, 1), 1, "50 to level 2");
        assert_eq!(p, Progress { level: 2, exp: 0 });
        assert_eq!(p.gain(rules, 120 + 250 + 10), 2, "two levels at once");
        assert_eq!(p, Progress { level: 4, exp: 10 });
        assert_eq!(p.gain(rules, u32::MAX), 6, "to the top, no overflow");
        assert_eq!(p, Progress { level: 10, exp: 0 });
        assert_eq!(p.gain(rules, 1000), 0);
        assert_eq!(p.exp, 0, "nothing kept at the last level");
    }
}
