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
//!
//! A window move also says who sent it and which of its sender's window moves it is, so that
//! a receiver can account per sender (see `sequences.rs`): the sender's bot index rides in the
//! low [`TAG_BITS`] mantissa bits of `posX`, the low bits of its sequence number in those of
//! `posZ`. Both stay random-looking positions in the course's square; only their last bits are
//! ours. The player id cannot serve: a churning bot is a new player id at every rejoin, while
//! its index and sequence carry on.

use rand::Rng;

use crate::packets::CMove;

/// Bots move in the square [-HALF_SIZE, HALF_SIZE) on x and z, as in the course.
pub(crate) const HALF_SIZE: f32 = 50.0;

/// Low mantissa bits of `posX` and `posZ` that carry a window move's [`Tag`]. 16 of 23: at
/// worst (|x| in [32, 50)) the payload moves a position by under 0.25, within a square of 100.
pub(crate) const TAG_BITS: u32 = 16;

/// Bot indexes a tag can name: a run has at most this many bots.
pub(crate) const MAX_SENDERS: usize = 1 << TAG_BITS;

const TAG_MASK: u32 = (1 << TAG_BITS) - 1;

/// Who sent a window move, and which of its window moves it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    /// The sender's bot index.
    pub(crate) sender: u16,
    /// The sender's window-move sequence number (from 1), modulo 2^16.
    pub(crate) seq: u16,
}

impl Tag {
    /// The tag of window move number `seq` (from 1) of bot `index`. `index` must be below
    /// [`MAX_SENDERS`] (the run's configuration is validated for it); the sequence wraps.
    pub(crate) fn new(index: usize, seq: u32) -> Tag {
        Tag {
            sender: (index & TAG_MASK as usize) as u16,
            seq: (seq & TAG_MASK) as u16,
        }
    }
}

/// A random move: outside the window plain, inside it marked and tagged.
pub(crate) fn random_move(rng: &mut impl Rng, tag: Option<Tag>) -> CMove {
    let x = rng.gen_range(-HALF_SIZE..HALF_SIZE);
    let z = rng.gen_range(-HALF_SIZE..HALF_SIZE);
    match tag {
        None => CMove {
            pos_x: x,
            pos_y: 0.0,
            pos_z: z,
        },
        Some(tag) => CMove {
            pos_x: with_payload(x, tag.sender),
            pos_y: -0.0,
            pos_z: with_payload(z, tag.seq),
        },
    }
}

/// The tag of a window move, or `None` if it is not one: the float form of what the
/// receive path does on the raw bits (`WINDOW_Y_BITS`, [`tag_of_bits`]), kept as the
/// reference the tests hold it to.
#[cfg(test)]
pub(crate) fn tag(pos_x: f32, pos_y: f32, pos_z: f32) -> Option<Tag> {
    in_window(pos_y).then(|| tag_of_bits(pos_x.to_bits(), pos_z.to_bits()))
}

/// `v` with its low mantissa bits replaced by `payload`, kept inside the square.
fn with_payload(v: f32, payload: u16) -> f32 {
    let out = f32::from_bits((v.to_bits() & !TAG_MASK) | u32::from(payload));
    // Replacing low bits keeps the value within its binade, so only a value at the very
    // edge (-50.0 exactly, whose low bits are zero) can leave the square. Halving a normal
    // float changes its exponent, not its mantissa: the payload survives.
    if (-HALF_SIZE..HALF_SIZE).contains(&out) {
        out
    } else {
        out * 0.5
    }
}

/// The bits of `pos_y` of a window move: -0.0, the only float that is 0 with its sign set.
pub(crate) const WINDOW_Y_BITS: u32 = 0x8000_0000;

/// The tag of a window move from the bits of its x and z (see [`tag`]).
#[inline]
pub(crate) fn tag_of_bits(x: u32, z: u32) -> Tag {
    Tag {
        sender: (x & TAG_MASK) as u16,
        seq: (z & TAG_MASK) as u16,
    }
}

#[cfg(test)]
pub(crate) fn in_window(pos_y: f32) -> bool {
    pos_y.to_bits() == WINDOW_Y_BITS
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
            let m = random_move(&mut rng, tag_of(window, i));
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
            assert_eq!(tag(m.pos_x, m.pos_y, m.pos_z), tag_of(window, i));
        }
    }

    fn tag_of(window: bool, i: usize) -> Option<Tag> {
        window.then(|| Tag::new(i, i as u32 * 7))
    }

    #[test]
    fn the_tag_survives_every_value_and_the_square_holds() {
        for v in [
            -50.0f32,
            -49.999_996,
            -32.0,
            -1.0,
            -0.0,
            0.0,
            1e-30,
            31.999_998,
            49.999_996,
        ] {
            for payload in [0u16, 1, 0x8000, u16::MAX] {
                let out = with_payload(v, payload);
                assert!((-50.0..50.0).contains(&out), "{v} with {payload}: {out}");
                assert!(out.is_finite());
                assert_eq!((out.to_bits() & TAG_MASK) as u16, payload, "{v}");
            }
        }
        let t = Tag::new(65_535, 65_537);
        assert_eq!((t.sender, t.seq), (65_535, 1), "the sequence wraps at 2^16");
    }

    #[test]
    fn only_negative_zero_is_the_mark() {
        assert!(in_window(-0.0));
        assert!(!in_window(0.0));
        assert!(!in_window(-1.0));
        assert!(!in_window(f32::NAN));
    }
}
