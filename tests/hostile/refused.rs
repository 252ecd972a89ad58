//! Input the server refuses (over-long chat, over a rate limit): no log line per refused
//! frame, and a peer that keeps sending it is closed with a reason.

use game_server::packets::{CChat, CMove, SBroadcastMove};
use server_core::Packet;

use crate::common::{decode, local_addr, lock, logged, Room, LOG, MEMORY};

fn frames<P: Packet>(packet: &P, count: usize) -> Vec<u8> {
    let frame = packet.encode().expect("test packet encodes");
    frame.repeat(count)
}

/// Lines in the captured log that contain every one of `needles`.
fn count_lines(needles: &[&str]) -> usize {
    lock(&LOG)
        .iter()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_looping_over_long_chats_is_closed_without_a_log_line_per_frame() {
    let _shared = MEMORY.read().await;
    let mut room = Room::open(|_| {}).await;
    let mut flooder = room.join().await;
    let peer = local_addr(&flooder);
    let why = "over the chat length limit";
    let before = count_lines(&[why]);

    // 1000 lines of 201 characters, one over the limit each, in one burst.
    let line = CChat {
        message: "x".repeat(201),
    };
    flooder.send_raw(&frames(&line, 1000)).await;
    flooder.expect_closed().await;
    logged(
        peer,
        &["application error", "kept sending refused input", "C_Chat"],
    )
    .await;
    // Before the fix every refused line wrote a warning: about a hundred here, a thousand a
    // second from a client that keeps going. Now at most one a second for the whole server.
    let written = count_lines(&[why]) - before;
    assert!(
        written <= 3,
        "refused chat lines must not each write a log line: {written} written"
    );
    let leaves = room.good_moves().await;
    assert_eq!(
        leaves,
        vec![flooder.player_id],
        "the flooder leaves once; the good player keeps playing"
    );
    room.settles_at(1, "only the good player is left").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_the_move_rate_is_dropped_but_not_closed() {
    let _shared = MEMORY.read().await;
    let mut room = Room::open(|_| {}).await;
    let mut eager = room.join().await;
    // 150 moves at once: the move bucket's burst of 60 passes, 90 are refused; under the
    // 100 refusals that close a session, so the eager client stays.
    let step = CMove {
        pos_x: 7.0,
        pos_y: 0.0,
        pos_z: 7.0,
    };
    eager.send_raw(&frames(&step, 150)).await;
    room.good_moves().await;
    // The eager client can still move once a token is back (30 a second), and its move
    // comes back to it.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let last = CMove { pos_x: 8.0, ..step };
    eager.send(&last).await;
    let mut seen = 0;
    loop {
        let (id, body) = eager.next_frame().await;
        if id == SBroadcastMove::ID {
            let m: SBroadcastMove = decode(&body);
            if m.player_id == eager.player_id {
                seen += 1;
                if m.pos_x == 8.0 {
                    break;
                }
            }
        }
    }
    assert_eq!(seen, 61, "the burst of 60 and the last move, nothing more");
    room.settles_at(2, "both players are still in").await;
}
