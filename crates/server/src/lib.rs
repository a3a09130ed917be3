//! The HTTP API.
//!
//! | route | |
//! |---|---|
//! | `GET /api/v1/search` | `q`, `rule`, `since`, `until`, `topic`, `lang`, `source`, `label`, `intent`, `limit`, `offset`; newest first |
//! | `GET /api/v1/rules` | the topic rules in force: id, kind, name, canonical query |
//! | `POST /api/v1/reload` | re-read the config's rule files; a broken set is rejected (422) and the old one stays |
//! | `GET /api/v1/mentions/{id}` | one mention with its sentiment explanation |
//! | `GET /healthz` | the process is up |
//! | `GET /readyz` | the index is open and sources are scheduled (503 before) |
//! | `GET /metrics` | Prometheus text format |
//! | `/api/v1/incidents`, `/api/v1/silences` | see [`incidents`] |
//! | `/api/v1/desk/...` | the service desk: see [`desk`] |
//!
//! Errors are JSON `{"error": "..."}` with 400 for bad parameters, 404 for unknown ids
//! and 500 for index failures. Searches run on the blocking pool. Every route runs
//! behind the same [`ApiLimits`] (body, query length, requests in flight, timeouts).

pub mod auth;
pub mod desk;
mod incidents;
mod limits;

pub use incidents::AlertsApi;
pub use limits::ApiLimits;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::Utc;
use lauscher_index::{MentionIndex, SearchRequest, parse_time};
use lauscher_model::MentionId;
use lauscher_pipeline::push::{PushError, PushInbox};
use lauscher_query::ActiveRules;
use lauscher_telemetry::METRICS;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Re-reads the rules and puts them in force; returns a summary, or every problem
/// found (the old rules stay in force then).
pub type Reload = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The mention index.
    pub index: Arc<MentionIndex>,
    /// Set once the daemon is ready to serve.
    pub ready: Arc<AtomicBool>,
    /// The topic rules in force (for `rule=` searches).
    pub rules: Arc<ActiveRules>,
    /// What `POST /api/v1/reload` runs.
    pub reload: Reload,
    /// Incidents and silences, when alerting is configured.
    pub alerts: Option<AlertsApi>,
    /// The service desk, when the alerting file has a `desk:` section.
    pub desk: Option<desk::DeskApi>,
    /// API tokens (from the state store); `None` in tests without one.
    pub tokens: Option<auth::Tokens>,
    /// Time zone of insight timelines when the request names none.
    pub timezone: chrono_tz::Tz,
    /// The push inbox, when push sources are configured.
    pub push: Option<Arc<PushInbox>>,
    /// The index's retention in days: insight windows reaching past it are refused.
    pub retention_days: Option<u32>,
    /// Rebuilds the index online (`POST /api/v1/index/rebuild`); `None` where no
    /// pipeline writes the index.
    pub rebuild: Option<lauscher_pipeline::reindex::Rebuilder>,
    /// Fills in the cues behind the hits' analyses (the index keeps none).
    pub explainer: lauscher_pipeline::explain::Explainer,
}

/// Where mentions are pushed.
pub const PUSH_PATH: &str = "/api/v1/ingest";

/// Search parameters, as in the CLI.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Query text.
    #[serde(default)]
    pub q: String,
    /// Topic rule id: mentions the rule matches now (retro-search).
    pub rule: Option<String>,
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
    pub label: Option<lauscher_model::Label>,
    /// Intent.
    pub intent: Option<lauscher_model::Intent>,
    /// Any of these phrases, comma-separated (stemmed keys, as the complaints view
    /// lists them: `app crash,app absturz`).
    pub phrase: Option<String>,
    /// `reposts`: leave reposts out and count them on their originals.
    pub collapse: Option<lauscher_index::Collapse>,
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
        Ok(SearchRequest {
            query: self.q,
            since,
            until,
            topic: self.topic,
            rule: self.rule,
            lang: self.lang,
            source: self.source,
            label: self.label,
            intent: self.intent,
            phrases: self
                .phrase
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            collapse: self.collapse,
            limit: self.limit.unwrap_or(20).clamp(1, 1000),
            offset: self.offset.unwrap_or(0),
        })
    }
}

