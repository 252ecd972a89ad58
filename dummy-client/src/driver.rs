//! The driver: the one task that connects bots at the ramp rate, ticks every bot's timers,
//! prints the status line and moves the run through its phases, then closes the bots and
//! writes the [`Report`].
//!
//! Bots have no tasks of their own besides their session's I/O task: sending is done here, in
//! one pass over all bots per tick, which costs one timer for the whole run instead of one per
//! bot. The logic it calls ([`Schedule`], [`Phases`], and at the end the accounting that
//! `driver/finish.rs` adds up) is sans-IO.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;
use rand::SeedableRng;
use server_core::{CloseReason, Connector, Packet, SendError, Session};
use tokio::task::{JoinError, JoinSet};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::bot::{Bot, BotShared, RunShared, ID_SLOTS};
use crate::chat;
use crate::churn::ChurnAccounting;
use crate::config::RunConfig;
use crate::error::Error;
use crate::login::{BotNames, LeftAt, LoginRecord, LoginSide, SentPlaces};
use crate::moves::{self, Tag};
use crate::packets::{CChat, CLeaveGame, CPing, CUdpMove, CUdpRequest};
use crate::phase::{Limits, Phase, Phases, Progress};
use crate::report::Report;
use crate::schedule::{Schedule, Timers};
use crate::status::{self, Snapshot};
use crate::udp::{Action, UdpSide};

mod finish;

/// Runs the load test described by `config` to its end and reports what the bots saw.
///
/// Fails only if the configuration is unusable; a run that could not connect a single bot
/// still returns a [`Report`], whose `passed` is false.
pub async fn run(config: RunConfig) -> Result<Report, Error> {
    run_until(config, std::future::pending()).await
}

/// Like [`run`], but `stop` completing ends the window early (Ctrl-C in the binary): the bots
/// drain, close, and the report covers what was measured.
pub async fn run_until<F>(config: RunConfig, stop: F) -> Result<Report, Error>
where
    F: Future<Output = ()>,
{
    config.validate()?;
    let mut driver = Driver::new(config);
    let interrupted = driver.drive(stop).await;
    Ok(driver.finish(interrupted).await)
}

/// One connected bot, as the driver sees it.
struct Slot {
    index: usize,
    session: Arc<Session>,
    shared: Arc<BotShared>,
    timers: Timers,
    /// Window moves queued for this bot.
    window_sent: u64,
    /// Chat lines queued on this connection.
    chats_sent: u64,
    /// The bot had entered the room when the window opened: a receiver to check.
    entered_at_open: bool,
    /// The bot was connected but not yet in the room when the window opened: if it enters
    /// later, that late enter is an error (see `Driver::finish`).
    waiting_at_open: bool,
    /// This connection replaced a bot that left during the window (churn).
    churned_in: bool,
    /// Set once this bot starts leaving the room (churn).
    leave: Option<Leave>,
    /// Its UDP transport, with `--udp`.
    udp: Option<UdpSide>,
    /// The positions it sent, with `--login`: where its character may be when it comes
    /// back (see `login/place.rs`).
    places: Option<Box<SentPlaces>>,
    /// With `--login`, for a rejoin: where the bot's previous connection left its
    /// character, checked against where this one enters at the end of the run.
    comeback: Option<Comeback>,
}

/// Where a rejoining bot's character should be; `left` is `None` when its previous
/// connection's last moves were not all remembered (reported as unchecked).
#[derive(Debug, Clone)]
struct Comeback {
    left: Option<LeftAt>,
}

/// A churning bot on its way out: first it waits for the echo of its last move, then for the
/// server to close it after its `C_LeaveGame` (see `churn.rs` for why in that order).
#[derive(Debug, Clone, Copy)]
struct Leave {
    /// When the current wait began.
    since: Duration,
    /// `C_LeaveGame` is sent; waiting for the close.
    sent: bool,
    /// The wait for the close ran out and the bot closed itself.
    forced: bool,
}

