//! `SenderIndex`: which bot a player id belongs to, for the delivery times of a run with
//! several servers (every move a bot receives looks its sender up here). Sans-IO.
//!
//! The server hands ids out densely: 1, 2, 3, ... on a single server, and in a cluster each
//! node from its own range, `node << 24 | 1, 2, 3, ...` (game-server's `player_ids.rs`). So
//! the ids are cut into groups by their top 8 bits, and each group is a flat array from its
//! lowest id to its highest: a lookup is a shift, a compare or two and one load, where a
//! SipHash map cost most of the lookup. The ids come from the server, so nothing is trusted:
//! a group whose ids are too sparse for an array of at most a few times their number, and
//! any group past the first few, goes into a sorted list searched by halves instead, and an
//! id in no group is simply not found.

/// Dense groups searched one by one before the sorted list: one per cluster node of a
/// usual run.
const MAX_GROUPS: usize = 8;

/// A group is a flat array only if its span is at most this many times its ids, plus
/// [`SLACK`]: memory stays within a small multiple of the bots.
const SPREAD: usize = 4;
const SLACK: usize = 1024;

/// An empty slot of a group.
const NONE: u32 = u32::MAX;

/// Bot index by player id.
#[derive(Debug, Default)]
pub(crate) struct SenderIndex {
    groups: Vec<Group>,
    /// Ids of sparse groups, sorted, with their bot index.
    sorted: Vec<(i32, u32)>,
}

/// The ids sharing their top 8 bits, as a flat array.
#[derive(Debug)]
struct Group {
    /// The ids' top 8 bits.
    top: u32,
    /// The lowest id's low 24 bits: slot 0.
    first: u32,
    /// Bot index per id from `first` on, [`NONE`] where no bot has that id.
    slots: Vec<u32>,
}

impl SenderIndex {
    /// An index of `(player id, bot index)` pairs. If two bots were given one id, one of
    /// them is found for it.
    pub(crate) fn new(pairs: impl IntoIterator<Item = (i32, usize)>) -> SenderIndex {
        let mut pairs: Vec<(u32, u32)> = pairs
            .into_iter()
            // A bot index past u32 cannot be stored; no run has four billion bots.
            .filter_map(|(id, bot)| Some((id as u32, u32::try_from(bot).ok()?)))
            .filter(|&(_, bot)| bot != NONE)
            .collect();
        pairs.sort_unstable_by_key(|&(id, _)| id);
        let mut index = SenderIndex::default();
        for group in pairs.chunk_by(|a, b| a.0 >> 24 == b.0 >> 24) {
            let (lo, hi) = (group[0].0 & LOW, group[group.len() - 1].0 & LOW);
            let span = (hi - lo) as usize + 1;
            if index.groups.len() < MAX_GROUPS && span <= SPREAD * group.len() + SLACK {
                let mut slots = vec![NONE; span];
                for &(id, bot) in group {
                    slots[((id & LOW) - lo) as usize] = bot;
                }
                index.groups.push(Group {
                    top: group[0].0 >> 24,
                    first: lo,
                    slots,
                });
            } else {
                index
                    .sorted
                    .extend(group.iter().map(|&(id, bot)| (id as i32, bot)));
            }
        }
        index.sorted.sort_unstable_by_key(|&(id, _)| id);
        index
    }

    /// The bot with player id `id`, if any.
    #[inline]
    pub(crate) fn get(&self, id: i32) -> Option<usize> {
        let (top, low) = ((id as u32) >> 24, id as u32 & LOW);
        for group in &self.groups {
            if group.top == top {
                // Below `first` wraps to a huge offset, which `get` refuses.
                let slot = group.slots.get(low.wrapping_sub(group.first) as usize)?;
                return (*slot != NONE).then_some(*slot as usize);
            }
        }
        let at = self.sorted.binary_search_by_key(&id, |&(id, _)| id).ok()?;
        self.sorted.get(at).map(|&(_, bot)| bot as usize)
    }
}

/// The low 24 bits of an id: its number within its node's range.
const LOW: u32 = (1 << 24) - 1;

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn dense_ids_of_one_server_and_of_two_nodes_are_found() {
        let one = SenderIndex::new((1..=1000).map(|id| (id, id as usize + 7)));
        assert_eq!(one.groups.len(), 1);
        assert!(one.sorted.is_empty());
        assert_eq!(one.get(1), Some(8));
        assert_eq!(one.get(1000), Some(1007));
        for absent in [0, 1001, -1, i32::MIN, i32::MAX, 1 << 24 | 5] {
            assert_eq!(one.get(absent), None, "{absent}");
        }

        let node1 = 1 << 24;
        let two = SenderIndex::new(
            (1..=500).flat_map(|k| [(k, k as usize), (node1 | k, 1000 + k as usize)]),
        );
        assert_eq!(two.groups.len(), 2);
        assert_eq!(two.get(3), Some(3));
        assert_eq!(two.get(node1 | 3), Some(1003));
        assert_eq!(two.get(node1 | 501), None);
        assert_eq!(two.get(node1), None);
    }

    #[test]
    fn sparse_ids_are_not_an_array_but_are_found() {
        // A hostile server's ids: 0 and the top of the range, in one group.
        let sparse = SenderIndex::new([(1, 0), ((1 << 24) - 1, 1), (-5, 2)]);
        assert!(sparse.groups.iter().all(|g| g.slots.len() <= 2 * SLACK));
        assert_eq!(sparse.get(1), Some(0));
        assert_eq!(sparse.get((1 << 24) - 1), Some(1));
        assert_eq!(sparse.get(-5), Some(2));
        assert_eq!(sparse.get(2), None);
    }

    #[test]
    fn more_groups_than_are_searched_one_by_one_go_to_the_sorted_list() {
        let index = SenderIndex::new((0..40).map(|node| (node << 24 | 1, node as usize)));
        assert_eq!(index.groups.len(), MAX_GROUPS);
        for node in 0..40 {
            assert_eq!(index.get(node << 24 | 1), Some(node as usize));
            assert_eq!(index.get(node << 24 | 2), None);
        }
    }

    proptest! {
        #[test]
        fn finds_exactly_what_a_map_finds(
            ids in proptest::collection::vec(
                prop_oneof![1i32..3000, (1i32..3000).prop_map(|k| 1 << 24 | k), any::<i32>()],
                0..300,
            ),
            probes in proptest::collection::vec(
                prop_oneof![0i32..3100, (0i32..3100).prop_map(|k| 1 << 24 | k), any::<i32>()],
                0..300,
            ),
        ) {
            // Distinct ids: which of two bots with one id is found is not promised.
            let map: HashMap<i32, usize> = ids.iter().enumerate().map(|(bot, &id)| (id, bot)).collect();
            let index = SenderIndex::new(map.iter().map(|(&id, &bot)| (id, bot)));
            for id in probes.iter().chain(&ids) {
                prop_assert_eq!(index.get(*id), map.get(id).copied(), "id {}", id);
            }
            let cells: usize = index.groups.iter().map(|g| g.slots.len()).sum();
            prop_assert!(cells <= SPREAD * map.len() + MAX_GROUPS * SLACK);
        }
    }
}
