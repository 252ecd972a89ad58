//! [`NodeLease`]: this cluster node's lease in the shared database (`claims.rs` says what
//! it is for), and the task that renews it.
//!
//! The database holds the lease until `renewed_at_db + length`. This process counts its own
//! copy from *before* it sent the renewal, and shortens it by a tenth for clocks that run at
//! slightly different rates: so its copy always runs out first, and a node whose copy has
//! run out has stopped its players (`on_lapse`) before any other node can take their
//! accounts over without asking. Each input of a logged-in player checks the copy
//! (`Accounts::may_play`), so a process that stalls past it and wakes applies nothing more.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::store::Store;

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
}

impl Default for NodeLease {
    fn default() -> Self {
        NodeLease {
            born: Instant::now(),
            until_ms: AtomicU64::new(0),
            lapsed: AtomicBool::new(true),
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

    /// A renewal of `length` that was sent at `sent` succeeded.
    pub fn renewed(&self, sent: Instant, length: Duration) {
        let until = self.ms(sent) + (length.as_millis() as u64) * 9 / 10;
        self.until_ms.fetch_max(until, Ordering::AcqRel);
    }

    /// Checks the copy: true exactly once each time it goes from held to run out (the caller
    /// then stops the node's players).
    fn lapsed_now(&self) -> bool {
        let fresh = self.fresh();
        let was_lapsed = self.lapsed.swap(!fresh, Ordering::AcqRel);
        !fresh && !was_lapsed
    }

    /// Renews the lease of `node` for this process (`instance`) in `store` every
    /// `config.renew_every` while `may_renew` says so, until `stop`; when the copy runs
    /// out, runs `on_lapse` once. At `stop`, ends the lease in the database.
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
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(config.renew_every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut taken_logged = false;
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop.cancelled() => break,
                }
                if !may_renew() {
                    if lease.lapsed_now() {
                        tracing::info!(node, "node lease let run out: this node is off the bus");
                        on_lapse();
                    }
                    continue;
                }
                let sent = Instant::now();
                let renewal = store.renew_lease(node, instance, config.length);
                match tokio::time::timeout(
                    config.renew_every.max(Duration::from_millis(500)),
                    renewal,
                )
                .await
                {
                    Ok(Ok(true)) => {
                        lease.renewed(sent, config.length);
                        taken_logged = false;
                    }
                    Ok(Ok(false)) => {
                        if !taken_logged {
                            tracing::error!(
                                node,
                                "another process holds this node's lease: is a second process \
                                 running with this node id? Logins stay off here until it ends"
                            );
                            taken_logged = true;
                        }
                    }
                    Ok(Err(e)) => tracing::debug!(error = %e, "node lease not renewed"),
                    Err(_) => tracing::debug!("node lease renewal timed out"),
                }
                if lease.lapsed_now() {
                    tracing::warn!(
                        node,
                        "node lease ran out (the database is out of reach): closing \
                         logged-in sessions, refusing logins until it is renewed"
                    );
                    on_lapse();
                }
            }
            if let Err(e) = store.end_lease(node, instance).await {
                tracing::debug!(error = %e, "node lease not ended; it runs out by itself");
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
        assert!(lease.lapsed_now(), "runs out: stop the players");
        assert!(!lease.lapsed_now(), "once");
        lease.renewed(Instant::now(), length);
        assert!(lease.fresh());
        assert!(!lease.lapsed_now());
    }
}
