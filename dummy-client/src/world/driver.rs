//! The world-mode run: connect the bots, walk them, note which moves each receiver must get,
//! drain, and compare with what every bot's [`Checker`](super::checker::Checker) saw.
//!
//! The driver sends every move itself, so it knows where every bot is when any bot moves:
//! a move is **required** for each receiver that is then within `inner - slack` of the new
//! position (`slack = speed x lag_allowance`, the distance a receiver may have walked since
//! the position the server knows). Requirements are kept as runs of sequence numbers per
//! (receiver, sender) pair, by the sender while they last (`required.rs`), and so are the
//! receivers' observations, so a 10,000-bot run holds a few numbers per pair, not one per
//! move.
//!
//! With churn (`driver/churn.rs`), bots drop their connection and take their character back
//! during the window: a bot on such a trip is no receiver, its moves stop while it is away,
//! and each rejoin is checked against where it left.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;
use rustc_hash::FxHashMap;
use server_core::{Connector, Packet, Session};
use tokio::task::JoinSet;

use crate::error::Error;
use crate::login::{BotNames, LeftAt, LoginRecord, LoginSide};
use crate::packets::{CMove, CPing};
use crate::world::bot::WorldBot;
use crate::world::cadence::{Cadence, Due};
use crate::world::checker::seq_of;
use crate::world::comeback::{come_back, Leaver, Outcome};
use crate::world::config::WorldRunConfig;
use crate::world::near::Near;
use crate::world::parked::Parked;
use crate::world::report::WorldReport;
use crate::world::required::Required;
use crate::world::runs::SeqRuns;
use crate::world::state::{BotState, Senders, Shared};
use crate::world::timings::Timing;
use crate::world::walk::Walker;

mod churn;
mod walking;

use churn::{Churner, World};
use walking::Walking;

/// Bytes one bot reads per syscall, through its worker thread's buffer
/// (`Config::recv_per_thread`, as the room bots read): a bot's reads then land in memory
/// that is already cached instead of in one of N buffers of its own (40 MB of them at
/// N = 10,000 with the default 4 KiB), and a session keeps only the partial frame a read
/// left. A bot receives its neighbourhood's moves once a tick, a few hundred bytes, so a
/// read rarely fills even the default; a crowded spot's burst of spawns takes a few reads.
const BOT_RECV_BUFFER: usize = 16 * 1024;

