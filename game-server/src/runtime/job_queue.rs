//! `JobQueue`: runs jobs one at a time on a dedicated thread, the course's `JobSerializer`.
//!
//! Any thread pushes; one thread runs. The state a runner owns is touched only by that thread,
//! so it needs no lock, and two jobs never overlap. All jobs travel one FIFO channel, so the
//! jobs of one sender run in exactly the order that sender pushed them, whatever their kind.
//!
//! The channel itself has no fixed capacity; admission counters bound it instead, because
//! not every job may be refused:
//! - **input** jobs (moves, chat) are admitted while fewer than `capacity` are waiting. When
//!   the room is that far behind, [`JobQueue::try_push`] hands the job back and the caller
//!   decides; the game server drops that input and counts it, since a newer input
//!   supersedes it.
//! - **control** jobs (a player entering) are admitted while fewer than `control_capacity`
//!   are waiting ([`JobQueue::try_push_control`]); a refused enter closes that session.
//! - **follow-up** jobs that must never be lost (that player's leave) are always admitted
//!   ([`JobQueue::push_follow_up`]). They stay bounded because a caller pushes at most one
//!   per admitted control job. They count in the queue's depth like the others.
//! - **remote** jobs (inputs that came from another node of a cluster) are admitted while
//!   the bytes of such jobs waiting stay within the caller's cap
//!   ([`JobQueue::try_push_remote`]); past it the caller sheds them (see the cluster's
//!   `shed.rs`), so a slow region holds at most that many bytes of them.
//!
//! A job timer runs jobs after a delay, and an optional tick calls [`JobRunner::tick`]
//! periodically (the room's broadcast flush). The thread sleeps until the next job or
//! deadline: no busy spinning.
//!
//! A queue may also **gather** ([`JobQueue::spawn_gathering`]): after running what it found,
//! its thread pauses for a short interval before it looks again, so jobs pushed meanwhile
//! wait without waking it and it runs them as one batch. A pusher then costs a queue push,
//! not a thread wake-up (a futex call for the pusher and two context switches), which at
//! thousands of inputs a second was a large share of a world server's CPU. Jobs waiting at a
//! tick run before it, so a gathering queue's tick never misses an input pushed before it;
//! the price is that a job may wait up to the interval, which costs nothing when its effects
//! go out at the next tick anyway (the world's regions).

use std::collections::BinaryHeap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};

use crate::game::counters::AtomicHistogram;

/// What a job queue runs: owns the state, runs one job or one tick at a time.
pub trait JobRunner: Send + 'static {
    /// The job type. An enum keeps the hot path free of boxing; `Box<dyn FnOnce(..)>` works
    /// too.
    type Job: Send + 'static;

    /// Runs one job.
    fn run(&mut self, job: Self::Job);

    /// Called every tick interval, if the queue has one.
    fn tick(&mut self, now: Instant) {
        let _ = now;
    }
}

/// The queue is full (or stopped); the job is handed back.
pub struct QueueFull<J>(pub J);

/// The queue's thread has stopped; the job is handed back.
pub struct QueueStopped<J>(pub J);

impl<J> std::fmt::Display for QueueFull<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("job queue full")
    }
}

impl<J> std::fmt::Display for QueueStopped<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("job queue stopped")
    }
}

impl<J> std::error::Error for QueueFull<J> {}
impl<J> std::error::Error for QueueStopped<J> {}

// By hand, so that jobs (often closures) need not be `Debug` themselves.
impl<J> std::fmt::Debug for QueueFull<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueFull(..)")
    }
}

impl<J> std::fmt::Debug for QueueStopped<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueStopped(..)")
    }
}

/// Counters of one job queue.
#[derive(Debug, Default)]
pub struct JobQueueStats {
    /// Jobs run (all kinds, timers included).
    pub jobs_run: AtomicU64,
    /// Jobs (or ticks) that panicked; the queue went on with the next one.
    pub panics: AtomicU64,
    /// Input jobs waiting now (admission counter).
    input_waiting: AtomicUsize,
    /// Control jobs waiting now (admission counter).
    control_waiting: AtomicUsize,
    /// Follow-up jobs waiting now (never refused; counted for the depth).
    followups_waiting: AtomicUsize,
    /// Remote jobs waiting now, and their bytes (admission counter of the remote lane).
    remote_waiting: AtomicUsize,
    remote_bytes: AtomicUsize,
    /// Time from a job's push to the start of its run (timer jobs: from when they were due).
    pub wait: AtomicHistogram,
}

