//! Insights: views over the mention index for product and marketing teams.
//!
//! - [`timeline`]: volume per interval split by sentiment label, with the average
//!   score, empty intervals present, in the user's time zone;
//! - [`share`]: share of voice of brand and competitor topics against the previous
//!   period;
//! - [`top`]: top authors (by volume and by reach), sources, hashtags and linked sites;
//! - [`report`]: the weekly digest of all of them, Markdown or self-contained HTML;
//! - [`complaints`]: recurring complaint topics, significant phrases of the negative
//!   mentions against the topic's own background, new / recurring / fading.
//!
//! Every view counts fast fields of the matching mentions: timelines, share of voice
//! and complaints through the index's tallies ([`MentionIndex::label_tally`],
//! [`MentionIndex::phrase_tally`]), top lists through tantivy's terms aggregations
//! ([`MentionIndex::aggregate`]). No view loads the matching documents. Every figure
//! carries the [`Search`] that lists the mentions behind it, which `lauscher search` and `GET /api/v1/search`
//! accept as they are.

pub mod complaints;
pub mod params;
pub mod report;
pub mod share;
pub mod timeline;
pub mod top;

use chrono::{DateTime, Utc};
use lauscher_index::{IndexError, LabelTally, MentionIndex, SearchRequest};
use lauscher_model::{Intent, Label};
use lauscher_query::RuleSet;
use serde::Serialize;

pub use complaints::{Complaints, Recurrence, complaints};
pub use params::Params;
pub use report::{Digest, Format, Period, Week, digest, report};
pub use share::{ShareOfVoice, share_of_voice};
pub use timeline::{Interval, Timeline, timeline};
pub use top::{Top, top};

/// Why a view could not be computed: the first kinds are the caller's mistakes (HTTP
/// 400), the last the index's.
#[derive(Debug, thiserror::Error)]
pub enum InsightsError {
    /// A topic id the rule set does not have.
    #[error("unknown topic {0:?}: `lauscher check` lists the topics in force")]
    UnknownTopic(String),
    /// `since` is not before `until`.
    #[error("inverted window: since {since} is not before until {until}")]
    Inverted {
        /// Start.
        since: DateTime<Utc>,
        /// End.
        until: DateTime<Utc>,
    },
    /// The window reaches further back than the index keeps mentions.
    #[error("window starts {since}, before the retention of {days} days: use since ≥ {earliest}")]
    BeyondRetention {
        /// Requested start.
        since: DateTime<Utc>,
        /// Retention in days.
        days: u32,
        /// Earliest allowed start.
        earliest: DateTime<Utc>,
    },
    /// An interval that would make too many buckets.
    #[error(
        "{buckets} intervals of {interval} between since and until: at most {max}; use a longer interval or a shorter window"
    )]
    TooManyBuckets {
        /// Buckets it would make.
        buckets: i64,
        /// The interval asked for.
        interval: String,
        /// The limit.
        max: i64,
    },
    /// A parameter that does not parse.
    #[error("{0}")]
    Invalid(String),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl InsightsError {
    /// Whether the caller asked for something wrong (HTTP 400) rather than the index
    /// failing (500).
    pub fn is_bad_request(&self) -> bool {
        match self {
            InsightsError::Index(IndexError::UnknownRule(_) | IndexError::Query { .. }) => true,
            InsightsError::Index(_) => false,
            _ => true,
        }
    }
}

/// Most buckets a timeline returns.
pub const MAX_BUCKETS: i64 = 10_000;

/// What every view filters on: the search filters and a window.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// Topic ids; empty: the view's default (every brand and competitor topic for
    /// share of voice, all mentions otherwise).
    pub topics: Vec<String>,
    /// Rule id (retro-search).
    pub rule: Option<String>,
    /// Language.
    pub lang: Option<String>,
    /// Source id.
    pub source: Option<String>,
    /// Sentiment label.
    pub label: Option<Label>,
    /// Intent.
    pub intent: Option<Intent>,
    /// Window start (inclusive).
    pub since: DateTime<Utc>,
    /// Window end (exclusive).
    pub until: DateTime<Utc>,
}

