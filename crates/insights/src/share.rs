//! Share of voice: how loud each brand and competitor topic is, and how people feel,
//! against the previous period of the same length.

use chrono::{DateTime, Utc};
use lauscher_index::MentionIndex;
use lauscher_rules::{RuleKind, RuleSet};
use serde::Serialize;

use crate::{Filters, InsightsError, LabelCounts, Search, aggregate, labels_agg};

/// One topic's numbers in one period.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Period {
    /// Mentions.
    pub mentions: u64,
    /// Distinct authors (HyperLogLog: exact for small counts, within about 2 % above
    /// some thousands).
    pub authors: u64,
    /// Mentions / mentions of all listed topics.
    pub share: f64,
    /// (positive − negative) / mentions.
    pub net_sentiment: f64,
    /// negative / mentions.
    pub negative_share: f64,
    /// By label.
    #[serde(flatten)]
    pub labels: LabelCounts,
    /// The mentions behind it.
    pub search: Search,
}

/// One topic: this period, the previous one, and the change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopicVoice {
    /// Topic id.
    pub topic: String,
    /// Its display name.
    pub name: String,
    /// `brand` or `competitor` (or what the topic is).
    pub kind: String,
    /// The window asked for.
    pub current: Period,
    /// The window of the same length right before.
    pub previous: Period,
    /// Mentions now − before.
    pub mentions_change: i64,
    /// Share now − before, in percentage points.
    pub share_change_pp: f64,
    /// Net sentiment now − before.
    pub net_sentiment_change: f64,
}

/// The share-of-voice view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShareOfVoice {
    /// Window start.
    pub since: String,
    /// Window end.
    pub until: String,
    /// Topics, loudest first.
    pub topics: Vec<TopicVoice>,
    /// Mentions of all listed topics (a mention naming two counts for both).
    pub total: u64,
}

fn period(
    index: &MentionIndex,
    rules: &RuleSet,
    filters: &Filters,
    topic: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Period, InsightsError> {
    let search = filters.search(Some(topic), since, until);
    let aggs = serde_json::json!({
        "labels": labels_agg(),
        "authors": {"cardinality": {"field": "author"}},
    });
    let r = aggregate(index, rules, &search, aggs)?;
    let labels = LabelCounts::of(&r["labels"]);
    Ok(Period {
        mentions: labels.total(),
        authors: r["authors"]["value"].as_f64().unwrap_or(0.0).round() as u64,
        share: 0.0,
        net_sentiment: labels.net(),
        negative_share: labels.negative_share(),
        labels,
        search,
    })
}

/// Share of voice of `filters.topics`, or of every brand and competitor topic.
pub fn share_of_voice(
    index: &MentionIndex,
    rules: &RuleSet,
    filters: &Filters,
) -> Result<ShareOfVoice, InsightsError> {
    let topics: Vec<&lauscher_rules::Rule> = if filters.topics.is_empty() {
        rules
            .rules()
            .iter()
            .filter(|r| matches!(r.kind, RuleKind::Brand | RuleKind::Competitor))
            .collect()
    } else {
        filters
            .topics
            .iter()
            .filter_map(|t| rules.position(t).map(|p| &rules.rules()[p]))
            .collect()
    };
    let len = filters.until - filters.since;
    let mut out = Vec::new();
    for t in &topics {
        out.push((
            t,
            period(index, rules, filters, &t.id, filters.since, filters.until)?,
            period(
                index,
                rules,
                filters,
                &t.id,
                filters.since - len,
                filters.since,
            )?,
        ));
    }
    let total: u64 = out.iter().map(|(_, c, _)| c.mentions).sum();
    let total_before: u64 = out.iter().map(|(_, _, p)| p.mentions).sum();
    let share = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let mut topics: Vec<TopicVoice> = out
        .into_iter()
        .map(|(t, mut current, mut previous)| {
            current.share = share(current.mentions, total);
            previous.share = share(previous.mentions, total_before);
            TopicVoice {
                topic: t.id.clone(),
                name: t.name.clone(),
                kind: format!("{:?}", t.kind).to_lowercase(),
                mentions_change: current.mentions as i64 - previous.mentions as i64,
                share_change_pp: (current.share - previous.share) * 100.0,
                net_sentiment_change: current.net_sentiment - previous.net_sentiment,
                current,
                previous,
            }
        })
        .collect();
    topics.sort_by(|a, b| {
        b.current
            .mentions
            .cmp(&a.current.mentions)
            .then(a.topic.cmp(&b.topic))
    });
    Ok(ShareOfVoice {
        since: filters.search(None, filters.since, filters.until).since,
        until: filters.search(None, filters.since, filters.until).until,
        topics,
        total,
    })
}
