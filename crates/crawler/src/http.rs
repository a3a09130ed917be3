//! The HTTP client every source fetches through: limits, validators, capped bodies.

use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode, redirect};
use url::Url;

use crate::address;
use crate::error::FetchError;

/// Settings for [`HttpFetcher`].
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Sent as `User-Agent`.
    pub user_agent: String,
    /// Largest body accepted, counted after decompression (so it caps gzip bombs too).
    pub body_limit: u64,
    /// Most redirects followed.
    pub max_redirects: u8,
    /// Total time for one request including the body.
    pub timeout: Duration,
    /// Time to connect.
    pub connect_timeout: Duration,
    /// Whether requests may reach loopback, private and link-local addresses (see
    /// [`crate::address`]). False for every source that does not opt in.
    pub allow_private: bool,
}

/// The cache validators of a previous response, sent back as a conditional GET.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    /// The `ETag` header, verbatim.
    pub etag: Option<String>,
    /// The `Last-Modified` header, verbatim.
    pub last_modified: Option<String>,
}

/// A successful response.
#[derive(Debug)]
pub enum Fetched {
    /// 304: nothing changed since the validators were issued.
    NotModified,
    /// A body, with the validators to send next time.
    Body(Box<Body>),
}

/// A response body with what a source needs to know about it.
#[derive(Debug)]
pub struct Body {
    /// The body, decompressed, at most the configured limit.
    pub body: Bytes,
    /// The charset from `Content-Type`, if any.
    pub charset: Option<String>,
    /// Validators for the next request.
    pub validators: Validators,
    /// The URL after redirects.
    pub final_url: Url,
    /// Where the URL has moved for good: set when every redirect on the way was
    /// permanent (301 or 308), so the source should be polled there from now on.
    pub moved_to: Option<Url>,
    /// The response headers (rate limits, `Link` paging).
    pub headers: HeaderMap,
    /// The HTTP status (an error status only from [`HttpFetcher::get_api_answer`]).
    pub status: u16,
}

/// Fetches URLs with Lauscher's limits: a User-Agent naming the operator, connect and
/// total timeouts, a redirect limit, transparent gzip/brotli, and bodies read in chunks
/// up to a cap. Cloning is cheap (the connection pool is shared).
#[derive(Clone)]
pub struct HttpFetcher {
    client: Client,
    body_limit: u64,
    max_redirects: u8,
    allow_private: bool,
}

impl HttpFetcher {
    /// Returns a fetcher with `settings`.
    pub fn new(settings: &HttpSettings) -> Result<Self, FetchError> {
        let allow_private = settings.allow_private;
        // Redirects are followed by `get_with_limit`, which checks every hop against
        // the address guard and tells permanent moves from temporary ones.
        let mut builder = Client::builder()
            .user_agent(settings.user_agent.clone())
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .redirect(redirect::Policy::none());
        if !allow_private {
            builder = builder.dns_resolver(address::PublicResolver);
        }
        let client = builder.build().map_err(|e| FetchError::Transport {
            url: String::new(),
            detail: error_chain(&e),
        })?;
        Ok(HttpFetcher {
            client,
            body_limit: settings.body_limit,
            max_redirects: settings.max_redirects,
            allow_private,
        })
    }

    /// GETs `url`, conditionally when `validators` are given.
    ///
    /// Error statuses become [`FetchError::Status`] with the server's `Retry-After`. The
    /// body is read chunk by chunk and abandoned as soon as it passes the limit, so a
    /// 10 GiB body costs at most the limit in memory.
    pub async fn get(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        self.get_with_limit(url, validators, &[], self.body_limit, false, false)
            .await
    }

    /// GETs an API `url` with extra request headers (`Accept`, `Authorization`); the
    /// answer keeps its headers for rate limits and paging. Error statuses are errors
    /// as with [`HttpFetcher::get`].
    pub async fn get_api(
        &self,
        url: &Url,
        headers: &[(header::HeaderName, String)],
    ) -> Result<Body, FetchError> {
        self.api(url, headers, false).await
    }

    /// GETs an API `url` like [`HttpFetcher::get_api`], but answers an error status with
    /// its body too, for APIs that say why in it (YouTube's `quotaExceeded`).
    pub async fn get_api_answer(
        &self,
        url: &Url,
        headers: &[(header::HeaderName, String)],
    ) -> Result<Body, FetchError> {
        self.api(url, headers, true).await
    }

    async fn api(
        &self,
        url: &Url,
        headers: &[(header::HeaderName, String)],
        error_bodies: bool,
    ) -> Result<Body, FetchError> {
        let fetched = self
            .get_with_limit(
                url,
                &Validators::default(),
                headers,
                self.body_limit,
                false,
                error_bodies,
            )
            .await?;
        match fetched {
            Fetched::Body(body) => Ok(*body),
            Fetched::NotModified => Err(FetchError::Status {
                url: url.to_string(),
                status: 304,
                retry_after: None,
            }),
        }
    }

