//! `ChurnReport`: what the world bots' churn did (`--churn-per-sec` with `--login`), part of
//! the [`WorldReport`](crate::world::WorldReport).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::world::rejoin::{Place, Verdict};

/// Violations the report shows one line of.
const EXAMPLES: usize = 5;

/// The churn of a world run: connections dropped and characters taken back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChurnReport {
    /// Churn was asked for.
    pub enabled: bool,
    /// Trips a second asked for.
    pub per_sec: f64,
    /// Connections dropped on purpose (closed with no `C_LeaveGame`).
    pub drops: u64,
    /// Trips the pace allowed when no bot could go (every bot away or not in the world).
    pub skipped: u64,
    /// Dropped bots that logged in again and got their new `S_PlayerList`.
    pub rejoins: u64,
    /// Of those, the ones that logged in by token (`C_LoginToken`).
    pub by_token: u64,
    /// Rejoins found with the player id they had, at a place where they may have stood.
    pub checked: u64,
    /// Rejoins whose place could not be checked: the moves after their last echo were no
    /// longer all known. Their id was still checked.
    pub unchecked: u64,
    /// Rejoins under another player id than the one dropped: the server made a new player
    /// instead of taking the parked one back. Each is an error.
    pub id_violations: u64,
    /// Rejoins listed elsewhere than where they may have stood. Each is an error.
    pub position_violations: u64,
    /// Dropped bots that did not come back: the connect failed, or no `S_PlayerList` came
    /// within the enter timeout. Each is an error. (A refused login is the logins' error.)
    pub missing: u64,
    /// Moves in flight at a drop that the server never applied (the rejoin listed the bot
    /// before them), or never known to be (the bot did not come back): owed to no one.
    pub moves_unapplied: u64,
    /// A few of the errors.
    pub examples: Vec<String>,
}

impl ChurnReport {
    /// Counts the rejoin of `who`, logged in by token or not, as `verdict` says; `place`
    /// describes where it came back, for an example.
    pub(crate) fn rejoined(
        &mut self,
        who: &str,
        by_token: bool,
        verdict: &Verdict,
        place: impl FnOnce() -> String,
    ) {
        self.rejoins += 1;
        self.by_token += u64::from(by_token);
        if let Some((first, last)) = verdict.unapplied {
            self.moves_unapplied += u64::from(last - first) + 1;
        }
        if !verdict.same_id {
            self.id_violations += 1;
            self.example(|| format!("{who}: came back as another player"));
        }
        match verdict.place {
            Place::Kept if verdict.same_id => self.checked += 1,
            Place::Kept => {}
            Place::Unknown => self.unchecked += 1,
            Place::Elsewhere => {
                self.position_violations += 1;
                self.example(|| format!("{who}: {}", place()));
            }
        }
    }

    /// `who` did not come back, for `why`.
    pub(crate) fn missing(&mut self, who: &str, why: &str) {
        self.missing += 1;
        self.example(|| format!("{who}: {why}"));
    }

    fn example(&mut self, line: impl FnOnce() -> String) {
        if self.examples.len() < EXAMPLES {
            self.examples.push(line());
        }
    }

    /// Errors the churn found.
    pub fn errors(&self) -> u64 {
        self.id_violations + self.position_violations + self.missing
    }

    /// The summary's line.
    pub(crate) fn line(&self) -> String {
        let mut line = format!(
            "{} a second: {} dropped ({} skipped), {} back ({} by token), {} checked, {} \
             unchecked, {} under another id, {} elsewhere, {} missing; {} moves in flight \
             not applied",
            self.per_sec,
            self.drops,
            self.skipped,
            self.rejoins,
            self.by_token,
            self.checked,
            self.unchecked,
            self.id_violations,
            self.position_violations,
            self.missing,
            self.moves_unapplied
        );
        for example in &self.examples {
            let _ = write!(line, "\n    e.g. {example}");
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(same_id: bool, place: Place, unapplied: Option<(u32, u32)>) -> Verdict {
        Verdict {
            same_id,
            place,
            unapplied,
        }
    }

    #[test]
    fn rejoins_add_up_and_only_wrong_ones_are_errors() {
        let mut r = ChurnReport {
            enabled: true,
            per_sec: 2.0,
            drops: 5,
            ..ChurnReport::default()
        };
        let place = || "came back at (1, 2, 3)".to_owned();
        r.rejoined(
            "bot 1 (W1)",
            true,
            &verdict(true, Place::Kept, Some((7, 8))),
            place,
        );
        r.rejoined(
            "bot 2 (W2)",
            true,
            &verdict(true, Place::Unknown, None),
            place,
        );
        r.rejoined(
            "bot 3 (W3)",
            false,
            &verdict(false, Place::Kept, None),
            place,
        );
        r.rejoined(
            "bot 4 (W4)",
            true,
            &verdict(true, Place::Elsewhere, None),
            place,
        );
        r.missing("bot 5 (W5)", "no S_PlayerList within the enter timeout");
        assert_eq!(
            (r.rejoins, r.by_token, r.checked, r.unchecked),
            (4, 3, 1, 1)
        );
        assert_eq!(
            (r.id_violations, r.position_violations, r.missing),
            (1, 1, 1)
        );
        assert_eq!(r.moves_unapplied, 2);
        assert_eq!(r.errors(), 3);
        let line = r.line();
        assert!(
            line.contains("5 dropped (0 skipped), 4 back (3 by token), 1 checked"),
            "{line}"
        );
        assert!(
            line.contains("bot 3 (W3): came back as another player")
                && line.contains("bot 4 (W4): came back at (1, 2, 3)")
                && line.contains("bot 5 (W5): no S_PlayerList"),
            "{line}"
        );
    }
}
