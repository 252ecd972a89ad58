//! `AdminToken`: the shared secret every admin request must carry once one is configured.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::adapters::admin::AdminError;

/// Shortest token accepted: a guessable token on a non-loopback port is no protection.
pub const MIN_TOKEN_LEN: usize = 16;

/// A bearer token, checked in constant time.
#[derive(Clone)]
pub struct AdminToken(Vec<u8>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never in logs.
        f.write_str("AdminToken(..)")
    }
}

impl AdminToken {
    /// A token of at least [`MIN_TOKEN_LEN`] visible ASCII characters (what fits in a header
    /// unquoted).
    pub fn new(token: &str) -> Result<AdminToken, AdminError> {
        if token.len() < MIN_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AdminError::BadToken);
        }
        Ok(AdminToken(token.as_bytes().to_vec()))
    }

    /// Whether an `Authorization` header value carries this token, as `Bearer <token>` or as
    /// the password of `Basic` credentials (any user name), which is what a browser sends
    /// after its login prompt.
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let value = value.trim_ascii();
        if let Some(token) = strip_scheme(value, b"bearer") {
            return self.matches(token);
        }
        if let Some(encoded) = strip_scheme(value, b"basic") {
            let Ok(decoded) = STANDARD.decode(encoded) else {
                return false;
            };
            let password = match decoded.iter().position(|&b| b == b':') {
                Some(colon) => &decoded[colon + 1..],
                None => return false,
            };
            return self.matches(password);
        }
        false
    }

    /// Compares in constant time with `subtle`: every byte whatever the first difference,
    /// and a wrong length costs what a wrong byte does (both sides are padded to the longer
    /// length, and the lengths are compared as numbers alongside), so the time taken says
    /// neither how much of a guess was right nor how long the token is.
    fn matches(&self, candidate: &[u8]) -> bool {
        let len = self.0.len().max(candidate.len());
        let mut ours = vec![0u8; len];
        let mut theirs = vec![0u8; len];
        ours[..self.0.len()].copy_from_slice(&self.0);
        theirs[..candidate.len()].copy_from_slice(candidate);
        let same_len = (self.0.len() as u64).ct_eq(&(candidate.len() as u64));
        bool::from(ours.ct_eq(&theirs) & same_len)
    }
}

/// `value` without its leading auth scheme (case-insensitive) and the spaces after it.
fn strip_scheme<'a>(value: &'a [u8], scheme: &[u8]) -> Option<&'a [u8]> {
    let head = value.get(..scheme.len())?;
    let rest = value.get(scheme.len()..)?;
    if !head.eq_ignore_ascii_case(scheme) || rest.first() != Some(&b' ') {
        return None;
    }
    Some(rest.trim_ascii_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef-secret";

    #[test]
    fn bearer_and_basic_carry_the_token() {
        let t = AdminToken::new(SECRET).expect("valid token");
        assert!(t.accepts(Some(format!("Bearer {SECRET}").as_bytes())));
        assert!(t.accepts(Some(format!("bearer   {SECRET} ").as_bytes())));
        let basic = STANDARD.encode(format!("admin:{SECRET}"));
        assert!(t.accepts(Some(format!("Basic {basic}").as_bytes())));
    }

    #[test]
    fn anything_else_is_refused() {
        let t = AdminToken::new(SECRET).expect("valid token");
        for bad in [
            "".to_owned(),
            SECRET.to_owned(),
            format!("Bearer {SECRET}x"),
            format!("Bearer {}", &SECRET[1..]),
            format!("Bearer{SECRET}"),
            format!("Token {SECRET}"),
            "Basic !!!not-base64".to_owned(),
            format!("Basic {}", STANDARD.encode(SECRET)),
            format!("Basic {}", STANDARD.encode("admin:wrong-password-here")),
        ] {
            assert!(!t.accepts(Some(bad.as_bytes())), "{bad:?} must be refused");
        }
        assert!(!t.accepts(None), "no header, no entry");
    }

    #[test]
    fn short_or_unprintable_tokens_are_refused_at_start() {
        assert!(AdminToken::new("short").is_err());
        assert!(AdminToken::new("0123456789abcdef ghij").is_err());
        assert!(AdminToken::new(SECRET).is_ok());
    }
}
