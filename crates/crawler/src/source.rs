//! Sources: things that can be polled for new mentions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use lauscher_model::Mention;
use url::Url;

use crate::error::FetchError;
use crate::feed::{FeedContext, parse_feed};
use crate::http::{Fetched, HttpFetcher, Validators};
use crate::robots::RobotsCache;
use crate::throttle::HostThrottle;

/// What a pull source remembers between polls; stored in the state store and advanced
/// only after the mentions of the poll that produced it are committed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// HTTP cache validators.
    pub validators: Validators,
    /// xxh3 of the last body, for servers that ignore validators.
    pub body_hash: Option<u64>,
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
        /// Entries dropped as unusable (no title and no text).
        skipped: usize,
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
        let mut interval = crawler.host_interval;
        if let Some(robots) = &crawler.robots {
            // A refused origin is reported at the feed's URL, not its robots.txt.
            let verdict = robots.check(http, &self.url).await.map_err(|e| match e {
                FetchError::PrivateAddress { detail, .. } => FetchError::PrivateAddress {
                    url: self.url.to_string(),
                    detail,
                },
                other => other,
            })?;
            if !verdict.allowed {
                return Err(FetchError::Disallowed {
                    url: self.url.to_string(),
                });
            }
            interval = interval.max(verdict.crawl_delay.unwrap_or_default());
        }
        crawler
            .throttle
            .wait(self.url.host_str().unwrap_or_default(), interval)
            .await;
        let started = Instant::now();
        let fetched = http.get(&self.url, &cursor.validators).await?;
        let elapsed = started.elapsed();
        let (body, charset, validators, final_url) = match fetched {
            Fetched::NotModified => return Ok((Poll::NotModified, elapsed)),
            Fetched::Body {
                body,
                charset,
                validators,
                final_url,
            } => (body, charset, validators, final_url),
        };
        let body_hash = lauscher_text::fingerprint::hash64(&body);
        if cursor.body_hash == Some(body_hash) {
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
            url: self.url.to_string(),
            detail: format!("parser task failed: {e}"),
        })??;
        Ok((
            Poll::Fetched {
                mentions: parsed.mentions,
                cursor: Cursor {
                    validators,
                    body_hash: Some(body_hash),
                },
                skipped: parsed.skipped,
                recovered_from: parsed.recovered_from,
                ttl_minutes: parsed.ttl_minutes,
            },
            elapsed,
        ))
    }
}
