//! Password hashes: argon2id with fixed parameters, stored as PHC strings. Pure computation,
//! but tens of milliseconds of it by design: callers run it off the game's and the I/O
//! tasks' threads (`spawn_blocking`).
//!
//! Parameters (OWASP's first recommended set for argon2id): 19 MiB of memory, 2 passes, 1
//! lane. They are written into each hash, so a later change of parameters still verifies the
//! hashes made before it.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory per hash, KiB.
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// Passes over the memory.
pub const ARGON2_PASSES: u32 = 2;
/// Lanes.
pub const ARGON2_LANES: u32 = 1;

/// A stored hash that cannot be read, or a hash that could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hash: {0}")]
pub struct PasswordError(String);

fn argon2() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None)
        .map_err(|e| PasswordError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with a fresh salt from the OS.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError(e.to_string()))
}

/// Whether `password` matches `stored` (compared in constant time by the `password-hash`
/// crate). An unreadable `stored` is an error, not a mismatch: it is the database's fault.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(stored).map_err(|e| PasswordError(e.to_string()))?;
    match argon2()?.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(PasswordError(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_states_its_parameters() {
        let stored = hash_password("correct horse 😀").expect("hashes");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert_eq!(verify_password("correct horse 😀", &stored), Ok(true));
        assert_eq!(verify_password("correct horse", &stored), Ok(false));
        assert_eq!(verify_password("' OR '1'='1", &stored), Ok(false));
        let again = hash_password("correct horse 😀").expect("hashes");
        assert_ne!(stored, again, "a fresh salt each time");
        assert!(verify_password("x", "not a hash").is_err());
    }
}
