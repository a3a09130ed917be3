//! YouTube: a channel's videos from its feed (no key) and, with the operator's API key,
//! the comments on them from the Data API.
//!
//! The feed lists the channel's 15 newest videos. With a key, each video younger than
//! 14 days has its comment threads read newest first
//! (`commentThreads?part=snippet&videoId=&order=time&maxResults=100`), down to the
//! newest comment read before. Every call costs one unit of the key's daily quota
//! (10,000, failed calls too): units are counted here, per Pacific day as Google
//! counts them, and comments are no longer read past 95 %. A `quotaExceeded` answer
//! (the key is shared with something else) pauses comments until midnight Pacific
//! Time; `commentsDisabled` skips the video. The key travels in the `X-Goog-Api-Key`
//! header, never in a URL that an error or a log could show.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;
use lauscher_model::{Author, Mention};
use reqwest::header::HeaderName;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::canonical::{canonical_url, mention_id};
use crate::error::FetchError;
use crate::source::{BoxFuture, Crawler, Poll, Poller};
use crate::sources::api::endpoint;
use crate::sources::feed::FeedSource;

/// Units a key has per day.
pub const DAILY_UNITS: u32 = 10_000;
/// Units used before comments stop for the day (95 %).
pub const STOP_AT: u32 = DAILY_UNITS * 95 / 100;
/// Videos older than this are no longer read for comments.
const MAX_AGE_DAYS: i64 = 14;

/// A YouTube channel source.
pub struct YouTubeSource {
    /// The source id.
    pub id: String,
    /// The channel's feed.
    pub feed: FeedSource,
    /// The Data API base, `https://www.googleapis.com/`.
    pub api: Url,
    /// The operator's API key; without it only videos are read.
    pub api_key: Option<String>,
    /// Whether it may reach private addresses.
    pub allow_private: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    /// The channel feed's own checkpoint.
    #[serde(default)]
    feed: String,
    /// Videos to read comments of: id → when published.
    #[serde(default)]
    videos: BTreeMap<String, DateTime<Utc>>,
    /// Per video, the newest comment read.
    #[serde(default)]
    newest_comment: BTreeMap<String, DateTime<Utc>>,
    /// The Pacific day the units were counted on, and how many.
    #[serde(default)]
    day: Option<NaiveDate>,
    #[serde(default)]
    units: u32,
    /// No comments before this (after `quotaExceeded`).
    #[serde(default)]
    paused_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct Threads {
    #[serde(default)]
    items: Vec<Thread>,
}

#[derive(Debug, Deserialize)]
struct Thread {
    id: String,
    snippet: ThreadSnippet,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadSnippet {
    top_level_comment: TopLevel,
}

#[derive(Debug, Deserialize)]
struct TopLevel {
    snippet: Comment,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Comment {
    #[serde(default)]
    text_original: Option<String>,
    #[serde(default)]
    text_display: String,
    #[serde(default)]
    author_display_name: String,
    published_at: DateTime<Utc>,
}

#[derive(Debug, Default, Deserialize)]
struct ApiError {
    #[serde(default)]
    error: ApiErrorBody,
}

#[derive(Debug, Default, Deserialize)]
struct ApiErrorBody {
    #[serde(default)]
    errors: Vec<ApiErrorReason>,
}

#[derive(Debug, Default, Deserialize)]
struct ApiErrorReason {
    #[serde(default)]
    reason: String,
}

/// The next midnight in Pacific Time after `now`, when Google resets quotas.
fn next_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now.with_timezone(&Los_Angeles).date_naive();
    let tomorrow = today + ChronoDuration::days(1);
    Los_Angeles
        .from_local_datetime(&tomorrow.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or(now + ChronoDuration::hours(24), |t| t.with_timezone(&Utc))
}

/// The id of a video from its watch URL.
fn video_id(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "v")
        .map(|(_, v)| v.into_owned())
}

impl YouTubeSource {
    fn threads_url(&self, video: &str) -> Result<Url, FetchError> {
        let mut url = endpoint(&self.api, "youtube/v3/commentThreads")?;
        url.query_pairs_mut()
            .append_pair("part", "snippet")
            .append_pair("videoId", video)
            .append_pair("order", "time")
            .append_pair("maxResults", "100")
            .append_pair("textFormat", "plainText");
        Ok(url)
    }

    fn comment(&self, video: &str, thread: &Thread, fetched_at: DateTime<Utc>) -> Mention {
        let c = &thread.snippet.top_level_comment.snippet;
        let url = canonical_url(
            &format!("https://www.youtube.com/watch?v={video}&lc={}", thread.id),
            None,
        );
        let text = c
            .text_original
            .clone()
            .unwrap_or_else(|| c.text_display.clone());
        Mention {
            id: mention_id(&self.id, url.as_ref(), Some(&thread.id), || {
                lauscher_text::Fingerprint::of(&text).content_hash
            }),
            source: self.id.clone(),
            url: url.map(String::from),
            author: Some(Author {
                name: c.author_display_name.clone(),
                reach: None,
            }),
            published_at: c.published_at.min(fetched_at),
            fetched_at,
            title: None,
            text,
            lang_hint: self.feed.language.clone(),
            address: None,
            repost_of: None,
            // A comment answers its video.
            reply_to: canonical_url(&format!("https://www.youtube.com/watch?v={video}"), None)
                .map(String::from),
        }
    }

