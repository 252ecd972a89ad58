//! Layer 4: the wiring. Flags ([`cli`]), the settings ([`config`]) and [`GameServer`], which
//! starts the game's runtime and its adapters and stops them.

pub mod cli;
pub mod config;
pub mod game_data;
pub mod gen_cert;
pub mod server;

pub use config::{AccountsConfig, ServerConfig, ServerConfigError, TlsListen};
pub use server::GameServer;