impl Slot {
    /// Disconnected, or closing.
    fn gone(&self) -> bool {
        self.session.is_closed() || self.shared.disconnect.get().is_some()
    }

    /// Window moves this bot received, its own echoes included, over TCP and UDP.
    fn window_received(&self) -> u64 {
        self.shared.window_own.get()
            + self.shared.window_others.get()
            + self.udp.as_ref().map_or(0, |u| u.shared.window_received())
    }

    /// In the room, and with `--udp` bound (or known to stay on TCP).
    fn ready(&self) -> bool {
        self.shared.entered() && self.udp.as_ref().is_none_or(UdpSide::settled)
    }
}

/// What a connect attempt comes back with.
struct Attempt {
    index: usize,
    shared: Arc<BotShared>,
    /// The session, or the cause of the failure (an `io::ErrorKind` name or `timeout`).
    result: Result<Arc<Session>, String>,
    /// A rejoin after a churn leave, not a first connection.
    rejoin: bool,
    /// With `--login`, for a rejoin: where the character should come back.
    comeback: Option<Comeback>,
}

/// The driver's churn bookkeeping.
#[derive(Debug, Default)]
struct Churn {
    /// When the window opened: churn is paced from there.
    window_open: Option<Duration>,
    /// Churn events the pace has allowed so far (a leave, or a skip when no bot could go).
    begun: u64,
    /// Positions in `Driver::bots` of the bots leaving now.
    leaving: Vec<usize>,
    /// (when, bot index, its position check with `--login`) of the rejoins waiting for
    /// their delay.
    rejoins: VecDeque<(Duration, usize, Option<Comeback>)>,
    /// Counts for the report.
    counts: ChurnAccounting,
}

/// Frames the bots queued.
struct SendTotals {
    by_id: [u64; ID_SLOTS],
    bytes: u64,
    /// Packets that could not be encoded or queued on an open session.
    errors: u64,
}

struct Driver {
    config: RunConfig,
    connector: Arc<Connector>,
    run: Arc<RunShared>,
    schedule: Schedule,
    phases: Phases,
    bots: Vec<Slot>,
    /// Connect attempts in flight. Bounded by `max_pending_connects`: when it is full the
    /// ramp waits, so a server that accepts slowly slows the ramp instead of piling up
    /// half-open sockets.
    connecting: JoinSet<Attempt>,
    attempts: usize,
    connect_failures: BTreeMap<String, u64>,
    sent: SendTotals,
    /// Window moves sent per bot index, over all its connections: the sequence number of
    /// its latest window move (see `moves.rs`). A rejoin carries on from here.
    issued: Vec<u32>,
    /// Chat lines sent per bot index, over all its connections: the number of its latest
    /// line (see `chat.rs`).
    chats_issued: Vec<u32>,
    /// `chats_issued` when the window opened: what a whole-window receiver is not owed.
    chats_before_window: Vec<u32>,
    rng: StdRng,
    last_status: Snapshot,
    next_status: Duration,
    /// The last full look at every bot (outside the window), the phase it was taken in, and
    /// when the next is due.
    progress_cache: Option<(Phase, Progress, Duration)>,
    /// Per slot (same index as `bots`), a time before which nothing of it is due: its timers'
    /// earliest when last looked at. A tick reads this packed array, not every slot, to find
    /// the few bots with something to send (at N = 4000, 200 ticks a second).
    due_at: Vec<Duration>,
    max_lag: Duration,
    churn: Churn,
    /// Stops the bots' UDP receive tasks at the end (`--udp`).
    udp_stop: CancellationToken,
    /// With `--login`: the bots' account names, and the run's logins.
    login: Option<(BotNames, Arc<LoginRecord>)>,
}

/// How often the driver looks at every bot to decide the phase, outside the window.
const PROGRESS_EVERY: Duration = Duration::from_millis(50);

