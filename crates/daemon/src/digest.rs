//! Scheduled digests: the weekly (or daily) report of each `digests:` entry of the
//! alerting file, sent through its receivers once per period.
//!
//! Every 30 seconds the scheduler looks at the last complete period of each digest (in
//! its time zone). Once the period's end plus `at` has passed, it renders the report
//! and queues one outbox notification per receiver with the idempotency key
//! `digest:<id>:<period>:<receiver>`: the outbox's unique key makes a second queueing
//! (after a restart, or a crash between queueing and noting it) a no-op, so a digest
//! goes out at most once per period, through the same retries as alerts. After a long
//! outage only the last complete period is sent.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lauscher_alerts::render::DigestMessage;
use lauscher_config::{AlertingConfig, DigestConfig, DigestPeriod};
use lauscher_index::MentionIndex;
use lauscher_insights::Period;
use lauscher_query::ActiveRules;
use lauscher_state::{OutboxRow, StateStore};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Where the scheduler reads and writes.
pub struct DigestScheduler {
    pub alerting: AlertingConfig,
    pub index: Arc<MentionIndex>,
    pub rules: Arc<ActiveRules>,
    pub state: Arc<StateStore>,
    pub wake: Arc<Notify>,
    /// The service desk, whose KPIs of the period join the digest.
    pub desk: Option<Arc<lauscher_desk::Desk>>,
}

impl DigestScheduler {
    /// Runs until `cancel`; nothing to do without digests.
    pub fn spawn(self, cancel: CancellationToken) -> Option<JoinHandle<()>> {
        if self.alerting.digests.is_empty() {
            return None;
        }
        let this = Arc::new(self);
        Some(tokio::spawn(async move {
            loop {
                let run = this.clone();
                let _ = tokio::task::spawn_blocking(move || run.tick(Utc::now())).await;
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(30)) => {}
                }
            }
        }))
    }

    fn tick(&self, now: DateTime<Utc>) {
        for d in &self.alerting.digests {
            if let Err(e) = self.maybe_send(d, now) {
                warn!(digest = %d.id, error = %e, "digest not sent; retrying in 30 s");
            }
        }
    }

    /// Queues `d` for its last complete period when it is due and not yet queued.
    fn maybe_send(&self, d: &DigestConfig, now: DateTime<Utc>) -> Result<(), String> {
        let tz: Tz = d.timezone.unwrap_or(self.alerting.defaults.timezone).0;
        let period = Period::last_complete(d.every == DigestPeriod::Day, now, tz);
        let (_, end) = period.bounds(tz);
        let due = end + chrono::Duration::minutes(i64::from(d.at.minute));
        if now < due {
            return Ok(());
        }
        let key = format!("digest:{}:{period}", d.id);
        if self.state.meta(&key).map_err(|e| e.to_string())?.is_some() {
            return Ok(());
        }
        // The digest's language, else the alert messages' when reports exist in it.
        let lang = d
            .language
            .or_else(|| self.alerting.defaults.language.parse().ok())
            .unwrap_or_default();
        let rules = self.rules.get();
        let mut digest = lauscher_insights::digest(&self.index, &rules, period, tz, lang)
            .map_err(|e| e.to_string())?;
        if let Some(desk) = &self.desk {
            let (since, until) = period.bounds(tz);
            let req = lauscher_desk::KpiRequest {
                since: since.timestamp(),
                until: until.timestamp(),
                now: now.timestamp(),
                targets: vec![3600, 6 * 3600],
                by: None,
                step: 0,
            };
            let k = desk.kpi(&req).map_err(|e| e.to_string())?;
            let de = lang == lauscher_config::ReportLanguage::De;
            let (md, html, summary) = lauscher_desk::kpi::digest_section(&k.total, de);
            digest.markdown.push_str(&md);
            digest.html = match digest.html.rfind("</body>") {
                Some(at) => format!("{}{html}{}", &digest.html[..at], &digest.html[at..]),
                None => digest.html + &html,
            };
            digest.summary = format!("{}\n{summary}", digest.summary);
        }
        let period_text = period.to_string();
        let link = d.link.as_ref().map(|base| {
            let week = match period {
                Period::Week(w) => format!("week={w}"),
                Period::Day(day) => format!("day={day}"),
            };
            format!(
                "{}/api/v1/report?{week}&format=html&lang={lang}",
                base.as_str().trim_end_matches('/')
            )
        });
        let message = DigestMessage {
            id: &d.id,
            period: &period_text,
            title: &digest.title,
            summary: &digest.summary,
            markdown: &digest.markdown,
            html: &digest.html,
            link: link.as_deref(),
        };
        let at = now.timestamp();
        for r in &d.receivers {
            let Some(rc) = self.alerting.receivers.iter().find(|x| &x.id == r) else {
                continue;
            };
            let row = OutboxRow::pending(
                r,
                format!("{key}:{r}"),
                "digest",
                lauscher_alerts::receiver::of(rc.kind)
                    .digest(&message)
                    .to_string(),
                at,
                rc.ttl.0.as_secs() as i64,
            );
            self.state
                .enqueue_notification(&row)
                .map_err(|e| e.to_string())?;
        }
        self.state.meta_init(&key, at).map_err(|e| e.to_string())?;
        info!(digest = %d.id, period = %period_text, receivers = d.receivers.len(), "digest queued");
        self.wake.notify_one();
        Ok(())
    }
}
