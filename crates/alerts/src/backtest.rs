//! Backtest: replay alert rules over indexed history and list the incidents they would
//! have opened.
//!
//! The same [`AlertRouter`] runs with no state store, its clock driven by each
//! mention's `fetched_at` (imports set it to `published_at`), and every evaluation
//! step in between is run, so an import followed by a backtest opens the same
//! incidents a live run over the same posts would have. Mentions before `since` warm
//! the baselines without opening incidents.

use std::sync::Arc;

use lauscher_config::AlertingConfig;
use lauscher_model::MentionSummary;
use serde::Serialize;
use tokio::sync::Notify;

use crate::incident::Incident;
use crate::render::Templates;
use crate::router::{AlertRouter, PlannedNotification, RouterError};
use crate::tail::TailFit;

/// The backtest clock's tick while incidents are open (seconds).
const TICK: i64 = 60;

/// What a backtest found.
#[derive(Debug, Serialize)]
pub struct BacktestReport {
    /// Mentions replayed (warm-up included).
    pub mentions: usize,
    /// First and last time evaluated (unix seconds).
    pub from: i64,
    /// End of the replay.
    pub to: i64,
    /// Incidents opened after `since`, oldest first.
    pub incidents: Vec<Incident>,
    /// Notifications routing would have sent.
    pub notifications: Vec<PlannedNotification>,
    /// Per spike stream: how often it would page against what its budget allows.
    pub streams: Vec<StreamBudget>,
}

/// One stream's self-check: incidents per 90 days over the replayed history against
/// its budget (`this rule would page 14 times a quarter`).
#[derive(Debug, Serialize)]
pub struct StreamBudget {
    /// Alert rule id.
    pub rule: String,
    /// Topic.
    pub topic: String,
    /// Incidents it opened in the replay.
    pub incidents: usize,
    /// Days of history replayed (from the later of `since` and the first mention to
    /// the earlier of `until` and the last mention).
    pub days: f64,
    /// Incidents per 90 days.
    pub per_90d: f64,
    /// What the budget allows per 90 days.
    pub budget_per_90d: f64,
    /// Whether it pages more often than its budget.
    pub over_budget: bool,
    /// How the stream's own history set its firing level at the end of the replay.
    pub calibration: Option<TailFit>,
}

/// Replays `mentions` (any order; sorted here by `fetched_at`) through `config`'s rules,
/// keeping only `rule` when given; incidents open from `since` (unix seconds) on, until
/// `until`.
pub fn backtest(
    mut config: AlertingConfig,
    templates: Templates,
    mut mentions: Vec<MentionSummary>,
    rule: Option<&str>,
    since: i64,
    until: i64,
) -> Result<BacktestReport, RouterError> {
    if let Some(rule) = rule {
        config.rules.retain(|r| r.id == rule);
    }
    mentions.sort_by_key(|m| (m.fetched_at, m.published_at));
    let first = mentions.first().map_or(since, |m| m.fetched_at.timestamp());
    let mut router = AlertRouter::new(config, templates, None, Arc::new(Notify::new()), first)?;
    let split = mentions.partition_point(|m| m.fetched_at.timestamp() < since);
    router.rebuild(mentions[..split].iter(), since.max(first));
    // The live router ticks every second; here the clock ticks each minute while an
    // incident is open (SLA, re-notification, escalation), and jumps otherwise.
    let mut clock = since.max(first);
    let mut run_clock = |router: &mut AlertRouter, to: i64| {
        while clock + TICK <= to {
            clock += TICK;
            if router.any_open() {
                router.tick(clock);
            }
        }
    };
    for m in &mentions[split..] {
        let t = m.fetched_at.timestamp();
        run_clock(&mut router, t);
        router.observe(std::slice::from_ref(m), t);
    }
    run_clock(&mut router, until);
    router.tick(until);
    let start = since.max(first);
    let end = mentions
        .last()
        .map_or(until, |m| m.fetched_at.timestamp().min(until));
    let days = ((end - start) as f64 / 86_400.0).max(1.0);
    let streams = router.spike_streams();
    let (incidents, notifications) = router.into_history();
    let streams = streams
        .into_iter()
        .map(|s| {
            let n = incidents
                .iter()
                .filter(|i| i.rule == s.rule && i.topic == s.topic)
                .count();
            let per_90d = n as f64 * 90.0 / days;
            StreamBudget {
                over_budget: per_90d > s.budget_per_90d,
                rule: s.rule,
                topic: s.topic,
                incidents: n,
                days,
                per_90d,
                budget_per_90d: s.budget_per_90d,
                calibration: s.calibration,
            }
        })
        .collect();
    Ok(BacktestReport {
        mentions: mentions.len(),
        from: since,
        to: until,
        incidents,
        notifications,
        streams,
    })
}