    /// Reads new comments of the videos in `state` while the quota allows.
    async fn comments(
        &self,
        crawler: &Crawler,
        key: &str,
        state: &mut Checkpoint,
        now: DateTime<Utc>,
        out: &mut Vec<Mention>,
    ) -> Result<(), FetchError> {
        let today = now.with_timezone(&Los_Angeles).date_naive();
        if state.day != Some(today) {
            state.day = Some(today);
            state.units = 0;
        }
        if state.paused_until.is_some_and(|p| now < p) {
            return Ok(());
        }
        state.paused_until = None;
        state
            .videos
            .retain(|_, published| now - *published <= ChronoDuration::days(MAX_AGE_DAYS));
        let http = crawler.http(self.allow_private);
        let headers: [(HeaderName, String); 1] =
            [(HeaderName::from_static("x-goog-api-key"), key.to_owned())];
        let videos: Vec<String> = state.videos.keys().cloned().collect();
        for video in videos {
            if state.units >= STOP_AT {
                tracing::warn!(source = %self.id, units = state.units, "YouTube quota at 95 %: comments resume after midnight Pacific Time");
                break;
            }
            let url = self.threads_url(&video)?;
            crawler.before_request(http, &url, false).await?;
            state.units += 1;
            let answer = http.get_api_answer(&url, &headers).await?;
            if answer.status != 200 {
                let reason = serde_json::from_slice::<ApiError>(&answer.body)
                    .unwrap_or_default()
                    .error
                    .errors
                    .into_iter()
                    .map(|e| e.reason)
                    .next()
                    .unwrap_or_default();
                match reason.as_str() {
                    "quotaExceeded" | "dailyLimitExceeded" => {
                        state.paused_until = Some(next_reset(now));
                        tracing::warn!(source = %self.id, "YouTube quota exceeded: comments paused until midnight Pacific Time");
                        return Ok(());
                    }
                    "commentsDisabled" | "videoNotFound" => {
                        state.videos.remove(&video);
                        continue;
                    }
                    _ => {
                        return Err(FetchError::Status {
                            url: url.to_string(),
                            status: answer.status,
                            retry_after: None,
                        });
                    }
                }
            }
            let threads: Threads =
                serde_json::from_slice(&answer.body).map_err(|e| FetchError::Parse {
                    url: url.to_string(),
                    line: e.line(),
                    col: e.column(),
                    msg: format!("unexpected JSON: {e}"),
                })?;
            let known = state.newest_comment.get(&video).copied();
            for thread in &threads.items {
                let at = thread.snippet.top_level_comment.snippet.published_at;
                if known.is_some_and(|k| at <= k) {
                    continue;
                }
                out.push(self.comment(&video, thread, now));
                let newest = state.newest_comment.entry(video.clone()).or_insert(at);
                *newest = (*newest).max(at);
            }
        }
        Ok(())
    }
}

impl Poller for YouTubeSource {
    fn poll<'a>(
        &'a self,
        crawler: &'a Crawler,
        checkpoint: &'a str,
    ) -> BoxFuture<'a, Result<Poll, FetchError>> {
        Box::pin(async move {
            let mut state: Checkpoint = serde_json::from_str(checkpoint).unwrap_or_default();
            let mut poll = self.feed.poll(crawler, &state.feed).await?;
            let now = Utc::now();
            let mut changed = poll.checkpoint.is_some();
            if let Some(feed) = poll.checkpoint.take() {
                state.feed = feed;
            }
            for m in &poll.mentions {
                if let Some(v) = m.url.as_deref().and_then(video_id) {
                    state.videos.insert(v, m.published_at);
                }
            }
            if let Some(key) = &self.api_key {
                let before = (state.units, poll.mentions.len());
                self.comments(crawler, key, &mut state, now, &mut poll.mentions)
                    .await?;
                changed |= (state.units, poll.mentions.len()) != before;
            }
            if changed {
                poll.checkpoint = serde_json::to_string(&state).ok();
            }
            Ok(poll)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_reset_at_midnight_pacific_time_across_dst() {
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default()
        };
        // Winter: PST is UTC-8.
        assert_eq!(
            next_reset(at("2026-12-06T10:00:00Z")),
            at("2026-12-07T08:00:00Z")
        );
        // Summer: PDT is UTC-7.
        assert_eq!(
            next_reset(at("2026-07-01T10:00:00Z")),
            at("2026-07-02T07:00:00Z")
        );
    }
}
