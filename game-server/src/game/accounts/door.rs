//! `Door`: how a connection becomes a guest or a logged-in character (docs/PROTOCOL.md,
//! "Accounts and login"). Sans-IO: the session and its timers report what happened; the door
//! says what to do.

use std::str::FromStr;

/// Whether the server takes logins and guests (`--login`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoginMode {
    /// No database: every connection is a guest at once, as in the course.
    Off,
    /// Logins and guests (the default): a first packet other than `C_Login`, or none
    /// within the grace, makes a guest.
    #[default]
    Optional,
    /// Logins only, for production: a guest is closed.
    Required,
}

impl FromStr for LoginMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(LoginMode::Off),
            "optional" => Ok(LoginMode::Optional),
            "required" => Ok(LoginMode::Required),
            _ => Err(format!("expected off, optional or required, got {s:?}")),
        }
    }
}

/// `S_Login.result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum LoginResult {
    /// Logged in.
    Ok = 0,
    /// The name breaks the rules.
    BadName = 1,
    /// The password breaks the rules.
    BadPassword = 2,
    /// No such account, or the wrong password.
    WrongCredentials = 3,
    /// `create`: the name is taken.
    NameTaken = 4,
    /// Too many failed logins for this account or address.
    Throttled = 5,
    /// The database is unreachable or too many logins are in progress.
    Unavailable = 6,
    /// The connection already plays, or a login of it is being checked.
    NotNow = 7,
    /// `--login off`.
    Disabled = 8,
    /// `--login required` and this connection tried to play as a guest.
    Required = 9,
    /// `C_LoginToken`: the token is malformed, not the account's live one (used, or replaced
    /// by a later login), or expired. Log in with the password.
    BadToken = 10,
}

impl LoginResult {
    /// Every result, in code order.
    pub const ALL: [LoginResult; 11] = [
        LoginResult::Ok,
        LoginResult::BadName,
        LoginResult::BadPassword,
        LoginResult::WrongCredentials,
        LoginResult::NameTaken,
        LoginResult::Throttled,
        LoginResult::Unavailable,
        LoginResult::NotNow,
        LoginResult::Disabled,
        LoginResult::Required,
        LoginResult::BadToken,
    ];

    /// The wire code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// A name for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            LoginResult::Ok => "ok",
            LoginResult::BadName => "bad_name",
            LoginResult::BadPassword => "bad_password",
            LoginResult::WrongCredentials => "wrong_credentials",
            LoginResult::NameTaken => "name_taken",
            LoginResult::Throttled => "throttled",
            LoginResult::Unavailable => "unavailable",
            LoginResult::NotNow => "not_now",
            LoginResult::Disabled => "disabled",
            LoginResult::Required => "required",
            LoginResult::BadToken => "bad_token",
        }
    }
}

/// Where a connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No packet yet, or only refused logins.
    Undecided,
    /// A login is being checked.
    Checking,
    /// In the room or world, as a guest or a character.
    Playing,
    /// Closed.
    Closed,
}

/// What the session does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Handle the packet as usual.
    Pass,
    /// Enter as a guest, then handle the packet.
    Guest,
    /// Start checking the login.
    Check,
    /// Answer `S_Login` with this result and change nothing.
    Answer(LoginResult),
    /// Drop the packet (a login is being checked).
    Drop,
    /// Answer `S_Login` with [`LoginResult::Required`] and close.
    Refuse,
    /// Close: not logged in within the deadline.
    Close,
    /// Nothing to do.
    Nothing,
}

/// One connection's way in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Door {
    mode: LoginMode,
    phase: Phase,
    /// A packet has arrived: the grace no longer makes a guest (a client that tried to log
    /// in and was refused is deciding, not silent).
    heard: bool,
}

impl Door {
    /// A new connection's door: in play at once with logins off, else undecided.
    pub fn new(mode: LoginMode) -> Self {
        let phase = match mode {
            LoginMode::Off => Phase::Playing,
            _ => Phase::Undecided,
        };
        Door {
            mode,
            phase,
            heard: false,
        }
    }

    /// Where it stands.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// A `C_Login` or `C_LoginToken` arrived.
    pub fn login(&mut self) -> Step {
        self.heard = true;
        match (self.mode, self.phase) {
            (_, Phase::Closed) => Step::Nothing,
            (LoginMode::Off, _) => Step::Answer(LoginResult::Disabled),
            (_, Phase::Undecided) => {
                self.phase = Phase::Checking;
                Step::Check
            }
            (_, Phase::Checking | Phase::Playing) => Step::Answer(LoginResult::NotNow),
        }
    }

