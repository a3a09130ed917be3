//! Share of voice: how loud each brand and competitor topic is, and how people feel,
//! against the previous period of the same length.

use lauscher_index::{Buckets, LabelTally, MentionIndex};
use lauscher_query::{RuleKind, RuleSet};
use rayon::prelude::*;
use serde::Serialize;

use crate::{Filters, InsightsError, LabelCounts, Search};

/// One topic's numbers in one period.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Period {
    /// Mentions.
    pub mentions: u64,
    /// Distinct authors (exact).
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

/// One topic's current and previous period, in one pass over both.
fn periods(
    index: &MentionIndex,
    rules: &RuleSet,
    filters: &Filters,
    topic: &str,
) -> Result<(Period, Period), InsightsError> {
    let len = filters.until - filters.since;
    let before = filters.since - len;
    let both = filters.search(Some(topic), before, filters.until);
    let buckets = Buckets {
        origin: before,
        step: len,
        count: 2,
    };
    let tallies = index.label_tally(&both.request(), Some(rules), buckets, true)?;
    let period = |t: &LabelTally, since, until| {
        let labels = LabelCounts::from(t);
        Period {
            mentions: labels.total(),
            authors: t.authors,
            share: 0.0,
            net_sentiment: labels.net(),
            negative_share: labels.negative_share(),
            labels,
            search: filters.search(Some(topic), since, until),
        }
    };
    Ok((
        period(&tallies[1], filters.since, filters.until),
        period(&tallies[0], before, filters.since),
    ))
}

/// Share of voice of `filters.topics`, or of every brand and competitor topic.
pub fn share_of_voice(
    index: &MentionIndex,
    rules: &RuleSet,
    filters: &Filters,
) -> Result<ShareOfVoice, InsightsError> {
    let topics: Vec<&lauscher_query::Rule> = if filters.topics.is_empty() {
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
    // Topics are tallied in parallel too: small segments are one scan part each.
    let out = topics
        .par_iter()
        .map(|t| periods(index, rules, filters, &t.id).map(|(c, p)| (t, c, p)))
        .collect::<Result<Vec<_>, InsightsError>>()?;
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
