//! Plane geometry for the AI, on (x, z).

use rand::Rng;
use rand_pcg::Pcg32;

/// Squared distance.
pub fn dist_sq(a: [f32; 2], b: [f32; 2]) -> f32 {
    let (dx, dz) = (b[0] - a[0], b[1] - a[1]);
    dx * dx + dz * dz
}

/// One step of at most `max_step` from `from` toward `to`, stopping `short` before it;
/// true once there.
pub fn step_toward(from: [f32; 2], to: [f32; 2], max_step: f32, short: f32) -> ([f32; 2], bool) {
    let d = dist_sq(from, to).sqrt();
    let remaining = d - short;
    if remaining <= max_step {
        if remaining <= 0.0 {
            return (from, true);
        }
        let t = remaining / d;
        return (
            [
                from[0] + (to[0] - from[0]) * t,
                from[1] + (to[1] - from[1]) * t,
            ],
            true,
        );
    }
    let t = max_step / d;
    (
        [
            from[0] + (to[0] - from[0]) * t,
            from[1] + (to[1] - from[1]) * t,
        ],
        false,
    )
}

/// A point drawn evenly from the disc of `radius` around `center`.
pub fn point_in_disc(rng: &mut Pcg32, center: [f32; 2], radius: f32) -> [f32; 2] {
    if radius <= 0.0 {
        return center;
    }
    let r = radius * rng.gen::<f32>().sqrt();
    let a = rng.gen::<f32>() * std::f32::consts::TAU;
    [center[0] + r * a.cos(), center[1] + r * a.sin()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn steps_stop_short_and_never_overshoot() {
        let (p, there) = step_toward([0.0, 0.0], [10.0, 0.0], 3.0, 0.0);
        assert_eq!((p, there), ([3.0, 0.0], false));
        let (p, there) = step_toward([8.0, 0.0], [10.0, 0.0], 3.0, 1.0);
        assert_eq!((p, there), ([9.0, 0.0], true));
        let (p, there) = step_toward([9.5, 0.0], [10.0, 0.0], 3.0, 1.0);
        assert_eq!((p, there), ([9.5, 0.0], true), "already within: stays");
        let mut rng = Pcg32::seed_from_u64(1);
        for _ in 0..1000 {
            let q = point_in_disc(&mut rng, [5.0, 5.0], 2.0);
            assert!(dist_sq(q, [5.0, 5.0]) <= 4.0 + 1e-4);
        }
    }
}
