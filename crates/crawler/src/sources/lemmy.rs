//! Lemmy: posts and comments matching a query on one instance.
//!
//! `GET /api/v3/search?q=&type_=All&sort=New&listing_type=All&limit=50&page=`, newest
//! first; pages are read while every hit on them is newer than the checkpoint (the
//! newest `published` read), up to five. Federated copies of one post share their
//! ActivityPub id (`ap_id`), which is the mention's identity, so one post seen through
//! two instances is one mention. Anonymous. The instance's own search limit
//! (`local_site_rate_limit.search` per `search_per_second` seconds, from `/api/v3/site`,
//! read at the first poll) spaces the searches: a poll that used up more than half of
//! it waits for the window to pass.

use chrono::{DateTime, NaiveDateTime, Utc};
use lauscher_model::{Author, Mention};
use lauscher_text::normalize::html_to_text;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::canonical::{canonical_url, mention_id};
use crate::error::FetchError;
use crate::source::{BoxFuture, Crawler, Poll, Poller};
use crate::sources::api::{endpoint, get_json};

/// Hits per page (the API's maximum).
const PAGE: usize = 50;
/// Most pages read in one poll.
const MAX_PAGES: u32 = 5;

/// A Lemmy source.
pub struct LemmySource {
    /// The source id.
    pub id: String,
    /// The instance, e.g. `https://lemmy.world/`.
    pub instance: Url,
    /// The search query.
    pub query: String,
    /// Whether it may reach private addresses.
    pub allow_private: bool,
    /// The instance's search limit: searches per window, once read.
    pub search_limit: std::sync::OnceLock<Option<(u32, std::time::Duration)>>,
}

#[derive(Debug, Deserialize)]
struct Site {
    #[serde(default)]
    site_view: Option<SiteView>,
}

#[derive(Debug, Deserialize)]
struct SiteView {
    #[serde(default)]
    local_site_rate_limit: Option<RateLimit>,
}

#[derive(Debug, Deserialize)]
struct RateLimit {
    #[serde(default)]
    search: Option<u32>,
    #[serde(default)]
    search_per_second: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    newest: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize)]
struct Search {
    #[serde(default)]
    posts: Vec<PostView>,
    #[serde(default)]
    comments: Vec<CommentView>,
}

#[derive(Debug, Deserialize)]
struct PostView {
    post: Post,
    creator: Creator,
}

#[derive(Debug, Deserialize)]
struct Post {
    name: String,
    #[serde(default)]
    body: Option<String>,
    ap_id: String,
    published: String,
}

#[derive(Debug, Deserialize)]
struct CommentView {
    comment: Comment,
    creator: Creator,
    #[serde(default)]
    post: Option<PostTitle>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    content: String,
    ap_id: String,
    published: String,
}

#[derive(Debug, Deserialize)]
struct PostTitle {
    name: String,
    #[serde(default)]
    ap_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Creator {
    name: String,
}

/// Lemmy writes `published` with or without a zone (older versions: naive UTC).
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

impl LemmySource {
    /// The instance's search limit, read once; `None` when the site does not say.
    async fn limit(&self, crawler: &Crawler) -> Option<(u32, std::time::Duration)> {
        if let Some(known) = self.search_limit.get() {
            return *known;
        }
        let url = endpoint(&self.instance, "api/v3/site").ok()?;
        let read = get_json::<Site>(crawler, self.allow_private, &url, None, &[])
            .await
            .ok()
            .and_then(|(site, _)| site.site_view?.local_site_rate_limit)
            .and_then(|l| {
                let per = std::time::Duration::from_secs(l.search_per_second?.max(1));
                Some((l.search?.max(1), per))
            });
        *self.search_limit.get_or_init(|| read)
    }

    fn search_url(&self, page: u32) -> Result<Url, FetchError> {
        let mut url = endpoint(&self.instance, "api/v3/search")?;
        url.query_pairs_mut()
            .append_pair("q", &self.query)
            .append_pair("type_", "All")
            .append_pair("sort", "New")
            .append_pair("listing_type", "All")
            .append_pair("limit", &PAGE.to_string())
            .append_pair("page", &page.to_string());
        Ok(url)
    }

    fn mention(
        &self,
        ap_id: &str,
        title: Option<String>,
        html: &str,
        author: &str,
        published: Option<DateTime<Utc>>,
        fetched_at: DateTime<Utc>,
    ) -> Mention {
        let url = canonical_url(ap_id, None);
        let text = Some(html_to_text(html))
            .filter(|t| !t.is_empty())
            .or_else(|| title.clone())
            .unwrap_or_default();
        Mention {
            id: mention_id(&self.id, url.as_ref(), Some(ap_id), || {
                lauscher_text::Fingerprint::of(&text).content_hash
            }),
            source: self.id.clone(),
            url: url.map(String::from),
            author: Some(Author {
                name: author.to_owned(),
                reach: None,
            }),
            published_at: published.unwrap_or(fetched_at).min(fetched_at),
            fetched_at,
            title,
            text,
            lang_hint: None,
            address: None,
            repost_of: None,
            reply_to: None,
        }
    }
}

impl Poller for LemmySource {
    fn poll<'a>(
        &'a self,
        crawler: &'a Crawler,
        checkpoint: &'a str,
    ) -> BoxFuture<'a, Result<Poll, FetchError>> {
        Box::pin(async move {
            let state: Checkpoint = serde_json::from_str(checkpoint).unwrap_or_default();
            let now = Utc::now();
            let mut poll = Poll::default();
            let mut newest = state.newest;
            let limit = self.limit(crawler).await;
            let mut requests = 0u32;
            for page in 1..=MAX_PAGES {
                if let Some((allowed, _)) = limit
                    && requests >= allowed
                {
                    break;
                }
                requests += 1;
                let url = self.search_url(page)?;
                let (found, _): (Search, _) =
                    get_json(crawler, self.allow_private, &url, None, &[]).await?;
                let mut all_new = !found.posts.is_empty() || !found.comments.is_empty();
                let mut seen = |at: Option<DateTime<Utc>>| {
                    if let Some(at) = at {
                        newest = newest.max(Some(at));
                    }
                    all_new &= match (at, state.newest) {
                        (Some(at), Some(known)) => at > known,
                        _ => state.newest.is_some(),
                    };
                };
                for p in &found.posts {
                    let at = parse_time(&p.post.published);
                    seen(at);
                    poll.mentions.push(self.mention(
                        &p.post.ap_id,
                        Some(p.post.name.clone()),
                        p.post.body.as_deref().unwrap_or_default(),
                        &p.creator.name,
                        at,
                        now,
                    ));
                }
                for c in &found.comments {
                    let at = parse_time(&c.comment.published);
                    seen(at);
                    let mut comment = self.mention(
                        &c.comment.ap_id,
                        c.post.as_ref().map(|p| p.name.clone()),
                        &c.comment.content,
                        &c.creator.name,
                        at,
                        now,
                    );
                    // A comment answers its post, whose id is its ActivityPub address.
                    comment.reply_to = c
                        .post
                        .as_ref()
                        .and_then(|p| p.ap_id.as_deref())
                        .and_then(|a| canonical_url(a, None))
                        .map(String::from);
                    poll.mentions.push(comment);
                }
                if !all_new {
                    break;
                }
            }
            if let Some((allowed, window)) = limit
                && requests * 2 > allowed
            {
                poll.wait_at_least = Some(window);
            }
            if newest != state.newest {
                poll.checkpoint = serde_json::to_string(&Checkpoint { newest }).ok();
            }
            Ok(poll)
        })
    }
}
