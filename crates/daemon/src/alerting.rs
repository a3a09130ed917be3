//! Alerting in the daemon: the alerting file, the router thread, the delivery worker
//! and the digest scheduler.

use std::sync::Arc;

use chrono::Utc;
use lauscher_alerts::{AlertHandle, AlertInbox, AlertRouter, AlertService, Deliverer, Templates};
use lauscher_config::{AlertingConfig, Config, TimeZone};
use lauscher_index::MentionIndex;
use lauscher_query::{RuleKind, RuleSet};
use lauscher_state::StateStore;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::DaemonError;

type Result<T> = std::result::Result<T, DaemonError>;

/// History replayed into the detectors at start-up: 8 weeks (the seasonal baseline's).
pub const REBUILD_DAYS: i64 = 56;

/// Loads the alerting file the config names, checking topic ids against `rules`.
pub fn load(config: &Config, rules: &RuleSet) -> Result<Option<(AlertingConfig, Templates)>> {
    let Some(path) = config.alerts_path() else {
        return Ok(None);
    };
    let topics: Vec<String> = rules
        .rules()
        .iter()
        .filter(|r| r.kind != RuleKind::Pack)
        .map(|r| r.id.clone())
        .collect();
    let alerting =
        AlertingConfig::load(&path, &topics).map_err(|e| DaemonError::Alerting(e.to_string()))?;
    let templates = Templates::load(&alerting.base_dir.join(&alerting.templates))
        .map_err(|e| DaemonError::Alerting(e.to_string()))?;
    for rule in &alerting.rules {
        let lang = rule.language(&alerting.defaults);
        if !templates.has(lang) {
            return Err(DaemonError::Alerting(format!(
                "{}: alert rule {:?}: no message template for language {lang:?} (add {lang}.j2 to the templates directory)",
                path.display(),
                rule.id
            )));
        }
    }
    Ok(Some((alerting, templates)))
}

/// The user's time zone for insight timelines and reports: the alerting file's
/// `defaults.timezone` (the zone the user stated for seasonality and mute times), else
/// the one default, [`TimeZone::default`].
pub fn timezone(alerting: Option<&AlertingConfig>) -> chrono_tz::Tz {
    alerting
        .map_or_else(TimeZone::default, |a| a.defaults.timezone)
        .0
}

/// Alerting while the daemon runs: the router thread and the delivery task.
pub struct RunningAlerts {
    service: AlertService,
    wake: Arc<Notify>,
    deliverer: JoinHandle<()>,
    digests: Option<JoinHandle<()>>,
    cancel: CancellationToken,
}

impl RunningAlerts {
    /// Rebuilds the detectors from the index, loads open incidents and starts the
    /// router thread and the delivery worker.
    pub fn start(
        alerting: AlertingConfig,
        templates: Templates,
        state: Arc<StateStore>,
        index: Arc<MentionIndex>,
        rules: Arc<lauscher_query::ActiveRules>,
        (handle, inbox): (AlertHandle, AlertInbox),
        desk: Option<Arc<lauscher_desk::Desk>>,
    ) -> Result<RunningAlerts> {
        let now = Utc::now();
        let wake = Arc::new(Notify::new());
        let mut deliverer =
            Deliverer::new(state.clone(), &alerting, templates.clone(), wake.clone());
        if let Some(d) = &desk {
            deliverer = deliverer.with_ledger(d.clone());
        }
        let digests = crate::digest::DigestScheduler {
            alerting: alerting.clone(),
            index: index.clone(),
            rules,
            state: state.clone(),
            wake: wake.clone(),
            desk,
        };
        let mut router = AlertRouter::new(
            alerting,
            templates,
            Some(state.clone()),
            wake.clone(),
            now.timestamp(),
        )
        .map_err(|e| DaemonError::AlertsStart {
            what: "cannot load incidents",
            detail: e.to_string(),
        })?;
        let mut history = index
            .summaries(
                now - chrono::Duration::days(REBUILD_DAYS),
                now + chrono::Duration::days(1),
            )
            .map_err(|e| DaemonError::AlertsStart {
                what: "cannot read recent mentions to rebuild alert counters",
                detail: e.to_string(),
            })?;
        history.sort_by_key(|m| (m.fetched_at, m.published_at));
        router.rebuild(history.iter(), now.timestamp());
        let service =
            AlertService::start(router, handle, inbox).map_err(|e| DaemonError::AlertsStart {
                what: "cannot start the alert router",
                detail: e.to_string(),
            })?;
        let cancel = CancellationToken::new();
        let deliverer = tokio::spawn(deliverer.run(cancel.clone()));
        let digests = digests.spawn(cancel.clone());
        Ok(RunningAlerts {
            service,
            wake,
            deliverer,
            digests,
            cancel,
        })
    }

    /// Wakes the delivery worker (after queueing notifications elsewhere).
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// A handle for the pipeline, crawler and API.
    pub fn handle(&self) -> AlertHandle {
        self.service.handle()
    }

    /// Stops the router after the queued work, then the delivery worker once every
    /// notification due was answered (at most [`lauscher_alerts::DRAIN_LIMIT`]); what
    /// is not yet sent stays in the outbox for the next start.
    pub async fn stop(self) {
        let service = self.service;
        let _ = tokio::task::spawn_blocking(move || service.stop()).await;
        self.cancel.cancel();
        let _ = self.deliverer.await;
        if let Some(d) = self.digests {
            let _ = d.await;
        }
    }
}
