//! Moves over UDP (`game-server --udp-addr`), end to end over real sockets: the token
//! handshake, moves both ways, stale and lost datagrams, unbinding, and course clients that
//! never see a packet of it.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use game_server::packets::{
    CChat, CLeaveGame, CMove, CPing, CUdpBind, CUdpMove, CUdpProve, CUdpRequest, PacketId,
    SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove, SChat, SPong, SUdpBound,
    SUdpChallenge, SUdpTicket,
};
use game_server::world::WorldConfig;
use game_server::{GameServer, ServerConfig, UdpSettings};
use server_core::frame::parse_header;
use server_core::Packet;
use support::{eventually, start_server, Client};
use tokio::net::UdpSocket;

/// Highest id of the course's and this project's packets before the UDP ones.
const LAST_TCP_ONLY_ID: u16 = PacketId::SPong as u16;

async fn udp_server(tweak: impl FnOnce(&mut UdpSettings)) -> GameServer {
    start_server(|c| {
        let mut udp = UdpSettings::new(SocketAddr::from(([127, 0, 0, 1], 0)));
        tweak(&mut udp);
        c.udp = Some(udp);
    })
    .await
}

/// Reads TCP frames until a `P`, skipping others (enters, moves of the room's traffic).
async fn until<P: Packet + std::fmt::Debug>(client: &mut Client) -> P {
    loop {
        let (id, body) = client.next_frame().await;
        if id == P::ID {
            return P::decode(&body).expect("server frame decodes");
        }
    }
}

async fn ticket(client: &mut Client) -> SUdpTicket {
    client.send(&CUdpRequest {}).await;
    let ticket: SUdpTicket = until(client).await;
    assert_eq!(
        ticket.player_id, client.player_id,
        "the ticket names its player"
    );
    ticket
}

/// A client's UDP socket, connected to the server's (or a proxy's) UDP port.
struct Udp {
    socket: UdpSocket,
}

impl Udp {
    async fn to(addr: SocketAddr) -> Udp {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
        socket.connect(addr).await.expect("connect UDP");
        Udp { socket }
    }

    async fn send<P: Packet>(&self, packet: &P) {
        let frame = packet.encode().expect("test packet encodes");
        self.socket.send(&frame).await.expect("UDP send");
    }

    /// The frames of the datagrams that arrive within `wait`.
    async fn frames_within(&self, wait: Duration) -> Vec<(u16, Bytes)> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, self.socket.recv(&mut buf)).await {
            let mut rest = Bytes::copy_from_slice(&buf[..n]);
            while let Ok(Some(h)) = parse_header(&rest, 65_535) {
                out.push((h.id, rest.slice(4..h.size)));
                rest = rest.slice(h.size..);
            }
            assert!(rest.is_empty(), "a datagram holds whole frames only");
        }
        out
    }

    /// Sends the bind until `S_UdpBound` comes back (UDP may lose either), echoing the
    /// server's `S_UdpChallenge` as `C_UdpProve` on the way, as a client does.
    async fn bind(&self, player_id: i32, token: i64, want_moves: bool) -> SUdpBound {
        for _ in 0..50 {
            self.send(&CUdpBind {
                player_id,
                token,
                want_moves,
            })
            .await;
            for (id, body) in self.frames_within(Duration::from_millis(100)).await {
                if id == SUdpChallenge::ID {
                    let c = SUdpChallenge::decode(&body).expect("S_UdpChallenge decodes");
                    assert_eq!(c.player_id, player_id);
                    self.send(&CUdpProve {
                        player_id,
                        cookie: c.cookie,
                    })
                    .await;
                }
                if id == SUdpBound::ID {
                    return SUdpBound::decode(&body).expect("S_UdpBound decodes");
                }
            }
        }
        panic!("player {player_id}: no S_UdpBound for a right token");
    }
}

fn moves_in(frames: &[(u16, Bytes)]) -> Vec<SBroadcastMove> {
    frames
        .iter()
        .filter(|(id, _)| *id == SBroadcastMove::ID)
        .map(|(_, body)| SBroadcastMove::decode(body).expect("S_BroadcastMove decodes"))
        .collect()
}

