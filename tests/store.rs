//! The database store against a real SQLite file in a temp directory and a real PostgreSQL
//! cluster this test starts itself (Debian's `postgresql`; without it the PostgreSQL tests
//! print SKIPPED and name the package).

mod support;

use std::path::Path;

use game_server::adapters::db::{Backend, Claimed, Store, StoreError};
use game_server::game::accounts::{hash_password, verify_password, AccountName, IssuedToken};
use game_server::game::saves::{CharacterRecord, Place};
use support::postgres::{skipped, Postgres};
use support::temp_dir;

fn record(x: f32, seen: i64) -> CharacterRecord {
    CharacterRecord {
        place: Place::World,
        region: 1,
        pos: [x, 3.0, -x],
        created_ms: 1_000,
        last_seen_ms: seen,
    }
}

/// What every backend must do the same way.
async fn accounts_and_characters(store: &Store) {
    let rookie = AccountName::parse("Rookie").expect("valid");
    let hash = hash_password("correct horse").expect("hashes");
    assert!(store
        .create_account(&rookie, &hash, 10)
        .await
        .expect("insert"));
    let same = AccountName::parse("rOOKIE").expect("valid");
    assert!(
        !store
            .create_account(&same, &hash, 11)
            .await
            .expect("insert"),
        "names are unique without case"
    );
    let row = store
        .account(&same)
        .await
        .expect("read")
        .expect("found without case");
    assert_eq!((row.name.as_str(), row.created_ms), ("Rookie", 10));
    assert_eq!(
        verify_password("correct horse", &row.password_hash),
        Ok(true)
    );
    assert_eq!(row.token, None, "no token before the first login");
    // A login stores its token's hash; using it up is one statement that only one caller
    // wins, and a later login's token replaces an earlier one.
    let first = IssuedToken::from_bytes([7; 32], 20, 1_000);
    store
        .touch_login(&rookie, 20, &first.stored)
        .await
        .expect("update");
    let row = store.account(&rookie).await.expect("read").expect("there");
    assert_eq!(row.token.as_ref(), Some(&first.stored));
    let second = IssuedToken::from_bytes([8; 32], 30, 1_000);
    store
        .touch_login(&rookie, 30, &second.stored)
        .await
        .expect("update");
    assert!(
        !store
            .use_token(&rookie, &first.stored.hash)
            .await
            .expect("update"),
        "replaced"
    );
    assert!(store
        .use_token(&rookie, &second.stored.hash)
        .await
        .expect("update"));
    assert!(
        !store
            .use_token(&rookie, &second.stored.hash)
            .await
            .expect("update"),
        "used once"
    );
    let row = store.account(&rookie).await.expect("read").expect("there");
    assert_eq!(row.token, None, "used up");
    // A login that fails after using its token gives it back, unless a newer login has
    // given the account another since.
    store
        .restore_token(&rookie, &second.stored)
        .await
        .expect("update");
    let row = store.account(&rookie).await.expect("read").expect("there");
    assert_eq!(row.token.as_ref(), Some(&second.stored), "given back");
    let third = IssuedToken::from_bytes([9; 32], 40, 1_000);
    store
        .touch_login(&rookie, 40, &third.stored)
        .await
        .expect("update");
    store
        .restore_token(&rookie, &second.stored)
        .await
        .expect("update");
    let row = store.account(&rookie).await.expect("read").expect("there");
    assert_eq!(
        row.token.as_ref(),
        Some(&third.stored),
        "the newer one stays"
    );

    // Hostile names never reach the database (AccountName refuses them); hostile passwords
    // are hashed, and values are always bound, never spliced into the SQL.
    for name in [
        "x'; DROP TABLE accounts;--",
        "a' OR '1'='1",
        "a\u{0}b",
        "😀😀",
    ] {
        assert!(AccountName::parse(name).is_err(), "{name:?}");
    }
    let bobby = AccountName::parse("Robert_DROP").expect("valid");
    let odd = hash_password("x'); DROP TABLE accounts;--😀").expect("hashes");
    assert!(store
        .create_account(&bobby, &odd, 13)
        .await
        .expect("insert"));
    let row = store.account(&bobby).await.expect("read").expect("there");
    assert_eq!(
        verify_password("x'); DROP TABLE accounts;--😀", &row.password_hash),
        Ok(true)
    );
    assert!(
        store.account(&rookie).await.expect("read").is_some(),
        "table still there"
    );

    assert_eq!(store.character(&rookie).await.expect("read"), None);
    let other = AccountName::parse("Other").expect("valid");
    assert!(store
        .create_account(&other, &hash, 12)
        .await
        .expect("insert"));
    let batch = vec![
        (rookie.clone(), record(1.5, 100)),
        (other.clone(), record(2.5, 100)),
    ];
    store.save_characters(&batch).await.expect("saved");
    store
        .save_characters(&[(rookie.clone(), record(9.0, 200))])
        .await
        .expect("saved again");
    assert_eq!(
        store.character(&rookie).await.expect("read"),
        Some(record(9.0, 200)),
        "the later save wins"
    );
    assert_eq!(
        store.character(&other).await.expect("read"),
        Some(record(2.5, 100))
    );

    // One transaction: a batch with a character of no account fails whole.
    let nobody = AccountName::parse("nobody").expect("valid");
    let bad = vec![
        (other.clone(), record(7.0, 300)),
        (nobody, record(7.0, 300)),
    ];
    assert!(
        store.save_characters(&bad).await.is_err(),
        "no such account"
    );
    assert_eq!(
        store.character(&other).await.expect("read"),
        Some(record(2.5, 100)),
        "nothing of a failed batch is kept"
    );
}

