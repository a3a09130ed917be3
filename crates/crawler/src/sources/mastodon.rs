//! Mastodon: hashtag timelines, or the public timeline, of one instance.
//!
//! `GET /api/v1/timelines/tag/:tag` (or `/timelines/public`) with `limit=40&min_id=`:
//! the statuses right after `min_id`, so a full page means more is waiting and is read
//! at once. The first poll of a timeline reads its newest page only (no backfill).
//! A status seen through several instances has one ActivityPub `uri`, so its id comes
//! from the `uri` and it is one mention however many sources see it. A boost is a
//! mention of the booster that reposts the original; the original is a mention too.
//! HTML is stripped; `language` is the hint; the author's `followers_count` is reach.
//! The rate limit (300 requests in 5 minutes per account and address) is read from the
//! `X-RateLimit-*` headers: under 10 % left, the next poll waits for the reset.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lauscher_model::{Author, Mention};
use lauscher_text::normalize::html_to_text;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::canonical::{canonical_url, mention_id};
use crate::error::FetchError;
use crate::source::{BoxFuture, Crawler, Poll, Poller};
use crate::sources::api::{endpoint, get_json, rate_limit_wait};

/// Statuses per request (the API's maximum).
const PAGE: usize = 40;

/// A Mastodon source.
pub struct MastodonSource {
    /// The source id.
    pub id: String,
    /// The instance, e.g. `https://mastodon.social/`.
    pub instance: Url,
    /// Hashtags to follow, without `#`; empty means the public timeline.
    pub hashtags: Vec<String>,
    /// Only the instance's own posts.
    pub local: bool,
    /// An app token with `read:statuses`, for instances without public preview.
    pub token: Option<String>,
    /// The configured language, which beats the status's own.
    pub language: Option<String>,
    /// Whether it may reach private addresses.
    pub allow_private: bool,
}

/// Where each timeline stands: the newest status id read.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    #[serde(default)]
    min_id: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    uri: String,
    #[serde(default)]
    url: Option<String>,
    created_at: DateTime<Utc>,
    #[serde(default)]
    content: String,
    #[serde(default)]
    spoiler_text: String,
    #[serde(default)]
    language: Option<String>,
    account: Account,
    #[serde(default)]
    reblog: Option<Box<Status>>,
    #[serde(default)]
    in_reply_to_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Account {
    #[serde(default)]
    acct: String,
    #[serde(default)]
    followers_count: Option<u64>,
}

impl MastodonSource {
    /// The timelines to read: `tag:<name>` per hashtag, or `public`.
    fn timelines(&self) -> Vec<String> {
        if self.hashtags.is_empty() {
            vec!["public".to_owned()]
        } else {
            self.hashtags.iter().map(|t| format!("tag:{t}")).collect()
        }
    }

    fn timeline_url(&self, timeline: &str, min_id: Option<&str>) -> Result<Url, FetchError> {
        let path = match timeline.strip_prefix("tag:") {
            Some(tag) => format!("api/v1/timelines/tag/{tag}"),
            None => "api/v1/timelines/public".to_owned(),
        };
        let mut url = endpoint(&self.instance, &path)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", &PAGE.to_string());
            if self.local {
                q.append_pair("local", "true");
            }
            if let Some(min) = min_id {
                q.append_pair("min_id", min);
            }
        }
        Ok(url)
    }

    /// The mentions of one status: itself, or for a boost the original and the boost.
    fn mentions(&self, status: &Status, fetched_at: DateTime<Utc>, out: &mut Vec<Mention>) {
        match &status.reblog {
            Some(original) => {
                let of = self.mention(original, fetched_at, None);
                let repost_of = of.id;
                out.push(of);
                let mut boost = self.mention(status, fetched_at, Some(original));
                boost.repost_of = Some(repost_of);
                out.push(boost);
            }
            None => out.push(self.mention(status, fetched_at, None)),
        }
    }

    fn mention(
        &self,
        status: &Status,
        fetched_at: DateTime<Utc>,
        text_of: Option<&Status>,
    ) -> Mention {
        let shown = text_of.unwrap_or(status);
        let title = Some(status.spoiler_text.trim())
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let text = html_to_text(&shown.content);
        let identity = canonical_url(&status.uri, None);
        Mention {
            id: mention_id(&self.id, identity.as_ref(), Some(&status.uri), || {
                lauscher_text::Fingerprint::of(&text).content_hash
            }),
            source: self.id.clone(),
            url: status
                .url
                .as_deref()
                .and_then(|u| canonical_url(u, None))
                .map(String::from),
            author: Some(Author {
                name: status.account.acct.clone(),
                reach: status.account.followers_count,
            }),
            published_at: status.created_at.min(fetched_at),
            fetched_at,
            title,
            text,
            lang_hint: self
                .language
                .clone()
                .or_else(|| shown.language.clone().filter(|l| !l.is_empty())),
            repost_of: None,
            address: self
                .instance
                .join(&format!("api/v1/statuses/{}", status.id))
                .ok()
                .map(String::from),
            reply_to: status
                .in_reply_to_id
                .as_ref()
                .and_then(|id| self.instance.join(&format!("api/v1/statuses/{id}")).ok())
                .map(String::from),
        }
    }
}

impl Poller for MastodonSource {
    fn poll<'a>(
        &'a self,
        crawler: &'a Crawler,
        checkpoint: &'a str,
    ) -> BoxFuture<'a, Result<Poll, FetchError>> {
        Box::pin(async move {
            let mut state: Checkpoint = serde_json::from_str(checkpoint).unwrap_or_default();
            let mut poll = Poll::default();
            let mut changed = false;
            for timeline in self.timelines() {
                let min_id = state.min_id.get(&timeline).cloned();
                let url = self.timeline_url(&timeline, min_id.as_deref())?;
                let (statuses, headers): (Vec<Status>, _) = get_json(
                    crawler,
                    self.allow_private,
                    &url,
                    self.token.as_deref(),
                    &[],
                )
                .await?;
                let now = Utc::now();
                if let Some(wait) = rate_limit_wait(&headers, now) {
                    poll.wait_at_least = Some(poll.wait_at_least.unwrap_or_default().max(wait));
                }
                // Ids are opaque strings but ordered by length, then value.
                let newest = statuses
                    .iter()
                    .map(|s| s.id.as_str())
                    .max_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
                if let Some(newest) = newest {
                    state.min_id.insert(timeline.clone(), newest.to_owned());
                    changed = true;
                }
                // A full page after a known position: more is waiting.
                poll.more |= min_id.is_some() && statuses.len() >= PAGE;
                for status in &statuses {
                    self.mentions(status, now, &mut poll.mentions);
                }
            }
            if changed {
                poll.checkpoint = serde_json::to_string(&state).ok();
            }
            Ok(poll)
        })
    }
}
