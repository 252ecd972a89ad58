//! The page's live feed: one task turns the latest map snapshot and the server's counters
//! into one server-sent event a few times a second, serialized once for every viewer.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::adapters::metrics::{HistogramSnapshot, MetricSources};
use crate::game::map::{MapBounds, MapDot, MapFeed, MapLine, MapSnapshot, MonsterDot};

/// How far back the page's p99 flush time looks.
const P99_WINDOW: Duration = Duration::from_secs(5);

/// Totals older than this are not used for a rate.
const STALE_AFTER: Duration = Duration::from_secs(2);

/// One event of the stream, as the page receives it (JSON).
#[derive(Debug, Serialize)]
pub struct LiveFrame<'a> {
    /// Milliseconds since the feed started.
    pub t_ms: u64,
    /// Players in every room.
    pub players: u64,
    /// Sessions open.
    pub sessions: u64,
    /// Packets received per second, over the last frame interval.
    pub in_per_sec: f64,
    /// Packets delivered per second.
    pub out_per_sec: f64,
    /// p99 of the flush duration over the last few seconds (upper bucket bound), ms; `None`
    /// before the first flush.
    pub flush_p99_ms: Option<f64>,
    /// The map's area.
    pub bounds: MapBounds,
    /// Region and cell borders.
    pub lines: &'a [MapLine],
    /// Players on the map (the dots are a sample of at most the feed's `max_dots`).
    pub map_players: usize,
    /// `[id, x, z]` of every sampled player.
    pub dots: &'a [MapDot],
    /// Living monsters on the map (world mode).
    pub map_monsters: usize,
    /// `[id, kind, x, z, hp, max_hp]` of at most `max_dots` of them.
    pub monsters: &'a [MonsterDot],
}

/// The totals a frame's rates are computed from.
#[derive(Debug, Clone, Copy)]
struct Totals {
    at: Instant,
    packets_in: u64,
    packets_out: u64,
    flush: HistogramSnapshot,
}

/// Builds frames from the counters; no I/O, so tests drive it with their own clock.
pub struct FrameBuilder {
    sources: MetricSources,
    started: Instant,
    /// Recent totals, oldest first, for the rates and the p99 window. Bounded by the window
    /// over the frame interval (pruned every frame).
    history: VecDeque<Totals>,
}

impl FrameBuilder {
    /// A builder over `sources`.
    pub fn new(sources: MetricSources, now: Instant) -> Self {
        FrameBuilder {
            sources,
            started: now,
            history: VecDeque::new(),
        }
    }

    fn totals(&self, now: Instant) -> Totals {
        let r = Ordering::Relaxed;
        let s = &self.sources;
        let mut flush = HistogramSnapshot::default();
        let mut packets_out = s.server.direct_out.load(r);
        for room in &s.rooms {
            packets_out += room.stats.packets_out.load(r);
            let h = room.stats.flush_duration.snapshot();
            for (sum, n) in flush.counts.iter_mut().zip(h.counts) {
                *sum += n;
            }
            flush.sum_seconds += h.sum_seconds;
        }
        Totals {
            at: now,
            packets_in: s.server.packets_in.load(r),
            packets_out,
            flush,
        }
    }

    /// The event for `map` at `now`: `data: <json>\n\n`.
    pub fn frame(&mut self, map: &MapSnapshot, now: Instant) -> Bytes {
        let current = self.totals(now);
        // After a pause with no viewer (no frames built) the last totals are old: a rate over
        // that gap would show an average, not what happens now.
        if self
            .history
            .back()
            .is_some_and(|t| now.duration_since(t.at) > STALE_AFTER)
        {
            self.history.clear();
        }
        let previous = self.history.back().copied();
        while self
            .history
            .front()
            .is_some_and(|t| now.duration_since(t.at) > P99_WINDOW)
        {
            self.history.pop_front();
        }
        let (in_per_sec, out_per_sec) = match previous {
            Some(p) => {
                let secs = now.duration_since(p.at).as_secs_f64().max(1e-3);
                (
                    current.packets_in.saturating_sub(p.packets_in) as f64 / secs,
                    current.packets_out.saturating_sub(p.packets_out) as f64 / secs,
                )
            }
            None => (0.0, 0.0),
        };
        let window = match self.history.front() {
            Some(oldest) => current.flush.since(&oldest.flush),
            None => current.flush,
        };
        self.history.push_back(current);
        let r = Ordering::Relaxed;
        let frame = LiveFrame {
            t_ms: now.duration_since(self.started).as_millis() as u64,
            players: self
                .sources
                .rooms
                .iter()
                .map(|rm| rm.stats.players.load(r) as u64)
                .sum(),
            sessions: self.sources.listener.active(),
            in_per_sec: in_per_sec.round(),
            out_per_sec: out_per_sec.round(),
            flush_p99_ms: window.quantile_bound(0.99).map(|s| s * 1000.0),
            bounds: map.bounds,
            lines: &map.lines,
            map_players: map.players,
            dots: &map.dots,
            map_monsters: map.monster_count,
            monsters: &map.monsters,
        };
        let mut event = b"data: ".to_vec();
        // Serializing numbers and fixed keys cannot fail; if it somehow did, the page gets an
        // empty object and keeps its last frame.
        if serde_json::to_writer(&mut event, &frame).is_err() {
            event.truncate(6);
            event.extend_from_slice(b"{}");
        }
        event.extend_from_slice(b"\n\n");
        Bytes::from(event)
    }
}

