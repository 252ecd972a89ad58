//! Accounts and saved characters end to end (docs/PROTOCOL.md, "Accounts and login"): an
//! in-process server on a SQLite file in a temp directory, raw-socket clients.

mod support;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use game_server::adapters::db::Store;
use game_server::app::AccountsConfig;
use game_server::game::accounts::{AccountName, LoginMode, LoginResult};
use game_server::game::saves::SaveConfig;
use game_server::packets::{
    CMove, CPing, SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove, SLogin, SPlayerList,
    SPong,
};
use game_server::world::{Spawn, WorldConfig};
use game_server::{GameServer, ServerConfig};
use support::accounts::{accounts, login, move_to, play, saved_position, server, try_login};
use support::{eventually, start_server, temp_db, Client};

use server_core::Packet;

#[tokio::test]
async fn a_guest_plays_as_in_the_course_when_it_sends_a_move_or_nothing() {
    let db = temp_db("accounts-guest");
    let server = server(&db, LoginMode::Optional, false).await;
    let addr = server.local_addr();
    // First packet a move: a guest at once, the move handled.
    let mut mover = Client::connect_raw(addr).await;
    mover
        .send(&CMove {
            pos_x: 1.0,
            pos_y: 0.0,
            pos_z: 2.0,
        })
        .await;
    let list: SPlayerList = mover.expect().await;
    assert!(list.players.iter().any(|p| p.is_self));
    // Silent: a guest after the grace.
    let (_silent, list) = Client::join(addr).await;
    assert_eq!(list.players.len(), 2);
    let stats = server.login_stats().expect("logins on");
    assert_eq!(stats.of(LoginResult::Ok), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_character_comes_back_where_it_left_in_the_room() {
    let db = temp_db("accounts-room");
    let server = server(&db, LoginMode::Optional, false).await;
    let addr = server.local_addr();
    let (mut client, at) = play(addr, "Rookie_7", true).await;
    assert_eq!(at, [0.0; 3], "a new character starts where a guest does");
    assert_eq!(
        move_to(&mut client, [12.5, 0.0, -7.25]).await,
        [12.5, 0.0, -7.25]
    );
    drop(client);
    let saves = server.save_metrics().expect("logins on");
    eventually("the leave is saved", || {
        saves.saved.load(Ordering::Relaxed) >= 1
    })
    .await;
    let (_client, at) = play(addr, "rookie_7", false).await;
    assert_eq!(at, [12.5, 0.0, -7.25], "the name is found without case");
    server.shutdown().await;
    assert_eq!(
        saved_position(&db, "Rookie_7").await,
        Some([12.5, 0.0, -7.25])
    );
}

#[tokio::test]
async fn a_character_keeps_the_position_the_world_gave_it_not_the_one_it_asked_for() {
    let db = temp_db("accounts-world");
    let server = server(&db, LoginMode::Optional, true).await;
    let addr = server.local_addr();
    let (mut client, start) = play(addr, "Walker", true).await;
    // Far beyond one step: the region moves it one step along the way, no further.
    let far = [start[0] + 500.0, 0.0, start[2]];
    let given = move_to(&mut client, far).await;
    assert!(given[0] < far[0], "step-limited: {given:?}");
    drop(client);
    let saves = server.save_metrics().expect("logins on");
    eventually("the leave is saved", || {
        saves.saved.load(Ordering::Relaxed) >= 1
    })
    .await;
    // It enters where the region put it, not at its spawn point nor where it asked to go.
    let (_again, at) = play(addr, "Walker", false).await;
    assert_eq!(at, given);
    server.shutdown().await;
    assert_eq!(saved_position(&db, "Walker").await, Some(given));
}

#[tokio::test]
async fn logins_are_refused_with_their_reasons_and_the_connection_stays() {
    let db = temp_db("accounts-refusals");
    let server = server(&db, LoginMode::Optional, false).await;
    let addr = server.local_addr();
    let (_first, _) = play(addr, "Taken", true).await;
    let mut c = Client::connect_raw(addr).await;
    let cases = [
        (login("x", "correct horse", false), LoginResult::BadName),
        (
            login("drop table;", "correct horse", false),
            LoginResult::BadName,
        ),
        (
            login("Robert'); DROP TABLE accounts;--", "correct horse", true),
            LoginResult::BadName,
        ),
        (
            login(&"n".repeat(17), "correct horse", true),
            LoginResult::BadName,
        ),
        (login("Rookie", "short", true), LoginResult::BadPassword),
        (
            login("Rookie", &"p".repeat(129), true),
            LoginResult::BadPassword,
        ),
        (
            login("Taken", "correct horse", true),
            LoginResult::NameTaken,
        ),
        (
            login("Taken", "wrong horse!", false),
            LoginResult::WrongCredentials,
        ),
        (
            login("Nobody", "correct horse", false),
            LoginResult::WrongCredentials,
        ),
    ];
    for (packet, expected) in cases {
        let answer = try_login(&mut c, &packet).await;
        assert_eq!(answer.result, expected.code(), "{packet:?}");
    }
    // Still undecided and open: an injection string as a password is only ever hashed, and
    // a password of non-BMP characters works like any other.
    let tricky = "' OR '1'='1'; --😀𝄞";
    let answer = try_login(&mut c, &login("Tricky", tricky, true)).await;
    assert_eq!(answer.result, 0);
    let _list: SPlayerList = c.expect().await;
    // Playing now: another login changes nothing.
    let answer = try_login(&mut c, &login("Tricky", tricky, false)).await;
    assert_eq!(answer.result, LoginResult::NotNow.code());
    drop(c);
    let mut again = Client::connect_raw(addr).await;
    let answer = try_login(&mut again, &login("TRICKY", tricky, false)).await;
    assert_eq!(answer.result, 0, "the same password logs in again");
    server.shutdown().await;
}

#[tokio::test]
async fn a_second_login_closes_the_first_and_takes_the_character_where_it_stood() {
    let db = temp_db("accounts-twice");
    let server = server(&db, LoginMode::Optional, false).await;
    let addr = server.local_addr();
    let (mut first, _) = play(addr, "Twice", true).await;
    move_to(&mut first, [3.0, 0.0, 4.0]).await;
    let (_second, at) = play(addr, "Twice", false).await;
    assert_eq!(at, [3.0, 0.0, 4.0]);
    first.expect_closed().await;
    server.shutdown().await;
}

#[tokio::test]
async fn two_hundred_logins_of_one_account_at_once_leave_exactly_one_session_playing() {
    let db = temp_db("accounts-crowd");
    let server = server(&db, LoginMode::Optional, false).await;
    let addr = server.local_addr();
    drop(play(addr, "Crowd", true).await);
    let mut tasks = Vec::new();
    for _ in 0..200 {
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect_raw(addr).await;
            let answer = try_login(&mut c, &login("Crowd", "correct horse", false)).await;
            (c, answer.result)
        }));
    }
    let mut winners = Vec::new();
    let mut refused = 0;
    for t in tasks {
        let (c, result) = t.await.expect("client task");
        if result == LoginResult::Ok.code() {
            winners.push(c);
        } else {
            // Every attempt takes a token of the account's failed-login limit as it begins
            // (5 at once), given back when it passes; on a loaded machine some also wait
            // longer than a login may for a hasher. Refused either way, never left hanging.
            assert!(
                result == LoginResult::Throttled.code()
                    || result == LoginResult::Unavailable.code(),
                "{result}"
            );
            refused += 1;
        }
    }
    assert!(!winners.is_empty(), "{refused} of 200 refused");
    let logged_in = winners.len() as u64;
    // Each login closed the one before it (once its S_Login was written, within a second):
    // of those that got in, one is still playing.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut open = 0;
    for mut c in winners {
        c.send(&CPing { client_time: 7 }).await;
        loop {
            match tokio::time::timeout(Duration::from_secs(5), c.try_next_frame()).await {
                Ok(Some((id, _))) if id == SPong::ID => {
                    open += 1;
                    break;
                }
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            }
        }
    }
    assert_eq!(open, 1, "exactly one of the logins of one account plays");
    // Every one but the last was replaced (the first, dropped before, may have left already).
    let stats = server.login_stats().expect("logins on");
    let replaced = stats.replaced.load(Ordering::Relaxed);
    assert!(
        replaced == logged_in - 1 || replaced == logged_in,
        "{replaced} replaced of {logged_in}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account() {
    let db = temp_db("accounts-throttle");
    let server = server(&db, LoginMode::Optional, false).await;
    let addr = server.local_addr();
    drop(play(addr, "Target", true).await);
    let mut c = Client::connect_raw(addr).await;
    for _ in 0..5 {
        let answer = try_login(&mut c, &login("Target", "wrong horse!", false)).await;
        assert_eq!(answer.result, LoginResult::WrongCredentials.code());
    }
    let answer = try_login(&mut c, &login("Target", "correct horse", false)).await;
    assert_eq!(answer.result, LoginResult::Throttled.code());
    assert!(answer.retry_after_ms > 0, "{answer:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_passwords_sent_all_at_once_get_no_more_tries_than_one_after_another() {
    let db = temp_db("accounts-parallel-guess");
    let server = server(&db, LoginMode::Optional, false).await;
    let addr = server.local_addr();
    drop(play(addr, "Vault", true).await);
    let mut tasks = Vec::new();
    for k in 0..30 {
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect_raw(addr).await;
            try_login(&mut c, &login("Vault", &format!("guess number {k}"), false))
                .await
                .result
        }));
    }
    let mut checked = 0;
    for t in tasks {
        match t.await.expect("client task") {
            r if r == LoginResult::WrongCredentials.code() => checked += 1,
            r => assert_eq!(r, LoginResult::Throttled.code()),
        }
    }
    assert_eq!(checked, 5, "the account's 5 tries, however they arrive");
    server.shutdown().await;
}

