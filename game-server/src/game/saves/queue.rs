//! `SaveQueue`: write-behind saves of characters. Sans-IO: the game marks a character dirty
//! with its latest record; a database task asks for a batch when one is due, writes it in one
//! transaction and reports how that went. Time is an argument, so every rule is tested
//! without a clock or a database.
//!
//! The rules:
//! - **Coalescing.** A character marked again before it was taken keeps one entry, with the
//!   newer record: a player who moves a thousand times between checkpoints costs one row.
//! - **When a batch is due.** At each checkpoint (`interval` after the previous one), or at
//!   once while an *urgent* record waits (a character that left: its session is gone, and
//!   its last state should not wait for the next checkpoint). One batch is in flight at a
//!   time, at most `max_batch` records, oldest first. A checkpoint drains: its batches follow
//!   one another until nothing waits, so ten thousand dirty characters are all written at
//!   every checkpoint, not `max_batch` of them.
//! - **Failure.** A batch that failed goes back to the front of the queue (a record marked
//!   again meanwhile goes there instead: the newer one wins), and is retried as soon as a
//!   back-off has passed (`backoff_min`, doubled per failure in a row, at most `backoff_max`). So a record
//!   is never written after a newer one of the same character, and a database that is down
//!   is asked once per back-off, not once per tick.
//! - **The bound.** At most `max_dirty` characters wait (queued or in flight). When it is
//!   reached, marking a character not already waiting is refused and counted as lost: the
//!   ones already waiting keep being updated (one in flight may queue its next record
//!   beside it), so at most `max_dirty + max_batch` records are held however long the
//!   database is away. [`SaveQueue::lost_report`] says how many were lost, at most once per
//!   `report_every`, for a log line that cannot flood.
//! - **Reads see the newest.** [`SaveQueue::latest`] gives a character's record that is not
//!   yet saved (waiting or in flight), so a login racing its own save loads what the
//!   database will hold, not what it held.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How the queue paces and bounds its saves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveConfig {
    /// Time between checkpoints: at most this much play is lost if the process dies.
    pub interval: Duration,
    /// Characters that may wait (queued and in flight) before new ones are lost.
    pub max_dirty: usize,
    /// Records in one batch (one transaction).
    pub max_batch: usize,
    /// Back-off after the first failure in a row.
    pub backoff_min: Duration,
    /// Longest back-off.
    pub backoff_max: Duration,
    /// Least time between two reports of lost saves.
    pub report_every: Duration,
}

impl Default for SaveConfig {
    fn default() -> Self {
        SaveConfig {
            interval: Duration::from_secs(5),
            max_dirty: 100_000,
            max_batch: 500,
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(10),
            report_every: Duration::from_secs(1),
        }
    }
}

/// What [`SaveQueue::mark`] did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    /// The character was not waiting; now it is.
    Queued,
    /// The character was waiting; its record was replaced by this newer one.
    Coalesced,
    /// The queue was full: this record will not be saved (counted).
    Lost,
}

/// Records for one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveBatch<K, R> {
    /// Names this batch in [`SaveQueue::saved`] and [`SaveQueue::failed`].
    pub id: u64,
    /// Character and record, oldest first, each character once.
    pub records: Vec<(K, R)>,
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaveStats {
    /// Records written.
    pub saved: u64,
    /// Batches written.
    pub batches: u64,
    /// Batches that failed (and were queued again).
    pub failures: u64,
    /// Records refused because the queue was full.
    pub lost: u64,
    /// Marks folded into a record already waiting.
    pub coalesced: u64,
}

#[derive(Debug)]
struct Dirty<R> {
    record: R,
    urgent: bool,
}

#[derive(Debug)]
struct InFlight<K, R> {
    id: u64,
    records: Vec<(K, R)>,
}

/// The write-behind queue of one database task.
#[derive(Debug)]
pub struct SaveQueue<K, R> {
    config: SaveConfig,
    dirty: HashMap<K, Dirty<R>>,
    /// Each waiting character once, in the order it became dirty (or came back from a
    /// failed batch, in front).
    order: VecDeque<K>,
    /// Urgent records waiting.
    urgent: usize,
    in_flight: Option<InFlight<K, R>>,
    next_id: u64,
    next_checkpoint: Instant,
    /// After a failure: nothing is taken before this.
    retry_at: Option<Instant>,
    /// A failed batch waits to be retried: due when the back-off ends, not at a checkpoint.
    retry_pending: bool,
    /// A checkpoint is being written: batches are due until nothing waits.
    draining: bool,
    failures_in_a_row: u32,
    stats: SaveStats,
    lost_unreported: u64,
    last_report: Option<Instant>,
}

impl<K: Eq + Hash + Clone, R: Clone> SaveQueue<K, R> {
    /// An empty queue whose first checkpoint is `config.interval` after `now`.
    pub fn new(config: SaveConfig, now: Instant) -> Self {
        SaveQueue {
            config,
            dirty: HashMap::new(),
            order: VecDeque::new(),
            urgent: 0,
            in_flight: None,
            next_id: 1,
            next_checkpoint: now + config.interval,
            retry_at: None,
            retry_pending: false,
            draining: false,
            failures_in_a_row: 0,
            stats: SaveStats::default(),
            lost_unreported: 0,
            last_report: None,
        }
    }

