//! `LoginRecord`: what the logins of a run came to, as they happen; and [`LoginReport`], its
//! part of the room's and the world's reports.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::login::place::LeftAt;

/// Longest login time recorded, in microseconds; longer ones are recorded as this.
const MAX_US: u64 = 60_000_000;

/// Violations the report shows one line of.
const EXAMPLES: usize = 5;

/// The run's logins, shared by every bot's session.
///
/// A login is a few answers per connection, so one mutex for the run is locked a few times
/// per bot, never across an `.await`, and never on a frame's path.
#[derive(Debug)]
pub(crate) struct LoginRecord {
    inner: Mutex<Tally>,
}

#[derive(Debug)]
struct Tally {
    sent: u64,
    /// Of `sent`, the `C_LoginToken`s.
    sent_tokens: u64,
    sent_bytes: u64,
    answers: BTreeMap<i32, u64>,
    times: Histogram<u64>,
    logged_in: u64,
    created: u64,
    by_token: u64,
    refused: BTreeMap<i32, u64>,
    wrong_player_id: u64,
    /// The last token each bot was handed (by index), for its next login.
    tokens: HashMap<usize, String>,
}

impl LoginRecord {
    /// Nothing logged yet.
    pub(crate) fn new() -> LoginRecord {
        LoginRecord {
            inner: Mutex::new(Tally {
                sent: 0,
                sent_tokens: 0,
                sent_bytes: 0,
                answers: BTreeMap::new(),
                // The bounds are constants: valid, or every test fails.
                times: Histogram::new_with_bounds(1, MAX_US, 3)
                    .expect("constant histogram bounds are valid"),
                logged_in: 0,
                created: 0,
                by_token: 0,
                refused: BTreeMap::new(),
                wrong_player_id: 0,
                tokens: HashMap::new(),
            }),
        }
    }

    fn tally(&self) -> MutexGuard<'_, Tally> {
        // Each update is a count or a sample: a panic cannot leave it half-done.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A `C_Login` (or with `by_token`, a `C_LoginToken`) of `bytes` bytes was queued.
    pub(crate) fn sent(&self, bytes: usize, by_token: bool) {
        let mut t = self.tally();
        t.sent += 1;
        t.sent_tokens += u64::from(by_token);
        t.sent_bytes += bytes as u64;
    }

    /// `C_Login`s and `C_LoginToken`s queued, and their bytes.
    pub(crate) fn sent_totals(&self) -> (u64, u64, u64) {
        let t = self.tally();
        (t.sent - t.sent_tokens, t.sent_tokens, t.sent_bytes)
    }

    /// An `S_Login` with `result` came, `took` after its `C_Login` left (if it answered one).
    pub(crate) fn answered(&self, result: i32, took: Option<Duration>) {
        let mut t = self.tally();
        *t.answers.entry(result).or_default() += 1;
        if let Some(took) = took {
            let us = u64::try_from(took.as_micros()).unwrap_or(MAX_US);
            let _ = t.times.record(us.clamp(1, MAX_US));
        }
    }

    /// A login ended with result 0; `created` if it made the account, `by_token` if it was
    /// a `C_LoginToken`.
    pub(crate) fn logged_in(&self, created: bool, by_token: bool) {
        let mut t = self.tally();
        t.logged_in += 1;
        t.created += u64::from(created);
        t.by_token += u64::from(by_token);
    }

    /// Keeps the token bot `index` was handed (none if empty) for its next login; the one
    /// before is no longer good.
    pub(crate) fn keep_token(&self, index: usize, token: &str) {
        let mut t = self.tally();
        if token.is_empty() {
            t.tokens.remove(&index);
        } else {
            t.tokens.insert(index, token.to_owned());
        }
    }

    /// The token bot `index` was last handed, if any.
    pub(crate) fn token(&self, index: usize) -> Option<String> {
        self.tally().tokens.get(&index).cloned()
    }

    /// A login was given up on `result`.
    pub(crate) fn refused(&self, result: i32) {
        *self.tally().refused.entry(result).or_default() += 1;
    }

    /// `S_Login.playerId` was not the `isSelf` player of the `S_PlayerList` after it.
    pub(crate) fn wrong_player_id(&self) {
        self.tally().wrong_player_id += 1;
    }

    /// The report so far, with no position checked yet.
    pub(crate) fn report(&self, prefix: &str) -> LoginReport {
        let t = self.tally();
        let times = &t.times;
        LoginReport {
            enabled: true,
            prefix: prefix.to_owned(),
            sent: t.sent,
            answers: t.answers.clone(),
            logged_in: t.logged_in,
            created: t.created,
            by_token: t.by_token,
            refused: t.refused.values().sum(),
            refused_by_result: t.refused.clone(),
            wrong_player_id: t.wrong_player_id,
            time: LoginTime {
                samples: times.len(),
                p50_us: times.value_at_quantile(0.5),
                p99_us: times.value_at_quantile(0.99),
                max_us: times.max(),
            },
            ..LoginReport::default()
        }
    }
}

