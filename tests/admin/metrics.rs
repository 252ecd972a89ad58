//! `/metrics` scraped before, while and after bots play: the counters move, agree with the
//! server's own totals, and follow the Prometheus naming conventions.

use std::net::SocketAddr;
use std::time::Duration;

use dummy_client::RunConfig;

use crate::common::start_with_admin;
use crate::exposition::{parse, sum, value, Family};
use crate::http::get;
use crate::support::eventually;

async fn scrape(addr: SocketAddr) -> std::collections::HashMap<String, Family> {
    let resp = get(addr, "/metrics", None).await;
    assert_eq!(resp.status, 200, "/metrics answers 200: {}", resp.body);
    assert!(
        resp.header_values("content-type")
            .iter()
            .any(|v| v.starts_with("application/openmetrics-text")),
        "served as OpenMetrics text, which Prometheus negotiates"
    );
    parse(&resp.body)
}

/// Every family follows the conventions: counters end in `_total`, a unit is the name's
/// suffix and a base unit, histograms have cumulative buckets ending at +Inf = count.
fn check_conventions(families: &std::collections::HashMap<String, Family>) {
    for (name, family) in families {
        assert!(family.help, "{name} has a HELP line");
        assert!(
            !["_milliseconds", "_ms", "_kilobytes", "_mib", "_percent"]
                .iter()
                .any(|bad| name.contains(bad)),
            "{name} uses a base unit"
        );
        if let Some(unit) = &family.unit {
            assert!(
                ["seconds", "bytes"].contains(&unit.as_str()),
                "{name}: base units only, not {unit}"
            );
            assert!(
                name.ends_with(&format!("_{unit}")),
                "{name} ends with its unit"
            );
        }
        assert!(
            !family.samples.is_empty() || family.kind == "counter",
            "{name} has samples"
        );
        match family.kind.as_str() {
            "counter" => {
                for s in &family.samples {
                    assert_eq!(
                        s.name,
                        format!("{name}_total"),
                        "a counter's sample ends in _total"
                    );
                    assert!(s.value >= 0.0);
                }
            }
            "gauge" => {
                for s in &family.samples {
                    assert_eq!(&s.name, name);
                }
            }
            "histogram" => {
                // A latency in seconds, or a count of things (`_size`, no unit).
                assert!(
                    name.ends_with("_seconds") || name.ends_with("_size"),
                    "latency histograms are in seconds, size histograms say so: {name}"
                );
                let mut last = 0.0;
                let mut inf = None;
                for s in family
                    .samples
                    .iter()
                    .filter(|s| s.name.ends_with("_bucket"))
                {
                    assert!(s.value >= last, "{name}: buckets are cumulative");
                    last = s.value;
                    if s.labels.iter().any(|(k, v)| k == "le" && v == "+Inf") {
                        inf = Some(s.value);
                    }
                }
                let count = family
                    .samples
                    .iter()
                    .find(|s| s.name.ends_with("_count"))
                    .map(|s| s.value);
                assert!(
                    inf.is_some() && inf == count,
                    "{name}: le=+Inf equals _count"
                );
            }
            other => panic!("{name}: unexpected type {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_while_bots_play_and_follow_the_conventions() {
    let server = start_with_admin(|_| {}).await;
    let admin = server.admin_addr().expect("admin is on");

    let before = scrape(admin).await;
    check_conventions(&before);
    assert_eq!(value(&before, "game_sessions_accepted_total", &[]), 0.0);
    for name in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "game_send_queue_bytes",
        "game_send_queue_max_bytes",
        "game_inputs_dropped_total",
    ] {
        assert!(
            before
                .values()
                .flat_map(|f| &f.samples)
                .any(|s| s.name == name),
            "{name} is exported"
        );
    }

    const BOTS: usize = 60;
    let bots = tokio::spawn(dummy_client::run(RunConfig {
        addr: server.local_addr(),
        clients: BOTS,
        ramp_per_sec: 1000,
        duration: Duration::from_secs(3),
        ping_interval: Duration::from_millis(250),
        status_line: false,
        ..RunConfig::default()
    }));

    // While they play: players in the room, moves coming in.
    let mut during = before;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let players = value(&during, "game_players", &[("room", "main")]);
        let moves = sum(&during, "game_packets_received_total");
        if players == BOTS as f64 && moves > 0.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "players should reach {BOTS} and moves arrive; last scrape: {players} players, {moves} packets"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        during = scrape(admin).await;
    }
    check_conventions(&during);
    assert!(
        value(
            &during,
            "game_packets_received_total",
            &[("packet", "C_Move")]
        ) > 0.0
    );
    assert!(value(&during, "game_sessions_open", &[]) >= BOTS as f64);

    let report = bots.await.expect("bots task").expect("bot config is valid");
    assert!(report.passed, "the bots' run passes:\n{report}");

    // After: every session closed; the counters by type add up to the server's own totals.
    let mut after = scrape(admin).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sum(&after, "game_sessions_closed_total") < BOTS as f64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "every bot's session closes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = scrape(admin).await;
    }
    check_conventions(&after);
    eventually("the room is empty", || server.snapshot().players == 0).await;
    // Let the last leave broadcasts flush, then compare with a quiet server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = scrape(admin).await;
    let snap = server.snapshot();
    assert_eq!(
        value(&after, "game_sessions_accepted_total", &[]),
        BOTS as f64
    );
    assert_eq!(value(&after, "game_players", &[("room", "main")]), 0.0);
    assert_eq!(
        sum(&after, "game_packets_received_total") as u64,
        snap.packets_in,
        "received by type adds up to the server's packets_in"
    );
    assert_eq!(
        sum(&after, "game_packets_sent_total") as u64,
        snap.packets_out,
        "sent by type adds up to the server's packets_out (each broadcast once per recipient)"
    );
    let moves_in = value(
        &after,
        "game_packets_received_total",
        &[("packet", "C_Move")],
    );
    assert_eq!(
        value(&after, "game_received_bytes_total", &[("packet", "C_Move")]),
        moves_in * 16.0,
        "a C_Move frame is 16 bytes"
    );
    assert!(
        value(
            &after,
            "game_packets_sent_total",
            &[("packet", "S_BroadcastMove")]
        ) >= report.moves.received as f64,
        "every move a bot received was counted as sent"
    );
    assert_eq!(
        value(
            &after,
            "game_packets_sent_total",
            &[("packet", "S_PlayerList")]
        ),
        BOTS as f64,
        "one player list per bot"
    );
    assert!(value(&after, "game_job_wait_seconds_count", &[("room", "main")]) >= moves_in);
    assert!(
        value(
            &after,
            "game_flush_duration_seconds_count",
            &[("room", "main")]
        ) > 0.0
    );
    assert_eq!(value(&after, "game_send_queue_bytes", &[]), 0.0);

    server.shutdown().await;
}