/// Bytes one bot reads per syscall. A bot's flush batch is about N x 20 bytes a tick (60 KB
/// at N = 3000): read 4 KB at a time (server-core's default) it took 15 reads, and between
/// them the other bots' reads pushed this bot's per-sender sequence slots out of the cache,
/// so most moves missed on their slot. A large read takes a batch in one or two, and the
/// slots are streamed in once per read (`SenderSeqs::warm`). The bots read through their
/// thread's buffer (`Config::recv_per_thread`), so every read lands in cached memory instead
/// of one of N buffers (128 MB of them at N = 4000 with 32 KB each). Side by side (`bench
/// bots`, medians of 3 runs, at N = 3000 and 4000): a bot's own 32 KB buffer cost 0.99-1.20x
/// of the thread's 64 KB one (1.09x in the middle of five), the thread's 32 KB 1.00-1.05x,
/// and the thread's 128 KB 0.99-1.07x.
pub(crate) const BOT_RECV_BUFFER: usize = 64 * 1024;

impl Driver {
    fn new(config: RunConfig) -> Driver {
        let ping_us = u64::try_from(config.ping_interval.as_micros()).unwrap_or(u64::MAX);
        let net = server_core::Config {
            // The server decides when a bot is idle; a bot only stops when the run does.
            idle_timeout: None,
            // A bot receives whole flush batches (80 KB a tick at N = 4000): leave its socket
            // buffers to the kernel's autotuning rather than the server-side defaults.
            socket_send_buffer: None,
            socket_recv_buffer: None,
            recv_buffer_size: BOT_RECV_BUFFER,
            recv_per_thread: true,
            ..server_core::Config::default()
        };
        Driver {
            schedule: Schedule {
                move_interval: config.move_interval,
                ping_interval: config.ping_interval,
                chat_interval: config.chat_interval,
            },
            phases: Phases::new(Limits {
                window: config.duration,
                enter_timeout: config.enter_timeout,
                drain_timeout: config.drain_timeout,
                drain_quiet: config.drain_quiet,
            }),
            connector: Arc::new(match config.tls.clone() {
                Some(tls) => Connector::new(net).with_tls(tls),
                None => Connector::new(net),
            }),
            run: Arc::new(
                RunShared::new(
                    Instant::now(),
                    ping_us,
                    u64::try_from(config.move_interval.as_micros()).unwrap_or(u64::MAX),
                    config.clients,
                )
                .chatting(config.chat_interval.is_some()),
            ),
            issued: vec![0; config.clients],
            chats_issued: vec![0; config.clients],
            chats_before_window: vec![0; config.clients],
            bots: Vec::with_capacity(config.clients),
            connecting: JoinSet::new(),
            attempts: 0,
            connect_failures: BTreeMap::new(),
            sent: SendTotals {
                by_id: [0; ID_SLOTS],
                bytes: 0,
                errors: 0,
            },
            rng: StdRng::from_entropy(),
            last_status: Snapshot::default(),
            next_status: Duration::from_secs(1),
            progress_cache: None,
            due_at: Vec::new(),
            max_lag: Duration::ZERO,
            churn: Churn::default(),
            udp_stop: CancellationToken::new(),
            // Validated with the config: a prefix that cannot name every bot never gets here.
            login: config
                .login
                .as_deref()
                .and_then(|prefix| BotNames::new(prefix, config.clients).ok())
                .map(|names| (names, Arc::new(LoginRecord::new()))),
            config,
        }
    }

    /// Ticks until the phases say the run is done. Returns true if `stop` cut it short.
    async fn drive<F: Future<Output = ()>>(&mut self, stop: F) -> bool {
        let mut ticker = tokio::time::interval(self.config.resolution);
        // A late tick is not made up with a burst: `Schedule` already skips missed sends.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        tokio::pin!(stop);
        let mut stop_requested = false;
        loop {
            tokio::select! {
                biased;
                _ = &mut stop, if !stop_requested => stop_requested = true,
                Some(joined) = self.connecting.join_next() => self.on_attempt(joined),
                scheduled = ticker.tick() => {
                    self.max_lag = self.max_lag.max(scheduled.elapsed());
                    let now = self.run.start.elapsed();
                    if self.tick(now, stop_requested) == Phase::Done {
                        return stop_requested;
                    }
                }
            }
        }
    }

