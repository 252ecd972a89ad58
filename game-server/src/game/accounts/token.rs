//! Login tokens: what `S_Login` hands a client so that it can log in again (`C_LoginToken`)
//! without its password, for a reconnect on a phone that dropped its connection, say.
//!
//! A token is 32 random bytes from the OS, sent as 64 hex digits. The server keeps only its
//! SHA-256 (a stolen database gives no token that works) and when it expires. It is good for
//! one login: each login that passes issues a new token to the account, which replaces the one
//! before it, so an account has at most one live token. No argon2 here: a token has 256 bits
//! of entropy, so a fast hash is as good as a slow one, and a token login costs a database
//! read and write instead of a core for tens of milliseconds.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes in a token.
pub const TOKEN_BYTES: usize = 32;
/// Hex digits in a token as sent.
pub const TOKEN_CHARS: usize = TOKEN_BYTES * 2;

/// A token as the client sent it, once it is well formed.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedToken([u8; TOKEN_BYTES]);

/// Why a token does not log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not 64 hex digits.
    #[error("a token is {TOKEN_CHARS} hex digits")]
    Malformed,
    /// The account has no live token, or another one.
    #[error("not this account's token")]
    Unknown,
    /// It was this account's token, but too long ago.
    #[error("the token expired")]
    Expired,
}

/// The token an account holds, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// SHA-256 of the token's bytes, 64 lowercase hex digits.
    pub hash: String,
    /// When it stops logging in, ms since the Unix epoch.
    pub expires_ms: i64,
}

/// A token just made: what to send, and what to store.
pub struct IssuedToken {
    /// 64 hex digits, for `S_Login.token`.
    pub sent: String,
    /// Its hash and expiry, for the account row.
    pub stored: StoredToken,
}

impl std::fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresentedToken(..)") // never in a log
    }
}

impl PresentedToken {
    /// Reads a token as sent: exactly 64 hex digits, of either case.
    pub fn parse(s: &str) -> Result<Self, TokenError> {
        let s = s.as_bytes();
        if s.len() != TOKEN_CHARS {
            return Err(TokenError::Malformed);
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        for (byte, pair) in bytes.iter_mut().zip(s.chunks_exact(2)) {
            *byte = (digit(pair[0])? << 4) | digit(pair[1])?;
        }
        Ok(PresentedToken(bytes))
    }

    /// Its stored form.
    pub fn hash(&self) -> String {
        hex(&Sha256::digest(self.0))
    }

    /// Whether it is `stored` and still live at `now_ms`. The hashes are compared in constant
    /// time: how long the compare takes says nothing about how much of it matched.
    pub fn check(&self, stored: Option<&StoredToken>, now_ms: i64) -> Result<(), TokenError> {
        let stored = stored.ok_or(TokenError::Unknown)?;
        let matches: bool = self.hash().as_bytes().ct_eq(stored.hash.as_bytes()).into();
        if !matches {
            return Err(TokenError::Unknown);
        }
        if now_ms >= stored.expires_ms {
            return Err(TokenError::Expired);
        }
        Ok(())
    }
}

impl IssuedToken {
    /// A new token from the OS's random source, live for `ttl_ms` from `now_ms`.
    pub fn new(now_ms: i64, ttl_ms: i64) -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes, now_ms, ttl_ms)
    }

    /// A token of the given bytes (the tests' way to know one in advance).
    pub fn from_bytes(bytes: [u8; TOKEN_BYTES], now_ms: i64, ttl_ms: i64) -> Self {
        let token = PresentedToken(bytes);
        IssuedToken {
            sent: hex(&bytes),
            stored: StoredToken {
                hash: token.hash(),
                expires_ms: now_ms.saturating_add(ttl_ms),
            },
        }
    }
}

fn digit(c: u8) -> Result<u8, TokenError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(TokenError::Malformed),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_logs_in_until_it_expires() {
        let issued = IssuedToken::new(1_000, 500);
        assert_eq!(issued.sent.len(), TOKEN_CHARS);
        let token = PresentedToken::parse(&issued.sent).unwrap();
        assert_eq!(token.check(Some(&issued.stored), 1_000), Ok(()));
        assert_eq!(token.check(Some(&issued.stored), 1_499), Ok(()));
        assert_eq!(
            token.check(Some(&issued.stored), 1_500),
            Err(TokenError::Expired)
        );
        let upper = PresentedToken::parse(&issued.sent.to_uppercase()).unwrap();
        assert_eq!(upper, token, "hex of either case");
    }

    #[test]
    fn another_token_or_none_is_unknown_and_only_the_hash_is_stored() {
        let a = IssuedToken::from_bytes([1; TOKEN_BYTES], 0, 1_000);
        let b = IssuedToken::from_bytes([2; TOKEN_BYTES], 0, 1_000);
        let token_a = PresentedToken::parse(&a.sent).unwrap();
        assert_eq!(token_a.check(Some(&b.stored), 10), Err(TokenError::Unknown));
        assert_eq!(token_a.check(None, 10), Err(TokenError::Unknown));
        assert_ne!(a.stored.hash, a.sent, "the store never holds the token");
        assert_eq!(a.sent, "01".repeat(TOKEN_BYTES));
        // SHA-256 of 32 bytes of 0x01, from `printf '\x01%.0s' {1..32} | sha256sum`.
        assert_eq!(
            a.stored.hash,
            "72cd6e8422c407fb6d098690f1130b7ded7ec2f7f5e1d30bd9d521f015363793"
        );
    }

    #[test]
    fn malformed_tokens_are_refused_before_any_lookup() {
        for bad in [
            "",
            "abc",
            &"0".repeat(TOKEN_CHARS - 1),
            &"0".repeat(TOKEN_CHARS + 1),
            &"g".repeat(TOKEN_CHARS),
            &format!("{}é", "0".repeat(TOKEN_CHARS - 2)),
            "' OR '1'='1",
        ] {
            assert_eq!(
                PresentedToken::parse(bad),
                Err(TokenError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn two_issued_tokens_differ() {
        assert_ne!(IssuedToken::new(0, 1).sent, IssuedToken::new(0, 1).sent);
    }
}
