//! [`NodeLease`]: this cluster node's lease in the shared database (`claims.rs` says what
//! it is for), and the task that renews it.
//!
//! The database holds the lease until `renewed_at_db + length`. This process counts its own
//! copy from *before* it sent the renewal, and shortens it by a tenth for clocks that run at
//! slightly different rates: so its copy always runs out first. From that moment each input
//! of a logged-in player is refused (`Accounts::may_play` reads the copy), so a process that
//! stalls past it and wakes applies nothing more; and a watch every [`WATCH`] closes the
//! node's logged-in sessions (`on_lapse`), also while a renewal is in flight. A renewal that
//! comes back after the copy ran out revives it only after `on_lapse` has run.
//! (`Instant` does not count a suspended host: a machine resumed from suspend keeps its copy
//! until the next renewal fails, like any clock running at another rate.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::store::Store;

/// How often the copy is looked at: its lapse closes the sessions within this.
pub const WATCH: Duration = Duration::from_millis(50);

/// How long a lease lasts and how often it is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Length of each renewal. A node that cannot reach the database for about this long
    /// closes its logged-in sessions; a node that stopped without ending its lease has its
    /// accounts taken over by others this long after its last renewal. Default 15 s.
    pub length: Duration,
    /// Time between renewals. Default 1 s.
    pub renew_every: Duration,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            length: Duration::from_secs(15),
            renew_every: Duration::from_secs(1),
        }
    }
}

/// What the renewal task asks and tells.
pub struct LeaseHooks {
    /// Whether to renew now (see [`NodeLease::spawn`]).
    pub may_renew: Arc<dyn Fn() -> bool + Send + Sync>,
    /// Run once each time the copy runs out: close the node's logged-in sessions.
    pub on_lapse: Arc<dyn Fn() + Send + Sync>,
}

/// This process's copy of its node's lease.
#[derive(Debug)]
pub struct NodeLease {
    born: Instant,
    /// Until when the copy holds, in ms since `born`; 0 before the first renewal.
    until_ms: AtomicU64,
    lapsed: AtomicBool,
    /// One more each time the copy runs out: a login that began under one epoch and ends
    /// under another was not covered by the lease all along, and is refused.
    epoch: AtomicU64,
    /// This process has never held its node's lease, or another process holds it (its take
    /// was refused): it says nothing on the bus, so it cannot race the holder's answers.
    usurped: AtomicBool,
}

impl Default for NodeLease {
    fn default() -> Self {
        NodeLease {
            born: Instant::now(),
            until_ms: AtomicU64::new(0),
            lapsed: AtomicBool::new(true),
            epoch: AtomicU64::new(0),
            // Until its first take passes, a process does not know whether another holds
            // the node's lease (its take may be on its way, or failing): silent meanwhile.
            usurped: AtomicBool::new(true),
        }
    }
}

