//! What Lauscher listens for: the topic query language, rule files and live matching.
//!
//! - [`query`]: the topic query language (boolean, proximity, wildcards, fields);
//! - [`ruleset`]: rule files with examples, references resolved, compiled;
//! - [`matcher`]: live matching of all rules against a mention (Aho-Corasick prefilter);
//! - [`file`] and [`span`]: what every file a user writes shares — errors at
//!   `file:line:col` with a caret under the place, and where each YAML value stands.
//!   They live here, the lowest crate that reads a user's file; `lauscher-config` uses
//!   them for the config, alerting and lexicon files.
//!
//! Depends on text analysis and the model only: the index and the scorer match rules
//! without pulling in what config files need (SMTP, time zones).

pub mod file;
pub mod matcher;
pub mod query;
pub mod ruleset;
pub mod span;

pub use file::{Located, check_id, yaml_error};
pub use matcher::{MentionFields, site_keys, stem_key};
pub use query::parse;
pub use ruleset::{ActiveRules, Example, ExampleFailure, Rule, RuleKind, RuleSet, RulesError};
pub use span::{Spans, YamlFile};
