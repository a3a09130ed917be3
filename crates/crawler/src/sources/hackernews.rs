//! Hacker News stories and comments matching a query, through Algolia's search API.
//!
//! `GET /api/v1/search_by_date?query=&tags=(story,comment)&numericFilters=created_at_i>=T`
//! answers newest first and at most 1,000 hits per query, so a window with more is cut
//! in halves by time until each fits, oldest first; the checkpoint is the newest second
//! read, asked again with `>=` so a second shared by several hits loses none (dedupe
//! drops the repeats). The first poll reads the newest page only. No auth; 10,000
//! requests an hour per address, far above one poll a minute.

use chrono::{DateTime, TimeZone, Utc};
use lauscher_model::{Author, Mention};
use lauscher_text::normalize::html_to_text;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::canonical::{canonical_url, mention_id};
use crate::error::FetchError;
use crate::source::{BoxFuture, Crawler, Poll, Poller};
use crate::sources::api::{endpoint, get_json};

/// Hits per page (Algolia allows up to 1,000).
const PAGE: usize = 200;
/// Most hits one query reaches, whatever the paging.
const CAP: u64 = 1_000;

/// A Hacker News source.
pub struct HackerNewsSource {
    /// The source id.
    pub id: String,
    /// The API base, `https://hn.algolia.com/`.
    pub api: Url,
    /// The search query.
    pub query: String,
    /// Whether it may reach private addresses.
    pub allow_private: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    /// The newest `created_at_i` read.
    since: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    hits: Vec<Hit>,
    #[serde(default, rename = "nbHits")]
    nb_hits: u64,
    #[serde(default, rename = "nbPages")]
    nb_pages: u64,
}

#[derive(Debug, Deserialize)]
struct Hit {
    #[serde(rename = "objectID")]
    object_id: String,
    created_at_i: i64,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    story_title: Option<String>,
    #[serde(default)]
    story_text: Option<String>,
    #[serde(default)]
    comment_text: Option<String>,
    #[serde(default)]
    parent_id: Option<u64>,
}

impl HackerNewsSource {
    fn search_url(
        &self,
        from: Option<i64>,
        until: Option<i64>,
        page: u64,
    ) -> Result<Url, FetchError> {
        let mut url = endpoint(&self.api, "api/v1/search_by_date")?;
        let mut filters = Vec::new();
        if let Some(from) = from {
            filters.push(format!("created_at_i>={from}"));
        }
        if let Some(until) = until {
            filters.push(format!("created_at_i<{until}"));
        }
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("query", &self.query);
            q.append_pair("tags", "(story,comment)");
            q.append_pair("hitsPerPage", &PAGE.to_string());
            q.append_pair("page", &page.to_string());
            if !filters.is_empty() {
                q.append_pair("numericFilters", &filters.join(","));
            }
        }
        Ok(url)
    }

    async fn page(
        &self,
        crawler: &Crawler,
        from: Option<i64>,
        until: Option<i64>,
        page: u64,
    ) -> Result<Page, FetchError> {
        let url = self.search_url(from, until, page)?;
        Ok(get_json(crawler, self.allow_private, &url, None, &[])
            .await?
            .0)
    }

    fn mention(&self, hit: &Hit, fetched_at: DateTime<Utc>) -> Mention {
        let url = Url::parse(&format!(
            "https://news.ycombinator.com/item?id={}",
            hit.object_id
        ))
        .ok()
        .and_then(|u| canonical_url(u.as_str(), None));
        let title = hit
            .title
            .clone()
            .or_else(|| hit.story_title.clone())
            .filter(|t| !t.trim().is_empty());
        let text = hit
            .comment_text
            .as_deref()
            .or(hit.story_text.as_deref())
            .map(html_to_text)
            .filter(|t| !t.is_empty())
            .or_else(|| title.clone())
            .unwrap_or_default();
        let published = Utc
            .timestamp_opt(hit.created_at_i, 0)
            .single()
            .unwrap_or(fetched_at)
            .min(fetched_at);
        Mention {
            id: mention_id(&self.id, url.as_ref(), Some(&hit.object_id), || {
                lauscher_text::Fingerprint::of(&text).content_hash
            }),
            source: self.id.clone(),
            url: url.map(String::from),
            author: hit.author.clone().map(|name| Author { name, reach: None }),
            published_at: published,
            fetched_at,
            title,
            text,
            lang_hint: None,
            address: None,
            repost_of: None,
            reply_to: hit
                .parent_id
                .map(|p| format!("https://news.ycombinator.com/item?id={p}")),
        }
    }
}

impl Poller for HackerNewsSource {
    fn poll<'a>(
        &'a self,
        crawler: &'a Crawler,
        checkpoint: &'a str,
    ) -> BoxFuture<'a, Result<Poll, FetchError>> {
        Box::pin(async move {
            let state: Checkpoint = serde_json::from_str(checkpoint).unwrap_or_default();
            let now = Utc::now();
            let mut poll = Poll::default();
            let mut hits = Vec::new();
            let mut slice_end = None;
            match state.since {
                None => hits = self.page(crawler, None, None, 0).await?.hits,
                Some(since) => {
                    // The oldest slice from `since` that fits under the cap.
                    let mut until = now.timestamp() + 1;
                    let mut first = self.page(crawler, Some(since), Some(until), 0).await?;
                    while first.nb_hits > CAP && until - since > 1 {
                        until = since + (until - since) / 2;
                        poll.more = true;
                        first = self.page(crawler, Some(since), Some(until), 0).await?;
                    }
                    if poll.more {
                        slice_end = Some(until);
                    }
                    let pages = first.nb_pages;
                    hits.append(&mut first.hits);
                    for page in 1..pages.min(CAP.div_ceil(PAGE as u64)) {
                        hits.append(
                            &mut self
                                .page(crawler, Some(since), Some(until), page)
                                .await?
                                .hits,
                        );
                    }
                }
            }
            // A whole slice was read: the next starts where it ended. Otherwise the
            // newest second read is asked again (`>=`), so hits sharing it are not lost.
            let next = slice_end.or_else(|| hits.iter().map(|h| h.created_at_i).max());
            if let Some(since) = next {
                poll.checkpoint = serde_json::to_string(&Checkpoint { since: Some(since) }).ok();
            }
            poll.mentions = hits.iter().map(|h| self.mention(h, now)).collect();
            Ok(poll)
        })
    }
}
