//! Why a fetch or a parse failed, with the place it failed at.

use std::time::Duration;

/// A failed poll of a source. Every variant names the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connecting, TLS, or the transfer failed.
    #[error("{url}: request failed: {detail}")]
    Transport {
        /// The URL.
        url: String,
        /// The transport error, with its causes.
        detail: String,
    },
    /// The request took longer than the configured timeout.
    #[error("{url}: timed out")]
    Timeout {
        /// The URL.
        url: String,
    },
    /// More redirects than allowed.
    #[error("{url}: too many redirects")]
    TooManyRedirects {
        /// The URL.
        url: String,
    },
    /// The server answered with an error status.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
    },
    /// The body (after decompression) exceeds the configured limit.
    #[error("{url}: body larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The URL, or a redirect, leads to a non-public address and the source did not opt
    /// in (`allow_private`).
    #[error("{url}: {detail}")]
    PrivateAddress {
        /// The URL.
        url: String,
        /// Which host and address were refused.
        detail: String,
    },
    /// robots.txt forbids fetching the URL.
    #[error("{url}: disallowed by robots.txt")]
    Disallowed {
        /// The URL.
        url: String,
    },
    /// The body is not a feed we could recover any entry from.
    #[error("{url}:{line}:{col}: {msg}")]
    Parse {
        /// The URL.
        url: String,
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column of the first error.
        col: usize,
        /// What was wrong.
        msg: String,
    },
}

impl FetchError {
    /// Returns a short, bounded name for metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::Transport { .. } => "transport",
            FetchError::Timeout { .. } => "timeout",
            FetchError::TooManyRedirects { .. } => "redirects",
            FetchError::Status { status, .. } => match status {
                429 => "http_429",
                400..=499 => "http_4xx",
                _ => "http_5xx",
            },
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Disallowed { .. } => "robots",
            FetchError::PrivateAddress { .. } => "private_address",
            FetchError::Parse { .. } => "parse",
        }
    }

    /// Returns the delay the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
