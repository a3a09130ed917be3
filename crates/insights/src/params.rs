//! The parameters of every view, as the API's query string and the CLI's flags give
//! them: one parser, so the CLI and the API answer the same query the same way.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use lauscher_config::TimeZone;
use lauscher_model::{Intent, Label};
use serde::Deserialize;

use crate::{Filters, InsightsError, Interval};

/// View parameters, all text (query string or flags).
///
/// Decision: the filter fields (topic, rule, lang, source, label, intent, since, until)
/// are written out here and in the search API's parameters rather than embedded as one
/// struct: serde can only embed with `flatten`, which cannot deny unknown fields, and an
/// unknown parameter must be a 400, not silently ignored. Both end in the index's one
/// request type ([`lauscher_index::SearchRequest`], through [`crate::Filters`] here), and
/// label and intent are the model's types in both. The views differ on purpose: `topic`
/// takes a comma-separated list and the window defaults to the last 7 days.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Topic ids, comma-separated.
    pub topic: Option<String>,
    /// Topic rule id (retro-search).
    pub rule: Option<String>,
    /// Language.
    pub lang: Option<String>,
    /// Source id.
    pub source: Option<String>,
    /// Window start: an age (`7d`), RFC 3339 time or date. Default: 7 days ago.
    pub since: Option<String>,
    /// Window end. Default: now.
    pub until: Option<String>,
    /// Sentiment label.
    pub label: Option<Label>,
    /// Intent.
    pub intent: Option<Intent>,
    /// Timeline interval (`5m` … `1d`, `1w`). Default: `1h` up to 3 days, else `1d`.
    pub interval: Option<String>,
    /// IANA time zone of the buckets. Default: the configured one.
    pub tz: Option<TimeZone>,
    /// Entries per list. Default 10 (complaints: 20).
    pub n: Option<usize>,
    /// Complaints: weeks looked back for recurrence. Default 6.
    pub weeks: Option<usize>,
    /// Complaints: a week's top list length. Default 20.
    pub rank: Option<usize>,
    /// Complaints: weeks in the top list that make a phrase recurring. Default 3.
    pub recur: Option<usize>,
}

impl Params {
    /// The filters, at `now`.
    pub fn filters(&self, now: DateTime<Utc>) -> Result<Filters, InsightsError> {
        let time =
            |s: &Option<String>, default: DateTime<Utc>| -> Result<DateTime<Utc>, InsightsError> {
                match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                    Some(s) => lauscher_index::parse_time(s, now).map_err(InsightsError::Invalid),
                    None => Ok(default),
                }
            };
        Ok(Filters {
            topics: self
                .topic
                .iter()
                .flat_map(|t| t.split(','))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            rule: self.rule.clone(),
            lang: self.lang.clone(),
            source: self.source.clone(),
            label: self.label,
            intent: self.intent,
            since: time(&self.since, now - Duration::days(7))?,
            until: time(&self.until, now)?,
        })
    }

    /// The timeline interval for `filters`' window.
    pub fn interval(&self, filters: &Filters) -> Result<Interval, InsightsError> {
        match self.interval.as_deref() {
            Some(i) => i.parse(),
            None if filters.until - filters.since <= Duration::days(3) => "1h".parse(),
            None => "1d".parse(),
        }
    }

    /// The time zone, or `default`.
    pub fn tz(&self, default: Tz) -> Tz {
        self.tz.map_or(default, |t| t.0)
    }
}