    /// POSTs a form to an API `url` (an OAuth token endpoint) with extra headers; no
    /// redirects are followed. The answer is read as [`HttpFetcher::get_api`] reads.
    pub async fn post_form(
        &self,
        url: &Url,
        headers: &[(header::HeaderName, String)],
        form: &[(&str, &str)],
    ) -> Result<Body, FetchError> {
        if !self.allow_private {
            address::check_url(url).map_err(|e| refused(url, &e))?;
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = self
            .client
            .post(url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let resp = req.send().await.map_err(|e| classify(url, &e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                retry_after: retry_after(resp.headers(), SystemTime::now()),
            });
        }
        let headers = resp.headers().clone();
        let final_url = resp.url().clone();
        let body = read_capped(resp, url, self.body_limit, false).await?;
        Ok(Body {
            body,
            charset: charset(&headers),
            validators: Validators::default(),
            final_url,
            moved_to: None,
            headers,
            status: status.as_u16(),
        })
    }

    /// GETs `url` and returns at most `limit` bytes of its body, ignoring the rest
    /// (robots.txt: what lies past the limit does not count).
    pub async fn get_prefix(&self, url: &Url, limit: usize) -> Result<Fetched, FetchError> {
        self.get_with_limit(url, &Validators::default(), &[], limit as u64, true, false)
            .await
    }

    /// GETs `url` with a body limit of `limit` bytes; past it, the body is an error, or
    /// with `truncate` the prefix read so far.
    async fn get_with_limit(
        &self,
        url: &Url,
        validators: &Validators,
        extra: &[(header::HeaderName, String)],
        limit: u64,
        truncate: bool,
        error_bodies: bool,
    ) -> Result<Fetched, FetchError> {
        let mut at = url.clone();
        let mut hops = 0u8;
        let mut permanent = true;
        let resp = loop {
            if !self.allow_private {
                address::check_url(&at).map_err(|e| refused(url, &e))?;
            }
            let mut req = self.client.get(at.clone());
            if let Some(etag) = &validators.etag {
                req = req.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &validators.last_modified {
                req = req.header(header::IF_MODIFIED_SINCE, lm);
            }
            for (name, value) in extra {
                req = req.header(name, value);
            }
            let resp = req.send().await.map_err(|e| classify(url, &e))?;
            let status = resp.status();
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| at.join(l).ok());
            match (status.is_redirection(), location) {
                (true, Some(next)) if status != StatusCode::NOT_MODIFIED => {
                    hops += 1;
                    if hops > self.max_redirects {
                        return Err(FetchError::TooManyRedirects {
                            url: url.to_string(),
                        });
                    }
                    permanent &= matches!(
                        status,
                        StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                    );
                    at = next;
                }
                _ => break resp,
            }
        };
        let moved_to = (hops > 0 && permanent).then(|| at.clone());
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() && !error_bodies {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                retry_after: retry_after(resp.headers(), SystemTime::now()),
            });
        }
        let final_url = resp.url().clone();
        let headers = resp.headers().clone();
        if !truncate && resp.content_length().is_some_and(|n| n > limit) && !is_compressed(&headers)
        {
            return Err(FetchError::TooLarge {
                url: url.to_string(),
                limit,
            });
        }
        let body = read_capped(resp, url, limit, truncate).await?;
        Ok(Fetched::Body(Box::new(Body {
            body,
            charset: charset(&headers),
            validators: Validators {
                etag: header_string(&headers, header::ETAG),
                last_modified: header_string(&headers, header::LAST_MODIFIED),
            },
            final_url,
            moved_to,
            headers,
            status: status.as_u16(),
        })))
    }
}

/// Reads `resp`'s body chunk by chunk, abandoning it as soon as it passes `limit` (an
/// error, or with `truncate` the prefix read so far), so a 10 GiB body costs at most
/// the limit in memory.
async fn read_capped(
    mut resp: reqwest::Response,
    url: &Url,
    limit: u64,
    truncate: bool,
) -> Result<Bytes, FetchError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(url, &e))? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            if truncate {
                let room = limit as usize - body.len();
                body.extend_from_slice(&chunk[..room]);
                break;
            }
            return Err(FetchError::TooLarge {
                url: url.to_string(),
                limit,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn is_compressed(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_ENCODING).is_some()
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn charset(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Parses `Retry-After` as seconds or as an HTTP date (relative to `now`).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v: &HeaderValue = headers.get(header::RETRY_AFTER)?;
    let s = v.to_str().ok()?.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(s).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

fn classify(url: &Url, e: &reqwest::Error) -> FetchError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(p) = c.downcast_ref::<address::PrivateAddress>() {
            return refused(url, p);
        }
        cause = c.source();
    }
    if e.is_timeout() {
        FetchError::Timeout {
            url: url.to_string(),
        }
    } else if e.is_redirect() {
        FetchError::TooManyRedirects {
            url: url.to_string(),
        }
    } else {
        FetchError::Transport {
            url: url.to_string(),
            detail: error_chain(e),
        }
    }
}

fn refused(url: &Url, e: &address::PrivateAddress) -> FetchError {
    FetchError::PrivateAddress {
        url: url.to_string(),
        detail: e.to_string(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(
            retry_after(&h, SystemTime::now()),
            Some(Duration::from_secs(120))
        );
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:27:00 GMT")
            .unwrap_or(SystemTime::UNIX_EPOCH);
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(60)));
    }
}
