//! The live map's data: what a map source (the room now, the world's regions later) tells
//! the admin page, and the feed that carries it from the game's thread to the page.
//!
//! A source publishes on its own thread (the room on its tick) and only while someone
//! watches. What it publishes is bounded: at most `max_dots` positions, sampled by player id
//! so the same players stay on the map from frame to frame, whatever the number of players.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::watch;

/// The area a map shows, in world units (x to the right, z up the page).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MapBounds {
    /// Left edge.
    pub min_x: f32,
    /// Bottom edge.
    pub min_z: f32,
    /// Right edge.
    pub max_x: f32,
    /// Top edge.
    pub max_z: f32,
}

/// What a line on the map is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A border between regions (world mode).
    Region,
    /// A border between interest-management cells (world mode).
    Cell,
}

/// A straight line drawn under the players.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MapLine {
    /// What it is.
    pub kind: LineKind,
    /// One end, `[x, z]`.
    pub from: [f32; 2],
    /// The other end, `[x, z]`.
    pub to: [f32; 2],
}

/// One player on the map. Serialized as `[id, x, z]` to keep frames small.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MapDot(pub i32, pub f32, pub f32);

/// One monster on the map: `[id, kind, x, z, hp, max_hp]` (world mode).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MonsterDot(pub u32, pub u16, pub f32, pub f32, pub u32, pub u32);

/// Anything the admin page can draw: the room now, the world's regions later. Called on
/// the source's own thread, so it reads its state without a lock.
pub trait MapSource {
    /// The area to show.
    fn bounds(&self) -> MapBounds;
    /// Region and cell borders; none for a single room.
    fn lines(&self) -> Vec<MapLine> {
        Vec::new()
    }
    /// Players on the map in total.
    fn player_count(&self) -> usize;
    /// Pushes at most `max` players into `out`, chosen with [`sample_players`] so the same
    /// players stay on the map from frame to frame.
    fn sample(&self, max: usize, out: &mut Vec<MapDot>);
    /// Living monsters on the map in total; none for the room.
    fn monster_count(&self) -> usize {
        0
    }
    /// Pushes at most `max` living monsters into `out`.
    fn monsters(&self, _max: usize, _out: &mut Vec<MonsterDot>) {}
}

/// Whether player `id` is among those shown when `total` players share `max` dots: every
/// `k`-th id, `k` the smallest power of two with `total / k <= max`. Ids are handed out in
/// sequence, so this takes an even share (between half of `max` and `max`). A power of two,
/// so that the set shown does not reshuffle as players come and go: `k` changes only when
/// the total crosses a doubling, and then half of the players shown stay shown.
pub fn keep_for_sample(id: i32, total: usize, max: usize) -> bool {
    let stride = total.div_ceil(max.max(1)).max(1).next_power_of_two() as i64;
    i64::from(id).rem_euclid(stride) == 0
}

/// Pushes at most `max` of `players` (`total` of them) into `out`: first those that
/// [`keep_for_sample`] keeps, so the same players stay shown frame after frame; then, if
/// that came up short (ids that do not spread evenly over the stride), others until `max`.
pub fn sample_players<I>(players: I, total: usize, max: usize, out: &mut Vec<MapDot>)
where
    I: Iterator<Item = MapDot> + Clone,
{
    let start = out.len();
    out.extend(
        players
            .clone()
            .filter(|d| keep_for_sample(d.0, total, max))
            .take(max),
    );
    let kept = out.len() - start;
    if kept < max.min(total) {
        out.extend(
            players
                .filter(|d| !keep_for_sample(d.0, total, max))
                .take(max - kept),
        );
    }
}

/// One published frame of a map source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapSnapshot {
    /// The area shown.
    pub bounds: MapBounds,
    /// Borders to draw.
    pub lines: Vec<MapLine>,
    /// Players on the map in total (the dots are a sample of them).
    pub players: usize,
    /// The sampled players.
    pub dots: Vec<MapDot>,
    /// Living monsters on the map in total.
    pub monster_count: usize,
    /// At most `max_dots` of them.
    pub monsters: Vec<MonsterDot>,
}

/// Carries map snapshots from the game's thread to the admin endpoint.
#[derive(Debug)]
pub struct MapFeed {
    tx: watch::Sender<Arc<MapSnapshot>>,
    max_dots: usize,
    /// Open event streams. The source builds no snapshot while this is zero.
    viewers: AtomicUsize,
}

impl MapFeed {
    /// A feed whose frames hold at most `max_dots` players.
    pub fn new(max_dots: usize, bounds: MapBounds) -> Self {
        let empty = MapSnapshot {
            bounds,
            lines: Vec::new(),
            players: 0,
            dots: Vec::new(),
            monster_count: 0,
            monsters: Vec::new(),
        };
        MapFeed {
            tx: watch::Sender::new(Arc::new(empty)),
            max_dots,
            viewers: AtomicUsize::new(0),
        }
    }

