//! World mode end to end, over real sockets, with raw clients that speak only the course's
//! six packets (as the course's C# client does): entering, moving, seeing and losing sight
//! of each other, crossing a region border, leaving mid-crossing, and the move rules.

mod support;

use std::sync::Arc;
use std::time::Duration;

use game_server::game::data::{GameData, Rect, BUILT_IN};
use game_server::packets::{CMove, SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove};
use game_server::world::{Spawn, WorldConfig};
use game_server::GameServer;
use support::{eventually, start_server, Client, WAIT};

/// A 200 x 200 map in two stripes split at x = 0, radii 10 and 15, steps of at most 5, and
/// everyone spawning at `(x, z)`.
async fn world(x: f32, z: f32) -> GameServer {
    start_server(|c| c.world = Some(world_config(x, z))).await
}

/// The world of [`world`].
fn world_config(x: f32, z: f32) -> WorldConfig {
    WorldConfig {
        map_size: 200.0,
        cell_size: 15.0,
        inner_radius: 10.0,
        outer_radius: 15.0,
        regions: 2,
        max_step: 5.0,
        spawn: Spawn::At { x, z },
    }
}

async fn walk(c: &mut Client, x: f32, z: f32) {
    c.send(&CMove {
        pos_x: x,
        pos_y: 0.0,
        pos_z: z,
    })
    .await;
}

/// Reads until `c` gets a move of `who`, skipping enters of others; returns (x, z).
async fn next_move_of(c: &mut Client, who: i32) -> (f32, f32) {
    loop {
        let (id, body) = c.next_frame().await;
        match id {
            6 => {
                let m = SBroadcastMove::decode_body_of(&body);
                if m.player_id == who {
                    return (m.pos_x, m.pos_z);
                }
            }
            1 => {}
            3 => panic!(
                "player {}: unexpected S_BroadcastLeaveGame while waiting for {who}'s move",
                c.player_id
            ),
            other => panic!("player {}: unexpected packet {other}", c.player_id),
        }
    }
}

trait DecodeBody: Sized {
    fn decode_body_of(body: &[u8]) -> Self;
}

