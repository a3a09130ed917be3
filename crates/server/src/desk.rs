//! The service desk API.
//!
//! | route | |
//! |---|---|
//! | `GET /api/v1/desk/items` | `state` (comma-separated; default new,open,pending), `assignee`, `team`, `topic`, `breached=true`, `limit`; most urgent SLA first |
//! | `GET /api/v1/desk/items/{id}` | one item, its clocks and its events |
//! | `POST /api/v1/desk/items/{id}/{action}` | `claim`, `assign` (`to`), `unassign`, `tag`/`untag` (`tag`), `note` (`body`), `priority` (`priority`), `correct` (`label` and/or `intent`), `ack` (`reference`?), `pending`, `resolve`, `reopen`, `dismiss` (`reason`), `merge` (`into`), `handoff` (`target`: a receiver named in `desk.handoff`); body `{"by": "anna", "version": 3, ...}`: `by` names the agent (the token's name instead when tokens are in force), `version` (optional) the version the agent saw; 409 when stale or not possible in the item's state |
//! | `GET /api/v1/desk/agents` | the teams' agents and who is away (`{"away": [{"agent", "set_by", "since"}], "teams": [...]}`) |
//! | `POST /api/v1/desk/agents/{agent}/away` | `{"away": true \| false, "by"?}`: auto-assignment passes an away agent over; what they hold stays theirs |
//! | `POST /api/v1/desk/handoff/{target}` | the ticket system's report on a handed-off item. Zammad: its webhook (`X-Hub-Signature: sha1=<hex HMAC-SHA1>` with the receiver's secret, deduplicated by `X-Zammad-Delivery`, the item from the `[LSR-n]` in the ticket's title); Znuny: its `Ticket::Generic` invoker (Basic auth, the password the receiver's secret; the item from the dynamic field `LauscherRef`); a webhook bridge: signed like a push (`X-Lauscher-Signature: sha256=<hex HMAC-SHA256 of the body>`), `{"item": 12, "delivery": "<unique id>", "state": "open" \| "closed", "external_id": "4711", "number"?, "first_response_at": RFC 3339?}`. A repeated delivery changes nothing; a closed ticket resolves the item |
//! | `POST /api/v1/desk/bulk` | `{"ids": [1, 2], "action": "resolve", "by": "anna", ...}`: the action on each item, each answered apart |
//! | `POST /api/v1/desk/authors/{handle}/flag` | `{"flag": "troll" \| "vip" \| "none", "reason": "...", "by": "anna"}`: a troll's later posts are low priority and out of the complaint KPIs, a VIP's at least high; routes may match `author_flag` |
//! | `GET /api/v1/desk/kpi` | `since`, `until` (ages or times; default the last 7 days), `by` (team, agent, topic, source, intent), `targets` (default `1h,6h`), `step` (backlog series, e.g. `1h`) |

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use lauscher_alerts::ticket::{self, InboundError, Ticket, TicketReport};
use lauscher_config::HumanDuration;
use lauscher_desk::{
    Action, Actor, AuthorFlag, Desk, DeskError, ItemFilter, ItemState, KpiRequest, Refused,
};
use lauscher_index::parse_time;
use lauscher_model::Priority;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::{ApiState, error};

fn not_configured() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "the service desk is not configured (desk: in the alerting file)",
    )
}

