//! What a region does when a process of the cluster is lost or (re)joins: the ghosts it held
//! for the lost regions go (with a despawn to each of this region's players that may have
//! seen them), the players whose sessions the lost process held leave, and on a (re)join
//! every owned player near a border is sent to its neighbours again.

use std::sync::atomic::Ordering;

use super::{Directory, PlayerLink, Region};
use crate::game::packets::SBroadcastLeaveGame;
use crate::game::player_ids::gateway_of;
use crate::game::world::geometry::has_region;

impl<L: PlayerLink, D: Directory<L>> Region<L, D> {
    pub(super) fn node_lost(&mut self, gateway: Option<u16>, regions: u64) {
        let lost: Vec<i32> = self
            .ghosts
            .iter()
            .filter(|(_, g)| 1u64.checked_shl(u32::from(g.owner)).unwrap_or(0) & regions != 0)
            .map(|(&id, _)| id)
            .collect();
        let band2 = self.band * self.band;
        for id in lost {
            // Who sees a ghost is known only to its owner, which is gone. Every owned player
            // within the ghost band may see it (the owner's view of them lagged by at most
            // the band's two steps), so each gets a despawn: a player that never saw it gets
            // a despawn of someone it does not know, which the course's client ignores.
            if let Some(p) = self.interest.pos(id) {
                let near: Vec<i32> = self
                    .owned
                    .keys()
                    .copied()
                    .filter(|w| self.interest.pos(*w).is_some_and(|wp| wp.dist2(p) <= band2))
                    .collect();
                if let Some(frame) = self.batch.encode(&SBroadcastLeaveGame { player_id: id }) {
                    for w in near {
                        self.stats.despawns.fetch_add(1, Ordering::Relaxed);
                        self.batch.queue(w, frame);
                    }
                }
            }
            // Not buried: after a NATS restart the same player comes back as a ghost with the
            // resync. Late messages of the lost owner cannot revive it: the bridge drops
            // anything sent in an epoch before the cut.
            self.drop_ghost(id, true);
        }
        if let Some(gateway) = gateway {
            let theirs: Vec<i32> = self
                .owned
                .keys()
                .copied()
                .filter(|&id| gateway_of(id) == gateway)
                .collect();
            for id in theirs {
                self.leave(id);
            }
        }
        self.forwarded
            .retain(|_, forward| !has_region(regions, forward.to));
        for owned in self.owned.values_mut() {
            owned.ghosted_to &= !regions;
        }
    }

    pub(super) fn resync(&mut self) {
        let ids: Vec<i32> = self.owned.keys().copied().collect();
        for id in ids {
            if let Some(owned) = self.owned.get_mut(&id) {
                owned.ghosted_to = 0;
            }
            self.sync_ghosts(id);
        }
    }
}
