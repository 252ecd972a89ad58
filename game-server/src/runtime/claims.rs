//! One session per account across a cluster's nodes: the two sides a login needs, as traits.
//! The cluster adapter implements [`NodeClaims`] (`adapters/cluster/claims.rs`), the login
//! service [`ReleaseHere`] (`adapters/sessions/login.rs`); here, below both, so that neither
//! names the other.
//!
//! A login on node B claims the account's row in the shared database
//! (`Store::claim_account`). The row stays locked while B asks the node it names, A, to let
//! the character go ([`NodeClaims::release`]), whether or not the two are linked yet: A
//! closes its session ("logged in on another node"), saves the character's last state, and
//! only then answers. Only then does B write its own id into the row and commit, and load
//! the character: it always starts from A's last state, and the row only ever names the node
//! that holds the character. If A refuses or does not answer in time, B's transaction rolls
//! back (the row still names A) and the login is refused as unavailable; the client's retry
//! asks A again. Claims of one account from every node take turns on the row lock. If no
//! process of node A is on the bus (NATS answers "no responders"), A is not running, or is
//! cut from the bus, and nobody plays the character there: a node cut from the bus closes its
//! logged-in sessions at once and takes no login until it is back (`Accounts::close_all`,
//! `NodeClaims::on_bus`). Its last checkpoint is in the database.

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
    /// The question could not be sent.
    #[error("the cluster's bus: {0}")]
    Bus(String),
}

/// The cluster, as a login sees it.
pub trait NodeClaims: Send + Sync + 'static {
    /// This node's id.
    fn node(&self) -> u16;

    /// Whether `node`'s heartbeats are heard (the two are linked) now.
    fn linked(&self, node: u16) -> bool;

    /// Whether this node is on the bus now. Off it, it cannot ask another node to let a
    /// character go, nor be asked: it takes no login.
    fn on_bus(&self) -> bool;

    /// Asks `node` to let the character of account `key` go: done when its last state is
    /// saved and its session closed.
    fn release(&self, node: u16, key: String) -> BoxFuture<'static, Result<(), ReleaseError>>;
}

/// This node's side: lets a character go for a login on another node.
pub trait ReleaseHere: Send + Sync + 'static {
    /// Closes the session playing account `key` here (if any), saves its character, and
    /// returns once it is saved; `Err` says why not.
    fn release_here(self: Arc<Self>, key: String) -> BoxFuture<'static, Result<(), String>>;
}
