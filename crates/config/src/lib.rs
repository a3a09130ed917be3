//! Loads and validates the files a user writes besides the topic rules (those are
//! `lauscher-query`'s): the daemon config, the alerting file and sentiment lexicons.
//!
//! Everything a user writes is YAML with a `version:` tag, parsed into structs that reject
//! unknown keys, then validated; every error names `file:line:col` of the offending value
//! and shows the line with a caret under it ([`lauscher_query::Located`], located by
//! [`lauscher_query::YamlFile`]).
//!
//! - [`config`]: the daemon config;
//! - [`alerting`]: alert rules, routing, receivers and the incident policy;
//! - [`desk`]: the service desk section of the alerting file;
//! - [`lexicon`]: user sentiment lexicons merged over the bundled ones;
//! - [`value`]: value types users write by hand (durations, sizes, time zones, bands).

pub mod alerting;
pub mod config;
pub mod desk;
pub mod error;
pub mod lexicon;
pub mod value;

pub use alerting::{
    AlertKind, AlertRule, AlertingConfig, Budget, CountUnit, DailyTimes, DigestConfig,
    DigestPeriod, Escalation, IncidentPolicy, MatchOp, Matcher, MuteInterval, Rate, ReceiverConfig,
    ReceiverKind, Route, RuleDefaults, TicketConfig, TimeOfDay, Weekday,
};
pub use config::{
    Config, CrawlerConfig, IndexConfig, Secret, SentimentConfig, ServerConfig, SourceConfig,
    SourceKind,
};
pub use desk::{
    CalendarConfig, Date, DeskConfig, DeskMatcher, DeskRoute, OpenHours, SlaPolicy, Targets,
};
pub use error::ConfigError;
pub use lexicon::{ServiceEntry, ServiceKind, ServicePattern, UserLexicon};
pub use value::{ByteSize, HumanDuration, NeutralBand, ReportLanguage, TimeZone};
