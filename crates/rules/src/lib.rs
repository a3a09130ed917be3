//! Loads, validates and evaluates what a user writes: the daemon config and the topic
//! rules.
//!
//! Everything a user writes is YAML with a `version:` tag, parsed into structs that reject
//! unknown keys, then validated; every error names `file:line:col` and shows the line
//! with a caret under the place.
//!
//! - [`config`]: the daemon config;
//! - [`alerting`]: alert rules, routing, receivers and the incident policy;
//! - [`lexicon`]: user sentiment lexicons merged over the bundled ones;
//! - [`query`]: the topic query language (boolean, proximity, wildcards, fields);
//! - [`ruleset`]: rule files with examples, references resolved, compiled;
//! - [`matcher`]: live matching of all rules against a mention (Aho-Corasick prefilter);
//! - [`span`]: where each value of a YAML file stands, for errors at their place.

pub mod alerting;
pub mod config;
pub mod error;
pub mod lexicon;
pub mod matcher;
pub mod query;
pub mod ruleset;
pub mod span;
pub mod value;

pub use alerting::{
    AlertKind, AlertRule, AlertingConfig, Budget, CountUnit, DailyTimes, DigestConfig,
    DigestPeriod, Escalation, IncidentPolicy, MatchOp, Matcher, MuteInterval, Rate, ReceiverConfig,
    ReceiverKind, Route, RuleDefaults, TimeOfDay, Weekday,
};
pub use config::{
    Config, CrawlerConfig, IndexConfig, SentimentConfig, ServerConfig, SourceConfig, SourceKind,
};
pub use error::{ConfigError, Located};
pub use lexicon::{ServiceEntry, ServiceKind, ServicePattern, UserLexicon};
pub use matcher::{MentionFields, site_keys, stem_key};
pub use ruleset::{ActiveRules, Example, ExampleFailure, Rule, RuleKind, RuleSet, RulesError};
pub use value::{ByteSize, HumanDuration, NeutralBand, TimeZone};
