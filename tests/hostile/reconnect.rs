//! A client looping connect, moves, close: throttled by the per-address limits, and a cap on
//! the connections one address holds open, with the other players unaffected.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use game_server::packets::{CMove, SBroadcastEnterGame};
use server_core::{AddressLimits, Packet};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::common::{logged_anywhere, Room, MEMORY};
use crate::support::Client;

const LIMITS: AddressLimits = AddressLimits {
    max_open: 3,
    connects_per_sec: 5.0,
    connect_burst: 5,
    exempt_loopback: false,
    max_tracked: 1000,
};

/// A connection from `source`, one of the many loopback addresses (127.0.0.0/8), so each
/// part of the test is a different address to the server.
async fn connect_from(source: Ipv4Addr, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::new(IpAddr::V4(source), 0))
        .expect("bind a loopback source address");
    socket.connect(server).await.expect("connect")
}

/// True if the server let the connection in (its `S_PlayerList` arrives), false if it
/// closed it at once.
async fn let_in(stream: &mut TcpStream) -> bool {
    let mut header = [0u8; 4];
    match tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut header)).await {
        Ok(Ok(_)) => true,
        Ok(Err(_)) => false,
        Err(_) => panic!("the server neither let the connection in nor closed it"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_loop_is_throttled_and_the_other_players_keep_playing() {
    let _shared = MEMORY.read().await;
    let mut room = Room::open(|c| c.net.address_limits = Some(LIMITS)).await;
    let addr = room.server.local_addr();

    // The loop: connect, 60 moves (a full move bucket), close, as fast as it can, for 2 s.
    let looper = Ipv4Addr::new(127, 0, 0, 3);
    let moves = CMove {
        pos_x: 3.0,
        pos_y: 0.0,
        pos_z: 3.0,
    }
    .encode()
    .expect("a move encodes")
    .repeat(60);
    let started = Instant::now();
    let (mut entered, mut refused) = (0u32, 0u32);
    while started.elapsed() < Duration::from_secs(2) {
        let mut stream = connect_from(looper, addr).await;
        if let_in(&mut stream).await {
            entered += 1;
            use tokio::io::AsyncWriteExt;
            let _ = stream.write_all(&moves).await;
        } else {
            refused += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Before the limits every one of these entered: hundreds in two seconds.
    let allowed = f64::from(LIMITS.connect_burst) + elapsed * LIMITS.connects_per_sec + 1.0;
    assert!(
        f64::from(entered) <= allowed,
        "{entered} connections entered in {elapsed:.1} s; the limits allow {allowed:.0}"
    );
    assert!(refused > 0, "the loop must have been refused at least once");
    logged_anywhere(&["connection refused by the per-address limits", "127.0.0.3"]).await;

    // Another address joins at once, and the good player (127.0.0.1) still plays.
    let newcomer = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr).await;
    let (newcomer, _) = Client::join_stream(newcomer).await;
    let leaves = room.good_moves().await;
    assert!(
        leaves.len() as u32 <= entered,
        "only players that entered can leave: {} leaves, {entered} entered",
        leaves.len()
    );
    let snapshot = room.server.snapshot();
    assert_eq!(snapshot.refused_by_address, u64::from(refused));
    assert_eq!(
        snapshot.accepted,
        u64::from(entered) + 2,
        "the good player, the newcomer and the loop's admitted connections"
    );
    drop(newcomer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_hold_more_than_its_cap_open() {
    let _shared = MEMORY.read().await;
    let mut room = Room::open(|c| {
        c.net.address_limits = Some(AddressLimits {
            connect_burst: 100,
            ..LIMITS
        })
    })
    .await;
    let addr = room.server.local_addr();
    let hog = Ipv4Addr::new(127, 0, 0, 4);
    let mut held = Vec::new();
    let mut outcomes = Vec::new();
    for _ in 0..6 {
        let mut stream = connect_from(hog, addr).await;
        outcomes.push(let_in(&mut stream).await);
        held.push(stream);
    }
    assert_eq!(
        outcomes,
        [true, true, true, false, false, false],
        "three open, then refused while they stay"
    );
    // The good player saw exactly the three that entered.
    for _ in 0..3 {
        let _: SBroadcastEnterGame = room.good.expect().await;
    }
    // One closes: its slot is free again.
    held.remove(0);
    room.good_moves().await;
    let mut stream = connect_from(hog, addr).await;
    assert!(let_in(&mut stream).await, "a freed slot is usable");
}
