//! `--udp`: each bot also binds a UDP socket to its player, sends its moves over it and
//! asks for the room's moves back over it (the game server's `--udp-addr`).
//!
//! The handshake, driven by the driver's tick: once the bot is in the room it sends
//! `C_UdpRequest` over TCP; its TCP handler keeps the `S_UdpTicket` (`bot.rs`); the next
//! tick opens a UDP socket connected to the ticket's port on the server's address and sends
//! `C_UdpBind` every [`BIND_RESEND`] until `S_UdpBound` arrives; the receive task echoes the
//! server's `S_UdpChallenge` as `C_UdpProve` (the proof that this address receives, without
//! which nothing is bound). From then on the bot's
//! moves are `C_UdpMove`s (with a sequence number of their own) and the room sends it
//! `S_BroadcastMove`s over UDP; everything else stays on TCP. A ticket with port 0 (the
//! server has no UDP) leaves the bot on TCP.
//!
//! The receive side is a task per bot that reads datagrams and hands each frame to a second
//! [`Bot`] with its own [`BotShared`]: the same checks as over TCP (sequence per sender,
//! repeats, foreign moves, the move echo), counted apart because each `Counter` has one
//! writer. The driver adds the two sides up at the end. Over UDP a lost move is expected:
//! the report gives the delivered ratio and does not count the loss as an error;
//! duplicates and moves no bot sent still are.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use server_core::frame::parse_header;
use server_core::Packet;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::bot::{Bot, BotShared, RunShared};
use crate::packets::{CMove, CUdpBind, CUdpMove, CUdpProve, SUdpBound, SUdpChallenge};

/// How often an unanswered `C_UdpBind` is sent again.
pub(crate) const BIND_RESEND: Duration = Duration::from_millis(250);

/// Largest datagram the receive side reads (the largest UDP payload).
const MAX_DATAGRAM: usize = 65_507;

/// Where a bot's UDP side is.
enum State {
    /// Waiting for the bot to be in the room.
    Idle,
    /// `C_UdpRequest` sent; waiting for the ticket.
    Asked,
    /// The socket is open; `C_UdpBind` is sent until `bound` is set.
    Binding {
        socket: Arc<StdUdpSocket>,
        bind: Bytes,
        next_bind: Duration,
    },
    /// Moves go over `socket`.
    Bound { socket: Arc<StdUdpSocket> },
    /// UDP is off on the server, or the socket failed: the bot stays on TCP.
    Off,
}

/// What the driver must do for a bot's UDP side this tick.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    None,
    /// Send `C_UdpRequest` over the bot's TCP session.
    RequestTicket,
}

/// What a bot's UDP side did, for the report.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct UdpCounts {
    /// Bound to its player.
    pub bound: bool,
    /// Stayed on TCP: the server has no UDP, or the socket failed.
    pub off: bool,
    /// `C_UdpBind`s sent (resends included).
    pub binds_sent: u64,
    /// `C_UdpMove`s the socket refused (its buffer was full): lost before the wire.
    pub send_drops: u64,
}

/// One bot's UDP transport.
pub(crate) struct UdpSide {
    /// What the UDP receive side saw; written by its task only.
    pub(crate) shared: Arc<BotShared>,
    state: State,
    /// Set by the receive task when `S_UdpBound` arrives.
    bound: Arc<AtomicBool>,
    /// The last `C_UdpMove` sequence number sent.
    seq: u32,
    task: Option<JoinHandle<()>>,
    counts: UdpCounts,
}

impl UdpSide {
    pub(crate) fn new() -> UdpSide {
        UdpSide {
            shared: Arc::new(BotShared::new()),
            state: State::Idle,
            bound: Arc::new(AtomicBool::new(false)),
            seq: 0,
            task: None,
            counts: UdpCounts::default(),
        }
    }

    /// Bound, or known to stay on TCP: the bot is as ready as it will get.
    pub(crate) fn settled(&self) -> bool {
        matches!(self.state, State::Bound { .. } | State::Off)
    }

