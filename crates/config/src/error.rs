//! Why a user's file could not be loaded.

use std::path::PathBuf;

use lauscher_query::Located;

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
