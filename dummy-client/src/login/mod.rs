//! `--login PREFIX`: bots that log in to accounts instead of playing as guests, and the check
//! that each one comes back where it left.
//!
//! Bot `i` is the account `{PREFIX}{i}` with a password made from its name (`names`),
//! checked against the server's name rules before the run starts. Each connection's first
//! packet is `C_Login`; the login's rules (create on first use, wait when throttled, give up
//! on anything else) are a sans-IO state machine (`flow`), and a session's I/O around it is
//! `side`, shared by the room's and the world's bots. The run's answers and times add up in
//! a [`LoginRecord`] (`record`), reported as a [`LoginReport`]. `place` says where a
//! character may be when its bot comes back (a churn rejoin in the room, the comeback after
//! the window in the world): its last echo, or where the moves sent after it could have
//! taken it.

mod flow;
mod names;
mod place;
mod record;
mod side;

pub use names::NameError;
pub use record::{LoginReport, LoginTime};

pub(crate) use names::BotNames;
pub(crate) use place::{LeftAt, SentPlaces};
pub(crate) use record::LoginRecord;
pub(crate) use side::{LoginShared, LoginSide};
