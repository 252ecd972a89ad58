//! The game server end to end, over real sockets: the course's room behaviour, exactly.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use game_server::packets::{
    CChat, CLeaveGame, CMove, CPing, PacketId, SBroadcastEnterGame, SBroadcastLeaveGame,
    SBroadcastMove, SChat, SPong,
};
use server_core::Packet;
use support::{eventually, raw_frame, start_server, Client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_players_enter_move_and_leave() {
    let server = start_server(|_| {}).await;
    let addr = server.local_addr();

    let (mut a, list) = Client::join(addr).await;
    assert_eq!(list.players.len(), 1, "first player sees only itself");
    let enter_a: SBroadcastEnterGame = a.expect().await;
    assert_eq!(
        (
            enter_a.player_id,
            enter_a.pos_x,
            enter_a.pos_y,
            enter_a.pos_z
        ),
        (a.player_id, 0.0, 0.0, 0.0)
    );

    let (mut b, list) = Client::join(addr).await;
    let mut ids: Vec<(i32, bool)> = list
        .players
        .iter()
        .map(|p| (p.player_id, p.is_self))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![(a.player_id, false), (b.player_id, true)],
        "second player sees both, itself flagged"
    );
    let enter_b: SBroadcastEnterGame = a.expect().await;
    assert_eq!(
        enter_b.player_id, b.player_id,
        "first player sees the second enter"
    );
    let enter_b_self: SBroadcastEnterGame = b.expect().await;
    assert_eq!(
        enter_b_self.player_id, b.player_id,
        "the enter broadcast reaches the newcomer too"
    );

    a.send(&CMove {
        pos_x: 1.5,
        pos_y: 0.0,
        pos_z: -2.5,
    })
    .await;
    for client in [&mut a, &mut b] {
        let m: SBroadcastMove = client.expect().await;
        assert_eq!(
            (m.player_id, m.pos_x, m.pos_y, m.pos_z),
            (enter_a.player_id, 1.5, 0.0, -2.5)
        );
    }

    // B vanishes without C_LeaveGame: A still sees it leave, once.
    drop(b);
    let leave: SBroadcastLeaveGame = a.expect().await;
    assert_eq!(leave.player_id, enter_b.player_id);
    // A second leave would come on a later tick (20 ms): wait several, then ping; the pong,
    // sent at once, must be the next frame.
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.send(&CPing { client_time: 7 }).await;
    let pong: SPong = a.expect().await;
    assert_eq!(
        pong.client_time, 7,
        "no second leave arrives before the pong"
    );
    eventually("the room is down to one player", || {
        server.snapshot().players == 1
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_players_see_every_enter_move_and_leave_once_in_order() {
    const N: usize = 50;
    let server = start_server(|_| {}).await;
    let addr = server.local_addr();

    let mut clients = Vec::new();
    for i in 0..N {
        let (client, list) = Client::join(addr).await;
        assert_eq!(
            list.players.len(),
            i + 1,
            "player #{i} sees everyone before it plus itself"
        );
        clients.push(client);
    }
    let ids: Vec<i32> = clients.iter().map(|c| c.player_id).collect();

    // Every player moves three times to positions that encode (who, step).
    for step in 0..3 {
        for c in clients.iter_mut() {
            let x = c.player_id as f32;
            c.send(&CMove {
                pos_x: x,
                pos_y: 0.0,
                pos_z: step as f32,
            })
            .await;
        }
    }

    // Every player sees the enters of those who came after it (its own included, none it
    // already had in its list), and all 150 moves, each once and in order.
    for (i, client) in clients.iter_mut().enumerate() {
        let mut enters = Vec::new();
        let mut moves: HashMap<i32, Vec<f32>> = HashMap::new();
        let mut seen = 0;
        while seen < 3 * N {
            let (id, body) = client.next_frame().await;
            match PacketId::from_u16(id) {
                Some(PacketId::SBroadcastEnterGame) => {
                    enters.push(SBroadcastEnterGame::decode(&body).expect("enter").player_id)
                }
                Some(PacketId::SBroadcastMove) => {
                    let m = SBroadcastMove::decode(&body).expect("move");
                    assert_eq!(
                        m.pos_x, m.player_id as f32,
                        "move attributed to the wrong player"
                    );
                    moves.entry(m.player_id).or_default().push(m.pos_z);
                    seen += 1;
                }
                other => panic!("player #{i}: unexpected packet {other:?}"),
            }
        }
        assert_eq!(
            enters,
            ids[i..],
            "player #{i}: enters after its own list, once each, in order"
        );
        for id in &ids {
            assert_eq!(
                moves.get(id).map(Vec::as_slice),
                Some(&[0.0, 1.0, 2.0][..]),
                "player #{i} saw player {id}'s moves out of order, twice or not at all"
            );
        }
    }

    // Then everyone but the first leaves, half politely, half by hanging up.
    let mut stay = clients.remove(0);
    let mut leavers = clients;
    for (i, c) in leavers.iter_mut().enumerate() {
        if i % 2 == 0 {
            c.send(&CLeaveGame {}).await;
        }
    }
    let mut leaver_ids: Vec<i32> = leavers.iter().map(|c| c.player_id).collect();
    drop(leavers);

    // The player who stayed sees each of them leave, once.
    let mut leaves = Vec::new();
    while leaves.len() < leaver_ids.len() {
        let (id, body) = stay.next_frame().await;
        match PacketId::from_u16(id) {
            Some(PacketId::SBroadcastLeaveGame) => {
                leaves.push(SBroadcastLeaveGame::decode(&body).expect("leave").player_id)
            }
            other => panic!("unexpected packet {other:?} while players were leaving"),
        }
    }
    leaves.sort();
    leaver_ids.sort();
    assert_eq!(
        leaves, leaver_ids,
        "each leaver's leave is broadcast exactly once"
    );

    // And nothing else follows: after more than a tick, a ping's pong is the next thing.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stay.send(&CPing { client_time: 1 }).await;
    let _: SPong = stay.expect().await;
    eventually("only one player left", || server.snapshot().players == 1).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_the_sender() {
    let server = start_server(|_| {}).await;
    let addr = server.local_addr();
    let (mut good, _) = Client::join(addr).await;
    let _: SBroadcastEnterGame = good.expect().await;

    let (mut bad, _) = Client::join(addr).await;
    let _: SBroadcastEnterGame = good.expect().await;
    bad.send_raw(&[0, 0, 0, 0, 0xde, 0xad]).await;
    bad.expect_closed().await;
    let leave: SBroadcastLeaveGame = good.expect().await;
    assert_eq!(
        leave.player_id, bad.player_id,
        "the closed player leaves the room"
    );

    good.send(&CMove {
        pos_x: 1.0,
        pos_y: 2.0,
        pos_z: 3.0,
    })
    .await;
    let m: SBroadcastMove = good.expect().await;
    assert_eq!(m.player_id, good.player_id, "the others keep playing");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonsense_input_follows_the_policy() {
    let server = start_server(|c| c.chat_max_chars = 10).await;
    let addr = server.local_addr();
    let (mut a, _) = Client::join(addr).await;
    let _: SBroadcastEnterGame = a.expect().await;

    // Over-long chat: dropped, session stays.
    a.send(&CChat {
        message: "x".repeat(11),
    })
    .await;
    a.send(&CChat {
        message: "héllo".into(),
    })
    .await;
    let chat: SChat = a.expect().await;
    assert_eq!(
        chat.message, "héllo",
        "the over-long line was dropped, the next one delivered"
    );
    eventually("rejection counted", || {
        server.snapshot().inputs_rejected == 1
    })
    .await;

    // A client-bound packet sent by the client: protocol error.
    let (mut b, _) = Client::join(addr).await;
    b.send_raw(&raw_frame(PacketId::SBroadcastMove as u16, &[0; 16]))
        .await;
    b.expect_closed().await;

    // NaN position: protocol error, session closed.
    let (mut c, _) = Client::join(addr).await;
    c.send(&CMove {
        pos_x: f32::NAN,
        pos_y: 0.0,
        pos_z: 0.0,
    })
    .await;
    c.expect_closed().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_then_disconnect_broadcasts_one_leave() {
    let server = start_server(|_| {}).await;
    let addr = server.local_addr();
    let (mut a, _) = Client::join(addr).await;
    let (mut b, _) = Client::join(addr).await;
    b.send(&CLeaveGame {}).await;
    b.expect_closed().await;
    drop(b);
    let mut leaves = 0;
    a.send(&CMove {
        pos_x: 9.0,
        pos_y: 0.0,
        pos_z: 0.0,
    })
    .await;
    loop {
        let (id, body) = a.next_frame().await;
        if id == SBroadcastLeaveGame::ID {
            leaves += 1;
        }
        if id == SBroadcastMove::ID && SBroadcastMove::decode(&body).expect("move").pos_x == 9.0 {
            break;
        }
    }
    // The move was pushed after the leave, so any second leave would have come before it.
    assert_eq!(
        leaves, 1,
        "C_LeaveGame then disconnect must broadcast exactly one leave"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_at_once_not_on_the_tick() {
    let server = start_server(|c| c.tick = Duration::from_secs(30)).await;
    let (mut a, _) = Client::join(server.local_addr()).await;
    let started = std::time::Instant::now();
    a.send(&CPing { client_time: 42 }).await;
    let pong: SPong = a.expect().await;
    assert_eq!(pong.client_time, 42);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the pong did not wait for the 30 s tick"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_everyone() {
    let server = start_server(|_| {}).await;
    let addr = server.local_addr();
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(Client::join(addr).await.0);
    }
    eventually("20 players in", || server.snapshot().players == 20).await;
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .expect("shutdown finishes within seconds");
    for c in clients.iter_mut() {
        c.expect_closed().await;
    }
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_whose_broadcast_would_not_fit_a_frame_is_dropped_not_failed() {
    let server = start_server(|c| {
        c.net.max_packet_size = 65535;
        c.chat_max_chars = 40_000;
    })
    .await;
    let (mut a, _) = Client::join(server.local_addr()).await;
    let _: SBroadcastEnterGame = a.expect().await;
    // A 65,534-byte C_Chat: its S_Chat would be 65,538 bytes, past the u16 size field.
    a.send(&CChat {
        message: "x".repeat(32_764),
    })
    .await;
    a.send(&CChat {
        message: "fits".into(),
    })
    .await;
    let chat: SChat = a.expect().await;
    assert_eq!(
        chat.message, "fits",
        "the line that could not be broadcast was dropped"
    );
    eventually("the drop is counted", || {
        server.snapshot().inputs_rejected == 1
    })
    .await;
    server.shutdown().await;
}
