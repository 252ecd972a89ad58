//! `GameRoom`: the room's state and rules, run by its job queue. No sockets in here.
//!
//! Everything the room sends goes through [`Outbox`], so tests drive a room with recording
//! fakes and the server drives it with real sessions. Broadcasts are not sent when they
//! happen: each is encoded once into the pending list, and on every flush tick the whole list
//! is joined into one shared buffer that every player's session receives (one reference-count
//! increment per player, one vectored write per session per flush).
//!
//! A player bound over UDP that asked for its moves there (`C_UdpBind { wantMoves }`) has a
//! second outbox: on each flush it gets the tick's moves as one batch over UDP and the rest
//! (enters, leaves, chat) as another over TCP. The two batches are joined once per tick, for
//! all such players, and only in ticks where there is one.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use server_core::{Packet, SendBuffer};

use crate::game::counters::RoomStats;
use crate::game::map::{sample_players, MapBounds, MapDot, MapFeed, MapSource};
use crate::game::outbox::{player_lists, Outbox};
use crate::game::packets::{
    Player, SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove, SChat, SPlayerList,
};
use crate::game::saves::LiveCharacter;

/// A job for the room. Handlers build these; only the room's thread runs them.
#[derive(Debug)]
pub enum RoomJob<O> {
    /// A player enters: it gets the player list, everyone gets its enter broadcast.
    Enter {
        /// The new player's id.
        player_id: i32,
        /// Where its packets go.
        outbox: O,
    },
    /// A logged-in character enters where it was saved: as `Enter`, but at `pos`, and its
    /// moves are written to `character` for the save task.
    EnterAt {
        /// The new player's id.
        player_id: i32,
        /// Where its packets go.
        outbox: O,
        /// Where it stands (finite; checked by the caller).
        pos: [f32; 3],
        /// Its state as the save task reads it.
        character: Arc<LiveCharacter>,
    },
    /// A parked player (its connection dropped, its character still in the room) is taken
    /// back over a new connection: only the new connection hears of it (the player list),
    /// the others see no leave and no enter.
    Rebind {
        /// The player's id, kept from its first connection.
        player_id: i32,
        /// The new connection.
        outbox: O,
    },
    /// A player moved (already validated as finite).
    Move {
        /// Who moved.
        player_id: i32,
        /// New position.
        pos: [f32; 3],
    },
    /// A player leaves (`C_LeaveGame` or disconnect); the second of the two is a no-op.
    Leave {
        /// Who leaves.
        player_id: i32,
    },
    /// A chat line (already checked against the length limit).
    Chat {
        /// Who spoke.
        player_id: i32,
        /// What was said.
        message: String,
    },
    /// From the next flush on, the player's `S_BroadcastMove`s go to `outbox` (its UDP
    /// session) instead of its main one; `None` sends them back to the main one.
    UdpMoves {
        /// Whose moves.
        player_id: i32,
        /// Where they go now.
        outbox: Option<O>,
    },
}

struct RoomPlayer<O> {
    outbox: O,
    pos: [f32; 3],
    /// Where the pending list stood when this player entered (bytes, frames), until the next
    /// flush: it gets only what was broadcast after it arrived, never an enter, move or leave
    /// of a player its `S_PlayerList` already described (the course's client adds players to
    /// a dictionary and throws on a duplicate). A slice of the shared batch, so no copy.
    joined_at: Option<(usize, usize)>,
    /// Where this player's `S_BroadcastMove`s go when not to `outbox`: its UDP session.
    moves_outbox: Option<O>,
    /// A logged-in character's saved state (none for a guest).
    character: Option<Arc<LiveCharacter>>,
}

/// The one room of the course's game: players, positions and pending broadcasts.
pub struct GameRoom<O> {
    players: HashMap<i32, RoomPlayer<O>>,
    /// Encoded broadcasts since the last flush, in the order they happened.
    pending: Vec<Bytes>,
    pending_bytes: usize,
    /// Bound on `pending`: past it the room flushes at once instead of waiting for the tick,
    /// so a burst cannot grow the list without limit.
    max_pending_bytes: usize,
    stats: Arc<RoomStats>,
    /// Scratch for `flush`: how many pending frames each newcomer skips, to count deliveries
    /// by packet type. Kept to reuse its allocation.
    newcomer_skips: Vec<usize>,
    /// Where the admin page's map gets its player positions, if it is on.
    map_feed: Option<Arc<MapFeed>>,
    /// Players with a `moves_outbox`: while zero, a flush is the one shared batch.
    udp_receivers: usize,
}

