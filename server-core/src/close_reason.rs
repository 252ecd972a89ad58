//! Why a session ended. Every session ends exactly once, with exactly one of these.

use std::fmt;
use std::io;

use crate::error::ProtocolError;

/// The one reason a session was closed, reported to `on_disconnected` and in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed its side (read returned end of stream). Named from the server's side,
    /// as in the course; on a client session it means the server closed.
    ClientClosing,
    /// This side chose to close the session (a kick, a `C_LeaveGame`, ...).
    ServerClosing,
    /// The whole server is shutting down.
    ServerShutdown,
    /// The peer broke the protocol; the session cannot continue.
    ProtocolError(ProtocolError),
    /// The socket failed (reset, broken pipe, ...).
    SocketError {
        /// The error's kind, kept so callers can match on it.
        kind: io::ErrorKind,
        /// The error as the OS reported it.
        message: String,
    },
    /// Nothing was received for longer than the configured idle timeout.
    IdleTimeout,
    /// The peer does not read fast enough: its send queue passed the configured limit.
    SlowConsumer {
        /// Bytes that would have been queued, including the send that overflowed.
        queued: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Application code closed the session for a reason of its own.
    ApplicationError(String),
}

impl CloseReason {
    /// A socket error turned into a reason, keeping its kind.
    pub fn from_io(error: &io::Error) -> Self {
        CloseReason::SocketError {
            kind: error.kind(),
            message: error.to_string(),
        }
    }

    /// A short, stable label for metrics and reports (`"protocol_error"`, ...).
    pub fn label(&self) -> &'static str {
        match self {
            CloseReason::ClientClosing => "client_closing",
            CloseReason::ServerClosing => "server_closing",
            CloseReason::ServerShutdown => "server_shutdown",
            CloseReason::ProtocolError(_) => "protocol_error",
            CloseReason::SocketError { .. } => "socket_error",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::SlowConsumer { .. } => "slow_consumer",
            CloseReason::ApplicationError(_) => "application_error",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ClientClosing => f.write_str("peer closed the connection"),
            CloseReason::ServerClosing => f.write_str("server closed the session"),
            CloseReason::ServerShutdown => f.write_str("server shutdown"),
            CloseReason::ProtocolError(e) => write!(f, "protocol error: {e}"),
            CloseReason::SocketError { message, .. } => write!(f, "socket error: {message}"),
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::SlowConsumer { queued, limit } => {
                write!(f, "slow consumer: {queued} bytes queued, limit {limit}")
            }
            CloseReason::ApplicationError(why) => write!(f, "application error: {why}"),
        }
    }
}

impl From<ProtocolError> for CloseReason {
    fn from(e: ProtocolError) -> Self {
        CloseReason::ProtocolError(e)
    }
}
