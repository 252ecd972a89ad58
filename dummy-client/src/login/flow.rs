//! `LoginFlow`: one connection's login, as a sans-IO state machine. The session feeds it the
//! `S_Login` answers and the time, and does what each [`Step`] says.
//!
//! The rules (docs/PROTOCOL.md, "Accounts and login"):
//! - the first packet is `C_LoginToken` when an earlier login of this bot was handed a token
//!   (a churn rejoin), else `C_Login` with `create = true`: an account is made on first use;
//! - `10` (the token is used, replaced or expired) is answered once with `C_Login` and
//!   `create = false`, as a client with a stale token would;
//! - `4` (the name is taken: a bot of an earlier run, or this bot before a rejoin) is
//!   answered once with `create = false`. The server answers `4` before it hashes anything,
//!   and a taken name is not a failed login, so a known account costs one hash and a new
//!   one never counts against the address's failed-login limit (which a first try without
//!   `create` would, once per new account);
//! - `5` (too many failed logins) and `6` (the server cannot check logins now) are asked
//!   again after the answer's `retryAfterMs`, at most [`MAX_WAITS`] times;
//! - anything else, and `4` after a login without `create`, is a refusal: the login is
//!   given up.
//!
//! Nothing else may be sent before `0` comes: the server drops other packets while a login
//! is checked, and a first packet other than `C_Login` would make the connection a guest.

use std::time::{Duration, Instant};

use crate::packets::{CLogin, CLoginToken, SLogin};

/// `S_Login.result` codes the flow acts on.
const OK: i32 = 0;
/// `create`: the name is taken.
const NAME_TAKEN: i32 = 4;
/// `C_LoginToken`: not the account's live token; log in with the password.
const BAD_TOKEN: i32 = 10;
/// Too many failed logins; try again in `retryAfterMs`.
const THROTTLED: i32 = 5;
/// The server cannot check logins now; try again in `retryAfterMs`.
const UNAVAILABLE: i32 = 6;

/// Waits for a throttled or busy server one login goes through before it gives up: with the
/// server's 2 s hints, about 200 s, room for thousands of bots logging in at once through a
/// server that hashes a few passwords at a time (the run's enter timeout ends it earlier).
const MAX_WAITS: u32 = 100;

/// The wait when a `5` or `6` names none (0 or less).
const DEFAULT_WAIT: Duration = Duration::from_millis(500);

/// The longest wait taken, whatever the server asks: a bot is not parked for minutes.
const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// A login packet to send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ask {
    /// With the password.
    Password(CLogin),
    /// With the token an earlier login was handed.
    Token(CLoginToken),
}

/// What the session must do next.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// Send this now.
    Send(Ask),
    /// Send this at this time (the server asked to wait).
    SendAt(Instant, Ask),
    /// Logged in: the character's player id, whether this login made the account, and
    /// whether it was by token.
    In {
        /// `S_Login.playerId`.
        player_id: i32,
        /// The account was made by this login (`create = true` answered with 0).
        created: bool,
        /// The login was a `C_LoginToken`.
        by_token: bool,
    },
    /// Given up on this `S_Login.result`.
    Refused(i32),
    /// An answer to no question (a second answer, or one after the end): nothing to do.
    Ignore,
}

/// Where the login is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing sent yet.
    Idle,
    /// A `C_Login` is out (or due at `since`, after a wait) and its answer awaited.
    Asked { since: Instant },
    /// Logged in as this player.
    In { player_id: i32 },
    /// Given up.
    Refused { result: i32 },
}

/// One connection's login.
#[derive(Debug, Clone)]
pub(crate) struct LoginFlow {
    name: String,
    password: String,
    /// The token to log in with, until the server refuses it.
    token: Option<String>,
    /// The next `C_Login` creates the account.
    create: bool,
    /// Waits taken so far for `5` and `6`.
    waits: u32,
    state: State,
}

impl LoginFlow {
    /// The login of account `name` with `password`, or first with `token` if an earlier
    /// login was handed one; nothing sent yet.
    pub(crate) fn new(name: String, password: String, token: Option<String>) -> LoginFlow {
        LoginFlow {
            name,
            password,
            // A bot with a token made its account before.
            create: token.is_none(),
            token,
            waits: 0,
            state: State::Idle,
        }
    }

