//! The region-to-region side of a [`Region`]: keeping neighbours' ghosts current, handing a
//! player that crossed a border to its new owner, and taking one over.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use server_core::Packet;

use super::{Directory, Forward, Ghost, Outgoing, Owned, PlayerLink, Region, Route};
use crate::game::packets::SBroadcastLeaveGame;
use crate::game::world::geometry::{has_region, region_bit, Pos, RegionId};
use crate::game::world::message::RegionMsg;

impl<L: PlayerLink, D: Directory<L>> Region<L, D> {
    /// Tells every region near the player where it is, and those it moved away from to
    /// forget it.
    pub(super) fn sync_ghosts(&mut self, player_id: i32) {
        let (Some(p), Some(owned)) = (self.interest.pos(player_id), self.owned.get(&player_id))
        else {
            return;
        };
        let (y, seq, mut ghosted_to) = (owned.y, owned.last_seq, owned.ghosted_to);
        for r in 0..self.layout.regions() as RegionId {
            if r == self.id {
                continue;
            }
            let bit = region_bit(r);
            let d = self.layout.distance_to_stripe(p.x, r);
            let update = RegionMsg::GhostUpdate {
                from: self.id,
                player_id,
                seq,
                pos: [p.x, y, p.z],
            };
            if ghosted_to & bit != 0 {
                if d > self.band_out {
                    ghosted_to &= !bit;
                    self.send_msg(
                        r,
                        RegionMsg::GhostRemove {
                            from: self.id,
                            player_id,
                            seq,
                        },
                    );
                } else {
                    self.send_msg(r, update);
                }
            } else if d <= self.band {
                ghosted_to |= bit;
                self.send_msg(r, update);
            }
        }
        if let Some(owned) = self.owned.get_mut(&player_id) {
            owned.ghosted_to = ghosted_to;
        }
    }

    pub(super) fn hand_off(&mut self, player_id: i32, to: RegionId) {
        let (Some(p), Some(owned)) = (self.interest.pos(player_id), self.owned.remove(&player_id))
        else {
            return;
        };
        self.room_stats.players.fetch_sub(1, Ordering::Relaxed);
        self.stats.handoffs.fetch_add(1, Ordering::Relaxed);
        // Everything about the player queued here goes out now, before anything its new
        // owner sends about it.
        let mut recipients: Vec<i32> = self.interest.watchers(player_id).collect();
        recipients.push(player_id);
        recipients.extend(self.pending_despawns.remove(&player_id).unwrap_or_default());
        for r in recipients {
            self.flush_one(r);
        }
        let watchers = self.interest.release(player_id);
        let mut ghosted_to = owned.ghosted_to & !region_bit(to);
        if self.layout.distance_to_stripe(p.x, self.id) <= self.band {
            ghosted_to |= region_bit(self.id);
            self.ghosts.insert(
                player_id,
                Ghost {
                    y: owned.y,
                    seq: owned.last_seq,
                    owner: to,
                },
            );
        } else {
            // Jumped far past the border (only with a step limit wider than the band).
            self.interest.remove(player_id, &mut self.changes);
            self.apply_changes(None);
            self.flush_one(player_id);
            self.links.remove(&player_id);
        }
        self.send_msg(
            to,
            RegionMsg::Handoff {
                from: self.id,
                player_id,
                pos: [p.x, owned.y, p.z],
                next_seq: owned.next_seq,
                watchers,
                ghosted_to,
            },
        );
        for (seq, input) in owned.held {
            self.send_msg(
                to,
                RegionMsg::ForwardInput {
                    from: self.id,
                    player_id,
                    seq,
                    input,
                },
            );
        }
        self.forwarded.insert(
            player_id,
            Forward {
                to,
                came_from: owned.came_from,
            },
        );
        if let Some(link) = self
            .links
            .get(&player_id)
            .cloned()
            .or_else(|| self.directory.find(player_id))
        {
            let route = Route {
                to,
                from: self.id,
                seq: owned.next_seq,
            };
            self.outgoing.push(Outgoing::Route(link, route));
        }
    }
    /// Whether region `from` may forward `player_id`'s inputs or leave here: only the region
    /// that handed the player here (or, once it was handed on from here, the region that
    /// had handed it here, whose late forwards are passed on). Anything else is refused:
    /// one region must not move, chat as or remove another region's player.
    fn may_forward(&self, from: RegionId, player_id: i32) -> bool {
        if let Some(owned) = self.owned.get(&player_id) {
            return has_region(owned.came_from, from);
        }
        if let Some(forward) = self.forwarded.get(&player_id) {
            return has_region(forward.came_from, from);
        }
        // Not known here: applying it does nothing.
        true
    }