/// Builds the router, every route behind `limits`.
pub fn router(state: ApiState, limits: &ApiLimits) -> Router {
    let admission = limits::Admission::new(limits.clone());
    let tokens = state.tokens.clone();
    Router::new()
        .route("/api/v1/search", get(search))
        .route("/api/v1/mentions/{id}", get(mention))
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/insights/{view}", get(insights))
        .route("/api/v1/report", get(report))
        .route("/api/v1/reload", post(reload))
        .route(
            "/api/v1/index/rebuild",
            post(start_rebuild).get(rebuild_status),
        )
        .route("/api/v1/incidents", get(incidents::list))
        .route("/api/v1/incidents/{id}", get(incidents::get))
        .route("/api/v1/incidents/{id}/ack", post(incidents::ack))
        .route("/api/v1/incidents/{id}/resolve", post(incidents::resolve))
        .route(
            "/api/v1/silences",
            get(incidents::silences).post(incidents::add_silence),
        )
        .route("/api/v1/silences/{id}", delete(incidents::expire_silence))
        .route("/api/v1/desk/items", get(desk::list))
        .route("/api/v1/desk/items/{id}", get(desk::get))
        .route("/api/v1/desk/items/{id}/{action}", post(desk::act))
        .route("/api/v1/desk/bulk", post(desk::bulk))
        .route("/api/v1/desk/handoff/{target}", post(desk::external))
        .route(
            "/api/v1/desk/authors/{author}/flag",
            post(desk::flag_author),
        )
        .route("/api/v1/desk/kpi", get(desk::kpi))
        .route("/api/v1/desk/agents", get(desk::agents))
        .route("/api/v1/desk/agents/{agent}/away", post(desk::set_away))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route(
            PUSH_PATH,
            post(ingest).layer(axum::extract::DefaultBodyLimit::max(limits.max_push_body)),
        )
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(tokens, auth::check))
        .layer(axum::middleware::from_fn_with_state(
            admission,
            limits::admit,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(limits.max_body))
}

