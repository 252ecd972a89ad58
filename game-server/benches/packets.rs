//! Encode and decode throughput of the generated packet code: `S_BroadcastMove` (the
//! packet the server sends N x N x 4 times a second in the course's load test) and a
//! 100-player `S_PlayerList` (the largest packet a newcomer receives).
//!
//! Run: `cargo bench -p game-server --bench packets`. Kept short (1 s warm-up, 3 s
//! measurement) so it can run on a small shared machine.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use game_server::packets::{Player, SBroadcastMove, SPlayerList};
use server_core::Packet;

fn broadcast_move(c: &mut Criterion) {
    let packet = SBroadcastMove {
        player_id: 42,
        pos_x: 12.5,
        pos_y: 0.0,
        pos_z: -3.25,
    };
    let frame = packet.encode().expect("S_BroadcastMove encodes");
    let mut group = c.benchmark_group("S_BroadcastMove");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode", |b| {
        b.iter(|| black_box(&packet).encode().expect("encodes"))
    });
    group.bench_function("decode", |b| {
        b.iter(|| SBroadcastMove::decode(black_box(&frame[4..])).expect("decodes"))
    });
    group.finish();
}

fn player_list(c: &mut Criterion) {
    let packet = SPlayerList {
        players: (0..100)
            .map(|i| Player {
                is_self: i == 0,
                player_id: i,
                pos_x: i as f32,
                pos_y: 0.0,
                pos_z: -(i as f32),
            })
            .collect(),
    };
    let frame = packet.encode().expect("S_PlayerList encodes");
    let mut group = c.benchmark_group("S_PlayerList_100");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode", |b| {
        b.iter(|| black_box(&packet).encode().expect("encodes"))
    });
    group.bench_function("decode", |b| {
        b.iter(|| SPlayerList::decode(black_box(&frame[4..])).expect("decodes"))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = broadcast_move, player_list
}
criterion_main!(benches);