    /// Moves the handshake along. `tcp` is the bot's TCP side, `index` and `base` what its
    /// receive side needs to check sequences (see `Bot::new`), `server` the address the bot
    /// connected to over TCP.
    pub(crate) fn tick(
        &mut self,
        now: Duration,
        tcp: &BotShared,
        run: &Arc<RunShared>,
        (index, base): (usize, u32),
        server: IpAddr,
        cancel: &CancellationToken,
    ) -> Action {
        match &mut self.state {
            State::Idle if tcp.entered() => {
                self.state = State::Asked;
                Action::RequestTicket
            }
            State::Asked => {
                let Some(ticket) = tcp.udp_ticket.get() else {
                    return Action::None;
                };
                let (Some(player_id), Ok(port)) =
                    (tcp.player_id.get().copied(), u16::try_from(ticket.port))
                else {
                    self.state = State::Off;
                    return Action::None;
                };
                if port == 0 {
                    self.state = State::Off;
                    return Action::None;
                }
                let (socket, receiving) = match open(SocketAddr::new(server, port)) {
                    Ok((socket, receiving)) => (Arc::new(socket), receiving),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot open a UDP socket; the bot stays on TCP");
                        self.state = State::Off;
                        return Action::None;
                    }
                };
                let bind = CUdpBind {
                    player_id,
                    token: ticket.token,
                    want_moves: true,
                }
                .encode()
                .unwrap_or_default();
                let bot = Bot::new(Arc::clone(&self.shared), Arc::clone(run), index, base)
                    .known_as(player_id);
                self.task = Some(tokio::spawn(receive(
                    receiving,
                    bot,
                    Arc::clone(&self.bound),
                    cancel.clone(),
                )));
                self.state = State::Binding {
                    socket,
                    bind,
                    next_bind: now,
                };
                self.tick(now, tcp, run, (index, base), server, cancel)
            }
            State::Binding {
                socket,
                bind,
                next_bind,
            } => {
                if self.bound.load(Ordering::Acquire) {
                    self.counts.bound = true;
                    self.state = State::Bound {
                        socket: Arc::clone(socket),
                    };
                } else if now >= *next_bind {
                    *next_bind = now + BIND_RESEND;
                    self.counts.binds_sent += 1;
                    // A lost or refused send is a lost datagram: the next resend covers it.
                    let _ = socket.send(bind);
                }
                Action::None
            }
            _ => Action::None,
        }
    }

    /// Sends `mv` as a `C_UdpMove` if bound: `None` when not (send it over TCP), else the
    /// bytes handed to the socket, or `Some(0)` if the socket refused them (counted; the
    /// move is lost like any UDP datagram).
    pub(crate) fn send_move(&mut self, mv: &CMove) -> Option<usize> {
        let State::Bound { socket } = &self.state else {
            return None;
        };
        self.seq += 1;
        let packet = CUdpMove {
            seq: self.seq,
            pos_x: mv.pos_x,
            pos_y: mv.pos_y,
            pos_z: mv.pos_z,
        };
        let frame = packet.encode().unwrap_or_default();
        match socket.send(&frame) {
            Ok(n) => Some(n),
            Err(_) => {
                self.counts.send_drops += 1;
                Some(0)
            }
        }
    }

    /// Waits for the receive task, which has handed over what it saw when `cancel` fired.
    pub(crate) async fn finish(&mut self) -> UdpCounts {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.counts.off = matches!(self.state, State::Off);
        self.counts
    }
}

/// A non-blocking UDP socket connected to `to`, on the matching unspecified address: a std
/// handle for sending and a tokio one for the receive task. The driver sends with a plain
/// non-blocking `send` because tokio's `try_send` answers `WouldBlock` until the reactor has
/// seen the new socket writable, which would lose every first bind.
fn open(to: SocketAddr) -> std::io::Result<(StdUdpSocket, UdpSocket)> {
    let local = match to {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    };
    let socket = std::net::UdpSocket::bind(local)?;
    socket.connect(to)?;
    socket.set_nonblocking(true)?;
    let sending = socket.try_clone()?;
    Ok((sending, UdpSocket::from_std(socket)?))
}

