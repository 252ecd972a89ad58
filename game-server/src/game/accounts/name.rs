//! Account names and passwords: what a login may carry, checked before anything else looks
//! at it. Sans-IO, and strict, because a name is shown to every player who sees its
//! character and is the key the database finds the account by.
//!
//! A name is 2 to 16 characters (two: a Korean name is often two syllables), letters and digits of any script and `_`, starting with a
//! letter: "Rookie_7" and "루키" pass, "a", "7up", "drop table;" and "😀😀😀" do not. Names are
//! unique without regard to case: [`AccountName::key`] is the lowercase form the database
//! keys on, so "Rookie" and "rookie" are one account. (Two spellings of one letter in
//! different Unicode normal forms are still two names: normalizing needs the
//! `unicode-normalization` crate, left for when names are shown in a client that renders
//! them.)
//!
//! A password is 8 to 128 characters of anything, non-BMP included: it is only ever hashed.

/// Shortest name, in characters.
pub const NAME_MIN: usize = 2;
/// Longest name, in characters.
pub const NAME_MAX: usize = 16;
/// Shortest password, in characters.
pub const PASSWORD_MIN: usize = 8;
/// Longest password, in characters (argon2 hashes any length; this bounds the work a login
/// can ask for).
pub const PASSWORD_MAX: usize = 128;

/// Why a name or password is refused; shown to the player as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Fewer than [`NAME_MIN`] characters.
    #[error("a name has at least {NAME_MIN} characters; this one has {0}")]
    NameTooShort(usize),
    /// More than [`NAME_MAX`] characters.
    #[error("a name has at most {NAME_MAX} characters; this one has {0}")]
    NameTooLong(usize),
    /// A name starts with a letter.
    #[error("a name starts with a letter, not {0:?}")]
    NameStart(char),
    /// A character that is not a letter, a digit or `_`.
    #[error("a name holds letters, digits and '_' only; character {at} is {found:?}")]
    NameCharacter {
        /// Its place, from 1.
        at: usize,
        /// The character.
        found: char,
    },
    /// Fewer than [`PASSWORD_MIN`] characters.
    #[error("a password has at least {PASSWORD_MIN} characters")]
    PasswordTooShort,
    /// More than [`PASSWORD_MAX`] characters.
    #[error("a password has at most {PASSWORD_MAX} characters")]
    PasswordTooLong,
}

/// A name that passed the rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountName {
    shown: String,
    key: String,
}

impl AccountName {
    /// Checks `name` against the rules.
    pub fn parse(name: &str) -> Result<AccountName, CredentialError> {
        let count = name.chars().count();
        if count < NAME_MIN {
            return Err(CredentialError::NameTooShort(count));
        }
        if count > NAME_MAX {
            return Err(CredentialError::NameTooLong(count));
        }
        for (i, c) in name.chars().enumerate() {
            if !(c.is_alphanumeric() || c == '_') {
                return Err(CredentialError::NameCharacter {
                    at: i + 1,
                    found: c,
                });
            }
            if i == 0 && !c.is_alphabetic() {
                return Err(CredentialError::NameStart(c));
            }
        }
        Ok(AccountName {
            shown: name.to_owned(),
            key: name.to_lowercase(),
        })
    }

    /// The name as the player typed it: what others see.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The name without case: what makes an account unique.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Checks a password's length; its characters are free.
pub fn check_password(password: &str) -> Result<(), CredentialError> {
    let count = password.chars().count();
    if count < PASSWORD_MIN {
        return Err(CredentialError::PasswordTooShort);
    }
    if count > PASSWORD_MAX {
        return Err(CredentialError::PasswordTooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn names_of_any_script_pass_and_keys_ignore_case() {
        for ok in [
            "Rookie_7",
            "루키",
            "Ёжик",
            "abc",
            "a_______________"[..16].as_ref(),
        ] {
            assert!(AccountName::parse(ok).is_ok(), "{ok:?}");
        }
        let a = AccountName::parse("Rookie").expect("valid");
        let b = AccountName::parse("rOOKIE").expect("valid");
        assert_eq!(a.key(), b.key());
        assert_eq!(a.shown(), "Rookie");
    }

    #[test]
    fn hostile_names_are_refused_with_the_reason() {
        use CredentialError::*;
        let cases: [(&str, CredentialError); 8] = [
            ("a", NameTooShort(1)),
            ("abcdefghijklmnopq", NameTooLong(17)),
            ("7up", NameStart('7')),
            ("_abc", NameStart('_')),
            ("x'; DROP TABLE accounts;--", NameTooLong(26)),
            ("a';--", NameCharacter { at: 2, found: '\'' }),
            ("bob'--", NameCharacter { at: 4, found: '\'' }),
            (
                "😀😀😀",
                NameCharacter {
                    at: 1, found: '😀'
                },
            ),
        ];
        for (name, want) in cases {
            assert_eq!(AccountName::parse(name), Err(want), "{name:?}");
        }
        assert!(matches!(
            AccountName::parse("a b c"),
            Err(NameCharacter { at: 2, found: ' ' })
        ));
        assert!(matches!(
            AccountName::parse("ab\u{0}c"),
            Err(NameCharacter { at: 3, .. })
        ));
    }

    #[test]
    fn passwords_are_bounded_in_characters_not_bytes() {
        assert_eq!(
            check_password("short"),
            Err(CredentialError::PasswordTooShort)
        );
        assert!(
            check_password("😀😀😀😀😀😀😀😀").is_ok(),
            "eight non-BMP characters"
        );
        assert!(check_password("' OR '1'='1").is_ok(), "only ever hashed");
        let long: String = "x".repeat(PASSWORD_MAX + 1);
        assert_eq!(check_password(&long), Err(CredentialError::PasswordTooLong));
    }

    proptest! {
        /// Any string is a name or a typed refusal, never a panic; a name that passes holds
        /// only what the rules allow.
        #[test]
        fn any_string_is_a_name_or_a_reason(s in "\\PC{0,20}") {
            if let Ok(name) = AccountName::parse(&s) {
                let count = name.shown().chars().count();
                prop_assert!((NAME_MIN..=NAME_MAX).contains(&count));
                prop_assert!(name.shown().chars().all(|c| c.is_alphanumeric() || c == '_'));
            }
        }
    }
}
