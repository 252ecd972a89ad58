//! A game server with its admin endpoint on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use game_server::admin::{AdminConfig, AdminToken};
use game_server::{GameServer, ServerConfig};

use crate::support::start_server;

/// A token long enough to be accepted.
pub const TOKEN: &str = "test-admin-token-0123456789";

/// A server with a 50 ms tick and the admin endpoint on 127.0.0.1:0, `tweak`ed.
pub async fn start_with_admin(tweak: impl FnOnce(&mut AdminConfig)) -> GameServer {
    let mut admin = AdminConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)));
    tweak(&mut admin);
    start_server(|c: &mut ServerConfig| {
        c.tick = Duration::from_millis(50);
        c.admin = Some(admin);
    })
    .await
}

/// The same, with [`TOKEN`] required.
pub async fn start_with_token(tweak: impl FnOnce(&mut AdminConfig)) -> GameServer {
    start_with_admin(|a| {
        a.token = Some(AdminToken::new(TOKEN).expect("valid token"));
        tweak(a);
    })
    .await
}

/// `Authorization` header value carrying [`TOKEN`].
pub fn bearer() -> String {
    format!("Bearer {TOKEN}")
}
