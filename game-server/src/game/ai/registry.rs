//! The one place behaviours are registered: a monster kind names one of these in
//! `monsters.json` (`"behaviour": "melee"`).

use super::behaviour::Behaviour;
use super::melee::Melee;
use super::passive::Passive;

/// Every behaviour a monster kind may name. Register a new one here.
pub static BEHAVIOURS: &[&dyn Behaviour] = &[&Melee, &Passive];

/// The behaviour named `name`.
pub fn behaviour_named(name: &str) -> Option<&'static dyn Behaviour> {
    BEHAVIOURS.iter().copied().find(|b| b.name() == name)
}
