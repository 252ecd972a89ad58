//! World mode (`--world grid`): bots walk a map at a set speed and check that the server
//! shows each of them exactly its neighbourhood.
//!
//! [`run_world`] connects and walks the bots (`driver`) in time order (`cadence`),
//! finding each move's receivers in a grid (`near`) and keeping the moves they must get by
//! sender (`required`); each bot's session (`bot`) feeds its sans-IO [`Checker`]
//! (`checker`) and shares little with the driver (`state`); sequence numbers travel in
//! `posY` and are kept as runs (`runs`); `walk` is the random walk; [`WorldReport`] is the
//! verdict. With `--login`, every bot logs in to its account first, and after the window
//! logs in again and must find its character where it left (`comeback`). With churn too
//! (`--churn-per-sec`), bots drop their connection during the window and take their
//! character back by token within the server's reconnect grace: `churn` plans the trips,
//! `driver/churn.rs` makes them, `rejoin` checks each rejoin against what its bot left,
//! `parked` lets the watchers check that a parked player neither leaves nor enters again,
//! and [`ChurnReport`] sums it up. What runs per frame takes no lock and no SipHash: player ids are hashed with FxHash
//! (`rustc-hash`), a move's sender is found in flat arrays (`senders`), and timings are
//! added to the run's histograms a batch at a time (`timings`).

mod bot;
mod cadence;
mod checker;
mod churn;
mod churn_report;
mod cli;
mod comeback;
mod config;
mod driver;
mod near;
mod parked;
mod rejoin;
mod report;
mod required;
mod runs;
mod senders;
mod state;
mod timings;
mod walk;

pub use checker::{Checker, Violations};
pub use churn_report::ChurnReport;
pub use cli::WorldCli;
pub use config::WorldRunConfig;
pub use driver::run_world;
pub use report::WorldReport;
pub use runs::SeqRuns;
