//! `ViewFilter`: keeps the stream of a player who took its character back (a reconnect within
//! the grace) well formed for its new connection. Sans-IO: batches of frames in, frames out.
//!
//! The new connection knows nothing, while the regions still hold the view the old one had.
//! On the rejoin each region sends it the truth about its own players (`region::rejoin`),
//! but the regions do so one after another, and a player handed between two of them in that
//! window can be described by one region that has switched to the new connection and not by
//! the other. So the frames of a rejoined player pass through this filter, which holds what
//! the client was told and rewrites what would break its view:
//!
//! - nothing goes out before the player list: frames that come first wait (at most
//!   [`PENDING_MAX`] bytes) and follow it;
//! - a spawn of a player the client already has becomes a move to that place, or nothing if
//!   the client has it there already;
//! - a move of a player it does not have becomes a spawn at that place;
//! - a despawn of a player it does not have is dropped;
//! - a second player list (a second rejoin, or a rejoin that overtook the enter) becomes the
//!   spawns or moves of its entries;
//! - monsters likewise: a second `S_MonsterSpawn` of one the client has becomes a move (its
//!   hit points cannot have changed unseen: every change goes through one region, in
//!   order), and a move or despawn of one it does not have is dropped (only the region that
//!   owns a monster speaks of it, and it spawns it on this connection before anything
//!   else about it).
//!
//! So the client sees each player spawn before it moves, never twice, and never leave
//! unseen; the regions' truth on the rejoin, and after every hand-off in the window, make
//! sure it ends up seeing exactly who the world says it sees.

use bytes::{BufMut, Bytes, BytesMut};
use rustc_hash::{FxHashMap, FxHashSet};
use server_core::frame::parse_header;
use server_core::Packet;

use crate::game::packets::{
    PacketId, SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove, SMonsterDespawn,
    SMonsterMove, SMonsterSpawn, SPlayerList,
};

/// Bytes that may wait for the player list. The rejoining region sends its list before it
/// tells the others, so only a few frames can ever come first; past this the connection is
/// given up (the client logs in again).
pub const PENDING_MAX: usize = 1 << 20;

/// More than [`PENDING_MAX`] bytes came before the player list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} bytes for a rejoined player before its player list")]
pub struct FilterOverflow(pub usize);

/// What a rejoined player's client was told: see the module.
#[derive(Debug, Default)]
pub struct ViewFilter {
    /// The players the client has, where it last heard they are.
    known: FxHashMap<i32, [f32; 3]>,
    /// The monsters the client has.
    monsters: FxHashSet<i32>,
    listed: bool,
    pending: Vec<Bytes>,
    pending_bytes: usize,
}

impl ViewFilter {
    /// A filter for a client that was told nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the player list has gone out.
    pub fn listed(&self) -> bool {
        self.listed
    }

    /// Whether the client has player `id` in view.
    pub fn knows(&self, id: i32) -> bool {
        self.known.contains_key(&id)
    }

    /// Passes one batch of whole frames: what to send now (`None`: nothing).
    pub fn pass(&mut self, batch: Bytes) -> Result<Option<Bytes>, FilterOverflow> {
        let mut out = BytesMut::with_capacity(batch.len());
        if !self.listed {
            if !frames(&batch).any(|(id, _)| id == PacketId::SPlayerList as u16) {
                self.pending_bytes += batch.len();
                self.pending.push(batch);
                if self.pending_bytes > PENDING_MAX {
                    return Err(FilterOverflow(self.pending_bytes));
                }
                return Ok(None);
            }
            // The list goes first, then everything that waited and the rest, in order.
            self.pending.push(batch);
            let waiting = std::mem::take(&mut self.pending);
            self.pending_bytes = 0;
            let mut list_done = false;
            for b in &waiting {
                for (id, frame) in frames(b) {
                    if !list_done && id == PacketId::SPlayerList as u16 {
                        self.rewrite(id, frame, &mut out);
                        list_done = true;
                    }
                }
            }
            self.listed = true;
            let mut skipped_list = false;
            for b in &waiting {
                for (id, frame) in frames(b) {
                    if !skipped_list && id == PacketId::SPlayerList as u16 {
                        skipped_list = true;
                        continue;
                    }
                    self.rewrite(id, frame, &mut out);
                }
            }
        } else {
            for (id, frame) in frames(&batch) {
                self.rewrite(id, frame, &mut out);
            }
        }
        Ok((!out.is_empty()).then(|| out.freeze()))
    }

