//! Notification delivery from the durable outbox.
//!
//! A transition writes its notifications into `alert_outbox` in the same transaction
//! as the incident, then wakes this worker (a 1 s poll is the safety net). Per
//! (incident, receiver) one notification is in flight, in version order; different
//! pairs go out concurrently.
//!
//! - 2xx: sent.
//! - 408, 425, 429, 5xx, timeouts, refused connections: retried after
//!   `random(0, min(10 min, 2 s · 2ⁿ))`, never sooner than `Retry-After`, until the
//!   receiver's time to live (default 24 h) runs out: then expired.
//! - any other 4xx: failed (the request is wrong; repeating it will not help).
//!
//! Delivery is at least once: a crash between a receiver's 2xx and our write resends
//! once. PagerDuty absorbs it by `dedup_key`, webhook consumers by the
//! `Idempotency-Key` header; chat may show a duplicate. Every attempt is counted in
//! `lauscher_notifications_total` and visible in the incident's notifications.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use chrono::Utc;
use lauscher_rules::{ReceiverConfig, ReceiverKind, alerting::redact_url};
use lauscher_state::{OutboxRow, OutboxStatus, StateStore, TimelineRow};
use lauscher_telemetry::METRICS;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The PagerDuty Events API v2 endpoint.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Longest wait between retries.
const MAX_BACKOFF_SECS: f64 = 600.0;
/// Notifications sent per round.
const BATCH: usize = 32;

/// What one attempt came to.
#[derive(Debug, PartialEq)]
enum Outcome {
    Sent,
    Retry { after: Option<i64>, error: String },
    Failed(String),
}

/// Signs `body` for a webhook: `t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(tag.as_ref()))
}

/// Delivers outbox notifications until cancelled.
pub struct Deliverer {
    state: Arc<StateStore>,
    receivers: HashMap<String, ReceiverConfig>,
    client: reqwest::Client,
    wake: Arc<Notify>,
}

impl Deliverer {
    /// A worker for `receivers`, woken through `wake`.
    pub fn new(
        state: Arc<StateStore>,
        receivers: &[ReceiverConfig],
        wake: Arc<Notify>,
    ) -> Deliverer {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("Lauscher/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Deliverer {
            state,
            receivers: receivers
                .iter()
                .map(|r| (r.id.clone(), r.clone()))
                .collect(),
            client,
            wake,
        }
    }

