//! `Walker`: one bot's random walk, staying on the map. Sans-IO: the driver steps it.

use rand::Rng;

/// A bot's heading and place on the map `[-half, half]^2`.
#[derive(Debug, Clone)]
pub struct Walker {
    /// Where it is.
    pub x: f32,
    /// Where it is.
    pub z: f32,
    heading: f32,
    half: f32,
}

impl Walker {
    /// A walker at (x, z) heading in a random direction.
    pub fn new(x: f32, z: f32, half: f32, rng: &mut impl Rng) -> Self {
        Walker {
            x,
            z,
            heading: rng.gen_range(0.0..std::f32::consts::TAU),
            half,
        }
    }

    /// Walks `step` units: turns a little at random, and turns back from the edge so the
    /// next position stays on the map (never clamped by the server).
    pub fn step(&mut self, step: f32, rng: &mut impl Rng) -> (f32, f32) {
        self.heading += rng.gen_range(-0.5..0.5);
        let (mut dx, mut dz) = (self.heading.cos() * step, self.heading.sin() * step);
        let edge = self.half - 1e-3;
        if (self.x + dx).abs() > edge {
            dx = -dx;
        }
        if (self.z + dz).abs() > edge {
            dz = -dz;
        }
        self.heading = dz.atan2(dx);
        self.x = (self.x + dx).clamp(-edge, edge);
        self.z = (self.z + dz).clamp(-edge, edge);
        (self.x, self.z)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn a_walk_stays_on_the_map_at_its_speed() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut w = Walker::new(49.0, -49.0, 50.0, &mut rng);
        for _ in 0..10_000 {
            let (x0, z0) = (w.x, w.z);
            let (x, z) = w.step(1.5, &mut rng);
            assert!(
                x.abs() < 50.0 && z.abs() < 50.0,
                "off the map at ({x}, {z})"
            );
            let d = ((x - x0).powi(2) + (z - z0).powi(2)).sqrt();
            assert!(d <= 1.5 + 1e-3, "a step of {d}");
        }
    }
}
