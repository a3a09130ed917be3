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
//!
//! - **Shutdown drains by acknowledgement:** after `cancel`, the worker keeps sending
//!   what is due until every due notification was answered (sent, failed, or
//!   rescheduled by a retry or a rate limit) and returns then, or after [`DRAIN_LIMIT`]
//!   when a receiver hangs; what is left stays in the outbox for the next start.
//! - **Groups:** due notifications of one route group and receiver go to chat and
//!   email as one message ([`render::merge`]); webhook and PagerDuty get one request
//!   per incident (their consumers key on it).
//! - **Rate limits:** each receiver has a GCRA limit (Slack and Teams 1/s, PagerDuty
//!   2/s, email 1/s, burst 3 by default). A send over the limit is deferred to its
//!   slot, not counted as an attempt and never dropped. GCRA is a dozen lines of
//!   arithmetic per receiver; a rate-limiting crate would bring a clock and a
//!   concurrent map we do not need.
//! - **Receiver health:** a notification a receiver rejects for good or lets expire
//!   queues a `receiver_health` notice to the configured `fallback` receiver, so a
//!   revoked webhook or a wrong key never fails silently.
//! - **Ticket systems** (Zammad, Znuny) get desk hand-offs through [`crate::ticket`]:
//!   several requests each, so they run beside the rounds (a slow ticket system never
//!   holds an alert back), one at a time per row; the attempt is recorded before it is
//!   sent and due again only after the receiver's `ticket.settle`, so a retry after a
//!   crash or a timeout finds the ticket the attempt may have made.
//! - **Email** goes over SMTP (lettre) as HTML with a text part; `Message-ID` comes
//!   from the idempotency key, and later messages of an incident reply to its first
//!   (`In-Reply-To`, `References`), so mail clients thread them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::hmac;
use chrono::Utc;
use lauscher_config::{AlertingConfig, ReceiverConfig, ReceiverKind, alerting::redact_url};
use lauscher_state::{OutboxRow, OutboxStatus, StateStore, TimelineRow};
use lauscher_telemetry::METRICS;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::incident::Incident;
use crate::receiver;
use crate::render::{self, Templates};
use crate::ticket::{TicketClient, TicketError, TicketLedger};

type Mailer = lettre::AsyncSmtpTransport<lettre::Tokio1Executor>;

/// Longest wait between retries.
const MAX_BACKOFF_SECS: f64 = 600.0;
/// Notifications sent per round.
const BATCH: usize = 32;
/// The longest shutdown waits for due notifications: a hanging receiver must not hold
/// the daemon (its rows stay in the outbox).
pub const DRAIN_LIMIT: Duration = Duration::from_secs(15);

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq)]
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

/// A generic cell rate algorithm limit: the theoretical arrival time of the next send.
/// O(1) per send, no timers.
#[derive(Debug, Clone, Copy)]
struct Gcra {
    /// Milliseconds between sends at the sustained rate.
    interval: i64,
    /// How far ahead of the sustained rate a burst may run (`interval · (burst − 1)`).
    tolerance: i64,
    /// Theoretical arrival time, unix milliseconds.
    tat: i64,
}

impl Gcra {
    fn new(r: &ReceiverConfig) -> Option<Gcra> {
        let rate = r.rate_limit()?;
        let interval = rate.interval().as_millis().max(1) as i64;
        Some(Gcra {
            interval,
            tolerance: interval * (r.burst.max(1) as i64 - 1),
            tat: 0,
        })
    }

    /// Takes a slot at `now` (ms), or says when the next one opens.
    fn claim(&mut self, now: i64) -> Result<(), i64> {
        let tat = self.tat.max(now);
        if tat - now > self.tolerance {
            return Err(tat - self.tolerance);
        }
        self.tat = tat + self.interval;
        Ok(())
    }
}

/// What the fallback notice needs to render.
struct Fallback {
    receiver: String,
    config: AlertingConfig,
    templates: Templates,
}

/// Delivers outbox notifications until cancelled.
pub struct Deliverer {
    state: Arc<StateStore>,
    receivers: HashMap<String, ReceiverConfig>,
    client: reqwest::Client,
    mailers: HashMap<String, Result<Mailer, String>>,
    limits: Mutex<HashMap<String, Gcra>>,
    fallback: Option<Fallback>,
    /// When the fallback last heard of each failing receiver: one notice an hour.
    told: Mutex<HashMap<String, i64>>,
    /// Rows a rate limit deferred and no request has carried since: shutdown waits for
    /// their slots.
    deferred: Mutex<HashSet<i64>>,
    wake: Arc<Notify>,
    /// Where hand-offs to ticket systems record their tickets (the desk).
    ledger: Option<Arc<dyn TicketLedger>>,
    /// Hand-offs to ticket systems being sent: they take several requests, so they run
    /// beside the rounds rather than hold alerts back.
    tickets_in_flight: Mutex<HashSet<i64>>,
}