    fn tick(&mut self, now: Duration, stop: bool) -> Phase {
        let before = self.phases.phase();
        if before == Phase::Ramp && !stop {
            self.ramp(now);
        }
        // The window only needs the clock and a count; the other phases look at every bot.
        let progress = if before == Phase::Window {
            let gone = self.run.disconnected.load(Ordering::Relaxed);
            Progress {
                stop,
                alive: self.bots.len().saturating_sub(gone),
                ..Progress::default()
            }
        } else {
            self.cached_progress(now, before, stop)
        };
        let phase = self.phases.update(now, &progress);
        if before == Phase::Ramp && phase == Phase::Window {
            for slot in &mut self.bots {
                let gone = slot.gone();
                slot.entered_at_open = slot.shared.entered() && !gone;
                slot.waiting_at_open = !slot.shared.entered() && !gone;
            }
            self.churn.window_open = Some(now);
            self.chats_before_window = self.chats_issued.clone();
        }
        if self.config.churn_per_sec > 0.0 {
            if phase == Phase::Window && !stop {
                self.churn_tick(now);
            }
            self.leaves_tick(now, phase == Phase::Window && !stop);
        }
        if phase.sending() {
            self.send_due(now, phase == Phase::Window);
        }
        if now >= self.next_status {
            self.status(now, phase);
        }
        phase
    }

    /// Starts the connect attempts the ramp allows by `now`.
    fn ramp(&mut self, now: Duration) {
        let allowed = (now.as_secs_f64() * f64::from(self.config.ramp_per_sec)) as usize + 1;
        let due = allowed.min(self.config.clients);
        while self.attempts < due && self.connecting.len() < self.config.max_pending_connects {
            let index = self.attempts;
            self.attempts += 1;
            self.connect(index, false, None);
        }
    }

    /// Starts one connect attempt for the bot with this index.
    fn connect(&mut self, index: usize, rejoin: bool, comeback: Option<Comeback>) {
        let shared = Arc::new(BotShared::new());
        let base = self.issued.get(index).copied().unwrap_or(0);
        let mut bot = Bot::new(Arc::clone(&shared), Arc::clone(&self.run), index, base);
        if index == 0 && self.config.churn_per_sec > 0.0 {
            bot = bot.recording_room_order();
        }
        if let Some((names, record)) = &self.login {
            bot = bot.logging_in(LoginSide::new(names, index, Arc::clone(record)));
        }
        let connector = Arc::clone(&self.connector);
        let (addr, timeout) = (self.config.addr, self.config.connect_timeout);
        self.connecting.spawn(async move {
            let result = match tokio::time::timeout(timeout, connector.connect(addr, bot)).await {
                Ok(Ok(session)) => Ok(session),
                Ok(Err(e)) => Err(failure_cause(&e)),
                Err(_) => Err("timeout".to_string()),
            };
            Attempt {
                index,
                shared,
                result,
                rejoin,
                comeback,
            }
        });
    }

    /// Starts the leaves the churn rate allows by `now`, and the rejoins that are due.
    fn churn_tick(&mut self, now: Duration) {
        let Some(open) = self.churn.window_open else {
            return;
        };
        let allowed = (now.saturating_sub(open).as_secs_f64() * self.config.churn_per_sec) as u64;
        while self.churn.begun < allowed {
            self.churn.begun += 1;
            if let Some(pos) = self.pick_leaver() {
                let slot = &mut self.bots[pos];
                slot.shared.leaving.store(true, Ordering::Release);
                slot.leave = Some(Leave {
                    since: now,
                    sent: false,
                    forced: false,
                });
                self.churn.leaving.push(pos);
            }
        }
        while let Some((at, _, _)) = self.churn.rejoins.front() {
            if *at > now {
                break;
            }
            let Some((_, index, comeback)) = self.churn.rejoins.pop_front() else {
                break;
            };
            self.churn.counts.rejoins += 1;
            self.connect(index, true, comeback);
        }
    }

