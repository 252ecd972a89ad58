//! The course's `C_Move` workload, and the mark that tells window moves from the others.
//!
//! Counting lost moves needs to know, for every `S_BroadcastMove` received, whether its
//! `C_Move` was sent inside the measured window: a move sent just before the window opens can
//! arrive just after, and no timestamp travels with it. The mark is the sign of `posY`. The
//! course's bots send `posY = 0`; ours send `+0.0` outside the window and `-0.0` inside it.
//! Both are exactly zero as numbers, so the workload is the course's, but a server that copies
//! positions bit for bit (the course's, ours) hands the mark back in every broadcast, which
//! makes the window's accounting exact instead of approximate at its edges. A server that
//! rewrites `posY` loses the mark, and the report then shows every window move as lost.

use rand::Rng;

use crate::packets::CMove;

/// Bots move in the square [-HALF_SIZE, HALF_SIZE) on x and z, as in the course.
pub(crate) const HALF_SIZE: f32 = 50.0;

/// A random move, marked as inside the measured window or not.
pub(crate) fn random_move(rng: &mut impl Rng, in_window: bool) -> CMove {
    CMove {
        pos_x: rng.gen_range(-HALF_SIZE..HALF_SIZE),
        pos_y: if in_window { -0.0 } else { 0.0 },
        pos_z: rng.gen_range(-HALF_SIZE..HALF_SIZE),
    }
}

/// True if a broadcast's `posY` carries the window mark.
#[inline]
pub(crate) fn in_window(pos_y: f32) -> bool {
    pos_y == 0.0 && pos_y.is_sign_negative()
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn moves_are_the_courses_and_carry_the_mark() {
        let mut rng = StdRng::seed_from_u64(7);
        for i in 0..1000 {
            let window = i % 2 == 0;
            let m = random_move(&mut rng, window);
            assert!(
                (-50.0..50.0).contains(&m.pos_x),
                "x in [-50, 50): {}",
                m.pos_x
            );
            assert!(
                (-50.0..50.0).contains(&m.pos_z),
                "z in [-50, 50): {}",
                m.pos_z
            );
            assert_eq!(m.pos_y, 0.0, "y is zero as a number, as the course sends");
            assert_eq!(in_window(m.pos_y), window, "the mark survives as sent");
        }
    }

    #[test]
    fn only_negative_zero_is_the_mark() {
        assert!(in_window(-0.0));
        assert!(!in_window(0.0));
        assert!(!in_window(-1.0));
        assert!(!in_window(f32::NAN));
    }
}
