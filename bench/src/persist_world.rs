//! `bench persist`, world part: N bots walking a world-mode server with persistence off, on
//! SQLite and on PostgreSQL, side by side, `--runs` each, every bot logged in on the
//! database arms (its position written back every checkpoint). Then, once per database, a
//! `kill -9` mid-play, and how much play each character lost against the bound.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dummy_client::world::{run_world, WorldReport, WorldRunConfig};

use crate::admin_watch::{get_metrics, sample};
use crate::server_proc::{free_port, ProcSample, ServerProcess};
use crate::world::map_side;

/// Where a run keeps its characters.
#[derive(Debug, Clone, PartialEq)]
pub enum Arm {
    /// `--login off`.
    Off,
    /// A SQLite file.
    Sqlite(String),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl Arm {
    fn name(&self) -> &'static str {
        match self {
            Arm::Off => "off",
            Arm::Sqlite(_) => "SQLite",
            Arm::Postgres(_) => "PostgreSQL",
        }
    }

    fn db(&self) -> Option<&str> {
        match self {
            Arm::Off => None,
            Arm::Sqlite(db) | Arm::Postgres(db) => Some(db),
        }
    }
}

/// The world part's settings.
pub struct WorldPlan {
    pub clients: usize,
    pub secs: u64,
    pub runs: usize,
    pub arms: Vec<Arm>,
    pub kill_after: Duration,
}

/// One run's figures.
pub struct Row {
    arm: &'static str,
    /// The database is a process of its own (PostgreSQL), or in the server (SQLite), or none.
    db_label: &'static str,
    report: WorldReport,
    server_cpu: f64,
    db_cpu: Option<f64>,
    saves_per_sec: Option<f64>,
    bots_cpu: f64,
}

/// What a kill -9 lost.
pub struct Loss {
    arm: &'static str,
    characters: usize,
    unsaved: usize,
    p50_ms: i64,
    max_ms: i64,
}

const DENSITY: f32 = 20.0;
const INNER: f32 = 40.0;
const OUTER: f32 = 50.0;
/// The server's checkpoint interval (its default).
const CHECKPOINT_SECS: u64 = 5;