    /// The first login packet, sent at `now`.
    pub(crate) fn start(&mut self, now: Instant) -> Ask {
        self.state = State::Asked { since: now };
        self.packet()
    }

    /// The player id `S_Login` gave, once logged in.
    pub(crate) fn player_id(&self) -> Option<i32> {
        match self.state {
            State::In { player_id } => Some(player_id),
            _ => None,
        }
    }

    /// The answer `answer`, received at `now`: the time since its `C_Login` left, if it
    /// answered one, and what to do.
    pub(crate) fn on_answer(&mut self, answer: &SLogin, now: Instant) -> (Option<Duration>, Step) {
        let State::Asked { since } = self.state else {
            return (None, Step::Ignore);
        };
        let took = Some(now.saturating_duration_since(since));
        let step = match answer.result {
            OK => {
                self.state = State::In {
                    player_id: answer.player_id,
                };
                Step::In {
                    player_id: answer.player_id,
                    created: self.create,
                    by_token: self.token.is_some(),
                }
            }
            BAD_TOKEN if self.token.is_some() => {
                self.token = None;
                self.state = State::Asked { since: now };
                Step::Send(self.packet())
            }
            NAME_TAKEN if self.create => {
                self.create = false;
                self.state = State::Asked { since: now };
                Step::Send(self.packet())
            }
            THROTTLED | UNAVAILABLE if self.waits < MAX_WAITS => {
                self.waits += 1;
                let wait = u64::try_from(answer.retry_after_ms)
                    .ok()
                    .filter(|&ms| ms > 0)
                    .map_or(DEFAULT_WAIT, Duration::from_millis)
                    .min(LONGEST_WAIT);
                let at = now + wait;
                // The answer is timed from when the retry leaves, not from this one.
                self.state = State::Asked { since: at };
                Step::SendAt(at, self.packet())
            }
            result => {
                self.state = State::Refused { result };
                Step::Refused(result)
            }
        };
        (took, step)
    }

