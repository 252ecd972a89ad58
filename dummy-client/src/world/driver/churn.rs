//! The world driver's churn (`--churn-per-sec` with `--login`): the I/O around
//! [`ChurnPlan`]. It drops the connections the plan picks, connects them again after their
//! pause, checks each rejoin against what its bot left ([`Departure`]), and keeps the
//! dropped connections' states for the end of the run.
//!
//! What the world's checks need from it, and why:
//! - **The accounting** (`required.rs`) requires a move of a receiver only while the plan
//!   says it receives: not from the moment it is picked (its connection goes a lag
//!   allowance later, time enough for what was sent before to reach it) until its new
//!   `S_PlayerList` came. The moves it sent that the rejoin shows were never applied are
//!   owed to no one. What it saw is the union of what its connections saw
//!   ([`Churner::views`]).
//! - **Its watchers** must see it parked: neither leave nor enter again (`parked.rs`).
//! - **Its new connection** is a fresh [`WorldBot`] with a fresh `Checker`, whose stream
//!   must be well formed from its start, and which walks on from where the server listed it.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use server_core::{CloseReason, Connector, Session};
use tokio::task::JoinSet;

use super::walking::Walking;
use crate::login::{BotNames, LoginRecord, LoginSide};
use crate::world::bot::WorldBot;
use crate::world::churn::{ChurnPlan, Step};
use crate::world::churn_report::ChurnReport;
use crate::world::config::WorldRunConfig;
use crate::world::near::Near;
use crate::world::rejoin::Departure;
use crate::world::required::Required;
use crate::world::runs::SeqRuns;
use crate::world::state::{BotState, Shared};

/// How often the driver ticks after the window while bots are still on a trip.
const FINISH_TICK: Duration = Duration::from_millis(5);

/// The driver's world, lent to the churn for one tick.
pub(super) struct World<'a> {
    /// The bots in the world: a rejoin's new session goes here, and its walk goes on from
    /// where the server listed it.
    pub(super) walking: &'a mut [Option<Walking>],
    /// Each bot's current connection; a rejoin puts its new one here.
    pub(super) states: &'a mut [Arc<BotState>],
    /// The bots by cell, and where the driver walked each: a rejoined bot is moved to
    /// where it was listed.
    pub(super) near: &'a mut Near,
    pub(super) walked: &'a mut [(f32, f32)],
    /// The moves owed: a rejoin says which of its bot's moves were never applied.
    pub(super) required: &'a mut Required,
}

/// One bot on its trip.
struct Trip {
    departure: Departure,
    /// Its connection that was dropped, once it was.
    old: Option<Arc<BotState>>,
    /// When its new connection was started.
    rejoin_started: Option<Instant>,
    /// Its new session is the one the driver sends on. Its list may come before the
    /// connect task is joined, and a bot back on its old, closed session would walk with
    /// moves required of others that never left.
    connected: bool,
}

/// The churn of a world run.
pub(super) struct Churner {
    plan: ChurnPlan,
    names: BotNames,
    record: Arc<LoginRecord>,
    connector: Arc<Connector>,
    shared: Arc<Shared>,
    /// The server: with churn the run has one (see `WorldRunConfig::validate`).
    addr: SocketAddr,
    /// The checkers' distance, for the new connections' bots.
    far: f32,
    /// A bot's step and the server's `--max-step`: whether a rejoin must be exactly at a
    /// point the bot sent (see `rejoin.rs`).
    step: f32,
    max_step: f32,
    enter_timeout: Duration,
    /// The longest a trip begun before the end of the window may still take after it: its
    /// lead, its longest pause and a login.
    finish_within: Duration,
    /// Per bot, while it is on a trip.
    trips: Vec<Option<Trip>>,
    /// Every dropped connection, with its bot: at most one per trip, so bounded by the
    /// run's rate and length; read at the end.
    retired: Vec<(usize, Arc<BotState>)>,
    /// Connects of rejoins in flight, at most one per bot.
    connecting: JoinSet<(usize, io::Result<Arc<Session>>)>,
    /// The plan's steps of one tick.
    steps: Vec<Step>,
    /// What it did, for the report.
    pub(super) report: ChurnReport,
}

