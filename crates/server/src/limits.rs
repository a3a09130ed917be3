//! What one client may ask of the API: bodies, query strings, requests in flight, time.
//!
//! The API listens on loopback by default, but a reverse proxy may expose it, and even a
//! local script can misbehave. Every route therefore runs behind the same limits:
//!
//! | limit | value | answer past it |
//! |---|---|---|
//! | request body | 64 KiB | 413 |
//! | query string | 4 KiB | 414 |
//! | requests handled at once | 64 | 503 with `Retry-After: 1`, at once (no queue) |
//! | time per request, body included | 30 s | 503 |
//! | time to send the request headers | 10 s | connection closed |
//! | open connections | 512 | the next one waits to be accepted |
//!
//! Decision: a full server answers 503 at once rather than queueing, so a client that
//! floods it learns immediately, and `/healthz` and `/metrics` stay reachable as soon
//! as one request finishes. A request cut off by its timeout stops its async part; work
//! already handed to the blocking pool (a search) runs to its end.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

/// The API's limits (see the module docs for what each does).
#[derive(Clone, Debug)]
pub struct ApiLimits {
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// Largest body of a push (`POST /api/v1/ingest`), which carries mentions in bulk.
    pub max_push_body: usize,
    /// Longest query string, in bytes.
    pub max_query: usize,
    /// Requests handled at once.
    pub max_in_flight: usize,
    /// Time one request may take, its body included.
    pub request_timeout: Duration,
    /// Time a client has to send the request headers.
    pub header_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            max_body: 64 << 10,
            max_push_body: 8 << 20,
            max_query: 4 << 10,
            max_in_flight: 64,
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            max_connections: 512,
        }
    }
}

/// The limits with the permits of requests in flight.
#[derive(Clone)]
pub(crate) struct Admission {
    limits: ApiLimits,
    in_flight: Arc<Semaphore>,
}

impl Admission {
    pub(crate) fn new(limits: ApiLimits) -> Self {
        Admission {
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight)),
            limits,
        }
    }
}

/// Middleware: refuses long query strings and requests past the in-flight limit, and
/// cuts requests off at the timeout.
pub(crate) async fn admit(State(a): State<Admission>, req: Request, next: Next) -> Response {
    if req
        .uri()
        .query()
        .is_some_and(|q| q.len() > a.limits.max_query)
    {
        return crate::error(
            StatusCode::URI_TOO_LONG,
            format!("query string longer than {} bytes", a.limits.max_query),
        );
    }
    // A declared length is refused before any handler runs; a streamed body is capped
    // by axum's `DefaultBodyLimit` where a handler reads it.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let max_body = if req.uri().path() == crate::PUSH_PATH {
        a.limits.max_push_body
    } else {
        a.limits.max_body
    };
    if declared.is_some_and(|n| n > max_body as u64) {
        return crate::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {max_body} bytes"),
        );
    }
    let Ok(_permit) = a.in_flight.clone().try_acquire_owned() else {
        let mut busy = crate::error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "busy: {} requests in flight, try again",
                a.limits.max_in_flight
            ),
        );
        busy.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return busy;
    };
    match tokio::time::timeout(a.limits.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => crate::error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "request took longer than {} s",
                a.limits.request_timeout.as_secs()
            ),
        )
        .into_response(),
    }
}
