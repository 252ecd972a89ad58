//! The world on the live map: region stripes and cell lines, and the players each region
//! reports when asked ([`World::snapshot`], one job per region).
//!
//! The room publishes on its own tick; the world has a thread per region, so a small task
//! asks every region for a snapshot a few times a second instead, and only while a page is
//! open (asking costs each region a job).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::game::map::{
    sample_players, LineKind, MapBounds, MapDot, MapFeed, MapLine, MapSource, MonsterDot,
};
use crate::game::world::{Layout, RegionId, RegionSnapshot, WorldConfig};
use crate::runtime::world::World;

/// How often the map is refreshed while watched.
const EVERY: Duration = Duration::from_millis(250);
/// How long a region may take to answer before its part of the frame is left out.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);
/// Cell lines drawn at most, per axis: past it the cells are too small to see anyway.
const MAX_CELL_LINES: usize = 200;

/// The map's area for a world.
pub fn world_bounds(config: &WorldConfig) -> MapBounds {
    let half = config.map_size / 2.0;
    MapBounds {
        min_x: -half,
        min_z: -half,
        max_x: half,
        max_z: half,
    }
}

/// One frame of the world: what the regions answered.
struct WorldFrame {
    bounds: MapBounds,
    lines: Vec<MapLine>,
    regions: Vec<RegionSnapshot>,
}

impl MapSource for WorldFrame {
    fn bounds(&self) -> MapBounds {
        self.bounds
    }

    fn lines(&self) -> Vec<MapLine> {
        let mut lines = self.lines.clone();
        // Region borders: the west edge of every stripe but the first.
        for region in self.regions.iter().filter(|r| r.min_x > self.bounds.min_x) {
            lines.push(MapLine {
                kind: LineKind::Region,
                from: [region.min_x, region.min_z],
                to: [region.min_x, region.max_z],
            });
        }
        lines
    }

    fn player_count(&self) -> usize {
        self.regions.iter().map(|r| r.owned).sum()
    }

    fn sample(&self, max: usize, out: &mut Vec<MapDot>) {
        let total = self.player_count();
        let players = self
            .regions
            .iter()
            .flat_map(|r| r.players.iter().map(|&(id, x, z)| MapDot(id, x, z)));
        sample_players(players, total, max, out);
    }

    fn monster_count(&self) -> usize {
        self.regions.iter().map(|r| r.monster_count).sum()
    }

    fn monsters(&self, max: usize, out: &mut Vec<MonsterDot>) {
        // Every k-th of what the regions sent, so that a crowded map shows all of it thinly
        // rather than its western regions only.
        let sent: usize = self.regions.iter().map(|r| r.monsters.len()).sum();
        let stride = sent.div_ceil(max.max(1)).max(1);
        let all = self.regions.iter().flat_map(|r| r.monsters.iter().copied());
        out.extend(all.step_by(stride).take(max));
    }
}

/// `answered` plus, for every region of the world that did not answer (run by another node
/// of a cluster, or too slow), its stripe with no players: the map shows the whole world,
/// its players only where this process can see them.
fn with_every_region(mut answered: Vec<RegionSnapshot>, layout: &Layout) -> Vec<RegionSnapshot> {
    for k in 0..layout.regions() as RegionId {
        if answered.iter().any(|r| r.region == k) {
            continue;
        }
        let (min_x, max_x) = layout.stripe(k);
        answered.push(RegionSnapshot {
            region: k,
            min_x,
            max_x,
            min_z: -layout.half(),
            max_z: layout.half(),
            owned: 0,
            ghosts: 0,
            players: Vec::new(),
            monster_count: 0,
            monsters: Vec::new(),
        });
    }
    answered.sort_by_key(|r| r.region);
    answered
}

/// The cell grid's lines, at most [`MAX_CELL_LINES`] per axis.
fn cell_lines(config: &WorldConfig, bounds: MapBounds) -> Vec<MapLine> {
    let mut lines = Vec::new();
    if config.cell_size.is_nan() || config.cell_size <= 0.0 {
        return lines;
    }
    let cells = (config.map_size / config.cell_size).ceil() as usize;
    if cells > MAX_CELL_LINES {
        return lines;
    }
    for i in 1..cells {
        let at = bounds.min_x + i as f32 * config.cell_size;
        lines.push(MapLine {
            kind: LineKind::Cell,
            from: [at, bounds.min_z],
            to: [at, bounds.max_z],
        });
        lines.push(MapLine {
            kind: LineKind::Cell,
            from: [bounds.min_x, at],
            to: [bounds.max_x, at],
        });
    }
    lines
}

/// Publishes the world on `feed` every [`EVERY`] while a page watches, until aborted.
pub fn spawn_publisher(
    world: Arc<World>,
    config: &WorldConfig,
    feed: Arc<MapFeed>,
) -> JoinHandle<()> {
    let bounds = world_bounds(config);
    let cells = cell_lines(config, bounds);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if feed.viewers() == 0 {
                continue;
            }
            let asked = Arc::clone(&world);
            let max = feed.max_dots();
            // `World::snapshot` waits for every region's answer: off the async threads.
            let Ok(regions) =
                tokio::task::spawn_blocking(move || asked.snapshot(max, ANSWER_WITHIN)).await
            else {
                continue;
            };
            let regions = with_every_region(regions, world.layout());
            feed.publish(&WorldFrame {
                bounds,
                lines: cells.clone(),
                regions,
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(k: u8, min_x: f32, max_x: f32, players: Vec<(i32, f32, f32)>) -> RegionSnapshot {
        RegionSnapshot {
            region: RegionId::from(k),
            min_x,
            max_x,
            min_z: -50.0,
            max_z: 50.0,
            owned: players.len(),
            ghosts: 0,
            players,
            monster_count: 0,
            monsters: Vec::new(),
        }
    }

    #[test]
    fn a_frame_draws_region_borders_and_every_regions_players() {
        let frame = WorldFrame {
            bounds: MapBounds {
                min_x: -50.0,
                min_z: -50.0,
                max_x: 50.0,
                max_z: 50.0,
            },
            lines: Vec::new(),
            regions: vec![
                region(0, -50.0, 0.0, vec![(1, -10.0, 3.0)]),
                region(1, 0.0, 50.0, vec![(2, 10.0, -3.0), (3, 20.0, 4.0)]),
            ],
        };
        assert_eq!(frame.player_count(), 3);
        let mut dots = Vec::new();
        frame.sample(100, &mut dots);
        assert_eq!(dots.len(), 3);
        let borders: Vec<MapLine> = frame.lines();
        assert_eq!(
            borders,
            vec![MapLine {
                kind: LineKind::Region,
                from: [0.0, -50.0],
                to: [0.0, 50.0],
            }],
            "one border between two stripes"
        );
    }

    #[test]
    fn regions_another_node_runs_are_drawn_without_players() {
        let config = WorldConfig {
            map_size: 200.0,
            regions: 4,
            ..WorldConfig::default()
        };
        let layout = Layout::new(&config);
        let local = region(1, -50.0, 0.0, vec![(7, -10.0, 3.0)]);
        let all = with_every_region(vec![local.clone()], &layout);
        assert_eq!(
            all.iter().map(|r| r.region).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert_eq!(all[1], local, "what answered is kept as it is");
        assert_eq!((all[2].min_x, all[2].max_x), layout.stripe(2));
        assert!(all[2].players.is_empty() && all[2].owned == 0);
    }
}