impl<O: Outbox> GameRoom<O> {
    /// An empty room that flushes early once `max_pending_bytes` of broadcasts are pending.
    pub fn new(max_pending_bytes: usize, stats: Arc<RoomStats>) -> Self {
        GameRoom {
            players: HashMap::new(),
            pending: Vec::new(),
            pending_bytes: 0,
            max_pending_bytes,
            stats,
            newcomer_skips: Vec::new(),
            map_feed: None,
            udp_receivers: 0,
        }
    }

    /// Publishes sampled player positions to `feed` on every tick while someone watches.
    pub fn with_map_feed(mut self, feed: Arc<MapFeed>) -> Self {
        self.map_feed = Some(feed);
        self
    }

    /// Players in the room.
    pub fn player_count(&self) -> usize {
        self.players.len()
    }

    /// A player's position, if it is in the room.
    pub fn position(&self, player_id: i32) -> Option<[f32; 3]> {
        self.players.get(&player_id).map(|p| p.pos)
    }

    fn enter(
        &mut self,
        player_id: i32,
        outbox: O,
        pos: [f32; 3],
        character: Option<Arc<LiveCharacter>>,
    ) {
        if self.players.contains_key(&player_id) {
            tracing::warn!(player_id, "enter ignored: player already in the room");
            return;
        }
        let joined_at = Some((self.pending_bytes, self.pending.len()));
        self.players.insert(
            player_id,
            RoomPlayer {
                outbox,
                pos,
                joined_at,
                moves_outbox: None,
                character,
            },
        );
        self.stats
            .players
            .store(self.players.len(), Ordering::Relaxed);

        // The newcomer learns who is here (itself included) at once, as in the course.
        self.send_player_list(player_id);
        // A guest enters at (0, 0, 0), as in the course; a character where it was saved.
        self.broadcast(&SBroadcastEnterGame {
            player_id,
            pos_x: pos[0],
            pos_y: pos[1],
            pos_z: pos[2],
        });
    }

    /// Sends `player_id` everyone in the room, itself flagged.
    fn send_player_list(&self, player_id: i32) {
        let Some(me) = self.players.get(&player_id) else {
            return;
        };
        let everyone: Vec<Player> = self
            .players
            .iter()
            .map(|(&id, p)| Player {
                is_self: id == player_id,
                player_id: id,
                pos_x: p.pos[0],
                pos_y: p.pos[1],
                pos_z: p.pos[2],
            })
            .collect();
        for list in player_lists(&everyone) {
            match list {
                Ok(frame) => {
                    self.stats
                        .sent
                        .add_single_writer(SPlayerList::ID, 1, frame.len() as u64);
                    self.stats.packets_out.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .bytes_out
                        .fetch_add(frame.len() as u64, Ordering::Relaxed);
                    me.outbox.send(frame);
                }
                Err(e) => tracing::error!(player_id, error = %e, "S_PlayerList did not encode"),
            }
        }
    }

    /// A parked player's character taken back over a new connection: the others see
    /// nothing; the new connection gets the player list now and what is broadcast after it.
    fn rebind(&mut self, player_id: i32, outbox: O) {
        let joined_at = Some((self.pending_bytes, self.pending.len()));
        let Some(player) = self.players.get_mut(&player_id) else {
            tracing::warn!(player_id, "rebind ignored: player not in the room");
            return;
        };
        player.outbox = outbox;
        player.joined_at = joined_at;
        if player.moves_outbox.take().is_some() {
            // Its UDP binding belonged to the old connection.
            self.udp_receivers -= 1;
        }
        self.send_player_list(player_id);
    }

    fn move_player(&mut self, player_id: i32, pos: [f32; 3]) {
        let Some(player) = self.players.get_mut(&player_id) else {
            // It left (C_LeaveGame) before this move arrived, or was never let in.
            tracing::debug!(player_id, "move ignored: player not in the room");
            return;
        };
        player.pos = pos;
        if let Some(character) = &player.character {
            character.set_pos(pos);
        }
        self.broadcast(&SBroadcastMove {
            player_id,
            pos_x: pos[0],
            pos_y: pos[1],
            pos_z: pos[2],
        });
    }