    /// Writes `frame` (packet `id`) to `out` as the client's view allows.
    fn rewrite(&mut self, id: u16, frame: &[u8], out: &mut BytesMut) {
        let body = &frame[server_core::frame::HEADER_SIZE..];
        match PacketId::from_u16(id) {
            Some(PacketId::SPlayerList) => match SPlayerList::decode(body) {
                Ok(list) if self.known.is_empty() => {
                    self.known = list
                        .players
                        .iter()
                        .map(|p| (p.player_id, [p.pos_x, p.pos_y, p.pos_z]))
                        .collect();
                }
                Ok(list) => {
                    for p in &list.players {
                        self.spawn(p.player_id, [p.pos_x, p.pos_y, p.pos_z], out);
                    }
                    return;
                }
                Err(_) => {}
            },
            Some(PacketId::SBroadcastEnterGame) => {
                if let Ok(p) = SBroadcastEnterGame::decode(body) {
                    return self.spawn(p.player_id, [p.pos_x, p.pos_y, p.pos_z], out);
                }
            }
            Some(PacketId::SBroadcastMove) => {
                if let Ok(p) = SBroadcastMove::decode(body) {
                    let at = [p.pos_x, p.pos_y, p.pos_z];
                    if self.known.insert(p.player_id, at).is_none() {
                        return put(out, &enter(p.player_id, at));
                    }
                }
            }
            Some(PacketId::SBroadcastLeaveGame) => match SBroadcastLeaveGame::decode(body) {
                Ok(p) if self.known.remove(&p.player_id).is_none() => return, // never seen
                _ => {}
            },
            Some(PacketId::SMonsterSpawn) => {
                if let Ok(p) = SMonsterSpawn::decode(body) {
                    if !self.monsters.insert(p.monster_id) {
                        let moved = SMonsterMove {
                            monster_id: p.monster_id,
                            pos_x: p.pos_x,
                            pos_z: p.pos_z,
                        };
                        return put(out, &moved.encode());
                    }
                }
            }
            Some(PacketId::SMonsterMove) => match SMonsterMove::decode(body) {
                Ok(p) if !self.monsters.contains(&p.monster_id) => return,
                _ => {}
            },
            Some(PacketId::SMonsterDespawn) => match SMonsterDespawn::decode(body) {
                Ok(p) if !self.monsters.remove(&p.monster_id) => return,
                _ => {}
            },
            _ => {}
        }
        out.put_slice(frame);
    }

    /// A spawn of `id` at `at`: sent as is to a client without it, as a move to one that
    /// has it elsewhere, not at all to one that has it there.
    fn spawn(&mut self, id: i32, at: [f32; 3], out: &mut BytesMut) {
        match self.known.insert(id, at) {
            None => put(out, &enter(id, at)),
            Some(had) if same(had, at) => {}
            Some(_) => put(
                out,
                &SBroadcastMove {
                    player_id: id,
                    pos_x: at[0],
                    pos_y: at[1],
                    pos_z: at[2],
                }
                .encode(),
            ),
        }
    }
}

fn enter(id: i32, at: [f32; 3]) -> Result<Bytes, server_core::EncodeError> {
    SBroadcastEnterGame {
        player_id: id,
        pos_x: at[0],
        pos_y: at[1],
        pos_z: at[2],
    }
    .encode()
}

/// Appends an encoded frame (fixed-size packets always encode).
fn put(out: &mut BytesMut, frame: &Result<Bytes, server_core::EncodeError>) {
    if let Ok(frame) = frame {
        out.put_slice(frame);
    }
}

