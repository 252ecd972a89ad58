//! Slowloris: clients that stall mid-frame or send nothing are closed by the idle timeout.

use std::time::{Duration, Instant};

use game_server::packets::{CChat, CMove, CPing, SBroadcastLeaveGame, SBroadcastMove};
use server_core::Packet;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinSet;

use crate::common::{capture_logs, decode, lines_about, local_addr, logged, MEMORY};
use crate::support::{eventually, raw_frame, start_server, Client, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_clients_are_closed_by_the_idle_timeout_and_nobody_else() {
    let _shared = MEMORY.read().await;
    capture_logs();
    const IDLE: Duration = Duration::from_millis(300);
    // The largest frame size allowed, so a declared 65535-byte frame is not refused on its
    // size and only the idle timeout can end the stall.
    let server = start_server(|c| {
        c.net.idle_timeout = Some(IDLE);
        c.net.max_packet_size = 65535;
    })
    .await;
    let addr = server.local_addr();
    let (mut good, _) = Client::join(addr).await;

    let mut huge = vec![0xff, 0xff, CChat::ID as u8, 0];
    huge.extend([0u8; 96]);
    let cases: [(&'static str, Vec<u8>); 3] = [
        ("connects and sends nothing", Vec::new()),
        ("sends half a header, then nothing", vec![16, 0]),
        ("declares a 65535-byte frame, sends 100 bytes of it", huge),
    ];
    let mut offenders = JoinSet::new();
    let mut ids = Vec::new();
    for (name, bytes) in cases {
        // The idle clock of a silent client starts when it connects.
        let connecting = Instant::now();
        let (mut client, _) = Client::join(addr).await;
        ids.push(client.player_id);
        offenders.spawn(async move {
            let peer = local_addr(&client);
            let mut last_sent = connecting;
            if !bytes.is_empty() {
                client.send_raw(&bytes).await;
                last_sent = Instant::now();
            }
            client.expect_closed().await;
            (name, peer, last_sent.elapsed())
        });
    }

    // The good player pings every 100 ms, so it is never idle, and collects the leaves.
    let mut leaves = Vec::new();
    let mut closed = Vec::new();
    let deadline = Instant::now() + WAIT;
    while closed.len() < ids.len() || leaves.len() < ids.len() {
        assert!(
            Instant::now() < deadline,
            "the idle clients should be closed and leave: closed {closed:?}, leaves {leaves:?}"
        );
        good.send(&CPing { client_time: 0 }).await;
        let until = tokio::time::Instant::now() + Duration::from_millis(100);
        while let Ok(frame) = tokio::time::timeout_at(until, good.try_next_frame()).await {
            let Some((id, body)) = frame else {
                panic!("the good player, which pings, must not be closed as idle");
            };
            if id == SBroadcastLeaveGame::ID {
                leaves.push(decode::<SBroadcastLeaveGame>(&body).player_id);
            }
        }
        while let Some(done) = offenders.try_join_next() {
            closed.push(done.expect("an offender task should not panic"));
        }
    }
    for (name, peer, after) in &closed {
        assert!(
            *after >= IDLE && *after < 2 * IDLE + Duration::from_secs(1),
            "{name}: closed {after:?} after its last bytes; the check closes after one to two \
             idle timeouts of {IDLE:?}"
        );
        logged(*peer, &["disconnected", "reason=idle timeout"]).await;
    }
    leaves.sort_unstable();
    ids.sort_unstable();
    assert_eq!(leaves, ids, "each idle player leaves the room exactly once");

    good.send(&CMove {
        pos_x: 7.0,
        pos_y: 0.0,
        pos_z: 0.0,
    })
    .await;
    loop {
        let (id, body) = good.next_frame().await;
        assert_ne!(id, SBroadcastLeaveGame::ID, "no second leave");
        if id == SBroadcastMove::ID && decode::<SBroadcastMove>(&body).pos_x == 7.0 {
            break;
        }
    }
    eventually("only the good player is left", || {
        let s = server.snapshot();
        s.players == 1 && s.sessions == 1
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_a_frame_that_never_completes_is_closed_too() {
    let _shared = MEMORY.read().await;
    capture_logs();
    const IDLE: Duration = Duration::from_millis(300);
    let server = start_server(|c| c.net.idle_timeout = Some(IDLE)).await;
    let (mut client, _) = Client::join(server.local_addr()).await;
    let peer = local_addr(&client);
    // A valid 2006-byte chat frame, one byte every IDLE / 3: by bytes the client is never
    // idle, by frames it never finishes one. 40 bytes take 4 s, thirteen idle timeouts.
    let frame = raw_frame(CChat::ID, &[0; 2002]);
    let started = Instant::now();
    let mut closed_after = None;
    for byte in frame.iter().take(40) {
        if client.stream.write_all(&[*byte]).await.is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        if let Ok(None) = tokio::time::timeout(IDLE / 3, client.try_next_frame()).await {
            closed_after = Some(started.elapsed());
            break;
        }
    }
    assert!(
        closed_after.is_some_and(|t| t < 3 * IDLE + Duration::from_secs(1)),
        "a frame that never completes should not hold its session past a few idle timeouts \
         of {IDLE:?}: closed after {closed_after:?}, {:?}",
        lines_about(peer)
    );
    server.shutdown().await;
}
