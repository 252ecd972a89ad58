//! `WorldArgs`: the game server's world-mode flags (`--world grid ...`), flattened into the
//! binary's own, so the binary stays a table of contents.

use crate::game::world::config::{Spawn, WorldConfig};

/// What the game is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// The course's one room: everyone sees everyone (the default).
    Room,
    /// A square map in grid cells and stripes of regions, with area of interest.
    Grid,
}

/// World mode's settings (used with `--world grid`).
#[derive(Debug, clap::Args)]
pub struct WorldArgs {
    /// `room` (the course's, default) or `grid` (a world of regions with area of interest).
    #[arg(long, value_enum, default_value_t = Mode::Room)]
    pub world: Mode,
    /// Side of the square map, centred on (0, 0).
    #[arg(long, default_value_t = 1000.0)]
    pub map_size: f32,
    /// Side of a grid cell.
    #[arg(long, default_value_t = 50.0)]
    pub cell_size: f32,
    /// A player comes into view within this distance.
    #[arg(long, default_value_t = 40.0)]
    pub inner_radius: f32,
    /// A player in view goes out of view beyond this distance.
    #[arg(long, default_value_t = 50.0)]
    pub outer_radius: f32,
    /// Regions (stripes along x), one thread each.
    #[arg(long, default_value_t = 2)]
    pub regions: usize,
    /// Longest step one C_Move may take; longer ones are shortened to it.
    #[arg(long, default_value_t = 10.0)]
    pub max_step: f32,
    /// Spawn points: `random` (spread over the map) or `X,Z` (everyone there).
    #[arg(long, default_value = "random", value_parser = parse_spawn)]
    pub spawn: Spawn,
    /// Seed of the random spawn points.
    #[arg(long, default_value_t = 0x5eed)]
    pub spawn_seed: u64,
}

fn parse_spawn(s: &str) -> Result<Spawn, String> {
    if s == "random" {
        return Ok(Spawn::Random { seed: 0 });
    }
    let (x, z) = s
        .split_once(',')
        .ok_or_else(|| format!("expected `random` or `X,Z`, got {s:?}"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<f32>()
            .map_err(|e| format!("{v:?} is not a number: {e}"))
    };
    Ok(Spawn::At {
        x: parse(x)?,
        z: parse(z)?,
    })
}

impl WorldArgs {
    /// The world these flags describe; `None` without `--world grid`.
    pub fn config(&self) -> Option<WorldConfig> {
        (self.world == Mode::Grid).then_some(WorldConfig {
            map_size: self.map_size,
            cell_size: self.cell_size,
            inner_radius: self.inner_radius,
            outer_radius: self.outer_radius,
            regions: self.regions,
            max_step: self.max_step,
            spawn: match self.spawn {
                Spawn::Random { .. } => Spawn::Random {
                    seed: self.spawn_seed,
                },
                at => at,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// The flags alone, as the binary flattens them.
    #[derive(Debug, Parser)]
    struct Args {
        #[command(flatten)]
        world: WorldArgs,
    }

    #[test]
    fn the_room_stays_the_default() {
        let args = Args::try_parse_from(["game-server"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(args.world.config(), None);
    }

    #[test]
    fn world_flags_reach_the_world_config() {
        let args = Args::try_parse_from([
            "game-server",
            "--world",
            "grid",
            "--map-size",
            "2000",
            "--regions",
            "4",
            "--inner-radius",
            "30",
            "--spawn",
            "10,-5",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let world = args.world.config().expect("world mode");
        assert_eq!(world.map_size, 2000.0);
        assert_eq!(world.regions, 4);
        assert_eq!(world.inner_radius, 30.0);
        assert_eq!(world.spawn, Spawn::At { x: 10.0, z: -5.0 });
        assert_eq!(world.validate(), Ok(()));
        let random = Args::try_parse_from(["game-server", "--world", "grid", "--spawn-seed", "9"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            random.world.config().map(|w| w.spawn),
            Some(Spawn::Random { seed: 9 })
        );
    }

    #[test]
    fn bad_world_flags_are_refused() {
        for args in [
            &["game-server", "--world", "cube"][..],
            &["game-server", "--world", "grid", "--spawn", "here"],
            &["game-server", "--world", "grid", "--spawn", "1,x"],
            &["game-server", "--map-size", "big"],
        ] {
            assert!(
                Args::try_parse_from(args).is_err(),
                "{args:?} should be refused"
            );
        }
        let inverted =
            Args::try_parse_from(["game-server", "--world", "grid", "--inner-radius", "60"])
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(inverted
            .world
            .config()
            .is_some_and(|w| w.validate().is_err()));
    }
}