#[tokio::test]
async fn failed_logins_are_throttled_per_address_across_accounts_unless_loopback_is_exempt() {
    let db = temp_db("accounts-address");
    let accounts = accounts(&db, LoginMode::Optional).await;
    let server = start_server(move |c: &mut ServerConfig| {
        c.accounts = Some(accounts);
        c.net.address_limits = Some(server_core::AddressLimits {
            exempt_loopback: false,
            ..server_core::AddressLimits::default()
        });
    })
    .await;
    let mut c = Client::connect_raw(server.local_addr()).await;
    // Twenty names, one wrong try each: no account's own limit is reached.
    for k in 0..20 {
        let answer = try_login(&mut c, &login(&format!("Probe{k}"), "correct horse", false)).await;
        assert_eq!(answer.result, LoginResult::WrongCredentials.code());
    }
    let answer = try_login(&mut c, &login("Probe20", "correct horse", false)).await;
    assert_eq!(
        answer.result,
        LoginResult::Throttled.code(),
        "the address's limit"
    );
    assert!(answer.retry_after_ms > 0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_graceful_shutdown_saves_characters_still_playing() {
    let db = temp_db("accounts-shutdown");
    let server = server(&db, LoginMode::Optional, false).await;
    let addr = server.local_addr();
    let (mut client, _) = play(addr, "Stayer", true).await;
    move_to(&mut client, [-20.0, 1.0, 30.0]).await;
    server.shutdown().await;
    assert_eq!(
        saved_position(&db, "Stayer").await,
        Some([-20.0, 1.0, 30.0])
    );
}

#[tokio::test]
async fn required_mode_refuses_a_guest_and_off_mode_refuses_a_login() {
    let db = temp_db("accounts-required");
    let server = server(&db, LoginMode::Required, false).await;
    let mut guest = Client::connect_raw(server.local_addr()).await;
    guest
        .send(&CMove {
            pos_x: 0.0,
            pos_y: 0.0,
            pos_z: 0.0,
        })
        .await;
    let answer: SLogin = guest.expect().await;
    assert_eq!(answer.result, LoginResult::Required.code());
    guest.expect_closed().await;
    server.shutdown().await;

    let server = start_server(|_| {}).await;
    let mut c = Client::connect_raw(server.local_addr()).await;
    // With logins off the course's behaviour is exact: the list comes before anything.
    let _list: SPlayerList = c.expect().await;
    let answer = try_login(&mut c, &login("Rookie", "correct horse", true)).await;
    assert_eq!(answer.result, LoginResult::Disabled.code());
    server.shutdown().await;
}

/// PostgreSQL stopped mid-play: the game goes on, saves queue up to the bound and retry, what
/// is past the bound is counted as lost, a login is refused as unavailable (never left
/// hanging), and when the database is back the queue drains.
#[tokio::test]
async fn a_database_that_goes_away_mid_play_loses_only_what_is_past_the_bound() {
    use support::postgres::{skipped, Postgres};
    let Some(pg) = Postgres::start() else {
        skipped("a_database_that_goes_away_mid_play_loses_only_what_is_past_the_bound");
        return;
    };
    let store = Store::open(&pg.url()).await.expect("opens and migrates");
    let accounts = AccountsConfig {
        saves: SaveConfig {
            interval: Duration::from_millis(200),
            // Two characters may wait for the database; a third one's save is lost.
            max_dirty: 2,
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(400),
            ..SaveConfig::default()
        },
        ..AccountsConfig::new(store.clone())
    };
    let server = start_server(move |c: &mut ServerConfig| c.accounts = Some(accounts)).await;
    let addr = server.local_addr();
    let saves = server.save_metrics().expect("logins on");
    let mut players = Vec::new();
    for name in ["Ann", "Bob", "Cid"] {
        players.push(play(addr, name, true).await.0);
    }
    for (k, p) in players.iter_mut().enumerate() {
        move_to(p, [k as f32, 0.0, 1.0]).await;
    }
    eventually("the three are saved", || {
        saves.saved.load(Ordering::Relaxed) >= 3 && saves.queue_depth.load(Ordering::Relaxed) == 0
    })
    .await;

    pg.stop();
    for (k, p) in players.iter_mut().enumerate() {
        // The room goes on: every move is applied and echoed while the database is away.
        move_to(p, [k as f32 + 10.0, 0.0, 2.0]).await;
    }
    eventually("saves fail and one is lost past the bound", || {
        saves.failures.load(Ordering::Relaxed) >= 1 && saves.lost.load(Ordering::Relaxed) >= 1
    })
    .await;
    assert_eq!(saves.queue_depth.load(Ordering::Relaxed), 2, "the bound");
    let started = std::time::Instant::now();
    let mut newcomer = Client::connect_raw(addr).await;
    let answer = try_login(&mut newcomer, &login("Dee", "correct horse", true)).await;
    assert_eq!(answer.result, LoginResult::Unavailable.code());
    assert!(answer.retry_after_ms > 0);
    assert!(started.elapsed() < Duration::from_secs(15), "never hangs");

    pg.run();
    eventually("the queue drains", || {
        saves.queue_depth.load(Ordering::Relaxed) == 0
    })
    .await;
    // The lost one is saved again at the next checkpoint: it is still dirty in play.
    let lost = saves.lost.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(600)).await;
    for (k, name) in ["Ann", "Bob", "Cid"].iter().enumerate() {
        let saved = store
            .character(&AccountName::parse(name).expect("valid"))
            .await
            .expect("reads")
            .expect("saved");
        assert_eq!(saved.pos, [k as f32 + 10.0, 0.0, 2.0], "{name}");
    }
    assert_eq!(
        saves.lost.load(Ordering::Relaxed),
        lost,
        "none lost once back"
    );
    let answer = try_login(&mut newcomer, &login("Dee", "correct horse", true)).await;
    assert_eq!(answer.result, 0, "logins work again");
    server.shutdown().await;
}

async fn server_with_grace(db: &Path, grace: Duration) -> GameServer {
    let mut accounts = accounts(db, LoginMode::Optional).await;
    accounts.reconnect_grace = Some(grace);
    start_server(move |c: &mut ServerConfig| c.accounts = Some(accounts)).await
}

/// Reads frames until `until` passes, and returns their ids with the player they name (for
/// the room's enter, move and leave broadcasts).
async fn frames_for(client: &mut Client, until: Duration) -> Vec<(u16, i32)> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + until;
    while let Ok(Some((id, body))) =
        tokio::time::timeout_at(deadline, client.try_next_frame()).await
    {
        let player = match id {
            SBroadcastEnterGame::ID => SBroadcastEnterGame::decode(&body).map(|p| p.player_id),
            SBroadcastMove::ID => SBroadcastMove::decode(&body).map(|p| p.player_id),
            SBroadcastLeaveGame::ID => SBroadcastLeaveGame::decode(&body).map(|p| p.player_id),
            _ => Ok(0),
        };
        seen.push((id, player.expect("a valid broadcast")));
    }
    seen
}