    /// Any other packet arrived. A ping is answered whatever the phase.
    pub fn other(&mut self, is_ping: bool) -> Step {
        self.heard = true;
        match self.phase {
            Phase::Playing => Step::Pass,
            Phase::Closed => Step::Nothing,
            Phase::Checking if is_ping => Step::Pass,
            Phase::Checking => Step::Drop,
            Phase::Undecided => match self.mode {
                LoginMode::Required => {
                    self.phase = Phase::Closed;
                    Step::Refuse
                }
                _ => {
                    self.phase = Phase::Playing;
                    Step::Guest
                }
            },
        }
    }

    /// The guest grace passed (optional mode) or the login deadline (required mode).
    pub fn timer(&mut self) -> Step {
        match (self.mode, self.phase) {
            (LoginMode::Optional, Phase::Undecided) if !self.heard => {
                self.phase = Phase::Playing;
                Step::Guest
            }
            (LoginMode::Required, Phase::Undecided | Phase::Checking) => {
                self.phase = Phase::Closed;
                Step::Close
            }
            _ => Step::Nothing,
        }
    }

    /// The login being checked ended; true if the character may enter (the connection is
    /// still open).
    pub fn checked(&mut self, ok: bool) -> bool {
        if self.phase != Phase::Checking {
            return false;
        }
        self.phase = if ok { Phase::Playing } else { Phase::Undecided };
        ok
    }

    /// The connection closed; the phase it was in.
    pub fn close(&mut self) -> Phase {
        std::mem::replace(&mut self.phase, Phase::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_packet_that_is_not_a_login_makes_a_guest_and_is_handled() {
        let mut door = Door::new(LoginMode::Optional);
        assert_eq!(door.other(false), Step::Guest);
        assert_eq!(door.other(false), Step::Pass);
        assert_eq!(door.login(), Step::Answer(LoginResult::NotNow));
        assert_eq!(door.timer(), Step::Nothing, "already a guest");
    }

    #[test]
    fn silence_makes_a_guest_in_optional_mode_and_closes_in_required_mode() {
        let mut door = Door::new(LoginMode::Optional);
        assert_eq!(door.timer(), Step::Guest);
        assert_eq!(door.phase(), Phase::Playing);
        let mut door = Door::new(LoginMode::Required);
        assert_eq!(door.timer(), Step::Close);
        let mut door = Door::new(LoginMode::Required);
        door.login();
        assert_eq!(door.timer(), Step::Close, "a login stuck past the deadline");
    }

    #[test]
    fn while_a_login_is_checked_only_pings_pass_and_a_second_login_waits() {
        let mut door = Door::new(LoginMode::Optional);
        assert_eq!(door.login(), Step::Check);
        assert_eq!(door.other(true), Step::Pass);
        assert_eq!(door.other(false), Step::Drop);
        assert_eq!(door.login(), Step::Answer(LoginResult::NotNow));
        assert_eq!(door.timer(), Step::Nothing, "no guest while checking");
        assert!(door.checked(true));
        assert_eq!(door.phase(), Phase::Playing);
    }

    #[test]
    fn a_refused_login_may_try_again_or_play_as_a_guest() {
        let mut door = Door::new(LoginMode::Optional);
        door.login();
        assert!(!door.checked(false));
        assert_eq!(
            door.timer(),
            Step::Nothing,
            "deciding, not silent: no guest"
        );
        assert_eq!(door.login(), Step::Check);
        door.checked(false);
        assert_eq!(door.other(false), Step::Guest);
    }

    #[test]
    fn required_mode_refuses_a_guest_and_off_mode_plays_at_once() {
        let mut door = Door::new(LoginMode::Required);
        assert_eq!(door.other(false), Step::Refuse);
        assert_eq!(door.other(false), Step::Nothing);
        let mut door = Door::new(LoginMode::Off);
        assert_eq!(door.phase(), Phase::Playing);
        assert_eq!(door.login(), Step::Answer(LoginResult::Disabled));
        assert_eq!(door.other(false), Step::Pass);
    }

    #[test]
    fn a_login_that_ends_after_the_close_does_not_enter() {
        let mut door = Door::new(LoginMode::Optional);
        door.login();
        assert_eq!(door.close(), Phase::Checking);
        assert!(!door.checked(true));
    }

    #[test]
    fn codes_are_the_protocol_pages() {
        for (i, r) in LoginResult::ALL.iter().enumerate() {
            assert_eq!(r.code(), i as i32);
        }
        assert_eq!("required".parse(), Ok(LoginMode::Required));
        assert!("on".parse::<LoginMode>().is_err());
    }
}
