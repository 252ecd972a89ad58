//! Abrupt resets with data in flight both ways: every session and player cleaned up once.

use std::time::{Duration, Instant};

use game_server::packets::CMove;
use server_core::Packet;

use crate::common::{Room, MEMORY};
use crate::support::{eventually, Client, WAIT};

/// Closes with a TCP reset instead of an orderly FIN: SO_LINGER with a zero timeout makes
/// `close` discard whatever is in flight and send RST.
fn reset(client: Client) {
    // Deprecated in tokio because a non-zero linger blocks the thread in `close`; with zero
    // there is nothing to wait for, and an abrupt reset is exactly the fault under test.
    #[allow(deprecated)]
    client
        .stream
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_mid_send_and_mid_receive_clean_up_every_session_and_player_once() {
    let _shared = MEMORY.read().await;
    let mut room = Room::open(|_| {}).await;
    let baseline_tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();

    // Mid-send: a burst of moves and half a frame on the wire, then a reset.
    let mut senders = Vec::new();
    for _ in 0..10 {
        senders.push(room.join().await);
    }
    // Mid-receive: players that read nothing while the room sends them a stream of moves.
    let mut receivers = Vec::new();
    for _ in 0..10 {
        receivers.push(room.join().await);
    }
    let mut ids: Vec<i32> = senders
        .iter()
        .chain(&receivers)
        .map(|c| c.player_id)
        .collect();
    let mut burst = Vec::new();
    for i in 0..50 {
        let m = CMove {
            pos_x: i as f32,
            pos_y: 0.0,
            pos_z: 0.0,
        };
        burst.extend_from_slice(&m.encode().expect("C_Move encodes"));
    }
    let half = burst.len() - 8;
    for mut s in senders {
        s.send_raw(&burst[..half]).await;
        reset(s);
    }
    for _ in 0..20 {
        room.good
            .send(&CMove {
                pos_x: -1.0,
                pos_y: 0.0,
                pos_z: 0.0,
            })
            .await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    for r in receivers {
        reset(r);
    }

    let mut leaves = Vec::new();
    let deadline = Instant::now() + WAIT;
    while leaves.len() < ids.len() {
        assert!(Instant::now() < deadline, "every reset player should leave");
        leaves.extend(room.good_moves().await);
    }
    // One more round trip: a second leave of anyone would have come before its move.
    leaves.extend(room.good_moves().await);
    leaves.sort_unstable();
    ids.sort_unstable();
    assert_eq!(
        leaves, ids,
        "each reset player leaves the room exactly once"
    );
    room.settles_at(1, "only the good player is left").await;

    let Room { server, good, .. } = room;
    reset(good);
    eventually("sessions and players return to zero", || {
        let s = server.snapshot();
        s.sessions == 0 && s.players == 0
    })
    .await;
    // The baseline included the good player's session task, now ended too.
    eventually(
        "every session task has ended, and nothing else was left behind",
        || {
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
                == baseline_tasks - 1
        },
    )
    .await;
    server.shutdown().await;
}
