//! Logins in a cluster (issue 24): two game-server nodes, a real `nats-server` and a real
//! PostgreSQL the nodes share. A character walked into the other node's region is saved by
//! its own node with the position that region gave it; logging in on the other node closes
//! the first session and starts from its last state; logins of one account on both nodes
//! at once leave exactly one session playing; a node cut from the bus closes its logged-in
//! sessions and takes no login; a stopped node's accounts are taken over once it is no longer
//! heard.

mod support;

use std::time::Duration;

use game_server::adapters::db::{LeaseConfig, Store};
use game_server::app::AccountsConfig;
use game_server::cluster::ClusterConfig;
use game_server::game::accounts::{AccountName, LoginMode, LoginResult};
use game_server::game::saves::SaveConfig;
use game_server::world::Spawn;
use game_server::GameServer;

use support::accounts::{login, move_to, play, read_answer};
use support::nats::Nats;
use support::postgres::{skipped, Postgres};
use support::{eventually, small_world, start_server, Client};

const TEST: &str = "a_cluster_saves_each_character_once_and_keeps_one_session_per_account";

/// Node `id` of a two-region world (the border at x = 0), running region `id`, with logins
/// on the shared database at `db`.
async fn node(nats: &Nats, id: u16, db: &str) -> GameServer {
    node_running(nats, id, 1 << id, db).await
}

/// Node `id` running the regions of the bit set `own`.
async fn node_running(nats: &Nats, id: u16, own: u64, db: &str) -> GameServer {
    let cluster = ClusterConfig::new(nats.url(), id, own);
    let store = Store::open(db).await.expect("the shared database opens");
    let accounts = AccountsConfig {
        mode: LoginMode::Optional,
        saves: SaveConfig {
            interval: Duration::from_millis(200),
            ..SaveConfig::default()
        },
        // Short, so a test sees a lease run out.
        lease: LeaseConfig {
            length: Duration::from_secs(3),
            renew_every: Duration::from_millis(250),
        },
        ..AccountsConfig::new(store)
    };
    start_server(move |c| {
        c.tick = Duration::from_millis(50);
        c.world = Some(small_world(Spawn::At { x: -1.0, z: 0.0 }));
        c.cluster = Some(cluster);
        c.accounts = Some(accounts);
    })
    .await
}

async fn saved(db: &str, name: &str) -> Option<[f32; 3]> {
    let store = Store::open(db).await.expect("reopens");
    let record = store
        .character(&AccountName::parse(name).expect("valid"))
        .await
        .expect("reads");
    store.close().await;
    record.map(|r| r.pos)
}