/// The search that lists the mentions behind a figure: the filters of
/// `GET /api/v1/search` and `lauscher search`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Search {
    /// Query text (tantivy syntax; empty: every mention).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub q: String,
    /// Topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Label>,
    /// Intent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// Any of these phrases (stemmed keys).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phrases: Vec<String>,
    /// Start, RFC 3339.
    pub since: String,
    /// End, RFC 3339.
    pub until: String,
}

impl Search {
    /// The request the index runs for this search.
    pub fn request(&self) -> SearchRequest {
        SearchRequest {
            query: self.q.clone(),
            since: DateTime::parse_from_rfc3339(&self.since)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            until: DateTime::parse_from_rfc3339(&self.until)
                .ok()
                .map(|d| d.with_timezone(&Utc)),
            topic: self.topic.clone(),
            rule: self.rule.clone(),
            lang: self.lang.clone(),
            source: self.source.clone(),
            label: self.label,
            intent: self.intent,
            phrases: self.phrases.clone(),
            collapse: None,
            limit: 0,
            offset: 0,
        }
    }

    /// The same search as an API path: `/api/v1/search?...`.
    pub fn href(&self) -> String {
        let mut parts = Vec::new();
        let mut push = |k: &str, v: &str| parts.push(format!("{k}={}", encode(v)));
        if !self.q.is_empty() {
            push("q", &self.q);
        }
        for (k, v) in [
            ("topic", &self.topic),
            ("rule", &self.rule),
            ("lang", &self.lang),
            ("source", &self.source),
            ("label", &self.label.map(|l| l.as_str().to_owned())),
            ("intent", &self.intent.map(|i| i.as_str().to_owned())),
        ] {
            if let Some(v) = v {
                push(k, v);
            }
        }
        if !self.phrases.is_empty() {
            push("phrase", &self.phrases.join(","));
        }
        push("since", &self.since);
        push("until", &self.until);
        format!("/api/v1/search?{}", parts.join("&"))
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Filters {
    /// Checks the window and the topics against `rules`.
    pub fn check(&self, rules: &RuleSet, retention_days: Option<u32>) -> Result<(), InsightsError> {
        if self.since >= self.until {
            return Err(InsightsError::Inverted {
                since: self.since,
                until: self.until,
            });
        }
        if let Some(days) = retention_days {
            let earliest = Utc::now() - chrono::Duration::days(days as i64);
            // A day of slack: retention runs hourly, and a window may start at midnight.
            if self.since < earliest - chrono::Duration::days(1) {
                return Err(InsightsError::BeyondRetention {
                    since: self.since,
                    days,
                    earliest,
                });
            }
        }
        for t in &self.topics {
            if rules.position(t).is_none() {
                return Err(InsightsError::UnknownTopic(t.clone()));
            }
        }
        Ok(())
    }

    /// The search for `topic` (or every topic) within `[since, until)`.
    pub fn search(
        &self,
        topic: Option<&str>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Search {
        Search {
            q: String::new(),
            topic: topic.map(str::to_owned),
            rule: self.rule.clone(),
            lang: self.lang.clone(),
            source: self.source.clone(),
            label: self.label,
            intent: self.intent,
            phrases: Vec::new(),
            since: since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            until: until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// Runs `aggs` for `search` and returns the JSON results.
fn aggregate(
    index: &MentionIndex,
    rules: &RuleSet,
    search: &Search,
    aggs: serde_json::Value,
) -> Result<serde_json::Value, InsightsError> {
    Ok(index.aggregate(&search.request(), Some(rules), aggs)?)
}

/// `doc_count` per key of a terms aggregation result.
fn term_counts(result: &serde_json::Value) -> Vec<(String, u64, &serde_json::Value)> {
    result["buckets"]
        .as_array()
        .map(|buckets| {
            buckets
                .iter()
                .map(|b| {
                    let key = match &b["key"] {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (key, b["doc_count"].as_u64().unwrap_or(0), b)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Counts per sentiment label from a `labels` terms result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LabelCounts {
    /// Negative mentions.
    pub negative: u64,
    /// Neutral mentions.
    pub neutral: u64,
    /// Positive mentions.
    pub positive: u64,
}

impl From<&LabelTally> for LabelCounts {
    fn from(t: &LabelTally) -> LabelCounts {
        LabelCounts {
            negative: t.negative,
            neutral: t.neutral,
            positive: t.positive,
        }
    }
}

impl LabelCounts {
    fn add(&mut self, o: &LabelCounts) {
        self.negative += o.negative;
        self.neutral += o.neutral;
        self.positive += o.positive;
    }

    /// All of them.
    pub fn total(&self) -> u64 {
        self.negative + self.neutral + self.positive
    }

    /// (positive − negative) / total; 0 without mentions.
    pub fn net(&self) -> f64 {
        let t = self.total();
        if t == 0 {
            0.0
        } else {
            (self.positive as f64 - self.negative as f64) / t as f64
        }
    }

    /// negative / total; 0 without mentions.
    pub fn negative_share(&self) -> f64 {
        let t = self.total();
        if t == 0 {
            0.0
        } else {
            self.negative as f64 / t as f64
        }
    }
}

/// A view, by the name the API path and the CLI use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// `timeline`.
    Timeline,
    /// `share-of-voice` (CLI: `sov`).
    ShareOfVoice,
    /// `top`.
    Top,
    /// `complaints`.
    Complaints,
}

impl std::str::FromStr for View {
    type Err = InsightsError;
    fn from_str(s: &str) -> Result<View, InsightsError> {
        match s {
            "timeline" => Ok(View::Timeline),
            "share-of-voice" | "sov" => Ok(View::ShareOfVoice),
            "top" => Ok(View::Top),
            "complaints" => Ok(View::Complaints),
            _ => Err(InsightsError::Invalid(format!(
                "unknown view {s:?}: expected complaints, timeline, share-of-voice or top"
            ))),
        }
    }
}

/// Computes `view` for `params` at `now`: what `GET /api/v1/insights/<view>` answers
/// and `lauscher insights <view> --json` prints. A window reaching past
/// `retention_days` (the index's retention) is refused: its counts would be short.
pub fn run(
    view: View,
    index: &MentionIndex,
    rules: &RuleSet,
    params: &Params,
    (default_tz, retention_days): (chrono_tz::Tz, Option<u32>),
    now: DateTime<Utc>,
) -> Result<serde_json::Value, InsightsError> {
    let filters = params.filters(now)?;
    filters.check(rules, retention_days)?;
    let value = match view {
        View::Timeline => {
            let interval = params.interval(&filters)?;
            serde_json::to_value(timeline(
                index,
                rules,
                &filters,
                interval,
                params.tz(default_tz),
            )?)
        }
        View::ShareOfVoice => serde_json::to_value(share_of_voice(index, rules, &filters)?),
        View::Top => serde_json::to_value(top(index, rules, &filters, params.n.unwrap_or(10))?),
        View::Complaints => {
            let d = Recurrence::default();
            let recurrence = Recurrence {
                weeks: params.weeks.unwrap_or(d.weeks),
                rank: params.rank.unwrap_or(d.rank),
                min_weeks: params.recur.unwrap_or(d.min_weeks),
            };
            serde_json::to_value(complaints(
                index,
                rules,
                &filters,
                params.n.unwrap_or(20),
                recurrence,
            )?)
        }
    };
    value.map_err(|e| InsightsError::Invalid(e.to_string()))
}
