//! `Layout`: the map's geometry and movement rules, pure functions of a [`WorldConfig`].
//!
//! The map is the square `[-h, h] x [-h, h]` in (x, z), `h = map_size / 2`; y plays no part
//! (the course's map is flat) and is carried through as sent. Region `k` of `n` owns the
//! stripe of x in `[-h + k w, -h + (k + 1) w)`, `w = map_size / n`; the last one also owns
//! x = h.

use crate::game::world::config::{Spawn, WorldConfig};

/// A region's index, 0-based from the west (smallest x).
pub type RegionId = u16;

/// Region `r`'s bit in a set of regions (a `u64`, bit `k` for region `k`; a world has at most
/// 64), or no bit for an id past 64. The one place a region set is built or read, for the
/// regions, the cluster's ownership and its heartbeats alike.
pub fn region_bit(r: RegionId) -> u64 {
    1u64.checked_shl(u32::from(r)).unwrap_or(0)
}

/// Whether the region set `set` holds region `r`.
pub fn has_region(set: u64, r: RegionId) -> bool {
    set & region_bit(r) != 0
}

/// A point on the map: (x, z).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pos {
    /// East-west.
    pub x: f32,
    /// North-south.
    pub z: f32,
}

impl Pos {
    /// Squared distance to `other`: radius checks compare squares and skip the root.
    pub fn dist2(self, other: Pos) -> f32 {
        let (dx, dz) = (self.x - other.x, self.z - other.z);
        dx * dx + dz * dz
    }
}

/// What the move rules did to a requested position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveVerdict {
    /// Taken as sent.
    Accepted,
    /// Off the map: pulled back onto its edge.
    ClampedToMap,
    /// Farther than `max_step` from the last position: shortened to `max_step`.
    StepLimited,
}

/// The map's geometry: stripes, clamping, step limit and spawn points.
#[derive(Debug, Clone)]
pub struct Layout {
    half: f32,
    stripe: f32,
    regions: usize,
    max_step: f32,
    spawn: Spawn,
}

impl Layout {
    /// The layout of a validated config.
    pub fn new(config: &WorldConfig) -> Self {
        Layout {
            half: config.map_size / 2.0,
            stripe: config.map_size / config.regions as f32,
            regions: config.regions,
            max_step: config.max_step,
            spawn: config.spawn,
        }
    }

    /// Regions in the world.
    pub fn regions(&self) -> usize {
        self.regions
    }

    /// Half the map's side: the map spans `[-half, half]`.
    pub fn half(&self) -> f32 {
        self.half
    }

    /// The region whose stripe holds `x` (x is clamped onto the map first).
    pub fn region_of(&self, x: f32) -> RegionId {
        let k = ((x.clamp(-self.half, self.half) + self.half) / self.stripe).floor() as usize;
        k.min(self.regions - 1) as RegionId
    }

    /// The x range `[min, max)` of a region's stripe.
    pub fn stripe(&self, region: RegionId) -> (f32, f32) {
        let min = -self.half + region as f32 * self.stripe;
        (min, min + self.stripe)
    }

    /// Distance in x from `x` to a region's stripe (0 inside it).
    pub fn distance_to_stripe(&self, x: f32, region: RegionId) -> f32 {
        let (min, max) = self.stripe(region);
        if x < min {
            min - x
        } else if x > max {
            x - max
        } else {
            0.0
        }
    }

    /// The rule for a `C_Move`: the requested point is first clamped onto the map, then, if
    /// it is farther than `max_step` from `from`, moved back along the same line to exactly
    /// `max_step` away. Both keep the result on the map (the map is convex).
    pub fn constrain(&self, from: Pos, to: Pos) -> (Pos, MoveVerdict) {
        let clamped = Pos {
            x: to.x.clamp(-self.half, self.half),
            z: to.z.clamp(-self.half, self.half),
        };
        let mut verdict = if clamped == to {
            MoveVerdict::Accepted
        } else {
            MoveVerdict::ClampedToMap
        };
        let d2 = from.dist2(clamped);
        if d2 <= self.max_step * self.max_step {
            return (clamped, verdict);
        }
        let scale = self.max_step / d2.sqrt();
        let limited = Pos {
            x: (from.x + (clamped.x - from.x) * scale).clamp(-self.half, self.half),
            z: (from.z + (clamped.z - from.z) * scale).clamp(-self.half, self.half),
        };
        verdict = MoveVerdict::StepLimited;
        (limited, verdict)
    }