    /// Runs until `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        let this = Arc::new(self);
        loop {
            let now = Utc::now().timestamp();
            let due = match this.state.due_notifications(now, BATCH) {
                Ok(d) => d,
                Err(e) => {
                    warn!(error = %e, "outbox read failed");
                    Vec::new()
                }
            };
            if !due.is_empty() {
                let mut tasks = JoinSet::new();
                for row in due {
                    let this = this.clone();
                    tasks.spawn(async move { this.deliver(row).await });
                }
                while tasks.join_next().await.is_some() {}
                this.update_gauges();
                continue;
            }
            this.update_gauges();
            let wait = match this.state.next_notification_at() {
                Ok(Some(t)) => Duration::from_secs((t - now).clamp(0, 1) as u64),
                _ => Duration::from_secs(1),
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = this.wake.notified() => {}
                () = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
            }
        }
    }

    fn update_gauges(&self) {
        METRICS.outbox_pending.reset();
        if let Ok(pending) = self.state.pending_per_receiver() {
            for (receiver, n) in pending {
                METRICS
                    .outbox_pending
                    .with_label_values(&[&receiver])
                    .set(n as i64);
            }
        }
    }

    async fn deliver(&self, row: OutboxRow) {
        let now = Utc::now().timestamp();
        let attempts = row.attempts + 1;
        let outcome = match self.receivers.get(&row.receiver) {
            None => Outcome::Failed(format!("receiver {:?} is not configured", row.receiver)),
            Some(r) => self.send(r, &row).await,
        };
        let done = Utc::now();
        let (status, next, error, label) = match outcome {
            Outcome::Sent => (OutboxStatus::Sent, now, None, "sent"),
            Outcome::Failed(e) => (OutboxStatus::Failed, now, Some(e), "failed"),
            Outcome::Retry { after, error } => {
                let cap = (2.0 * 2f64.powi(attempts.min(20) as i32)).min(MAX_BACKOFF_SECS);
                let jitter = StdRng::from_os_rng().random_range(0.0..=cap) as i64;
                let next = now + jitter.max(after.unwrap_or(0)).max(1);
                if next > row.expires_at {
                    (OutboxStatus::Expired, next, Some(error), "expired")
                } else {
                    (OutboxStatus::Pending, next, Some(error), "retry")
                }
            }
        };
        METRICS
            .notifications_total
            .with_label_values(&[&row.receiver, label])
            .inc();
        if status == OutboxStatus::Sent {
            let latency = (done.timestamp_millis() - row.created_at * 1000).max(0) as f64 / 1000.0;
            METRICS.alert_latency_seconds.observe(latency);
            info!(receiver = %row.receiver, incident = row.incident_id, version = row.version, event = %row.event, attempts, "notification sent");
        } else {
            warn!(receiver = %row.receiver, incident = row.incident_id, version = row.version, attempts, outcome = label, error = error.as_deref().unwrap_or(""), "notification not sent");
        }
        if let Err(e) =
            self.state
                .record_attempt(row.id, status, attempts, next, now, error.as_deref())
        {
            warn!(error = %e, "outbox write failed; the notification will be retried");
        }
        if status != OutboxStatus::Pending {
            let detail = serde_json::json!({
                "receiver": row.receiver,
                "event": row.event,
                "outcome": status.as_str(),
                "attempts": attempts,
                "error": error,
            });
            let _ = self.state.append_timeline(
                row.incident_id,
                &TimelineRow {
                    version: row.version,
                    at: now,
                    event: "notification".into(),
                    detail: detail.to_string(),
                },
            );
        }
    }

    async fn send(&self, r: &ReceiverConfig, row: &OutboxRow) -> Outcome {
        let mut body = row.body.clone();
        let url = match r.kind {
            ReceiverKind::Pagerduty => {
                // The routing key is a secret: added here, never stored in the outbox.
                if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&body)
                    && let Some(obj) = v.as_object_mut()
                {
                    obj.insert("routing_key".into(), serde_json::json!(r.routing_key));
                    body = v.to_string();
                }
                r.url
                    .as_ref()
                    .map_or_else(|| PAGERDUTY_URL.to_owned(), |u| u.to_string())
            }
            _ => match &r.url {
                Some(u) => u.to_string(),
                None => return Outcome::Failed("no url".into()),
            },
        };
        let mut req = self
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &row.idempotency_key);
        if r.kind == ReceiverKind::Webhook {
            if let Some(secret) = &r.secret {
                req = req.header(
                    "Lauscher-Signature",
                    signature(secret, Utc::now().timestamp(), &body),
                );
            }
            for (k, v) in &r.headers {
                req = req.header(k, v);
            }
        }
        let shown = r
            .url
            .as_ref()
            .map_or_else(|| "pagerduty".to_owned(), redact_url);
        match req.body(body).send().await {
            Ok(resp) => {
                let status = resp.status();
                if status.is_success() {
                    return Outcome::Sent;
                }
                let after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry_after_secs);
                let code = status.as_u16();
                let error = format!("{shown}: HTTP {code}");
                if matches!(code, 408 | 425 | 429) || status.is_server_error() {
                    Outcome::Retry { after, error }
                } else {
                    Outcome::Failed(error)
                }
            }
            Err(e) => Outcome::Retry {
                after: None,
                error: format!("{shown}: {}", without_url(&e)),
            },
        }
    }
}

/// `Retry-After` as seconds from now: delta-seconds or an HTTP date.
fn retry_after_secs(v: &str) -> Option<i64> {
    if let Ok(s) = v.trim().parse::<i64>() {
        return Some(s.max(0));
    }
    let t = chrono::DateTime::parse_from_rfc2822(v.trim()).ok()?;
    Some((t.timestamp() - Utc::now().timestamp()).max(0))
}

/// A reqwest error without the URL (which may hold a secret: Slack and Teams URLs are
/// credentials).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_sha256_of_t_dot_body() {
        // Reference: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        let s = super::signature("secret", 1_700_000_000, r#"{"a":1}"#);
        assert_eq!(
            s,
            "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }

    #[test]
    fn retry_after_reads_seconds() {
        assert_eq!(super::retry_after_secs("120"), Some(120));
        assert_eq!(super::retry_after_secs("soon"), None);
    }
}