impl Churner {
    /// The churn of `config` (whose `churn_per_sec` is above 0), with the run's logins.
    pub(super) fn new(
        config: &WorldRunConfig,
        names: BotNames,
        record: Arc<LoginRecord>,
        connector: Arc<Connector>,
        shared: Arc<Shared>,
        far: f32,
    ) -> Churner {
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Churner {
            plan: ChurnPlan::new(
                config.clients,
                config.churn_per_sec,
                us(config.lag_allowance),
                (us(config.rejoin_pause_min), us(config.rejoin_pause_max)),
                // Its own stream: the walks stay the same with churn on or off.
                config.seed ^ 0xC4u64.rotate_left(56),
            ),
            names,
            record,
            connector,
            shared,
            addr: config.addr,
            far,
            step: config.step(),
            max_step: config.max_step,
            enter_timeout: config.enter_timeout,
            finish_within: config.lag_allowance
                + config.rejoin_pause_max
                + config.enter_timeout
                + Duration::from_secs(1),
            trips: (0..config.clients).map(|_| None).collect(),
            retired: Vec::new(),
            connecting: JoinSet::new(),
            steps: Vec::new(),
            report: ChurnReport {
                enabled: true,
                per_sec: config.churn_per_sec,
                ..ChurnReport::default()
            },
        }
    }

    /// True if bot `i` sends moves and pings now.
    #[inline]
    pub(super) fn sends(&self, i: usize) -> bool {
        self.plan.sends(i)
    }

    /// True if bot `i` must receive the moves sent now.
    #[inline]
    pub(super) fn receives(&self, i: usize) -> bool {
        self.plan.receives(i)
    }

    /// Bot `i` sent a move to `at` (`y` its sequence number): noted while it is leaving.
    #[inline]
    pub(super) fn moved(&mut self, i: usize, at: [f32; 3]) {
        if let Some(Some(trip)) = self.trips.get_mut(i) {
            trip.departure.sent(at);
        }
    }