/// The receive side: every frame of every datagram to `bot`, `S_UdpBound` to `bound`.
async fn receive(
    socket: UdpSocket,
    mut bot: Bot,
    bound: Arc<AtomicBool>,
    cancel: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let n = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            received = socket.recv(&mut buf) => match received {
                Ok(n) => n,
                // An ICMP error for an earlier send (the server is gone, say): keep reading.
                Err(_) => continue,
            },
        };
        let mut rest = &buf[..n];
        let mut used = 0;
        while let Ok(Some(header)) = parse_header(rest, usize::from(u16::MAX)) {
            let Some((frame, tail)) = rest.split_at_checked(header.size) else {
                break;
            };
            let body = &frame[server_core::frame::HEADER_SIZE..];
            rest = tail;
            used += header.size;
            if header.id == SUdpBound::ID {
                bound.store(true, Ordering::Release);
                continue;
            }
            if header.id == SUdpChallenge::ID {
                // Echoed at once; a lost proof is covered by the next bind's challenge.
                if let Ok(c) = SUdpChallenge::decode(body) {
                    let proof = CUdpProve {
                        player_id: c.player_id,
                        cookie: c.cookie,
                    };
                    if let Ok(frame) = proof.encode() {
                        let _ = socket.try_send(&frame);
                    }
                }
                continue;
            }
            // A frame that does not decode is counted by the bot (`decode_errors`); over
            // UDP it costs that datagram, not the session.
            let _ = bot.on_frame(header.id, body);
        }
        // Whole frames, as the TCP side counts them.
        bot.count_received_bytes(used);
        bot.publish();
    }
    bot.hand_over_seen();
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::packets::SUdpTicket;

    fn run() -> Arc<RunShared> {
        Arc::new(RunShared::new(Instant::now(), 1_000_000, 250_000, 4))
    }

    #[tokio::test]
    async fn the_handshake_asks_once_entered_and_a_port_zero_ticket_stays_on_tcp() {
        let mut udp = UdpSide::new();
        let tcp = BotShared::new();
        let cancel = CancellationToken::new();
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let t = Duration::ZERO;
        assert_eq!(
            udp.tick(t, &tcp, &run(), (0, 0), ip, &cancel),
            Action::None,
            "not in the room yet"
        );
        tcp.mark_entered_for_test(3);
        assert_eq!(
            udp.tick(t, &tcp, &run(), (0, 0), ip, &cancel),
            Action::RequestTicket
        );
        assert_eq!(
            udp.tick(t, &tcp, &run(), (0, 0), ip, &cancel),
            Action::None,
            "asked once"
        );
        let _ = tcp.udp_ticket.set(SUdpTicket {
            player_id: 3,
            token: 0,
            port: 0,
        });
        udp.tick(t, &tcp, &run(), (0, 0), ip, &cancel);
        assert!(udp.settled(), "port 0: settled on TCP");
        let mv = CMove::default();
        assert_eq!(udp.send_move(&mv), None, "moves stay on TCP");
        assert!(udp.finish().await.off);
    }

    #[tokio::test]
    async fn binds_are_resent_until_bound_then_moves_carry_rising_seqs() {
        let server = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let port = server.local_addr().expect("addr").port();
        let mut udp = UdpSide::new();
        let tcp = BotShared::new();
        tcp.mark_entered_for_test(3);
        let _ = tcp.udp_ticket.set(SUdpTicket {
            player_id: 3,
            token: 77,
            port: i32::from(port),
        });
        let cancel = CancellationToken::new();
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let run = run();
        udp.tick(Duration::ZERO, &tcp, &run, (0, 0), ip, &cancel);
        udp.tick(Duration::ZERO, &tcp, &run, (0, 0), ip, &cancel);
        udp.tick(BIND_RESEND, &tcp, &run, (0, 0), ip, &cancel);
        let mut buf = [0u8; 64];
        let mut from = None;
        for _ in 0..2 {
            let (n, f) = server.recv_from(&mut buf).await.expect("a bind");
            let bind = CUdpBind::decode(&buf[4..n]).expect("C_UdpBind");
            assert_eq!((bind.player_id, bind.token, bind.want_moves), (3, 77, true));
            from = Some(f);
        }
        assert!(!udp.settled(), "not bound until S_UdpBound comes");
        let reply = SUdpBound {
            player_id: 3,
            moves_over_udp: true,
        }
        .encode()
        .expect("encodes");
        server
            .send_to(&reply, from.expect("bot address"))
            .await
            .expect("reply");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !udp.settled() {
            assert!(Instant::now() < deadline, "S_UdpBound binds the bot");
            tokio::time::sleep(Duration::from_millis(5)).await;
            udp.tick(BIND_RESEND, &tcp, &run, (0, 0), ip, &cancel);
        }
        // Counted once the datagram's frames are through, just after the bind is seen.
        while udp.shared.bytes_received.get() == 0 {
            assert!(
                Instant::now() < deadline,
                "the S_UdpBound's bytes are counted"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(udp.shared.bytes_received.get(), reply.len() as u64);
        for expected in 1..=2 {
            assert!(udp.send_move(&CMove::default()).is_some_and(|n| n > 0));
            let (n, _) = server.recv_from(&mut buf).await.expect("a move");
            let mv = CUdpMove::decode(&buf[4..n]).expect("C_UdpMove");
            assert_eq!(mv.seq, expected);
        }
        cancel.cancel();
        let counts = udp.finish().await;
        assert!(counts.bound && !counts.off);
        assert_eq!(counts.binds_sent, 2);
    }
}
