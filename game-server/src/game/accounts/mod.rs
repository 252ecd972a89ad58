//! Accounts (issue 24, first pieces; no packets or database yet): what a login may carry and
//! how often it may fail.
//!
//! - `name.rs`: [`AccountName`] and the password's bounds, with typed refusals.
//! - `throttle.rs`: [`Throttle`], failed logins limited per key (account, address), bounded.
//! - `password.rs`: argon2id hashes ([`hash_password`], [`verify_password`]).

mod name;
mod password;
mod throttle;

pub use name::{
    check_password, AccountName, CredentialError, NAME_MAX, NAME_MIN, PASSWORD_MAX, PASSWORD_MIN,
};
pub use password::{
    hash_password, verify_password, PasswordError, ARGON2_LANES, ARGON2_MEMORY_KIB, ARGON2_PASSES,
};
pub use throttle::{Throttle, ThrottleConfig};