    /// A random bot that may leave now: in the room for a checkable stretch (since before the
    /// window, or since its rejoin), not leaving already, and not bot 0, the reference.
    /// Random tries instead of a scan. Slots of bots that left stay in `bots` (their counters
    /// are part of the report), so after long churn only a fraction qualifies: 64 tries still
    /// find one when a seventh of the slots are live (with odds of 1 in 20,000 of a miss,
    /// which only skips one churn event).
    fn pick_leaver(&mut self) -> Option<usize> {
        for _ in 0..64 {
            let pos = self.rng.gen_range(0..self.bots.len().max(1));
            let slot = self.bots.get(pos)?;
            if slot.index != 0
                && slot.leave.is_none()
                && (slot.entered_at_open || slot.churned_in)
                && slot.shared.entered()
                && !slot.gone()
            {
                return Some(pos);
            }
        }
        None
    }

    /// Moves every leaving bot along: `C_LeaveGame` once its moves are all echoed, then its
    /// membership ends when the server closes it, and a rejoin is queued if `rejoin`.
    fn leaves_tick(&mut self, now: Duration, rejoin: bool) {
        let timeout = self.config.leave_timeout;
        let mut i = 0;
        while i < self.churn.leaving.len() {
            let pos = self.churn.leaving[i];
            let Some(slot) = self.bots.get_mut(pos) else {
                self.churn.leaving.swap_remove(i);
                continue;
            };
            let Some(leave) = slot.leave.as_mut() else {
                self.churn.leaving.swap_remove(i);
                continue;
            };
            let waited = now.saturating_sub(leave.since);
            if let Some(closed) = slot.shared.disconnect.get() {
                // The membership is over. Closed before its C_LeaveGame, or by anything
                // but the server's orderly close after it, is a failed leave.
                if !leave.sent || (!leave.forced && closed.label != "client_closing") {
                    self.churn.counts.leave_failures += 1;
                } else if !leave.forced {
                    self.churn.counts.leaves += 1;
                }
                self.churn.leaving.swap_remove(i);
                // Only a whole-window receiver's record is read at the end; a churned
                // stay's would hold N x 4 bytes per rejoin for nothing.
                drop(std::mem::take(&mut *slot.shared.seen()));
                // Likewise its sent positions, once they have said where it left.
                let places = slot.places.take();
                if rejoin {
                    let at = now + self.config.rejoin_delay;
                    let comeback = places.as_deref().map(|places| {
                        // The session has ended: its last echo is handed over.
                        let login = &slot.shared.login;
                        let echo = login.last_echo.get().copied().flatten();
                        Comeback {
                            left: login
                                .entered_at
                                .get()
                                .and_then(|&entered| places.left_at(entered, echo)),
                        }
                    });
                    self.churn.rejoins.push_back((at, slot.index, comeback));
                }
                continue;
            }
            if !leave.sent {
                // Drained: every move echoed and every ping answered, so that neither is
                // cut short by the close that follows C_LeaveGame.
                let drained = slot.shared.window_own.get() >= slot.window_sent
                    && slot.shared.pongs_outstanding() == 0;
                if drained || waited >= timeout {
                    if !drained {
                        self.churn.counts.leave_failures += 1;
                    }
                    send(&slot.session, &CLeaveGame {}, &mut self.sent);
                    leave.sent = true;
                    leave.since = now;
                }
            } else if !leave.forced && waited >= timeout {
                self.churn.counts.leave_failures += 1;
                leave.forced = true;
                slot.session.disconnect(CloseReason::ServerClosing);
            }
            i += 1;
        }
    }