fn desk_error(e: &DeskError) -> Response {
    let status = match e {
        DeskError::NotFound(_) => StatusCode::NOT_FOUND,
        DeskError::Stale { .. } | DeskError::Refused(Refused::State { .. }) => StatusCode::CONFLICT,
        DeskError::Refused(Refused::Invalid(_)) => StatusCode::BAD_REQUEST,
        DeskError::State(_) | DeskError::Corrupt { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e.to_string())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DeskError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(desk_error(&e)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// `GET /api/v1/desk/items` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    state: Option<String>,
    assignee: Option<String>,
    team: Option<String>,
    topic: Option<String>,
    #[serde(default)]
    breached: bool,
    limit: Option<usize>,
}

pub(crate) async fn list(
    State(state): State<ApiState>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(desk) = state.desk.clone() else {
        return not_configured();
    };
    let Query(p) = match params {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let states = match p
        .state
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse::<ItemState>)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let filter = ItemFilter {
        states,
        assignee: p.assignee,
        team: p.team,
        topic: p.topic,
        breached: p.breached,
        limit: p.limit.unwrap_or(200).clamp(1, 10_000),
    };
    match blocking(move || desk.list(&filter, Utc::now().timestamp())).await {
        Ok(items) => Json(json!({ "items": items })).into_response(),
        Err(r) => r,
    }
}

pub(crate) async fn get(State(state): State<ApiState>, Path(id): Path<i64>) -> Response {
    let Some(desk) = state.desk.clone() else {
        return not_configured();
    };
    match blocking(move || desk.item(id)).await {
        Ok((item, events)) => {
            let mut v = json!(item);
            if let Some(o) = v.as_object_mut() {
                o.insert("events".into(), json!(events));
            }
            Json(v).into_response()
        }
        Err(r) => r,
    }
}

/// The body of an action.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActBody {
    by: Option<String>,
    version: Option<u32>,
    to: Option<String>,
    tag: Option<String>,
    body: Option<String>,
    priority: Option<String>,
    reason: Option<String>,
    into: Option<i64>,
    reference: Option<String>,
    label: Option<String>,
    intent: Option<String>,
    target: Option<String>,
}

fn label_of(s: &str) -> Result<lauscher_model::Label, String> {
    match s {
        "negative" => Ok(lauscher_model::Label::Negative),
        "neutral" => Ok(lauscher_model::Label::Neutral),
        "positive" => Ok(lauscher_model::Label::Positive),
        _ => Err(format!(
            "unknown label {s:?}: expected negative, neutral or positive"
        )),
    }
}

fn action(name: &str, b: &ActBody) -> Result<Action, String> {
    let need = |v: &Option<String>, field: &str| {
        v.clone()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("{name} needs \"{field}\""))
    };
    Ok(match name {
        "claim" => Action::Claim,
        "assign" => Action::Assign(need(&b.to, "to")?),
        "unassign" => Action::Unassign,
        "tag" => Action::Tag(need(&b.tag, "tag")?),
        "untag" => Action::Untag(need(&b.tag, "tag")?),
        "note" => Action::Note(need(&b.body, "body")?),
        "priority" => Action::Prioritize(need(&b.priority, "priority")?.parse::<Priority>()?),
        "ack" => Action::Ack(b.reference.clone()),
        "pending" => Action::Pending,
        "resolve" => Action::Resolve,
        "reopen" => Action::Reopen,
        "dismiss" => Action::Dismiss(need(&b.reason, "reason")?.parse()?),
        "merge" => Action::Merge(b.into.ok_or_else(|| "merge needs \"into\"".to_owned())?),
        "handoff" => Action::Handoff(need(&b.target, "target")?),
        "correct" => Action::Correct(
            b.label.as_deref().map(label_of).transpose()?,
            b.intent
                .as_deref()
                .map(|i| {
                    i.parse::<lauscher_model::Intent>()
                        .map_err(|e| e.to_string())
                })
                .transpose()?,
        ),
        other => {
            return Err(format!(
                "unknown action {other:?}: expected claim, assign, unassign, tag, untag, note, priority, correct, ack, pending, resolve, reopen, dismiss, merge or handoff"
            ));
        }
    })
}

/// The agent acting: the token's name when tokens are in force, else the body's `by`.
/// The agent a request whose body names only `by` acts for (see [`actor`]).
fn actor_by(by: Option<String>, caller: Option<&Caller>) -> Result<Actor, String> {
    actor(
        &ActBody {
            by,
            ..ActBody::default()
        },
        caller,
    )
}

fn actor(b: &ActBody, caller: Option<&Caller>) -> Result<Actor, String> {
    if let Some(c) = caller {
        return Ok(Actor::User(c.name.clone()));
    }
    b.by.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Actor::User(s.to_owned()))
        .ok_or_else(|| "name the agent: {\"by\": \"<name>\"}".to_owned())
}

/// The action named `name` with its fields and who does it, or what is wrong.
fn request(name: &str, b: &ActBody, caller: Option<&Caller>) -> Result<(Action, Actor), String> {
    Ok((action(name, b)?, actor(b, caller)?))
}