/// The logins of a run (`--login PREFIX`) and where the characters came back. Part of the
/// room's [`Report`](crate::Report) and of the [`WorldReport`](crate::world::WorldReport).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoginReport {
    /// The bots logged in (`--login`).
    pub enabled: bool,
    /// The account names' prefix: bot `i` is `{prefix}{i}`.
    pub prefix: String,
    /// `C_Login`s sent, retries included.
    pub sent: u64,
    /// `S_Login`s received, by result code (docs/PROTOCOL.md).
    pub answers: BTreeMap<i32, u64>,
    /// Connections that logged in (result 0).
    pub logged_in: u64,
    /// Of those, the ones whose login made the account.
    pub created: u64,
    /// Of those, the ones that logged in by token (`C_LoginToken`, a churn rejoin).
    #[serde(default)]
    pub by_token: u64,
    /// Connections whose login was given up: a refusal, a miss after creating, or a throttle
    /// that outlasted the waits. Each is an error.
    pub refused: u64,
    /// The result each was given up on.
    pub refused_by_result: BTreeMap<i32, u64>,
    /// `S_Login.playerId` other than the `isSelf` id of the `S_PlayerList` after it. Each is
    /// an error.
    pub wrong_player_id: u64,
    /// `C_Login` to its `S_Login`, every answer.
    pub time: LoginTime,
    /// Comebacks (a login after the bot left) that found the character where it left.
    pub positions_checked: u64,
    /// Comebacks that found it elsewhere. Each is an error.
    pub position_violations: u64,
    /// Comebacks whose last position before leaving was not known well enough to check.
    pub positions_unchecked: u64,
    /// A few of the violations.
    pub position_examples: Vec<String>,
}

/// Login times, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoginTime {
    /// Answers timed.
    pub samples: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Largest.
    pub max_us: u64,
}

impl LoginReport {
    /// Errors the logins found.
    pub fn errors(&self) -> u64 {
        self.refused + self.wrong_player_id + self.position_violations
    }

    /// Checks that `who` came back at `at`, having left as `left` says (`None`: not known
    /// well enough to check).
    pub(crate) fn check_position(&mut self, who: &str, left: Option<&LeftAt>, at: [f32; 3]) {
        match left {
            None => self.positions_unchecked += 1,
            Some(left) if left.admits(at) => self.positions_checked += 1,
            Some(left) => {
                self.position_violations += 1;
                if self.position_examples.len() < EXAMPLES {
                    self.position_examples
                        .push(format!("{who}: {}", left.describe(at)));
                }
            }
        }
    }

    /// The summary's lines: the logins, then the positions.
    pub(crate) fn lines(&self) -> [String; 2] {
        let answers: Vec<String> = self
            .answers
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        let refused: Vec<String> = self
            .refused_by_result
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        let time = if self.time.samples == 0 {
            "no answer".to_owned()
        } else {
            format!(
                "C_Login -> S_Login p50 {} p99 {} max {}",
                ms(self.time.p50_us),
                ms(self.time.p99_us),
                ms(self.time.max_us)
            )
        };
        let logins = format!(
            "{} logged in ({} accounts made, {} by token, names {}0 and on), {} refused{}, {} \
             wrong player ids; {} logins sent, S_Login by result ({}); {time}",
            self.logged_in,
            self.created,
            self.by_token,
            self.prefix,
            self.refused,
            if refused.is_empty() {
                String::new()
            } else {
                format!(" ({})", refused.join(", "))
            },
            self.wrong_player_id,
            self.sent,
            answers.join(", "),
        );
        let mut positions = format!(
            "{} came back where they left, {} elsewhere, {} unchecked",
            self.positions_checked, self.position_violations, self.positions_unchecked
        );
        for example in &self.position_examples {
            positions.push_str("\n    e.g. ");
            positions.push_str(example);
        }
        [logins, positions]
    }
}

fn ms(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.2} s", us as f64 / 1e6)
    } else {
        format!("{:.1} ms", us as f64 / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_times_and_outcomes_add_up_into_the_report() {
        let record = LoginRecord::new();
        record.sent(40, false);
        record.sent(40, true);
        record.answered(3, Some(Duration::from_millis(20)));
        record.answered(0, Some(Duration::from_millis(40)));
        record.answered(7, None);
        record.logged_in(true, false);
        record.logged_in(false, true);
        record.refused(8);
        record.wrong_player_id();
        let mut r = record.report("Bot");
        assert_eq!(r.sent, 2);
        assert_eq!(record.sent_totals(), (1, 1, 80));
        assert_eq!(r.answers, BTreeMap::from([(0, 1), (3, 1), (7, 1)]));
        assert_eq!(
            (r.logged_in, r.created, r.by_token, r.refused),
            (2, 1, 1, 1)
        );
        assert_eq!(r.time.samples, 2, "the stray answer is not timed");
        assert!((39_900..=40_100).contains(&r.time.max_us));
        assert_eq!(r.errors(), 2, "the refusal and the wrong id");

        let left = LeftAt::Room {
            from: [1.0, 0.0, 1.0],
            later: vec![],
        };
        r.check_position("bot 3 (Bot3)", Some(&left), [1.0, 0.0, 1.0]);
        r.check_position("bot 4 (Bot4)", Some(&left), [2.0, 0.0, 1.0]);
        r.check_position("bot 5 (Bot5)", None, [2.0, 0.0, 1.0]);
        assert_eq!(
            (
                r.positions_checked,
                r.position_violations,
                r.positions_unchecked
            ),
            (1, 1, 1)
        );
        assert_eq!(r.errors(), 3);
        let [logins, positions] = r.lines();
        assert!(
            logins.contains("2 logged in (1 accounts made, 1 by token, names Bot0 and on)")
                && logins.contains("0: 1, 3: 1, 7: 1"),
            "{logins}"
        );
        assert!(logins.contains("p99 40.0 ms"), "{logins}");
        assert!(
            positions.contains("1 came back where they left, 1 elsewhere")
                && positions.contains("bot 4 (Bot4): came back at (2, 0, 1)"),
            "{positions}"
        );
    }

    #[test]
    fn the_report_round_trips_through_json() {
        let record = LoginRecord::new();
        record.answered(5, Some(Duration::from_millis(3)));
        let r = record.report("W");
        let json = serde_json::to_string(&r).unwrap_or_default();
        let back: LoginReport = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, r);
        assert!(json.contains(r#""answers":{"5":1}"#), "{json}");
    }
}
