//! `WorldConfig`: the map, its grid, the view radii, the regions and the movement rules.

use thiserror::Error;

/// Where a player appears when it enters the world.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spawn {
    /// A position spread over the whole map, drawn from the player id and `seed`: reproducible
    /// run to run, and uniform enough that a benchmark's players start at a fixed density.
    Random {
        /// Mixed into every player's draw; two seeds give two different layouts.
        seed: u64,
    },
    /// Everyone at the same point (clamped onto the map), like the course's room at (0, 0).
    At {
        /// x of the spawn point.
        x: f32,
        /// z of the spawn point.
        z: f32,
    },
}

/// Everything that shapes the world. Distances are in the course's units (its client moves
/// players in [-50, 50)).
#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    /// Side of the square map, which spans `[-map_size / 2, map_size / 2]` in x and in z, so
    /// the course's (0, 0) is the centre. Default 1000.
    pub map_size: f32,
    /// Side of one grid cell. A cell as wide as the outer radius makes a view query touch 3 x
    /// 3 cells. Default 50.
    pub cell_size: f32,
    /// A player comes into view when it is within this distance. Default 40.
    pub inner_radius: f32,
    /// A player in view goes out of view only beyond this distance. Default 50.
    pub outer_radius: f32,
    /// Vertical stripes (along x) the map is cut into, each its own region on its own
    /// thread. Default 2 (one per core on this machine), at most [`MAX_REGIONS`].
    pub regions: usize,
    /// Longest step one `C_Move` may take, in x/z. A longer one is shortened to this length
    /// along the same direction (teleport protection). With the per-player move rate limit
    /// this bounds speed: 30 moves/s x 10 = 300 units/s. Default 10.
    pub max_step: f32,
    /// Where players appear. Default random over the map.
    pub spawn: Spawn,
}

/// Most regions a world may have: a region set is a `u64` bit set.
pub const MAX_REGIONS: usize = 64;

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            map_size: 1000.0,
            cell_size: 50.0,
            inner_radius: 40.0,
            outer_radius: 50.0,
            regions: 2,
            max_step: 10.0,
            spawn: Spawn::Random { seed: 0x5eed },
        }
    }
}

/// A setting that cannot make a working world.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum WorldConfigError {
    /// A distance is zero, negative or not finite.
    #[error("{field} must be a positive finite number, got {value}")]
    NotPositive {
        /// The setting.
        field: &'static str,
        /// Its value.
        value: f32,
    },
    /// The outer radius is smaller than the inner one: nothing could stay in view.
    #[error("outer radius {outer} must be at least the inner radius {inner}")]
    RadiiInverted {
        /// Inner radius.
        inner: f32,
        /// Outer radius.
        outer: f32,
    },
    /// Regions outside 1..=64.
    #[error("regions must be between 1 and {MAX_REGIONS}, got {0}")]
    Regions(usize),
    /// More grid cells than memory allows (a tiny cell on a huge map).
    #[error("a {map_size} map in {cell_size} cells has too many cells (at most 2^24)")]
    TooManyCells {
        /// Map side.
        map_size: f32,
        /// Cell side.
        cell_size: f32,
    },
    /// A fixed spawn point that is not a finite position.
    #[error("spawn point ({x}, {z}) is not finite")]
    SpawnNotFinite {
        /// x of the spawn point.
        x: f32,
        /// z of the spawn point.
        z: f32,
    },
}

impl WorldConfig {
    /// Refuses settings that cannot make a working world.
    pub fn validate(&self) -> Result<(), WorldConfigError> {
        for (field, value) in [
            ("map_size", self.map_size),
            ("cell_size", self.cell_size),
            ("inner_radius", self.inner_radius),
            ("outer_radius", self.outer_radius),
            ("max_step", self.max_step),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(WorldConfigError::NotPositive { field, value });
            }
        }
        if self.outer_radius < self.inner_radius {
            return Err(WorldConfigError::RadiiInverted {
                inner: self.inner_radius,
                outer: self.outer_radius,
            });
        }
        if !(1..=MAX_REGIONS).contains(&self.regions) {
            return Err(WorldConfigError::Regions(self.regions));
        }
        let per_side = (self.map_size / self.cell_size).ceil();
        if per_side * per_side > (1u64 << 24) as f32 {
            return Err(WorldConfigError::TooManyCells {
                map_size: self.map_size,
                cell_size: self.cell_size,
            });
        }
        if let Spawn::At { x, z } = self.spawn {
            if !(x.is_finite() && z.is_finite()) {
                return Err(WorldConfigError::SpawnNotFinite { x, z });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid() {
        assert_eq!(WorldConfig::default().validate(), Ok(()));
    }

    #[test]
    fn broken_settings_are_refused() {
        let bad = [
            WorldConfig {
                map_size: 0.0,
                ..WorldConfig::default()
            },
            WorldConfig {
                inner_radius: f32::NAN,
                ..WorldConfig::default()
            },
            WorldConfig {
                inner_radius: 60.0,
                outer_radius: 50.0,
                ..WorldConfig::default()
            },
            WorldConfig {
                regions: 0,
                ..WorldConfig::default()
            },
            WorldConfig {
                regions: 65,
                ..WorldConfig::default()
            },
            WorldConfig {
                cell_size: 0.001,
                ..WorldConfig::default()
            },
            WorldConfig {
                spawn: Spawn::At {
                    x: f32::INFINITY,
                    z: 0.0,
                },
                ..WorldConfig::default()
            },
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?} should be refused");
        }
    }
}
