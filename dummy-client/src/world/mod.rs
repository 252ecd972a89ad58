//! World mode (`--world grid`): bots walk a map at a set speed and check that the server
//! shows each of them exactly its neighbourhood.
//!
//! [`run_world`] connects and walks the bots (`driver`); each bot's session feeds its sans-IO
//! [`Checker`] (`checker`, `bot`); sequence numbers travel in `posY` and are kept as runs
//! (`runs`); `walk` is the random walk; [`WorldReport`] is the verdict.

mod bot;
mod checker;
mod cli;
mod config;
mod driver;
mod report;
mod runs;
mod walk;

pub use checker::{Checker, Violations};
pub use cli::WorldCli;
pub use config::WorldRunConfig;
pub use driver::run_world;
pub use report::WorldReport;
pub use runs::SeqRuns;
