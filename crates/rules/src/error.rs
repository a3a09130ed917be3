//! Errors that point into the file the user wrote.

use std::fmt;
use std::path::PathBuf;

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

/// Why a user's file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The path.
        file: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid YAML, or does not fit the schema, or fails validation.
    #[error("{0}")]
    Invalid(Box<Located>),
}

impl From<Located> for ConfigError {
    fn from(l: Located) -> Self {
        ConfigError::Invalid(Box::new(l))
    }
}
