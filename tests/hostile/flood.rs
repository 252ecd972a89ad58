//! A connection flood beyond `max_connections`: refused at once, the players unaffected.

use std::time::{Duration, Instant};

use game_server::packets::{SBroadcastEnterGame, SBroadcastMove};
use server_core::Packet;
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;

use crate::common::{decode, logged_anywhere, Room, MEMORY};
use crate::support::{eventually, Client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_beyond_max_connections_is_refused_at_once_and_the_players_keep_playing() {
    let _shared = MEMORY.read().await;
    const MAX: usize = 20;
    const FLOOD: usize = 100;
    let mut room = Room::open(|c| c.net.max_connections = MAX).await;
    let mut players = Vec::new();
    for _ in 1..MAX {
        players.push(room.join().await);
    }
    room.settles_at(MAX as u64, "the server is full").await;

    let addr = room.server.local_addr();
    let mut flood = JoinSet::new();
    for _ in 0..FLOOD {
        flood.spawn(async move {
            let started = Instant::now();
            let mut stream = tokio::net::TcpStream::connect(addr)
                .await
                .expect("the kernel accepts the connection into the backlog");
            let mut byte = [0u8; 1];
            // Refused: the server accepts and closes at once, so the read sees the end (or a
            // reset) instead of an S_PlayerList.
            let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut byte)).await;
            (read, started.elapsed())
        });
    }
    while let Some(joined) = flood.join_next().await {
        let (read, took) = joined.expect("a flood task should not panic");
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => {}
            Ok(Ok(_)) => panic!("a connection beyond max_connections got data: it was let in"),
            Err(_) => panic!("a connection beyond max_connections stayed open for 3 s"),
        }
        assert!(
            took < Duration::from_secs(3),
            "refused at once, took {took:?}"
        );
    }
    eventually("every extra connection is counted as refused", || {
        room.server.snapshot().refused == FLOOD as u64
    })
    .await;
    let snapshot = room.server.snapshot();
    assert_eq!(
        (snapshot.accepted, snapshot.sessions, snapshot.players),
        (MAX as u64, MAX as u64, MAX as u64),
        "the flood must not take a slot or a player's place"
    );
    logged_anywhere(&[
        "WARN",
        "refused_total=",
        "max_connections=20",
        "connection refused: max_connections reached",
    ])
    .await;

    // Everyone inside is unaffected: the good player's move reaches the others.
    assert!(room.good_moves().await.is_empty(), "nobody left");
    let good_id = room.good.player_id;
    for p in players.iter_mut() {
        loop {
            let (id, body) = p.next_frame().await;
            if id == SBroadcastMove::ID {
                let m = decode::<SBroadcastMove>(&body);
                assert_eq!(m.player_id, good_id, "only the good player moved");
                break;
            }
            assert_eq!(
                id,
                SBroadcastEnterGame::ID,
                "player {} should see only enters before the move",
                p.player_id
            );
        }
    }
    // A slot freed by a leaving player is usable again.
    let gone = players.pop().map(|p| p.player_id);
    let mut leaves = Vec::new();
    while leaves.is_empty() {
        leaves = room.good_moves().await;
    }
    assert_eq!(leaves.first().copied(), gone, "the dropped player leaves");
    let (newcomer, _) = Client::join(addr).await;
    assert!(newcomer.player_id > 0, "a freed slot takes a new player");
    room.server.shutdown().await;
}
