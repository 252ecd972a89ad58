//! The world's sans-IO core alone: one region with N players at the `bench world` density
//! (20 per 100 x 100, radii 40/50), each move applied, its view changes found, and its frame
//! encoded and queued for every watcher; a tick's flush every 4N moves. No sockets: this is
//! the region thread's share of a world-mode server's CPU.
//!
//! Run: `cargo bench -p game-server --bench world`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use game_server::world::{
    Directory, PlayerInput, PlayerLink, Region, RegionJob, Route, Spawn, WorldConfig,
};
use game_server::Outbox;

/// A player whose frames go nowhere.
#[derive(Clone)]
struct Null;

impl Outbox for Null {
    fn send(&self, frame: Bytes) -> bool {
        black_box(frame);
        true
    }
}

impl PlayerLink for Null {
    fn route_to(&self, _route: Route) {}
}

struct Everyone;

impl Directory<Null> for Everyone {
    fn find(&self, _player_id: i32) -> Option<Null> {
        Some(Null)
    }
}

fn moves(c: &mut Criterion) {
    let mut group = c.benchmark_group("region move");
    group.throughput(Throughput::Elements(1));
    for n in [1_000i32, 10_000] {
        let map_size = 100.0 * (n as f32 / 20.0).sqrt();
        let config = WorldConfig {
            map_size,
            regions: 1,
            spawn: Spawn::Random { seed: 1 },
            ..WorldConfig::default()
        };
        let mut region = Region::new(
            0,
            &config,
            1 << 20,
            Everyone,
            Arc::default(),
            Arc::default(),
        );
        let layout = game_server::world::Layout::new(&config);
        let mut pos: Vec<(f32, f32)> = (1..=n)
            .map(|id| {
                let p = layout.spawn_point(id);
                region.run(RegionJob::Enter {
                    player_id: id,
                    pos: [p.x, 0.0, p.z],
                });
                (p.x, p.z)
            })
            .collect();
        region.flush();
        let mut seqs = vec![0u64; n as usize];
        let mut turn = 0usize;
        let half = map_size / 2.0 - 2.0;
        group.bench_function(format!("N={n}"), |b| {
            b.iter(|| {
                let i = turn % n as usize;
                turn += 1;
                // A 1.25-unit step (5 units/s at 4 moves/s), turning with the player.
                let (x, z) = pos[i];
                let a = (turn as f32 * 0.618).sin() * std::f32::consts::PI;
                let nx = (x + 1.25 * a.cos()).clamp(-half, half);
                let nz = (z + 1.25 * a.sin()).clamp(-half, half);
                pos[i] = (nx, nz);
                region.run(RegionJob::Input {
                    player_id: i as i32 + 1,
                    seq: seqs[i],
                    input: PlayerInput::Move { pos: [nx, 0.0, nz] },
                });
                seqs[i] += 1;
                if turn % (4 * n as usize) == 0 {
                    region.flush();
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = moves
}
criterion_main!(benches);
