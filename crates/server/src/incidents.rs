//! The incident and silence API.
//!
//! | route | |
//! |---|---|
//! | `GET /api/v1/incidents` | `status` (firing, acknowledged, resolved), `limit`; newest first |
//! | `GET /api/v1/incidents/{id}` | one incident with its timeline and notifications (every attempt's outcome) |
//! | `POST /api/v1/incidents/{id}/ack` | `{"by": "name"}`; 409 unless firing |
//! | `POST /api/v1/incidents/{id}/resolve` | `{"by": "name"}`; 409 when resolved |
//! | `GET /api/v1/silences` | silences in force or upcoming |
//! | `POST /api/v1/silences` | `{"matchers": ["topic=\"acme\""], "duration": "2h" \| "ends_at": RFC 3339, "starts_at"?, "created_by", "comment"}` |
//! | `DELETE /api/v1/silences/{id}` | expire it now |

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use lauscher_alerts::{AlertHandle, RouterError};
use lauscher_config::{HumanDuration, Matcher};
use lauscher_state::{IncidentRecord, SilenceRow, StateStore};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::{ApiState, error};

/// What the incident routes need.
#[derive(Clone)]
pub struct AlertsApi {
    /// The state store (incidents, outbox, silences).
    pub state: Arc<StateStore>,
    /// The router thread, for acknowledging and resolving.
    pub handle: AlertHandle,
}

fn not_configured() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "alerting is not configured (alerts: in the config)",
    )
}

fn incident_json(rec: &IncidentRecord) -> Value {
    let mut v: Value = serde_json::from_str(&rec.body).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("id".into(), json!(rec.id));
        obj.insert("status".into(), json!(rec.status));
        obj.insert("version".into(), json!(rec.version));
    }
    v
}