pub(crate) async fn act(
    State(state): State<ApiState>,
    caller: Option<Extension<Caller>>,
    Path((id, name)): Path<(i64, String)>,
    body: Result<Json<ActBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(desk) = state.desk.clone() else {
        return not_configured();
    };
    let b = match body {
        Ok(Json(b)) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let (a, who) = match request(&name, &b, caller.as_deref()) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let version = b.version;
    match blocking(move || desk.act(id, a, who, version, Utc::now().timestamp())).await {
        Ok(item) => Json(item).into_response(),
        Err(r) => r,
    }
}

/// The body of a bulk action.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    ids: Vec<i64>,
    action: String,
    #[serde(flatten)]
    rest: ActBody,
}

pub(crate) async fn bulk(
    State(state): State<ApiState>,
    caller: Option<Extension<Caller>>,
    body: Result<Json<BulkBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(desk) = state.desk.clone() else {
        return not_configured();
    };
    let b = match body {
        Ok(Json(b)) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    if b.ids.len() > 1000 {
        return error(
            StatusCode::BAD_REQUEST,
            "at most 1000 items per bulk action",
        );
    }
    let (a, who) = match request(&b.action, &b.rest, caller.as_deref()) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let ids = b.ids;
    let results = tokio::task::spawn_blocking(move || {
        let now = Utc::now().timestamp();
        ids.iter()
            .map(
                |&id| match desk.act(id, a.clone(), who.clone(), None, now) {
                    Ok(item) => {
                        json!({"id": id, "ok": true, "state": item.state, "version": item.version})
                    }
                    Err(e) => json!({"id": id, "ok": false, "error": e.to_string()}),
                },
            )
            .collect::<Vec<Value>>()
    })
    .await;
    match results {
        Ok(r) => Json(json!({ "results": r })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /api/v1/desk/kpi` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiParams {
    since: Option<String>,
    until: Option<String>,
    by: Option<String>,
    targets: Option<String>,
    step: Option<String>,
}

/// Parses KPI parameters (shared with the digest and the CLI through the API).
pub fn kpi_request(p: KpiParams) -> Result<KpiRequest, String> {
    let now = Utc::now();
    let since = match &p.since {
        Some(s) => parse_time(s, now)?,
        None => now - chrono::Duration::days(7),
    };
    let until = match &p.until {
        Some(s) => parse_time(s, now)?,
        None => now,
    };
    if until <= since {
        return Err("until must be after since".into());
    }
    let secs = |s: &str| HumanDuration::parse(s).map(|d| d.0.as_secs() as i64);
    let targets = match &p.targets {
        Some(t) => t
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(secs)
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![3600, 6 * 3600],
    };
    Ok(KpiRequest {
        since: since.timestamp(),
        until: until.timestamp(),
        now: now.timestamp(),
        targets,
        by: p.by.as_deref().map(str::parse).transpose()?,
        step: p.step.as_deref().map(secs).transpose()?.unwrap_or(0).max(0),
    })
}

pub(crate) async fn kpi(
    State(state): State<ApiState>,
    params: Result<Query<KpiParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(desk) = state.desk.clone() else {
        return not_configured();
    };
    let req = match params
        .map_err(|e| e.body_text())
        .and_then(|Query(p)| kpi_request(p))
    {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if req.step > 0 && (req.until - req.since) / req.step > 10_000 {
        return error(
            StatusCode::BAD_REQUEST,
            "step too small: at most 10,000 points",
        );
    }
    match blocking(move || desk.kpi(&req)).await {
        Ok(r) => Json(r).into_response(),
        Err(r) => r,
    }
}

/// The body of an author flag.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagBody {
    flag: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    by: Option<String>,
}

pub(crate) async fn flag_author(
    State(state): State<ApiState>,
    caller: Option<Extension<Caller>>,
    Path(author): Path<String>,
    body: Result<Json<FlagBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(desk) = state.desk.clone() else {
        return not_configured();
    };
    let b = match body {
        Ok(Json(b)) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let flag = match b.flag.as_str() {
        "none" => None,
        f => match f.parse::<AuthorFlag>() {
            Ok(f) => Some(f),
            Err(e) => return error(StatusCode::BAD_REQUEST, e),
        },
    };
    let who = match actor_by(b.by, caller.as_deref()) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let reason = b.reason;
    let a = author.clone();
    match blocking(move || desk.flag_author(&a, flag, &reason, &who, Utc::now().timestamp())).await
    {
        Ok(()) => Json(json!({"author": author, "flag": flag.map_or("none", AuthorFlag::as_str)}))
            .into_response(),
        Err(r) => r,
    }
}

/// The body of an availability change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwayBody {
    away: bool,
    #[serde(default)]
    by: Option<String>,
}

pub(crate) async fn set_away(
    State(state): State<ApiState>,
    caller: Option<Extension<Caller>>,
    Path(agent): Path<String>,
    body: Result<Json<AwayBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(desk) = state.desk.clone() else {
        return not_configured();
    };
    let b = match body {
        Ok(Json(b)) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let who = match actor_by(b.by, caller.as_deref()) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let a = agent.clone();
    let away = b.away;
    match blocking(move || desk.set_away(&a, away, &who, Utc::now().timestamp())).await {
        Ok(()) => Json(json!({"agent": agent, "away": away})).into_response(),
        Err(r) => r,
    }
}

pub(crate) async fn agents(State(state): State<ApiState>) -> Response {
    let Some(desk) = state.desk.clone() else {
        return not_configured();
    };
    let d = desk.clone();
    match blocking(move || d.agents_away()).await {
        Ok(away) => {
            let rows: Vec<Value> = away
                .into_iter()
                .map(|(agent, by, at)| {
                    json!({"agent": agent, "set_by": by,
                           "since": chrono::DateTime::from_timestamp(at, 0).map(|t| t.to_rfc3339())})
                })
                .collect();
            let teams: Vec<Value> = desk
                .config()
                .teams
                .iter()
                .map(|t| json!({"team": t.id, "agents": t.agents, "auto_assign": t.auto_assign}))
                .collect();
            Json(json!({"away": rows, "teams": teams})).into_response()
        }
        Err(r) => r,
    }
}

/// What a ticket bridge reports on a handed-off item (a webhook target).
#[derive(Debug, Deserialize)]
pub struct ExternalReport {
    item: i64,
    delivery: String,
    state: String,
    #[serde(default)]
    external_id: Option<serde_json::Value>,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    first_response_at: Option<chrono::DateTime<Utc>>,
}

/// A bridge's report, signed like a push (`X-Lauscher-Signature: sha256=<hex>`).
fn bridge_report(
    secret: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<TicketReport, (StatusCode, String)> {
    let given = headers
        .get("x-lauscher-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha256="))
        .and_then(|h| hex::decode(h.trim()).ok());
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    if given.is_none_or(|g| aws_lc_rs::hmac::verify(&key, body, &g).is_err()) {
        return Err((
            StatusCode::UNAUTHORIZED,
            "missing or wrong X-Lauscher-Signature (sha256=<hex HMAC-SHA256 of the body>)".into(),
        ));
    }
    let r: ExternalReport = serde_json::from_slice(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("report: {e}")))?;
    if r.delivery.trim().is_empty() {
        return Err((StatusCode::BAD_REQUEST, "report: empty delivery id".into()));
    }
    let id = r.external_id.map(|v| match v {
        Value::String(s) => s,
        other => other.to_string(),
    });
    Ok(TicketReport {
        item: r.item,
        delivery: r.delivery,
        ticket: Ticket {
            id: id.unwrap_or_default(),
            number: r.number,
            closed: matches!(r.state.as_str(), "closed" | "resolved" | "solved"),
            state: r.state,
            changed: None,
            first_response_at: r.first_response_at.map(|t| t.timestamp()),
        },
    })
}

pub(crate) async fn external(
    State(state): State<ApiState>,
    Path(target): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(desk) = state.desk.clone() else {
        return not_configured();
    };
    let Some(receiver) = desk.handoff_target(&target) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no hand-off target {target:?}"),
        );
    };
    let report = if receiver.kind.is_ticket_system() {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        match ticket::inbound(receiver, &header, &body) {
            Ok(r) => r,
            Err(e @ InboundError::Unauthorized(_)) => {
                return error(StatusCode::UNAUTHORIZED, e.to_string());
            }
            Err(e @ InboundError::Malformed(_)) => {
                return error(StatusCode::BAD_REQUEST, e.to_string());
            }
        }
    } else {
        match bridge_report(receiver.secret.as_deref().unwrap_or(""), &headers, &body) {
            Ok(r) => r,
            Err((status, message)) => return error(status, message),
        }
    };
    match blocking(move || desk.external(&target, &report, Utc::now().timestamp())).await {
        Ok(item) => Json(json!({"item": item.id, "state": item.state, "version": item.version}))
            .into_response(),
        Err(r) => r,
    }
}

/// What the desk routes need.
pub type DeskApi = Arc<Desk>;
