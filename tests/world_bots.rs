//! dummy-client's world mode against an in-process game-server in world mode, over real
//! sockets: a few hundred bots walk a map cut into four regions, cross borders, and check
//! that every move they had to see arrived, and nothing they should not see did.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use dummy_client::world::{run_world, WorldRunConfig};
use game_server::world::{Spawn, WorldConfig};
use support::start_server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_bots_walk_four_regions_and_see_exactly_their_neighbourhood() {
    let world = WorldConfig {
        map_size: 200.0,
        cell_size: 25.0,
        inner_radius: 20.0,
        outer_radius: 25.0,
        regions: 4,
        max_step: 10.0,
        spawn: Spawn::Random { seed: 11 },
    };
    let server = start_server(|c| {
        c.tick = Duration::from_millis(100);
        c.world = Some(world.clone());
    })
    .await;
    let report = run_world(WorldRunConfig {
        addr: server.local_addr(),
        clients: 300,
        ramp_per_sec: 3000,
        map_size: world.map_size,
        inner_radius: world.inner_radius,
        outer_radius: world.outer_radius,
        // Slack for a loaded machine: the server may know a bot's position up to 1.5 s late
        // (9 units at this speed) before a required move could be missed.
        speed: 6.0,
        lag_allowance: Duration::from_millis(1500),
        duration: Duration::from_secs(3),
        ping_interval: Duration::from_millis(250),
        status_line: false,
        ..WorldRunConfig::default()
    })
    .await
    .expect("the run config is valid");
    let stats = server.world_stats().expect("world mode");
    let handoffs = stats.handoffs.load(Ordering::Relaxed);
    let ghosts_left = server
        .world_snapshot(0, Duration::from_secs(5))
        .expect("world mode");
    support::eventually("every bot has left the world", || {
        server.snapshot().players == 0
    })
    .await;
    let after = server
        .world_snapshot(0, Duration::from_secs(5))
        .expect("world mode");
    server.shutdown().await;

    println!("{report}\nhand-offs: {handoffs}, regions during the run: {ghosts_left:?}");
    assert!(report.passed, "the world run should pass:\n{report}");
    assert_eq!(report.entered, 300, "every bot entered");
    assert_eq!(report.violations.total(), 0, "no violation:\n{report}");
    assert!(
        report.required > 1000,
        "the bots had neighbours to see:\n{report}"
    );
    assert_eq!(
        report.delivered, report.required,
        "every required move arrived"
    );
    assert!(
        report.spawns_per_sec > 0.0 && report.despawns_per_sec > 0.0,
        "views changed"
    );
    assert!(report.pongs > 0, "round trips were measured");
    assert!(
        report.move_rtt_p50_ms > 0.0,
        "move round trips (own echoes) were measured:\n{report}"
    );
    assert!(
        handoffs >= 10,
        "bots crossed region borders ({handoffs} hand-offs)"
    );
    assert_eq!(
        stats.inputs_skipped.load(Ordering::Relaxed),
        0,
        "no input given up"
    );
    assert!(
        after.iter().all(|r| r.owned == 0 && r.ghosts == 0),
        "no player and no ghost is left once the bots are gone: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_world_checks_fail_against_a_room_that_sends_everything() {
    // The course's room sends every move to everyone: world bots must call that out once
    // they have walked apart (the room puts everyone at (0, 0); at 40 units a second they
    // are soon farther apart than the outer radius plus the slack of 10).
    let server = start_server(|c| c.tick = Duration::from_millis(50)).await;
    let report = run_world(WorldRunConfig {
        addr: server.local_addr(),
        clients: 60,
        map_size: 400.0,
        inner_radius: 20.0,
        outer_radius: 25.0,
        speed: 40.0,
        lag_allowance: Duration::from_millis(250),
        duration: Duration::from_secs(2),
        drain_quiet: Duration::from_millis(300),
        status_line: false,
        ..WorldRunConfig::default()
    })
    .await
    .expect("the run config is valid");
    server.shutdown().await;
    assert!(!report.passed, "a room is not a world:\n{report}");
    assert!(
        report.violations.beyond_outer > 0,
        "moves from across the map are flagged:\n{report}"
    );
}