/// `watcher` sees player `id` move within half a second, and no leave or enter of it: a
/// character taken back is the same character, walking on.
async fn saw_it_move_and_nothing_else(watcher: &mut Client, id: i32) {
    let seen = frames_for(watcher, Duration::from_millis(500)).await;
    assert!(seen.contains(&(SBroadcastMove::ID, id)), "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|&(p, who)| who == id && p != SBroadcastMove::ID),
        "no leave and no enter of it for the others: {seen:?}"
    );
}

#[tokio::test]
async fn a_dropped_character_is_taken_back_within_the_grace_and_nobody_sees_it_go() {
    let db = temp_db("accounts-resume");
    let server = server_with_grace(&db, Duration::from_secs(5)).await;
    let addr = server.local_addr();
    let (mut watcher, _) = Client::join(addr).await;
    let (mut player, _) = play(addr, "Comeback", true).await;
    let id = player.player_id;
    move_to(&mut player, [4.0, 0.0, 9.0]).await;
    drop(player); // the connection drops: no C_LeaveGame
    let seen = frames_for(&mut watcher, Duration::from_millis(500)).await;
    assert!(
        !seen.contains(&(SBroadcastLeaveGame::ID, id)),
        "parked, not gone: {seen:?}"
    );
    let (mut again, at) = play(addr, "Comeback", false).await;
    assert_eq!(again.player_id, id, "the same player, the same id");
    assert_eq!(at, [4.0, 0.0, 9.0]);
    move_to(&mut again, [5.0, 0.0, 9.0]).await;
    saw_it_move_and_nothing_else(&mut watcher, id).await;
    let stats = server.login_stats().expect("logins on");
    assert_eq!(stats.resumed.load(Ordering::Relaxed), 1);
    server.shutdown().await;
    assert_eq!(saved_position(&db, "Comeback").await, Some([5.0, 0.0, 9.0]));
}

