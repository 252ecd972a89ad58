//! Logins against an in-process server on a SQLite file: the helpers of `accounts.rs` and
//! `login_tokens.rs`.

use std::path::Path;
use std::time::Duration;

use game_server::adapters::db::Store;
use game_server::app::AccountsConfig;
use game_server::game::accounts::{AccountName, LoginMode, LoginResult};
use game_server::game::saves::SaveConfig;
use game_server::packets::{
    CLogin, CMove, SBroadcastEnterGame, SBroadcastLeaveGame, SBroadcastMove, SLogin, SPlayerList,
};
use game_server::world::WorldConfig;
use game_server::{GameServer, ServerConfig};
use server_core::Packet;

use super::{start_server, Client};

/// Logins in `mode` on the SQLite file `db`, with a fast checkpoint (200 ms).
pub async fn accounts(db: &Path, mode: LoginMode) -> AccountsConfig {
    let store = Store::open(db.to_str().expect("utf-8 path"))
        .await
        .expect("the test database opens");
    AccountsConfig {
        mode,
        saves: SaveConfig {
            interval: Duration::from_millis(200),
            ..SaveConfig::default()
        },
        ..AccountsConfig::new(store)
    }
}

pub async fn server(db: &Path, mode: LoginMode, world: bool) -> GameServer {
    let accounts = accounts(db, mode).await;
    start_server(move |c: &mut ServerConfig| {
        c.accounts = Some(accounts);
        if world {
            c.world = Some(WorldConfig::default());
        }
    })
    .await
}

pub fn login(name: &str, password: &str, create: bool) -> CLogin {
    CLogin {
        name: name.to_owned(),
        password: password.to_owned(),
        create,
    }
}

/// Sends a login and reads its answer (past the room's broadcasts, for a client that plays).
pub async fn try_login(client: &mut Client, packet: &impl Packet) -> SLogin {
    client.send(packet).await;
    read_answer(client).await
}

/// Reads the next `S_Login` (past the room's broadcasts, for a client that plays).
pub async fn read_answer(client: &mut Client) -> SLogin {
    loop {
        let (id, body) = client.next_frame().await;
        match id {
            SLogin::ID => return SLogin::decode(&body).expect("valid S_Login"),
            SBroadcastEnterGame::ID | SBroadcastMove::ID | SBroadcastLeaveGame::ID => continue,
            other => panic!("expected S_Login, got packet {other}"),
        }
    }
}

/// Logs in (or creates) and reads the player list that follows; returns the client and its
/// own position.
pub async fn play(addr: std::net::SocketAddr, name: &str, create: bool) -> (Client, [f32; 3]) {
    let (client, at, _) = play_by(addr, &login(name, "correct horse", create)).await;
    (client, at)
}

/// Logs in with `packet` (a `C_Login` or `C_LoginToken`) and reads the player list that
/// follows; returns the client, its own position and the `S_Login` (with its token).
pub async fn play_by(
    addr: std::net::SocketAddr,
    packet: &impl Packet,
) -> (Client, [f32; 3], SLogin) {
    let mut client = Client::connect_raw(addr).await;
    let answer = try_login(&mut client, packet).await;
    assert_eq!(answer.result, LoginResult::Ok.code(), "{answer:?}");
    let list: SPlayerList = client.expect().await;
    let me = list
        .players
        .iter()
        .find(|p| p.is_self)
        .expect("the list holds the newcomer");
    assert_eq!(me.player_id, answer.player_id, "S_Login names the player");
    client.player_id = me.player_id;
    (client, [me.pos_x, me.pos_y, me.pos_z], answer)
}

/// Moves and waits for the server's echo of this player's move (the room's or region's
/// position after its rules).
pub async fn move_to(client: &mut Client, pos: [f32; 3]) -> [f32; 3] {
    client
        .send(&CMove {
            pos_x: pos[0],
            pos_y: pos[1],
            pos_z: pos[2],
        })
        .await;
    loop {
        let (id, body) = client.next_frame().await;
        if id == SBroadcastMove::ID {
            let m = SBroadcastMove::decode(&body).expect("valid move");
            if m.player_id == client.player_id {
                return [m.pos_x, m.pos_y, m.pos_z];
            }
        }
    }
}

pub async fn saved_position(db: &Path, name: &str) -> Option<[f32; 3]> {
    let store = Store::open(db.to_str().expect("utf-8 path"))
        .await
        .expect("reopens");
    let record = store
        .character(&AccountName::parse(name).expect("valid"))
        .await
        .expect("reads");
    store.close().await;
    record.map(|r| r.pos)
}