    fn leave(&mut self, player_id: i32) {
        let Some(gone) = self.players.remove(&player_id) else {
            // The second of C_LeaveGame and disconnect: the course broadcast twice; we don't.
            return;
        };
        if gone.moves_outbox.is_some() {
            self.udp_receivers -= 1;
        }
        self.stats
            .players
            .store(self.players.len(), Ordering::Relaxed);
        self.broadcast(&SBroadcastLeaveGame { player_id });
    }

    fn udp_moves(&mut self, player_id: i32, outbox: Option<O>) {
        let Some(player) = self.players.get_mut(&player_id) else {
            // It left before its UDP session bound or ended: nothing to route.
            return;
        };
        let was = player.moves_outbox.is_some();
        let now = outbox.is_some();
        player.moves_outbox = outbox;
        match (was, now) {
            (false, true) => self.udp_receivers += 1,
            (true, false) => self.udp_receivers -= 1,
            _ => {}
        }
    }

    fn chat(&mut self, player_id: i32, message: String) {
        if !self.players.contains_key(&player_id) {
            return;
        }
        self.broadcast(&SChat { player_id, message });
    }

    /// Encodes `packet` once into the pending list.
    fn broadcast<P: Packet>(&mut self, packet: &P) {
        match packet.encode() {
            Ok(frame) => {
                self.pending_bytes += frame.len();
                self.pending.push(frame);
                if self.pending_bytes >= self.max_pending_bytes {
                    self.flush();
                }
            }
            Err(e) => tracing::error!(packet = P::NAME, error = %e, "broadcast did not encode"),
        }
    }

    /// Sends every pending broadcast to every player, as one shared buffer.
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let started = Instant::now();
        let frames = self.pending.len() as u64;
        let batch = if self.pending.len() == 1 {
            self.pending[0].clone()
        } else {
            let pending = &self.pending;
            SendBuffer::write(self.pending_bytes, |dst| {
                let mut at = 0;
                for frame in pending {
                    dst[at..at + frame.len()].copy_from_slice(frame);
                    at += frame.len();
                }
                at
            })
        };
        self.pending_bytes = 0;
        // The same frames again, split into moves and the rest, for UDP receivers: joined
        // once for all of them, and only in a tick that has one.
        let split = (self.udp_receivers > 0).then(|| split_moves(&self.pending));
        let mut delivered = 0u64;
        let mut bytes = 0u64;
        let mut full = 0u64;
        for player in self.players.values_mut() {
            if let (Some((moves, rest)), Some(udp)) = (&split, &player.moves_outbox) {
                let (moves, rest, skipped) = match player.joined_at.take() {
                    None => (moves.clone(), rest.clone(), 0),
                    // A newcomer that bound UDP before its first flush (a client binds
                    // within milliseconds of entering): only what came after its enter,
                    // split for it alone, once in its life.
                    Some((_, skipped)) => {
                        if skipped > 0 {
                            self.newcomer_skips.push(skipped);
                        }
                        let (moves, rest) = split_moves(&self.pending[skipped..]);
                        (moves, rest, skipped as u64)
                    }
                };
                full += u64::from(skipped == 0);
                delivered += frames - skipped;
                bytes += (moves.len() + rest.len()) as u64;
                if !rest.is_empty() {
                    player.outbox.send(rest);
                }
                // A lost UDP send is a lost move, which is what the player asked for.
                if !moves.is_empty() {
                    udp.send(moves);
                }
                continue;
            }
            let (frame, skipped) = match player.joined_at.take() {
                None => (batch.clone(), 0),
                Some((offset, skipped)) => {
                    if skipped > 0 {
                        self.newcomer_skips.push(skipped);
                    }
                    (batch.slice(offset..), skipped as u64)
                }
            };
            if skipped == 0 {
                full += 1;
            }
            if frame.is_empty() {
                continue;
            }
            delivered += frames - skipped;
            bytes += frame.len() as u64;
            player.outbox.send(frame);
        }
        self.stats
            .sent
            .add_batch(&self.pending, full, &mut self.newcomer_skips);
        self.pending.clear();
        self.newcomer_skips.clear();
        self.stats
            .packets_out
            .fetch_add(delivered, Ordering::Relaxed);
        self.stats.bytes_out.fetch_add(bytes, Ordering::Relaxed);
        self.stats.flushes.fetch_add(1, Ordering::Relaxed);
        self.stats.flush_duration.observe(started.elapsed());
    }
}