    /// Where `player_id` appears.
    pub fn spawn_point(&self, player_id: i32) -> Pos {
        match self.spawn {
            Spawn::At { x, z } => Pos {
                x: x.clamp(-self.half, self.half),
                z: z.clamp(-self.half, self.half),
            },
            Spawn::Random { seed } => {
                let a = splitmix64(seed ^ (player_id as u32 as u64));
                let b = splitmix64(a);
                Pos {
                    x: self.unit_to_map(a),
                    z: self.unit_to_map(b),
                }
            }
        }
    }

    fn unit_to_map(&self, bits: u64) -> f32 {
        // The top 24 bits as a fraction in [0, 1): exact in an f32.
        let unit = (bits >> 40) as f32 / (1u64 << 24) as f32;
        -self.half + unit * 2.0 * self.half
    }
}

/// SplitMix64: a tiny, well-mixed hash, enough to scatter spawn points.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn layout() -> Layout {
        Layout::new(&WorldConfig {
            map_size: 100.0,
            regions: 4,
            max_step: 5.0,
            ..WorldConfig::default()
        })
    }

    #[test]
    fn stripes_cover_the_map_west_to_east() {
        let l = layout();
        assert_eq!(l.region_of(-50.0), 0);
        assert_eq!(l.region_of(-25.01), 0);
        assert_eq!(l.region_of(-25.0), 1);
        assert_eq!(l.region_of(49.99), 3);
        assert_eq!(
            l.region_of(50.0),
            3,
            "the east edge belongs to the last stripe"
        );
        assert_eq!(l.region_of(1e9), 3, "off-map x counts as the nearest edge");
        assert_eq!(l.stripe(1), (-25.0, 0.0));
        assert_eq!(l.distance_to_stripe(-30.0, 1), 5.0);
        assert_eq!(l.distance_to_stripe(-10.0, 1), 0.0);
    }

    #[test]
    fn off_map_moves_are_clamped_onto_the_edge() {
        let l = layout();
        let from = Pos { x: 48.0, z: 0.0 };
        let (to, verdict) = l.constrain(from, Pos { x: 51.0, z: -2.0 });
        assert_eq!(verdict, MoveVerdict::ClampedToMap);
        assert_eq!(to, Pos { x: 50.0, z: -2.0 });
    }

    #[test]
    fn a_teleport_is_shortened_to_the_step_limit_along_its_line() {
        let l = layout();
        let (to, verdict) = l.constrain(Pos { x: 0.0, z: 0.0 }, Pos { x: 30.0, z: 40.0 });
        assert_eq!(verdict, MoveVerdict::StepLimited);
        assert!(
            (to.x - 3.0).abs() < 1e-5 && (to.z - 4.0).abs() < 1e-5,
            "{to:?}"
        );
    }

    #[test]
    fn random_spawns_are_reproducible_and_spread() {
        let l = layout();
        assert_eq!(l.spawn_point(7), l.spawn_point(7));
        let quadrants = (1..=400)
            .map(|id| l.spawn_point(id))
            .fold([0; 4], |mut q, p| {
                q[(p.x >= 0.0) as usize * 2 + (p.z >= 0.0) as usize] += 1;
                q
            });
        assert!(
            quadrants.iter().all(|&n| n > 60),
            "spawns spread: {quadrants:?}"
        );
    }

    proptest! {
        #[test]
        fn constrained_moves_stay_on_the_map_and_within_a_step(
            fx in -50f32..=50.0, fz in -50f32..=50.0,
            tx in -1e6f32..1e6, tz in -1e6f32..1e6,
        ) {
            let l = layout();
            let from = Pos { x: fx, z: fz };
            let (to, _) = l.constrain(from, Pos { x: tx, z: tz });
            prop_assert!(to.x.abs() <= 50.0 && to.z.abs() <= 50.0, "{to:?} is off the map");
            prop_assert!(from.dist2(to).sqrt() <= 5.0 + 1e-3, "{from:?} -> {to:?} is too long");
        }
    }
}
