//! The live map page in a real headless Chromium while bots play: dots appear (one per
//! bot), move, show a player when clicked, and disappear when the bots leave; the counters
//! change. `ADMIN_PAGE_BOTS` (default 40) sets the bots and `ADMIN_SCREENSHOT=path.png`
//! saves a picture of the page mid-run (how docs/admin-page.png is made).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use dummy_client::RunConfig;
use serde_json::Value;

use crate::chromium::{find_or_skip, Browser};
use crate::common::start_with_admin;

/// What the page shows, read from its DOM (nulls until the page has loaded).
const STATE: &str = r#"(() => {
  const text = (id) => { const e = document.getElementById(id); return e ? e.textContent : null; };
  const dots = [...document.querySelectorAll('#dots circle')]
    .map((c) => [Number(c.dataset.id), Number(c.dataset.x), Number(c.dataset.z)]);
  return {
    status: text('status'), players: text('players'), inRate: text('in-rate'),
    outRate: text('out-rate'), p99: text('flush-p99'), shown: text('shown'), dots,
  };
})()"#;

/// The first dot's centre on screen, and its player id.
const FIRST_DOT: &str = r#"(() => {
  const c = document.querySelector('#dots circle');
  const r = c.getBoundingClientRect();
  return { id: Number(c.dataset.id), x: r.x + r.width / 2, y: r.y + r.height / 2 };
})()"#;

fn number(text: &Value) -> f64 {
    text.as_str()
        .unwrap_or("")
        .replace(',', "")
        .trim_start_matches("≤ ")
        .parse()
        .unwrap_or(f64::NAN)
}

