//! What the API sources share: a JSON GET with the guard, throttle and error shapes of
//! every fetch, and reading rate-limit headers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderName};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::FetchError;
use crate::source::Crawler;

/// GETs `url` as JSON into `T`, after the host's turn (APIs are not asked robots.txt:
/// their published rate limits apply). Returns the value and the response headers.
pub(crate) async fn get_json<T: DeserializeOwned>(
    crawler: &Crawler,
    allow_private: bool,
    url: &Url,
    token: Option<&str>,
    extra: &[(HeaderName, String)],
) -> Result<(T, HeaderMap), FetchError> {
    let http = crawler.http(allow_private);
    crawler.before_request(http, url, false).await?;
    let mut headers: Vec<(HeaderName, String)> =
        vec![(header::ACCEPT, "application/json".to_owned())];
    headers.extend_from_slice(extra);
    if let Some(token) = token {
        headers.push((header::AUTHORIZATION, format!("Bearer {token}")));
    }
    let answer = http.get_api(url, &headers).await?;
    let value = serde_json::from_slice(&answer.body).map_err(|e| FetchError::Parse {
        url: url.to_string(),
        line: e.line(),
        col: e.column(),
        msg: format!("unexpected JSON: {e}"),
    })?;
    Ok((value, answer.headers))
}

/// `path` under an API's `base`; an error names the base.
pub(crate) fn endpoint(base: &Url, path: &str) -> Result<Url, FetchError> {
    base.join(path).map_err(|e| FetchError::Transport {
        url: base.to_string(),
        detail: e.to_string(),
    })
}

/// How long to wait before the next request when the rate limit is nearly used up
/// (under 10 % remaining): until its reset. Reads `X-RateLimit-{Limit,Remaining,Reset}`
/// (Mastodon: the reset is a time stamp) and `X-Ratelimit-{Used,Remaining,Reset}`
/// (Reddit: seconds). `None` while there is room.
pub(crate) fn rate_limit_wait(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let remaining: f64 = get("x-ratelimit-remaining")?.parse().ok()?;
    let limit: f64 = match get("x-ratelimit-limit").and_then(|l| l.parse().ok()) {
        Some(l) => l,
        None => remaining + get("x-ratelimit-used")?.parse::<f64>().ok()?,
    };
    if limit <= 0.0 || remaining / limit >= 0.1 {
        return None;
    }
    let reset = get("x-ratelimit-reset")?;
    if let Ok(secs) = reset.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    let at = DateTime::parse_from_rfc3339(reset).ok()?;
    (at.with_timezone(&Utc) - now).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn waits_for_the_reset_only_when_the_limit_is_nearly_used() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from_static("300"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("100"));
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2026-12-01T10:05:00.000Z"),
        );
        assert_eq!(rate_limit_wait(&h, now), None);
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("3"));
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(300)));
        let mut reddit = HeaderMap::new();
        reddit.insert("x-ratelimit-used", HeaderValue::from_static("95"));
        reddit.insert("x-ratelimit-remaining", HeaderValue::from_static("5.0"));
        reddit.insert("x-ratelimit-reset", HeaderValue::from_static("42"));
        assert_eq!(rate_limit_wait(&reddit, now), Some(Duration::from_secs(42)));
    }
}
