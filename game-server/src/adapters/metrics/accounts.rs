//! The logins' and the save task's metrics (with `--login optional` or `required`).

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use crate::adapters::db::SaveMetrics;
use crate::game::accounts::{LoginResult, LoginStats};

/// Characters playing now, read on demand.
pub type PlayingProbe = Arc<dyn Fn() -> u64 + Send + Sync>;

/// What `/metrics` reads of the accounts.
#[derive(Clone)]
pub struct AccountsSource {
    /// Logins by result.
    pub logins: Arc<LoginStats>,
    /// The save task's counters.
    pub saves: Arc<SaveMetrics>,
    /// Logged-in characters in play.
    pub playing: PlayingProbe,
}

type Res = Result<(), fmt::Error>;

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Res {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    m.encode_counter::<NoLabelSet, _, u64>(&v, None)
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Res {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    m.encode_gauge(&v)
}

/// Writes the accounts' metrics.
pub fn accounts_metrics(e: &mut DescriptorEncoder, a: &AccountsSource) -> Res {
    let r = Ordering::Relaxed;
    {
        let mut m = e.encode_descriptor(
            "game_logins",
            "Logins answered, by result (S_Login codes; see docs/PROTOCOL.md).",
            None,
            MetricType::Counter,
        )?;
        for result in LoginResult::ALL {
            let labels = [("result", result.label())];
            m.encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&a.logins.of(result), None)?;
        }
    }
    counter(
        e,
        "game_logins_replaced",
        "Sessions closed because their account logged in elsewhere.",
        a.logins.replaced.load(r),
    )?;
    gauge(
        e,
        "game_characters_playing",
        "Logged-in characters in play.",
        (a.playing)(),
    )?;
    let s = &a.saves;
    counter(
        e,
        "game_saves",
        "Character records written.",
        s.saved.load(r),
    )?;
    counter(
        e,
        "game_save_batches",
        "Save transactions committed.",
        s.batches.load(r),
    )?;
    counter(
        e,
        "game_save_failures",
        "Save transactions that failed (retried with back-off).",
        s.failures.load(r),
    )?;
    counter(
        e,
        "game_saves_lost",
        "Character records not saved: the save queue was full, or a shutdown outlasted the database.",
        s.lost.load(r),
    )?;
    counter(
        e,
        "game_saves_fenced",
        "Character records the database refused because another node's claim held the account (a cluster); the session here was closed.",
        s.fenced.load(r),
    )?;
    gauge(
        e,
        "game_save_queue",
        "Character records waiting to be written (queued and in flight).",
        s.queue_depth.load(r),
    )?;
    {
        let (buckets, count, sum) = s.batch_histogram();
        let mut m = e.encode_descriptor(
            "game_save_batch_size",
            "Records per committed save transaction.",
            None,
            MetricType::Histogram,
        )?;
        m.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
    }
    let w = s.write_seconds.snapshot();
    let mut m = e.encode_descriptor(
        "game_save_write_duration",
        "Time to write one save transaction (failed ones included).",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    m.encode_histogram::<NoLabelSet>(w.sum_seconds, w.count(), &w.buckets(), None)
}