fn server_flags(clients: usize, arm: &Arm, admin: SocketAddr) -> Vec<String> {
    let mut flags: Vec<String> = [
        "--world",
        "grid",
        "--map-size",
        &map_side(clients, DENSITY).to_string(),
        "--cell-size",
        &OUTER.to_string(),
        "--inner-radius",
        &INNER.to_string(),
        "--outer-radius",
        &OUTER.to_string(),
        "--regions",
        "2",
        "--max-connections",
        &(clients + 100).to_string(),
        "--admin",
        &admin.to_string(),
        // The world bots stand still, sending nothing, from their enter until the last bot
        // is in; ten thousand logins at argon2's pace take about two minutes, past the
        // default idle timeout (60 s).
        "--idle-timeout-secs",
        "600",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(db) = arm.db() {
        flags.extend(
            [
                "--login",
                "optional",
                "--db",
                db,
                "--save-interval-secs",
                &CHECKPOINT_SECS.to_string(),
            ]
            .iter()
            .map(|s| s.to_string()),
        );
    }
    flags
}

fn bots(plan: &WorldPlan, addr: SocketAddr, arm: &Arm, prefix: &str) -> WorldRunConfig {
    WorldRunConfig {
        addr,
        clients: plan.clients,
        ramp_per_sec: 2000,
        map_size: map_side(plan.clients, DENSITY),
        inner_radius: INNER,
        outer_radius: OUTER,
        speed: 5.0,
        duration: Duration::from_secs(plan.secs),
        min_delivered: 0.999,
        status_line: false,
        // Thousands of logins at the server's argon2 rate (about 85 a second on two cores).
        enter_timeout: Duration::from_secs(600),
        login: arm.db().map(|_| prefix.to_owned()),
        comeback: false,
        ..WorldRunConfig::default()
    }
}

/// CPU seconds so far of every process named `postgres`.
fn postgres_cpu() -> f64 {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    procs
        .flatten()
        .filter(|p| {
            p.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|p| {
            std::fs::read_to_string(p.path().join("comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|p| ProcSample::of(p.file_name().to_string_lossy().parse().ok()?).ok())
        .map(|s| s.cpu_secs)
        .sum()
}

/// One reading: when, the server's CPU, the database's CPU, characters saved so far.
#[derive(Clone, Copy)]
struct Reading {
    at: Instant,
    server: Option<ProcSample>,
    bots: Option<ProcSample>,
    db_cpu: f64,
    saves: Option<f64>,
}

fn read(pid: u32, admin: SocketAddr) -> Reading {
    let metrics = get_metrics(admin).ok();
    Reading {
        at: Instant::now(),
        server: ProcSample::of(pid).ok(),
        bots: ProcSample::this().ok(),
        db_cpu: postgres_cpu(),
        saves: metrics
            .as_deref()
            .and_then(|m| sample(m, "game_saves_total")),
    }
}

/// Runs every arm `runs` times, alternating, then the kill -9 of each database arm.
pub fn run(plan: &WorldPlan) -> Result<(Vec<Row>, Vec<Loss>), Box<dyn std::error::Error>> {
    let mut rows = Vec::new();
    for run in 0..plan.runs {
        for arm in &plan.arms {
            let row = run_one(plan, arm)?;
            eprintln!(
                "run {} {}: p99 {:.0} ms, violations {}, delivered {:.3}%",
                run + 1,
                row.arm,
                row.report.move_rtt_p99_ms,
                row.report.violations.total(),
                row.report.delivered_ratio * 100.0
            );
            rows.push(row);
        }
    }
    let mut losses = Vec::new();
    for arm in plan.arms.iter().filter(|a| a.db().is_some()) {
        losses.push(kill_9(plan, arm)?);
    }
    Ok((rows, losses))
}

fn run_one(plan: &WorldPlan, arm: &Arm) -> Result<Row, Box<dyn std::error::Error>> {
    let admin = free_port()?;
    let flags = server_flags(plan.clients, arm, admin);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = ServerProcess::start(&flags)?;
    let pid = server.pid();
    let readings: Arc<Mutex<Vec<Reading>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (readings, stop) = (Arc::clone(&readings), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let r = read(pid, admin);
                readings.lock().unwrap_or_else(|p| p.into_inner()).push(r);
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let report = runtime.block_on(run_world(bots(plan, server.addr, arm, "w")))?;
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    drop(runtime);
    if !server.stop(Duration::from_secs(30)) {
        eprintln!("warning: game-server did not exit cleanly within 30 s");
    }
    let readings = readings.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let window_start = started + Duration::from_secs_f64(report.ramp_secs);
    let window_end = window_start + Duration::from_secs_f64(report.window_secs);
    // The first reading inside the window and the last: never a moment of the ramp (whose
    // logins are argon2 at full speed) in the figures.
    let a = readings.iter().find(|r| r.at >= window_start).copied();
    let b = readings.iter().rev().find(|r| r.at <= window_end).copied();
    let (mut server_cpu, mut db_cpu, mut saves_per_sec, mut bots_cpu) = (0.0, None, None, 0.0);
    if let (Some(a), Some(b)) = (a, b) {
        let wall = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
        if let (Some(sa), Some(sb)) = (a.server, b.server) {
            server_cpu = sb.cpu_percent_since(&sa);
        }
        if let (Some(ba), Some(bb)) = (a.bots, b.bots) {
            bots_cpu = bb.cpu_percent_since(&ba);
        }
        if matches!(arm, Arm::Postgres(_)) {
            db_cpu = Some(100.0 * (b.db_cpu - a.db_cpu) / wall);
        }
        if let (Some(x), Some(y)) = (a.saves, b.saves) {
            saves_per_sec = Some((y - x) / wall);
        }
    }
    Ok(Row {
        arm: arm.name(),
        db_label: match arm {
            Arm::Off => "-",
            Arm::Sqlite(_) => "in the server",
            Arm::Postgres(_) => "",
        },
        report,
        server_cpu,
        db_cpu,
        saves_per_sec,
        bots_cpu,
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Every bot logged in and walking for `kill_after`, then `kill -9`: how old is each
/// character's saved state?
fn kill_9(plan: &WorldPlan, arm: &Arm) -> Result<Loss, Box<dyn std::error::Error>> {
    let admin = free_port()?;
    let flags = server_flags(plan.clients, arm, admin);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = ServerProcess::start(&flags)?;
    // Accounts of this run alone (made now, saved only by this server), so a character
    // saved by an earlier run cannot pass for one saved by this one.
    let prefix = format!("k{}x", now_ms() / 1000 % 100_000);
    let config = bots(plan, server.addr, arm, &prefix);
    let bots = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(run_world(config)).ok()
    });
    // Wait until every bot plays, then let them play.
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let playing = get_metrics(admin)
            .ok()
            .and_then(|m| sample(&m, "game_characters_playing"));
        if playing.is_some_and(|p| p as usize >= plan.clients) {
            break;
        }
        if Instant::now() > deadline {
            return Err("the bots never all logged in".into());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(plan.kill_after);
    let killed_ms = now_ms();
    server.kill_9();
    let _ = bots.join();
    let ages = saved_ages(arm.db().unwrap_or_default(), &prefix, killed_ms)?;
    let characters = plan.clients;
    let mut ages: Vec<i64> = ages;
    ages.sort_unstable();
    Ok(Loss {
        arm: arm.name(),
        characters,
        unsaved: characters.saturating_sub(ages.len()),
        p50_ms: ages.get(ages.len() / 2).copied().unwrap_or(0),
        max_ms: ages.last().copied().unwrap_or(0),
    })
}

/// For each bot character (accounts `{prefix}0`, `{prefix}1`, ...) saved, how long before `killed_ms` its
/// saved state was taken.
fn saved_ages(
    db: &str,
    prefix: &str,
    killed_ms: i64,
) -> Result<Vec<i64>, Box<dyn std::error::Error>> {
    sqlx::any::install_default_drivers();
    let url = if db.starts_with("postgres") {
        db.to_owned()
    } else {
        format!("sqlite://{db}")
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let pool = sqlx::AnyPool::connect(&url).await?;
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT last_seen_ms FROM characters WHERE account_key LIKE $1")
                .bind(format!("{}%", prefix.to_lowercase()))
                .fetch_all(&pool)
                .await?;
        pool.close().await;
        Ok(rows.into_iter().map(|(t,)| killed_ms - t).collect())
    })
}

/// Prints the tables.
pub fn print(plan: &WorldPlan, rows: &[Row], losses: &[Loss]) {
    println!();
    println!(
        "persist, world: N = {}, density {DENSITY}, radii {INNER}/{OUTER}, 2 regions, window {} s, checkpoint every {CHECKPOINT_SECS} s; database arms: every bot logged in (accounts w0..); CPU over the window only",
        plan.clients, plan.secs
    );
    println!();
    println!("| arm | delivered | violations | move rtt p50 / p99 | server CPU | database CPU | saves/s | bots CPU | errors | verdict |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let w = &r.report;
        println!(
            "| {} | {:.3}% | {} | {:.0} / {:.0} ms | {:.0}% | {} | {} | {:.0}% | {} | {} |",
            r.arm,
            w.delivered_ratio * 100.0,
            w.violations.total(),
            w.move_rtt_p50_ms,
            w.move_rtt_p99_ms,
            r.server_cpu,
            r.db_cpu
                .map_or(r.db_label.to_owned(), |c| format!("{c:.0}%")),
            r.saves_per_sec
                .map_or("-".to_owned(), |s| format!("{s:.0}")),
            r.bots_cpu,
            w.errors,
            if w.passed { "pass" } else { "FAIL" },
        );
    }
    if !losses.is_empty() {
        println!();
        println!(
            "kill -9 after {} s of play (bound: the {CHECKPOINT_SECS} s interval plus the write in flight):",
            plan.kill_after.as_secs()
        );
        println!();
        println!("| database | characters | never saved | play lost p50 | play lost max |");
        println!("|---|---|---|---|---|");
        for l in losses {
            println!(
                "| {} | {} | {} | {:.1} s | {:.1} s |",
                l.arm,
                l.characters,
                l.unsaved,
                l.p50_ms as f64 / 1000.0,
                l.max_ms as f64 / 1000.0
            );
        }
    }
}