#[tokio::test]
async fn a_dropped_character_leaves_when_its_grace_ends_and_is_saved() {
    let db = temp_db("accounts-expire");
    let server = server_with_grace(&db, Duration::from_millis(300)).await;
    let addr = server.local_addr();
    let (mut watcher, _) = Client::join(addr).await;
    let (mut player, _) = play(addr, "Gone", true).await;
    let id = player.player_id;
    move_to(&mut player, [-3.0, 0.0, 3.0]).await;
    drop(player);
    let seen = frames_for(&mut watcher, Duration::from_secs(2)).await;
    assert!(seen.contains(&(SBroadcastLeaveGame::ID, id)), "{seen:?}");
    let stats = server.login_stats().expect("logins on");
    assert_eq!(stats.expired.load(Ordering::Relaxed), 1);
    let saves = server.save_metrics().expect("logins on");
    eventually("the leave is saved", || {
        saves.queue_depth.load(Ordering::Relaxed) == 0 && saves.saved.load(Ordering::Relaxed) >= 1
    })
    .await;
    // A login after the grace enters anew, where it was saved, under a new id.
    let (again, at) = play(addr, "Gone", false).await;
    assert_ne!(again.player_id, id);
    assert_eq!(at, [-3.0, 0.0, 3.0]);
    server.shutdown().await;
}

