//! Logins by token (`C_LoginToken`, docs/PROTOCOL.md "Accounts and login"): an in-process
//! server on a SQLite file in a temp directory, raw-socket clients.

mod support;

use std::time::Duration;

use game_server::game::accounts::{LoginMode, LoginResult, TOKEN_CHARS};
use game_server::packets::{CLoginToken, CMove};
use game_server::ServerConfig;
use support::accounts::{accounts, login, move_to, play, play_by, read_answer, server, try_login};
use support::{start_server, temp_db, Client};

fn by_token(name: &str, token: &str) -> CLoginToken {
    CLoginToken {
        name: name.to_owned(),
        token: token.to_owned(),
    }
}

#[tokio::test]
async fn a_token_logs_in_once_without_the_password_and_takes_a_dropped_character_back() {
    let db = temp_db("tokens-once");
    let server = server(&db, LoginMode::Optional, false).await;
    let addr = server.local_addr();
    let (mut first, _, answer) = play_by(addr, &login("Phone", "correct horse", true)).await;
    let token = answer.token;
    assert_eq!(token.len(), TOKEN_CHARS, "{token:?}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    let id = first.player_id;
    move_to(&mut first, [6.0, 0.0, -2.0]).await;
    drop(first); // the connection drops: parked for the grace

    let (mut second, at, answer) = play_by(addr, &by_token("phone", &token)).await;
    assert_eq!(second.player_id, id, "the parked character, taken back");
    assert_eq!(at, [6.0, 0.0, -2.0]);
    let next = answer.token;
    assert_eq!(next.len(), TOKEN_CHARS);
    assert_ne!(next, token, "each login hands a new token");
    move_to(&mut second, [7.0, 0.0, -2.0]).await;

    // Used once: the same token again is refused, and the connection stays undecided.
    let mut again = Client::connect_raw(addr).await;
    let refused = try_login(&mut again, &by_token("Phone", &token)).await;
    assert_eq!(refused.result, LoginResult::BadToken.code());
    assert!(refused.token.is_empty(), "a refusal hands no token");
    // A password login closes the second session and replaces its token.
    let answer = try_login(&mut again, &login("Phone", "correct horse", false)).await;
    assert_eq!(answer.result, LoginResult::Ok.code());
    let mut late = Client::connect_raw(addr).await;
    let refused = try_login(&mut late, &by_token("Phone", &next)).await;
    assert_eq!(
        refused.result,
        LoginResult::BadToken.code(),
        "a later login's token replaces the earlier one"
    );
    let stats = server.login_stats().expect("logins on");
    assert_eq!(stats.of(LoginResult::BadToken), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn hostile_and_wrong_tokens_are_refused_the_connection_stays_and_failures_are_throttled() {
    let db = temp_db("tokens-hostile");
    let server = server(&db, LoginMode::Optional, false).await;
    let addr = server.local_addr();
    let (owner, _, answer) = play_by(addr, &login("Owner", "correct horse", true)).await;
    let real = answer.token;
    drop(owner);
    let (other, _, _) = play_by(addr, &login("Other", "correct horse", true)).await;
    drop(other);

    let mut client = Client::connect_raw(addr).await;
    let hex = "a".repeat(TOKEN_CHARS);
    let cases: Vec<(String, String)> = vec![
        ("Owner".into(), String::new()),
        ("Owner".into(), "abc".into()),
        ("Owner".into(), "' OR '1'='1".repeat(6)),
        ("Owner".into(), "😀".repeat(TOKEN_CHARS / 2)),
        ("Owner".into(), real.repeat(10)),
        ("Nobody".into(), hex.clone()),
        ("Other".into(), real.clone()), // another account's token
    ];
    for (name, token) in &cases {
        let answer = try_login(&mut client, &by_token(name, token)).await;
        assert_eq!(
            answer.result,
            LoginResult::BadToken.code(),
            "{name:?} {token:?}"
        );
    }
    let answer = try_login(&mut client, &by_token("x'; DROP TABLE accounts;--", &hex)).await;
    assert_eq!(answer.result, LoginResult::BadName.code());

    // Wrong well-formed tokens count as failed logins of the account: five, then throttled,
    // and the account's real token waits like its password would.
    for n in 0..5 {
        let answer = try_login(&mut client, &by_token("Owner", &hex)).await;
        assert_eq!(answer.result, LoginResult::BadToken.code(), "try {n}");
    }
    let answer = try_login(&mut client, &by_token("Owner", &real)).await;
    assert_eq!(answer.result, LoginResult::Throttled.code());
    assert!(answer.retry_after_ms > 0);

    // The connection was never closed: it still plays as a guest.
    client
        .send(&CMove {
            pos_x: 1.0,
            pos_y: 0.0,
            pos_z: 1.0,
        })
        .await;
    let list: game_server::packets::SPlayerList = client.expect().await;
    assert!(list.players.iter().any(|p| p.is_self));
    server.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_is_refused_and_the_password_still_logs_in() {
    let db = temp_db("tokens-expired");
    let mut config = accounts(&db, LoginMode::Optional).await;
    config.token_ttl = Duration::from_millis(300);
    let server = start_server(move |c: &mut ServerConfig| c.accounts = Some(config)).await;
    let addr = server.local_addr();
    let (first, _, answer) = play_by(addr, &login("Slow", "correct horse", true)).await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut client = Client::connect_raw(addr).await;
    let refused = try_login(&mut client, &by_token("Slow", &answer.token)).await;
    assert_eq!(refused.result, LoginResult::BadToken.code());
    drop(client);
    play(addr, "Slow", false).await;
    server.shutdown().await;
}

#[tokio::test]
async fn one_token_presented_by_twenty_connections_at_once_logs_in_exactly_one() {
    let db = temp_db("tokens-race");
    let server = server(&db, LoginMode::Optional, false).await;
    let addr = server.local_addr();
    let (first, _, answer) = play_by(addr, &login("Shared", "correct horse", true)).await;
    drop(first);
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(Client::connect_raw(addr).await);
    }
    let packet = by_token("Shared", &answer.token);
    for c in &mut clients {
        c.send(&packet).await;
    }
    let mut results = Vec::new();
    for c in &mut clients {
        results.push(read_answer(c).await.result);
    }
    let ok = results
        .iter()
        .filter(|&&r| r == LoginResult::Ok.code())
        .count();
    assert_eq!(ok, 1, "exactly one wins: {results:?}");
    assert!(
        results.iter().all(|&r| r == LoginResult::Ok.code()
            || r == LoginResult::BadToken.code()
            || r == LoginResult::Throttled.code()),
        "the others are refused as used (or throttled as failures): {results:?}"
    );
    server.shutdown().await;
}
