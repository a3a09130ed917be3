//! Sources: where mentions come from, behind one [`Poller`] trait.
//!
//! A polling source is asked for what is new since its checkpoint and answers with
//! mentions and the checkpoint to store once they are committed. The checkpoint is
//! opaque text the source alone reads (HTTP validators for feeds, `min_id` for
//! Mastodon, a timestamp for Hacker News), stored in one table and advanced only after
//! the index commit that holds its mentions, so a crash replays instead of losing. The
//! daemon's polling loop (`lauscher_pipeline::daemon`) gives every kind the same
//! schedule, jitter, backoff and `Retry-After`; a kind is one module in
//! [`crate::sources`] and one line in [`crate::sources::poller`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use lauscher_model::Mention;

use crate::error::FetchError;
use crate::http::HttpFetcher;
use crate::robots::RobotsCache;
use crate::throttle::HostThrottle;

/// A boxed future, as trait objects return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What one poll found.
#[derive(Debug, Default)]
pub struct Poll {
    /// The mentions (duplicates of earlier polls included; dedupe drops them).
    pub mentions: Vec<Mention>,
    /// The checkpoint to store once these mentions are committed; `None` when nothing
    /// changed (a 304, the same body, an empty page), so the stored one stays.
    pub checkpoint: Option<String>,
    /// The error a malformed document was recovered from.
    pub recovered_from: Option<FetchError>,
    /// The least time before the next poll the source asks for (a feed's `<ttl>`, a
    /// rate limit nearly used up); the configured interval when longer.
    pub wait_at_least: Option<Duration>,
    /// More is waiting now (a page limit was reached): poll again without the interval.
    pub more: bool,
}

impl Poll {
    /// Whether nothing changed since the last poll.
    pub fn unchanged(&self) -> bool {
        self.checkpoint.is_none() && self.mentions.is_empty()
    }
}

/// One kind of polling source: asked for what is new since `checkpoint` (empty when
/// it was never polled). Errors name the URL; the caller backs off and reports health.
pub trait Poller: Send + Sync {
    /// Polls once.
    fn poll<'a>(
        &'a self,
        crawler: &'a Crawler,
        checkpoint: &'a str,
    ) -> BoxFuture<'a, Result<Poll, FetchError>>;
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

impl Crawler {
    /// The HTTP client for a source: the one that may reach private addresses when it
    /// opts in (and one exists), else the guarded one.
    pub fn http(&self, allow_private: bool) -> &HttpFetcher {
        match (&self.private_http, allow_private) {
            (Some(open), true) => open,
            _ => &self.http,
        }
    }

    /// Waits for robots.txt and the host's turn before a request to `url`: refuses a
    /// path robots.txt disallows (when `robots`: web resources, not APIs, whose
    /// published rate limits apply instead), and spaces requests to one host by the
    /// configured interval or the site's `Crawl-delay`, whichever is longer.
    pub async fn before_request(
        &self,
        http: &HttpFetcher,
        url: &url::Url,
        robots: bool,
    ) -> Result<(), FetchError> {
        let mut interval = self.host_interval;
        if let Some(robots) = self.robots.as_ref().filter(|_| robots) {
            // A refused origin is reported at the source's URL, not its robots.txt.
            let verdict = robots.check(http, url).await.map_err(|e| match e {
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
        self.throttle
            .wait(url.host_str().unwrap_or_default(), interval)
            .await;
        Ok(())
    }
}
