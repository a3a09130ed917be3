//! Sources: things that can be polled for new mentions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use lauscher_model::Mention;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::FetchError;
use crate::feed::{FeedContext, parse_feed};
use crate::http::{Fetched, HttpFetcher, Validators};
use crate::robots::RobotsCache;
use crate::throttle::HostThrottle;

/// What a feed source remembers between polls; stored in the state store as its
/// checkpoint ([`Cursor::encode`]) and advanced only after the mentions of the poll that
/// produced it are committed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cursor {
    /// HTTP cache validators.
    #[serde(flatten)]
    pub validators: Validators,
    /// xxh3 of the last body, for servers that ignore validators (16 hex digits).
    #[serde(with = "hex_hash")]
    pub body_hash: Option<u64>,
    /// Where the feed moved for good (every redirect on the way was 301 or 308): it is
    /// polled there from then on, and the move is logged once.
    pub moved_to: Option<Url>,
    /// The configured URL the move was seen from: when the operator changes the URL in
    /// the config, the old move no longer applies.
    pub moved_from: Option<Url>,
}

impl Cursor {
    /// The checkpoint text stored for this cursor (JSON).
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored checkpoint; one that does not parse (written by a future version,
    /// or damaged) starts afresh: the next poll fetches the whole feed and dedupe drops
    /// what is already indexed.
    /// A move recorded for another configured URL is forgotten.
    pub fn decode(checkpoint: &str, configured: &Url) -> Cursor {
        let mut cursor: Cursor = serde_json::from_str(checkpoint).unwrap_or_default();
        if cursor.moved_from.as_ref() != Some(configured) {
            cursor.moved_to = None;
            cursor.moved_from = None;
        }
        cursor
    }
}

/// A body hash as 16 hex digits (JSON numbers lose bits above 2^53 in many readers).
mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match h {
            Some(h) => s.serialize_str(&format!("{h:016x}")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        Ok(text.and_then(|t| u64::from_str_radix(&t, 16).ok()))
    }
}

/// The result of one successful poll.
#[derive(Debug)]
pub enum Poll {
    /// Nothing new (304, or the same body as last time).
    NotModified,
    /// New content.
    Fetched {
        /// The mentions in it (duplicates of earlier polls included; dedupe drops them).
        mentions: Vec<Mention>,
        /// The cursor to store once these mentions are committed.
        cursor: Cursor,
        /// The error a malformed document was recovered from.
        recovered_from: Option<FetchError>,
        /// The feed's `<ttl>` in minutes.
        ttl_minutes: Option<u32>,
    },
}

/// Shared crawling machinery: the HTTP client, robots.txt cache and host throttle.
pub struct Crawler {
    /// The HTTP client of sources that reach public addresses only.
    pub http: HttpFetcher,
    /// The HTTP client of sources with `allow_private`; `None` when no source has it.
    pub private_http: Option<HttpFetcher>,
    /// robots.txt answers; `None` when robots are disabled in the config.
    pub robots: Option<RobotsCache>,
    /// Per-host request spacing.
    pub throttle: HostThrottle,
    /// Least time between requests to one host.
    pub host_interval: Duration,
}

/// An RSS, Atom or JSON Feed URL polled with conditional GET.
pub struct FeedSource {
    /// The source id.
    pub id: String,
    /// The feed URL.
    pub url: Url,
    /// The configured language, which beats the feed's.
    pub language: Option<String>,
    /// Whether it may reach private addresses (see [`crate::address`]).
    pub allow_private: bool,
}

impl FeedSource {
    /// Polls the feed once: robots.txt, host throttle, conditional GET, parse.
    ///
    /// Parsing runs on the blocking pool: a feed of hundreds of entries takes
    /// milliseconds, far beyond what an async task may block.
    pub async fn poll(
        &self,
        crawler: &Arc<Crawler>,
        cursor: &Cursor,
    ) -> Result<(Poll, Duration), FetchError> {
        let http = match (&crawler.private_http, self.allow_private) {
            (Some(open), true) => open,
            _ => &crawler.http,
        };
        let url = cursor.moved_to.as_ref().unwrap_or(&self.url);
        let mut interval = crawler.host_interval;
        if let Some(robots) = &crawler.robots {
            // A refused origin is reported at the feed's URL, not its robots.txt.
            let verdict = robots.check(http, &url).await.map_err(|e| match e {
                FetchError::PrivateAddress { detail, .. } => FetchError::PrivateAddress {
                    url: url.to_string(),
                    detail,
                },
                other => other,
            })?;
            if !verdict.allowed {
                return Err(FetchError::Disallowed {
                    url: url.to_string(),
                });
            }
            interval = interval.max(verdict.crawl_delay.unwrap_or_default());
        }
        crawler
            .throttle
            .wait(url.host_str().unwrap_or_default(), interval)
            .await;
        let started = Instant::now();
        let fetched = http.get(&url, &cursor.validators).await?;
        let elapsed = started.elapsed();
        let (body, charset, validators, final_url, moved_to) = match fetched {
            Fetched::NotModified => return Ok((Poll::NotModified, elapsed)),
            Fetched::Body {
                body,
                charset,
                validators,
                final_url,
                moved_to,
            } => (body, charset, validators, final_url, moved_to),
        };
        if let Some(to) = &moved_to {
            tracing::warn!(source = %self.id, from = %url, to = %to, "feed moved permanently; polling the new URL from now on");
        }
        let body_hash = lauscher_text::fingerprint::hash64(&body);
        if cursor.body_hash == Some(body_hash) && moved_to.is_none() {
            return Ok((Poll::NotModified, elapsed));
        }
        let source = self.id.clone();
        let language = self.language.clone();
        let parsed = tokio::task::spawn_blocking(move || {
            let cx = FeedContext {
                source: &source,
                url: &final_url,
                language: language.as_deref(),
                fetched_at: Utc::now(),
            };
            parse_feed(&body, charset.as_deref(), &cx)
        })
        .await
        .map_err(|e| FetchError::Transport {
            url: url.to_string(),
            detail: format!("parser task failed: {e}"),
        })??;
        Ok((
            Poll::Fetched {
                mentions: parsed.mentions,
                cursor: Cursor {
                    validators,
                    body_hash: Some(body_hash),
                    moved_from: moved_to
                        .is_some()
                        .then(|| self.url.clone())
                        .or_else(|| cursor.moved_from.clone()),
                    moved_to: moved_to.or_else(|| cursor.moved_to.clone()),
                },
                recovered_from: parsed.recovered_from,
                ttl_minutes: parsed.ttl_minutes,
            },
            elapsed,
        ))
    }
}