/// A failing receiver is reported to the fallback at most this often.
const TELL_EVERY_SECS: i64 = 3600;

impl Deliverer {
    /// A worker for the receivers of `config`, woken through `wake`; `templates`
    /// render receiver-health notices.
    pub fn new(
        state: Arc<StateStore>,
        config: &AlertingConfig,
        templates: Templates,
        wake: Arc<Notify>,
    ) -> Deliverer {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("Lauscher/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let mailers = config
            .receivers
            .iter()
            .filter(|r| r.kind == ReceiverKind::Email)
            .filter_map(|r| {
                let url = r.url.as_ref()?;
                let mailer = Mailer::from_url(url.as_str())
                    .map(|b| b.timeout(Some(Duration::from_secs(20))).build())
                    .map_err(|e| format!("{}: {e}", redact_url(url)));
                Some((r.id.clone(), mailer))
            })
            .collect();
        let limits = config
            .receivers
            .iter()
            .filter_map(|r| Some((r.id.clone(), Gcra::new(r)?)))
            .collect();
        Deliverer {
            state,
            receivers: config
                .receivers
                .iter()
                .map(|r| (r.id.clone(), r.clone()))
                .collect(),
            client,
            mailers,
            limits: Mutex::new(limits),
            fallback: config.fallback.clone().map(|receiver| Fallback {
                receiver,
                config: config.clone(),
                templates,
            }),
            told: Mutex::new(HashMap::new()),
            deferred: Mutex::new(HashSet::new()),
            wake,
            ledger: None,
            tickets_in_flight: Mutex::new(HashSet::new()),
        }
    }

    /// Records the tickets that hand-offs to ticket systems make or find in `ledger`.
    pub fn with_ledger(mut self, ledger: Arc<dyn TicketLedger>) -> Deliverer {
        self.ledger = Some(ledger);
        self
    }

    /// Runs until `cancel`, then drains what is due (see the module docs).
    pub async fn run(self, cancel: CancellationToken) {
        let this = Arc::new(self);
        this.clone().deliver_until(cancel).await;
        match tokio::time::timeout(DRAIN_LIMIT, this.deliver_due()).await {
            Ok(()) => info!("outbox drained"),
            Err(_) => warn!(
                limit_secs = DRAIN_LIMIT.as_secs(),
                "shutdown stopped waiting for receivers; the rest stays in the outbox"
            ),
        }
        this.update_gauges();
    }

    /// Sends what is due now, round after round, until every notification due was
    /// answered once: each round's requests finish before the next starts; a row a
    /// rate limit deferred is waited for, a row that failed is not tried again (its
    /// retry belongs to the next start).
    async fn deliver_due(self: &Arc<Self>) {
        let mut attempted: HashSet<i64> = HashSet::new();
        loop {
            let due = match self.state.due_notifications(Utc::now().timestamp(), BATCH) {
                Ok(d) => d,
                Err(e) => {
                    warn!(error = %e, "outbox read failed");
                    return;
                }
            };
            let due: Vec<OutboxRow> = due
                .into_iter()
                .filter(|r| !attempted.contains(&r.id))
                .collect();
            if due.is_empty() {
                // Wait only for rows a rate limit held back that are still pending.
                let pending = matches!(self.state.next_notification_at(), Ok(Some(_)));
                if self.lock_deferred().is_empty() || !pending {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            attempted.extend(due.iter().map(|r| r.id));
            self.send_round(due).await;
        }
    }

    /// Sends `due` as requests (deferring what a rate limit holds back) and waits for
    /// their answers; returns whether any request went out.
    async fn send_round(self: &Arc<Self>, due: Vec<OutboxRow>) -> bool {
        let mut tasks = JoinSet::new();
        let mut spawned = false;
        for batch in self.batches(due) {
            let ticket = self
                .receivers
                .get(&batch[0].receiver)
                .is_some_and(|r| r.kind.is_ticket_system());
            if ticket && self.lock_tickets().contains(&batch[0].id) {
                continue;
            }
            if let Err(at) = self.claim(&batch[0].receiver) {
                self.defer(&batch, at);
                continue;
            }
            {
                let mut deferred = self.lock_deferred();
                for r in &batch {
                    deferred.remove(&r.id);
                }
            }
            let this = self.clone();
            if ticket {
                // Beside the round: a slow ticket system must not delay alerts. The
                // attempt is on record first (see `send_ticket`); a shutdown that cuts
                // it off is retried at the next start like a crash.
                let id = batch[0].id;
                self.lock_tickets().insert(id);
                tokio::spawn(async move {
                    this.deliver(batch).await;
                    this.lock_tickets().remove(&id);
                });
                spawned = true;
                continue;
            }
            tasks.spawn(async move { this.deliver(batch).await });
        }
        let sent = !tasks.is_empty() || spawned;
        while tasks.join_next().await.is_some() {}
        sent
    }

    fn lock_tickets(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.tickets_in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_deferred(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.deferred
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends what is due as it comes due, until `cancel`.
    async fn deliver_until(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            let now = Utc::now().timestamp();
            let due = match self.state.due_notifications(now, BATCH) {
                Ok(d) => d,
                Err(e) => {
                    warn!(error = %e, "outbox read failed");
                    Vec::new()
                }
            };
            if !due.is_empty() {
                let sent = self.send_round(due).await;
                self.update_gauges();
                if !sent {
                    // Everything due is rate-limited: sleep until the first slot.
                    tokio::select! {
                        () = cancel.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                }
                continue;
            }
            self.update_gauges();
            let wait = match self.state.next_notification_at() {
                Ok(Some(t)) => Duration::from_secs((t - now).clamp(0, 1) as u64),
                _ => Duration::from_secs(1),
            };
            tokio::select! {
                () = cancel.cancelled() => return,
                () = self.wake.notified() => {}
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

    /// Splits due rows into requests: rows of one receiver and group become one
    /// message where the receiver kind allows it.
    fn batches(&self, due: Vec<OutboxRow>) -> Vec<Vec<OutboxRow>> {
        let mut out: Vec<Vec<OutboxRow>> = Vec::new();
        let mut slot: HashMap<(String, String), usize> = HashMap::new();
        for row in due {
            let mergeable = !row.group_key.is_empty()
                && self
                    .receivers
                    .get(&row.receiver)
                    .is_some_and(|r| receiver::of(r.kind).groups());
            if mergeable {
                let key = (row.receiver.clone(), row.group_key.clone());
                if let Some(&i) = slot.get(&key) {
                    out[i].push(row);
                    continue;
                }
                slot.insert(key, out.len());
            }
            out.push(vec![row]);
        }
        out
    }

    /// Takes a rate-limit slot for `receiver`, or says when (unix ms) one opens.
    fn claim(&self, receiver: &str) -> Result<(), i64> {
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        match limits.get_mut(receiver) {
            Some(g) => g.claim(Utc::now().timestamp_millis()),
            None => Ok(()),
        }
    }

    fn defer(&self, batch: &[OutboxRow], at_ms: i64) {
        let at = (at_ms + 999).div_euclid(1000);
        self.lock_deferred().extend(batch.iter().map(|r| r.id));
        for row in batch {
            METRICS
                .notifications_total
                .with_label_values(&[&row.receiver, "rate_limited"])
                .inc();
            if let Err(e) = self.state.defer_notification(row.id, at) {
                warn!(error = %e, "outbox write failed");
            }
        }
    }

    async fn deliver(&self, batch: Vec<OutboxRow>) {
        let now = Utc::now().timestamp();
        let outcome = match self.receivers.get(&batch[0].receiver) {
            None => Outcome::Failed(format!(
                "receiver {:?} is not configured",
                batch[0].receiver
            )),
            Some(r) => self.send(r, &batch).await,
        };
        let done = Utc::now();
        for row in batch {
            self.record(row, &outcome, now, done).await;
        }
    }

    async fn record(
        &self,
        row: OutboxRow,
        outcome: &Outcome,
        now: i64,
        done: chrono::DateTime<Utc>,
    ) {
        let attempts = row.attempts + 1;
        let (status, next, error, label) = match outcome.clone() {
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
        if matches!(status, OutboxStatus::Failed | OutboxStatus::Expired) {
            self.tell_fallback(&row, error.as_deref().unwrap_or(""), now);
            if row.event == "handoff"
                && let Some(ledger) = &self.ledger
                && let Err(e) =
                    ledger.failed(&row.receiver, &row.body, error.as_deref().unwrap_or(""))
            {
                warn!(receiver = %row.receiver, error = %e, "failed hand-off not recorded on its item");
            }
        }
        // Digests (incident 0) have no timeline.
        if status != OutboxStatus::Pending && row.incident_id > 0 {
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

    /// Queues a `receiver_health` notice about `row` to the fallback receiver (never
    /// about the fallback itself, nor about a notice; once an hour per receiver).
    fn tell_fallback(&self, row: &OutboxRow, error: &str, now: i64) {
        let Some(f) = &self.fallback else {
            return;
        };
        if row.receiver == f.receiver || row.event == "receiver_health" {
            return;
        }
        let Some(rc) = self.receivers.get(&f.receiver) else {
            return;
        };
        {
            let mut told = self.told.lock().unwrap_or_else(|p| p.into_inner());
            if told
                .get(&row.receiver)
                .is_some_and(|t| now - t < TELL_EVERY_SECS)
            {
                return;
            }
            told.insert(row.receiver.clone(), now);
        }
        let incident = match self.state.incident(row.incident_id) {
            Ok(Some(rec)) => match serde_json::from_str::<Incident>(&rec.body) {
                Ok(mut i) => {
                    i.id = rec.id;
                    i
                }
                Err(_) => return,
            },
            _ => return,
        };
        let rule = f.config.rules.iter().find(|r| r.id == incident.rule);
        let lang = rule.map_or(f.config.defaults.language.as_str(), |r| {
            r.language(&f.config.defaults)
        });
        let failure = serde_json::json!({
            "receiver": row.receiver,
            "event": row.event,
            "error": error,
        });
        let message = f.templates.render(
            lang,
            &incident,
            "receiver_health",
            rule,
            &f.config.incidents,
            now,
            Some(&failure),
        );
        let integration = receiver::of(rc.kind);
        let mut body = integration.incident(&incident, "receiver_health", &message, rc);
        integration.about_receiver(&mut body, &row.receiver);
        let notice = OutboxRow {
            id: 0,
            incident_id: row.incident_id,
            version: row.version,
            receiver: f.receiver.clone(),
            idempotency_key: format!("{}:health", row.idempotency_key),
            event: "receiver_health".into(),
            body: body.to_string(),
            status: OutboxStatus::Pending,
            attempts: 0,
            created_at: now,
            next_attempt_at: now,
            expires_at: now + rc.ttl.0.as_secs() as i64,
            sent_at: None,
            last_error: None,
            group_key: String::new(),
        };
        METRICS
            .notifications_total
            .with_label_values(&[&row.receiver, "receiver_health"])
            .inc();
        warn!(receiver = %row.receiver, fallback = %f.receiver, error, "receiver rejected a notification; telling the fallback");
        if let Err(e) = self.state.enqueue_notification(&notice) {
            warn!(error = %e, "receiver-health notice not queued");
        }
        self.wake.notify_one();
    }

    async fn send(&self, r: &ReceiverConfig, batch: &[OutboxRow]) -> Outcome {
        let row = &batch[0];
        if r.kind.is_ticket_system() {
            return self.send_ticket(r, row).await;
        }
        let mut body = row.body.clone();
        if batch.len() > 1 {
            let bodies: Vec<serde_json::Value> = batch
                .iter()
                .filter_map(|b| serde_json::from_str(&b.body).ok())
                .collect();
            if let Some(merged) = receiver::merge(r.kind, &bodies) {
                body = merged.to_string();
            }
        }
        let post = match receiver::of(r.kind).post(r, body.clone(), Utc::now().timestamp()) {
            None => return self.send_email(r, batch, &body).await,
            Some(Err(e)) => return Outcome::Failed(e),
            Some(Ok(post)) => post,
        };
        let mut req = self
            .client
            .post(&post.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &row.idempotency_key);
        for (k, v) in &post.headers {
            req = req.header(k, v);
        }
        let body = post.body;
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

impl Deliverer {
    /// A hand-off to a ticket system: the ticket found or made is recorded before the
    /// row counts as sent (a failed record is retried: the lookup finds the ticket).
    async fn send_ticket(&self, r: &ReceiverConfig, row: &OutboxRow) -> Outcome {
        let client = match TicketClient::new(&self.client, r) {
            Ok(c) => c,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        // The attempt is on record before it is sent, due again only after `settle`: if
        // we die while the system makes the ticket, the next start's retry comes when
        // the system's search finds it.
        let settle = r
            .ticket
            .as_ref()
            .map_or(30, |t| t.settle.0.as_secs() as i64);
        let now = Utc::now().timestamp();
        if let Err(e) = self.state.record_attempt(
            row.id,
            OutboxStatus::Pending,
            row.attempts + 1,
            now + settle,
            now,
            Some("in flight"),
        ) {
            return Outcome::Retry {
                after: Some(settle),
                error: format!("attempt not recorded: {e}"),
            };
        }
        let report = match client.deliver(&row.body).await {
            Ok(report) => report,
            Err(TicketError::Retry(error)) => {
                return Outcome::Retry {
                    after: Some(settle),
                    error,
                };
            }
            Err(TicketError::Rejected(error)) => return Outcome::Failed(error),
        };
        let Some(ledger) = &self.ledger else {
            return Outcome::Sent;
        };
        match ledger.record(&r.id, &report) {
            Ok(()) => Outcome::Sent,
            Err(error) => Outcome::Retry {
                after: Some(settle),
                error: format!("ticket {} not recorded: {error}", report.ticket.id),
            },
        }
    }

    async fn send_email(&self, r: &ReceiverConfig, batch: &[OutboxRow], body: &str) -> Outcome {
        use lettre::AsyncTransport;
        use lettre::message::{Mailbox, MultiPart};

        let mailer = match self.mailers.get(&r.id) {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Outcome::Failed(e.clone()),
            None => return Outcome::Failed("no smtp url".into()),
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
            return Outcome::Failed("unreadable email body".into());
        };
        let from: Mailbox = match r.from.as_deref().unwrap_or("").parse() {
            Ok(m) => m,
            Err(e) => return Outcome::Failed(format!("from: {e}")),
        };
        let domain = from.email.domain().to_owned();
        let row = &batch[0];
        // `<incident>.<version>.<receiver>@domain`: the idempotency key, so a resend
        // after a crash carries the same Message-ID and clients drop it.
        let id_of = |key: &str| format!("<lauscher.{}@{domain}>", key.replace(':', "."));
        let subject = v["subject"].as_str().unwrap_or("Lauscher");
        let mut builder = lettre::Message::builder()
            .from(from)
            .subject(subject)
            .message_id(Some(id_of(&row.idempotency_key)))
            .user_agent(concat!("Lauscher/", env!("CARGO_PKG_VERSION")).to_owned());
        if row.incident_id > 0 && row.version > 1 {
            // The thread's first message: version 1 of the incident to this receiver.
            let first = id_of(&format!("{}:1:{}", row.incident_id, row.receiver));
            builder = builder.in_reply_to(first.clone()).references(first);
        }
        for to in &r.to {
            match to.parse::<Mailbox>() {
                Ok(m) => builder = builder.to(m),
                Err(e) => return Outcome::Failed(format!("to {to:?}: {e}")),
            }
        }
        let text = v["text"].as_str().unwrap_or("").to_owned();
        // Digests bring their own document; incidents are parts in our layout.
        let html = match v["document"].as_str() {
            Some(doc) => doc.to_owned(),
            None => render::html_document(subject, v["html"].as_str().unwrap_or("")),
        };
        let message = match builder.multipart(MultiPart::alternative_plain_html(text, html)) {
            Ok(m) => m,
            Err(e) => return Outcome::Failed(format!("email not built: {e}")),
        };
        let shown = r.url.as_ref().map_or_else(String::new, redact_url);
        match mailer.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(e) if e.is_permanent() => Outcome::Failed(format!("{shown}: {e}")),
            Err(e) => Outcome::Retry {
                after: None,
                error: format!("{shown}: {e}"),
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
pub(crate) fn without_url(e: &reqwest::Error) -> String {
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
    fn gcra_allows_a_burst_then_spaces_sends() {
        let mut g = super::Gcra {
            interval: 1000,
            tolerance: 2000,
            tat: 0,
        };
        let t = 1_000_000;
        assert!(g.claim(t).is_ok());
        assert!(g.claim(t).is_ok());
        assert!(g.claim(t).is_ok());
        assert_eq!(g.claim(t), Err(t + 1000), "burst of 3, then one a second");
        assert!(g.claim(t + 1000).is_ok());
        assert!(g.claim(t + 1000).is_err());
        // After a quiet spell the whole burst is back.
        assert!(g.claim(t + 10_000).is_ok());
        assert!(g.claim(t + 10_000).is_ok());
        assert!(g.claim(t + 10_000).is_ok());
    }

    #[test]
    fn retry_after_reads_seconds() {
        assert_eq!(super::retry_after_secs("120"), Some(120));
        assert_eq!(super::retry_after_secs("soon"), None);
    }
}
