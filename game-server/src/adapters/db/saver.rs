//! The save task: drives the [`SaveQueue`] against the [`Store`], off the game's threads.
//!
//! Rooms and regions write a playing character's state into its [`LiveCharacter`] and never
//! wait. This task copies out what changed:
//! - at every checkpoint (`SaveConfig::interval`, 5 s by default): every character whose
//!   version moved since its last save;
//! - at once when a character leaves (its session woke this task through `Notify`, which
//!   holds at most one wake-up, so leaves cannot queue up without bound here: they wait in
//!   [`Online`]'s list, one entry per character).
//!
//! Each batch is one transaction. A failed one is retried after the queue's back-off; past the
//! queue's bound, new records are counted as lost and logged at most once a second. At
//! shutdown every dirty character is written before the task ends, retrying for at most
//! [`FLUSH_DEADLINE`]; what is still unwritten then is logged as lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::adapters::db::store::{SaveRow, Store};
use crate::game::accounts::{AccountName, Dirty, Online};
use crate::game::counters::histogram::AtomicHistogram;
use crate::game::saves::{CharacterRecord, Marked, Place, SaveBatch, SaveConfig, SaveQueue};

/// How long a shutdown keeps retrying the last saves.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(10);

/// How long one batch may take before it counts as failed (and is retried).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Turns a position into the region that holds it (0 in the room).
pub type RegionOf = Arc<dyn Fn([f32; 3]) -> u16 + Send + Sync>;

/// The save task's counters, for `/metrics` and the summary line.
#[derive(Debug, Default)]
pub struct SaveMetrics {
    /// Records written.
    pub saved: AtomicU64,
    /// Transactions committed.
    pub batches: AtomicU64,
    /// Transactions that failed (and were queued again).
    pub failures: AtomicU64,
    /// Records lost to a full queue (or to a shutdown the database did not outlast).
    pub lost: AtomicU64,
    /// Records the database refused because another claim held the account (a cluster).
    pub fenced: AtomicU64,
    /// Records waiting now (queued and in flight).
    pub queue_depth: AtomicU64,
    /// Records in the largest batch so far.
    pub max_batch: AtomicU64,
    /// Records per committed batch, by [`BATCH_SIZES`] bucket (the last is larger ones).
    pub batch_sizes: [AtomicU64; BATCH_SIZES.len() + 1],
    /// Time to write each batch.
    pub write_seconds: AtomicHistogram,
}

/// Upper bounds of the batch-size buckets, in records.
pub const BATCH_SIZES: [u64; 9] = [1, 2, 5, 10, 20, 50, 100, 200, 500];

impl SaveMetrics {
    fn observe_batch(&self, records: u64) {
        let bucket = BATCH_SIZES
            .iter()
            .position(|&bound| records <= bound)
            .unwrap_or(BATCH_SIZES.len());
        self.batch_sizes[bucket].fetch_add(1, Ordering::Relaxed);
        self.max_batch.fetch_max(records, Ordering::Relaxed);
    }

    /// `(upper bound, batches)` pairs, not cumulative, the last one +Inf, and the sum of
    /// records: a histogram as prometheus-client's encoder takes it.
    pub fn batch_histogram(&self) -> (Vec<(f64, u64)>, u64, f64) {
        let buckets: Vec<(f64, u64)> = BATCH_SIZES
            .iter()
            .map(|&b| b as f64)
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.batch_sizes.iter().map(|n| n.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, n)| n).sum();
        (buckets, count, self.saved.load(Ordering::Relaxed) as f64)
    }
}

/// The running save task.
pub struct Saver {
    wake: Arc<Notify>,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
    metrics: Arc<SaveMetrics>,
}

impl std::fmt::Debug for Saver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Saver").finish_non_exhaustive()
    }
}

