//! `Cli`: the binary's flags, and the [`RunConfig`] they describe.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::config::RunConfig;

/// Load generator: connects bots to a course-protocol game server, sends the course's
/// C_Move workload plus C_Ping, checks every reply and reports what the bots saw.
#[derive(Debug, Clone, Parser)]
#[command(name = "dummy-client", version, about, long_about = None)]
pub struct Cli {
    /// Bots to connect (at most 65536: a window move names its sender in 16 bits).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub clients: u32,
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:7777")]
    pub addr: SocketAddr,
    /// New connections per second during ramp-up.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub ramp_per_sec: u32,
    /// Milliseconds between one bot's C_Move.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..))]
    pub move_interval_ms: u64,
    /// Milliseconds between one bot's C_Ping (round-trip measurement).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_interval_ms: u64,
    /// Milliseconds between one bot's C_Chat; no chat unless given.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub chat_interval_ms: Option<u64>,
    /// Seconds of the measured window after ramp-up.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Fail (exit status 1) with more errors than this.
    #[arg(long, default_value_t = 0)]
    pub max_errors: u64,
    /// Milliseconds, after the last connect, to wait for every bot to be let in before the
    /// window opens anyway; a bot let in later counts as a late enter (an error).
    #[arg(long, default_value_t = 5000)]
    pub enter_timeout_ms: u64,
    /// Longest wait, in milliseconds, for moves still in flight after the window.
    #[arg(long, default_value_t = 5000)]
    pub drain_timeout_ms: u64,
    /// Bots per second, on average, that leave during the window and rejoin as new players
    /// (0 = no churn). Bot 0 never churns: it is the reference the others are checked against.
    /// World mode (needs --login): bots drop their connection instead and log in again by
    /// token within the server's reconnect grace, which must take the character back where
    /// it stood, under the same id, with no leave or enter seen by the others.
    #[arg(long, default_value_t = 0.0)]
    pub churn_per_sec: f64,
    /// Connect over TLS (needs --tls-ca).
    #[arg(long, requires = "tls_ca")]
    pub tls: bool,
    /// PEM file of the CA(s) to trust for the server's certificate, e.g. a test CA.
    #[arg(long, value_name = "PATH", requires = "tls")]
    pub tls_ca: Option<PathBuf>,
    /// Name the server's certificate must carry (a DNS name or an IP address).
    #[arg(long, default_value = "localhost", requires = "tls")]
    pub tls_name: String,
    /// Send moves over UDP and get the room's moves back over UDP (the server needs
    /// --udp-addr); lost moves are reported, not errors. Room mode, no churn.
    #[arg(long)]
    pub udp: bool,
    /// Log in: bot i plays the account PREFIX{i} (made on first use, password derived from
    /// the name); a churn rejoin, or in world mode the comeback after the window, must find
    /// the character where it left. Names are 2-16 letters, digits or '_', a letter first.
    #[arg(long, value_name = "PREFIX")]
    pub login: Option<String>,
    /// Write the report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// No status line, only the summary.
    #[arg(long)]
    pub quiet: bool,
    /// Log filter for tracing output on stderr, e.g. `warn` or `dummy_client=debug`.
    #[arg(long, default_value = "warn")]
    pub log: String,
    /// World mode (`--world grid` and its settings).
    #[command(flatten)]
    pub world: crate::world::WorldCli,
}

impl Cli {
    /// The run these flags describe.
    pub fn config(&self) -> RunConfig {
        RunConfig {
            addr: self.addr,
            clients: self.clients as usize,
            ramp_per_sec: self.ramp_per_sec,
            move_interval: Duration::from_millis(self.move_interval_ms),
            ping_interval: Duration::from_millis(self.ping_interval_ms),
            chat_interval: self.chat_interval_ms.map(Duration::from_millis),
            duration: Duration::from_secs(self.duration_secs),
            max_errors: self.max_errors,
            enter_timeout: Duration::from_millis(self.enter_timeout_ms),
            drain_timeout: Duration::from_millis(self.drain_timeout_ms),
            status_line: !self.quiet,
            churn_per_sec: self.churn_per_sec,
            udp: self.udp,
            login: self.login.clone(),
            ..RunConfig::default()
        }
    }

    /// Refuses a `--login` prefix that cannot name every bot (before anything connects).
    pub fn check_login(&self) -> Result<(), crate::Error> {
        match &self.login {
            Some(prefix) => crate::login::BotNames::new(prefix, self.clients as usize)
                .map(drop)
                .map_err(crate::Error::from),
            None => Ok(()),
        }
    }

