//! What is wrong with a game data file, and where: every error is one line that names the
//! file, the line (and column where serde_json knows it) and the JSON path of the bad item,
//! as packet-gen's errors do for `packets.json`.

use std::fmt;

/// Where a row of a table came from: kept with the row, so a check made after parsing (a
/// broken reference, a spawn area off the map) still points at the line to fix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The file as the server was given it (`data/monsters.json`, or `<built-in>/...`).
    pub file: String,
    /// 1-based line of the row's first character.
    pub line: usize,
    /// JSON path of the row: `monsters[2] "wolf"`.
    pub path: String,
}

/// A game data file that cannot be used: the server does not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DataError {
    /// The file as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, where serde_json knows it (syntax and type errors).
    pub column: Option<usize>,
    /// JSON path of the bad item: `monsters[2] "wolf".leash_radius`.
    pub path: String,
    /// What is wrong, for a person to fix.
    pub message: String,
}

impl DataError {
    /// An error about the field `field` of the row at `origin` (`""`: the row itself).
    pub fn at(origin: &Origin, field: &str, message: impl Into<String>) -> DataError {
        let path = if field.is_empty() {
            origin.path.clone()
        } else {
            format!("{}.{field}", origin.path)
        };
        DataError {
            file: origin.file.clone(),
            line: origin.line,
            column: None,
            path,
            message: message.into(),
        }
    }

    /// The file itself could not be read.
    pub fn unreadable(file: &str, why: impl fmt::Display) -> DataError {
        DataError {
            file: file.to_owned(),
            line: 0,
            column: None,
            path: String::new(),
            message: format!("cannot read: {why}"),
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reads_file_line_column_path_message() {
        let origin = Origin {
            file: "data/monsters.json".into(),
            line: 14,
            path: "monsters[1] \"wolf\"".into(),
        };
        assert_eq!(
            DataError::at(&origin, "leash_radius", "must be at least aggro_radius").to_string(),
            "data/monsters.json:14: monsters[1] \"wolf\".leash_radius: must be at least aggro_radius"
        );
        let mut syntax = DataError::at(&origin, "", "expected `,`");
        syntax.column = Some(3);
        assert_eq!(
            syntax.to_string(),
            "data/monsters.json:14:3: monsters[1] \"wolf\": expected `,`"
        );
        assert_eq!(
            DataError::unreadable("x/skills.json", "No such file").to_string(),
            "x/skills.json: cannot read: No such file"
        );
    }
}