impl<O: Outbox> GameRoom<O> {
    /// Runs one job (on the room's thread; `crate::runtime::room` drives it).
    pub fn run(&mut self, job: RoomJob<O>) {
        match job {
            RoomJob::Enter { player_id, outbox } => self.enter(player_id, outbox, [0.0; 3], None),
            RoomJob::EnterAt {
                player_id,
                outbox,
                pos,
                character,
            } => self.enter(player_id, outbox, pos, Some(character)),
            RoomJob::Rebind { player_id, outbox } => self.rebind(player_id, outbox),
            RoomJob::Move { player_id, pos } => self.move_player(player_id, pos),
            RoomJob::Leave { player_id } => self.leave(player_id),
            RoomJob::Chat { player_id, message } => self.chat(player_id, message),
            RoomJob::UdpMoves { player_id, outbox } => self.udp_moves(player_id, outbox),
        }
    }

    /// The tick: flushes, and publishes the live map while someone watches it.
    pub fn tick(&mut self) {
        self.flush();
        if let Some(feed) = &self.map_feed {
            feed.publish(self);
        }
    }
}

/// `frames` joined into two buffers: the `S_BroadcastMove`s, and everything else, each in
/// the order it happened (the order between a move and a leave on two transports is lost
/// anyway: UDP may reorder or drop).
fn split_moves(frames: &[Bytes]) -> (Bytes, Bytes) {
    let is_move = |f: &Bytes| {
        f.get(2..4)
            .is_some_and(|id| u16::from_le_bytes([id[0], id[1]]) == SBroadcastMove::ID)
    };
    let join = |want_moves: bool| {
        let total: usize = frames
            .iter()
            .filter(|f| is_move(f) == want_moves)
            .map(Bytes::len)
            .sum();
        if total == 0 {
            return Bytes::new();
        }
        SendBuffer::write(total, |dst| {
            let mut at = 0;
            for frame in frames.iter().filter(|f| is_move(f) == want_moves) {
                dst[at..at + frame.len()].copy_from_slice(frame);
                at += frame.len();
            }
            at
        })
    };
    (join(true), join(false))
}

/// The course's room is the square [-50, 50) on x and z (the bots move inside it).
pub const ROOM_BOUNDS: MapBounds = MapBounds {
    min_x: -50.0,
    min_z: -50.0,
    max_x: 50.0,
    max_z: 50.0,
};

impl<O: Outbox> MapSource for GameRoom<O> {
    fn bounds(&self) -> MapBounds {
        ROOM_BOUNDS
    }

    fn player_count(&self) -> usize {
        self.players.len()
    }

