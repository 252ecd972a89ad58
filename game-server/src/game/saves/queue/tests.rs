use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

fn config() -> SaveConfig {
    SaveConfig {
        interval: Duration::from_secs(5),
        max_dirty: 4,
        max_batch: 2,
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(800),
        report_every: Duration::from_secs(1),
    }
}

fn secs(t0: Instant, s: f64) -> Instant {
    t0 + Duration::from_secs_f64(s)
}

#[test]
fn marks_coalesce_and_wait_for_the_checkpoint() {
    let t0 = Instant::now();
    let mut q = SaveQueue::new(config(), t0);
    assert_eq!(q.mark(1, "a", false), Marked::Queued);
    assert_eq!(q.mark(1, "b", false), Marked::Coalesced);
    assert_eq!(q.take_batch(secs(t0, 4.9)), None, "before the checkpoint");
    assert_eq!(q.next_due(t0), Some(secs(t0, 5.0)));
    let batch = q.take_batch(secs(t0, 5.0)).expect("due at the checkpoint");
    assert_eq!(batch.records, vec![(1, "b")], "one row, the newer record");
    assert_eq!(
        q.take_batch(secs(t0, 9.0)),
        None,
        "one batch in flight at a time"
    );
    q.saved(batch.id);
    assert!(q.is_idle());
    assert_eq!(q.stats().saved, 1);
    assert_eq!(q.stats().coalesced, 1);
}

#[test]
fn an_urgent_record_goes_at_once_with_what_waits_before_it() {
    let t0 = Instant::now();
    let mut q = SaveQueue::new(config(), t0);
    q.mark(1, "x", false);
    q.mark(2, "left", true);
    assert_eq!(q.next_due(secs(t0, 0.1)), Some(secs(t0, 0.1)));
    let batch = q.take_batch(secs(t0, 0.1)).expect("urgent: due now");
    assert_eq!(batch.records, vec![(1, "x"), (2, "left")], "oldest first");
    q.saved(batch.id);
    q.mark(3, "y", false);
    assert_eq!(
        q.take_batch(secs(t0, 0.2)),
        None,
        "no urgent left: the checkpoint"
    );
}

#[test]
fn batches_are_cut_at_max_batch_oldest_first() {
    let t0 = Instant::now();
    let mut q = SaveQueue::new(config(), t0);
    for k in 1..=3 {
        q.mark(k, k * 10, false);
    }
    let first = q.take_batch(secs(t0, 5.0)).expect("due");
    assert_eq!(first.records, vec![(1, 10), (2, 20)]);
    assert_eq!(q.take_batch(secs(t0, 5.0)), None, "one batch in flight");
    q.saved(first.id);
    // The checkpoint drains: the rest goes at once, not at the next checkpoint. (Before,
    // one batch per interval went: 500 records each 5 s, a tenth of what 10,000 players
    // dirty.)
    assert_eq!(q.next_due(secs(t0, 5.1)), Some(secs(t0, 5.1)));
    let rest = q.take_batch(secs(t0, 5.1)).expect("the checkpoint goes on");
    assert_eq!(rest.records, vec![(3, 30)]);
    q.saved(rest.id);
    // Drained: a record marked now waits for the next checkpoint.
    q.mark(4, 40, false);
    assert_eq!(q.take_batch(secs(t0, 5.2)), None);
    assert_eq!(q.next_due(secs(t0, 5.2)), Some(secs(t0, 10.0)));
    assert!(q.take_batch(secs(t0, 10.0)).is_some());
}

#[test]
fn a_failed_batch_comes_back_in_front_and_a_newer_record_wins() {
    let t0 = Instant::now();
    let mut q = SaveQueue::new(config(), t0);
    q.mark(1, "old1", false);
    q.mark(2, "old2", false);
    q.mark(3, "three", false);
    let batch = q.take_batch(secs(t0, 5.0)).expect("due");
    assert_eq!(batch.records, vec![(1, "old1"), (2, "old2")]);
    assert_eq!(q.latest(&1), Some(&"old1"), "in flight is still the newest");
    q.mark(2, "new2", false);
    assert_eq!(q.latest(&2), Some(&"new2"));
    q.failed(batch.id, secs(t0, 5.0));
    assert_eq!(q.stats().failures, 1);
    assert_eq!(q.take_batch(secs(t0, 5.05)), None, "backing off");
    assert_eq!(q.next_due(secs(t0, 5.05)), Some(secs(t0, 5.1)));
    let again = q
        .take_batch(secs(t0, 5.1))
        .expect("retried once the back-off passed");
    assert_eq!(
        again.records,
        vec![(1, "old1"), (2, "new2")],
        "1 back in front; 2's newer record replaced the failed one"
    );
    q.saved(again.id);
    let last = q.take_now().expect("3 still waits");
    assert_eq!(last.records, vec![(3, "three")]);
}

