//! Reading a data file so that every error has a place: serde_json gives the line and
//! column of what it refuses, `serde_path_to_error` the path to it, and each row of a table
//! is kept as its raw text (`RawValue`, borrowed from the file) until it is parsed, so its
//! own line is known and stays with it ([`Origin`]) for the checks made after parsing.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::{DataError, Origin};

/// One file's text and the name to show for it.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// As the server was given it: `data/monsters.json`.
    pub file: &'a str,
    /// Its contents.
    pub text: &'a str,
}

/// The whole file as `T`; `root` names it in paths (`monsters`).
pub(crate) fn whole<'a, T: Deserialize<'a>>(src: Source<'a>, root: &str) -> Result<T, DataError> {
    let mut de = serde_json::Deserializer::from_str(src.text);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| refused(src, root, (1, 1), e.path().to_string(), e.inner()))?;
    de.end()
        .map_err(|e| refused(src, root, (1, 1), String::new(), &e))?;
    Ok(value)
}

/// One row, `raw`, borrowed from `src`'s text, at JSON path `path`.
pub(crate) fn row<T: DeserializeOwned>(
    src: Source<'_>,
    path: String,
    raw: &RawValue,
) -> Result<(T, Origin), DataError> {
    let (line, column) = line_col(src.text, offset_in(src.text, raw.get()));
    let mut de = serde_json::Deserializer::from_str(raw.get());
    match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => Ok((
            value,
            Origin {
                file: src.file.to_owned(),
                line,
                path,
            },
        )),
        Err(e) => Err(refused(
            src,
            &path,
            (line, column),
            e.path().to_string(),
            e.inner(),
        )),
    }
}

/// serde_json's error, moved from the row's text to the file's: its line and column count
/// from `start`, the row's first character.
fn refused(
    src: Source<'_>,
    path: &str,
    start: (usize, usize),
    inner_path: String,
    e: &serde_json::Error,
) -> DataError {
    let (line, column) = if e.line() <= 1 {
        (start.0, start.1 + e.column().saturating_sub(1))
    } else {
        (start.0 + e.line() - 1, e.column())
    };
    let mut message = e.to_string();
    if let Some(cut) = message.rfind(" at line ") {
        message.truncate(cut);
    }
    let path = match inner_path.as_str() {
        "" | "." => path.to_owned(),
        inner if inner.starts_with('[') => format!("{path}{inner}"),
        inner => format!("{path}.{inner}"),
    };
    DataError {
        file: src.file.to_owned(),
        line: line.max(1),
        column: Some(column.max(1)),
        path,
        message,
    }
}

/// Where `inner`, a slice of `outer`, starts in it (0 if it is not one).
fn offset_in(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize)
        .checked_sub(outer.as_ptr() as usize)
        .filter(|&at| at <= outer.len())
        .unwrap_or(0)
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Row {
        n: u32,
        #[serde(default)]
        pair: Vec<f32>,
    }

    fn rows(text: &str) -> Result<Vec<(Row, Origin)>, DataError> {
        let src = Source {
            file: "t.json",
            text,
        };
        let raws: Vec<&RawValue> = whole(src, "t")?;
        raws.iter()
            .enumerate()
            .map(|(i, raw)| row(src, format!("t[{i}]"), raw))
            .collect()
    }

    #[test]
    fn each_row_knows_its_line() {
        let parsed = rows("[\n  {\"n\": 1},\n\n  {\"n\": 2}\n]").expect("parses");
        assert_eq!(parsed[0].1.line, 2);
        assert_eq!(parsed[1].1.line, 4);
        assert_eq!(parsed[1].1.path, "t[1]");
        assert_eq!(parsed[1].0, Row { n: 2, pair: vec![] });
    }

    #[test]
    fn a_bad_field_is_placed_in_the_file_with_its_path() {
        let e = rows("[\n  {\"n\": 1},\n  {\"n\": 2,\n   \"pair\": [1.0, \"x\"]}\n]").unwrap_err();
        assert_eq!((e.line, e.path.as_str()), (4, "t[1].pair[1]"), "{e}");
        assert!(e.message.starts_with("invalid type: string"), "{e}");
        assert!(
            !e.message.contains("at line"),
            "said once, by the prefix: {e}"
        );
        let e = rows("[{\"n\": 1}, {\"n\": 2, \"m\": 3}]").unwrap_err();
        assert_eq!((e.line, e.path.as_str()), (1, "t[1].m"), "{e}");
        assert!(e.message.contains("unknown field `m`"), "{e}");
        assert!(
            e.column.is_some_and(|c| c > 12),
            "after the row's start: {e}"
        );
    }

    #[test]
    fn a_syntax_error_has_its_line_and_column() {
        let e = rows("[\n  {\"n\": 1}\n  {\"n\": 2}\n]").unwrap_err();
        assert_eq!((e.line, e.column), (3, Some(3)), "{e}");
        assert!(e.to_string().starts_with("t.json:3:3: "), "{e}");
        let e = rows("[] x").unwrap_err();
        assert!(e.message.contains("trailing"), "{e}");
    }
}