impl JobQueueStats {
    /// Jobs waiting now, of every kind (timers not yet due included).
    pub fn depth(&self) -> usize {
        let r = Ordering::Relaxed;
        self.input_waiting.load(r)
            + self.control_waiting.load(r)
            + self.followups_waiting.load(r)
            + self.remote_waiting.load(r)
    }

    /// Bytes of remote jobs waiting now.
    pub fn remote_bytes(&self) -> usize {
        self.remote_bytes.load(Ordering::Relaxed)
    }
}

enum Msg<J> {
    Input(J),
    Control(J),
    FollowUp(J),
    /// A remote job and the bytes it was admitted as.
    Remote(J, usize),
    At(Instant, J),
    Stop,
}

/// A message and when it was pushed, for the wait histogram. One clock read per push; the
/// room's thread reads the clock once per job anyway to run its timers.
struct Envelope<J> {
    msg: Msg<J>,
    pushed: Instant,
}

impl<J> Envelope<J> {
    fn now(msg: Msg<J>) -> Self {
        Envelope {
            msg,
            pushed: Instant::now(),
        }
    }
}

/// Cheap to clone handle that pushes jobs to one queue.
pub struct JobQueue<J> {
    tx: Sender<Envelope<J>>,
    capacity: usize,
    control_capacity: usize,
    stats: Arc<JobQueueStats>,
}

impl<J> Clone for JobQueue<J> {
    fn clone(&self) -> Self {
        JobQueue {
            tx: self.tx.clone(),
            capacity: self.capacity,
            control_capacity: self.control_capacity,
            stats: Arc::clone(&self.stats),
        }
    }
}

/// Joins the queue's thread.
pub struct JobQueueThread {
    handle: JoinHandle<()>,
}

impl JobQueueThread {
    /// Waits for the thread to finish (after [`JobQueue::stop`] or once every handle is
    /// dropped).
    pub fn join(self) {
        if self.handle.join().is_err() {
            tracing::error!("job queue thread panicked outside a job");
        }
    }
}

/// Takes one slot of `counter` if fewer than `cap` are taken.
fn admit(counter: &AtomicUsize, cap: usize) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < cap).then_some(n + 1)
        })
        .is_ok()
}

