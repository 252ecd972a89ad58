//! `Near`: the walking bots by grid cell, for "who is near this move". Sans-IO.
//!
//! The driver asks it for every move it sends (40,000 a second at 10,000 bots), so it is a
//! flat array of cells over the map indexed by arithmetic, not a map keyed by cell. A
//! position off the map (a spawn point the server chose) goes to the nearest edge cell:
//! cells only narrow the candidates, the caller checks the exact distance, and clamping
//! both a bot's cell and a query's range the same way keeps every bot within reach of a
//! query among its candidates.

/// Most cells per side: a map with many more than its radius would need gets larger
/// cells (more candidates per query, never a missed one) rather than a huge array.
const MAX_SIDE: usize = 1024;

/// Bots by cell of a square grid over the map `[-half, half]^2`.
#[derive(Debug)]
pub(crate) struct Near {
    /// Side of a cell.
    cell: f32,
    /// The map's lowest coordinate: where cell 0 starts on both axes.
    origin: f32,
    /// Cells per side.
    side: usize,
    /// Bot indexes per cell, `x * side + z`.
    cells: Vec<Vec<u32>>,
}

impl Near {
    /// An empty grid over a map of side `map_size` (centred on the origin), with cells of
    /// side `cell` or more.
    pub(crate) fn new(map_size: f32, cell: f32) -> Near {
        let map_size = if map_size.is_finite() && map_size > 0.0 {
            map_size
        } else {
            1.0
        };
        let cell = if cell.is_finite() && cell > 0.0 {
            cell
        } else {
            map_size
        };
        let cell = cell.max(map_size / MAX_SIDE as f32);
        // A float side of at most MAX_SIDE and a bit, so the cast is exact enough.
        let side = ((map_size / cell).ceil() as usize).clamp(1, MAX_SIDE);
        Near {
            cell,
            origin: -map_size / 2.0,
            side,
            cells: vec![Vec::new(); side * side],
        }
    }

    /// The cell column or row of coordinate `v`, clamped to the grid (NaN to 0).
    fn coord(&self, v: f32) -> usize {
        let k = ((v - self.origin) / self.cell).floor();
        // `as` saturates (and takes NaN to 0); the clamp keeps it on the grid.
        (k as i64).clamp(0, self.side as i64 - 1) as usize
    }

    fn index(&self, x: f32, z: f32) -> usize {
        self.coord(x) * self.side + self.coord(z)
    }

    /// Adds bot `bot` at (x, z).
    pub(crate) fn insert(&mut self, bot: u32, x: f32, z: f32) {
        let at = self.index(x, z);
        self.cells[at].push(bot);
    }

    /// Moves bot `bot` from `from` to `to`.
    pub(crate) fn relocate(&mut self, bot: u32, from: (f32, f32), to: (f32, f32)) {
        let (a, b) = (self.index(from.0, from.1), self.index(to.0, to.1));
        if a == b {
            return;
        }
        if let Some(i) = self.cells[a].iter().position(|&x| x == bot) {
            self.cells[a].swap_remove(i);
        }
        self.cells[b].push(bot);
    }

    /// Calls `f` with every bot whose cell is within `r` of (x, z) on both axes: every bot
    /// within `r` of it, and some farther, each once.
    pub(crate) fn around(&self, x: f32, z: f32, r: f32, mut f: impl FnMut(u32)) {
        let (x0, x1) = (self.coord(x - r), self.coord(x + r));
        let (z0, z1) = (self.coord(z - r), self.coord(z + r));
        for cx in x0..=x1 {
            let row = cx * self.side;
            for cell in &self.cells[row + z0..=row + z1] {
                cell.iter().for_each(|&b| f(b));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_huge_map_gets_larger_cells_not_a_huge_grid() {
        let near = Near::new(1e9, 1.0);
        assert_eq!(near.side, MAX_SIDE);
        let near = Near::new(100.0, 40.0);
        assert_eq!(near.side, 3);
        let near = Near::new(f32::NAN, 0.0);
        assert_eq!(near.side, 1);
    }

    fn coord() -> impl Strategy<Value = f32> {
        prop_oneof![
            8 => -60.0f32..60.0,
            1 => Just(50.0f32),
            1 => Just(-50.0f32),
            1 => Just(f32::NAN),
            1 => Just(1e30f32),
        ]
    }

    proptest! {
        /// After any walk, a query finds every bot within its radius, and each bot once.
        #[test]
        fn every_bot_within_reach_is_found_once(
            start in proptest::collection::vec((coord(), coord()), 1..40),
            steps in proptest::collection::vec((0usize..40, coord(), coord()), 0..100),
            queries in proptest::collection::vec((coord(), coord(), 0.0f32..40.0), 1..20),
            cell in 1.0f32..60.0,
        ) {
            let mut near = Near::new(100.0, cell);
            let mut at = start.clone();
            for (bot, &(x, z)) in at.iter().enumerate() {
                near.insert(bot as u32, x, z);
            }
            for (bot, x, z) in steps {
                let bot = bot % at.len();
                near.relocate(bot as u32, at[bot], (x, z));
                at[bot] = (x, z);
            }
            for (x, z, r) in queries {
                let mut found = vec![0u32; at.len()];
                near.around(x, z, r, |b| found[b as usize] += 1);
                for (bot, &(bx, bz)) in at.iter().enumerate() {
                    prop_assert!(found[bot] <= 1, "bot {} found {} times", bot, found[bot]);
                    if (bx - x).powi(2) + (bz - z).powi(2) <= r * r {
                        prop_assert_eq!(found[bot], 1, "bot {} at ({}, {}) not found", bot, bx, bz);
                    }
                }
            }
        }
    }
}