#[tokio::test]
async fn logins_and_saves_are_counted_in_metrics() {
    use game_server::adapters::db::Store;
    use game_server::app::AccountsConfig;
    use game_server::packets::{CLogin, CMove, SLogin, SPlayerList};

    use crate::support::{start_server, Client};

    let dir = std::env::temp_dir().join(format!("admin-logins-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(dir.join("game.sqlite3").to_str().expect("utf-8"))
        .await
        .expect("opens");
    let admin = game_server::admin::AdminConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)));
    let server = start_server(|c| {
        c.admin = Some(admin);
        // A dropped connection's character leaves at once (no reconnect grace): its leave
        // is what gets saved.
        c.accounts = Some(AccountsConfig {
            reconnect_grace: None,
            ..AccountsConfig::new(store)
        });
    })
    .await;
    let (addr, admin) = (server.local_addr(), server.admin_addr().expect("admin on"));
    let login = |password: &str, create| CLogin {
        name: "Counted".into(),
        password: password.into(),
        create,
    };
    let mut c = Client::connect_raw(addr).await;
    c.send(&login("correct horse", true)).await;
    assert_eq!(c.expect::<SLogin>().await.result, 0);
    let _: SPlayerList = c.expect().await;
    c.send(&CMove {
        pos_x: 1.0,
        pos_y: 0.0,
        pos_z: 1.0,
    })
    .await;
    let mut wrong = Client::connect_raw(addr).await;
    wrong.send(&login("wrong horse!", false)).await;
    assert_eq!(wrong.expect::<SLogin>().await.result, 3);
    drop(c);
    let saves = server.save_metrics().expect("logins on");
    eventually("the leave is saved", || {
        saves.saved.load(std::sync::atomic::Ordering::Relaxed) >= 1
    })
    .await;
    let m = scrape(admin).await;
    check_conventions(&m);
    assert_eq!(value(&m, "game_logins_total", &[("result", "ok")]), 1.0);
    assert_eq!(
        value(&m, "game_logins_total", &[("result", "wrong_credentials")]),
        1.0
    );
    assert!(value(&m, "game_saves_total", &[]) >= 1.0);
    assert!(value(&m, "game_save_batches_total", &[]) >= 1.0);
    assert_eq!(value(&m, "game_saves_lost_total", &[]), 0.0);
    assert_eq!(value(&m, "game_saves_fenced_total", &[]), 0.0);
    assert_eq!(value(&m, "game_save_queue", &[]), 0.0);
    assert_eq!(value(&m, "game_characters_playing", &[]), 0.0);
    assert!(value(&m, "game_save_batch_size_count", &[]) >= 1.0);
    server.shutdown().await;
}