/// What the task saves from, and how.
pub struct SaverParts<H, P = ()> {
    /// The database.
    pub store: Store,
    /// The characters in play and leaving.
    pub online: Arc<Mutex<Online<H, P>>>,
    /// Pacing and bounds.
    pub config: SaveConfig,
    /// Room or world.
    pub place: Place,
    /// The region of a position.
    pub region_of: RegionOf,
    /// Run after a batch in which the database refused some saves (see
    /// [`Online::fenced`]): the accounts' owner closes what [`Online::take_evicted`] holds.
    pub on_fenced: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Saver {
    /// Starts the task (inside a tokio runtime).
    pub fn start<H: Clone + Send + 'static, P: Send + 'static>(parts: SaverParts<H, P>) -> Saver {
        let wake = Arc::new(Notify::new());
        let stop = CancellationToken::new();
        let metrics = Arc::new(SaveMetrics::default());
        let task = tokio::spawn(run(
            parts,
            Arc::clone(&wake),
            stop.clone(),
            Arc::clone(&metrics),
        ));
        Saver {
            wake,
            stop,
            task: Mutex::new(Some(task)),
            metrics,
        }
    }

    /// A character left: save it now rather than at the checkpoint.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The counters.
    pub fn metrics(&self) -> Arc<SaveMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Saves every dirty character (retrying for at most [`FLUSH_DEADLINE`]) and ends the
    /// task. Call after the sessions have closed, so their leaves are in. The store stays
    /// open (the owner closes it: in a cluster, the node's lease is ended after this).
    pub async fn flush_and_stop(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "save task failed");
            }
        }
    }
}

/// A record, the version of the character it was taken at, and the claim it was played
/// under (versions of two claims are not comparable: each load counts from its own).
#[derive(Debug, Clone)]
struct Versioned {
    record: CharacterRecord,
    version: u64,
    fence: i64,
}

struct Task<H, P> {
    parts: SaverParts<H, P>,
    queue: SaveQueue<AccountName, Versioned>,
    metrics: Arc<SaveMetrics>,
}

async fn run<H: Clone + Send + 'static, P: Send + 'static>(
    parts: SaverParts<H, P>,
    wake: Arc<Notify>,
    stop: CancellationToken,
    metrics: Arc<SaveMetrics>,
) {
    let interval = parts.config.interval;
    let mut task = Task {
        queue: SaveQueue::new(parts.config, Instant::now()),
        parts,
        metrics,
    };
    let mut next_scan = Instant::now() + interval;
    loop {
        let now = Instant::now();
        let left = task.online().take_left();
        task.mark_all(left, true);
        if now >= next_scan {
            let dirty = task.online().all_dirty();
            task.mark_all(dirty, false);
            next_scan = now + interval;
        }
        if let Some(batch) = task.queue.take_batch(now) {
            task.write(batch).await;
            continue;
        }
        task.report_lost(now);
        let wake_at = task
            .queue
            .next_due(now)
            .map_or(next_scan, |due| due.min(next_scan));
        tokio::select! {
            _ = tokio::time::sleep_until(wake_at.into()) => {}
            _ = wake.notified() => {}
            _ = stop.cancelled() => break,
        }
    }
    task.flush().await;
}

impl<H: Clone, P> Task<H, P> {
    fn online(&self) -> MutexGuard<'_, Online<H, P>> {
        self.parts.online.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn mark_all(&mut self, dirty: Vec<Dirty>, urgent: bool) {
        if dirty.is_empty() {
            return;
        }
        let now_ms = now_ms();
        for d in dirty {
            // Already waiting (or in flight) at this version: nothing new to write.
            if self
                .queue
                .latest(&d.name)
                .is_some_and(|v| v.fence == d.fence && v.version >= d.state.version)
            {
                continue;
            }
            let record = CharacterRecord {
                place: self.parts.place,
                region: (self.parts.region_of)(d.state.pos),
                pos: d.state.pos,
                created_ms: d.created_ms,
                last_seen_ms: now_ms,
                stats: d.state.stats,
            };
            let versioned = Versioned {
                record,
                version: d.state.version,
                fence: d.fence,
            };
            if self.queue.mark(d.name.clone(), versioned, urgent || d.left) == Marked::Lost
                && d.left
            {
                // Its last state will not be written (counted as lost); nobody plays it, so
                // it must not stay in the table either.
                self.online().forget_left(d.name.key());
            }
        }
        self.publish();
    }