impl<J: Send + 'static> JobQueue<J> {
    /// Starts a thread named `name` that runs `runner`'s jobs. At most `capacity` input jobs
    /// and `control_capacity` control jobs wait at once; if `tick` is set, the runner's
    /// [`JobRunner::tick`] runs that often.
    pub fn spawn<R>(
        name: &str,
        capacity: usize,
        control_capacity: usize,
        tick: Option<Duration>,
        runner: R,
    ) -> std::io::Result<(JobQueue<J>, JobQueueThread)>
    where
        R: JobRunner<Job = J>,
    {
        Self::spawn_gathering(name, capacity, control_capacity, tick, None, runner)
    }

    /// Like [`JobQueue::spawn`], and with `gather` set the thread pauses that long (or until
    /// the next deadline, if sooner) after running what it found, so jobs pushed meanwhile
    /// wait without waking it (see the module's notes).
    pub fn spawn_gathering<R>(
        name: &str,
        capacity: usize,
        control_capacity: usize,
        tick: Option<Duration>,
        gather: Option<Duration>,
        runner: R,
    ) -> std::io::Result<(JobQueue<J>, JobQueueThread)>
    where
        R: JobRunner<Job = J>,
    {
        let (tx, rx) = unbounded();
        let stats = Arc::new(JobQueueStats::default());
        let worker = Worker {
            runner,
            rx,
            timers: BinaryHeap::new(),
            timer_seq: 0,
            tick,
            gather,
            stats: Arc::clone(&stats),
        };
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || worker.run())?;
        Ok((
            JobQueue {
                tx,
                capacity,
                control_capacity,
                stats,
            },
            JobQueueThread { handle },
        ))
    }

    /// Pushes an input job; never blocks. Refused when `capacity` input jobs are waiting.
    pub fn try_push(&self, job: J) -> Result<(), QueueFull<J>> {
        self.admitted(&self.stats.input_waiting, self.capacity, Msg::Input(job))
    }

    /// Runs `job` once `delay` has passed (the job timer). Counts as an input job until it
    /// is due.
    pub fn try_push_after(&self, delay: Duration, job: J) -> Result<(), QueueFull<J>> {
        let at = Instant::now() + delay;
        self.admitted(&self.stats.input_waiting, self.capacity, Msg::At(at, job))
    }

    /// Pushes a control job; refused when `control_capacity` of them are waiting.
    pub fn try_push_control(&self, job: J) -> Result<(), QueueFull<J>> {
        self.admitted(
            &self.stats.control_waiting,
            self.control_capacity,
            Msg::Control(job),
        )
    }

    /// Pushes a job that must run: always admitted. Callers push at most one per admitted
    /// control job (see the module docs), which is what bounds these. Fails only if the
    /// queue has stopped.
    pub fn push_follow_up(&self, job: J) -> Result<(), QueueStopped<J>> {
        self.stats.followups_waiting.fetch_add(1, Ordering::AcqRel);
        self.tx
            .send(Envelope::now(Msg::FollowUp(job)))
            .map_err(|e| {
                self.stats.followups_waiting.fetch_sub(1, Ordering::AcqRel);
                match e.into_inner().msg {
                    Msg::FollowUp(job) => QueueStopped(job),
                    _ => unreachable!("a follow-up was sent"),
                }
            })
    }

    /// Pushes a job that came from another node, weighing `bytes`; refused (handed back)
    /// when remote jobs of `cap` bytes are waiting already. One job is always admitted into
    /// an empty lane, whatever its size, so a large job cannot be refused forever.
    pub fn try_push_remote(&self, job: J, bytes: usize, cap: usize) -> Result<(), QueueFull<J>> {
        let admitted = self
            .stats
            .remote_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
                (waiting == 0 || waiting.saturating_add(bytes) <= cap)
                    .then(|| waiting.saturating_add(bytes))
            })
            .is_ok();
        if !admitted {
            return Err(QueueFull(job));
        }
        self.stats.remote_waiting.fetch_add(1, Ordering::AcqRel);
        self.tx
            .send(Envelope::now(Msg::Remote(job, bytes)))
            .map_err(|e| {
                self.stats.remote_waiting.fetch_sub(1, Ordering::AcqRel);
                self.stats.remote_bytes.fetch_sub(bytes, Ordering::AcqRel);
                match e.into_inner().msg {
                    Msg::Remote(job, _) => QueueFull(job),
                    _ => unreachable!("a remote job was sent"),
                }
            })
    }

    /// Asks the thread to stop once every job pushed before this call has run. Timer jobs
    /// not yet due by then are dropped without running.
    pub fn stop(&self) {
        let _ = self.tx.send(Envelope::now(Msg::Stop));
    }

    /// Input jobs waiting.
    pub fn input_len(&self) -> usize {
        self.stats.input_waiting.load(Ordering::Relaxed)
    }

    /// The queue's counters.
    pub fn stats(&self) -> &JobQueueStats {
        &self.stats
    }

    /// A shared handle on the queue's counters.
    pub fn stats_handle(&self) -> Arc<JobQueueStats> {
        Arc::clone(&self.stats)
    }

    fn admitted(&self, counter: &AtomicUsize, cap: usize, msg: Msg<J>) -> Result<(), QueueFull<J>> {
        let hand_back = |msg: Msg<J>| match msg {
            Msg::Input(job)
            | Msg::Control(job)
            | Msg::FollowUp(job)
            | Msg::Remote(job, _)
            | Msg::At(_, job) => QueueFull(job),
            Msg::Stop => unreachable!("only jobs are admitted"),
        };
        if !admit(counter, cap) {
            return Err(hand_back(msg));
        }
        self.tx.send(Envelope::now(msg)).map_err(|e| {
            counter.fetch_sub(1, Ordering::AcqRel);
            hand_back(e.into_inner().msg)
        })
    }
}

struct Timer<J> {
    at: Instant,
    seq: u64,
    job: J,
}

// Min-heap on (at, seq): earliest deadline first, and push order among equal deadlines.
impl<J> Ord for Timer<J> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}
impl<J> PartialOrd for Timer<J> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<J> PartialEq for Timer<J> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<J> Eq for Timer<J> {}

struct Worker<R: JobRunner> {
    runner: R,
    rx: Receiver<Envelope<R::Job>>,
    /// Delayed jobs not yet due; they keep their input slot until they run, so the heap is
    /// bounded by the input capacity.
    timers: BinaryHeap<Timer<R::Job>>,
    timer_seq: u64,
    tick: Option<Duration>,
    /// The pause after a run of jobs (see [`JobQueue::spawn_gathering`]).
    gather: Option<Duration>,
    stats: Arc<JobQueueStats>,
}

