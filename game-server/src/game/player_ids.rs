//! Player ids across the cluster: the node that holds a player's session (its gateway) is in
//! the id itself, bits 24 to 29, so any process can tell where to send a player's frames
//! from the id alone, with no lookup and no message. Each node hands out
//! `node << 24 | 1 ..= node << 24 | 0xFF_FFFF`: 16.7 million players per node per run, ids
//! still positive `i32`s as the course's packets want, never reused.

/// Bits of a player id numbered by its node.
pub const LOCAL_BITS: u32 = 24;

/// The node holding `player_id`'s session.
pub fn gateway_of(player_id: i32) -> u16 {
    ((player_id as u32) >> LOCAL_BITS) as u16
}

/// The first and last id node `node` hands out.
pub fn range(node: u16) -> (i32, i32) {
    let base = (u32::from(node) << LOCAL_BITS) as i32;
    (base | 1, base | ((1 << LOCAL_BITS) - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_is_read_back_from_the_id() {
        for node in [0u16, 1, 7, 63] {
            let (first, last) = range(node);
            assert!(first > 0 && last > first);
            assert_eq!(gateway_of(first), node);
            assert_eq!(gateway_of(last), node);
        }
        assert_eq!(
            range(0).0,
            1,
            "node 0 numbers its players 1, 2, 3 as before"
        );
    }
}