    fn sample(&self, max: usize, out: &mut Vec<MapDot>) {
        let dots = self
            .players
            .iter()
            .map(|(&id, p)| MapDot(id, p.pos[0], p.pos[2]));
        sample_players(dots, self.players.len(), max, out);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use server_core::frame::parse_header;

    use super::*;
    use crate::game::outbox::PLAYERS_PER_LIST;
    use crate::game::packets::{PacketId, SBroadcastMove};

    /// Records every frame a fake player receives.
    #[derive(Clone, Default)]
    struct Inbox(Arc<Mutex<Vec<Bytes>>>);

    impl Outbox for Inbox {
        fn send(&self, frame: Bytes) -> bool {
            self.0.lock().expect("inbox").push(frame);
            true
        }
    }

    impl Inbox {
        /// Every frame received, split out of the batches: (id, body).
        fn frames(&self) -> Vec<(u16, Bytes)> {
            let mut out = Vec::new();
            for batch in self.0.lock().expect("inbox").iter() {
                let mut rest = batch.clone();
                while let Ok(Some(h)) = parse_header(&rest, 65535) {
                    out.push((h.id, rest.slice(4..h.size)));
                    rest = rest.slice(h.size..);
                }
                assert!(rest.is_empty(), "a batch must hold whole frames only");
            }
            out
        }

        fn ids(&self) -> Vec<u16> {
            self.frames().into_iter().map(|(id, _)| id).collect()
        }

        fn batches(&self) -> usize {
            self.0.lock().expect("inbox").len()
        }
    }

    fn room() -> GameRoom<Inbox> {
        GameRoom::new(1 << 20, Arc::default())
    }

    const LIST: u16 = PacketId::SPlayerList as u16;
    const ENTER: u16 = PacketId::SBroadcastEnterGame as u16;
    const MOVE: u16 = PacketId::SBroadcastMove as u16;
    const LEAVE: u16 = PacketId::SBroadcastLeaveGame as u16;
    const CHAT: u16 = PacketId::SChat as u16;

    #[test]
    fn a_character_enters_where_it_was_saved_and_its_moves_reach_the_save_task() {
        let mut room = room();
        let (a, b) = (Inbox::default(), Inbox::default());
        room.run(RoomJob::Enter {
            player_id: 1,
            outbox: a.clone(),
        });
        let character = Arc::new(LiveCharacter::new([7.0, 0.0, -3.0], 4, 0));
        room.run(RoomJob::EnterAt {
            player_id: 2,
            outbox: b.clone(),
            pos: [7.0, 0.0, -3.0],
            character: Arc::clone(&character),
        });
        let list = SPlayerList::decode(&b.frames()[0].1).expect("valid S_PlayerList");
        let me = list.players.iter().find(|p| p.is_self).expect("itself");
        assert_eq!((me.pos_x, me.pos_z), (7.0, -3.0));
        room.flush();
        let enter = a
            .frames()
            .into_iter()
            .filter(|(id, _)| *id == ENTER)
            .filter_map(|(_, body)| SBroadcastEnterGame::decode(&body).ok())
            .find(|e| e.player_id == 2)
            .expect("the character's enter broadcast");
        assert_eq!((enter.pos_x, enter.pos_z), (7.0, -3.0));
        room.run(RoomJob::Move {
            player_id: 2,
            pos: [8.0, 0.0, -3.0],
        });
        assert_eq!(character.state().pos, [8.0, 0.0, -3.0]);
        assert_eq!(character.state().version, 5);
        assert_eq!(room.position(2), Some([8.0, 0.0, -3.0]));
    }

    #[test]
    fn a_rebound_player_gets_the_list_on_its_new_connection_and_the_others_see_nothing() {
        let mut room = room();
        let (a, b, b2) = (Inbox::default(), Inbox::default(), Inbox::default());
        room.run(RoomJob::Enter {
            player_id: 1,
            outbox: a.clone(),
        });
        room.run(RoomJob::Enter {
            player_id: 2,
            outbox: b.clone(),
        });
        room.run(RoomJob::Move {
            player_id: 2,
            pos: [5.0, 0.0, 5.0],
        });
        room.flush();
        let seen_by_a = a.frames().len();
        let seen_by_b = b.frames().len();
        room.run(RoomJob::Move {
            player_id: 1,
            pos: [1.0, 0.0, 1.0],
        });
        room.run(RoomJob::Rebind {
            player_id: 2,
            outbox: b2.clone(),
        });
        room.run(RoomJob::Move {
            player_id: 1,
            pos: [2.0, 0.0, 2.0],
        });
        room.flush();
        let frames = b2.frames();
        let list = SPlayerList::decode(&frames[0].1).expect("the list first");
        let me = list.players.iter().find(|p| p.is_self).expect("itself");
        assert_eq!((me.player_id, me.pos_x), (2, 5.0), "same id, same place");
        let moves: Vec<f32> = frames[1..]
            .iter()
            .map(|(id, body)| {
                assert_eq!(*id, MOVE, "only what came after the list");
                SBroadcastMove::decode(body).expect("move").pos_x
            })
            .collect();
        assert_eq!(
            moves,
            [2.0],
            "the move before the rebind is in the list already"
        );
        let ids: Vec<u16> = a.frames()[seen_by_a..].iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [MOVE, MOVE], "no leave, no enter for the others");
        assert_eq!(
            b.frames().len(),
            seen_by_b,
            "the old connection gets nothing more"
        );
    }