/// World mode (two regions, the border at x = 0): a dropped character is parked, and a
/// login within the grace takes it back across both regions. The watcher in the other
/// region sees no leave and no enter; the new connection gets its list, then the watcher
/// from the other region, then moves as any player does.
#[tokio::test]
async fn a_dropped_world_character_is_taken_back_within_the_grace_across_regions() {
    let db = temp_db("accounts-world-resume");
    let accounts = accounts(&db, LoginMode::Optional).await;
    let server = start_server(move |c: &mut ServerConfig| {
        c.accounts = Some(accounts);
        c.world = Some(WorldConfig {
            spawn: Spawn::At { x: 0.0, z: 0.0 },
            ..WorldConfig::default()
        });
    })
    .await;
    let addr = server.local_addr();
    let (mut watcher, _) = Client::join(addr).await;
    let watcher_at = move_to(&mut watcher, [5.0, 0.0, 0.0]).await;
    assert_eq!(watcher_at, [5.0, 0.0, 0.0]);
    let (mut player, _) = play(addr, "Walker", true).await;
    let id = player.player_id;
    move_to(&mut player, [-5.0, 0.0, 0.0]).await;
    drop(player); // the connection drops: parked
    let seen = frames_for(&mut watcher, Duration::from_millis(500)).await;
    assert!(
        !seen.contains(&(SBroadcastLeaveGame::ID, id)),
        "parked, not gone: {seen:?}"
    );

    let (mut again, at) = play(addr, "Walker", false).await;
    assert_eq!(again.player_id, id, "the same player, the same id");
    assert_eq!(at, [-5.0, 0.0, 0.0], "where it stood, in its list");
    let shown = frames_for(&mut again, Duration::from_millis(500)).await;
    assert_eq!(
        shown,
        [(SBroadcastEnterGame::ID, watcher.player_id)],
        "then the watcher, from the other region, once"
    );
    move_to(&mut watcher, [6.0, 0.0, 0.0]).await;
    let shown = frames_for(&mut again, Duration::from_millis(500)).await;
    assert_eq!(shown, [(SBroadcastMove::ID, watcher.player_id)]);
    move_to(&mut again, [-4.0, 0.0, 0.0]).await;
    saw_it_move_and_nothing_else(&mut watcher, id).await;
    let stats = server.login_stats().expect("logins on");
    assert_eq!(stats.resumed.load(Ordering::Relaxed), 1);
    server.shutdown().await;
    assert_eq!(saved_position(&db, "Walker").await, Some([-4.0, 0.0, 0.0]));
}

