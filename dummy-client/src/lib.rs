//! `dummy-client`: a load generator that connects thousands of bots to a server speaking the
//! course's protocol, drives the course's workload, checks what comes back and reports it.
//!
//! One driver task ([`run`]) connects the bots at a ramp rate through server-core's
//! `Connector`, then ticks every bot's timers (`schedule`) to send `C_Move`, `C_Ping` and
//! optionally `C_Chat`. Each bot's session task decodes what the server sends with the
//! generated client-side `PacketManager` (`bot`) and bumps that bot's counters. The run moves
//! through ramp-up, a measured window and a drain (`phase`); moves sent in the window are
//! marked and tagged with their sender and a per-sender sequence number (`moves`), each
//! receiver checks every sender's sequence as moves arrive (`sequences`), and the end checks
//! exactly, sender by sender, that every bot received every bot's moves (`accounting`). With
//! churn on, bots also leave and rejoin as new players during the window, and each stay in
//! the room is checked on its own (`churn`). Every pong is matched to its ping (`pings`), and
//! round trips go to an hdrhistogram (`latency`). With `--login`, every connection logs in to
//! its bot's account first, and a rejoin must find the character where it left (`login`). A
//! status line per second (`status`) and the final [`Report`] (summary and JSON) show the
//! result. Everything except the driver is sans-IO and tested without sockets.

#![warn(missing_docs)]

mod accounting;
mod bot;
mod chat;
mod churn;
mod cli;
mod config;
mod counter;
mod driver;
mod echo;
mod error;
mod frames;
mod latency;
mod login;
mod moves;
pub mod packets;
mod phase;
mod pings;
mod report;
mod schedule;
mod sequences;
mod status;
mod udp;
pub mod world;

pub use accounting::MoveAccounting;
pub use chat::ChatAccounting;
pub use churn::ChurnAccounting;
pub use cli::Cli;
pub use config::RunConfig;
pub use driver::{run, run_until};
pub use error::Error;
pub use latency::RttSummary;
pub use login::{LoginReport, LoginTime, NameError};
pub use pings::PongAccounting;
pub use report::{ErrorCounts, Report, Timeline, Traffic, UdpReport};