    #[test]
    fn newcomer_gets_the_list_with_itself_flagged_then_the_enter_broadcast() {
        let mut room = room();
        let (a, b) = (Inbox::default(), Inbox::default());
        room.run(RoomJob::Enter {
            player_id: 1,
            outbox: a.clone(),
        });
        room.run(RoomJob::Move {
            player_id: 1,
            pos: [3.0, 0.0, 4.0],
        });
        room.flush();
        room.run(RoomJob::Enter {
            player_id: 2,
            outbox: b.clone(),
        });
        let frames = b.frames();
        assert_eq!(
            frames.len(),
            1,
            "the list is sent at once, broadcasts wait for the tick"
        );
        let list = SPlayerList::decode(&frames[0].1).expect("valid S_PlayerList");
        let mut players = list.players.clone();
        players.sort_by_key(|p| p.player_id);
        assert_eq!(players.len(), 2);
        assert!(!players[0].is_self && players[0].pos_x == 3.0 && players[0].pos_z == 4.0);
        assert!(players[1].is_self, "the newcomer is flagged isSelf");
        room.flush();
        assert_eq!(b.ids(), vec![LIST, ENTER]);
        assert_eq!(
            a.ids(),
            vec![LIST, ENTER, MOVE, ENTER],
            "the first player sees everything in order"
        );
    }

    #[test]
    fn broadcasts_wait_for_the_flush_and_go_out_as_one_shared_batch() {
        let mut room = room();
        let inboxes: Vec<Inbox> = (0..3).map(|_| Inbox::default()).collect();
        for (i, inbox) in inboxes.iter().enumerate() {
            room.run(RoomJob::Enter {
                player_id: i as i32 + 1,
                outbox: inbox.clone(),
            });
        }
        room.flush();
        let before: Vec<usize> = inboxes.iter().map(Inbox::batches).collect();
        for step in 0..10 {
            room.run(RoomJob::Move {
                player_id: 1,
                pos: [step as f32, 0.0, 0.0],
            });
        }
        assert_eq!(
            inboxes.iter().map(Inbox::batches).collect::<Vec<_>>(),
            before,
            "nothing sent before the tick"
        );
        room.flush();
        let batches: Vec<Bytes> = inboxes
            .iter()
            .map(|i| i.0.lock().expect("inbox").last().cloned().expect("a batch"))
            .collect();
        assert_eq!(
            batches[0].len(),
            10 * 20,
            "ten 20-byte S_BroadcastMove frames in one batch"
        );
        for b in &batches[1..] {
            assert_eq!(
                b.as_ptr(),
                batches[0].as_ptr(),
                "every player gets the same shared bytes"
            );
        }
        let moves: Vec<f32> = inboxes[2]
            .frames()
            .into_iter()
            .filter(|(id, _)| *id == MOVE)
            .map(|(_, body)| SBroadcastMove::decode(&body).expect("valid move").pos_x)
            .collect();
        assert_eq!(
            moves,
            (0..10).map(|s| s as f32).collect::<Vec<_>>(),
            "moves arrive in order"
        );
    }

    #[test]
    fn a_newcomer_gets_nothing_from_before_it_entered() {
        let mut room = room();
        let (a, b, c) = (Inbox::default(), Inbox::default(), Inbox::default());
        // All within one tick: A enters and moves, B enters, A moves again, C enters.
        room.run(RoomJob::Enter {
            player_id: 1,
            outbox: a.clone(),
        });
        room.run(RoomJob::Move {
            player_id: 1,
            pos: [1.0, 0.0, 0.0],
        });
        room.run(RoomJob::Enter {
            player_id: 2,
            outbox: b.clone(),
        });
        room.run(RoomJob::Move {
            player_id: 1,
            pos: [2.0, 0.0, 0.0],
        });
        room.run(RoomJob::Enter {
            player_id: 3,
            outbox: c.clone(),
        });
        room.flush();
        assert_eq!(
            a.ids(),
            vec![LIST, ENTER, MOVE, ENTER, MOVE, ENTER],
            "A was there for all of it"
        );
        assert_eq!(
            b.ids(),
            vec![LIST, ENTER, MOVE, ENTER],
            "B's list already had A at x=1: B gets its own enter, A's second move and C's enter"
        );
        assert_eq!(
            c.ids(),
            vec![LIST, ENTER],
            "C's list had everyone: only its own enter follows"
        );
        // The next tick is the same for everyone.
        room.run(RoomJob::Move {
            player_id: 2,
            pos: [5.0, 0.0, 0.0],
        });
        room.flush();
        for (name, inbox) in [("A", &a), ("B", &b), ("C", &c)] {
            assert_eq!(
                inbox.ids().last(),
                Some(&MOVE),
                "{name} sees the next tick's move"
            );
        }
    }

