//! Layer 3: what only looks in or carries messages. The client sessions turn packets into
//! jobs for the runtime ([`sessions`]); the NATS cluster carries region messages between
//! processes ([`cluster`]); the admin endpoint and the metrics read the counters and
//! snapshots the game keeps ([`admin`], [`metrics`]); the database keeps accounts and
//! characters ([`db`]). Nothing below names this layer.

pub mod admin;
pub mod cluster;
pub mod db;
pub mod metrics;
pub mod sessions;