impl<R: JobRunner> Worker<R> {
    fn run(mut self) {
        let mut next_tick = self.tick.map(|t| Instant::now() + t);
        // A job ran since the last gathering pause.
        let mut ran = false;
        loop {
            let now = Instant::now();
            if let (Some(due), Some(every)) = (next_tick, self.tick) {
                if now >= due {
                    if self.gather.is_some() {
                        // What waited through the pause belongs before this tick. Only what
                        // is there now: a flood cannot hold the tick back.
                        for _ in 0..self.rx.len() {
                            match self.rx.try_recv() {
                                Ok(envelope) => {
                                    if self.handle(Ok(envelope), now) {
                                        return;
                                    }
                                }
                                Err(_) => break,
                            }
                        }
                    }
                    self.guarded(|r| r.tick(now));
                    // Skip missed ticks rather than firing a burst of them after a stall.
                    let mut next = due + every;
                    if next <= now {
                        next = now + every;
                    }
                    next_tick = Some(next);
                }
            }
            while self.timers.peek().is_some_and(|t| t.at <= now) {
                if let Some(timer) = self.timers.pop() {
                    self.stats.input_waiting.fetch_sub(1, Ordering::AcqRel);
                    self.run_job(timer.job, timer.at);
                }
            }
            let deadline = [next_tick, self.timers.peek().map(|t| t.at)]
                .into_iter()
                .flatten()
                .min();
            // Measured after the tick and timers ran, so their own time does not make the
            // next tick late.
            let now = Instant::now();
            let timeout = deadline.map_or(Duration::from_secs(3600), |d| {
                d.saturating_duration_since(now)
            });
            if let Some(gather) = self.gather {
                if ran && self.rx.is_empty() {
                    ran = false;
                    let pause = gather.min(timeout);
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                    continue;
                }
            }

            let received = self.rx.recv_timeout(timeout);
            ran |= received.is_ok();
            if self.handle(received, now) {
                return;
            }
        }
    }

    /// Handles what the channel gave; true when the thread must stop.
    fn handle(
        &mut self,
        received: Result<Envelope<R::Job>, RecvTimeoutError>,
        now: Instant,
    ) -> bool {
        let pushed = received.as_ref().map_or(now, |e| e.pushed);
        match received.map(|e| e.msg) {
            Ok(Msg::Input(job)) => {
                self.stats.input_waiting.fetch_sub(1, Ordering::AcqRel);
                self.run_job(job, pushed);
            }
            Ok(Msg::Control(job)) => {
                self.stats.control_waiting.fetch_sub(1, Ordering::AcqRel);
                self.run_job(job, pushed);
            }
            Ok(Msg::FollowUp(job)) => {
                self.stats.followups_waiting.fetch_sub(1, Ordering::AcqRel);
                self.run_job(job, pushed);
            }
            Ok(Msg::Remote(job, bytes)) => {
                self.stats.remote_waiting.fetch_sub(1, Ordering::AcqRel);
                self.stats.remote_bytes.fetch_sub(bytes, Ordering::AcqRel);
                self.run_job(job, pushed);
            }
            Ok(Msg::At(at, job)) => {
                self.timer_seq += 1;
                self.timers.push(Timer {
                    at,
                    seq: self.timer_seq,
                    job,
                });
            }
            // Stop, or every handle is gone so nothing can be pushed any more.
            Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => return true,
            Err(RecvTimeoutError::Timeout) => {}
        }
        false
    }

    fn run_job(&mut self, job: R::Job, ready_since: Instant) {
        self.stats.wait.observe(ready_since.elapsed());
        self.guarded(|r| r.run(job));
    }

