//! dummy-client's `--login` against an in-process game-server with accounts on (a SQLite file
//! in a temp directory): every bot logs in to its own account, made on first use, and every
//! bot that comes back (a churn rejoin in the room, a churn rejoin within the reconnect grace
//! or the comeback after the window in the world) finds its character where it left.

mod support;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dummy_client::world::{run_world, WorldRunConfig};
use dummy_client::RunConfig;
use game_server::adapters::db::Store;
use game_server::app::AccountsConfig;
use game_server::game::accounts::LoginResult;
use game_server::world::{Spawn, WorldConfig};
use game_server::GameServer;
use support::{small_world, start_server, temp_db};

/// Every login costs an argon2 hash, as many at once as the server has cores, in a debug
/// build on a machine the other tests share: the window waits for them rather than count
/// them late.
const ENTER_TIMEOUT: Duration = Duration::from_secs(30);

async fn accounts(db: &Path) -> AccountsConfig {
    let store = Store::open(db.to_str().expect("utf-8 path"))
        .await
        .expect("the test database opens");
    AccountsConfig::new(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churning_room_bots_log_in_and_come_back_where_they_left() {
    let db = temp_db("login-bots-room");
    let accounts = accounts(&db).await;
    let server = start_server(move |c| {
        c.tick = Duration::from_millis(50);
        c.accounts = Some(accounts);
    })
    .await;
    let bots = |clients, churn_per_sec, secs| RunConfig {
        addr: server.local_addr(),
        clients,
        ramp_per_sec: 2_000,
        duration: Duration::from_secs(secs),
        churn_per_sec,
        rejoin_delay: Duration::from_millis(20),
        enter_timeout: ENTER_TIMEOUT,
        login: Some("Churner".to_owned()),
        status_line: false,
        ..RunConfig::default()
    };
    let report = dummy_client::run(bots(30, 10.0, 3))
        .await
        .unwrap_or_else(|e| panic!("the config is valid: {e}"));
    println!("{report}");

    let (l, c) = (&report.login, &report.churn);
    assert!(
        report.passed,
        "the logged-in churning run should pass:\n{report}"
    );
    assert!(l.enabled);
    assert_eq!(
        (l.refused, l.wrong_player_id),
        (0, 0),
        "every login passed, and named the player its list named:\n{report}"
    );
    assert_eq!(
        l.created, 30,
        "each bot made its account on first use:\n{report}"
    );
    assert_eq!(
        (l.answers.get(&3), l.answers.get(&5)),
        (None, None),
        "a first login creates: no miss, and so no failed-login throttle:\n{report}"
    );
    assert_eq!(
        l.logged_in, report.connected,
        "every connection, first or rejoin, logged in:\n{report}"
    );
    assert_eq!(report.entered, report.connected, "and entered:\n{report}");
    assert!(
        c.rejoins >= 10,
        "about 30 bots should have left and come back:\n{report}"
    );
    assert_eq!(
        (
            l.positions_checked,
            l.positions_unchecked,
            l.position_violations
        ),
        (c.rejoins, 0, 0),
        "every rejoin found its character where it left:\n{report}"
    );
    assert!(
        l.time.samples == l.sent && l.time.p50_us > 0,
        "every login was answered and timed:\n{report}"
    );
    assert_eq!(
        (l.by_token, l.answers.get(&10)),
        (c.rejoins, None),
        "every rejoin logged in by the token its last login was handed:\n{report}"
    );
    let sent = |name| report.sent.packets.get(name).copied().unwrap_or(0);
    assert_eq!(
        (sent("C_Login"), sent("C_LoginToken")),
        (l.sent - c.rejoins, c.rejoins),
        "the traffic counts the logins, by packet"
    );
    assert_eq!(
        report.received.packets.get("S_Login").copied(),
        Some(l.answers.values().sum::<u64>()),
        "every answer is counted as received"
    );
    let stats = server.login_stats().expect("logins on");
    assert_eq!(
        stats.of(LoginResult::Ok),
        l.logged_in,
        "the server agrees on the logins"
    );

    // A second run finds every account: nothing made, every bot in.
    let again = dummy_client::run(bots(30, 0.0, 1))
        .await
        .unwrap_or_else(|e| panic!("the config is valid: {e}"));
    server.shutdown().await;
    let l = &again.login;
    assert!(again.passed, "the second run should pass:\n{again}");
    assert_eq!(
        (l.logged_in, l.created, l.answers.get(&4)),
        (30, 0, Some(&30)),
        "the accounts were there: each create found its name taken, then logged in:\n{again}"
    );
}

/// A world-mode server with logins on the SQLite file `db`, ticking every `tick_ms`.
async fn world_server(db: &Path, world: &WorldConfig, tick_ms: u64) -> GameServer {
    let accounts = accounts(db).await;
    let world = world.clone();
    start_server(move |c| {
        c.tick = Duration::from_millis(tick_ms);
        c.world = Some(world);
        c.accounts = Some(accounts);
    })
    .await
}

/// 40 world bots for `server`'s `world`, all in at once; each test sets the walk and the login.
fn world_bots(server: &GameServer, world: &WorldConfig) -> WorldRunConfig {
    WorldRunConfig {
        addr: server.local_addr(),
        clients: 40,
        ramp_per_sec: 2_000,
        map_size: world.map_size,
        inner_radius: world.inner_radius,
        outer_radius: world.outer_radius,
        max_step: world.max_step,
        enter_timeout: ENTER_TIMEOUT,
        status_line: false,
        ..WorldRunConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn world_bots_log_in_walk_and_come_back_where_they_left() {
    let world = small_world(Spawn::Random { seed: 5 });
    let db = temp_db("login-bots-world");
    let server = world_server(&db, &world, 100).await;
    let bots = WorldRunConfig {
        speed: 6.0,
        lag_allowance: Duration::from_millis(1500),
        duration: Duration::from_secs(2),
        login: Some("Walker".to_owned()),
        ..world_bots(&server, &world)
    };
    let report = run_world(bots.clone())
        .await
        .expect("the run config is valid");
    let stats = server.login_stats().expect("logins on");
    let logins_ok = stats.of(LoginResult::Ok);
    println!("{report}");
    // A second run starts where the first left: each character's y is the number of the
    // last move it made, shown to everyone who sees it spawn, and its moves go on from there.
    let again = run_world(bots).await.expect("the run config is valid");
    server.shutdown().await;
    println!("{again}");

    let l = &report.login;
    assert!(
        report.passed,
        "the logged-in world run should pass:\n{report}"
    );
    assert_eq!(report.entered, 40, "every bot entered");
    assert!(report.moves_sent > 0, "and walked");
    assert_eq!(
        (l.refused, l.wrong_player_id),
        (0, 0),
        "every login passed, and named the player its list named:\n{report}"
    );
    assert_eq!(
        (l.logged_in, l.created),
        (80, 40),
        "each bot made its account, then logged in again after the window:\n{report}"
    );
    assert_eq!(
        (
            l.positions_checked,
            l.positions_unchecked,
            l.position_violations
        ),
        (40, 0, 0),
        "every bot came back where it left:\n{report}"
    );
    assert_eq!(logins_ok, 80, "the server agrees on the logins");

    let l = &again.login;
    assert!(again.passed, "the second world run should pass:\n{again}");
    assert_eq!(
        (
            l.logged_in,
            l.created,
            l.positions_checked,
            l.position_violations
        ),
        (80, 0, 40, 0),
        "the accounts were there, and every bot came back where it left again:\n{again}"
    );
}

/// World bots that drop their connection mid-walk (no `C_LeaveGame`) and log in again by
/// token within the server's reconnect grace: each must be taken back under its old id,
/// listed where it stood, walk on, and be seen by no one to leave or enter, while every
/// move that had to arrive still does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churning_world_bots_are_taken_back_within_the_grace_where_they_stood() {
    // Dense enough that most bots see a few others: a churned bot has watchers.
    let world = WorldConfig {
        map_size: 120.0,
        cell_size: 25.0,
        inner_radius: 20.0,
        outer_radius: 25.0,
        regions: 2,
        max_step: 10.0,
        spawn: Spawn::Random { seed: 9 },
    };
    let db = temp_db("login-bots-world-churn");
    assert!(
        accounts(&db).await.reconnect_grace.is_some(),
        "the server's default keeps a dropped character for a while"
    );
    let server = world_server(&db, &world, 50).await;
    let bots = WorldRunConfig {
        speed: 4.0,
        lag_allowance: Duration::from_secs(1),
        duration: Duration::from_secs(5),
        login: Some("Churner".to_owned()),
        // The churn's logins only, so that the server's counts are the churn's.
        comeback: false,
        churn_per_sec: 6.0,
        ..world_bots(&server, &world)
    };
    let report = run_world(bots).await.expect("the run config is valid");
    let stats = server.login_stats().expect("logins on");
    server.shutdown().await;
    println!("{report}");

    let (l, c) = (&report.login, &report.churn);
    assert!(
        report.passed,
        "the churning world run should pass:\n{report}"
    );
    assert_eq!(report.entered, 40, "every bot entered:\n{report}");
    assert_eq!(
        report.violations.total(),
        0,
        "no violation, parked players never left nor entered again:\n{report}"
    );
    assert!(
        report.required > 0 && report.delivered == report.required,
        "every required move arrived:\n{report}"
    );
    assert!(
        c.enabled && c.drops >= 15,
        "about 6 drops a second over the window:\n{report}"
    );
    assert_eq!(
        (c.rejoins, c.missing),
        (c.drops, 0),
        "every dropped bot came back:\n{report}"
    );
    assert_eq!(
        (
            c.checked,
            c.unchecked,
            c.id_violations,
            c.position_violations
        ),
        (c.rejoins, 0, 0, 0),
        "every rejoin was checked: its old id, where it stood:\n{report}"
    );
    assert_eq!(
        (c.by_token, l.by_token, l.answers.get(&10)),
        (c.rejoins, c.rejoins, None),
        "every rejoin logged in by the token its last login was handed:\n{report}"
    );
    assert_eq!(
        (l.logged_in, l.created, l.refused, l.wrong_player_id),
        (40 + c.rejoins, 40, 0, 0),
        "each bot made its account, and every login passed:\n{report}"
    );
    assert_eq!(
        stats.resumed.load(Ordering::Relaxed),
        c.rejoins,
        "the server took a parked character back for every rejoin"
    );
    assert_eq!(
        stats.of(LoginResult::Ok),
        l.logged_in,
        "the server agrees on the logins"
    );
}