    /// Called by the source on its own thread (the room's tick): samples and publishes, or
    /// does nothing at all while no page is open. Never blocks: a watch keeps only the
    /// latest frame, so a slow reader just skips frames.
    pub fn publish<S: MapSource + ?Sized>(&self, source: &S) {
        if self.viewers.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut dots = Vec::with_capacity(source.player_count().min(self.max_dots));
        source.sample(self.max_dots, &mut dots);
        dots.truncate(self.max_dots);
        let mut monsters = Vec::new();
        source.monsters(self.max_dots, &mut monsters);
        monsters.truncate(self.max_dots);
        self.tx.send_replace(Arc::new(MapSnapshot {
            bounds: source.bounds(),
            lines: source.lines(),
            players: source.player_count(),
            dots,
            monster_count: source.monster_count(),
            monsters,
        }));
    }

    /// The latest snapshot.
    pub fn latest(&self) -> Arc<MapSnapshot> {
        Arc::clone(&self.tx.borrow())
    }

    /// Counts a viewer while the guard lives.
    pub fn watch(self: &Arc<Self>) -> ViewerGuard {
        self.viewers.fetch_add(1, Ordering::Relaxed);
        ViewerGuard(Arc::clone(self))
    }

    /// Most players one frame shows.
    pub fn max_dots(&self) -> usize {
        self.max_dots
    }

    /// Open viewers.
    pub fn viewers(&self) -> usize {
        self.viewers.load(Ordering::Relaxed)
    }
}

/// One open viewer of a [`MapFeed`].
#[derive(Debug)]
pub struct ViewerGuard(Arc<MapFeed>);

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        self.0.viewers.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Square(Vec<MapDot>);

    impl MapSource for Square {
        fn bounds(&self) -> MapBounds {
            MapBounds {
                min_x: -50.0,
                min_z: -50.0,
                max_x: 50.0,
                max_z: 50.0,
            }
        }
        fn player_count(&self) -> usize {
            self.0.len()
        }
        fn sample(&self, max: usize, out: &mut Vec<MapDot>) {
            sample_players(self.0.iter().copied(), self.0.len(), max, out);
        }
    }

    fn players(n: i32) -> Square {
        Square((1..=n).map(|id| MapDot(id, id as f32, 0.0)).collect())
    }

    #[test]
    fn nothing_is_built_while_nobody_watches() {
        let feed = Arc::new(MapFeed::new(100, players(0).bounds()));
        feed.publish(&players(10));
        assert_eq!(feed.latest().players, 0, "no viewer, no snapshot");
        let guard = feed.watch();
        feed.publish(&players(10));
        assert_eq!(feed.latest().players, 10);
        assert_eq!(
            feed.latest().dots.len(),
            10,
            "under the cap every player is shown"
        );
        drop(guard);
        assert_eq!(feed.viewers(), 0);
    }

    #[test]
    fn a_big_crowd_is_sampled_under_the_cap_and_the_sample_is_stable() {
        let feed = Arc::new(MapFeed::new(1000, players(0).bounds()));
        let _viewer = feed.watch();
        feed.publish(&players(10_000));
        let first = feed.latest();
        assert_eq!(first.players, 10_000);
        assert!(
            (500..=1000).contains(&first.dots.len()),
            "between half the cap and the cap: {}",
            first.dots.len()
        );
        feed.publish(&players(10_003));
        let kept: Vec<i32> = first.dots.iter().map(|d| d.0).collect();
        let again: Vec<i32> = feed.latest().dots.iter().map(|d| d.0).collect();
        assert_eq!(
            kept, again,
            "a few more players do not reshuffle who is shown"
        );
    }

    #[test]
    fn a_sample_that_the_stride_leaves_short_is_filled_up_to_the_cap() {
        // Ids 1..=3 with room for 1: the stride (4) keeps none of them.
        let mut out = Vec::new();
        sample_players(players(3).0.into_iter(), 3, 1, &mut out);
        assert_eq!(out.len(), 1, "one dot, since one was allowed");
        // Only odd ids, 2 allowed: the stride (8) keeps none; two are filled in.
        let odd: Vec<MapDot> = (0..10).map(|i| MapDot(2 * i + 1, 0.0, 0.0)).collect();
        let mut out = Vec::new();
        sample_players(odd.into_iter(), 10, 2, &mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn dots_serialize_as_small_arrays() {
        let json = serde_json::to_string(&MapDot(7, 1.5, -2.0)).expect("serializes");
        assert_eq!(json, "[7,1.5,-2.0]");
    }
}
