//! dummy-client's churn against an in-process game-server: bots leave the room during the
//! window and rejoin as new players, and every stay in the room must still receive every move
//! it was owed.

mod support;

use std::time::Duration;

use dummy_client::RunConfig;
use support::start_server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_that_leave_and_rejoin_lose_nothing_and_the_report_adds_up() {
    let server = start_server(|c| c.tick = Duration::from_millis(50)).await;
    let config = RunConfig {
        addr: server.local_addr(),
        clients: 40,
        ramp_per_sec: 2_000,
        duration: Duration::from_secs(3),
        churn_per_sec: 15.0,
        rejoin_delay: Duration::from_millis(20),
        // Chat too, under the server's 2 lines a second: every line must reach every bot in
        // the room intact, churn or not.
        chat_interval: Some(Duration::from_millis(600)),
        status_line: false,
        ..RunConfig::default()
    };
    let report = dummy_client::run(config)
        .await
        .unwrap_or_else(|e| panic!("the config is valid: {e}"));
    let snapshot = server.snapshot();
    server.shutdown().await;

    let c = &report.churn;
    assert!(report.passed, "the churning run should pass:\n{report}");
    assert!(
        report.chat.enabled && report.chat.received > 0 && report.chat.receivers_checked > 0,
        "chat lines were sent and checked:\n{report}"
    );
    assert_eq!(report.chat.errors(), 0, "{report}");
    assert!(c.enabled);
    // 15 a second over 3 s; a loaded machine may skip a few picks or finish a few late.
    assert!(
        c.leaves >= 20,
        "about 45 bots should have left and come back:\n{report}"
    );
    assert_eq!(
        c.leave_failures, 0,
        "every leave should be clean:\n{report}"
    );
    assert!(
        c.rejoins + 5 >= c.leaves,
        "leavers rejoin while the window lasts:\n{report}"
    );
    assert!(
        c.checked >= c.leaves,
        "every leaver that moved should have its stay checked:\n{report}"
    );
    assert_eq!(
        c.unchecked, 0,
        "no stay should be left unchecked:\n{report}"
    );
    assert!(c.expected > 0, "churned stays are owed moves");
    assert_eq!(
        (c.received, c.lost, c.extra, c.echoes_missing),
        (c.expected, 0, 0, 0),
        "every churned stay should receive exactly what it was owed"
    );
    assert!(
        report.moves.exact && report.moves.partial_bots > 0,
        "leavers drain before they go, so every sender's moves are owed exactly, \
         churned senders included, though churned stays are not whole-window receivers:\n{report}"
    );
    assert_eq!(
        (report.moves.duplicates, report.moves.never_sent),
        (0, 0),
        "no move came twice or from nowhere"
    );
    assert_eq!(
        report.pongs.lost + report.pongs.duplicate + report.pongs.unknown,
        0,
        "every ping answered once, leavers' included:\n{report}"
    );
    assert_eq!(
        (report.moves.lost, report.moves.extra),
        (0, 0),
        "the bots that stayed should see every move, the leavers' included"
    );
    assert!(
        report.disconnects.is_empty(),
        "leaving on purpose is not an unexpected disconnect:\n{report}"
    );
    assert_eq!(
        report.connected,
        40 + c.rejoins,
        "each rejoin is a new connection"
    );
    assert_eq!(
        snapshot.accepted, report.connected,
        "the server accepted every connection the bots made"
    );
}
