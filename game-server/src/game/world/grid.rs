//! `Grid`: the map cut into square cells, each listing the players in it, so "who is within r
//! of here" reads a few cells instead of every player. A cell holds the players' slots in
//! [`Interest`](crate::game::world::interest::Interest)'s tables, not their ids, so a query
//! leads straight to their positions with no lookup.

use crate::game::world::geometry::Pos;

/// Square cells over `[-half, half]^2`. Positions off the map count in the edge cells.
#[derive(Debug)]
pub struct Grid {
    half: f32,
    cell: f32,
    per_side: usize,
    /// Dense: a map of 1000 in cells of 50 is 400 small vectors. A cell holds few players at
    /// the densities the world is built for, so removal is a linear scan of one cell.
    cells: Vec<Vec<u32>>,
}

impl Grid {
    /// An empty grid over a map of side `2 * half` in cells of side `cell`.
    pub fn new(half: f32, cell: f32) -> Self {
        let per_side = ((2.0 * half / cell).ceil() as usize).max(1);
        Grid {
            half,
            cell,
            per_side,
            cells: vec![Vec::new(); per_side * per_side],
        }
    }

    fn axis(&self, v: f32) -> usize {
        let i = ((v.clamp(-self.half, self.half) + self.half) / self.cell).floor() as usize;
        i.min(self.per_side - 1)
    }

    fn index(&self, pos: Pos) -> usize {
        self.axis(pos.z) * self.per_side + self.axis(pos.x)
    }

    /// Adds `id` at `pos`.
    pub fn insert(&mut self, id: u32, pos: Pos) {
        let i = self.index(pos);
        self.cells[i].push(id);
    }

    /// Removes `id`, which is at `pos`.
    pub fn remove(&mut self, id: u32, pos: Pos) {
        let i = self.index(pos);
        let cell = &mut self.cells[i];
        if let Some(at) = cell.iter().position(|&p| p == id) {
            cell.swap_remove(at);
        }
    }

    /// Moves `id` from `from` to `to`; a no-op within one cell.
    pub fn relocate(&mut self, id: u32, from: Pos, to: Pos) {
        if self.index(from) != self.index(to) {
            self.remove(id, from);
            self.insert(id, to);
        }
    }

    /// Calls `f` with every id in the cells that overlap the square of half-side `r` around
    /// `center`: a superset of those within distance `r`, which the caller checks.
    pub fn for_each_near(&self, center: Pos, r: f32, mut f: impl FnMut(u32)) {
        let (x0, x1) = (self.axis(center.x - r), self.axis(center.x + r));
        let (z0, z1) = (self.axis(center.z - r), self.axis(center.z + r));
        for cz in z0..=z1 {
            for cx in x0..=x1 {
                for &id in &self.cells[cz * self.per_side + cx] {
                    f(id);
                }
            }
        }
    }

    /// Ids in the grid (for tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.cells.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_finds_neighbours_across_cell_edges_and_not_far_ones() {
        let mut grid = Grid::new(50.0, 10.0);
        grid.insert(1, Pos { x: 0.5, z: 0.5 });
        grid.insert(2, Pos { x: -0.5, z: -0.5 });
        grid.insert(3, Pos { x: 40.0, z: 40.0 });
        grid.insert(4, Pos { x: 1e9, z: -1e9 }); // off the map: an edge cell
        let mut near = Vec::new();
        grid.for_each_near(Pos { x: 0.0, z: 0.0 }, 5.0, |id| near.push(id));
        near.sort();
        assert_eq!(near, vec![1, 2]);
        grid.relocate(3, Pos { x: 40.0, z: 40.0 }, Pos { x: 1.0, z: 1.0 });
        grid.remove(1, Pos { x: 0.5, z: 0.5 });
        let mut near = Vec::new();
        grid.for_each_near(Pos { x: 0.0, z: 0.0 }, 5.0, |id| near.push(id));
        near.sort();
        assert_eq!(near, vec![2, 3]);
        let mut edge = Vec::new();
        grid.for_each_near(Pos { x: 50.0, z: -50.0 }, 1.0, |id| edge.push(id));
        assert_eq!(edge, vec![4]);
        assert_eq!(grid.len(), 3);
    }
}
