//! Accounts: what a login may carry, how often it may fail, how a connection becomes a guest
//! or a character, and which session plays which account. The login task and the database
//! are `adapters/sessions/login.rs` and `adapters/db/`.
//!
//! - `name.rs`: [`AccountName`] and the password's bounds, with typed refusals.
//! - `throttle.rs`: [`Throttle`], failed logins limited per key (account, address), bounded.
//! - `password.rs`: argon2id hashes ([`hash_password`], [`verify_password`]).
//! - `door.rs`: [`Door`], the first-packet rule (guest or login), and [`LoginResult`].
//! - `token.rs`: login tokens ([`IssuedToken`], [`PresentedToken`]): one live per account,
//!   single use, stored as a SHA-256.
//! - `online.rs`: [`Online`], one session per account, and characters kept until saved.
//! - `stats.rs`: [`LoginStats`], logins by result.

mod door;
mod name;
mod online;
mod password;
mod stats;
mod throttle;
mod token;

pub use door::{Door, LoginMode, LoginResult, Phase, Step};
pub use name::{
    check_password, AccountName, CredentialError, NAME_MAX, NAME_MIN, PASSWORD_MAX, PASSWORD_MIN,
};
pub use online::{Claim, Dirty, Evicted, Online, Owner, StaleAsk};
pub use password::{
    hash_password, verify_password, PasswordError, ARGON2_LANES, ARGON2_MEMORY_KIB, ARGON2_PASSES,
};
pub use stats::LoginStats;
pub use throttle::{Throttle, ThrottleConfig};
pub use token::{IssuedToken, PresentedToken, StoredToken, TokenError, TOKEN_CHARS};