    #[test]
    fn leave_is_broadcast_exactly_once() {
        let mut room = room();
        let (a, b) = (Inbox::default(), Inbox::default());
        room.run(RoomJob::Enter {
            player_id: 1,
            outbox: a.clone(),
        });
        room.run(RoomJob::Enter {
            player_id: 2,
            outbox: b,
        });
        room.run(RoomJob::Leave { player_id: 2 });
        room.run(RoomJob::Leave { player_id: 2 });
        room.run(RoomJob::Move {
            player_id: 2,
            pos: [1.0; 3],
        });
        room.flush();
        let leaves = a.ids().iter().filter(|&&id| id == LEAVE).count();
        assert_eq!(
            leaves, 1,
            "C_LeaveGame then disconnect must broadcast one leave"
        );
        assert_eq!(room.player_count(), 1);
        assert_eq!(
            room.position(2),
            None,
            "a move after leaving does not bring the player back"
        );
    }

    #[test]
    fn a_huge_room_splits_the_player_list() {
        let mut room = room();
        for id in 1..=(PLAYERS_PER_LIST as i32 + 10) {
            room.run(RoomJob::Enter {
                player_id: id,
                outbox: Inbox::default(),
            });
        }
        let last = Inbox::default();
        room.run(RoomJob::Enter {
            player_id: 0,
            outbox: last.clone(),
        });
        let lists: Vec<SPlayerList> = last
            .frames()
            .into_iter()
            .map(|(_, body)| SPlayerList::decode(&body).expect("each part is a valid list"))
            .collect();
        assert_eq!(lists.len(), 2);
        let total: usize = lists.iter().map(|l| l.players.len()).sum();
        assert_eq!(total, PLAYERS_PER_LIST + 11);
        let selves = lists
            .iter()
            .flat_map(|l| &l.players)
            .filter(|p| p.is_self)
            .count();
        assert_eq!(
            selves, 1,
            "the newcomer appears exactly once, flagged isSelf"
        );
    }

    #[test]
    fn deliveries_are_counted_by_type_exactly_as_sent() {
        let stats = Arc::new(RoomStats::default());
        let mut room: GameRoom<Inbox> = GameRoom::new(1 << 20, Arc::clone(&stats));
        let inboxes: Vec<Inbox> = (0..3).map(|_| Inbox::default()).collect();
        room.run(RoomJob::Enter {
            player_id: 1,
            outbox: inboxes[0].clone(),
        });
        room.flush();
        room.run(RoomJob::Move {
            player_id: 1,
            pos: [1.0, 0.0, 1.0],
        });
        // Two newcomers mid-tick: each skips what its list already described.
        for (i, inbox) in inboxes.iter().enumerate().skip(1) {
            room.run(RoomJob::Enter {
                player_id: i as i32 + 1,
                outbox: inbox.clone(),
            });
        }
        room.flush();
        let received: usize = inboxes.iter().map(|i| i.frames().len()).sum();
        let counted: u64 = stats.sent.totals().iter().map(|&(_, p, _)| p).sum();
        assert_eq!(
            counted as usize, received,
            "every frame received is counted once"
        );
        assert_eq!(counted, stats.packets_out.load(Ordering::Relaxed));
        assert_eq!(
            stats.flush_duration.snapshot().count(),
            2,
            "both flushes timed"
        );
    }

    #[test]
    fn the_map_sees_every_player_where_it_last_moved() {
        let mut room = room();
        for id in 1..=3 {
            room.run(RoomJob::Enter {
                player_id: id,
                outbox: Inbox::default(),
            });
        }
        room.run(RoomJob::Move {
            player_id: 2,
            pos: [10.0, 5.0, -20.0],
        });
        let mut dots = Vec::new();
        room.sample(100, &mut dots);
        dots.sort_by_key(|d| d.0);
        assert_eq!(room.player_count(), 3);
        assert_eq!(
            dots,
            vec![
                MapDot(1, 0.0, 0.0),
                MapDot(2, 10.0, -20.0),
                MapDot(3, 0.0, 0.0)
            ],
            "x and z, not y"
        );
        let mut few = Vec::new();
        room.sample(1, &mut few);
        assert_eq!(few.len(), 1, "never more dots than asked");
    }