    async fn write(&mut self, batch: SaveBatch<AccountName, Versioned>) {
        let records: Vec<SaveRow> = batch
            .records
            .iter()
            .map(|(name, v)| SaveRow {
                name: name.clone(),
                record: v.record,
                claim: v.fence,
            })
            .collect();
        let started = Instant::now();
        let result =
            tokio::time::timeout(WRITE_TIMEOUT, self.parts.store.save_characters(&records)).await;
        self.metrics.write_seconds.observe(started.elapsed());
        match result {
            Ok(Ok(fenced)) => {
                self.queue.saved(batch.id);
                self.metrics.batches.fetch_add(1, Ordering::Relaxed);
                self.metrics
                    .saved
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
                self.metrics.observe_batch(records.len() as u64);
                let mut online = self.online();
                for (name, v) in &batch.records {
                    if fenced.iter().any(|key| key == name.key()) {
                        // Another claim holds the account now: this node must not play it.
                        online.fenced(name.key(), v.fence);
                    } else {
                        online.saved(name.key(), v.version, v.fence);
                    }
                }
                drop(online);
                if !fenced.is_empty() {
                    self.metrics
                        .fenced
                        .fetch_add(fenced.len() as u64, Ordering::Relaxed);
                    tracing::warn!(
                        accounts = fenced.len(),
                        "saves refused: another node's claim holds these accounts now; \
                         their sessions here are closed"
                    );
                    if let Some(wake) = &self.parts.on_fenced {
                        wake();
                    }
                }
            }
            Ok(Err(e)) => self.failed(batch.id, &e.to_string()),
            Err(_) => self.failed(batch.id, "timed out"),
        }
        self.publish();
    }

    fn failed(&mut self, id: u64, why: &str) {
        let first = self.metrics.failures.fetch_add(1, Ordering::Relaxed) == 0;
        self.queue.failed(id, Instant::now());
        // One line per failure would flood the log while the database is away: the 1st,
        // 2nd, 4th, 8th, ... failure only.
        let failures = self.queue.stats().failures;
        if first || failures.is_power_of_two() {
            tracing::warn!(
                error = why,
                failures,
                waiting = self.queue.waiting(),
                "saving characters failed; retrying with back-off"
            );
        }
    }

    fn report_lost(&mut self, now: Instant) {
        if let Some(lost) = self.queue.lost_report(now) {
            tracing::error!(
                lost,
                "save queue full: character saves lost (the database is behind or away)"
            );
        }
    }

    fn publish(&self) {
        let stats = self.queue.stats();
        self.metrics.lost.store(stats.lost, Ordering::Relaxed);
        self.metrics
            .queue_depth
            .store(self.queue.waiting() as u64, Ordering::Relaxed);
    }

    /// At shutdown: everything dirty, written now.
    async fn flush(&mut self) {
        let left = self.online().take_left();
        self.mark_all(left, true);
        let dirty = self.online().all_dirty();
        self.mark_all(dirty, true);
        let deadline = Instant::now() + FLUSH_DEADLINE;
        while !self.queue.is_idle() && Instant::now() < deadline {
            let now = Instant::now();
            match self.queue.take_batch(now) {
                Some(batch) => self.write(batch).await,
                None => {
                    let due = self.queue.next_due(now).unwrap_or(now).min(deadline);
                    tokio::time::sleep_until(due.into()).await;
                }
            }
        }
        let unsaved = self.queue.waiting() as u64;
        if unsaved > 0 {
            self.metrics.lost.fetch_add(unsaved, Ordering::Relaxed);
            tracing::error!(
                unsaved,
                "shutdown: the database did not take the last saves in time; they are lost"
            );
        } else {
            tracing::info!(
                saved = self.queue.stats().saved,
                "shutdown: every character saved"
            );
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
