//! Layer 2: what owns threads and queues. A room or region runs on a [`job_queue`] thread
//! that owns its state without a lock; [`world`] starts a world's region threads and gives
//! each session a seat; [`seat`] is where a session's player sits, in the room or the world.
//! It knows the cluster only through [`world::Cluster`], a trait the cluster adapter
//! implements; [`claims`] holds the two traits by which logins on different nodes agree on
//! one session per account.

pub mod claims;
pub mod job_queue;
pub mod room;
pub mod seat;
pub mod world;