/// Binds `addr`; returns the listener and the address actually bound (port 0 picks one).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves the API on `listener` until `cancel` fires, then lets requests in flight
/// finish for at most 5 s.
///
/// Our own accept loop rather than `axum::serve`, which sets no timer, so a client
/// could take forever to send its headers: here a connection that has not sent them
/// within `limits.header_timeout` is closed, and at most `limits.max_connections` are
/// open at once.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    limits: ApiLimits,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;

    let app = router(state, &limits);
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    loop {
        let permit = tokio::select! {
            () = cancel.cancelled() => break,
            p = connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "api accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let service = TowerToHyperService::new(app.clone());
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}

/// `POST /api/v1/ingest`: one mention as JSON or many as NDJSON, for a push source's
/// bearer token; 202 with what became of them once they are committed.
async fn ingest(
    State(s): State<ApiState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(inbox) = &s.push else {
        return error(StatusCode::NOT_FOUND, "no push source is configured");
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match inbox
        .push(
            header("authorization"),
            header("x-lauscher-signature"),
            &body,
        )
        .await
    {
        Ok(report) => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({
                "indexed": report.indexed,
                "duplicates": report.duplicates,
                "unmatched": report.unmatched,
            })),
        )
            .into_response(),
        Err(e @ (PushError::Unauthorized | PushError::BadSignature)) => {
            let mut r = error(StatusCode::UNAUTHORIZED, e.to_string());
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            r
        }
        Err(e @ (PushError::Malformed { .. } | PushError::Size(_))) => {
            error(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(e @ PushError::Closed) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
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
    let rules = state.rules.get();
    let explainer = state.explainer.clone();
    let run = move || {
        let mut page = index.search(&req, Some(&rules))?;
        explainer.explain_page(&mut page, &rules);
        Ok::<_, lauscher_index::IndexError>(page)
    };
    match tokio::task::spawn_blocking(run).await {
        Ok(Ok(page)) => axum::Json(page).into_response(),
        Ok(Err(
            e @ (lauscher_index::IndexError::Query { .. }
            | lauscher_index::IndexError::UnknownRule(_)),
        )) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /api/v1/insights/{timeline,share-of-voice,top}` with the search filters plus
/// `interval`, `tz` and `n`: the same computation as `lauscher insights`.
async fn insights(
    State(state): State<ApiState>,
    Path(view): Path<String>,
    params: Result<Query<lauscher_insights::Params>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = match params {
        Ok(Query(p)) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let view: lauscher_insights::View = match view.parse() {
        Ok(v) => v,
        Err(e) => return error(StatusCode::NOT_FOUND, e.to_string()),
    };
    let index = state.index.clone();
    let rules = state.rules.get();
    let settings = (state.timezone, state.retention_days);
    let run = move || lauscher_insights::run(view, &index, &rules, &params, settings, Utc::now());
    match tokio::task::spawn_blocking(run).await {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(e)) if e.is_bad_request() => error(StatusCode::BAD_REQUEST, e.to_string()),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Parameters of `GET /api/v1/report`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// ISO week (`2026-W47`); default the last complete week.
    pub week: Option<String>,
    /// A day (`2026-11-22`) instead of a week.
    pub day: Option<String>,
    /// `md` (default, or `markdown`) or `html`.
    pub format: Option<lauscher_insights::Format>,
    /// `de` or `en` (default).
    pub lang: Option<lauscher_config::ReportLanguage>,
    /// Time zone; default the configured one.
    pub tz: Option<lauscher_config::TimeZone>,
}

/// `GET /api/v1/report`: the digest `lauscher report` writes, what digest links open.
async fn report(
    State(state): State<ApiState>,
    params: Result<Query<ReportParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    use lauscher_insights::{Format, Period, Week};
    let p = match params {
        Ok(Query(p)) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let tz = p.tz.map_or(state.timezone, |t| t.0);
    let format = p.format.unwrap_or(Format::Markdown);
    let ctype = format.content_type();
    let lang = p.lang.unwrap_or_default();
    let period = match (&p.week, &p.day) {
        (Some(w), None) => match w.parse::<Week>() {
            Ok(w) => Period::Week(w),
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        },
        (None, Some(d)) => match d.parse::<chrono::NaiveDate>() {
            Ok(d) => Period::Day(d),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("invalid day {d:?}: expected YYYY-MM-DD"),
                );
            }
        },
        (None, None) => Period::last_complete(false, Utc::now(), tz),
        (Some(_), Some(_)) => return error(StatusCode::BAD_REQUEST, "give week or day, not both"),
    };
    let index = state.index.clone();
    let rules = state.rules.get();
    let run = move || lauscher_insights::report(&index, &rules, period, tz, format, lang);
    match tokio::task::spawn_blocking(run).await {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, ctype)], text).into_response(),
        Ok(Err(e)) if e.is_bad_request() => error(StatusCode::BAD_REQUEST, e.to_string()),
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
    let explainer = state.explainer.clone();
    let rules = state.rules.get();
    let run = move || {
        let mut m = index.get(id)?;
        if let Some(m) = &mut m {
            explainer.explain(m, &rules);
        }
        Ok::<_, lauscher_index::IndexError>(m)
    };
    match tokio::task::spawn_blocking(run).await {
        Ok(Ok(Some(m))) => axum::Json(m).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no mention {id}")),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn rules(State(state): State<ApiState>) -> Response {
    let set = state.rules.get();
    let rules: Vec<serde_json::Value> = set
        .rules()
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "kind": format!("{:?}", r.kind).to_lowercase(),
                "name": r.name,
                "query": r.expr.to_string(),
                "file": r.place.file,
                "line": r.place.line,
            })
        })
        .collect();
    axum::Json(serde_json::json!({ "rules": rules })).into_response()
}

async fn reload(State(state): State<ApiState>) -> Response {
    let reload = state.reload.clone();
    match tokio::task::spawn_blocking(move || reload()).await {
        Ok(Ok(summary)) => {
            axum::Json(serde_json::json!({ "status": "reloaded", "summary": summary }))
                .into_response()
        }
        Ok(Err(problems)) => error(StatusCode::UNPROCESSABLE_ENTITY, problems),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Starts an online rebuild of the index: 202 with its status, 409 while one runs.
async fn start_rebuild(State(state): State<ApiState>) -> Response {
    let Some(rebuild) = &state.rebuild else {
        return error(StatusCode::NOT_FOUND, "no pipeline writes this index");
    };
    if rebuild.start() {
        (StatusCode::ACCEPTED, axum::Json(rebuild.status())).into_response()
    } else {
        error(StatusCode::CONFLICT, "an index rebuild is already running")
    }
}

/// Where the current or last online rebuild is.
async fn rebuild_status(State(state): State<ApiState>) -> Response {
    match &state.rebuild {
        Some(rebuild) => axum::Json(rebuild.status()).into_response(),
        None => error(StatusCode::NOT_FOUND, "no pipeline writes this index"),
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
