//! `IdMap` and `IdSet`: hash maps and sets keyed by player id, with a one-multiply hash.
//!
//! A move touches a few hundred of these lookups (every neighbour's position and view), so
//! std's SipHash was most of a region's time in `benches/world.rs`. SipHash resists keys
//! chosen by an attacker; player ids are not: the server hands them out, 1, 2, 3, ... The
//! hash is FxHash's (rustc's), a multiply by a constant with well-spread bits; the
//! `rustc-hash` crate would give the same and can replace this file once it is a dependency.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash over the key's bytes; one multiply for an `i32`.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(SEED);
        }
    }

    fn write_i32(&mut self, n: i32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(n as u32)).wrapping_mul(SEED);
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(n)).wrapping_mul(SEED);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by player id.
pub type IdMap<V> = HashMap<i32, V, BuildHasherDefault<IdHasher>>;

/// A set of player ids.
pub type IdSet = HashSet<i32, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_spread_over_the_buckets() {
        // hashbrown picks buckets from the low bits and a tag from the top 7: both must vary.
        let hashes: Vec<u64> = (1..=1024)
            .map(|id: i32| {
                let mut h = IdHasher::default();
                h.write_i32(id);
                h.finish()
            })
            .collect();
        let low: IdSet = hashes.iter().map(|h| (h & 1023) as i32).collect();
        let top: IdSet = hashes.iter().map(|h| (h >> 57) as i32).collect();
        assert!(low.len() > 600, "low bits: {} distinct of 1024", low.len());
        assert_eq!(top.len(), 128, "every 7-bit tag is used");
    }
}
