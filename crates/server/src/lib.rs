//! The HTTP API.
//!
//! | route | |
//! |---|---|
//! | `GET /api/v1/search` | `q`, `since`, `until`, `topic`, `lang`, `source`, `label`, `limit`, `offset`; newest first |
//! | `GET /api/v1/mentions/{id}` | one mention with its sentiment explanation |
//! | `GET /healthz` | the process is up |
//! | `GET /readyz` | the index is open and sources are scheduled (503 before) |
//! | `GET /metrics` | Prometheus text format |
//!
//! Errors are JSON `{"error": "..."}` with 400 for bad parameters, 404 for unknown ids
//! and 500 for index failures. Searches run on the blocking pool.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use lauscher_index::{MentionIndex, SearchRequest, parse_time};
use lauscher_model::MentionId;
use lauscher_telemetry::METRICS;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The mention index.
    pub index: Arc<MentionIndex>,
    /// Set once the daemon is ready to serve.
    pub ready: Arc<AtomicBool>,
}

/// Search parameters, as in the CLI.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Query text.
    #[serde(default)]
    pub q: String,
    /// Age (`7d`), RFC 3339 time or date.
    pub since: Option<String>,
    /// Age, RFC 3339 time or date.
    pub until: Option<String>,
    /// Topic id.
    pub topic: Option<String>,
    /// Language code.
    pub lang: Option<String>,
    /// Source id.
    pub source: Option<String>,
    /// Sentiment label.
    pub label: Option<String>,
    /// Page size (default 20, at most 1000).
    pub limit: Option<usize>,
    /// Hits to skip.
    pub offset: Option<usize>,
}

impl SearchParams {
    /// Validates the parameters into a request.
    pub fn into_request(self) -> Result<SearchRequest, String> {
        let now = Utc::now();
        let since = self
            .since
            .as_deref()
            .map(|s| parse_time(s, now))
            .transpose()?;
        let until = self
            .until
            .as_deref()
            .map(|s| parse_time(s, now))
            .transpose()?;
        if let Some(l) = &self.label
            && !matches!(l.as_str(), "negative" | "neutral" | "positive")
        {
            return Err(format!(
                "invalid label {l:?}: expected negative, neutral or positive"
            ));
        }
        Ok(SearchRequest {
            query: self.q,
            since,
            until,
            topic: self.topic,
            lang: self.lang,
            source: self.source,
            label: self.label,
            limit: self.limit.unwrap_or(20).clamp(1, 1000),
            offset: self.offset.unwrap_or(0),
        })
    }
}

/// Builds the router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/search", get(search))
        .route("/api/v1/mentions/{id}", get(mention))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Binds `addr`; returns the listener and the address actually bound (port 0 picks one).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves the API on `listener` until `cancel` fires.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": msg.into() })),
    )
        .into_response()
}

async fn search(
    State(state): State<ApiState>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let req = match params.into_request() {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let index = state.index.clone();
    match tokio::task::spawn_blocking(move || index.search(&req)).await {
        Ok(Ok(page)) => axum::Json(page).into_response(),
        Ok(Err(e @ lauscher_index::IndexError::Query { .. })) => {
            error(StatusCode::BAD_REQUEST, e.to_string())
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn mention(State(state): State<ApiState>, Path(id): Path<String>) -> Response {
    let id: MentionId = match id.parse() {
        Ok(id) => id,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("{e}")),
    };
    let index = state.index.clone();
    match tokio::task::spawn_blocking(move || index.get(id)).await {
        Ok(Ok(Some(m))) => axum::Json(m).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no mention {id}")),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn ready(State(state): State<ApiState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    }
}

async fn metrics() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        METRICS.render(),
    )
        .into_response()
}