    /// The TLS settings these flags describe, loaded from `--tls-ca`; `None` without `--tls`.
    pub fn tls(&self) -> Result<Option<server_core::TlsConnector>, server_core::TlsError> {
        match (&self.tls_ca, self.tls) {
            (Some(ca), true) => {
                server_core::TlsConnector::from_ca_pem_file(ca, &self.tls_name).map(Some)
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_courses_load_test() {
        let cli = Cli::try_parse_from(["dummy-client"]).unwrap_or_else(|e| panic!("{e}"));
        let config = cli.config();
        assert_eq!(config.clients, 500);
        assert_eq!(config.addr, SocketAddr::from(([127, 0, 0, 1], 7777)));
        assert_eq!(config.move_interval, Duration::from_millis(250));
        assert_eq!(config.chat_interval, None);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn flags_reach_the_config() {
        let cli = Cli::try_parse_from([
            "dummy-client",
            "--clients",
            "3000",
            "--addr",
            "10.0.0.1:9000",
            "--chat-interval-ms",
            "2000",
            "--duration-secs",
            "30",
            "--json",
            "out.json",
            "--max-errors",
            "7",
            "--churn-per-sec",
            "2.5",
            "--enter-timeout-ms",
            "20000",
            "--login",
            "Load_",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let config = cli.config();
        assert_eq!(config.clients, 3000);
        assert_eq!(config.addr.port(), 9000);
        assert_eq!(config.chat_interval, Some(Duration::from_secs(2)));
        assert_eq!(config.duration, Duration::from_secs(30));
        assert_eq!(config.max_errors, 7);
        assert_eq!(config.churn_per_sec, 2.5);
        assert_eq!(config.enter_timeout, Duration::from_secs(20));
        assert_eq!(config.login.as_deref(), Some("Load_"));
        assert!(cli.check_login().is_ok());
        assert_eq!(cli.json, Some(PathBuf::from("out.json")));
    }

    #[test]
    fn world_flags_make_a_world_run() {
        let cli = Cli::try_parse_from([
            "dummy-client",
            "--world",
            "grid",
            "--clients",
            "300",
            "--map-size",
            "200",
            "--speed",
            "8",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(cli.world.is_world());
        let world = cli.world.config(&cli.config());
        assert_eq!(
            (world.clients, world.map_size, world.speed),
            (300, 200.0, 8.0)
        );
        assert!(world.validate().is_ok());
        let room = Cli::try_parse_from(["dummy-client"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!room.world.is_world(), "the room stays the default");
    }

    #[test]
    fn world_churn_reaches_the_world_run_and_needs_logins() {
        let cli = |args: &[&str]| {
            Cli::try_parse_from(["dummy-client", "--world", "grid"].iter().chain(args))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let churn = cli(&["--churn-per-sec", "3", "--login", "W"]);
        let world = churn.world.config(&churn.config());
        assert_eq!(world.churn_per_sec, 3.0);
        assert!(world.validate().is_ok());
        let guests = cli(&["--churn-per-sec", "3"]);
        assert!(
            guests.world.config(&guests.config()).validate().is_err(),
            "a guest cannot be taken back"
        );
    }

    #[test]
    fn bad_flags_are_refused() {
        for args in [
            &["dummy-client", "--clients", "0"][..],
            &["dummy-client", "--clients", "65537"],
            &["dummy-client", "--move-interval-ms", "0"],
            &["dummy-client", "--addr", "nowhere"],
            &["dummy-client", "--bogus"],
            &["dummy-client", "--tls"],
            &["dummy-client", "--tls-ca", "ca.pem"],
        ] {
            assert!(
                Cli::try_parse_from(args).is_err(),
                "{args:?} should be refused"
            );
        }
    }

    #[test]
    fn a_login_prefix_that_cannot_name_every_bot_is_a_usage_error() {
        let cli = |args: &[&str]| {
            Cli::try_parse_from(["dummy-client"].iter().chain(args))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert!(cli(&["--login", "Bot"]).check_login().is_ok());
        assert!(cli(&[]).check_login().is_ok(), "guests need no names");
        let long = cli(&["--login", "a_long_prefix", "--clients", "1001"]).check_login();
        let text = long.map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(
            text.contains("a_long_prefix1000") && text.contains("at most 16"),
            "{text}"
        );
        for bad in ["1bot", "bot bot", "", "bot-"] {
            assert!(
                cli(&["--login", bad]).check_login().is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
