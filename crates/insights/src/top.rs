//! Who and where: top authors by volume and by reach, top sources, hashtags and
//! linked sites for a topic and window.

use lauscher_index::MentionIndex;
use lauscher_query::RuleSet;
use serde::Serialize;

use crate::{Filters, InsightsError, Search, aggregate, term_counts};

/// One entry of a top list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    /// The author, source, hashtag or site.
    pub key: String,
    /// Mentions.
    pub mentions: u64,
    /// Largest reach seen (authors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reach: Option<u64>,
    /// The mentions behind it.
    pub search: Search,
}

/// The top lists.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Top {
    /// Authors with the most mentions.
    pub authors_by_volume: Vec<Entry>,
    /// Authors with the largest reach (followers).
    pub authors_by_reach: Vec<Entry>,
    /// Sources.
    pub sources: Vec<Entry>,
    /// Hashtags.
    pub hashtags: Vec<Entry>,
    /// Linked sites (hosts and their parent domains).
    pub sites: Vec<Entry>,
}

/// The top `n` of each list for the first of `filters.topics` (or all mentions).
pub fn top(
    index: &MentionIndex,
    rules: &RuleSet,
    filters: &Filters,
    n: usize,
) -> Result<Top, InsightsError> {
    let n = n.clamp(1, 1000);
    let topic = filters.topics.first().map(String::as_str);
    let window = filters.search(topic, filters.since, filters.until);
    let reach = serde_json::json!({"reach": {"max": {"field": "author_reach"}}});
    let aggs = serde_json::json!({
        "by_volume": {"terms": {"field": "author", "size": n}, "aggs": reach},
        "by_reach": {"terms": {"field": "author", "size": n, "order": {"reach": "desc"}}, "aggs": reach},
        "sources": {"terms": {"field": "source", "size": n}},
        "hashtags": {"terms": {"field": "tags", "size": n, "include": "#.*"}},
        "sites": {"terms": {"field": "site", "size": n}},
    });
    let r = aggregate(index, rules, &window, aggs)?;
    // Each entry links to its mentions: the window's search narrowed by the key.
    let entries = |name: &str, q: &dyn Fn(&str) -> (String, Option<String>)| -> Vec<Entry> {
        term_counts(&r[name])
            .into_iter()
            .filter(|(key, _, _)| !key.is_empty())
            .map(|(key, mentions, b)| {
                let (query, source) = q(&key);
                let mut search = window.clone();
                search.q = query;
                if source.is_some() {
                    search.source = source;
                }
                let reach = b["reach"]["value"]
                    .as_f64()
                    .filter(|v| *v > 0.0)
                    .map(|v| v as u64);
                Entry {
                    key,
                    mentions,
                    reach,
                    search,
                }
            })
            .collect()
    };
    let quoted = |field: &str, k: &str| format!("{field}:\"{}\"", k.replace('"', "\\\""));
    let mut by_reach = entries("by_reach", &|k| (quoted("author", k), None));
    by_reach.retain(|e| e.reach.is_some());
    Ok(Top {
        authors_by_volume: entries("by_volume", &|k| (quoted("author", k), None)),
        authors_by_reach: by_reach,
        sources: entries("sources", &|k| (String::new(), Some(k.to_owned()))),
        hashtags: entries("hashtags", &|k| (quoted("tags", k), None)),
        sites: entries("sites", &|k| (quoted("site", k), None)),
    })
}
