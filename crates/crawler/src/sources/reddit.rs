//! Reddit through its OAuth API, for operators with a registered app (opt-in; the
//! default Reddit source reads the anonymous search feed).
//!
//! The app's client id and secret get a token from `/api/v1/access_token`
//! (`client_credentials`, renewed a minute before it expires, or after a 401); searches
//! go to `/search?q=&sort=new&limit=100&raw_json=1&before=<newest fullname>`, so a poll
//! reads what came after the last post read and a full page means more is waiting.
//! Every request carries the User-Agent Reddit requires
//! (`<platform>:<app ID>:<version> (by /u/<name>)`, checked in the config), and the
//! `X-Ratelimit-*` headers (100 requests a minute per client id) set the pace. A post's
//! id comes from its permalink, the link the search feed has too, so switching between
//! the two modes indexes nothing twice.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use lauscher_model::{Author, Mention};
use reqwest::header::{self, HeaderName};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use url::Url;

use crate::canonical::{canonical_url, mention_id};
use crate::error::FetchError;
use crate::source::{BoxFuture, Crawler, Poll, Poller};
use crate::sources::api::{endpoint, get_json, rate_limit_wait};

/// Posts per request (the API's maximum).
const PAGE: usize = 100;

/// A Reddit source over OAuth.
pub struct RedditSource {
    /// The source id.
    pub id: String,
    /// The API base, `https://oauth.reddit.com/`.
    pub api: Url,
    /// The token endpoint, `https://www.reddit.com/api/v1/access_token`.
    pub token_url: Url,
    /// The search query.
    pub query: String,
    /// The app's client id.
    pub client_id: String,
    /// The app's secret.
    pub client_secret: String,
    /// The User-Agent Reddit requires.
    pub user_agent: String,
    /// Whether it may reach private addresses.
    pub allow_private: bool,
    /// The bearer token and when it must be renewed.
    pub token: Mutex<Option<(String, Instant)>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    /// The fullname (`t3_…`) of the newest post read.
    newest: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default = "an_hour")]
    expires_in: u64,
}

fn an_hour() -> u64 {
    3600
}

#[derive(Debug, Deserialize)]
struct Listing {
    data: ListingData,
}

#[derive(Debug, Deserialize)]
struct ListingData {
    #[serde(default)]
    children: Vec<Child>,
}

#[derive(Debug, Deserialize)]
struct Child {
    data: Post,
}

#[derive(Debug, Deserialize)]
struct Post {
    name: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    selftext: String,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    created_utc: f64,
    #[serde(default)]
    permalink: String,
}

impl RedditSource {
    async fn bearer(&self, crawler: &Crawler) -> Result<String, FetchError> {
        let mut token = self.token.lock().await;
        if let Some((t, renew)) = token.as_ref()
            && Instant::now() < *renew
        {
            return Ok(t.clone());
        }
        let http = crawler.http(self.allow_private);
        let basic = basic(&self.client_id, &self.client_secret);
        let answer = http
            .post_form(
                &self.token_url,
                &[
                    (header::AUTHORIZATION, format!("Basic {basic}")),
                    (header::USER_AGENT, self.user_agent.clone()),
                ],
                &[("grant_type", "client_credentials")],
            )
            .await?;
        let parsed: TokenAnswer =
            serde_json::from_slice(&answer.body).map_err(|e| FetchError::Parse {
                url: self.token_url.to_string(),
                line: e.line(),
                col: e.column(),
                msg: format!("unexpected token answer: {e}"),
            })?;
        let renew = Instant::now() + Duration::from_secs(parsed.expires_in.saturating_sub(60));
        *token = Some((parsed.access_token.clone(), renew));
        Ok(parsed.access_token)
    }

    fn search_url(&self, before: Option<&str>) -> Result<Url, FetchError> {
        let mut url = endpoint(&self.api, "search")?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("q", &self.query)
                .append_pair("sort", "new")
                .append_pair("limit", &PAGE.to_string())
                .append_pair("raw_json", "1");
            if let Some(b) = before {
                q.append_pair("before", b);
            }
        }
        Ok(url)
    }

    fn mention(&self, post: &Post, fetched_at: chrono::DateTime<Utc>) -> Mention {
        let url = canonical_url(&format!("https://www.reddit.com{}", post.permalink), None);
        let title = Some(post.title.trim().to_owned()).filter(|t| !t.is_empty());
        let text = Some(lauscher_text::normalize::collapse_whitespace(
            &post.selftext,
        ))
        .filter(|t| !t.is_empty())
        .or_else(|| title.clone())
        .unwrap_or_default();
        Mention {
            id: mention_id(&self.id, url.as_ref(), Some(&post.name), || {
                lauscher_text::Fingerprint::of(&text).content_hash
            }),
            source: self.id.clone(),
            url: url.map(String::from),
            author: post
                .author
                .clone()
                .filter(|a| a != "[deleted]")
                .map(|name| Author { name, reach: None }),
            published_at: Utc
                .timestamp_opt(post.created_utc as i64, 0)
                .single()
                .unwrap_or(fetched_at)
                .min(fetched_at),
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

/// `base64(id:secret)` for HTTP basic auth.
fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
}

impl Poller for RedditSource {
    fn poll<'a>(
        &'a self,
        crawler: &'a Crawler,
        checkpoint: &'a str,
    ) -> BoxFuture<'a, Result<Poll, FetchError>> {
        Box::pin(async move {
            let state: Checkpoint = serde_json::from_str(checkpoint).unwrap_or_default();
            let bearer = self.bearer(crawler).await?;
            let url = self.search_url(state.newest.as_deref())?;
            let extra: [(HeaderName, String); 1] = [(header::USER_AGENT, self.user_agent.clone())];
            let answer =
                get_json::<Listing>(crawler, self.allow_private, &url, Some(&bearer), &extra).await;
            let (listing, headers) = match answer {
                Err(e @ FetchError::Status { status: 401, .. }) => {
                    // The token was revoked or expired early: the next poll gets a new one.
                    *self.token.lock().await = None;
                    return Err(e);
                }
                other => other?,
            };
            let now = Utc::now();
            let posts: Vec<&Post> = listing.data.children.iter().map(|c| &c.data).collect();
            let mut poll = Poll {
                wait_at_least: rate_limit_wait(&headers, now),
                // Newest first: a full page after a known post means more is waiting.
                more: state.newest.is_some() && posts.len() >= PAGE,
                ..Poll::default()
            };
            if let Some(newest) = posts.first() {
                poll.checkpoint = serde_json::to_string(&Checkpoint {
                    newest: Some(newest.name.clone()),
                })
                .ok();
            }
            poll.mentions = posts.iter().map(|p| self.mention(p, now)).collect();
            Ok(poll)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::basic;

    #[test]
    fn basic_auth_is_base64_of_id_and_secret() {
        assert_eq!(
            basic("Aladdin", "open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic("a", "b"), "YTpi");
        assert_eq!(basic("ab", "c"), "YWI6Yw==");
    }
}