    fn on_attempt(&mut self, joined: Result<Attempt, JoinError>) {
        let cause = match joined {
            Ok(Attempt {
                index,
                shared,
                result: Ok(session),
                rejoin,
                comeback,
            }) => {
                let now = self.run.start.elapsed();
                // Looked at on the next tick.
                self.due_at.push(Duration::ZERO);
                self.bots.push(Slot {
                    index,
                    session,
                    shared,
                    timers: self.schedule.timers(index, now),
                    window_sent: 0,
                    chats_sent: 0,
                    entered_at_open: false,
                    waiting_at_open: false,
                    churned_in: rejoin,
                    leave: None,
                    udp: self.config.udp.then(UdpSide::new),
                    places: self.login.is_some().then(Box::default),
                    comeback,
                });
                return;
            }
            Ok(Attempt {
                result: Err(cause), ..
            }) => cause,
            // Our connect future has nothing that panics; a panic is still a failed attempt.
            Err(_) => "task_failed".to_string(),
        };
        *self.connect_failures.entry(cause).or_default() += 1;
    }

    /// `progress`, looked at most every `PROGRESS_EVERY` within one phase: it reads every
    /// bot's session and counters, and at one tick in 5 ms and N = 3000 that was most of the
    /// driver's time during the ramp and the drain. A phase change or a stop always looks
    /// afresh, so a stale "drained" can never end a run.
    fn cached_progress(&mut self, now: Duration, phase: Phase, stop: bool) -> Progress {
        match &self.progress_cache {
            Some((at, progress, due)) if *at == phase && now < *due && !stop => *progress,
            _ => {
                let progress = self.progress(stop);
                self.progress_cache = Some((phase, progress, now + PROGRESS_EVERY));
                progress
            }
        }
    }

    fn progress(&self, stop: bool) -> Progress {
        let expected_max: u64 = self.bots.iter().map(|s| s.window_sent).sum();
        let mut p = Progress {
            connects_done: self.attempts == self.config.clients && self.connecting.is_empty(),
            stop,
            drain_complete: true,
            ..Progress::default()
        };
        for slot in &self.bots {
            let gone = slot.gone();
            if !gone {
                p.alive += 1;
                p.entered += usize::from(slot.ready());
            }
            let received = slot.window_received();
            p.window_received += received;
            p.pongs_answered += slot.shared.pongs_answered.get();
            // Every ping of a bot still connected must be answered before the end, or it
            // is counted lost.
            if !gone && slot.shared.pongs_outstanding() > 0 {
                p.drain_complete = false;
            }
            let churned = slot.churned_in || slot.leave.is_some();
            if slot.entered_at_open && !churned && !gone && received < expected_max {
                p.drain_complete = false;
            }
            // A churned bot's receipts end at its last own echo (see `churn.rs`): wait for
            // that, so the run does not close it with its interval still open.
            if churned && !gone && slot.shared.window_own.get() < slot.window_sent {
                p.drain_complete = false;
            }
            // Every chat line of a bot still connected must come back to it before the end:
            // its echo bounds what every whole-window receiver is owed (see `chat.rs`).
            let chats_issued = self.chats_issued.get(slot.index).copied().unwrap_or(0);
            if !gone
                && slot.chats_sent > 0
                && slot.shared.own_chat_echo.get() < u64::from(chats_issued)
            {
                p.drain_complete = false;
            }
            // A bot that rejoined just before the window closed gets the time to enter, or
            // the end of the run would count it as never let in.
            if slot.churned_in && !gone && !slot.shared.entered() {
                p.drain_complete = false;
            }
        }
        p
    }

