//! World mode: a square map cut into stripes (regions), each run by its own job queue, with
//! area of interest instead of one room that sends everything to everyone.
//!
//! - [`config`]: the settings; [`geometry`]: stripes, clamping, step limit, spawn points.
//! - `grid` and [`interest`]: the sans-IO core, who sees whom with hysteresis.
//! - [`message`]: the jobs a region runs, and [`RegionMsg`], the plain-data protocol between
//!   regions (ghosts and hand-offs), written so that it could later cross processes.
//! - `batch`: frames encoded once per tick and gathered per recipient.
//! - [`region`]: one region's state machine (sans-IO: jobs in, frames and messages out).
//! - `view_filter`: [`ViewFilter`], a rejoined player's stream kept well formed.
//!
//! The region threads, the player directory and each session's seat are the runtime's
//! (`crate::runtime::world`); this module has no thread, no queue and no socket.

mod args;
mod batch;
pub mod config;
pub mod geometry;
mod grid;
mod ids;
pub mod interest;
pub mod message;
pub mod region;
mod view_filter;
pub mod wire;

pub use args::{Mode, WorldArgs};
pub use config::{Spawn, WorldConfig, WorldConfigError, MAX_REGIONS};
pub use geometry::{has_region, region_bit, Layout, MoveVerdict, Pos, RegionId};
pub use interest::{Interest, ViewChange};
pub use message::{PlayerInput, RegionJob, RegionMsg, RegionSnapshot};
pub use region::{Directory, PlayerLink, Region, Route, WorldStats};
pub use view_filter::{FilterOverflow, ViewFilter, PENDING_MAX};
