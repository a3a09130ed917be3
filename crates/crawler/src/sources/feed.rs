//! RSS, Atom and JSON Feed sources, polled with conditional GET.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::FetchError;
use crate::feed::{FeedContext, parse_feed};
use crate::http::{Fetched, Validators};
use crate::source::{BoxFuture, Crawler, Poll, Poller};

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
    /// Whether robots.txt is asked first: true for feeds on web sites; false for feeds
    /// an API publishes for feed readers (Reddit's search feed), whose own terms apply.
    pub robots: bool,
}

impl Poller for FeedSource {
    /// Polls the feed once: robots.txt, host throttle, conditional GET, parse.
    ///
    /// Parsing runs on the blocking pool: a feed of hundreds of entries takes
    /// milliseconds, far beyond what an async task may block.
    fn poll<'a>(
        &'a self,
        crawler: &'a Crawler,
        checkpoint: &'a str,
    ) -> BoxFuture<'a, Result<Poll, FetchError>> {
        Box::pin(async move {
            let cursor = Cursor::decode(checkpoint, &self.url);
            let http = crawler.http(self.allow_private);
            let url = cursor.moved_to.as_ref().unwrap_or(&self.url);
            crawler.before_request(http, url, self.robots).await?;
            let answer = match http.get(url, &cursor.validators).await? {
                Fetched::NotModified => return Ok(Poll::default()),
                Fetched::Body(answer) => *answer,
            };
            if let Some(to) = &answer.moved_to {
                tracing::warn!(source = %self.id, from = %url, to = %to, "feed moved permanently; polling the new URL from now on");
            }
            let body_hash = lauscher_text::fingerprint::hash64(&answer.body);
            if cursor.body_hash == Some(body_hash) && answer.moved_to.is_none() {
                return Ok(Poll::default());
            }
            let source = self.id.clone();
            let language = self.language.clone();
            let (body, charset, final_url) = (answer.body, answer.charset, answer.final_url);
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
            let moved_to = answer.moved_to;
            let next = Cursor {
                validators: answer.validators,
                body_hash: Some(body_hash),
                moved_from: moved_to
                    .is_some()
                    .then(|| self.url.clone())
                    .or_else(|| cursor.moved_from.clone()),
                moved_to: moved_to.or_else(|| cursor.moved_to.clone()),
            };
            Ok(Poll {
                mentions: parsed.mentions,
                checkpoint: Some(next.encode()),
                recovered_from: parsed.recovered_from,
                wait_at_least: parsed
                    .ttl_minutes
                    .map(|m| std::time::Duration::from_secs(u64::from(m) * 60)),
                more: false,
            })
        })
    }
}