    /// The dropped connections, with their bot.
    pub(super) fn retired(&self) -> impl Iterator<Item = (usize, &Arc<BotState>)> + '_ {
        self.retired.iter().map(|(i, s)| (*i, s))
    }

    /// Does what is due at `now_us` (microseconds since the window opened); with `picking`,
    /// starts new trips at the run's rate.
    pub(super) fn tick(&mut self, now_us: u64, picking: bool, world: &mut World<'_>) {
        self.take_connects(world);
        self.look_at_rejoins(world);
        let mut steps = std::mem::take(&mut self.steps);
        steps.clear();
        {
            let (walking, states) = (&*world.walking, &*world.states);
            // A bot in the world, on a connection still up.
            let can_go = |i: usize| {
                walking[i].as_ref().is_some_and(|w| !w.session.is_closed())
                    && states[i].entered.get().is_some()
                    && states[i].lost.get().is_none()
            };
            self.plan.tick(now_us, picking, can_go, &mut steps);
        }
        for &step in &steps {
            match step {
                Step::Leave(i) => self.leave(i, world),
                Step::Drop(i) => self.drop_connection(i, world),
                Step::Reconnect(i) => self.reconnect(i, world),
            }
        }
        self.steps = steps;
        self.report.skipped = self.plan.skipped();
    }

    /// After the window: ticks until every trip has ended, at most until `deadline`; a bot
    /// still away then did not come back.
    pub(super) async fn finish(&mut self, window_start: Instant, world: &mut World<'_>) {
        let deadline = Instant::now() + self.finish_within;
        while !self.plan.on_trip().is_empty() && Instant::now() < deadline {
            let now_us = u64::try_from(window_start.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.tick(now_us, false, world);
            tokio::time::sleep(FINISH_TICK).await;
        }
        let left: Vec<usize> = self.plan.on_trip().to_vec();
        for i in left {
            self.missing(i, "still away when the run ended", world);
        }
        self.connecting.abort_all();
    }

    /// What each bot that had more than one connection saw, by player id, over all of them
    /// (refused logins' connections aside: what those saw was a guest's, not the bot's).
    pub(super) fn views(
        &self,
        states: &[Arc<BotState>],
    ) -> FxHashMap<usize, FxHashMap<i32, SeqRuns>> {
        let mut views: FxHashMap<usize, FxHashMap<i32, SeqRuns>> = FxHashMap::default();
        let add = |view: &mut FxHashMap<i32, SeqRuns>, state: &BotState| {
            if let (Some(checker), false) = (state.checker.get(), state.login.refused()) {
                for (id, seen) in checker.seen_all() {
                    view.entry(id).or_default().merge(seen);
                }
            }
        };
        for (i, state) in &self.retired {
            add(views.entry(*i).or_default(), state);
        }
        for (&i, view) in views.iter_mut() {
            if let Some(current) = states.get(i) {
                add(view, current);
            }
        }
        views
    }

    /// Bot `i` was picked: it notes its moves from now on.
    fn leave(&mut self, i: usize, world: &mut World<'_>) {
        let Some(&(player_id, _, _)) = world.states[i].entered.get() else {
            return;
        };
        self.trips[i] = Some(Trip {
            departure: Departure::new(player_id, self.step, self.max_step),
            old: None,
            rejoin_started: None,
            connected: false,
        });
    }

    /// Bot `i`'s connection is closed, with no `C_LeaveGame`: the server parks it.
    fn drop_connection(&mut self, i: usize, world: &mut World<'_>) {
        let (Some(Some(trip)), Some(Some(w))) = (self.trips.get_mut(i), world.walking.get(i))
        else {
            return;
        };
        trip.departure.last_seq = w.seq;
        let state = Arc::clone(&world.states[i]);
        // Before the close, so that its end is not a lost session and no watcher hears of
        // a leave before it is known to be parked.
        state.dropped.store(true, Ordering::Release);
        if let Some(parked) = self.shared.parked.get() {
            let (x, z) = world.walked[i];
            parked.park(i, x, z);
        }
        w.session
            .disconnect(CloseReason::ApplicationError("churn: dropped".into()));
        self.report.drops += 1;
        self.retired.push((i, Arc::clone(&state)));
        trip.old = Some(state);
    }

    /// Bot `i` connects again, once its dropped session has ended (its last echo is then
    /// known); until then the plan asks again on the next tick.
    fn reconnect(&mut self, i: usize, world: &mut World<'_>) {
        let Some(Some(trip)) = self.trips.get_mut(i) else {
            return;
        };
        if trip
            .old
            .as_ref()
            .is_some_and(|old| old.login.last_echo.get().is_none())
        {
            return;
        }
        let state = Arc::new(BotState::new());
        // Where it stands, for the distances of what comes before its list says so.
        let (x, z) = world.walked[i];
        state.set_pos(x, z);
        // The login picks up the token its last login was handed.
        let bot = WorldBot::new(Arc::clone(&state), Arc::clone(&self.shared), self.far)
            .logging_in(LoginSide::new(&self.names, i, Arc::clone(&self.record)));
        world.states[i] = state;
        let (connector, addr) = (Arc::clone(&self.connector), self.addr);
        self.connecting
            .spawn(async move { (i, connector.connect(addr, bot).await) });
        trip.rejoin_started = Some(Instant::now());
        self.plan.rejoining(i);
    }

    /// Takes the connects that finished.
    fn take_connects(&mut self, world: &mut World<'_>) {
        while let Some(joined) = self.connecting.try_join_next() {
            match joined {
                Ok((i, Ok(session))) => {
                    if let Some(Some(w)) = world.walking.get_mut(i) {
                        w.session = session;
                    }
                    if let Some(Some(trip)) = self.trips.get_mut(i) {
                        trip.connected = true;
                    }
                }
                Ok((i, Err(e))) => self.missing(i, &format!("reconnect failed: {e}"), world),
                // A connect task has nothing that panics; if one did, its bot is lost with
                // it, and the end of the run counts it still away.
                Err(e) => tracing::warn!(error = %e, "a rejoin's connect task failed"),
            }
        }
    }

    /// Looks at every rejoining bot: in, refused, closed or late.
    fn look_at_rejoins(&mut self, world: &mut World<'_>) {
        let rejoining: Vec<usize> = self
            .plan
            .on_trip()
            .iter()
            .copied()
            .filter(|&i| self.plan.is_rejoining(i))
            .collect();
        for i in rejoining {
            let state = Arc::clone(&world.states[i]);
            let connected = self.trips[i].as_ref().is_some_and(|t| t.connected);
            if state.entered.get().is_some() {
                if connected {
                    self.back(i, &state, world);
                }
            } else if state.login.refused() {
                // Counted by the logins (an error there); its flight is owed to no one.
                self.end(i, world);
                self.plan.gone(i);
            } else if state.checker.get().is_some() {
                let why = state.lost.get().map_or("closed", String::as_str).to_owned();
                self.missing(
                    i,
                    &format!("its new connection ended before its S_PlayerList: {why}"),
                    world,
                );
            } else if self.trips[i]
                .as_ref()
                .and_then(|t| t.rejoin_started)
                .is_some_and(|at| at.elapsed() > self.enter_timeout)
            {
                self.missing(i, "no S_PlayerList within the enter timeout", world);
            }
        }
    }

    /// Bot `i`'s new connection got its list: checks it, and walks on from there.
    fn back(&mut self, i: usize, state: &BotState, world: &mut World<'_>) {
        // Its list set `entered_at` (its own entry) before `entered`, on the same task.
        let (Some(&(player_id, x, z)), Some(&at), Some(trip)) = (
            state.entered.get(),
            state.login.entered_at.get(),
            self.trips[i].take(),
        ) else {
            self.missing(i, "listed, but its own entry was not noted", world);
            return;
        };
        let old = trip.old.as_deref();
        let entered = old.and_then(|o| o.login.entered_at.get().copied());
        let echo = old.and_then(|o| o.login.last_echo.get().copied().flatten());
        let left = entered.and_then(|entered| trip.departure.left_at(entered, echo));
        let verdict = trip.departure.check(left.as_ref(), player_id, at);
        let who = format!("bot {i} ({})", self.names.name(i));
        let by_token = state.login.by_token.get().copied().unwrap_or(false);
        self.report.rejoined(&who, by_token, &verdict, || {
            left.as_ref().map_or_else(String::new, |l| l.describe(at))
        });
        if let Some((first, last)) = verdict.unapplied {
            world.required.unapplied(i, first, last);
        }
        // It walks on from where the server has it.
        if let Some(Some(w)) = world.walking.get_mut(i) {
            w.walker.x = x;
            w.walker.z = z;
        }
        world.near.relocate(i as u32, world.walked[i], (x, z));
        world.walked[i] = (x, z);
        state.set_pos(x, z);
        if let Some(parked) = self.shared.parked.get() {
            parked.unpark(i);
        }
        self.plan.back(i);
    }

    /// Bot `i` did not come back, for `why`.
    fn missing(&mut self, i: usize, why: &str, world: &mut World<'_>) {
        let who = format!("bot {i} ({})", self.names.name(i));
        self.report.missing(&who, why);
        self.end(i, world);
        self.plan.gone(i);
    }

    /// Ends bot `i`'s trip with no rejoin: the moves it had in flight are not known to have
    /// been applied, so no one is owed them; its watchers may see it leave when the grace
    /// runs out.
    fn end(&mut self, i: usize, world: &mut World<'_>) {
        if let Some(trip) = self.trips[i].take() {
            let old = trip.old.as_deref();
            let entered = old.and_then(|o| o.login.entered_at.get().copied());
            let echo = old.and_then(|o| o.login.last_echo.get().copied().flatten());
            if let Some((first, last)) = trip.departure.unconfirmed(entered, echo) {
                world.required.unapplied(i, first, last);
                self.report.moves_unapplied += u64::from(last - first) + 1;
            }
        }
        if let Some(parked) = self.shared.parked.get() {
            parked.unpark(i);
        }
    }
}
