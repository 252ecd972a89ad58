//! `WorldCli`: dummy-client's world-mode flags (`--world grid ...`), flattened into `Cli`.

use std::time::Duration;

use crate::world::config::WorldRunConfig;

/// Which game the server plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// The course's room (default): every bot sees every move.
    #[default]
    Room,
    /// World mode: bots walk a map and see their neighbourhood.
    Grid,
}

/// World-mode flags; the map and radii must match the server's.
#[derive(Debug, Clone, clap::Args)]
pub struct WorldCli {
    /// `room` (default) or `grid`, as the server's `--world`.
    #[arg(long, value_enum, default_value_t = Mode::Room)]
    pub world: Mode,
    /// The server's map side.
    #[arg(long, default_value_t = 1000.0)]
    pub map_size: f32,
    /// The server's inner radius.
    #[arg(long, default_value_t = 40.0)]
    pub inner_radius: f32,
    /// The server's outer radius.
    #[arg(long, default_value_t = 50.0)]
    pub outer_radius: f32,
    /// Walking speed in units per second.
    #[arg(long, default_value_t = 5.0)]
    pub speed: f32,
    /// The server's --max-step: with --login, how far a move the server had not echoed yet
    /// may have taken a bot before it left.
    #[arg(long, default_value_t = 10.0)]
    pub max_step: f32,
    /// Milliseconds the server's idea of a bot's position may lag (see WorldRunConfig).
    #[arg(long, default_value_t = 1000)]
    pub lag_allowance_ms: u64,
    /// Another server of the same world (a cluster node); repeat for more. The bots are
    /// split over --addr and these, round robin.
    #[arg(long, value_name = "ADDR")]
    pub also_addr: Vec<std::net::SocketAddr>,
    /// The server's --regions, to time the hand-offs (a bot's first move after crossing a
    /// stripe border); 0 = do not.
    #[arg(long, default_value_t = 0)]
    pub regions: usize,
    /// Share of required moves that must arrive for the run to pass.
    #[arg(long, default_value_t = 1.0)]
    pub min_delivered: f64,
}

impl WorldCli {
    /// True with `--world grid`.
    pub fn is_world(&self) -> bool {
        self.world == Mode::Grid
    }

    /// The world run these flags (and the shared ones) describe.
    pub fn config(&self, room: &crate::RunConfig) -> WorldRunConfig {
        WorldRunConfig {
            addr: room.addr,
            also_addrs: self.also_addr.clone(),
            regions: self.regions,
            clients: room.clients,
            ramp_per_sec: room.ramp_per_sec,
            map_size: self.map_size,
            inner_radius: self.inner_radius,
            outer_radius: self.outer_radius,
            speed: self.speed,
            move_interval: room.move_interval,
            ping_interval: room.ping_interval,
            duration: room.duration,
            lag_allowance: Duration::from_millis(self.lag_allowance_ms),
            drain_timeout: room.drain_timeout,
            // World runs wait at least their own default (10 s): a big world's ramp is long.
            enter_timeout: room
                .enter_timeout
                .max(WorldRunConfig::default().enter_timeout),
            min_delivered: self.min_delivered,
            status_line: room.status_line,
            max_step: self.max_step,
            login: room.login.clone(),
            churn_per_sec: room.churn_per_sec,
            ..WorldRunConfig::default()
        }
    }
}
