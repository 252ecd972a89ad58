//! A player taking its character back over a new connection (a login within the reconnect
//! grace): nobody else sees anything, and the new connection is told the world as it is.
//!
//! 1. The session swaps the player's link in the directory and sends `PlayerInput::Rejoin`,
//!    numbered like any input, so it reaches the owner whatever hand-off is under way.
//! 2. The owner ([`Region::rejoin`]) sends what it still had queued for the old connection to
//!    the old link (it is lost with it), takes the new link, sends the new connection its
//!    player list (itself and the owner's players it sees), and then tells every other
//!    region (`RegionMsg::Rejoin`, after the list, so nothing of theirs can come first).
//! 3. Each other region ([`Region::rejoined_elsewhere`]) does the same with its own queue and
//!    link, then sends the new connection a spawn of each of its own players it sees.
//! 4. For a while after (`REJOIN_RECENT_FLUSHES`), a player handed here is shown to each
//!    rejoined player that sees it ([`Region::tell_rejoined`]): the region that handed it on
//!    may not have switched when it did, so the new connection may never have been shown it.
//!
//! Why nothing else is needed: every region's queue gets the owner's `Rejoin` before
//! anything a region that has switched sends it afterwards (one FIFO per pair of regions, and
//! the owner sends to all at once). So a region that has not switched yet never holds a
//! player that a switched region showed the new connection: whatever it says to the old link
//! (lost) is about players the new connection was never shown. What is left is order between
//! regions, not content: the new connection can be shown a player twice (by its old owner
//! and by the new one) or hear of one first as a move (from a region that found the new link
//! in the directory before it switched). Its link passes what it gets through a `ViewFilter`
//! (`game/world/view_filter.rs`), which keeps that a well-formed stream.

use std::sync::atomic::Ordering;

use super::{Directory, PlayerLink, Region};
use crate::game::packets::{Player, SBroadcastEnterGame};
use crate::game::world::message::RegionMsg;

/// Flushes (ticks) a rejoin stays recent for hand-offs: a hand-off is sent and taken within
/// a few; 256 ticks is over ten seconds at the default rate.
const REJOIN_RECENT_FLUSHES: u64 = 256;
/// Recent rejoins a region remembers at most (the oldest is forgotten first).
const REJOIN_RECENT_MAX: usize = 4096;

impl<L: PlayerLink, D: Directory<L>> Region<L, D> {
    /// The owner's side (step 2).
    pub(super) fn rejoin(&mut self, player_id: i32) {
        let Some(p) = self.interest.pos(player_id) else {
            return;
        };
        self.flush_one(player_id);
        let Some(link) = self.directory.find(player_id) else {
            return; // gone again: its leave follows
        };
        self.links.insert(player_id, link.clone());
        let y = self.y_of(player_id);
        let mut list = vec![Player {
            is_self: true,
            player_id,
            pos_x: p.x,
            pos_y: y,
            pos_z: p.z,
        }];
        let seen: Vec<i32> = self.interest.watching(player_id).collect();
        for &target in &seen {
            if target < 0 {
                continue; // a monster: shown after the list, below
            }
            if let (true, Some(tp)) = (target != player_id, self.interest.pos(target)) {
                list.push(Player {
                    is_self: false,
                    player_id: target,
                    pos_x: tp.x,
                    pos_y: self.y_of(target),
                    pos_z: tp.z,
                });
            }
        }
        self.send_list(player_id, &link, &list);
        for target in seen.into_iter().filter(|&t| t < 0) {
            self.show_monster(player_id, target);
        }
        let from = self.id;
        self.tell_others(|| RegionMsg::Rejoin { from, player_id });
        self.remember_rejoin(player_id);
    }

    /// Another region's side (step 3).
    pub(super) fn rejoined_elsewhere(&mut self, player_id: i32) {
        if self.gone.contains(&player_id) {
            return;
        }
        self.flush_one(player_id);
        let Some(link) = self.directory.find(player_id) else {
            return;
        };
        self.links.insert(player_id, link);
        let seen: Vec<i32> = self.interest.watching(player_id).collect();
        for target in seen {
            self.show(player_id, target);
        }
        self.remember_rejoin(player_id);
    }

    /// A player was handed here (step 4): each recent rejoiner that sees it is shown it.
    pub(super) fn tell_rejoined(&mut self, target: i32) {
        let rejoined: Vec<i32> = self.rejoined.iter().map(|&(id, _)| id).collect();
        for watcher in rejoined {
            if watcher != target && self.interest.sees(watcher, target) {
                self.show(watcher, target);
            }
        }
    }

    /// Queues for `watcher` a spawn of `target` (a player, or a monster's key) where it
    /// stands.
    fn show(&mut self, watcher: i32, target: i32) {
        if target < 0 {
            self.show_monster(watcher, target);
            return;
        }
        let Some(p) = self.interest.pos(target) else {
            return;
        };
        let frame = self.batch.encode(&SBroadcastEnterGame {
            player_id: target,
            pos_x: p.x,
            pos_y: self.y_of(target),
            pos_z: p.z,
        });
        if let Some(frame) = frame {
            self.stats.rejoin_spawns.fetch_add(1, Ordering::Relaxed);
            self.batch.queue(watcher, frame);
        }
    }

    fn remember_rejoin(&mut self, player_id: i32) {
        self.rejoined.retain(|&(id, _)| id != player_id);
        self.rejoined.push_back((player_id, self.flushes));
        if self.rejoined.len() > REJOIN_RECENT_MAX {
            self.rejoined.pop_front();
        }
    }

    pub(super) fn forget_old_rejoins(&mut self) {
        while self
            .rejoined
            .front()
            .is_some_and(|&(_, at)| self.flushes - at > REJOIN_RECENT_FLUSHES)
        {
            self.rejoined.pop_front();
        }
    }
}
