//! The database store against a real SQLite file in a temp directory and a real PostgreSQL
//! cluster this test starts itself (Debian's `postgresql`; without it the PostgreSQL tests
//! print SKIPPED and name the package).

mod support;

use std::path::Path;

use game_server::adapters::db::{Backend, Claimed, Consent, SaveRow, Store, StoreError};
use game_server::game::accounts::{hash_password, verify_password, AccountName, IssuedToken};
use game_server::game::saves::{CharacterRecord, CharacterStats, Place};
use support::postgres::{skipped, Postgres};
use support::temp_dir;

fn record(x: f32, seen: i64) -> CharacterRecord {
    CharacterRecord {
        place: Place::World,
        region: 1,
        pos: [x, 3.0, -x],
        created_ms: 1_000,
        last_seen_ms: seen,
        // Stats that differ with the arguments, so a save that loses them fails the checks:
        // a level and experience, and hit points that are full (None) below x = 5.
        stats: CharacterStats {
            level: 2 + (seen / 100) as u32,
            exp: seen as u32 * 3,
            hp: (x > 5.0).then_some(17),
        },
    }
}

/// Rows to save, under claim `claim` (0 outside a cluster).
fn rows(list: &[(AccountName, CharacterRecord)], claim: i64) -> Vec<SaveRow> {
    list.iter()
        .map(|(name, record)| SaveRow {
            name: name.clone(),
            record: *record,
            claim,
        })
        .collect()
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
    store
        .save_characters(&rows(&batch, 0))
        .await
        .expect("saved");
    store
        .save_characters(&rows(&[(rookie.clone(), record(9.0, 200))], 0))
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
        store.save_characters(&rows(&bad, 0)).await.is_err(),
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
    // Cluster claims: the row names the node that holds the account and the claim's
    // generation. Claiming asks the node before to let it go (with the generation it read),
    // and writes only if it did, or if it is silent and its lease has run out.
    let asked = std::sync::Mutex::new(Vec::new());
    let answer = |consent: Consent| {
        let asked = &asked;
        move |node: u16, gen: i64| {
            asked.lock().expect("asked").push((node, gen));
            std::future::ready(consent)
        }
    };
    let claim = |node, consent| again.claim_account(&rookie, node, 10, answer(consent));
    let yes = |gen, from| Claimed::Yes { gen, from };
    assert_eq!(
        claim(1, Consent::Refused).await.expect("claims"),
        yes(1, None),
        "none held it: nobody asked"
    );
    assert_eq!(
        claim(1, Consent::Refused).await.expect("claims"),
        yes(2, None),
        "this node held it: a new claim all the same"
    );
    assert_eq!(
        claim(2, Consent::Refused).await.expect("claims"),
        Claimed::Refused,
        "node 1 did not let go"
    );
    assert_eq!(
        claim(3, Consent::Given).await.expect("claims"),
        yes(3, Some(1))
    );
    // Node 3 holds a lease: silent, it keeps the account.
    let lease = std::time::Duration::from_millis(400);
    assert!(again.take_lease(3, 33, lease).await.expect("taken"));
    assert!(
        !again.take_lease(3, 34, lease).await.expect("asked"),
        "a second process with node 3's id gets no lease while the first holds it"
    );
    assert!(
        !again.extend_lease(3, 34, lease).await.expect("asked"),
        "nor can it extend the first one's"
    );
    assert!(again.extend_lease(3, 33, lease).await.expect("extended"));
    assert!(
        again.take_lease(3, 33, lease).await.expect("taken"),
        "a process may take its own row again (its earlier take's answer was lost)"
    );
    assert_eq!(
        claim(1, Consent::Silent).await.expect("claims"),
        Claimed::Refused,
        "node 3 is silent but its lease runs: it may still play the account"
    );
    tokio::time::sleep(lease + std::time::Duration::from_millis(100)).await;
    assert!(
        !again.extend_lease(3, 33, lease).await.expect("asked"),
        "run out in the database: not extended (its holder must stop its players first)"
    );
    assert_eq!(
        claim(1, Consent::Silent).await.expect("claims"),
        yes(4, Some(3)),
        "its lease ran out: it has stopped its players itself"
    );
    assert!(
        again.take_lease(3, 34, lease).await.expect("taken"),
        "now free"
    );
    again.end_lease(3, 34).await.expect("ended");
    assert_eq!(
        *asked.lock().expect("asked"),
        [(1, 2), (1, 2), (3, 3), (3, 3)],
        "each holder asked with the generation read; refusals wrote nothing"
    );

    // Two claims that read the same row: one wins, the other is refused (compare-and-set
    // on the generation), whatever the holder answered.
    let racing = again.claim_account(&rookie, 2, 10, |_, _| async {
        // Meanwhile node 1 claims it again (its own: nobody to ask).
        let inner = again.claim_account(&rookie, 1, 11, answer(Consent::Refused));
        assert_eq!(inner.await.expect("claims"), yes(5, None));
        Consent::Given
    });
    assert_eq!(racing.await.expect("claims"), Claimed::Refused);

    // Saves are fenced by node and generation: node 2, which never held it, writes nothing;
    // node 1 writes under its claim (5) and not under an earlier one (4: a save queued
    // before the account went away and came back).
    let before = again.character(&rookie).await.expect("read");
    let save = |node: u16, claim: i64, x: f32| {
        let store = again.held_by(node);
        let batch = rows(&[(rookie.clone(), record(x, 300))], claim);
        async move { store.save_characters(&batch).await.expect("no error") }
    };
    assert_eq!(
        save(2, 5, 77.0).await,
        vec!["rookie".to_owned()],
        "fenced out"
    );
    assert_eq!(again.character(&rookie).await.expect("read"), before);
    assert_eq!(
        save(1, 4, 66.0).await,
        vec!["rookie".to_owned()],
        "an older claim's"
    );
    assert_eq!(again.character(&rookie).await.expect("read"), before);
    assert!(save(1, 5, 77.0).await.is_empty(), "written");
    assert_eq!(
        again.character(&rookie).await.expect("read"),
        Some(record(77.0, 300))
    );
    again.close().await;
    assert!(Path::new(&pg.data()).exists());
}