/// `GET /api/v1/incidents` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    status: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn list(
    State(state): State<ApiState>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(api) = state.alerts.clone() else {
        return not_configured();
    };
    let Query(p) = match params {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    if let Some(s) = &p.status
        && !matches!(s.as_str(), "firing" | "acknowledged" | "resolved")
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("invalid status {s:?}: expected firing, acknowledged or resolved"),
        );
    }
    let limit = p.limit.unwrap_or(50).clamp(1, 1000);
    match tokio::task::spawn_blocking(move || api.state.list_incidents(p.status.as_deref(), limit))
        .await
    {
        Ok(Ok(rows)) => {
            let incidents: Vec<Value> = rows.iter().map(incident_json).collect();
            Json(json!({ "incidents": incidents })).into_response()
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub(crate) async fn get(State(state): State<ApiState>, Path(id): Path<i64>) -> Response {
    let Some(api) = state.alerts.clone() else {
        return not_configured();
    };
    let found = tokio::task::spawn_blocking(
        move || -> Result<Option<Value>, lauscher_state::StateError> {
            let Some(rec) = api.state.incident(id)? else {
                return Ok(None);
            };
            let timeline: Vec<Value> = api
                .state
                .timeline(id)?
                .into_iter()
                .map(|t| {
                    json!({
                        "version": t.version,
                        "at": DateTime::from_timestamp(t.at, 0),
                        "event": t.event,
                        "detail": serde_json::from_str::<Value>(&t.detail).unwrap_or(Value::Null),
                    })
                })
                .collect();
            let notifications: Vec<Value> = api
                .state
                .notifications(id)?
                .into_iter()
                .map(|o| {
                    json!({
                        "receiver": o.receiver,
                        "version": o.version,
                        "event": o.event,
                        "status": o.status.as_str(),
                        "attempts": o.attempts,
                        "idempotency_key": o.idempotency_key,
                        "created_at": DateTime::from_timestamp(o.created_at, 0),
                        "next_attempt_at": DateTime::from_timestamp(o.next_attempt_at, 0),
                        "sent_at": o.sent_at.and_then(|t| DateTime::from_timestamp(t, 0)),
                        "last_error": o.last_error,
                    })
                })
                .collect();
            let mut v = incident_json(&rec);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("timeline".into(), json!(timeline));
                obj.insert("notifications".into(), json!(notifications));
            }
            Ok(Some(v))
        },
    )
    .await;
    match found {
        Ok(Ok(Some(v))) => Json(v).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no incident {id}")),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Who acknowledges or resolves.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActBody {
    #[serde(default)]
    by: Option<String>,
}

async fn act(
    state: ApiState,
    caller: Option<Extension<Caller>>,
    id: i64,
    body: Option<Json<ActBody>>,
    resolve: bool,
) -> Response {
    let Some(api) = state.alerts.clone() else {
        return not_configured();
    };
    let by = match caller {
        Some(Extension(c)) => c.name,
        None => body
            .and_then(|Json(b)| b.by)
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| "api".to_owned()),
    };
    let result = if resolve {
        api.handle.resolve(id, &by).await
    } else {
        api.handle.ack(id, &by).await
    };
    match result {
        Ok(incident) => Json(incident).into_response(),
        Err(e) => {
            let status = match e {
                RouterError::NotFound(_) => StatusCode::NOT_FOUND,
                RouterError::Conflict { .. } => StatusCode::CONFLICT,
                RouterError::Stopped => StatusCode::SERVICE_UNAVAILABLE,
                RouterError::State(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            error(status, e.to_string())
        }
    }
}

pub(crate) async fn ack(
    State(state): State<ApiState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<i64>,
    body: Option<Json<ActBody>>,
) -> Response {
    act(state, caller, id, body, false).await
}

pub(crate) async fn resolve(
    State(state): State<ApiState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<i64>,
    body: Option<Json<ActBody>>,
) -> Response {
    act(state, caller, id, body, true).await
}

/// A new silence.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSilence {
    matchers: Vec<String>,
    #[serde(default)]
    starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

fn silence_json(s: &SilenceRow) -> Value {
    json!({
        "id": s.id,
        "matchers": serde_json::from_str::<Value>(&s.matchers).unwrap_or(Value::Null),
        "starts_at": DateTime::from_timestamp(s.starts_at, 0),
        "ends_at": DateTime::from_timestamp(s.ends_at, 0),
        "created_by": s.created_by,
        "comment": s.comment,
    })
}

pub(crate) async fn silences(State(state): State<ApiState>) -> Response {
    let Some(api) = state.alerts.clone() else {
        return not_configured();
    };
    let now = Utc::now().timestamp();
    match tokio::task::spawn_blocking(move || api.state.silences(now)).await {
        Ok(Ok(rows)) => {
            Json(json!({ "silences": rows.iter().map(silence_json).collect::<Vec<_>>() }))
                .into_response()
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub(crate) async fn add_silence(
    State(state): State<ApiState>,
    body: Result<Json<NewSilence>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(api) = state.alerts.clone() else {
        return not_configured();
    };
    let Json(s) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    if s.matchers.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "a silence needs at least one matcher",
        );
    }
    for m in &s.matchers {
        if let Err(e) = m.parse::<Matcher>() {
            return error(StatusCode::BAD_REQUEST, e);
        }
    }
    let now = Utc::now().timestamp();
    let starts_at = s.starts_at.map_or(now, |t| t.timestamp());
    let ends_at = match (s.ends_at, s.duration.as_deref()) {
        (Some(t), None) => t.timestamp(),
        (None, Some(d)) => match HumanDuration::parse(d) {
            Ok(d) => starts_at + d.0.as_secs() as i64,
            Err(e) => return error(StatusCode::BAD_REQUEST, e),
        },
        _ => return error(StatusCode::BAD_REQUEST, "give either ends_at or duration"),
    };
    if ends_at <= starts_at {
        return error(
            StatusCode::BAD_REQUEST,
            "a silence must end after it starts",
        );
    }
    let row = SilenceRow {
        id: 0,
        matchers: serde_json::to_string(&s.matchers).unwrap_or_default(),
        starts_at,
        ends_at,
        created_by: s.created_by.unwrap_or_else(|| "api".into()),
        comment: s.comment.unwrap_or_default(),
        created_at: now,
    };
    let stored = row.clone();
    match tokio::task::spawn_blocking(move || api.state.add_silence(&stored)).await {
        Ok(Ok(id)) => (
            StatusCode::CREATED,
            Json(silence_json(&SilenceRow { id, ..row })),
        )
            .into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub(crate) async fn expire_silence(State(state): State<ApiState>, Path(id): Path<i64>) -> Response {
    let Some(api) = state.alerts.clone() else {
        return not_configured();
    };
    let now = Utc::now().timestamp();
    match tokio::task::spawn_blocking(move || api.state.expire_silence(id, now)).await {
        Ok(Ok(true)) => Json(json!({ "id": id, "status": "expired" })).into_response(),
        Ok(Ok(false)) => error(StatusCode::NOT_FOUND, format!("no silence {id} in force")),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
