//! `RunConfig`: what one load-test run does, with the course's workload as the default.

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::Error;
use crate::login::BotNames;

/// Everything one run needs. Build it with struct update syntax:
/// `RunConfig { clients: 200, ..RunConfig::default() }`.
///
/// A run has three phases. **Ramp-up**: bots connect at `ramp_per_sec` and start moving at
/// once, as the course's bots did. **Window**: once every connected bot has entered the room,
/// the measured window of `duration` begins; the moves sent in it are the ones accounted for.
/// **Drain**: bots stop sending and wait (at most `drain_timeout`) for moves still in flight,
/// then disconnect.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The server. Default `127.0.0.1:7777`.
    pub addr: SocketAddr,
    /// Bots to connect. Default 500, the course's DummyClient.
    pub clients: usize,
    /// New connections started per second, so the server's accept backlog is not flooded.
    /// Default 1000.
    pub ramp_per_sec: u32,
    /// Time between one bot's `C_Move`s. Default 250 ms, the course's.
    pub move_interval: Duration,
    /// Time between one bot's `C_Ping`s, which measure round trips. It is also the expected
    /// interval for the latency histogram's coordinated-omission correction. Default 1 s.
    pub ping_interval: Duration,
    /// Time between one bot's `C_Chat`s; `None` (the default) sends none.
    pub chat_interval: Option<Duration>,
    /// Length of the measured window after ramp-up. Default 10 s.
    pub duration: Duration,
    /// The run fails if it counts more errors than this. Default 0.
    pub max_errors: u64,
    /// A connect attempt that takes longer fails. Default 10 s.
    pub connect_timeout: Duration,
    /// How long, after the last connect, to wait for every bot's `S_PlayerList` before the
    /// window opens without the missing ones. Each missing one is an error: `not_entered` if
    /// it never enters, `late_enters` if it enters after the window opened. Default 5 s.
    pub enter_timeout: Duration,
    /// Longest wait after the window for moves still in flight. Default 5 s.
    pub drain_timeout: Duration,
    /// The drain also ends once no move has arrived for this long. Default 1 s.
    pub drain_quiet: Duration,
    /// Resolution of the driver that ticks every bot's timers: sends are due on multiples of
    /// it. Default 5 ms.
    pub resolution: Duration,
    /// Connect attempts in flight at once; the ramp waits when this many are pending.
    /// Default 256.
    pub max_pending_connects: usize,
    /// Print one status line per second to stderr. Default true; tests turn it off.
    pub status_line: bool,
    /// Bots per second, on average, that leave the room during the window and rejoin as new
    /// players (see `churn.rs`). Bot 0, the reference receiver, never churns. Default 0: no
    /// churn, the course's workload.
    pub churn_per_sec: f64,
    /// A leaver waits this long for the echo of its last move, then for the server to close
    /// it after `C_LeaveGame`; either wait running out is an error. Default 5 s.
    pub leave_timeout: Duration,
    /// Pause between a leaver's session closing and its new connection. Default 100 ms.
    pub rejoin_delay: Duration,
    /// Connect over TLS, verifying the server with this connector's CA and name; `None`
    /// (the default) for plain TCP.
    pub tls: Option<server_core::TlsConnector>,
    /// Moves over UDP (`--udp`, see `udp.rs`): each bot binds a UDP socket to its player
    /// through the server's `S_UdpTicket`, sends its moves over it and gets the room's moves
    /// back over it. Lost moves are then reported (delivered ratio), not errors. Room mode
    /// only, and not with churn. Default off.
    pub udp: bool,
    /// Log in (`--login PREFIX`, see `login/`): bot `i` plays the account `{PREFIX}{i}`,
    /// made on first use, and sends nothing but `C_Login` until it is in; a churn rejoin
    /// must find the character where it left. `None` (the default): guests, as in the
    /// course.
    pub login: Option<String>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 7777)),
            clients: 500,
            ramp_per_sec: 1000,
            move_interval: Duration::from_millis(250),
            ping_interval: Duration::from_secs(1),
            chat_interval: None,
            duration: Duration::from_secs(10),
            max_errors: 0,
            connect_timeout: Duration::from_secs(10),
            enter_timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(5),
            drain_quiet: Duration::from_secs(1),
            resolution: Duration::from_millis(5),
            max_pending_connects: 256,
            status_line: true,
            churn_per_sec: 0.0,
            leave_timeout: Duration::from_secs(5),
            rejoin_delay: Duration::from_millis(100),
            tls: None,
            udp: false,
            login: None,
        }
    }
}

