//! The admin endpoint (`game-server --admin`) over real sockets, against an in-process
//! server with bots playing.
//!
//! One test binary, one file per concern under `tests/admin/`:
//! - `metrics`: `/metrics` scraped while bots play: counters move, add up to the server's
//!   own totals, and follow the Prometheus conventions;
//! - `security`: the token (401s counted, the event stream included), no token off
//!   loopback, malformed HTTP, slow and idle clients, the connection cap, a stalled viewer,
//!   and a game client that keeps playing through all of it;
//! - `page`: the live map in headless Chromium, driven over the DevTools protocol: dots
//!   appear, move and disappear when bots leave, counters change, a click shows a player;
//! - `http`, `exposition`, `common`: a raw HTTP client, an exposition reader, server setup.

mod support;

#[path = "admin/chromium.rs"]
mod chromium;
#[path = "admin/common.rs"]
mod common;
#[path = "admin/exposition.rs"]
mod exposition;
#[path = "admin/http.rs"]
mod http;
#[path = "admin/metrics.rs"]
mod metrics;
#[path = "admin/page.rs"]
mod page;
#[path = "admin/security.rs"]
mod security;