    /// Records `record` as `key`'s latest state, to be saved at the next checkpoint, or
    /// as soon as possible if `urgent`.
    pub fn mark(&mut self, key: K, record: R, urgent: bool) -> Marked {
        if let Some(dirty) = self.dirty.get_mut(&key) {
            dirty.record = record;
            if urgent && !dirty.urgent {
                dirty.urgent = true;
                self.urgent += 1;
            }
            self.stats.coalesced += 1;
            return Marked::Coalesced;
        }
        if self.waiting() >= self.config.max_dirty && !self.is_in_flight(&key) {
            self.stats.lost += 1;
            self.lost_unreported += 1;
            return Marked::Lost;
        }
        self.urgent += usize::from(urgent);
        self.dirty.insert(key.clone(), Dirty { record, urgent });
        self.order.push_back(key);
        Marked::Queued
    }

    /// The next batch if one is due at `now`: none while a batch is in flight, while a
    /// back-off runs, or when nothing waits.
    pub fn take_batch(&mut self, now: Instant) -> Option<SaveBatch<K, R>> {
        if self.in_flight.is_some() || self.retry_at.is_some_and(|at| now < at) {
            return None;
        }
        if self.dirty.is_empty() {
            self.draining = false;
            return None;
        }
        let checkpoint = now >= self.next_checkpoint;
        if !checkpoint && self.urgent == 0 && !self.retry_pending && !self.draining {
            return None;
        }
        if checkpoint {
            self.next_checkpoint = now + self.config.interval;
            self.draining = true;
        }
        Some(self.cut_batch())
    }

    /// The next batch whatever the time (at shutdown: every waiting record is written before
    /// the process exits); none while one is in flight or nothing waits.
    pub fn take_now(&mut self) -> Option<SaveBatch<K, R>> {
        if self.in_flight.is_some() || self.dirty.is_empty() {
            return None;
        }
        Some(self.cut_batch())
    }

    fn cut_batch(&mut self) -> SaveBatch<K, R> {
        let mut records = Vec::with_capacity(self.config.max_batch.min(self.dirty.len()));
        while records.len() < self.config.max_batch.max(1) {
            let Some(key) = self.order.pop_front() else {
                break;
            };
            if let Some(dirty) = self.dirty.remove(&key) {
                self.urgent -= usize::from(dirty.urgent);
                records.push((key, dirty.record));
            }
        }
        if self.dirty.is_empty() {
            // What the checkpoint found is all cut: later marks wait for the next one.
            self.draining = false;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.retry_pending = false;
        self.in_flight = Some(InFlight {
            id,
            records: records.clone(),
        });
        SaveBatch { id, records }
    }

    /// Batch `id` was written.
    pub fn saved(&mut self, id: u64) {
        if let Some(batch) = self.in_flight.take_if(|b| b.id == id) {
            self.stats.saved += batch.records.len() as u64;
            self.stats.batches += 1;
            self.failures_in_a_row = 0;
            self.retry_at = None;
        }
    }

    /// Batch `id` was not written at `now`: its records wait again, in front, unless a newer
    /// record of the same character is waiting; nothing is taken until the back-off passes.
    pub fn failed(&mut self, id: u64, now: Instant) {
        let Some(batch) = self.in_flight.take_if(|b| b.id == id) else {
            return;
        };
        self.stats.failures += 1;
        self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
        self.retry_at = Some(now + self.backoff());
        self.retry_pending = true;
        for (key, record) in batch.records.into_iter().rev() {
            if self.dirty.contains_key(&key) {
                // Its newer record takes the failed one's place in front. The entry further
                // back stays: a cut skips a character no longer waiting.
                self.order.push_front(key);
                continue;
            }
            // Never past the bound: these were counted in it while they were in flight.
            self.dirty.insert(
                key.clone(),
                Dirty {
                    record,
                    urgent: false,
                },
            );
            self.order.push_front(key);
        }
    }

    /// The back-off after the current run of failures.
    fn backoff(&self) -> Duration {
        let doublings = self.failures_in_a_row.saturating_sub(1).min(20);
        self.config
            .backoff_min
            .saturating_mul(1 << doublings)
            .min(self.config.backoff_max)
    }

    /// When [`SaveQueue::take_batch`] may next return a batch, for the task's sleep: `None`
    /// when nothing waits (a mark wakes the task) or a batch is in flight (its outcome does).
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        if self.in_flight.is_some() || self.dirty.is_empty() {
            return None;
        }
        let due = if self.urgent > 0 || self.retry_pending || self.draining {
            now
        } else {
            self.next_checkpoint
        };
        Some(match self.retry_at {
            Some(at) => due.max(at),
            None => due,
        })
    }

    fn is_in_flight(&self, key: &K) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|b| b.records.iter().any(|(k, _)| k == key))
    }

    /// `key`'s record not yet saved, waiting or in flight: what the database will hold.
    pub fn latest(&self, key: &K) -> Option<&R> {
        if let Some(dirty) = self.dirty.get(key) {
            return Some(&dirty.record);
        }
        self.in_flight
            .as_ref()?
            .records
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, r)| r)
    }

    /// Records waiting, queued and in flight (the bound counts characters: one in flight
    /// may also have its next record queued).
    pub fn waiting(&self) -> usize {
        self.dirty.len() + self.in_flight.as_ref().map_or(0, |b| b.records.len())
    }

    /// True when nothing waits and nothing is in flight.
    pub fn is_idle(&self) -> bool {
        self.waiting() == 0
    }

    /// Counters so far.
    pub fn stats(&self) -> SaveStats {
        self.stats
    }

    /// Records lost since the last report, if any were and the last report is at least
    /// `report_every` old: at most one log line per interval, however many are lost.
    pub fn lost_report(&mut self, now: Instant) -> Option<u64> {
        if self.lost_unreported == 0 {
            return None;
        }
        if self
            .last_report
            .is_some_and(|at| now.saturating_duration_since(at) < self.config.report_every)
        {
            return None;
        }
        self.last_report = Some(now);
        Some(std::mem::take(&mut self.lost_unreported))
    }
}

#[cfg(test)]
mod tests;