    /// Sends what each bot's timers say is due.
    fn send_due(&mut self, now: Duration, in_window: bool) {
        let Driver {
            bots,
            schedule,
            rng,
            sent,
            run,
            issued,
            chats_issued,
            udp_stop,
            config,
            due_at,
            login,
            ..
        } = self;
        // A logging-in bot sends nothing but its C_Login until it is in the room (see
        // `login/flow.rs`), nor does a rejoined bot, so that no move of its reaches the room
        // before its enter.
        let wait_for_enter = login.is_some();
        for (slot, due_at) in bots.iter_mut().zip(due_at.iter_mut()) {
            // Only a UDP run reads every slot each tick (its handshake resends on time).
            if let Some(udp) = config.udp.then_some(&mut slot.udp).and_then(Option::as_mut) {
                let base = issued.get(slot.index).copied().unwrap_or(0);
                let at = (slot.index, base);
                let server = config.addr.ip();
                if udp.tick(now, &slot.shared, run, at, server, udp_stop) == Action::RequestTicket
                    && !slot.session.is_closed()
                {
                    send(&slot.session, &CUdpRequest {}, sent);
                }
            }
            if now < *due_at {
                continue;
            }
            *due_at = schedule.earliest(&slot.timers);
            if now < *due_at {
                continue;
            }
            // A leaver sends nothing more; a rejoined or logging-in bot waits until it is in
            // the room.
            if slot.session.is_closed()
                || slot.leave.is_some()
                || ((slot.churned_in || wait_for_enter) && !slot.shared.entered())
            {
                continue;
            }
            let due = schedule.due(&mut slot.timers, now);
            *due_at = schedule.earliest(&slot.timers);
            if due.send_move {
                let seq = issued.get_mut(slot.index);
                // A sequence number is used up only once its move is queued, so that a
                // receiver never waits for one that was not sent.
                let tag = match (&seq, in_window) {
                    (Some(seq), true) => Some(Tag::new(slot.index, **seq + 1)),
                    _ => None,
                };
                if let Some(tag) = tag {
                    // Stamped before it is queued: its echo may come back before `send`
                    // returns. A move that is not queued leaves a stamp no echo will match.
                    let now_us = u64::try_from(run.now_us()).unwrap_or(0);
                    slot.shared.move_clock.sent(tag.seq, now_us);
                    if let Some(udp) = &slot.udp {
                        // Over UDP the echo comes to the UDP side's bot.
                        udp.shared.move_clock.sent(tag.seq, now_us);
                    }
                }
                let mv = moves::random_move(rng, tag);
                let queued = match slot.udp.as_mut().and_then(|u| u.send_move(&mv)) {
                    // Refused by the socket (0 bytes): lost before the wire, like any
                    // datagram; not sent, so no receiver is owed it.
                    Some(bytes) => count(sent, CUdpMove::ID, bytes),
                    None => send(&slot.session, &mv, sent),
                };
                if queued && tag.is_some() {
                    slot.window_sent += 1;
                    if let Some(seq) = seq {
                        *seq += 1;
                    }
                }
                if let (true, Some(places)) = (queued, &mut slot.places) {
                    places.sent([mv.pos_x, mv.pos_y, mv.pos_z]);
                }
            }
            if due.ping {
                // Logged before it is queued: its pong may come back before `send` returns.
                let client_time = slot.shared.pings().on_ping(run.now_us());
                if send(&slot.session, &CPing { client_time }, sent) {
                    slot.shared.pings_sent.incr();
                } else {
                    slot.shared.pings().cancel(client_time);
                }
            }
            if due.chat {
                if let Some(issued) = chats_issued.get_mut(slot.index) {
                    let chat = CChat {
                        message: chat::text(slot.index, *issued + 1),
                    };
                    // The number is used up only once its line is queued, so no receiver
                    // waits for a line that was never sent.
                    if send(&slot.session, &chat, sent) {
                        *issued += 1;
                        slot.chats_sent += 1;
                    }
                }
            }
        }
    }