impl NodeLease {
    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.born).as_millis() as u64
    }

    /// Whether the copy holds now. Cheap (a clock read and an atomic load): asked per input
    /// of a logged-in player.
    pub fn fresh(&self) -> bool {
        self.ms(Instant::now()) < self.until_ms.load(Ordering::Acquire)
    }

    /// Whether another process holds this node's lease (see the field).
    pub fn usurped(&self) -> bool {
        self.usurped.load(Ordering::Acquire)
    }

    /// The number of times the copy has run out so far (see the field).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// A renewal of `length` that was sent at `sent` succeeded.
    pub fn renewed(&self, sent: Instant, length: Duration) {
        let until = self.ms(sent) + (length.as_millis() as u64) * 9 / 10;
        self.until_ms.fetch_max(until, Ordering::AcqRel);
    }

    /// The database says the lease is gone (it ran out there, or another process took it):
    /// the copy runs out now.
    fn lost(&self) {
        self.until_ms.store(0, Ordering::Release);
    }

    /// Checks the copy: true exactly once each time it goes from held to run out (the caller
    /// then stops the node's players).
    fn lapsed_now(&self) -> bool {
        let fresh = self.fresh();
        let was_lapsed = self.lapsed.swap(!fresh, Ordering::AcqRel);
        let lapsed = !fresh && !was_lapsed;
        if lapsed {
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
        lapsed
    }

    /// Keeps the lease of `node` for this process (`instance`) in `store` until `stop`
    /// (then ends it in the database). Every `config.renew_every`:
    /// 1. if the copy has run out since the last look, `on_lapse` runs (before anything
    ///    can renew it: the node's players stop first);
    /// 2. while `may_renew` says so, the lease is renewed: *extended* while this process
    ///    holds it (only if it has not run out in the database), or *taken* when it does
    ///    not (only if nobody else holds it). An extension the database refuses means the
    ///    lease was lost: the copy runs out at once, and `on_lapse` runs.
    ///
    /// Between renewals, and while one is on its way, the copy is watched every [`WATCH`]:
    /// `on_lapse` runs as soon as it runs out.
    ///
    /// `may_renew` is false while the node is off the cluster's bus: it has closed its
    /// logged-in sessions and takes no login, so it lets the lease run out, and the other
    /// nodes, which cannot ask it, may then take its accounts over.
    pub fn spawn(
        self: &Arc<Self>,
        store: Store,
        node: u16,
        instance: u64,
        config: LeaseConfig,
        hooks: LeaseHooks,
        stop: CancellationToken,
    ) -> JoinHandle<()> {
        let LeaseHooks {
            may_renew,
            on_lapse,
        } = hooks;
        let lease = Arc::clone(self);
        // Generous: the copy counts from the send, so a slow answer costs nothing.
        let wait = config.renew_every.max(config.length / 5);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(config.renew_every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut held = false;
            let mut taken_logged = false;
            let mut watch = tokio::time::interval(WATCH);
            watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let lapse = |why: &str| {
                if lease.lapsed_now() {
                    tracing::warn!(
                        node,
                        why,
                        "node lease ran out: closing logged-in sessions, refusing logins"
                    );
                    on_lapse();
                }
            };
            'ticks: loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = watch.tick() => {
                        lapse("not renewed in time (the database is out of reach, or slow)");
                        continue;
                    }
                    _ = stop.cancelled() => break,
                }
                lapse("not renewed in time (the database is out of reach, or slow)");
                if !may_renew() {
                    continue;
                }
                let sent = Instant::now();
                let extend = held;
                let store = &store;
                let call = tokio::time::timeout(wait, async move {
                    if extend {
                        store.extend_lease(node, instance, config.length).await
                    } else {
                        store.take_lease(node, instance, config.length).await
                    }
                });
                tokio::pin!(call);
                let answer = loop {
                    tokio::select! {
                        answer = &mut call => break answer,
                        _ = watch.tick() => lapse("ran out while a renewal was on its way"),
                        _ = stop.cancelled() => {
                            // Let it finish (it is bounded): a take landing after the
                            // lease's end would leave a lease behind.
                            let _ = (&mut call).await;
                            break 'ticks;
                        }
                    }
                };
                match answer {
                    Ok(Ok(true)) => {
                        // Ran out while this renewal was on its way: the players stop first.
                        lapse("ran out while a renewal was on its way");
                        lease.renewed(sent, config.length);
                        lease.usurped.store(false, Ordering::Release);
                        held = true;
                        taken_logged = false;
                    }
                    Ok(Ok(false)) if held => {
                        held = false;
                        lease.lost();
                        lapse("it ran out in the database");
                    }
                    Ok(Ok(false)) => {
                        lease.usurped.store(true, Ordering::Release);
                        if !taken_logged {
                            tracing::error!(
                                node,
                                "another process holds this node's lease: a second process \
                                 running with this node id, or the last one stopped without \
                                 ending it (then it runs out within the lease's length). \
                                 Logins stay off here, and release questions go unanswered, \
                                 until this process holds it"
                            );
                            taken_logged = true;
                        }
                    }
                    Ok(Err(e)) => tracing::debug!(error = %e, "node lease not renewed"),
                    Err(_) => tracing::debug!("node lease renewal timed out"),
                }
            }
            let end = store.end_lease(node, instance);
            match tokio::time::timeout(wait, end).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "node lease not ended; it runs out by itself")
                }
                Err(_) => tracing::debug!("node lease end timed out; it runs out by itself"),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_counts_from_the_send_runs_out_first_and_lapses_once() {
        let lease = NodeLease::default();
        assert!(!lease.fresh(), "no lease before the first renewal");
        assert!(!lease.lapsed_now(), "never held: nothing to stop");
        let length = Duration::from_millis(200);
        lease.renewed(Instant::now(), length);
        assert!(lease.fresh());
        assert!(!lease.lapsed_now());
        // A renewal sent long ago (a slow answer) does not stretch the copy.
        lease.renewed(Instant::now() - Duration::from_millis(190), length);
        std::thread::sleep(Duration::from_millis(185)); // 9/10 of 200 ms
        assert!(!lease.fresh(), "a tenth short of the database's");
        let epoch = lease.epoch();
        assert!(lease.lapsed_now(), "runs out: stop the players");
        assert!(!lease.lapsed_now(), "once");
        assert_eq!(lease.epoch(), epoch + 1, "a login across it is refused");
        lease.renewed(Instant::now(), length);
        assert!(lease.fresh());
        assert!(!lease.lapsed_now());
        lease.lost();
        assert!(!lease.fresh(), "the database said it is gone");
        assert!(lease.lapsed_now());
    }
}