    fn refuse_peer(&self, what: &'static str, from: RegionId, player_id: i32) {
        let n = self.stats.peer_refused.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(
                region = self.id,
                from,
                player_id,
                refused_total = n,
                what,
                "refused a message from a region with no say over that player"
            );
        }
    }

    pub(super) fn peer(&mut self, msg: RegionMsg) {
        match msg {
            RegionMsg::ForwardInput {
                from, player_id, ..
            }
            | RegionMsg::ForwardLeave { from, player_id }
                if !self.may_forward(from, player_id) =>
            {
                self.refuse_peer("a forward", from, player_id);
            }
            RegionMsg::PlayerGone { from, player_id }
            | RegionMsg::Rejoin {
                from, player_id, ..
            } if self.owned.contains_key(&player_id) => {
                // Only its owner says a player is gone or back, and that is this region.
                self.refuse_peer("PlayerGone or Rejoin", from, player_id);
            }
            RegionMsg::Rejoin { player_id, .. } => self.rejoined_elsewhere(player_id),
            RegionMsg::GhostUpdate {
                from,
                player_id,
                seq,
                pos,
            } => self.ghost_update(from, player_id, seq, pos),
            RegionMsg::GhostRemove { player_id, seq, .. } => {
                if self.ghosts.get(&player_id).is_some_and(|g| seq >= g.seq) {
                    self.drop_ghost(player_id, false);
                }
            }
            RegionMsg::Handoff {
                from,
                player_id,
                pos,
                next_seq,
                watchers,
                ghosted_to,
            } => self.take_over(from, player_id, pos, next_seq, watchers, ghosted_to),
            RegionMsg::ForwardInput {
                player_id,
                seq,
                input,
                ..
            } => self.input(player_id, seq, input),
            RegionMsg::ForwardLeave { player_id, .. } => self.leave(player_id),
            RegionMsg::PlayerGone { player_id, .. } => {
                self.forwarded.remove(&player_id);
                if self.ghosts.contains_key(&player_id) {
                    self.drop_ghost(player_id, true);
                } else {
                    // A link kept for a rejoin's truth, for a player never a ghost here.
                    let _ = self.batch.take(player_id);
                    self.links.remove(&player_id);
                }
                self.bury(player_id);
            }
        }
    }

    pub(super) fn ghost_update(&mut self, from: RegionId, player_id: i32, seq: u64, pos: [f32; 3]) {
        if self.owned.contains_key(&player_id) || self.gone.contains(&player_id) {
            // A stale update from an old owner, or about a player who left.
            return;
        }
        let p = Pos {
            x: pos[0],
            z: pos[2],
        };
        match self.ghosts.get_mut(&player_id) {
            Some(ghost) if seq < ghost.seq => return,
            Some(ghost) => {
                ghost.seq = seq;
                ghost.y = pos[1];
                ghost.owner = from;
                self.interest.set_pos(player_id, p, &mut self.changes);
            }
            None => {
                // A player already disconnected has no link, but is still a ghost until its
                // PlayerGone: its owner may list it as a watcher in a hand-off meanwhile.
                if let Some(link) = self.directory.find(player_id) {
                    self.links.insert(player_id, link);
                }
                self.ghosts.insert(
                    player_id,
                    Ghost {
                        y: pos[1],
                        seq,
                        owner: from,
                    },
                );
                self.interest.insert(player_id, p, false, &mut self.changes);
            }
        }
        self.apply_changes(None);
    }

    pub(super) fn drop_ghost(&mut self, player_id: i32, gone: bool) {
        self.ghosts.remove(&player_id);
        self.interest.remove(player_id, &mut self.changes);
        self.apply_changes(gone.then_some(player_id));
        if gone {
            let _ = self.batch.take(player_id);
        } else {
            // Its despawns must reach it, so the link stays until they are sent.
            self.flush_one(player_id);
        }
        self.links.remove(&player_id);
    }

    pub(super) fn take_over(
        &mut self,
        from: RegionId,
        player_id: i32,
        pos: [f32; 3],
        next_seq: u64,
        watchers: Vec<i32>,
        ghosted_to: u64,
    ) {
        if self.owned.contains_key(&player_id) {
            // This region owns it: no other region can hand it here.
            self.refuse_peer("a hand-off of a player owned here", from, player_id);
            return;
        }
        if self.gone.contains(&player_id) {
            tracing::warn!(player_id, from, region = self.id, "hand-off ignored");
            return;
        }
        // A player is handed on only by its owner, and always from within the ghost band of
        // this region: the owner's ghost update reached this region before its hand-off (one
        // FIFO per pair of regions; across nodes the bridge pushes a lost node's NodeLost
        // before it accepts anything of that node's new epoch). Anything else would make a
        // second owner.
        if self.ghosts.get(&player_id).is_none_or(|g| g.owner != from) {
            self.refuse_peer("a hand-off", from, player_id);
            return;
        }
        // Back here after an earlier visit: the regions that handed it here then may still
        // forward its late inputs, as may the one handing it over now.
        let came_from = region_bit(from)
            | self
                .forwarded
                .remove(&player_id)
                .map_or(0, |forward| forward.came_from);
        let ghost = self.ghosts.remove(&player_id);
        let p = Pos {
            x: pos[0],
            z: pos[2],
        };
        if !self.links.contains_key(&player_id) {
            match self.directory.find(player_id) {
                Some(link) => {
                    self.links.insert(player_id, link);
                }
                None => tracing::debug!(player_id, "hand-off of a player already gone"),
            }
        }
        // Its session ended while the hand-off was on its way: the leave went to the old
        // owner (or was lost with a node), so this region, the owner now, lets it leave.
        let session_gone = self.links.get(&player_id).is_none_or(|l| l.is_gone());
        if !self.interest.contains(player_id) {
            self.interest.insert(player_id, p, false, &mut self.changes);
            self.apply_changes(None);
        }
        let unknown = self.interest.adopt(player_id, &watchers);
        for w in unknown {
            if self.gone.contains(&w) {
                // Left the world; its PlayerGone reached this region before the hand-off
                // that still listed it. Nothing to send.
                continue;
            }
            // Its old owner saw this watcher near, this region never heard of it: the only
            // safe answer is a despawn, which the rule undoes as soon as it is known here.
            self.stats.unknown_watchers.fetch_add(1, Ordering::Relaxed);
            if let Some(link) = self.directory.find(w) {
                if let Ok(frame) = (SBroadcastLeaveGame { player_id }).encode() {
                    self.stats.despawns.fetch_add(1, Ordering::Relaxed);
                    link.send(frame);
                }
            }
        }
        self.owned.insert(
            player_id,
            Owned {
                y: pos[1],
                next_seq,
                last_seq: next_seq.saturating_sub(1).max(ghost.map_or(0, |g| g.seq)),
                held: BTreeMap::new(),
                ghosted_to,
                came_from,
            },
        );
        self.room_stats.players.fetch_add(1, Ordering::Relaxed);
        self.interest.set_pos(player_id, p, &mut self.changes);
        self.apply_changes(None);
        self.tell_rejoined(player_id);
        self.sync_ghosts(player_id);
        if session_gone {
            self.leave(player_id);
        }
    }
}