impl<P: server_core::Packet> DecodeBody for P {
    fn decode_body_of(body: &[u8]) -> Self {
        P::decode(body).unwrap_or_else(|e| panic!("{} decodes: {e}", P::NAME))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_courses_packets_enter_move_see_and_lose_sight() {
    let server = world(-40.0, 0.0).await;
    let addr = server.local_addr();

    let (mut a, list) = Client::join(addr).await;
    assert_eq!(list.players.len(), 1, "A sees only itself");
    let own: SBroadcastEnterGame = a.expect().await;
    assert_eq!(
        (own.player_id, own.pos_x, own.pos_z),
        (a.player_id, -40.0, 0.0),
        "A's own enter carries its real position"
    );

    let (mut b, list) = Client::join(addr).await;
    let mut ids: Vec<(i32, bool, f32)> = list
        .players
        .iter()
        .map(|p| (p.player_id, p.is_self, p.pos_x))
        .collect();
    ids.sort_by_key(|p| p.0);
    assert_eq!(
        ids,
        vec![(a.player_id, false, -40.0), (b.player_id, true, -40.0)],
        "B's S_PlayerList holds A and itself, flagged"
    );
    let _own_b: SBroadcastEnterGame = b.expect().await;
    let b_id = b.player_id;
    let b_in: SBroadcastEnterGame = a.expect().await;
    assert_eq!(
        (b_in.player_id, b_in.pos_x),
        (b.player_id, -40.0),
        "A sees B come into view"
    );

    // B walks away in steps: A sees every move until B is beyond the outer radius (15).
    for x in [-36.0, -32.0, -28.0] {
        walk(&mut b, x, 0.0).await;
        assert_eq!(next_move_of(&mut a, b.player_id).await, (x, 0.0));
        assert_eq!(
            next_move_of(&mut b, b_id).await,
            (x, 0.0),
            "B gets its own move"
        );
    }
    walk(&mut b, -24.0, 0.0).await; // 16 from A
    let gone: SBroadcastLeaveGame = a.expect().await;
    assert_eq!(gone.player_id, b.player_id, "B went out of A's view");
    let gone: SBroadcastLeaveGame = b.expect().await;
    assert_eq!(gone.player_id, a.player_id, "and A out of B's");
    assert_eq!(next_move_of(&mut b, b_id).await, (-24.0, 0.0));
    // Back between the radii: nothing; within the inner radius: in view again.
    walk(&mut b, -27.0, 0.0).await;
    assert_eq!(next_move_of(&mut b, b_id).await, (-27.0, 0.0));
    walk(&mut b, -31.0, 0.0).await;
    let back: SBroadcastEnterGame = a.expect().await;
    assert_eq!(
        (back.player_id, back.pos_x),
        (b.player_id, -31.0),
        "B came back into view at its real position"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_player_crossing_the_border_keeps_its_watchers_and_every_move() {
    let server = world(-3.0, 0.0).await;
    let addr = server.local_addr();
    let (mut a, _) = Client::join(addr).await;
    let (mut b, _) = Client::join(addr).await;
    let (mut c, _) = Client::join(addr).await;
    let (a_id, c_id) = (a.player_id, c.player_id);
    // C steps over to the east region first; everyone is within the inner radius.
    walk(&mut c, 2.0, 0.0).await;
    for watcher in [&mut a, &mut b, &mut c] {
        assert_eq!(next_move_of(watcher, c_id).await, (2.0, 0.0));
    }
    // A walks east across x = 0 and back, one unit at a time.
    let path: Vec<f32> = (1..=6)
        .map(|i| -3.0 + i as f32)
        .chain((1..=6).map(|i| 3.0 - i as f32))
        .collect();
    for &x in &path {
        walk(&mut a, x, 1.0).await;
    }
    for watcher in [&mut a, &mut b, &mut c] {
        for &x in &path {
            assert_eq!(
                next_move_of(watcher, a_id).await,
                (x, 1.0),
                "player {} gets every move of A once, in order, with no leave",
                watcher.player_id
            );
        }
    }
    let stats = server.world_stats().expect("world mode");
    assert!(
        stats.handoffs.load(std::sync::atomic::Ordering::Relaxed) >= 3,
        "C crossed once and A twice"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_while_crossing_leaves_no_ghost() {
    let server = world(-1.0, 0.0).await;
    let addr = server.local_addr();
    let (mut west, _) = Client::join(addr).await;
    let (mut east, _) = Client::join(addr).await;
    walk(&mut east, 3.0, 0.0).await;
    assert_eq!(next_move_of(&mut west, east.player_id).await, (3.0, 0.0));
    for round in 0..5 {
        let (mut runner, _) = Client::join(addr).await;
        let id = runner.player_id;
        // Cross and vanish at once, so the leave races the hand-off.
        walk(&mut runner, 1.0, 0.0).await;
        walk(&mut runner, 2.0, 0.0).await;
        drop(runner);
        for watcher in [&mut west, &mut east] {
            loop {
                let (pid, body) = watcher.next_frame().await;
                if pid == 3 {
                    let leave = SBroadcastLeaveGame::decode_body_of(&body);
                    assert_eq!(leave.player_id, id, "round {round}: only the runner leaves");
                    break;
                }
            }
        }
    }
    eventually("the world is down to two players with no ghosts", || {
        let snap = server
            .world_snapshot(100, Duration::from_secs(5))
            .expect("world mode");
        let owned: usize = snap.iter().map(|r| r.owned).sum();
        let ghosts: usize = snap.iter().map(|r| r.ghosts).sum();
        // The two watchers stand near the border, so each is a ghost in the other region.
        owned == 2 && ghosts == 2 && server.snapshot().players == 2
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_map_and_teleport_moves_follow_the_written_rule() {
    let server = world(97.0, 0.0).await;
    let (mut a, _) = Client::join(server.local_addr()).await;
    let a_id = a.player_id;
    walk(&mut a, 130.0, 0.0).await;
    assert_eq!(
        next_move_of(&mut a, a_id).await,
        (100.0, 0.0),
        "off the map: clamped onto the east edge"
    );
    walk(&mut a, 100.0, -100.0).await;
    assert_eq!(
        next_move_of(&mut a, a_id).await,
        (100.0, -5.0),
        "a teleport: shortened to the 5-unit step limit along its line"
    );
    walk(&mut a, f32::NAN, 0.0).await;
    tokio::time::timeout(WAIT, a.expect_closed())
        .await
        .expect("a NaN position closes the session, as in room mode");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_world_config_is_refused_at_start() {
    let mut config = game_server::ServerConfig::default();
    config.net.addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.world = Some(WorldConfig {
        inner_radius: 20.0,
        outer_radius: 10.0,
        ..WorldConfig::default()
    });
    let err = GameServer::start(config).await.err().expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_courses_dummy_client_workload_plays_in_world_mode() {
    // The course's DummyClient: each bot sends C_Move to a random point in [-50, 50) every
    // 250 ms (here back to back). In world mode those jumps are step-limited, and each bot
    // must see only the course's packets, its list first, and an echo of every move.
    let server = start_server(|c| {
        c.world = Some(WorldConfig {
            map_size: 200.0,
            regions: 2,
            spawn: Spawn::At { x: 0.0, z: 0.0 },
            ..WorldConfig::default()
        });
    })
    .await;
    let addr = server.local_addr();
    const BOTS: usize = 10;
    const MOVES: usize = 8;
    let mut bots = Vec::new();
    for _ in 0..BOTS {
        bots.push(Client::join(addr).await.0);
    }
    let mut seed = 12345u32;
    let mut random = move || {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (seed >> 8) as f32 / (1u32 << 24) as f32 * 100.0 - 50.0
    };
    for _ in 0..MOVES {
        for bot in bots.iter_mut() {
            let (x, z) = (random(), random());
            walk(bot, x, z).await;
        }
    }
    for bot in bots.iter_mut() {
        let me = bot.player_id;
        let mut echoes = 0;
        while echoes < MOVES {
            let (id, body) = bot.next_frame().await;
            match id {
                1 | 3 => {}
                6 => {
                    let m = SBroadcastMove::decode_body_of(&body);
                    assert!(
                        m.pos_x.abs() <= 100.0 && m.pos_z.abs() <= 100.0,
                        "positions stay on the map"
                    );
                    if m.player_id == me {
                        echoes += 1;
                    }
                }
                other => panic!("player {me}: packet {other} is not one of the course's"),
            }
        }
    }
    assert_eq!(
        server.snapshot().players,
        BOTS as u64,
        "every bot is still in"
    );
    server.shutdown().await;
}

/// Issue 25: the course's client registers only the course's packets and drops any other id
/// unread. In a world with monsters around it, such a client plays on: it enters, sees
/// another player, gets each of its moves in order, while the monsters' packets (ids 21 to
/// 23) arrive and are dropped. The test fails if none arrive, so it cannot pass without them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_courses_client_plays_on_among_monsters_dropping_their_packets() {
    let around_spawn = Rect {
        min: [-46.0, -4.0],
        max: [-34.0, 4.0],
    };
    let data = GameData::parse(&BUILT_IN)
        .expect("the shipped tables are valid")
        .with_one_area("wolf", 6, around_spawn)
        .expect("a wolf");
    let server = start_server(|c| {
        c.world = Some(world_config(-40.0, 0.0));
        c.game_data = Some(Arc::new(data));
    })
    .await;
    let addr = server.local_addr();

    // As the course's client's PacketManager: ids 1, 3, 4 and 6 are handled, others dropped.
    struct Course {
        client: Client,
        dropped: Vec<u16>,
    }
    impl Course {
        async fn next(&mut self) -> (u16, bytes::Bytes) {
            loop {
                let (id, body) = self.client.next_frame().await;
                match id {
                    1 | 3 | 4 | 6 => return (id, body),
                    other => self.dropped.push(other),
                }
            }
        }
    }
    let (a, _) = Client::join(addr).await;
    let mut a = Course {
        client: a,
        dropped: Vec::new(),
    };
    let (b, _) = Client::join(addr).await;
    let b_id = b.player_id;
    let mut b = Course {
        client: b,
        dropped: Vec::new(),
    };
    // A: its own enter, then B's.
    let mut entered = Vec::new();
    while entered.len() < 2 {
        let (id, body) = a.next().await;
        assert_eq!(id, 1, "only enters so far");
        entered.push(SBroadcastEnterGame::decode_body_of(&body).player_id);
    }
    assert_eq!(entered, vec![a.client.player_id, b_id]);
    // B walks; A gets every move of B, in order, whatever monster frames come between.
    for (i, x) in [-38.0, -36.0, -34.0, -32.0].into_iter().enumerate() {
        walk(&mut b.client, x, i as f32).await;
        loop {
            let (id, body) = a.next().await;
            assert_eq!(id, 6, "nothing but moves now");
            let m = SBroadcastMove::decode_body_of(&body);
            if m.player_id == b_id {
                assert_eq!((m.pos_x, m.pos_z), (x, i as f32), "B's moves in order");
                break;
            }
        }
    }
    // Let the wolves move a while: both clients keep reading; the monster frames are dropped.
    tokio::time::sleep(Duration::from_millis(600)).await;
    walk(&mut b.client, -33.0, 0.0).await;
    loop {
        let (id, body) = a.next().await;
        if id == 6 && SBroadcastMove::decode_body_of(&body).player_id == b_id {
            break;
        }
    }
    let monster_ids = |d: &[u16]| d.iter().filter(|&&id| (21..=23).contains(&id)).count();
    assert!(
        monster_ids(&a.dropped) > 0,
        "A was sent monster packets (and dropped them): {:?}",
        a.dropped
    );
    assert!(
        a.dropped.iter().all(|id| (21..=23).contains(id)),
        "nothing else was dropped: {:?}",
        a.dropped
    );
    // B, among the wolves too, reads on to the echo of its last move.
    loop {
        let (id, body) = b.next().await;
        if id == 6 && SBroadcastMove::decode_body_of(&body).pos_x == -33.0 {
            break;
        }
    }
    assert!(monster_ids(&b.dropped) > 0, "B too: {:?}", b.dropped);
    server.shutdown().await;
}