    /// A panicking job must not take the room down silently: it is logged at error level and
    /// counted, and the queue goes on with the next job. The runner's state is whatever the
    /// job left (memory-safe, possibly mid-update), which is why jobs are kept small.
    fn guarded(&mut self, f: impl FnOnce(&mut R)) {
        self.stats.jobs_run.fetch_add(1, Ordering::Relaxed);
        let runner = &mut self.runner;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| f(runner))) {
            self.stats.panics.fetch_add(1, Ordering::Relaxed);
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".to_owned());
            tracing::error!(panic = %what, "job panicked; the queue continues with the next job");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::Mutex;

    use super::*;

    type Boxed = Box<dyn FnOnce(&mut Log) + Send>;

    #[derive(Default)]
    struct Log {
        entries: Vec<(usize, usize)>,
        ticks: usize,
        tick_times: Vec<Instant>,
        busy: Arc<AtomicBool>,
        overlaps: usize,
    }

    struct Runner(Log);

    impl JobRunner for Runner {
        type Job = Boxed;
        fn run(&mut self, job: Boxed) {
            if self.0.busy.swap(true, Ordering::SeqCst) {
                self.0.overlaps += 1;
            }
            job(&mut self.0);
            self.0.busy.store(false, Ordering::SeqCst);
        }
        fn tick(&mut self, now: Instant) {
            self.0.ticks += 1;
            self.0.tick_times.push(now);
        }
    }

    #[test]
    fn jobs_from_many_threads_run_one_at_a_time_in_per_sender_order() {
        const SENDERS: usize = 8;
        const JOBS: usize = 5_000;
        let (queue, thread) = JobQueue::spawn("test-room", 1024, 16, None, Runner(Log::default()))
            .expect("spawn queue thread");
        // Checked by the jobs themselves, not by the runner: a job that finds another one
        // inside counts an overlap, and every job notes the thread it ran on.
        let inside = Arc::new(AtomicBool::new(false));
        let overlaps = Arc::new(AtomicU64::new(0));
        let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let queue = queue.clone();
                let (inside, overlaps, threads) = (
                    Arc::clone(&inside),
                    Arc::clone(&overlaps),
                    Arc::clone(&threads),
                );
                std::thread::spawn(move || {
                    for i in 0..JOBS {
                        let (inside, overlaps, threads) = (
                            Arc::clone(&inside),
                            Arc::clone(&overlaps),
                            Arc::clone(&threads),
                        );
                        let mut job: Boxed = Box::new(move |log: &mut Log| {
                            if inside.swap(true, Ordering::SeqCst) {
                                overlaps.fetch_add(1, Ordering::SeqCst);
                            }
                            log.entries.push((s, i));
                            threads
                                .lock()
                                .expect("lock")
                                .insert(std::thread::current().id());
                            inside.store(false, Ordering::SeqCst);
                        });
                        // Back-pressure for the test only: retry until the bounded lane has room.
                        loop {
                            match queue.try_push(job) {
                                Ok(()) => break,
                                Err(QueueFull(back)) => {
                                    job = back;
                                    std::thread::yield_now();
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().expect("sender thread");
        }
        // The last job goes down the same input lane, so it runs after everything above.
        let (tx, rx) = std::sync::mpsc::channel();
        let mut last: Boxed = Box::new(move |log: &mut Log| {
            let _ = tx.send(std::mem::take(log));
        });
        while let Err(QueueFull(back)) = queue.try_push(last) {
            last = back;
            std::thread::yield_now();
        }
        let log = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("final job ran");
        queue.stop();
        thread.join();

        assert_eq!(
            log.entries.len(),
            SENDERS * JOBS,
            "every job ran exactly once"
        );
        assert_eq!(log.overlaps, 0, "no two jobs ran at the same time");
        assert_eq!(
            overlaps.load(Ordering::SeqCst),
            0,
            "no job found another one running"
        );
        assert_eq!(
            threads.lock().expect("lock").len(),
            1,
            "every job ran on the queue's one thread"
        );
        let mut next = [0usize; SENDERS];
        for &(s, i) in &log.entries {
            assert_eq!(i, next[s], "sender {s}'s jobs ran out of order");
            next[s] += 1;
        }
    }

    #[test]
    fn every_kind_of_job_keeps_its_sender_order_and_stop_comes_last() {
        let (queue, thread) =
            JobQueue::spawn("order", 16, 1024, None, Runner(Log::default())).expect("spawn");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut expected = Vec::new();
        for round in 0..200 {
            let o = Arc::clone(&order);
            queue
                .try_push_control(Box::new(move |_: &mut Log| {
                    o.lock().expect("lock").push((round, "enter"))
                }))
                .expect("control lane has room");
            let o = Arc::clone(&order);
            let mut job: Boxed =
                Box::new(move |_: &mut Log| o.lock().expect("lock").push((round, "move")));
            while let Err(QueueFull(back)) = queue.try_push(job) {
                job = back;
                std::thread::yield_now();
            }
            let o = Arc::clone(&order);
            queue
                .push_follow_up(Box::new(move |_: &mut Log| {
                    o.lock().expect("lock").push((round, "leave"))
                }))
                .expect("running");
            expected.extend([(round, "enter"), (round, "move"), (round, "leave")]);
        }
        queue.stop();
        thread.join();
        assert_eq!(
            *order.lock().expect("lock"),
            expected,
            "enter, move and leave of each round run in push order, all before the stop"
        );
    }

    #[test]
    fn full_input_lane_hands_the_job_back() {
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(Some(gate_rx));
        let (queue, thread) =
            JobQueue::spawn("full", 2, 2, None, Runner(Log::default())).expect("spawn");
        // Block the worker inside a job so the lane fills up.
        let blocker = gate.lock().expect("lock").take().expect("gate");
        queue
            .try_push_control(Box::new(move |_: &mut Log| {
                let _ = blocker.recv();
            }))
            .expect("running");
        std::thread::sleep(Duration::from_millis(50));
        let mut refused = 0;
        for _ in 0..10 {
            if queue.try_push(Box::new(|_: &mut Log| {})).is_err() {
                refused += 1;
            }
        }
        assert_eq!(
            refused, 8,
            "a lane of 2 takes 2 jobs and hands the other 8 back"
        );
        gate_tx.send(()).expect("release worker");
        queue.stop();
        thread.join();
    }

    #[test]
    fn a_panicking_job_is_counted_and_the_queue_goes_on() {
        let (queue, thread) =
            JobQueue::spawn("panics", 16, 16, None, Runner(Log::default())).expect("spawn");
        queue
            .try_push_control(Box::new(|_: &mut Log| panic!("boom")))
            .expect("running");
        let (tx, rx) = std::sync::mpsc::channel();
        queue
            .try_push_control(Box::new(move |_: &mut Log| {
                let _ = tx.send(());
            }))
            .expect("running");
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the job after the panic still runs");
        assert_eq!(queue.stats().panics.load(Ordering::Relaxed), 1);
        queue.stop();
        thread.join();
    }

    #[test]
    fn timers_and_ticks_fire() {
        let (queue, thread) = JobQueue::spawn(
            "timers",
            16,
            16,
            Some(Duration::from_millis(10)),
            Runner(Log::default()),
        )
        .expect("spawn");
        let (tx, rx) = std::sync::mpsc::channel();
        let started = Instant::now();
        queue
            .try_push_after(
                Duration::from_millis(100),
                Box::new(move |log: &mut Log| {
                    let _ = tx.send((Instant::now(), log.ticks));
                }),
            )
            .map_err(|_| "full")
            .expect("room in lane");
        let (fired, ticks) = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("timer fired");
        assert!(
            fired - started >= Duration::from_millis(100),
            "timer must not fire early"
        );
        assert!(
            ticks >= 3,
            "ticks every 10 ms should have run meanwhile, saw {ticks}"
        );
        queue.stop();
        thread.join();
    }

    #[test]
    fn a_gathering_queue_runs_every_job_and_each_before_the_next_tick_after_its_push() {
        // A long pause next to the tick, so most jobs are pushed while the thread sleeps.
        let (queue, thread) = JobQueue::spawn_gathering(
            "gather",
            100_000,
            16,
            Some(Duration::from_millis(20)),
            Some(Duration::from_millis(15)),
            Runner(Log::default()),
        )
        .expect("spawn");
        let (tx, rx) = std::sync::mpsc::channel();
        const JOBS: usize = 400;
        for i in 0..JOBS {
            let tx = tx.clone();
            let pushed = Instant::now();
            let job: Boxed = Box::new(move |log: &mut Log| {
                // Ticks that started after this job was pushed and before it ran.
                let late = log.tick_times.iter().filter(|&&t| t > pushed).count();
                let _ = tx.send((i, late));
            });
            queue.try_push(job).map_err(|_| "full").expect("room");
            std::thread::sleep(Duration::from_micros(500));
        }
        let mut seen = Vec::new();
        for _ in 0..JOBS {
            let (i, late) = rx
                .recv_timeout(Duration::from_secs(5))
                .expect("every job runs");
            assert_eq!(
                late, 0,
                "job {i} ran after a tick that began after its push"
            );
            seen.push(i);
        }
        assert_eq!(seen, (0..JOBS).collect::<Vec<_>>(), "in push order");
        let jobs_run = queue.stats().jobs_run.load(Ordering::Relaxed);
        assert!(jobs_run >= JOBS as u64);
        queue.stop();
        thread.join();
    }
}