/// Positions compared by their bits: the same place, as sent.
fn same(a: [f32; 3], b: [f32; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// The frames of a batch the regions made (whole frames, each with its header), as (id,
/// frame). Stops at anything that is not a whole frame, which a region never makes.
fn frames(batch: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = batch;
    std::iter::from_fn(move || {
        let header = parse_header(rest, usize::from(u16::MAX)).ok()??;
        let (frame, tail) = rest.split_at(header.size);
        rest = tail;
        Some((header.id, frame))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::packets::Player;

    fn list(ids: &[i32]) -> Bytes {
        SPlayerList {
            players: ids
                .iter()
                .map(|&id| Player {
                    is_self: id == 1,
                    player_id: id,
                    pos_x: 0.0,
                    pos_y: 0.0,
                    pos_z: 0.0,
                })
                .collect(),
        }
        .encode()
        .expect("encodes")
    }

    fn enter(id: i32, x: f32) -> Bytes {
        SBroadcastEnterGame {
            player_id: id,
            pos_x: x,
            pos_y: 0.0,
            pos_z: 0.0,
        }
        .encode()
        .expect("encodes")
    }

    fn moved(id: i32, x: f32) -> Bytes {
        SBroadcastMove {
            player_id: id,
            pos_x: x,
            pos_y: 0.0,
            pos_z: 0.0,
        }
        .encode()
        .expect("encodes")
    }

    fn leave(id: i32) -> Bytes {
        SBroadcastLeaveGame { player_id: id }
            .encode()
            .expect("encodes")
    }

    fn batch(frames: &[Bytes]) -> Bytes {
        frames.concat().into()
    }

    #[test]
    fn frames_before_the_list_wait_for_it_and_follow_it() {
        let mut f = ViewFilter::new();
        assert_eq!(f.pass(batch(&[enter(7, 1.0)])), Ok(None));
        let out = f
            .pass(batch(&[moved(8, 2.0), list(&[1, 5]), moved(5, 3.0)]))
            .expect("fits")
            .expect("something to send");
        assert_eq!(
            out,
            batch(&[list(&[1, 5]), enter(7, 1.0), enter(8, 2.0), moved(5, 3.0)]),
            "the list first; then a move of one it lacks becomes a spawn"
        );
        assert!(f.knows(7) && f.knows(8) && f.knows(5) && f.knows(1));
    }

    #[test]
    fn a_second_spawn_becomes_a_move_and_an_unknown_despawn_is_dropped() {
        let mut f = ViewFilter::new();
        f.pass(list(&[1])).expect("fits");
        let out = f
            .pass(batch(&[
                enter(2, 1.0),
                enter(2, 1.0),
                enter(2, 4.0),
                leave(3),
                leave(2),
                leave(2),
            ]))
            .expect("fits")
            .expect("something");
        assert_eq!(
            out,
            batch(&[enter(2, 1.0), moved(2, 4.0), leave(2)]),
            "a spawn where it is already is nothing"
        );
        assert_eq!(f.pass(leave(9)), Ok(None), "nothing left to send");
        assert!(!f.knows(2));
    }

    #[test]
    fn a_monster_shown_twice_is_moved_and_one_never_shown_is_not_spoken_of() {
        let spawn = |id: i32, x: f32| {
            SMonsterSpawn {
                monster_id: id,
                kind: 2,
                pos_x: x,
                pos_z: 0.0,
                hp: 10,
                max_hp: 10,
            }
            .encode()
            .expect("encodes")
        };
        let step = |id: i32, x: f32| {
            SMonsterMove {
                monster_id: id,
                pos_x: x,
                pos_z: 0.0,
            }
            .encode()
            .expect("encodes")
        };
        let gone = |id: i32| {
            SMonsterDespawn { monster_id: id }
                .encode()
                .expect("encodes")
        };
        let mut f = ViewFilter::new();
        f.pass(list(&[1])).expect("fits");
        let out = f
            .pass(batch(&[
                step(4, 1.0),
                spawn(4, 1.0),
                spawn(4, 2.0),
                gone(5),
                gone(4),
                step(4, 3.0),
            ]))
            .expect("fits")
            .expect("something");
        assert_eq!(out, batch(&[spawn(4, 1.0), step(4, 2.0), gone(4)]));
    }

    #[test]
    fn a_second_list_becomes_spawns_and_moves_of_its_entries() {
        let mut f = ViewFilter::new();
        f.pass(list(&[1, 5])).expect("fits");
        f.pass(moved(5, 9.0)).expect("fits");
        let out = f.pass(list(&[1, 5, 6])).expect("fits").expect("something");
        assert_eq!(
            out,
            batch(&[moved(5, 0.0), enter(6, 0.0)]),
            "1 is where it was; 5 moved back; 6 is new"
        );
    }

    #[test]
    fn other_packets_pass_unchanged_and_too_much_before_the_list_is_refused() {
        let mut f = ViewFilter::new();
        f.pass(list(&[1])).expect("fits");
        let chat = crate::game::packets::SChat {
            player_id: 4,
            message: "hi".into(),
        }
        .encode()
        .expect("encodes");
        assert_eq!(f.pass(chat.clone()), Ok(Some(chat)));

        let mut f = ViewFilter::new();
        let big = batch(&vec![moved(3, 1.0); 1000]);
        let mut result = Ok(None);
        for _ in 0..=PENDING_MAX / big.len() {
            result = f.pass(big.clone());
        }
        assert!(matches!(result, Err(FilterOverflow(_))), "{result:?}");
    }
}