    fn snapshot(&self, now: Duration) -> Snapshot {
        let mut s = Snapshot {
            at: now,
            sent: self.sent.by_id.iter().sum(),
            errors: self.connect_failures.values().sum::<u64>() + self.sent.errors,
            ..Snapshot::default()
        };
        for slot in &self.bots {
            s.alive += usize::from(!slot.gone());
            s.received += slot.shared.frames_received();
            s.errors += slot.shared.errors();
            if slot.shared.disconnect.get().is_some_and(|d| d.unexpected) {
                s.errors += 1;
            }
        }
        s
    }

    fn status(&mut self, now: Duration, phase: Phase) {
        self.next_status = now + Duration::from_secs(1);
        let rtt = self.run.latency().take_second();
        let echo = self.run.move_echo().take_second();
        let cur = self.snapshot(now);
        if self.config.status_line {
            let line = status::line(
                phase,
                self.config.clients,
                &self.last_status,
                &cur,
                rtt,
                echo,
            );
            eprintln!("{line}");
        }
        self.last_status = cur;
    }
}

/// Encodes `packet` and queues it on `session`. Returns true if it was queued.
fn send<P: Packet>(session: &Session, packet: &P, totals: &mut SendTotals) -> bool {
    let frame = match packet.encode() {
        Ok(frame) => frame,
        Err(e) => {
            tracing::warn!(error = %e, "cannot encode {}", P::NAME);
            totals.errors += 1;
            return false;
        }
    };
    let len = frame.len() as u64;
    match session.send(frame) {
        Ok(()) => {
            if let Some(n) = totals.by_id.get_mut(usize::from(P::ID)) {
                *n += 1;
            }
            totals.bytes += len;
            true
        }
        // Closed: the bot's disconnect is counted where it happened. QueueFull: the session
        // closed itself as a slow consumer, which its `on_disconnected` counts.
        Err(SendError::Closed | SendError::QueueFull) => false,
        // Whatever else `SendError` grows (server-core is adding an encode error) is ours.
        #[allow(unreachable_patterns)]
        Err(e) => {
            tracing::warn!(error = %e, "cannot queue {}", P::NAME);
            totals.errors += 1;
            false
        }
    }
}

/// Counts a packet handed to a socket other than a session's (a UDP datagram) in `totals`;
/// `bytes` 0 means it was not sent. Returns whether it was.
fn count(totals: &mut SendTotals, id: u16, bytes: usize) -> bool {
    if bytes == 0 {
        return false;
    }
    if let Some(n) = totals.by_id.get_mut(usize::from(id)) {
        *n += 1;
    }
    totals.bytes += bytes as u64;
    true
}

/// A connect failure's key in the report: the `io::ErrorKind` name (`ConnectionRefused`), or
/// the OS's message when the kind says nothing (`Too many open files (os error 24)` is an
/// uncategorized kind, and the likeliest failure of a big run on a default fd limit). An
/// error that carries one of its own (a TLS handshake's: `invalid peer certificate:
/// UnknownIssuer`) keeps it after the kind: `InvalidData` alone tells a newcomer nothing.
pub(crate) fn failure_cause(e: &std::io::Error) -> String {
    let kind = format!("{:?}", e.kind());
    match (kind.as_str(), e.get_ref()) {
        ("Other" | "Uncategorized", _) => e.to_string(),
        (_, Some(inner)) => format!("{kind}: {inner}"),
        (_, None) => kind,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use super::failure_cause;

    #[test]
    fn a_connect_failure_keeps_the_message_it_carries() {
        let refused = Error::from(ErrorKind::ConnectionRefused);
        assert_eq!(failure_cause(&refused), "ConnectionRefused");
        let tls = Error::new(
            ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        );
        assert_eq!(
            failure_cause(&tls),
            "InvalidData: invalid peer certificate: UnknownIssuer"
        );
        let fds = Error::from_raw_os_error(24);
        assert_eq!(failure_cause(&fds), fds.to_string());
    }
}