    fn packet(&self) -> Ask {
        match &self.token {
            Some(token) => Ask::Token(CLoginToken {
                name: self.name.clone(),
                token: token.clone(),
            }),
            None => Ask::Password(CLogin {
                name: self.name.clone(),
                password: self.password.clone(),
                create: self.create,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> LoginFlow {
        LoginFlow::new("Bot7".into(), "pw-Bot7-dummy".into(), None)
    }

    fn answer(result: i32, player_id: i32, retry_after_ms: i32) -> SLogin {
        SLogin {
            result,
            player_id,
            retry_after_ms,
            token: String::new(),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_new_account_is_made_by_the_first_packet() {
        let t0 = Instant::now();
        let mut f = flow();
        let first = f.start(t0);
        assert_eq!(
            first,
            Ask::Password(CLogin {
                name: "Bot7".into(),
                password: "pw-Bot7-dummy".into(),
                create: true
            }),
            "the first login creates"
        );
        assert_eq!(f.player_id(), None);
        let (took, step) = f.on_answer(&answer(0, 42, 0), t0 + ms(30));
        assert_eq!(took, Some(ms(30)));
        assert_eq!(
            step,
            Step::In {
                player_id: 42,
                created: true,
                by_token: false
            }
        );
        assert_eq!(f.player_id(), Some(42));
    }

    #[test]
    fn a_taken_name_is_logged_into_once_and_a_miss_then_is_a_refusal() {
        let t0 = Instant::now();
        let mut f = flow();
        f.start(t0);
        let (took, step) = f.on_answer(&answer(4, 0, 0), t0 + ms(20));
        assert_eq!(took, Some(ms(20)));
        match step {
            Step::Send(Ask::Password(p)) => assert!(!p.create, "the retry logs into the account"),
            other => panic!("a taken name should be logged into, got {other:?}"),
        }
        let (took, step) = f.on_answer(&answer(0, 9, 0), t0 + ms(50));
        assert_eq!(took, Some(ms(30)), "timed from the second C_Login");
        assert_eq!(
            step,
            Step::In {
                player_id: 9,
                created: false,
                by_token: false
            }
        );

        let mut f = flow();
        f.start(t0);
        f.on_answer(&answer(4, 0, 0), t0);
        assert_eq!(
            f.on_answer(&answer(3, 0, 0), t0).1,
            Step::Refused(3),
            "the wrong password for an existing account: given up"
        );
        let mut f = flow();
        f.start(t0);
        f.on_answer(&answer(4, 0, 0), t0);
        assert_eq!(f.on_answer(&answer(4, 0, 0), t0).1, Step::Refused(4));
        assert_eq!(f.player_id(), None);
    }

    #[test]
    fn throttled_and_busy_answers_wait_as_told_a_bounded_number_of_times() {
        let t0 = Instant::now();
        let mut f = flow();
        f.start(t0);
        f.on_answer(&answer(4, 0, 0), t0);
        // Throttled while logging in: the retry still logs in.
        let (_, step) = f.on_answer(&answer(5, 0, 1500), t0 + ms(10));
        match step {
            Step::SendAt(at, Ask::Password(p)) => {
                assert_eq!(at, t0 + ms(1510), "after retryAfterMs");
                assert!(!p.create);
            }
            other => panic!("a throttled login should wait, got {other:?}"),
        }
        let (took, _) = f.on_answer(&answer(0, 3, 0), t0 + ms(1540));
        assert_eq!(took, Some(ms(30)), "timed from when the retry left");

        let mut f = flow();
        f.start(t0);
        let mut now = t0;
        for n in 0..MAX_WAITS {
            // No hint, a negative one or an absurd one: a default, or the longest wait.
            let hint = [0, -5, i32::MAX][n as usize % 3];
            match f.on_answer(&answer(6, 0, hint), now).1 {
                Step::SendAt(at, Ask::Password(p)) => {
                    assert!(p.create);
                    let wait = at - now;
                    assert!(wait == DEFAULT_WAIT || wait == LONGEST_WAIT, "{wait:?}");
                    now = at;
                }
                other => panic!("wait {n} should be taken, got {other:?}"),
            }
        }
        assert_eq!(
            f.on_answer(&answer(6, 0, 100), now).1,
            Step::Refused(6),
            "past the bound the login is given up"
        );
    }

    #[test]
    fn every_other_code_is_a_refusal_and_stray_answers_are_ignored() {
        let t0 = Instant::now();
        for code in [1, 2, 3, 7, 8, 9, 10, -1, 42] {
            let mut f = flow();
            f.start(t0);
            assert_eq!(f.on_answer(&answer(code, 0, 0), t0).1, Step::Refused(code));
            assert_eq!(
                f.on_answer(&answer(0, 5, 0), t0),
                (None, Step::Ignore),
                "nothing is asked after a refusal"
            );
        }
        let mut f = flow();
        assert_eq!(
            f.on_answer(&answer(0, 5, 0), t0),
            (None, Step::Ignore),
            "nothing asked yet"
        );
        f.start(t0);
        f.on_answer(&answer(0, 5, 0), t0);
        assert_eq!(f.on_answer(&answer(7, 0, 0), t0), (None, Step::Ignore));
        assert_eq!(f.player_id(), Some(5), "a stray answer changes nothing");
    }

    #[test]
    fn a_bot_with_a_token_logs_in_by_token_and_falls_back_to_its_password_once() {
        let t0 = Instant::now();
        let mut f = LoginFlow::new("Bot7".into(), "pw-Bot7-dummy".into(), Some("ab".into()));
        assert_eq!(
            f.start(t0),
            Ask::Token(CLoginToken {
                name: "Bot7".into(),
                token: "ab".into()
            })
        );
        // Busy: the retry is the token again.
        match f.on_answer(&answer(6, 0, 100), t0).1 {
            Step::SendAt(_, Ask::Token(_)) => {}
            other => panic!("a busy token login waits and asks again, got {other:?}"),
        }
        assert_eq!(
            f.on_answer(&answer(0, 3, 0), t0).1,
            Step::In {
                player_id: 3,
                created: false,
                by_token: true
            }
        );

        let mut f = LoginFlow::new("Bot7".into(), "pw-Bot7-dummy".into(), Some("ab".into()));
        f.start(t0);
        match f.on_answer(&answer(10, 0, 0), t0).1 {
            Step::Send(Ask::Password(p)) => {
                assert!(!p.create, "a bot with a token made its account before")
            }
            other => panic!("a refused token falls back to the password, got {other:?}"),
        }
        assert_eq!(
            f.on_answer(&answer(10, 0, 0), t0).1,
            Step::Refused(10),
            "only one fallback"
        );
    }
}