/// TCP frames until `quiet` passes with none.
async fn tcp_frames_within(client: &mut Client, quiet: Duration) -> Vec<(u16, Bytes)> {
    let mut out = Vec::new();
    while let Ok(Some(frame)) = tokio::time::timeout(quiet, client.try_next_frame()).await {
        out.push(frame);
    }
    out
}

fn udp_addr(server: &GameServer) -> SocketAddr {
    server.udp_addr().expect("the server has a UDP listener")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bind_needs_the_players_own_token_and_bad_ones_close_the_udp_session() {
    let server = udp_server(|_| {}).await;
    let stats = server.udp_stats().expect("UDP stats");
    let (mut a, _) = Client::join(server.local_addr()).await;
    let (mut b, _) = Client::join(server.local_addr()).await;
    let ta = ticket(&mut a).await;
    let tb = ticket(&mut b).await;
    assert_eq!(ta.port, i32::from(udp_addr(&server).port()));
    assert_ne!(ta.token, tb.token, "each player has its own token");
    assert_eq!(
        ticket(&mut a).await.token,
        ta.token,
        "asking again gives the same token"
    );

    let x = Udp::to(udp_addr(&server)).await;
    x.send(&CUdpMove {
        seq: 1,
        pos_x: 9.0,
        pos_y: 0.0,
        pos_z: 9.0,
    })
    .await;
    eventually("the unbound move is counted", || stats.moves_unbound() == 1).await;
    for (player_id, token) in [
        (a.player_id, ta.token ^ 1),   // wrong token
        (a.player_id, tb.token),       // another player's token
        (a.player_id + 100, ta.token), // a player with no ticket
    ] {
        x.send(&CUdpBind {
            player_id,
            token,
            want_moves: true,
        })
        .await;
        assert!(
            x.frames_within(Duration::from_millis(150)).await.is_empty(),
            "a refused bind is not answered"
        );
    }
    assert_eq!(stats.bad_binds(), 3);
    eventually("the third bad token closes that UDP session", || {
        stats.closed_bad_tokens() == 1
    })
    .await;
    assert_eq!(stats.binds(), 0);

    // B never saw a move: the unbound one was dropped.
    let frames = tcp_frames_within(&mut b, Duration::from_millis(200)).await;
    assert!(
        moves_in(&frames).is_empty(),
        "an unbound C_UdpMove reaches nobody: {frames:?}"
    );

    let y = Udp::to(udp_addr(&server)).await;
    let bound = y.bind(a.player_id, ta.token, false).await;
    assert_eq!(
        (bound.player_id, bound.moves_over_udp),
        (a.player_id, false)
    );
    assert_eq!(stats.binds(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_over_udp_reach_tcp_players_and_udp_receivers_get_moves_over_udp() {
    let server = udp_server(|_| {}).await;
    let stats = server.udp_stats().expect("UDP stats");
    let (mut a, _) = Client::join(server.local_addr()).await;
    let (mut b, _) = Client::join(server.local_addr()).await;
    let ta = ticket(&mut a).await;
    let ua = Udp::to(udp_addr(&server)).await;
    assert!(ua.bind(a.player_id, ta.token, true).await.moves_over_udp);
    // Let the room take the route before the first move.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let _ = tcp_frames_within(&mut a, Duration::from_millis(50)).await;
    let _ = tcp_frames_within(&mut b, Duration::from_millis(50)).await;

    // A moves over UDP: B sees it over TCP, A its echo over UDP.
    ua.send(&CUdpMove {
        seq: 1,
        pos_x: 1.0,
        pos_y: 0.0,
        pos_z: 2.0,
    })
    .await;
    let m: SBroadcastMove = until(&mut b).await;
    assert_eq!((m.player_id, m.pos_x, m.pos_z), (a.player_id, 1.0, 2.0));
    let echo = moves_in(&ua.frames_within(Duration::from_millis(300)).await);
    assert_eq!(echo.len(), 1, "A's own move comes back over UDP");
    assert_eq!((echo[0].player_id, echo[0].pos_x), (a.player_id, 1.0));

    // B moves and chats over TCP: A gets the move over UDP and the chat over TCP.
    b.send(&CMove {
        pos_x: 5.0,
        pos_y: 0.0,
        pos_z: 5.0,
    })
    .await;
    b.send(&CChat {
        message: "안녕".into(),
    })
    .await;
    let chat: SChat = until(&mut a).await;
    assert_eq!(chat.message, "안녕");
    let over_udp = moves_in(&ua.frames_within(Duration::from_millis(300)).await);
    assert_eq!(
        over_udp.iter().map(|m| m.player_id).collect::<Vec<_>>(),
        vec![b.player_id],
        "B's move reaches A over UDP"
    );
    a.send(&CPing { client_time: 1 }).await;
    let before_pong = tcp_frames_within(&mut a, Duration::from_millis(200)).await;
    assert!(
        moves_in(&before_pong).is_empty(),
        "no move comes to A over TCP while it takes them over UDP: {before_pong:?}"
    );
    assert!(
        before_pong.iter().any(|(id, _)| *id == SPong::ID),
        "the pong stays on TCP"
    );

    // A stale move (an older seq after a newer one) is dropped and counted.
    for (seq, x) in [(5, 50.0), (3, 30.0), (5, 55.0), (6, 60.0)] {
        ua.send(&CUdpMove {
            seq,
            pos_x: x,
            pos_y: 0.0,
            pos_z: 0.0,
        })
        .await;
    }
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let m: SBroadcastMove = until(&mut b).await;
        if m.player_id == a.player_id {
            seen.push(m.pos_x);
        }
    }
    assert_eq!(
        seen,
        vec![50.0, 60.0],
        "seq 3 and the repeated 5 were dropped"
    );
    assert_eq!(stats.moves_stale(), 2);
    let late = tcp_frames_within(&mut b, Duration::from_millis(150)).await;
    assert!(moves_in(&late).is_empty(), "no stale move came after");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_binds_cannot_cut_a_binding_and_its_first_move_may_have_any_seq() {
    let server = udp_server(|_| {}).await;
    let stats = server.udp_stats().expect("UDP stats");
    let (mut a, _) = Client::join(server.local_addr()).await;
    let (mut b, _) = Client::join(server.local_addr()).await;
    let ta = ticket(&mut a).await;
    let ua = Udp::to(udp_addr(&server)).await;
    ua.bind(a.player_id, ta.token, false).await;
    let _ = tcp_frames_within(&mut b, Duration::from_millis(100)).await;

    // What a forger with A's address can send: binds with tokens it does not have, more
    // than the limit that closes an unbound address.
    for token in 1..=5 {
        ua.send(&CUdpBind {
            player_id: a.player_id,
            token: ta.token ^ token,
            want_moves: true,
        })
        .await;
    }
    eventually("the bad binds are counted", || stats.bad_binds() == 5).await;
    assert_eq!(
        stats.closed_bad_tokens(),
        0,
        "a bound address is not closed"
    );

    // Still bound: A's moves reach B. The first after the bind is taken whatever its seq
    // (a client rebinding after 2^16 moves is not stale for good), the next must follow it.
    for (seq, x) in [(100_000, 1.0), (99_999, 2.0), (100_001, 3.0)] {
        ua.send(&CUdpMove {
            seq,
            pos_x: x,
            pos_y: 0.0,
            pos_z: 0.0,
        })
        .await;
    }
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let m: SBroadcastMove = until(&mut b).await;
        if m.player_id == a.player_id {
            seen.push(m.pos_x);
        }
    }
    assert_eq!(seen, vec![1.0, 3.0], "the older seq was stale");
    assert_eq!(stats.moves_stale(), 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_udp_binding_ends_with_its_tcp_session_and_after_the_udp_idle_timeout() {
    let server = udp_server(|u| u.idle_timeout = Duration::from_millis(400)).await;
    let stats = server.udp_stats().expect("UDP stats");
    let (mut a, _) = Client::join(server.local_addr()).await;
    let (mut b, _) = Client::join(server.local_addr()).await;
    let ta = ticket(&mut a).await;
    let ua = Udp::to(udp_addr(&server)).await;
    ua.bind(a.player_id, ta.token, true).await;

    // A's UDP goes quiet: after the idle timeout its moves come back over TCP.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let _ = tcp_frames_within(&mut a, Duration::from_millis(50)).await;
    b.send(&CMove {
        pos_x: 7.0,
        pos_y: 0.0,
        pos_z: 7.0,
    })
    .await;
    let m: SBroadcastMove = until(&mut a).await;
    assert_eq!(
        (m.player_id, m.pos_x),
        (b.player_id, 7.0),
        "unbound by the idle timeout: moves over TCP again"
    );
    assert!(moves_in(&ua.frames_within(Duration::from_millis(100)).await).is_empty());

    // Bound again, then A's TCP session ends: its token binds nothing any more.
    ua.bind(a.player_id, ta.token, true).await;
    let moved_before = stats.moves();
    let a_id = a.player_id;
    drop(a);
    eventually("A has left the room", || server.snapshot().players == 1).await;
    let _ = until::<SBroadcastLeaveGame>(&mut b).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    ua.send(&CUdpMove {
        seq: 1,
        pos_x: 1.0,
        pos_y: 0.0,
        pos_z: 1.0,
    })
    .await;
    eventually("the move from the old address is unbound", || {
        stats.moves_unbound() == 1
    })
    .await;
    assert_eq!(stats.moves(), moved_before);
    ua.send(&CUdpBind {
        player_id: a_id,
        token: ta.token,
        want_moves: true,
    })
    .await;
    eventually("the dead player's token is refused", || {
        stats.bad_binds() == 1
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_packets_over_tcp_close_that_session_and_tcp_packets_over_udp_are_dropped() {
    let server = udp_server(|_| {}).await;
    let stats = server.udp_stats().expect("UDP stats");
    let (mut a, _) = Client::join(server.local_addr()).await;
    a.send(&CUdpMove {
        seq: 1,
        pos_x: 0.0,
        pos_y: 0.0,
        pos_z: 0.0,
    })
    .await;
    a.expect_closed().await;

    let (mut b, _) = Client::join(server.local_addr()).await;
    let tb = ticket(&mut b).await;
    let ub = Udp::to(udp_addr(&server)).await;
    ub.bind(b.player_id, tb.token, false).await;
    ub.send(&CChat {
        message: "over UDP".into(),
    })
    .await;
    eventually("the chat over UDP is refused", || {
        stats.refused_packets() == 1
    })
    .await;
    // A non-finite move over UDP is dropped; it closes neither the player nor its UDP
    // binding (a UDP source address can be forged, so a datagram must not cut either).
    let ub2 = Udp::to(udp_addr(&server)).await;
    ub2.bind(b.player_id, tb.token, false).await;
    ub2.send(&CUdpMove {
        seq: 1,
        pos_x: f32::NAN,
        pos_y: 0.0,
        pos_z: 0.0,
    })
    .await;
    eventually("the NaN move reached the gate", || stats.moves() == 1).await;
    ub2.send(&CUdpMove {
        seq: 2,
        pos_x: 2.0,
        pos_y: 0.0,
        pos_z: 2.0,
    })
    .await;
    let m: SBroadcastMove = until(&mut b).await;
    assert_eq!(
        (m.player_id, m.pos_x),
        (b.player_id, 2.0),
        "the binding survived the NaN, which reached nobody"
    );
    b.send(&CPing { client_time: 3 }).await;
    let pong: SPong = until(&mut b).await;
    assert_eq!(pong.client_time, 3, "B's TCP session lives on");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_udp_the_ticket_says_port_zero_and_world_mode_refuses_udp() {
    let server = start_server(|_| {}).await;
    let (mut a, _) = Client::join(server.local_addr()).await;
    let t = ticket(&mut a).await;
    assert_eq!((t.port, t.token), (0, 0), "port 0: this server has no UDP");
    assert!(server.udp_addr().is_none());
    server.shutdown().await;

    let mut config = ServerConfig {
        world: Some(WorldConfig::default()),
        udp: Some(UdpSettings::new(SocketAddr::from(([127, 0, 0, 1], 0)))),
        ..ServerConfig::default()
    };
    config.net.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let refused = GameServer::start(config).await;
    let error = refused.err().expect("UDP with --world grid is refused");
    assert!(
        error.to_string().contains("room mode only"),
        "the error says why: {error}"
    );
}

/// A UDP proxy between one client and the server that drops every `every`-th datagram in
/// each direction, deterministically (no namespace or netem needed in `cargo test`).
struct LossyProxy {
    addr: SocketAddr,
    dropped: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl LossyProxy {
    async fn start(server: SocketAddr, every: u64) -> LossyProxy {
        let front = UdpSocket::bind("127.0.0.1:0").await.expect("bind proxy");
        let back = UdpSocket::bind("127.0.0.1:0").await.expect("bind proxy");
        back.connect(server).await.expect("connect proxy");
        let addr = front.local_addr().expect("proxy address");
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&dropped);
        let task = tokio::spawn(async move {
            let (mut up, mut down) = (0u64, 0u64);
            let mut client = None;
            let (mut a, mut b) = (vec![0u8; 65_536], vec![0u8; 65_536]);
            loop {
                tokio::select! {
                    Ok((n, from)) = front.recv_from(&mut a) => {
                        client = Some(from);
                        up += 1;
                        if up % every == 0 {
                            counter.fetch_add(1, Ordering::Relaxed);
                        } else {
                            let _ = back.send(&a[..n]).await;
                        }
                    }
                    Ok(n) = back.recv(&mut b) => {
                        down += 1;
                        if down % every == 0 {
                            counter.fetch_add(1, Ordering::Relaxed);
                        } else if let Some(to) = client {
                            let _ = front.send_to(&b[..n], to).await;
                        }
                    }
                }
            }
        });
        LossyProxy {
            addr,
            dropped,
            task,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_path_loses_only_moves_never_enters_leaves_or_chat() {
    let server = udp_server(|_| {}).await;
    let (mut a, _) = Client::join(server.local_addr()).await;
    let (mut watcher, _) = Client::join(server.local_addr()).await;
    let ta = ticket(&mut a).await;
    let proxy = LossyProxy::start(udp_addr(&server), 10).await;
    let ua = Udp::to(proxy.addr).await;
    ua.bind(a.player_id, ta.token, true).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    let _ = tcp_frames_within(&mut a, Duration::from_millis(50)).await;
    let _ = tcp_frames_within(&mut watcher, Duration::from_millis(50)).await;

    // 40 moves from A over the lossy path, one per 25 ms (within the move rate), while the
    // watcher chats and a third player comes and goes.
    const MOVES: u32 = 40;
    let collect_udp = {
        let udp = ua;
        tokio::spawn(async move {
            let mut got = Vec::new();
            let mut seq = 1;
            let mut ticker = tokio::time::interval(Duration::from_millis(25));
            while seq <= MOVES {
                ticker.tick().await;
                udp.send(&CUdpMove {
                    seq,
                    pos_x: seq as f32,
                    pos_y: 0.0,
                    pos_z: 0.0,
                })
                .await;
                seq += 1;
                got.extend(moves_in(&udp.frames_within(Duration::from_millis(1)).await));
            }
            got.extend(moves_in(
                &udp.frames_within(Duration::from_millis(500)).await,
            ));
            got
        })
    };
    for n in 0..5 {
        watcher
            .send(&CChat {
                message: format!("line {n}"),
            })
            .await;
    }
    let (mut c, _) = Client::join(server.local_addr()).await;
    c.send(&CLeaveGame {}).await;
    c.expect_closed().await;
    let udp_moves = collect_udp.await.expect("UDP side ran");

    let on_tcp = tcp_frames_within(&mut a, Duration::from_millis(400)).await;
    let chats: Vec<String> = on_tcp
        .iter()
        .filter(|(id, _)| *id == SChat::ID)
        .map(|(_, b)| SChat::decode(b).expect("S_Chat decodes").message)
        .collect();
    assert_eq!(
        chats,
        (0..5).map(|n| format!("line {n}")).collect::<Vec<_>>(),
        "every chat line over TCP, in order"
    );
    let enters = on_tcp
        .iter()
        .filter(|(id, _)| *id == SBroadcastEnterGame::ID)
        .count();
    let leaves = on_tcp
        .iter()
        .filter(|(id, _)| *id == SBroadcastLeaveGame::ID)
        .count();
    assert_eq!((enters, leaves), (1, 1), "C's enter and leave, once each");
    assert!(moves_in(&on_tcp).is_empty(), "A's moves come over UDP only");

    let watcher_moves: Vec<u32> =
        moves_in(&tcp_frames_within(&mut watcher, Duration::from_millis(400)).await)
            .iter()
            .filter(|m| m.player_id == a.player_id)
            .map(|m| m.pos_x as u32)
            .collect();
    assert!(
        proxy.dropped.load(Ordering::Relaxed) > 0,
        "the proxy dropped some"
    );
    assert!(
        watcher_moves.windows(2).all(|w| w[0] < w[1]),
        "what arrived is in order, none twice: {watcher_moves:?}"
    );
    assert!(
        watcher_moves.len() < MOVES as usize && watcher_moves.len() >= MOVES as usize * 8 / 10,
        "every 10th datagram from A was dropped, so some moves are lost, not all: {watcher_moves:?}"
    );
    let echoes: Vec<u32> = udp_moves
        .iter()
        .filter(|m| m.player_id == a.player_id)
        .map(|m| m.pos_x as u32)
        .collect();
    assert!(
        echoes.windows(2).all(|w| w[0] < w[1]),
        "A's own echoes over UDP are in order, none twice: {echoes:?}"
    );
    assert!(
        echoes.len() <= watcher_moves.len(),
        "A cannot get back more of its moves than the room took"
    );
    assert!(
        echoes.len() * 2 >= watcher_moves.len(),
        "most of A's moves come back to it over UDP, a lossy path notwithstanding: {} of {}",
        echoes.len(),
        watcher_moves.len()
    );
    proxy.task.abort();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn course_clients_see_no_new_packet_while_others_use_udp() {
    let server = udp_server(|_| {}).await;
    let (mut course, _) = Client::join(server.local_addr()).await;
    let (mut u, _) = Client::join(server.local_addr()).await;
    let tu = ticket(&mut u).await;
    let uu = Udp::to(udp_addr(&server)).await;
    uu.bind(u.player_id, tu.token, true).await;
    for seq in 1..=5 {
        uu.send(&CUdpMove {
            seq,
            pos_x: seq as f32,
            pos_y: 0.0,
            pos_z: 0.0,
        })
        .await;
        course
            .send(&CMove {
                pos_x: 0.5,
                pos_y: 0.0,
                pos_z: 0.5,
            })
            .await;
    }
    course
        .send(&CChat {
            message: "hello".into(),
        })
        .await;
    course.send(&CPing { client_time: 9 }).await;
    let frames = tcp_frames_within(&mut course, Duration::from_millis(400)).await;
    let new: Vec<u16> = frames
        .iter()
        .map(|(id, _)| *id)
        .filter(|&id| id > LAST_TCP_ONLY_ID)
        .collect();
    assert!(new.is_empty(), "a course client got new packets: {new:?}");
    let udp_moves = moves_in(&frames)
        .iter()
        .filter(|m| m.player_id == u.player_id)
        .count();
    assert_eq!(
        udp_moves, 5,
        "the course client sees the UDP player's moves"
    );
    server.shutdown().await;
}

fn udp_bots(addr: SocketAddr, clients: usize) -> dummy_client::RunConfig {
    dummy_client::RunConfig {
        addr,
        clients,
        ramp_per_sec: 2_000,
        duration: Duration::from_secs(2),
        status_line: false,
        udp: true,
        ..dummy_client::RunConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dummy_client_bots_bind_and_move_over_udp() {
    let server = udp_server(|_| {}).await;
    let report = dummy_client::run(udp_bots(server.local_addr(), 20))
        .await
        .expect("the config is valid");
    let stats = server.udp_stats().expect("UDP stats");
    server.shutdown().await;
    assert!(report.passed, "the run should pass:\n{report}");
    assert_eq!(report.udp.bound, 20, "every bot bound:\n{report}");
    let over_udp = report.sent.packets.get("C_UdpMove").copied().unwrap_or(0);
    assert!(
        over_udp >= report.moves.sent,
        "the window's moves went over UDP:\n{report}"
    );
    assert!(stats.moves() >= over_udp * 9 / 10, "the server took them");
    assert!(
        report.moves.delivered_ratio > 0.95,
        "loopback loses next to nothing:\n{report}"
    );
    assert!(
        report.move_echo.samples > 0,
        "own echoes over UDP are timed"
    );
    assert_eq!(report.moves.duplicates, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dummy_client_bots_stay_on_tcp_when_the_server_has_no_udp() {
    let server = start_server(|_| {}).await;
    let report = dummy_client::run(udp_bots(server.local_addr(), 5))
        .await
        .expect("the config is valid");
    server.shutdown().await;
    assert!(report.passed, "the run should pass:\n{report}");
    assert_eq!(
        report.udp.stayed_on_tcp, 5,
        "port 0: every bot stays on TCP"
    );
    assert_eq!(report.moves.lost, 0, "and over TCP nothing is lost");
}

/// Reflection: a bind with a good token but a forged source is answered at the forged
/// address. Here the victim is a socket that only reads after its one bind (it never echoes
/// the challenge, as a forged source cannot): while another player walks it gets nothing but
/// challenges, and no more bytes than 3x what was sent from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_that_never_proves_it_receives_gets_only_challenges() {
    let server = udp_server(|_| {}).await;
    let stats = server.udp_stats().expect("UDP stats");
    let (mut a, _) = Client::join(server.local_addr()).await;
    let (mut b, _) = Client::join(server.local_addr()).await;
    let ta = ticket(&mut a).await;

    let victim = Udp::to(udp_addr(&server)).await;
    let bind = CUdpBind {
        player_id: a.player_id,
        token: ta.token,
        want_moves: true,
    };
    let mut sent = 0;
    let mut frames = Vec::new();
    for round in 0..4 {
        // One forged bind every ~0.4 s (the attack resends to keep the address alive).
        victim.send(&bind).await;
        sent += bind.frame_len().expect("len");
        for step in 0..4 {
            b.send(&CMove {
                pos_x: (round * 4 + step) as f32,
                pos_y: 0.0,
                pos_z: 0.0,
            })
            .await;
            frames.extend(victim.frames_within(Duration::from_millis(100)).await);
        }
    }
    let received: usize = frames.iter().map(|(_, body)| body.len() + 4).sum();
    assert!(
        frames.iter().all(|(id, _)| *id == SUdpChallenge::ID),
        "only challenges reach an unproven address: {:?}",
        frames.iter().map(|(id, _)| *id).collect::<Vec<_>>()
    );
    assert!(!frames.is_empty(), "the bind was challenged");
    assert!(
        received <= 3 * sent,
        "{received} bytes out for {sent} in: no amplification"
    );
    assert_eq!(stats.binds(), 0, "nothing was bound");
    assert!(stats.challenges() >= 1);

    // A's real client, from its own address, still binds (the proof is what binds).
    let real = Udp::to(udp_addr(&server)).await;
    let bound = real.bind(a.player_id, ta.token, true).await;
    assert!(bound.moves_over_udp);
    b.send(&CMove {
        pos_x: 42.0,
        pos_y: 0.0,
        pos_z: 0.0,
    })
    .await;
    let mut got = Vec::new();
    for _ in 0..20 {
        got.extend(moves_in(
            &real.frames_within(Duration::from_millis(100)).await,
        ));
        if got.iter().any(|m| m.pos_x == 42.0) {
            break;
        }
    }
    assert!(
        got.iter().any(|m| m.pos_x == 42.0),
        "the proved address gets the room's moves"
    );
    assert!(
        moves_in(&victim.frames_within(Duration::from_millis(300)).await).is_empty(),
        "and the victim still none"
    );
    server.shutdown().await;
}

/// Forged sources with one good ticket cannot fill the UDP session table: at most four
/// unproven binds per ticket, the fifth refused and counted; a wrong cookie proves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ticket_holds_at_most_four_unproven_binds_and_a_wrong_cookie_binds_nothing() {
    let server = udp_server(|_| {}).await;
    let stats = server.udp_stats().expect("UDP stats");
    let (mut a, _) = Client::join(server.local_addr()).await;
    let ta = ticket(&mut a).await;
    let bind = CUdpBind {
        player_id: a.player_id,
        token: ta.token,
        want_moves: false,
    };
    let mut sockets = Vec::new();
    let mut cookies = Vec::new();
    for _ in 0..5 {
        let s = Udp::to(udp_addr(&server)).await;
        s.send(&bind).await;
        let frames = s.frames_within(Duration::from_millis(200)).await;
        cookies.push(
            frames
                .iter()
                .find(|(id, _)| *id == SUdpChallenge::ID)
                .map(|(_, body)| SUdpChallenge::decode(body).expect("decodes").cookie),
        );
        sockets.push(s);
    }
    assert!(
        cookies[..4].iter().all(Option::is_some),
        "four are challenged"
    );
    assert_eq!(cookies[4], None, "the fifth is refused");
    eventually("the refusal is counted", || {
        stats.binds_refused_unproven() == 1
    })
    .await;

    let first = cookies[0].expect("challenged");
    sockets[0]
        .send(&CUdpProve {
            player_id: a.player_id,
            cookie: first ^ 1,
        })
        .await;
    eventually("the wrong cookie is counted", || stats.bad_proofs() == 1).await;
    assert_eq!(stats.binds(), 0, "a wrong cookie binds nothing");
    sockets[0]
        .send(&CUdpProve {
            player_id: a.player_id,
            cookie: first,
        })
        .await;
    let frames = sockets[0].frames_within(Duration::from_millis(300)).await;
    assert!(
        frames.iter().any(|(id, _)| *id == SUdpBound::ID),
        "the right cookie binds: {frames:?}"
    );
    assert_eq!(stats.binds(), 1);
    // Proving freed a slot: another address may try now.
    let late = Udp::to(udp_addr(&server)).await;
    late.send(&bind).await;
    let frames = late.frames_within(Duration::from_millis(200)).await;
    assert!(frames.iter().any(|(id, _)| *id == SUdpChallenge::ID));
    server.shutdown().await;
}

/// `C_UdpRequest` is rate limited (four back to back), and a player that left gets no
/// ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_ticket_requests_are_rate_limited_and_not_answered_after_leaving() {
    let server = udp_server(|_| {}).await;
    let stats = server.udp_stats().expect("UDP stats");
    let (mut a, _) = Client::join(server.local_addr()).await;
    for _ in 0..6 {
        a.send(&CUdpRequest {}).await;
    }
    a.send(&CPing { client_time: 7 }).await;
    let mut tickets = 0;
    loop {
        let (id, _) = a.next_frame().await;
        if id == SUdpTicket::ID {
            tickets += 1;
        }
        if id == SPong::ID {
            break;
        }
    }
    assert_eq!(tickets, 4, "four back to back, the rest refused");
    assert_eq!(stats.ticket_requests_refused(), 2);

    let (mut b, _) = Client::join(server.local_addr()).await;
    let mut both = CLeaveGame {}.encode().expect("encodes").to_vec();
    both.extend_from_slice(&CUdpRequest {}.encode().expect("encodes"));
    b.send_raw(&both).await;
    let mut after_leave = Vec::new();
    while let Some((id, _)) = b.try_next_frame().await {
        after_leave.push(id);
    }
    assert!(
        !after_leave.contains(&SUdpTicket::ID),
        "no ticket after C_LeaveGame: {after_leave:?}"
    );
    server.shutdown().await;
}
