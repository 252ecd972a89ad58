//! `WorldRunConfig`: a world-mode run. The map and radii must match the server's.

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::Error;
use crate::login::BotNames;

/// Everything one world-mode run needs; build it with struct update syntax from the default.
#[derive(Debug, Clone)]
pub struct WorldRunConfig {
    /// The server. Default `127.0.0.1:7777`.
    pub addr: SocketAddr,
    /// More servers of the same world (the nodes of a cluster): bot `i` connects to the
    /// `i mod n`-th of `addr` followed by these. Default none.
    pub also_addrs: Vec<SocketAddr>,
    /// The server's region count, for the hand-off round trips (a bot's first move after
    /// crossing a stripe border). 0, the default: not measured.
    pub regions: usize,
    /// Bots. Default 1000.
    pub clients: usize,
    /// Connections started per second. Default 1000.
    pub ramp_per_sec: u32,
    /// The server's map side (the map is centred on (0, 0)). Default 1000, the server's.
    pub map_size: f32,
    /// The server's inner radius. Default 40.
    pub inner_radius: f32,
    /// The server's outer radius. Default 50.
    pub outer_radius: f32,
    /// Walking speed, units per second. Default 5.
    pub speed: f32,
    /// Time between one bot's moves. Default 250 ms, the course's.
    pub move_interval: Duration,
    /// Time between one bot's pings. Default 1 s.
    pub ping_interval: Duration,
    /// The measured window. Default 10 s.
    pub duration: Duration,
    /// How far behind the server's idea of a bot's position may be (moves in flight, ghost
    /// updates between regions). A move is required for a receiver only if the receiver is
    /// within the inner radius minus `speed x lag_allowance`, and a frame is a violation only
    /// from beyond the outer radius plus that. Default 1 s.
    pub lag_allowance: Duration,
    /// A connect that takes longer fails. Default 10 s.
    pub connect_timeout: Duration,
    /// How long to wait for every bot's `S_PlayerList`. Default 10 s.
    pub enter_timeout: Duration,
    /// Longest wait for frames in flight after the window. Default 5 s.
    pub drain_timeout: Duration,
    /// The drain ends once nothing arrived for this long. Default 1 s.
    pub drain_quiet: Duration,
    /// The run passes only if at least this share of required moves arrived. Default 1.0
    /// (every one); the benchmark's target is 0.999.
    pub min_delivered: f64,
    /// Seed of the bots' walks. Default 1.
    pub seed: u64,
    /// One status line per second on stderr. Default true.
    pub status_line: bool,
    /// The server's `--max-step`. Default 10, the server's. With `login`, how far each move
    /// the server had not echoed may have taken a bot before it left.
    pub max_step: f32,
    /// Log in (`--login PREFIX`, see `login/`): bot `i` plays the account `{PREFIX}{i}`,
    /// made on first use, and after the window every bot leaves, logs in again and must
    /// find its character where it left (`world/comeback.rs`). `None` (the default):
    /// guests.
    pub login: Option<String>,
    /// With `login`: after the window every bot logs in again to find its character where
    /// it left. Default true; a benchmark that only measures the play turns it off (ten
    /// thousand logins more cost minutes of argon2).
    pub comeback: bool,
    /// Churn (needs `login`): bots per second, on average, that drop their connection during
    /// the window (no `C_LeaveGame`) and log in again by token within the server's reconnect
    /// grace, which must take the character back (see `world/churn.rs`). Each stops being
    /// required moves `lag_allowance` before it drops. 0, the default: none.
    pub churn_per_sec: f64,
    /// With churn: the shortest time a dropped bot stays away. Default 200 ms.
    pub rejoin_pause_min: Duration,
    /// With churn: the longest, well inside the server's grace (10 s). Default 1 s.
    pub rejoin_pause_max: Duration,
}

impl Default for WorldRunConfig {
    fn default() -> Self {
        WorldRunConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 7777)),
            also_addrs: Vec::new(),
            regions: 0,
            clients: 1000,
            ramp_per_sec: 1000,
            map_size: 1000.0,
            inner_radius: 40.0,
            outer_radius: 50.0,
            speed: 5.0,
            move_interval: Duration::from_millis(250),
            ping_interval: Duration::from_secs(1),
            duration: Duration::from_secs(10),
            lag_allowance: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(10),
            enter_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(5),
            drain_quiet: Duration::from_secs(1),
            min_delivered: 1.0,
            seed: 1,
            status_line: true,
            max_step: 10.0,
            login: None,
            comeback: true,
            churn_per_sec: 0.0,
            rejoin_pause_min: Duration::from_millis(200),
            rejoin_pause_max: Duration::from_secs(1),
        }
    }
}