/// Publishes a frame every `every` while someone watches, until `shutdown`.
pub async fn run_pump(
    mut builder: FrameBuilder,
    feed: Arc<MapFeed>,
    out: watch::Sender<Bytes>,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if feed.viewers() == 0 {
            continue;
        }
        let frame = builder.frame(&feed.latest(), Instant::now());
        out.send_replace(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::admin::AdminStats;
    use crate::adapters::metrics::RoomSource;
    use crate::game::counters::RoomStats;
    use crate::game::room::ROOM_BOUNDS;
    use crate::runtime::job_queue::JobQueueStats;

    fn sources(room: Arc<RoomStats>) -> MetricSources {
        MetricSources {
            listener: Arc::default(),
            server: Arc::default(),
            sessions: Arc::default(),
            send_queues: Arc::new(|| (0, 0)),
            rooms: vec![RoomSource {
                label: "main".into(),
                stats: room,
                jobs: Arc::new(JobQueueStats::default()),
            }],
            admin: Arc::new(AdminStats::default()),
            world: None,
            cluster: None,
            accounts: None,
        }
    }

    fn json(frame: &Bytes) -> serde_json::Value {
        let text = std::str::from_utf8(frame).expect("utf-8");
        let body = text
            .strip_prefix("data: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .expect("one SSE data event");
        serde_json::from_str(body).expect("valid JSON")
    }

    #[test]
    fn rates_come_from_the_totals_between_frames() {
        let room = Arc::new(RoomStats::default());
        let src = sources(Arc::clone(&room));
        let server = Arc::clone(&src.server);
        let t0 = Instant::now();
        let mut b = FrameBuilder::new(src, t0);
        let map = MapSnapshot {
            bounds: ROOM_BOUNDS,
            lines: vec![MapLine {
                kind: crate::adapters::admin::LineKind::Region,
                from: [0.0, -50.0],
                to: [0.0, 50.0],
            }],
            players: 2,
            dots: vec![MapDot(1, 3.0, -4.0), MapDot(2, 0.0, 0.0)],
            monster_count: 1,
            monsters: vec![MonsterDot(7, 2, 1.5, 2.5, 40, 60)],
        };
        let first = json(&b.frame(&map, t0));
        assert_eq!(first["in_per_sec"], 0.0, "no rate before a second frame");
        assert!(first["flush_p99_ms"].is_null(), "no flush yet");
        server.packets_in.fetch_add(500, Ordering::Relaxed);
        room.packets_out.fetch_add(2000, Ordering::Relaxed);
        room.players.store(2, Ordering::Relaxed);
        room.flush_duration.observe(Duration::from_micros(700));
        let second = json(&b.frame(&map, t0 + Duration::from_millis(500)));
        assert_eq!(second["in_per_sec"], 1000.0, "500 packets in half a second");
        assert_eq!(second["out_per_sec"], 4000.0);
        assert_eq!(second["players"], 2);
        assert_eq!(second["flush_p99_ms"], 1.0, "700 µs is in the 1 ms bucket");
        assert_eq!(second["dots"][0], serde_json::json!([1, 3.0, -4.0]));
        assert_eq!(second["map_monsters"], 1);
        assert_eq!(
            second["monsters"][0],
            serde_json::json!([7, 2, 1.5, 2.5, 40, 60]),
            "a monster is [id, kind, x, z, hp, max_hp]"
        );
        assert_eq!(second["bounds"]["min_x"], -50.0);
        assert_eq!(
            second["lines"][0],
            serde_json::json!({ "kind": "region", "from": [0.0, -50.0], "to": [0.0, 50.0] }),
            "a world's region borders reach the page as the page draws them"
        );
    }
}
