//! One module per kind of receiver, behind [`Integration`]: how the kind shapes an
//! incident and a digest, whether a group of notifications becomes one message, whether
//! queued updates of one incident collapse, and how it is posted. Adding a kind touches
//! its module, [`of`], and the config's `ReceiverKind`.
//!
//! The JSON shape is fixed per kind, so a template cannot break a PagerDuty event or a
//! Slack block; the words come from the templates ([`crate::render`]). Secrets (a
//! routing key, an HMAC secret, headers) are added when a request is made, never stored
//! in the outbox.

mod email;
mod mattermost;
mod pagerduty;
mod slack;
mod teams;
mod webhook;

use lauscher_config::{ReceiverConfig, ReceiverKind};
use serde_json::Value;

use crate::incident::Incident;
use crate::render::{DeskNotice, DigestMessage, Message};

/// An HTTP request to a receiver: where, with which extra headers, and the body with its
/// secrets added.
#[derive(Debug)]
pub struct HttpPost {
    /// The URL (a secret itself for Slack and Teams: never logged, see `redact_url`).
    pub url: String,
    /// Headers beside `Content-Type` and `Idempotency-Key`.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: String,
}

/// What one kind of receiver knows.
pub trait Integration: Sync {
    /// The body of a notification about `incident` (`event`: opened, escalated, …).
    fn incident(
        &self,
        incident: &Incident,
        event: &str,
        message: &Message,
        receiver: &ReceiverConfig,
    ) -> Value;

    /// The body of a digest.
    fn digest(&self, digest: &DigestMessage<'_>) -> Value;

    /// The body of a service desk notice (an SLA warning or breach). Chat and email show
    /// it like a digest; webhooks and PagerDuty key on the item.
    fn desk(&self, notice: &DeskNotice<'_>) -> Value {
        self.digest(&notice.as_digest())
    }

    /// One message for two or more notifications of a group (bodies as
    /// [`Integration::incident`] made them, oldest first); `None` where every incident
    /// needs its own request (webhook consumers and PagerDuty key on the incident).
    fn merge(&self, bodies: &[Value]) -> Option<Value> {
        let _ = bodies;
        None
    }

    /// Whether queued notifications of one incident collapse into the newest and a
    /// group may become one message (chat, email): false where each event counts.
    fn groups(&self) -> bool {
        true
    }

    /// Makes `body` (a notice that receiver `failed` rejects notifications) about the
    /// receiver rather than the listening incident, where the kind keys on incidents.
    fn about_receiver(&self, body: &mut Value, failed: &str) {
        let _ = (body, failed);
    }

    /// The HTTP request for `body`, at unix time `now`; `None` for kinds sent another
    /// way (email over SMTP).
    fn post(
        &self,
        receiver: &ReceiverConfig,
        body: String,
        now: i64,
    ) -> Option<Result<HttpPost, String>> {
        let _ = now;
        Some(match &receiver.url {
            Some(u) => Ok(HttpPost {
                url: u.to_string(),
                headers: Vec::new(),
                body,
            }),
            None => Err("no url".into()),
        })
    }
}

/// The integration of `kind`.
pub fn of(kind: ReceiverKind) -> &'static dyn Integration {
    match kind {
        ReceiverKind::Webhook => &webhook::Webhook,
        ReceiverKind::Slack => &slack::Slack,
        ReceiverKind::Teams => &teams::Teams,
        ReceiverKind::Mattermost => &mattermost::Mattermost,
        ReceiverKind::Pagerduty => &pagerduty::Pagerduty,
        ReceiverKind::Email => &email::Email,
        // Never reached for notifications: the config keeps ticket systems out of
        // routes, digests and the fallback, and the deliverer sends their hand-offs
        // through `crate::ticket`. A webhook's shapes are the closest.
        ReceiverKind::Zammad | ReceiverKind::Znuny => &webhook::Webhook,
    }
}

/// One message for `bodies` to a receiver of `kind`: the only body as it is, several
/// merged where the kind allows it ([`Integration::merge`]).
pub fn merge(kind: ReceiverKind, bodies: &[Value]) -> Option<Value> {
    match bodies {
        [] => None,
        [one] => Some(one.clone()),
        _ => of(kind).merge(bodies),
    }
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The texts of merged bodies, for a combined title.
fn titles(bodies: &[Value]) -> Vec<&str> {
    bodies
        .iter()
        .filter_map(|b| b["text"].as_str().or(b["subject"].as_str()))
        .collect()
}