impl RunConfig {
    /// Refuses settings that would divide by zero or never make progress.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid =
            |field: &'static str, reason: &'static str| Err(Error::InvalidConfig { field, reason });
        if self.clients == 0 {
            return invalid("clients", "must be at least 1");
        }
        if self.clients > crate::moves::MAX_SENDERS {
            // A window move names its sender in 16 bits (see `moves.rs`).
            return invalid("clients", "must be at most 65536");
        }
        if self.ramp_per_sec == 0 {
            return invalid("ramp_per_sec", "must be at least 1");
        }
        if self.max_pending_connects == 0 {
            return invalid("max_pending_connects", "must be at least 1");
        }
        if !(self.churn_per_sec.is_finite() && self.churn_per_sec >= 0.0) {
            return invalid("churn_per_sec", "must be a finite number, zero or more");
        }
        if self.udp && self.churn_per_sec > 0.0 {
            // Churn's exact accounting needs every move of a stay: over UDP some are lost.
            return invalid("udp", "cannot be used with churn");
        }
        if self.churn_per_sec > 0.0 && self.clients < 2 {
            return invalid(
                "clients",
                "must be at least 2 with churn (bot 0 never churns)",
            );
        }
        if let Some(prefix) = &self.login {
            BotNames::new(prefix, self.clients)?;
        }
        for (field, interval) in [
            ("move_interval", Some(self.move_interval)),
            ("ping_interval", Some(self.ping_interval)),
            ("chat_interval", self.chat_interval),
            ("resolution", Some(self.resolution)),
            ("leave_timeout", Some(self.leave_timeout)),
        ] {
            if interval.is_some_and(|i| i.is_zero()) {
                return invalid(field, "must be longer than zero");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_is_the_courses_workload() {
        let config = RunConfig::default();
        assert!(config.validate().is_ok());
        assert_eq!(config.clients, 500, "the course's DummyClient opened 500");
        assert_eq!(config.move_interval, Duration::from_millis(250));
        assert_eq!(config.chat_interval, None, "chat is off by default");
        assert_eq!(config.churn_per_sec, 0.0, "churn is off by default");
    }

    #[test]
    fn zero_intervals_and_counts_are_refused_by_name() {
        let cases = [
            (
                RunConfig {
                    clients: 0,
                    ..RunConfig::default()
                },
                "clients",
            ),
            (
                RunConfig {
                    clients: 65_537,
                    ..RunConfig::default()
                },
                "clients",
            ),
            (
                RunConfig {
                    move_interval: Duration::ZERO,
                    ..RunConfig::default()
                },
                "move_interval",
            ),
            (
                RunConfig {
                    chat_interval: Some(Duration::ZERO),
                    ..RunConfig::default()
                },
                "chat_interval",
            ),
            (
                RunConfig {
                    churn_per_sec: f64::NAN,
                    ..RunConfig::default()
                },
                "churn_per_sec",
            ),
            (
                RunConfig {
                    churn_per_sec: -1.0,
                    ..RunConfig::default()
                },
                "churn_per_sec",
            ),
        ];
        for (config, expected) in cases {
            match config.validate() {
                Err(Error::InvalidConfig { field, .. }) => assert_eq!(field, expected),
                other => panic!("{expected} should be refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_login_prefix_must_name_every_bot() {
        let login = |prefix: &str, clients| RunConfig {
            login: Some(prefix.to_owned()),
            clients,
            ..RunConfig::default()
        };
        assert!(login("Bot", 500).validate().is_ok());
        assert!(matches!(
            login("9lives", 5).validate(),
            Err(Error::Login(crate::NameError::Start { .. }))
        ));
        assert!(matches!(
            login("abcdefghijklm", 1001).validate(),
            Err(Error::Login(crate::NameError::TooLong { .. }))
        ));
    }
}
