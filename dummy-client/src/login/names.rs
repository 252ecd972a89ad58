//! `BotNames`: the account each bot logs in as, `{prefix}{index}`, and its password. Sans-IO.
//!
//! The server's rules for a name (game-server's `accounts/name.rs`, docs/PROTOCOL.md): 2 to
//! 16 characters, letters and digits of any script and `_`, a letter first. Only the prefix
//! is ours to get wrong (the index adds ASCII digits), so it is checked once, against the
//! longest name the run will make, before any bot connects: a prefix the server would
//! refuse for one bot is a usage error, not a thousand refused logins.

/// Longest name the server takes, in characters.
const NAME_MAX: usize = 16;

/// Why `--login PREFIX` cannot name the run's bots.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// No prefix: a name would start with the bot's index, a digit.
    #[error("--login needs a prefix that starts with a letter (names are PREFIX0, PREFIX1, ...)")]
    Empty,
    /// The prefix starts with something other than a letter.
    #[error("--login {prefix:?}: a name starts with a letter, not {found:?}")]
    Start {
        /// The prefix given.
        prefix: String,
        /// Its first character.
        found: char,
    },
    /// The prefix holds a character a name may not.
    #[error("--login {prefix:?}: a name holds letters, digits and '_' only, not {found:?}")]
    Character {
        /// The prefix given.
        prefix: String,
        /// The first character that is not allowed.
        found: char,
    },
    /// The last bot's name would be too long.
    #[error(
        "--login {prefix:?}: the last bot's name, {longest:?}, would have {chars} characters; \
         a name has at most {NAME_MAX} (shorten the prefix or run fewer bots)"
    )]
    TooLong {
        /// The prefix given.
        prefix: String,
        /// The longest name the run would make.
        longest: String,
        /// Its length in characters.
        chars: usize,
    },
}

/// The accounts of a run's bots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BotNames {
    prefix: String,
}

impl BotNames {
    /// The names of `bots` bots under `prefix`, if the server would take every one of them.
    pub(crate) fn new(prefix: &str, bots: usize) -> Result<BotNames, NameError> {
        let mut chars = prefix.chars();
        let Some(first) = chars.next() else {
            return Err(NameError::Empty);
        };
        if !first.is_alphabetic() {
            return Err(NameError::Start {
                prefix: prefix.to_owned(),
                found: first,
            });
        }
        if let Some(found) = prefix.chars().find(|&c| !(c.is_alphanumeric() || c == '_')) {
            return Err(NameError::Character {
                prefix: prefix.to_owned(),
                found,
            });
        }
        let names = BotNames {
            prefix: prefix.to_owned(),
        };
        // The longest name is the last bot's; a one-letter prefix and bot 0 make two
        // characters, the shortest name there is.
        let longest = names.name(bots.saturating_sub(1));
        let count = longest.chars().count();
        if count > NAME_MAX {
            return Err(NameError::TooLong {
                prefix: prefix.to_owned(),
                longest,
                chars: count,
            });
        }
        Ok(names)
    }

    /// The account name of bot `index`.
    pub(crate) fn name(&self, index: usize) -> String {
        format!("{}{index}", self.prefix)
    }

    /// The prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// The password of the account `name`: derived from the name, so any run with the same
/// prefix logs the same bots in again; at least 11 characters (the server wants 8).
pub(crate) fn password(name: &str) -> String {
    format!("pw-{name}-dummy")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server's name rule, written out again from docs/PROTOCOL.md.
    fn server_takes(name: &str) -> bool {
        let count = name.chars().count();
        (2..=16).contains(&count)
            && name.chars().next().is_some_and(char::is_alphabetic)
            && name.chars().all(|c| c.is_alphanumeric() || c == '_')
    }

    #[test]
    fn every_name_of_a_good_prefix_is_one_the_server_takes() {
        for (prefix, bots) in [
            ("b", 1),
            ("Bot", 500),
            ("load_test_", 65_536),
            ("루키", 1000),
            ("abcdefghijklmno", 10),
        ] {
            let names = BotNames::new(prefix, bots).unwrap_or_else(|e| panic!("{prefix}: {e}"));
            for i in [0, bots / 2, bots - 1] {
                let name = names.name(i);
                assert!(server_takes(&name), "{name:?} breaks the server's rule");
                assert!(password(&name).chars().count() >= 8, "{name}'s password");
            }
        }
        let names = BotNames::new("Bot", 3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (0..3).map(|i| names.name(i)).collect::<Vec<_>>(),
            ["Bot0", "Bot1", "Bot2"]
        );
        assert_eq!(password("Bot0"), "pw-Bot0-dummy");
    }

    #[test]
    fn a_prefix_that_cannot_name_every_bot_is_refused_with_the_reason() {
        assert_eq!(BotNames::new("", 5), Err(NameError::Empty));
        assert!(matches!(
            BotNames::new("7up", 5),
            Err(NameError::Start { found: '7', .. })
        ));
        assert!(matches!(
            BotNames::new("_bot", 5),
            Err(NameError::Start { found: '_', .. })
        ));
        assert!(matches!(
            BotNames::new("drop table;", 5),
            Err(NameError::Character { found: ' ', .. })
        ));
        assert!(matches!(
            BotNames::new("bot-", 5),
            Err(NameError::Character { found: '-', .. })
        ));
        // 15 characters and one digit fit; a second digit does not.
        assert!(BotNames::new("abcdefghijklmno", 10).is_ok());
        let err = BotNames::new("abcdefghijklmno", 11);
        assert!(
            matches!(&err, Err(NameError::TooLong { longest, chars: 17, .. }) if longest == "abcdefghijklmno10"),
            "{err:?}"
        );
        let text = err.map(|_| ()).unwrap_err().to_string();
        assert!(
            text.contains("at most 16") && text.contains("abcdefghijklmno10"),
            "the message names the limit and the name: {text}"
        );
    }
}
