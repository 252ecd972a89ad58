//! `IdMap` and `IdSet`: hash maps and sets keyed by player id, with FxHash (`rustc-hash`).
//!
//! A move touches many of these lookups, and std's SipHash was most of a region's time in
//! `benches/world.rs`. SipHash resists keys chosen by an attacker; player ids are not: the
//! server hands them out, 1, 2, 3, ... (or a node's range in a cluster).

/// A map keyed by player id.
pub type IdMap<V> = rustc_hash::FxHashMap<i32, V>;

/// A set of player ids.
pub type IdSet = rustc_hash::FxHashSet<i32>;

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn sequential_ids_spread_over_the_buckets() {
        // hashbrown picks buckets from the low bits and a tag from the top 7: both must vary.
        let hasher = *IdSet::default().hasher();
        let hashes: Vec<u64> = (1..=1024).map(|id: i32| hasher.hash_one(id)).collect();
        let low: IdSet = hashes.iter().map(|h| (h & 1023) as i32).collect();
        let top: IdSet = hashes.iter().map(|h| (h >> 57) as i32).collect();
        assert!(low.len() > 600, "low bits: {} distinct of 1024", low.len());
        // Tags only shorten probes; half of them in use is plenty for that.
        assert!(top.len() > 64, "7-bit tags used: {} of 128", top.len());
    }
}
