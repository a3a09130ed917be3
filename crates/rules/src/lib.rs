//! Loads and validates what a user writes: the daemon config with its sources and topics.
//!
//! Everything a user writes is YAML with a `version:` tag, parsed into structs that reject
//! unknown keys, then validated; every error names `file:line:col` and shows the line
//! with a caret under the place. Later issues add topic rule files and alert routing in
//! the same format, through the same [`Located`] errors.

pub mod config;
pub mod error;
pub mod matcher;
pub mod query;
pub mod ruleset;
pub mod value;

pub use config::{
    Config, CrawlerConfig, IndexConfig, SentimentConfig, ServerConfig, SourceConfig, SourceKind,
    TopicConfig,
};
pub use error::{ConfigError, Located};
pub use matcher::{MentionFields, site_keys, stem_key};
pub use ruleset::{Example, ExampleFailure, Rule, RuleKind, RuleSet, RulesError};
pub use value::{ByteSize, HumanDuration};