/// Every connection's state: each bot's current one, then those churn dropped.
fn connections<'a>(
    states: &'a [Arc<BotState>],
    churn: Option<&'a Churner>,
) -> impl Iterator<Item = (usize, &'a Arc<BotState>)> + 'a {
    states
        .iter()
        .enumerate()
        .chain(churn.into_iter().flat_map(Churner::retired))
}

/// Runs a world-mode load test against `config.addr`.
pub async fn run_world(config: WorldRunConfig) -> Result<WorldReport, Error> {
    config.validate()?;
    let shared = Arc::new(Shared::new());
    let connector = Arc::new(Connector::new(server_core::Config {
        idle_timeout: None,
        connect_timeout: config.connect_timeout,
        recv_buffer_size: BOT_RECV_BUFFER,
        recv_per_thread: true,
        ..server_core::Config::default()
    }));
    let far = config.outer_radius + config.slack();
    let mut report = WorldReport {
        clients: config.clients,
        map_size: config.map_size,
        inner_radius: config.inner_radius,
        outer_radius: config.outer_radius,
        speed: config.speed,
        ..WorldReport::default()
    };
    let mut errors: Vec<String> = Vec::new();
    let run_start = Instant::now();
    // With --login: the bots' account names, and the run's logins (validated above).
    let login = config
        .login
        .as_deref()
        .and_then(|prefix| BotNames::new(prefix, config.clients).ok())
        .map(|names| (names, Arc::new(LoginRecord::new())));

    // Connect at the ramp rate, a slice every 10 ms.
    let mut states: Vec<Arc<BotState>> = (0..config.clients)
        .map(|_| Arc::new(BotState::new()))
        .collect();
    let mut sessions: Vec<Option<Arc<Session>>> = vec![None; config.clients];
    let mut connecting = JoinSet::new();
    let per_slice = (config.ramp_per_sec as f64 / 100.0).max(1.0);
    let ramp_start = Instant::now();
    for (i, state) in states.iter().enumerate() {
        let due = ramp_start + Duration::from_secs_f64((i as f64 / per_slice).floor() / 100.0);
        tokio::time::sleep_until(due.into()).await;
        let mut bot = WorldBot::new(Arc::clone(state), Arc::clone(&shared), far);
        if let Some((names, record)) = &login {
            bot = bot.logging_in(LoginSide::new(names, i, Arc::clone(record)));
        }
        let (connector, addr) = (Arc::clone(&connector), config.addr_of(i));
        state.server.store(
            (i % (1 + config.also_addrs.len())) as u32,
            Ordering::Relaxed,
        );
        connecting.spawn(async move { (i, connector.connect(addr, bot).await) });
    }
    while let Some(joined) = connecting.join_next().await {
        match joined {
            Ok((i, Ok(session))) => sessions[i] = Some(session),
            Ok((i, Err(e))) => errors.push(format!("bot {i}: connect failed: {e}")),
            Err(e) => errors.push(format!("connect task failed: {e}")),
        }
    }
    report.connected = sessions.iter().flatten().count();

    // Wait for every connected bot's S_PlayerList (but a refused login's, which never
    // comes).
    let deadline = Instant::now() + config.enter_timeout;
    while Instant::now() < deadline
        && sessions
            .iter()
            .zip(&states)
            .any(|(s, st)| s.is_some() && st.entered.get().is_none() && !st.login.refused())
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut rng = StdRng::seed_from_u64(config.seed);
    let half = config.map_size / 2.0;
    let mut walking: Vec<Option<Walking>> = Vec::with_capacity(config.clients);
    let mut near = Near::new(config.map_size, config.inner_radius.max(1.0));
    // Where each bot is, as the driver walked it: the same as its `BotState::pos`, kept
    // here in one flat array for the requirement checks of every move, which read the
    // positions of the mover's neighbours.
    let mut walked: Vec<(f32, f32)> = vec![(0.0, 0.0); config.clients];
    for (i, (session, state)) in sessions.iter().zip(&states).enumerate() {
        match (session, state.entered.get()) {
            (Some(session), Some(&(player_id, x, z))) => {
                near.insert(i as u32, x, z);
                state.set_pos(x, z);
                walked[i] = (x, z);
                // A character that was saved after a move carries that move's number in
                // its y, and shows it to everyone who sees it spawn: its moves go on from
                // there, so that no receiver takes the old move for a new one.
                let first_seq = if login.is_some() {
                    state.login.entered_at.get().and_then(|p| seq_of(p[1]))
                } else {
                    None
                };
                walking.push(Some(Walking {
                    walker: Walker::new(x, z, half, &mut rng),
                    seq: first_seq.unwrap_or(0),
                    player_id,
                    session: Arc::clone(session),
                }));
            }
            // A refused login is counted as that (see `login/`).
            (Some(_), None) if state.login.refused() => walking.push(None),
            (Some(_), None) => {
                errors.push(format!("bot {i}: no S_PlayerList within the enter timeout"));
                walking.push(None);
            }
            (None, _) => walking.push(None),
        }
    }
    report.entered = walking.iter().flatten().count();
    let ids = || {
        walking
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.as_ref().map(|w| (w.player_id, i)))
    };
    // With churn (validated: with logins, on one server): the bots' watchers look their
    // parked neighbours up by id, and the churn drops and takes back connections.
    let mut churn = match &login {
        Some((names, record)) if config.churn_per_sec > 0.0 => {
            let kept = config.inner_radius - config.slack();
            let _ = shared.parked.set(Parked::new(ids(), config.clients, kept));
            Some(Churner::new(
                &config,
                names.clone(),
                Arc::clone(record),
                Arc::clone(&connector),
                Arc::clone(&shared),
                far,
            ))
        }
        _ => None,
    };
    if !config.also_addrs.is_empty() {
        let _ = shared.senders.set(Senders::new(ids(), states.clone()));
    }
    // The stripe of an x, as the server cuts the map (for the hand-off round trips).
    let stripe = |x: f32| -> usize {
        let n = config.regions.max(1);
        let k = ((x.clamp(-half, half) + half) / (config.map_size / n as f32)).floor() as usize;
        k.min(n - 1)
    };

    // The window: every bot moves every move_interval and pings every ping_interval,
    // staggered so the sends spread over the interval (see `cadence.rs`).
    let mut cadence = Cadence::new(
        walking.len(),
        u64::try_from(config.move_interval.as_micros()).unwrap_or(u64::MAX),
        u64::try_from(config.ping_interval.as_micros()).unwrap_or(u64::MAX),
    );
    // The moves each receiver must get, kept by sender (see `required.rs`).
    let mut required = Required::new(walking.len());
    // The receivers of one move, sorted for `Required::on_move`.
    let mut receivers: Vec<u32> = Vec::new();
    let step = config.step();
    let need = config.inner_radius - config.slack();
    let need2 = need * need;
    // Over every connection, dropped ones too, so that the sums only grow.
    let count_view = |states: &[Arc<BotState>], churn: Option<&Churner>| {
        connections(states, churn).fold((0u64, 0u64), |(s, d), (_, st)| {
            (s + st.spawns.get(), d + st.despawns.get())
        })
    };
    let frames = |states: &[Arc<BotState>], churn: Option<&Churner>| {
        connections(states, churn)
            .map(|(_, st)| st.frames.get())
            .sum::<u64>()
    };
    let view_before = count_view(&states, churn.as_ref());
    let window_start = Instant::now();
    report.ramp_secs = window_start.duration_since(run_start).as_secs_f64();
    let mut ticker = tokio::time::interval(Duration::from_millis(5));
    let mut next_status = Duration::from_secs(1);
    loop {
        ticker.tick().await;
        let elapsed = window_start.elapsed();
        if elapsed >= config.duration {
            break;
        }
        let now_us = elapsed.as_micros() as u64;
        if let Some(churn) = &mut churn {
            let mut world = World {
                walking: &mut walking,
                states: &mut states,
                near: &mut near,
                walked: &mut walked,
                required: &mut required,
            };
            churn.tick(now_us, true, &mut world);
        }
        while let Some((_, kind, i)) = cadence.next(now_us) {
            // A bot away on a churn trip sends nothing: the others see it stand still.
            if churn.as_ref().is_some_and(|c| !c.sends(i)) {
                continue;
            }
            let Some(w) = walking[i].as_mut() else {
                continue;
            };
            match kind {
                Due::Ping => {
                    let ping = CPing {
                        client_time: shared.now_us(),
                    };
                    if let Ok(frame) = ping.encode() {
                        let _ = w.session.send(frame);
                    }
                }
                Due::Move => {
                    let from = (w.walker.x, w.walker.z);
                    let (x, z) = w.walker.step(step, &mut rng);
                    w.seq += 1;
                    if config.regions > 1 && stripe(from.0) != stripe(x) {
                        // The next move is the new owner's first.
                        states[i].handoff_probe.store(w.seq + 1, Ordering::Relaxed);
                    }
                    let frame = CMove {
                        pos_x: x,
                        pos_y: w.seq as f32,
                        pos_z: z,
                    }
                    .encode();
                    if let Ok(frame) = frame {
                        states[i].sent(w.seq, u64::try_from(shared.now_us()).unwrap_or(0));
                        if w.session.send(frame).is_ok() {
                            report.moves_sent += 1;
                        }
                    }
                    states[i].set_pos(x, z);
                    walked[i] = (x, z);
                    near.relocate(i as u32, from, (x, z));
                    if let Some(churn) = &mut churn {
                        churn.moved(i, [x, w.seq as f32, z]);
                    }
                    receivers.clear();
                    let churn = churn.as_ref();
                    near.around(x, z, need, |r| {
                        // A bot on a churn trip is owed nothing until its new list came.
                        if r as usize == i || churn.is_some_and(|c| !c.receives(r as usize)) {
                            return;
                        }
                        let (rx, rz) = walked[r as usize];
                        if (rx - x).powi(2) + (rz - z).powi(2) <= need2 {
                            receivers.push(r);
                        }
                    });
                    receivers.sort_unstable();
                    required.on_move(i, w.seq, &receivers);
                }
            }
        }
        if config.status_line && elapsed >= next_status {
            next_status += Duration::from_secs(1);
            eprintln!(
                "[{:>3}s] moves sent {} frames received {}",
                elapsed.as_secs(),
                report.moves_sent,
                frames(&states, churn.as_ref())
            );
        }
    }
    report.window_secs = window_start.elapsed().as_secs_f64();
    let view_after = count_view(&states, churn.as_ref());

    // The trips under way go to their end (nothing more is sent, so nothing more is
    // required): every dropped bot must be back before the drain.
    if let Some(churn) = &mut churn {
        let mut world = World {
            walking: &mut walking,
            states: &mut states,
            near: &mut near,
            walked: &mut walked,
            required: &mut required,
        };
        churn.finish(window_start, &mut world).await;
    }

    // Drain: until nothing arrives for drain_quiet, at most drain_timeout.
    let drain_end = Instant::now() + config.drain_timeout;
    let mut last = frames(&states, churn.as_ref());
    let mut quiet_since = Instant::now();
    while Instant::now() < drain_end && quiet_since.elapsed() < config.drain_quiet {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = frames(&states, churn.as_ref());
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
    shared.closing.store(true, Ordering::Release);
    connector.shutdown().await;

    for (r, state) in connections(&states, churn.as_ref()) {
        if let Some(lost) = state.lost.get() {
            errors.push(format!("bot {r}: session lost: {lost}"));
        }
        // Every session has ended (`shutdown` waited for it, and a churn drop before it)
        // and handed its checker over; a bot that never connected has none, and received
        // nothing.
        match state.checker.get() {
            // A refused login's connection was the server's guest, not the bot: what it
            // saw is not the bot's view (the refusal is its error).
            Some(_) if state.login.refused() => {}
            Some(checker) => {
                report.violations.add(&checker.violations);
                report.moves_received += checker.received.moves;
                let got = &checker.received;
                for (sum, n) in report.monster_frames.iter_mut().zip([
                    got.monster_spawns,
                    got.monster_moves,
                    got.monster_despawns,
                ]) {
                    *sum += n;
                }
            }
            // A connection that entered the world always hands its checker over; if one
            // did not, what it saw cannot be counted, and the run must not pass on that
            // silence.
            None if state.entered.get().is_some() => {
                errors.push(format!(
                    "bot {r}: entered but its checker was never handed over"
                ));
            }
            None => {}
        }
    }
    // A bot with several connections saw what any of them saw.
    let views: FxHashMap<usize, FxHashMap<i32, SeqRuns>> =
        churn.as_ref().map(|c| c.views(&states)).unwrap_or_default();
    let tally = required.tally(
        |sender| walking[sender].as_ref().map_or(0, |w| w.player_id),
        |receiver, sender| match views.get(&receiver) {
            Some(view) => view.get(&sender),
            None => {
                let checker = states.get(receiver).and_then(|s| s.checker.get());
                checker.and_then(|c| c.seen(sender))
            }
        },
    );
    report.required = tally.required;
    report.delivered = tally.delivered;
    let secs = report.window_secs.max(1e-3);
    report.spawns_per_sec = (view_after.0 - view_before.0) as f64 / secs;
    report.despawns_per_sec = (view_after.1 - view_before.1) as f64 / secs;
    report.delivered_ratio = if report.required == 0 {
        1.0
    } else {
        report.delivered as f64 / report.required as f64
    };
    {
        // Complete: every session added its held samples in as it ended.
        let timings = shared.timings();
        let rtt = timings.of(Timing::Rtt);
        report.pongs = rtt.len();
        report.rtt_p50_ms = rtt.value_at_quantile(0.5) as f64 / 1000.0;
        report.rtt_p99_ms = rtt.value_at_quantile(0.99) as f64 / 1000.0;
        report.rtt_max_ms = rtt.max() as f64 / 1000.0;
        let echo = timings.of(Timing::Echo);
        report.move_rtt_p50_ms = echo.value_at_quantile(0.5) as f64 / 1000.0;
        report.move_rtt_p99_ms = echo.value_at_quantile(0.99) as f64 / 1000.0;
        let handoff = timings.of(Timing::Handoff);
        report.handoff_moves = handoff.len();
        report.handoff_rtt_p50_ms = handoff.value_at_quantile(0.5) as f64 / 1000.0;
        report.handoff_rtt_p99_ms = handoff.value_at_quantile(0.99) as f64 / 1000.0;
        for (kind, out) in [
            (Timing::DeliverySame, &mut report.delivery_same),
            (Timing::DeliveryCross, &mut report.delivery_cross),
        ] {
            let h = timings.of(kind);
            *out = [
                h.len() as f64,
                h.value_at_quantile(0.5) as f64 / 1000.0,
                h.value_at_quantile(0.99) as f64 / 1000.0,
            ];
        }
    }
    if let (Some((names, record)), false) = (&login, config.comeback) {
        report.login = record.report(names.prefix());
    } else if let Some((names, record)) = &login {
        // Every bot in the world has left (`shutdown` closed it): each logs in again and
        // must find its character where it left.
        let leavers = walking
            .iter()
            .enumerate()
            .filter_map(|(index, w)| {
                let w = w.as_ref()?;
                let state = &states[index];
                let entered = *state.login.entered_at.get()?;
                let echo = state.login.last_echo.get().copied().flatten();
                let left = LeftAt::world(entered, echo, w.seq, config.max_step);
                Some(Leaver { index, left })
            })
            .collect();
        let outcomes = come_back(&config, names, record, leavers).await;
        let mut logins = record.report(names.prefix());
        for outcome in outcomes {
            match outcome {
                Outcome::Back { who, left, at } => logins.check_position(&who, Some(&left), at),
                Outcome::Refused => {}
                Outcome::Missing(why) => errors.push(why),
            }
        }
        report.login = logins;
    }
    if let Some(churn) = churn {
        report.churn = churn.report;
    }
    report.errors = errors.len() as u64;
    errors.truncate(10);
    report.error_examples = errors;
    report.passed = report.errors == 0
        && report.violations.total() == 0
        && report.login.errors() == 0
        && report.churn.errors() == 0
        && report.delivered_ratio >= config.min_delivered;
    Ok(report)
}