/// True if the server closes `client` within `within`.
async fn closed_within(client: &mut Client, within: Duration) -> bool {
    tokio::time::timeout(within, async {
        while client.try_next_frame().await.is_some() {}
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_saves_each_character_once_and_keeps_one_session_per_account() {
    let Some(mut nats) = Nats::start(TEST) else {
        return;
    };
    let Some(pg) = Postgres::start() else {
        skipped(TEST);
        return;
    };
    let db = pg.url();
    let a = node(&nats, 0, &db).await;
    let b = node(&nats, 1, &db).await;
    eventually("both nodes hear each other's heartbeats", || {
        a.snapshot().cluster_nodes == 1 && b.snapshot().cluster_nodes == 1
    })
    .await;

    // Logged in on node 0, walked into region 1 (node 1's): node 1 applies the moves and
    // tells node 0, whose save task writes them.
    let (mut nomad, at) = play(a.local_addr(), "Nomad", true).await;
    assert_eq!(at, [-1.0, 0.0, 0.0], "the spawn point, in region 0");
    for x in [9.0, 19.0, 25.0] {
        move_to(&mut nomad, [x, 0.0, 0.0]).await;
    }
    wait_saved(
        &db,
        "Nomad",
        [25.0, 0.0, 0.0],
        "node 0 should save where node 1 put it: {:?}",
    )
    .await;

    // The same account on node 1: node 0's session is closed, and node 1 starts from
    // node 0's last state.
    let (mut there, at) = play(b.local_addr(), "nomad", false).await;
    assert_eq!(at, [25.0, 0.0, 0.0], "where the other node last had it");
    assert!(
        closed_within(&mut nomad, Duration::from_secs(5)).await,
        "the first session is closed"
    );
    move_to(&mut there, [30.0, 0.0, 0.0]).await;
    // And back to node 0.
    let (_back, at) = play(a.local_addr(), "NOMAD", false).await;
    assert_eq!(at, [30.0, 0.0, 0.0]);
    assert!(closed_within(&mut there, Duration::from_secs(5)).await);
    let replaced = |s: &GameServer| {
        s.login_stats()
            .expect("logins on")
            .replaced
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(
        (replaced(&a), replaced(&b)),
        (1, 1),
        "one close on each node"
    );

    // Ten logins of one account at once, five on each node: exactly one session plays.
    drop(play(a.local_addr(), "Crowd", true).await);
    let mut clients = Vec::new();
    for i in 0..10 {
        let addr = if i % 2 == 0 {
            a.local_addr()
        } else {
            b.local_addr()
        };
        clients.push(Client::connect_raw(addr).await);
    }
    for c in &mut clients {
        c.send(&login("Crowd", "correct horse", false)).await;
    }
    let mut passed = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let answer = read_answer(c).await;
        assert!(
            answer.result == LoginResult::Ok.code()
                || answer.result == LoginResult::Unavailable.code(),
            "login {i}: {answer:?}"
        );
        if answer.result == LoginResult::Ok.code() {
            passed.push(i);
        }
    }
    assert!(!passed.is_empty(), "at least one login passes");
    let mut open = Vec::new();
    for &i in &passed {
        if !closed_within(&mut clients[i], Duration::from_secs(3)).await {
            open.push(i);
        }
    }
    assert_eq!(
        open.len(),
        1,
        "exactly one session plays: {open:?} of {passed:?}"
    );

    // A node that stops: its characters were saved, nobody plays them there, and it ended
    // its lease in the database, so a login elsewhere takes them over at once.
    // It stands in region 0 (node 0's), so node 0 can let it in once node 1 is gone.
    let (mut on_b, _) = play(b.local_addr(), "Stayer", true).await;
    move_to(&mut on_b, [-5.0, 0.0, 0.0]).await;
    b.shutdown().await;
    let mut c = Client::connect_raw(a.local_addr()).await;
    c.send(&login("Stayer", "correct horse", false)).await;
    let answer = read_answer(&mut c).await;
    assert_eq!(
        answer.result,
        LoginResult::Ok.code(),
        "taken over at once: {answer:?}"
    );
    let list: game_server::packets::SPlayerList = c.expect().await;
    let me = list.players.iter().find(|p| p.is_self).expect("listed");
    let at = [me.pos_x, me.pos_y, me.pos_z];
    assert_eq!(at, [-5.0, 0.0, 0.0], "where the stopped node saved it");
    // A character that stands in the stopped node's region cannot enter: refused with code 6
    // before anything else is said, not told 0 and closed. (Node 1 ended its lease as it
    // stopped, so the takeover above did not wait for node 0 to find it gone; this does.)
    eventually("node 0 no longer hears node 1", || {
        a.snapshot().cluster_nodes == 0
    })
    .await;
    let mut c = Client::connect_raw(a.local_addr()).await;
    c.send(&login("Nomad", "correct horse", false)).await;
    let answer = read_answer(&mut c).await;
    assert_eq!(answer.result, LoginResult::Unavailable.code(), "{answer:?}");
    assert!(answer.retry_after_ms > 0);

    // A node cut from the bus closes its logged-in sessions (another node may take their
    // characters over now) and takes no login until it is back.
    // First a stalled bus (the server stopped, every socket still open: the NATS client
    // notices nothing for a while): the node stops hearing its own heartbeat and gives its
    // logged-in players up before any other node could take them over.
    let (mut stalled, _) = play(a.local_addr(), "Stalled", true).await;
    nats.pause();
    let closed = closed_within(&mut stalled, Duration::from_secs(5)).await;
    nats.resume();
    assert!(
        closed,
        "a node that stops hearing its own heartbeat closes its logged-in sessions"
    );
    // Logins come back with the echo.
    drop(login_until_ok(a.local_addr(), "Stalled").await);

    let (mut lone, _) = play(a.local_addr(), "Lone", true).await;
    nats.kill();
    assert!(
        closed_within(&mut lone, Duration::from_secs(10)).await,
        "a logged-in session on a node cut from the bus is closed"
    );
    let mut late = Client::connect_raw(a.local_addr()).await;
    late.send(&login("Lone", "correct horse", false)).await;
    let answer = read_answer(&mut late).await;
    assert_eq!(
        answer.result,
        LoginResult::Unavailable.code(),
        "no login while off the bus"
    );

    a.shutdown().await;
    assert_eq!(saved(&db, "Nomad").await, Some([30.0, 0.0, 0.0]));
}

/// Issue 24's review (H1): two nodes that cannot hear each other (here: each on its own
/// nats-server, no route between them; in production, a route between two NATS servers
/// cut) but share the database. A login on one for an account the other plays gets no
/// answer from the other; the other's lease in the database still runs, so the login is
/// refused and the first session plays on. Once the first node is off the bus altogether
/// (its nats-server killed) it closes its sessions and lets its lease run out, and the login
/// passes, from the state it saved. Each node runs the whole world, so each can place the
/// character by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_cut_off_from_each_other_never_both_play_an_account() {
    const SPLIT: &str = "nodes_cut_off_from_each_other_never_both_play_an_account";
    let Some(mut nats_a) = Nats::start(SPLIT) else {
        return;
    };
    let Some(nats_b) = Nats::start(SPLIT) else {
        return;
    };
    let Some(pg) = Postgres::start() else {
        skipped(SPLIT);
        return;
    };
    let db = pg.url();
    let a = node_running(&nats_a, 0, 0b11, &db).await;
    let b = node_running(&nats_b, 1, 0b11, &db).await;

    let (mut first, _) = play(a.local_addr(), "Split", true).await;
    move_to(&mut first, [-5.0, 0.0, 0.0]).await;
    wait_saved(&db, "Split", [-5.0, 0.0, 0.0], "saved by node 0").await;

    for _ in 0..2 {
        let mut c = Client::connect_raw(b.local_addr()).await;
        c.send(&login("Split", "correct horse", false)).await;
        let answer = read_answer(&mut c).await;
        assert_eq!(
            answer.result,
            LoginResult::Unavailable.code(),
            "node 0 does not answer, but its lease runs: {answer:?}"
        );
    }
    assert!(
        !closed_within(&mut first, Duration::from_secs(1)).await,
        "the first session plays on"
    );
    move_to(&mut first, [-6.0, 0.0, 0.0]).await;

    nats_a.kill();
    assert!(
        closed_within(&mut first, Duration::from_secs(10)).await,
        "off the bus: its logged-in sessions are closed"
    );
    // Node 0's lease runs out (3 s) and the account moves.
    let (_second, at) = login_until_ok(b.local_addr(), "Split").await;
    assert_eq!(at, [-6.0, 0.0, 0.0], "where node 0 left it");
    b.shutdown().await;
    a.shutdown().await;
}

/// Issue 24, item 8 in a cluster: a node cut off from the database (not from the bus) can
/// renew neither its saves nor its lease. Its lease runs out, it closes its logged-in
/// sessions and refuses logins; asked by another node, it answers that it holds no lease,
/// so that node takes the account over from the last saved state (the database lease ran
/// out too), without waiting for anyone. Node 0 connects as its own PostgreSQL role, which
/// the test then locks out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_the_database_stops_its_players_and_lets_their_accounts_go() {
    const CUT: &str =
        "a_node_cut_off_from_the_database_stops_its_players_and_lets_their_accounts_go";
    let Some(nats) = Nats::start(CUT) else {
        return;
    };
    let Some(pg) = Postgres::start() else {
        skipped(CUT);
        return;
    };
    let db = pg.url();
    // Node 1 first: it creates the tables, as the superuser.
    let b = node(&nats, 1, &db).await;
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&db)
        .await
        .expect("admin connection");
    for sql in [
        "CREATE ROLE node_zero LOGIN",
        // Opening checks the migrations (it may create their table if missing).
        "GRANT USAGE, CREATE ON SCHEMA public TO node_zero",
        "GRANT ALL ON ALL TABLES IN SCHEMA public TO node_zero",
        "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO node_zero",
    ] {
        sqlx::query(sql).execute(&admin).await.expect(sql);
    }
    let a = node(
        &nats,
        0,
        &db.replace("postgres://postgres@", "postgres://node_zero@"),
    )
    .await;
    eventually("both nodes hear each other's heartbeats", || {
        a.snapshot().cluster_nodes == 1 && b.snapshot().cluster_nodes == 1
    })
    .await;

    let (mut cut, _) = play(a.local_addr(), "Cut", true).await;
    move_to(&mut cut, [-7.0, 0.0, 0.0]).await;
    wait_saved(&db, "Cut", [-7.0, 0.0, 0.0], "saved by node 0").await;

    for sql in [
        "ALTER ROLE node_zero NOLOGIN",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'node_zero'",
    ] {
        sqlx::query(sql).execute(&admin).await.expect(sql);
    }
    // A move its node can no longer save: the character stays unsaved on node 0, which
    // therefore could never let it go by saving it.
    move_to(&mut cut, [-8.0, 0.0, 0.0]).await;
    assert!(
        closed_within(&mut cut, Duration::from_secs(8)).await,
        "its lease (3 s in this test) runs out: the session is closed"
    );
    let mut late = Client::connect_raw(a.local_addr()).await;
    late.send(&login("Cut", "correct horse", false)).await;
    assert_eq!(
        read_answer(&mut late).await.result,
        LoginResult::Unavailable.code(),
        "no login on a node without its lease"
    );

    let (mut on_b, at) = login_until_ok(b.local_addr(), "Cut").await;
    assert_eq!(
        at,
        [-7.0, 0.0, 0.0],
        "from the last state node 0 saved (the move after the cut is lost, as stated)"
    );

    // Node 1 plays it on and saves; node 0 gets the database back, with a save of the old
    // claim still queued (-8) and its slot left from then. Logging in on node 0 again takes
    // the account back from node 1 at node 1's state, and the old save never lands.
    move_to(&mut on_b, [-9.0, 0.0, 0.0]).await;
    wait_saved(&db, "Cut", [-9.0, 0.0, 0.0], "saved by node 1").await;
    sqlx::query("ALTER ROLE node_zero LOGIN")
        .execute(&admin)
        .await
        .expect("login again");
    let (_back, at) = login_until_ok(a.local_addr(), "Cut").await;
    assert_eq!(
        at,
        [-9.0, 0.0, 0.0],
        "node 1's state, not node 0's stale one"
    );
    assert!(
        closed_within(&mut on_b, Duration::from_secs(5)).await,
        "node 1's session is closed"
    );
    // Node 0's queued save of the old claim retries within its back-off: it must not land.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(saved(&db, "Cut").await, Some([-9.0, 0.0, 0.0]));
    b.shutdown().await;
    a.shutdown().await;
    admin.close().await;
}

/// Logs `name` in on `addr` until it passes (refused as unavailable meanwhile, for at most
/// 10 s); the client and where it stands.
async fn login_until_ok(addr: std::net::SocketAddr, name: &str) -> (Client, [f32; 3]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = Client::connect_raw(addr).await;
        c.send(&login(name, "correct horse", false)).await;
        let answer = read_answer(&mut c).await;
        if answer.result == LoginResult::Ok.code() {
            let list: game_server::packets::SPlayerList = c.expect().await;
            let me = list.players.iter().find(|p| p.is_self).expect("listed");
            c.player_id = me.player_id;
            return (c, [me.pos_x, me.pos_y, me.pos_z]);
        }
        assert_eq!(answer.result, LoginResult::Unavailable.code(), "{answer:?}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: still refused after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits (at most 10 s) until the database holds `name`'s character at `pos`.
async fn wait_saved(db: &str, name: &str, pos: [f32; 3], what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = saved(db, name).await;
        if now == Some(pos) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {name} is saved at {now:?}, not {pos:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