impl WorldRunConfig {
    /// The server bot `i` connects to.
    pub fn addr_of(&self, i: usize) -> SocketAddr {
        match i % (1 + self.also_addrs.len()) {
            0 => self.addr,
            k => self.also_addrs[k - 1],
        }
    }

    /// How far one move takes a bot: `speed x move_interval`.
    pub fn step(&self) -> f32 {
        self.speed * self.move_interval.as_secs_f32()
    }

    /// Slack for positions the server may know late: `speed x lag_allowance`.
    pub fn slack(&self) -> f32 {
        self.speed * self.lag_allowance.as_secs_f32()
    }

    /// Refuses settings that cannot make a run.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid =
            |field: &'static str, reason: &'static str| Err(Error::InvalidConfig { field, reason });
        if self.clients == 0 {
            return invalid("clients", "must be at least 1");
        }
        if self.ramp_per_sec == 0 {
            return invalid("ramp_per_sec", "must be at least 1");
        }
        if let Some(prefix) = &self.login {
            BotNames::new(prefix, self.clients)?;
        }
        for (field, v) in [
            ("map_size", self.map_size),
            ("inner_radius", self.inner_radius),
            ("outer_radius", self.outer_radius),
            ("max_step", self.max_step),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return invalid(field, "must be a positive number");
            }
        }
        if self.outer_radius < self.inner_radius {
            return invalid("outer_radius", "must be at least the inner radius");
        }
        if !(self.speed.is_finite() && self.speed >= 0.0) {
            return invalid("speed", "must be zero or more");
        }
        if self.slack() >= self.inner_radius {
            return invalid(
                "lag_allowance",
                "times the speed must be less than the inner radius, or no move is required",
            );
        }
        if self.move_interval.is_zero() || self.ping_interval.is_zero() {
            return invalid("move_interval", "and ping_interval must be more than zero");
        }
        if !(0.0..=1.0).contains(&self.min_delivered) {
            return invalid("min_delivered", "must be between 0 and 1");
        }
        if !(self.churn_per_sec.is_finite() && self.churn_per_sec >= 0.0) {
            return invalid("churn_per_sec", "must be a finite number, zero or more");
        }
        if self.churn_per_sec > 0.0 {
            if self.login.is_none() {
                return invalid(
                    "churn_per_sec",
                    "needs --login in world mode: a dropped bot takes its character back by \
                     logging in again, and a guest's cannot be taken back",
                );
            }
            if !self.also_addrs.is_empty() {
                // A cluster's nodes run with logins off, and the sender table of a run with
                // several servers (`state.rs`) keeps each bot's first connection.
                return invalid("churn_per_sec", "cannot be used with several servers");
            }
            if self.rejoin_pause_min > self.rejoin_pause_max {
                return invalid("rejoin_pause_min", "must be at most rejoin_pause_max");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_field(config: &WorldRunConfig) -> Option<&'static str> {
        match config.validate() {
            Err(Error::InvalidConfig { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn churn_needs_logins_one_server_and_a_sane_pause() {
        let churn = WorldRunConfig {
            churn_per_sec: 2.0,
            login: Some("W".to_owned()),
            ..WorldRunConfig::default()
        };
        assert!(churn.validate().is_ok());
        let guests = WorldRunConfig {
            login: None,
            ..churn.clone()
        };
        assert_eq!(refused_field(&guests), Some("churn_per_sec"));
        let text = guests.validate().map_err(|e| e.to_string()).err();
        assert!(
            text.as_deref().is_some_and(|t| t.contains("needs --login")),
            "{text:?}"
        );
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let config = WorldRunConfig {
                churn_per_sec: bad,
                ..churn.clone()
            };
            assert_eq!(refused_field(&config), Some("churn_per_sec"), "{bad}");
        }
        let cluster = WorldRunConfig {
            also_addrs: vec![SocketAddr::from(([127, 0, 0, 1], 7778))],
            ..churn.clone()
        };
        assert_eq!(refused_field(&cluster), Some("churn_per_sec"));
        let backwards = WorldRunConfig {
            rejoin_pause_min: Duration::from_secs(2),
            ..churn
        };
        assert_eq!(refused_field(&backwards), Some("rejoin_pause_min"));
        assert!(
            WorldRunConfig::default().validate().is_ok(),
            "no churn without logins is fine"
        );
    }
}