#[tokio::test]
async fn sqlite_keeps_accounts_and_characters_across_a_reopen() {
    let dir = temp_dir("store-sqlite");
    let path = dir.join("data").join("game.db");
    let spec = path.display().to_string();
    let store = Store::open(&spec)
        .await
        .expect("opens, creating the directory");
    assert_eq!(store.backend(), Backend::Sqlite);
    accounts_and_characters(&store).await;
    store.close().await;
    let again = Store::open(&format!("sqlite://{spec}"))
        .await
        .expect("reopens");
    let rookie = AccountName::parse("rookie").expect("valid");
    assert_eq!(
        again.character(&rookie).await.expect("read"),
        Some(record(9.0, 200))
    );
    again.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_and_left_as_it_was() {
    let dir = temp_dir("store-corrupt");
    let path = dir.join("game.db");
    let junk = b"this is not a database, it is a file of text".repeat(200);
    std::fs::write(&path, &junk).expect("write");
    let err = Store::open(&path.display().to_string())
        .await
        .expect_err("refused");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("game.db"), "names the file: {err}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        junk,
        "nothing overwritten"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_database_from_a_newer_server_is_refused() {
    let dir = temp_dir("store-newer");
    let spec = dir.join("game.db").display().to_string();
    let store = Store::open(&spec).await.expect("opens");
    store.close().await;
    // What a newer server's migration would leave behind.
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{spec}"))
        .await
        .expect("raw connect");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (9999, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 0)",
    )
    .execute(&raw)
    .await
    .expect("insert");
    raw.close().await;
    let err = Store::open(&spec).await.expect_err("refused");
    assert!(
        matches!(err, StoreError::Newer { version: 9999, .. }),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_bad_spec_or_an_unreachable_server_is_a_one_line_error() {
    let err = Store::open("mysql://db/x").await.expect_err("refused");
    assert!(matches!(err, StoreError::BadSpec(_)), "{err}");
    let started = std::time::Instant::now();
    let err = Store::open("postgres://game:secret@127.0.0.1:1/mmo")
        .await
        .expect_err("nobody listens on port 1");
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(
        !text.contains("secret"),
        "no password in the message: {text}"
    );
    assert!(!text.contains('\n'), "one line: {text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "never hangs"
    );
}

#[tokio::test]
async fn postgres_keeps_accounts_and_characters_in_one_transaction_per_batch() {
    let Some(pg) = Postgres::start() else {
        skipped("postgres_keeps_accounts_and_characters_in_one_transaction_per_batch");
        return;
    };
    let store = Store::open(&pg.url()).await.expect("opens and migrates");
    assert_eq!(store.backend(), Backend::Postgres);
    accounts_and_characters(&store).await;
    store.close().await;
    let again = Store::open(&pg.url())
        .await
        .expect("reopens: migrations already there");
    let rookie = AccountName::parse("rookie").expect("valid");
    assert_eq!(
        again.character(&rookie).await.expect("read"),
        Some(record(9.0, 200))
    );
    // Cluster claims: the row names the node that holds the account. Claiming asks the node
    // before to let it go, and writes only if it did.
    let wait = std::time::Duration::from_secs(5);
    let asked = std::sync::Mutex::new(Vec::new());
    let answer = |yes: bool| {
        let asked = &asked;
        move |node: u16| {
            asked.lock().expect("asked").push(node);
            std::future::ready(yes)
        }
    };
    let claim = |node, ok| again.claim_account(&rookie, node, 10, wait, answer(ok));
    assert_eq!(
        claim(1, false).await.expect("claims"),
        Claimed::Yes,
        "none held it"
    );
    assert_eq!(
        claim(1, false).await.expect("claims"),
        Claimed::Yes,
        "this node held it"
    );
    assert_eq!(
        claim(2, false).await.expect("claims"),
        Claimed::Refused,
        "node 1 did not let go"
    );
    assert_eq!(claim(3, true).await.expect("claims"), Claimed::Yes);
    assert_eq!(claim(1, true).await.expect("claims"), Claimed::Yes);
    assert_eq!(
        *asked.lock().expect("asked"),
        [1, 1, 3],
        "the refused claim wrote nothing: node 3 asked node 1, and node 1 then asked node 3"
    );
    // A node's saves update only the characters whose claim names it: node 2, whose claim
    // moved on (here: never held), writes nothing over node 1's.
    let before = again.character(&rookie).await.expect("read");
    again
        .held_by(2)
        .save_characters(&[(rookie.clone(), record(77.0, 300))])
        .await
        .expect("a save that changes nothing is no error");
    assert_eq!(again.character(&rookie).await.expect("read"), before);
    again
        .held_by(1)
        .save_characters(&[(rookie.clone(), record(77.0, 300))])
        .await
        .expect("saved");
    assert_eq!(
        again.character(&rookie).await.expect("read"),
        Some(record(77.0, 300))
    );
    again.close().await;
    assert!(Path::new(&pg.data()).exists());
}
