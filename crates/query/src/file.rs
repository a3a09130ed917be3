//! What every file a user writes shares: errors at their place, YAML errors located,
//! ids.

use std::fmt;

/// A place in a user's file with the message for it, printed like a compiler error:
///
/// ```text
/// rules/lauscher.yaml:12:11: unknown field `intervall`, expected one of ...
///    |
/// 12 |   intervall: 5m
///    |   ^
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file, as given by the user.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub col: usize,
    /// What is wrong, and what was expected.
    pub msg: String,
    /// The offending line of the file, for the caret display.
    pub source_line: String,
}

impl Located {
    /// Returns an error at `line`/`col` of `text`.
    pub fn new(file: &str, text: &str, line: usize, col: usize, msg: impl Into<String>) -> Self {
        let source_line = text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or_default()
            .to_owned();
        Located {
            file: file.to_owned(),
            line: line.max(1),
            col: col.max(1),
            msg: msg.into(),
            source_line,
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.msg)?;
        if !self.source_line.is_empty() {
            let gutter = self.line.to_string().len();
            let pad: String = self
                .source_line
                .chars()
                .take(self.col - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(
                f,
                "\n{:gutter$} |\n{} | {}\n{:gutter$} | {}^",
                "", self.line, self.source_line, "", pad
            )?;
        }
        Ok(())
    }
}

/// Checks an id a user gave a rule, source, receiver or digest: 1-64 characters of
/// `a-z`, `0-9`, `-` and `_`, so it is safe in metrics labels, URLs and file names.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(format!(
            "invalid id {id:?}: expected 1-64 characters of a-z, 0-9, - and _"
        ));
    }
    Ok(())
}

/// Turns a YAML or schema error into an error at its place. serde_norway locates it:
/// at the offending key, or at the value for our value types, which fail inside the
/// scalar (see `lauscher_config::value::deserialize_parsed`).
pub fn yaml_error(e: &serde_norway::Error, file: &str, text: &str) -> Located {
    let (line, col) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1));
    let mut msg = e.to_string();
    // serde_norway appends " at line L column C"; the position is already in front.
    if let Some(i) = msg.find(" at line ") {
        msg.truncate(i);
    }
    Located::new(file, text, line, col, msg)
}
