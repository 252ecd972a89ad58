//! One session per account across a cluster's nodes: the two sides a login needs, as traits.
//! The cluster adapter implements [`NodeClaims`] (`adapters/cluster/claims.rs`), the login
//! service [`ReleaseHere`] (`adapters/sessions/login.rs`); here, below both, so that neither
//! names the other.
//!
//! A login on node B claims the account's row in the shared database
//! (`Store::claim_account`): it reads which node holds the character, A, and the claim's
//! generation, and asks A to let the character go ([`NodeClaims::release`]), with no
//! transaction open, whether or not the two are linked yet. A closes its session ("logged in
//! on another node"), saves the character's last state, and only then answers; a question
//! with an older generation than A's own claim is stale and refused. B then writes its own
//! id into the row with a compare-and-set on the generation, and loads the character: it
//! always starts from A's last state, and of two claims that read the same row only one is
//! written. If A refuses, nothing is written and the login is refused as unavailable; the
//! client's retry asks A again. If A does not answer (no process of it on the bus, or none in
//! time, or it says it holds no lease), B's claim is written only if A's lease in the
//! database has run out: A's own copy of its lease runs out first, and from that moment A
//! refuses its logged-in players' inputs and closes their sessions (`adapters/db/lease.rs`),
//! so nobody plays the character there. Saves are fenced by the claim's generation. A node
//! cut from the bus also closes its logged-in sessions and takes no login until it is back
//! (`Accounts::close_all`, `NodeClaims::on_bus`): its players' regions on other nodes are out
//! of its reach.

use std::sync::Arc;

use futures_util::future::BoxFuture;

/// Why another node did not let a character go.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// No answer within the wait.
    #[error("node {0} did not answer in time")]
    Timeout(u16),
    /// It answered that it could not (a login of the account in progress there, or the
    /// character's last state not saved in time).
    #[error("node {node} could not let the character go: {reason}")]
    Refused {
        /// The node.
        node: u16,
        /// What it said.
        reason: String,
    },
    /// No process of `node` is on the bus to answer: it is not running (a node subscribes
    /// before it lets any player in), so nobody plays the character there.
    #[error("node {0} is not on the bus")]
    NotRunning(u16),
    /// A process of `node` answered that its lease for it ran out (it is cut off from the
    /// database): as good as silence.
    #[error("node {0} holds no lease")]
    NoLease(u16),
    /// The question could not be sent.
    #[error("the cluster's bus: {0}")]
    Bus(String),
}

/// The cluster, as a login sees it.
pub trait NodeClaims: Send + Sync + 'static {
    /// This node's id.
    fn node(&self) -> u16;

    /// This process's random instance number (two processes with one node id differ).
    fn instance(&self) -> u64;

    /// Whether this node is on the bus now. Off it, it cannot ask another node to let a
    /// character go, nor be asked: it takes no login.
    fn on_bus(&self) -> bool;

    /// Asks `node` to let the character of account `key` go, its claim read at generation
    /// `gen`: done when its last state is saved and its session closed.
    fn release(
        &self,
        node: u16,
        key: String,
        gen: i64,
    ) -> BoxFuture<'static, Result<(), ReleaseError>>;
}

/// How a process answers release questions for its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answering {
    /// It holds its node's lease: it answers.
    Yes,
    /// Its own lease ran out (cut off from the database): it says so at once
    /// (`ReleaseError::NoLease` on the asking side), and the asker's claim is decided by
    /// the database's lease.
    NoLease,
    /// It has never held its node's lease (just started, or another process holds it: a
    /// second process started with that node id): it says nothing, so it cannot race the
    /// holder's answers.
    Silent,
}

/// This node's side: lets a character go for a login on another node.
pub trait ReleaseHere: Send + Sync + 'static {
    /// Whether and how this process answers questions (see [`Answering`]).
    fn answering(&self) -> Answering;

    /// Closes the session playing account `key` here (if any), saves its character, and
    /// returns once it is saved; `Err` says why not (among others: this node claimed it
    /// again after generation `asked`, which the asking node read).
    fn release_here(
        self: Arc<Self>,
        key: String,
        asked: i64,
    ) -> BoxFuture<'static, Result<(), String>>;
}