fn positions(state: &Value) -> HashMap<i64, (f64, f64)> {
    state["dots"]
        .as_array()
        .map(|dots| {
            dots.iter()
                .map(|d| {
                    (
                        d[0].as_i64().unwrap_or(-1),
                        (d[1].as_f64().unwrap_or(0.0), d[2].as_f64().unwrap_or(0.0)),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Polls the page every 200 ms until `done` holds, for at most `limit`; returns the state.
fn wait_for(
    browser: &mut Browser,
    what: &str,
    limit: Duration,
    mut done: impl FnMut(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let state = browser.eval(STATE);
        if done(&state) {
            return state;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the page should show {what} within {limit:?}; it shows {}",
            serde_json::to_string(&state)
                .unwrap_or_default()
                .chars()
                .take(600)
                .collect::<String>()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Once the bots have left, the page must show no dot and no player.
fn every_dot_goes(mut browser: Browser) {
    tokio::task::block_in_place(|| {
        wait_for(
            &mut browser,
            "no dots once the bots left",
            Duration::from_secs(30),
            |s| positions(s).is_empty() && number(&s["players"]) == 0.0,
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_shows_bots_moving_and_leaving_in_a_real_browser() {
    let Some(chromium) = find_or_skip("the_map_shows_bots_moving_and_leaving_in_a_real_browser")
    else {
        return;
    };
    let bots: usize = std::env::var("ADMIN_PAGE_BOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let screenshot = std::env::var_os("ADMIN_SCREENSHOT").map(PathBuf::from);

    let server = start_with_admin(|_| {}).await;
    let admin = server.admin_addr().expect("admin is on");
    let run = tokio::spawn(dummy_client::run(RunConfig {
        addr: server.local_addr(),
        clients: bots,
        ramp_per_sec: 1000,
        duration: Duration::from_secs(8),
        status_line: false,
        ..RunConfig::default()
    }));

    let url = format!("http://{admin}/");
    let page_checks = tokio::task::block_in_place(|| {
        let mut browser = Browser::launch(&chromium, 1280, 860);
        browser.navigate(&url);

        // Dots appear: one per bot, and the player counter says so.
        let want = bots as f64;
        let first = wait_for(
            &mut browser,
            "a dot per bot",
            Duration::from_secs(40),
            |s| positions(s).len() == bots && number(&s["players"]) == want,
        );
        assert_eq!(first["status"], "live", "the event stream is open");

        // They move, and the packet counters run.
        let before = positions(&first);
        let mut max_in: f64 = 0.0;
        let mut max_out: f64 = 0.0;
        let moved = wait_for(
            &mut browser,
            "dots moving and packets flowing",
            Duration::from_secs(20),
            |s| {
                max_in = max_in.max(number(&s["inRate"]));
                max_out = max_out.max(number(&s["outRate"]));
                let now = positions(s);
                let moved = before
                    .iter()
                    .filter(|(id, p)| now.get(id).is_some_and(|q| q != *p))
                    .count();
                moved >= bots / 2 && max_in > 0.0 && max_out > 0.0
            },
        );
        assert!(
            number(&moved["p99"]).is_finite(),
            "a p99 flush time is shown: {}",
            moved["p99"]
        );
        assert!(
            moved["shown"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("of {bots} players")),
            "the sample line counts every player: {}",
            moved["shown"]
        );
        // Every dot is inside the room's square.
        for (x, z) in positions(&moved).values() {
            assert!(
                (-50.0..=50.0).contains(x) && (-50.0..=50.0).contains(z),
                "dot at ({x}, {z})"
            );
        }

        // A click on a dot shows that player's id and position. The dots are live: one can
        // move (or another move onto its spot) between finding it and the click, so a click
        // that shows another player is tried again, a few times.
        let mut tries = Vec::new();
        let mut shown_right = false;
        for _ in 0..5 {
            let dot = browser.eval(FIRST_DOT);
            browser.click(
                dot["x"].as_f64().unwrap_or(0.0),
                dot["y"].as_f64().unwrap_or(0.0),
            );
            let shown = browser.eval("document.getElementById('player').textContent");
            let id = dot["id"].as_i64().unwrap_or(-1);
            shown_right = shown
                .as_str()
                .unwrap_or("")
                .starts_with(&format!("#{id} at x "));
            tries.push(format!("clicked {id}, shown {shown}"));
            if shown_right {
                break;
            }
        }
        assert!(shown_right, "clicking a player shows it: {tries:?}");
        let selected = browser.eval("document.querySelectorAll('#dots circle.selected').length");
        assert_eq!(selected, 1, "the clicked dot is highlighted");

        if let Some(path) = &screenshot {
            browser.screenshot(path);
        }
        browser
    });
    let report = run.await.expect("bots task").expect("bot config is valid");
    assert!(report.passed, "the bots' run passes:\n{report}");

    // The bots left: every dot goes, the counter drops to zero.
    every_dot_goes(page_checks);
    server.shutdown().await;
}

/// Region and cell lines on the map, by kind.
const LINES: &str = r#"(() => ({
  region: document.querySelectorAll('#lines line.region').length,
  cell: document.querySelectorAll('#lines line.cell').length,
}))()"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_world_map_draws_its_regions_cells_and_walking_players_in_a_real_browser() {
    use dummy_client::world::{run_world, WorldRunConfig};
    use game_server::world::{Spawn, WorldConfig};

    let test = "the_world_map_draws_its_regions_cells_and_walking_players_in_a_real_browser";
    let Some(chromium) = find_or_skip(test) else {
        return;
    };
    let bots: usize = std::env::var("ADMIN_PAGE_BOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let screenshot = std::env::var_os("ADMIN_WORLD_SCREENSHOT").map(PathBuf::from);
    let world = WorldConfig {
        map_size: 200.0,
        cell_size: 25.0,
        inner_radius: 20.0,
        outer_radius: 25.0,
        regions: 4,
        max_step: 10.0,
        spawn: Spawn::Random { seed: 5 },
    };
    let server = crate::support::start_server(|c| {
        c.tick = Duration::from_millis(100);
        c.world = Some(world.clone());
        c.admin = Some(game_server::admin::AdminConfig::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ));
    })
    .await;
    let admin = server.admin_addr().expect("admin is on");
    let run = tokio::spawn(run_world(WorldRunConfig {
        addr: server.local_addr(),
        clients: bots,
        ramp_per_sec: 3000,
        map_size: world.map_size,
        inner_radius: world.inner_radius,
        outer_radius: world.outer_radius,
        speed: 6.0,
        lag_allowance: Duration::from_millis(1500),
        duration: Duration::from_secs(8),
        status_line: false,
        ..WorldRunConfig::default()
    }));

    let url = format!("http://{admin}/");
    let browser = tokio::task::block_in_place(|| {
        let mut browser = Browser::launch(&chromium, 1280, 860);
        browser.navigate(&url);
        let first = wait_for(
            &mut browser,
            "a dot per walking bot",
            Duration::from_secs(40),
            |s| positions(s).len() == bots && number(&s["players"]) == bots as f64,
        );
        let lines = browser.eval(LINES);
        assert_eq!(
            lines["region"], 3,
            "three borders between four regions: {lines}"
        );
        assert_eq!(
            lines["cell"],
            2 * 7,
            "7 cell lines each way on a 200-unit map of 25-unit cells: {lines}"
        );
        // Every dot is on the world's map, and the bots walk.
        for (x, z) in positions(&first).values() {
            assert!(
                (-100.0..=100.0).contains(x) && (-100.0..=100.0).contains(z),
                "dot at ({x}, {z})"
            );
        }
        let before = positions(&first);
        wait_for(&mut browser, "dots walking", Duration::from_secs(20), |s| {
            let now = positions(s);
            before
                .iter()
                .filter(|(id, p)| now.get(id).is_some_and(|q| q != *p))
                .count()
                >= bots / 2
        });
        if let Some(path) = &screenshot {
            browser.screenshot(path);
        }
        browser
    });
    let report = run.await.expect("bots task").expect("bot config is valid");
    assert!(report.passed, "the world run passes:\n{report}");
    every_dot_goes(browser);
    server.shutdown().await;
}
