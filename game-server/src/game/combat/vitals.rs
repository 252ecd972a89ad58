//! [`Vitals`]: hit points, and what a hit does to them.

/// What one hit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Damage taken (at most what was left).
    pub damage: u32,
    /// Hit points left.
    pub hp_left: u32,
    /// This hit killed.
    pub died: bool,
}

/// Hit points of a player or monster. HP never goes below 0 or above the maximum; the dead
/// take no more damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vitals {
    hp: u32,
    max_hp: u32,
}

impl Vitals {
    /// Full, at `max_hp` (at least 1).
    pub fn full(max_hp: u32) -> Vitals {
        let max_hp = max_hp.max(1);
        Vitals { hp: max_hp, max_hp }
    }

    /// Hit points now.
    pub fn hp(&self) -> u32 {
        self.hp
    }

    /// The most it can have.
    pub fn max_hp(&self) -> u32 {
        self.max_hp
    }

    /// Alive: above 0.
    pub fn alive(&self) -> bool {
        self.hp > 0
    }

    /// Takes `damage`; `None` if already dead (nothing happens).
    pub fn take(&mut self, damage: u32) -> Option<Hit> {
        if !self.alive() {
            return None;
        }
        let dealt = damage.min(self.hp);
        self.hp -= dealt;
        Some(Hit {
            damage: dealt,
            hp_left: self.hp,
            died: self.hp == 0,
        })
    }

    /// Back to full (a respawn, a leashed monster home again, a level-up). True if it
    /// changed.
    pub fn heal_full(&mut self) -> bool {
        let changed = self.hp != self.max_hp;
        self.hp = self.max_hp;
        changed
    }

    /// A new maximum (a level-up), full.
    pub fn raise_max(&mut self, max_hp: u32) {
        self.max_hp = max_hp.max(1);
        self.hp = self.max_hp;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hp_stays_between_zero_and_max_and_the_dead_take_nothing() {
        let mut v = Vitals::full(10);
        assert_eq!(
            v.take(4),
            Some(Hit {
                damage: 4,
                hp_left: 6,
                died: false
            })
        );
        assert_eq!(
            v.take(100),
            Some(Hit {
                damage: 6,
                hp_left: 0,
                died: true
            })
        );
        assert!(!v.alive());
        assert_eq!(v.take(1), None, "the dead take no more");
        assert!(v.heal_full());
        assert_eq!(v.hp(), 10);
        assert!(!v.heal_full(), "already full");
        v.raise_max(15);
        assert_eq!((v.hp(), v.max_hp()), (15, 15));
        assert_eq!(Vitals::full(0).max_hp(), 1);
    }
}