    #[test]
    fn pending_list_is_bounded_by_an_early_flush() {
        let mut room: GameRoom<Inbox> = GameRoom::new(100, Arc::default());
        let a = Inbox::default();
        room.run(RoomJob::Enter {
            player_id: 1,
            outbox: a.clone(),
        });
        for _ in 0..20 {
            room.run(RoomJob::Move {
                player_id: 1,
                pos: [0.0; 3],
            });
        }
        assert!(
            room.pending_bytes < 100,
            "pending bytes stay under the bound"
        );
        assert!(a.batches() > 1, "the bound flushed early");
    }

    #[test]
    fn a_udp_receiver_gets_moves_on_its_udp_outbox_and_the_rest_on_its_main_one() {
        let mut room = room();
        let (a, a_udp, b) = (Inbox::default(), Inbox::default(), Inbox::default());
        room.run(RoomJob::Enter {
            player_id: 1,
            outbox: a.clone(),
        });
        room.run(RoomJob::Enter {
            player_id: 2,
            outbox: b.clone(),
        });
        room.flush();
        room.run(RoomJob::UdpMoves {
            player_id: 1,
            outbox: Some(a_udp.clone()),
        });
        room.run(RoomJob::Move {
            player_id: 2,
            pos: [1.0, 0.0, 0.0],
        });
        room.run(RoomJob::Chat {
            player_id: 2,
            message: "hi".into(),
        });
        room.run(RoomJob::Move {
            player_id: 1,
            pos: [2.0, 0.0, 0.0],
        });
        room.flush();
        assert_eq!(
            a_udp.ids(),
            vec![MOVE, MOVE],
            "both moves of the tick, over UDP, in order"
        );
        assert_eq!(
            a.ids(),
            vec![LIST, ENTER, ENTER, CHAT],
            "the chat line stays on TCP, and no move comes there"
        );
        assert_eq!(
            b.ids(),
            vec![LIST, ENTER, MOVE, CHAT, MOVE],
            "a TCP player gets the tick as before"
        );
        room.run(RoomJob::UdpMoves {
            player_id: 1,
            outbox: None,
        });
        room.run(RoomJob::Move {
            player_id: 2,
            pos: [3.0, 0.0, 0.0],
        });
        room.flush();
        assert_eq!(
            a.ids().last(),
            Some(&MOVE),
            "unbound: moves are back on TCP"
        );
        assert_eq!(a_udp.ids().len(), 2, "and no longer on UDP");
        assert_eq!(room.udp_receivers, 0);
    }

    #[test]
    fn a_udp_receiver_that_leaves_is_no_longer_counted() {
        let mut room = room();
        room.run(RoomJob::Enter {
            player_id: 1,
            outbox: Inbox::default(),
        });
        room.run(RoomJob::UdpMoves {
            player_id: 1,
            outbox: Some(Inbox::default()),
        });
        room.run(RoomJob::UdpMoves {
            player_id: 9,
            outbox: Some(Inbox::default()),
        });
        assert_eq!(room.udp_receivers, 1, "a player not in the room is ignored");
        room.run(RoomJob::Leave { player_id: 1 });
        assert_eq!(room.udp_receivers, 0);
    }

    #[test]
    fn a_newcomer_bound_before_its_first_flush_gets_that_flushs_moves_over_udp() {
        let mut room = room();
        let (a, b, b_udp) = (Inbox::default(), Inbox::default(), Inbox::default());
        room.run(RoomJob::Enter {
            player_id: 1,
            outbox: a.clone(),
        });
        room.run(RoomJob::Move {
            player_id: 1,
            pos: [1.0, 0.0, 0.0],
        });
        room.run(RoomJob::Enter {
            player_id: 2,
            outbox: b.clone(),
        });
        room.run(RoomJob::UdpMoves {
            player_id: 2,
            outbox: Some(b_udp.clone()),
        });
        room.run(RoomJob::Move {
            player_id: 1,
            pos: [2.0, 0.0, 0.0],
        });
        room.flush();
        let over_udp: Vec<f32> = b_udp
            .frames()
            .into_iter()
            .map(|(_, body)| SBroadcastMove::decode(&body).expect("a move").pos_x)
            .collect();
        assert_eq!(
            over_udp,
            vec![2.0],
            "only the move after its enter (its list had x = 1), over UDP"
        );
        assert_eq!(
            b.ids(),
            vec![LIST, ENTER],
            "its list, then its own enter, over TCP"
        );
        assert_eq!(a.ids(), vec![LIST, ENTER, MOVE, ENTER, MOVE]);
    }
}