#[test]
fn back_off_doubles_up_to_its_cap_and_resets_on_success() {
    let t0 = Instant::now();
    let mut q = SaveQueue::new(config(), t0);
    q.mark(1, 1, true);
    let mut now = t0;
    let mut waits = Vec::new();
    for _ in 0..5 {
        let batch = q.take_batch(now).expect("due once the back-off passed");
        q.failed(batch.id, now);
        let due = q.next_due(now).expect("still waiting");
        waits.push((due - now).as_millis());
        now = due;
    }
    assert_eq!(waits, vec![100, 200, 400, 800, 800]);
    let batch = q.take_batch(now).expect("due");
    q.saved(batch.id);
    q.mark(2, 2, true);
    let batch = q.take_batch(now).expect("no back-off after a success");
    q.failed(batch.id, now);
    assert_eq!(q.next_due(now), Some(now + Duration::from_millis(100)));
}

#[test]
fn past_the_bound_new_characters_are_lost_and_reported_once_a_second() {
    let t0 = Instant::now();
    let mut q = SaveQueue::new(config(), t0);
    for k in 1..=4 {
        assert_eq!(q.mark(k, 0, false), Marked::Queued);
    }
    let batch = q.take_batch(secs(t0, 5.0)).expect("due");
    // In flight still counts: the database may never take it.
    assert_eq!(q.mark(5, 0, false), Marked::Lost);
    assert_eq!(
        q.mark(1, 7, false),
        Marked::Queued,
        "a character in flight may queue its next record"
    );
    assert_eq!(
        q.mark(1, 8, false),
        Marked::Coalesced,
        "a waiting one is updated"
    );
    assert_eq!(q.lost_report(secs(t0, 5.0)), Some(1));
    assert_eq!(q.mark(6, 0, false), Marked::Lost);
    assert_eq!(
        q.lost_report(secs(t0, 5.5)),
        None,
        "within a second of the last"
    );
    assert_eq!(q.lost_report(secs(t0, 6.0)), Some(1));
    assert_eq!(q.lost_report(secs(t0, 9.0)), None, "nothing new");
    q.failed(batch.id, secs(t0, 5.0));
    assert_eq!(q.waiting(), 4, "a failed batch never passes the bound");
    assert_eq!(q.stats().lost, 2);
}

#[test]
fn an_unknown_or_stale_batch_id_changes_nothing() {
    let t0 = Instant::now();
    let mut q = SaveQueue::new(config(), t0);
    q.mark(1, 1, true);
    let batch = q.take_batch(t0).expect("due");
    q.saved(batch.id + 1);
    q.failed(batch.id + 1, t0);
    assert_eq!(q.waiting(), 1);
    assert_eq!(q.stats(), SaveStats::default());
    q.saved(batch.id);
    q.saved(batch.id);
    assert_eq!(q.stats().saved, 1);
}

#[derive(Debug, Clone)]
enum Op {
    Mark { key: u8, urgent: bool },
    Tick { ms: u16 },
    Take,
    Finish { ok: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..8u8, any::<bool>()).prop_map(|(key, urgent)| Op::Mark { key, urgent }),
        2 => (0..3000u16).prop_map(|ms| Op::Tick { ms }),
        2 => Just(Op::Take),
        2 => any::<bool>().prop_map(|ok| Op::Finish { ok }),
    ]
}

proptest! {
    /// Against a database that keeps the last write per character: whatever the order of
    /// marks, ticks, failures and successes, no record is ever written after a newer one of
    /// the same character, the bound holds, and once the queue is drained every character
    /// whose last mark was accepted holds exactly that record.
    #[test]
    fn the_database_ends_with_every_accepted_last_record_and_never_goes_back(
        ops in prop::collection::vec(op(), 1..200),
    ) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut q = SaveQueue::new(config(), t0);
        let mut version = 0u32;
        let mut db: HashMap<u8, u32> = HashMap::new();
        let mut last_mark: HashMap<u8, (u32, Marked)> = HashMap::new();
        let mut in_flight: Option<SaveBatch<u8, u32>> = None;
        let write = |batch: &SaveBatch<u8, u32>, db: &mut HashMap<u8, u32>| -> Result<(), TestCaseError> {
            for &(k, v) in &batch.records {
                if let Some(&old) = db.get(&k) {
                    prop_assert!(v > old, "{k}: wrote {v} after {old}");
                }
                db.insert(k, v);
            }
            Ok(())
        };
        for op in ops {
            match op {
                Op::Mark { key, urgent } => {
                    version += 1;
                    let marked = q.mark(key, version, urgent);
                    last_mark.insert(key, (version, marked));
                }
                Op::Tick { ms } => now += Duration::from_millis(u64::from(ms)),
                Op::Take => {
                    if in_flight.is_none() {
                        in_flight = q.take_batch(now);
                    }
                }
                Op::Finish { ok } => {
                    if let Some(batch) = in_flight.take() {
                        if ok {
                            write(&batch, &mut db)?;
                            q.saved(batch.id);
                        } else {
                            q.failed(batch.id, now);
                        }
                    }
                }
            }
            prop_assert!(q.waiting() <= config().max_dirty + config().max_batch);
        }
        if let Some(batch) = in_flight.take() {
            write(&batch, &mut db)?;
            q.saved(batch.id);
        }
        while let Some(batch) = q.take_now() {
            write(&batch, &mut db)?;
            q.saved(batch.id);
        }
        prop_assert!(q.is_idle());
        for (key, (v, marked)) in last_mark {
            if marked != Marked::Lost {
                prop_assert_eq!(db.get(&key), Some(&v), "{}'s last record", key);
            }
        }
    }
}