/// Issue 25, item 4: a character's level, experience and hit points are saved with it. A
/// login loads them with the character, and the saves of its next session keep them (were
/// they not loaded, the first save would write the defaults over them).
#[tokio::test]
async fn a_characters_stats_come_back_with_it_and_survive_its_next_saves() {
    use game_server::adapters::db::SaveRow;
    use game_server::game::saves::CharacterStats;

    let db = temp_db("accounts-stats");
    let server1 = server(&db, LoginMode::Optional, false).await;
    let (mut client, _) = play(server1.local_addr(), "Veteran", true).await;
    move_to(&mut client, [3.0, 0.0, 4.0]).await;
    drop(client);
    server1.shutdown().await;

    let veteran = AccountName::parse("Veteran").expect("valid");
    let stats = CharacterStats {
        level: 4,
        exp: 33,
        hp: Some(70),
    };
    let store = Store::open(db.to_str().expect("utf-8 path"))
        .await
        .expect("opens");
    let mut record = store
        .character(&veteran)
        .await
        .expect("reads")
        .expect("saved at the leave");
    assert_eq!(record.stats, CharacterStats::default(), "a new character's");
    record.stats = stats;
    store
        .save_characters(&[SaveRow {
            name: veteran.clone(),
            record,
            claim: 0,
        }])
        .await
        .expect("written");
    store.close().await;

    let server2 = server(&db, LoginMode::Optional, false).await;
    let (mut client, at) = play(server2.local_addr(), "Veteran", false).await;
    assert_eq!(at, [3.0, 0.0, 4.0]);
    move_to(&mut client, [5.0, 0.0, 6.0]).await;
    drop(client);
    server2.shutdown().await;
    let store = Store::open(db.to_str().expect("utf-8 path"))
        .await
        .expect("reopens");
    let saved = store
        .character(&veteran)
        .await
        .expect("reads")
        .expect("there");
    store.close().await;
    assert_eq!(
        saved.pos,
        [5.0, 0.0, 6.0],
        "the second session's leave was saved"
    );
    assert_eq!(saved.stats, stats, "with the stats it loaded");
}
