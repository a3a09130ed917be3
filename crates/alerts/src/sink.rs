//! Where the router's decisions go: the last stage of the notification pipeline.
//!
//! The router runs the same stages in three situations, and only the end differs:
//!
//! | situation | sink | transitions | notifications |
//! |---|---|---|---|
//! | the daemon | [`Sink::Store`] | incident, timeline and outbox rows in one transaction | the deliverer sends them |
//! | `lauscher backtest` | [`Sink::Memory`] | kept in memory, closed incidents listed | listed as planned |
//! | rebuilding detectors at start | [`Sink::Nowhere`] | only steer the detectors | none, not even rendered |
//!
//! So the live = backtest equivalence holds by construction: both run every stage and
//! differ in what is kept.

use std::sync::Arc;

use lauscher_state::{IncidentRecord, OutboxRow, SilenceRow, StateStore, TimelineRow};
use tokio::sync::Notify;
use tracing::warn;

use crate::incident::Incident;
use crate::router::PlannedNotification;

/// Where committed transitions go.
pub enum Sink {
    /// The state store; the deliverer is woken after each transition.
    Store {
        /// The store.
        state: Arc<StateStore>,
        /// Wakes the deliverer.
        wake: Arc<Notify>,
    },
    /// Memory, for a backtest.
    Memory {
        /// Incidents that were closed and replaced, in order.
        history: Vec<Incident>,
        /// What routing would have sent.
        planned: Vec<PlannedNotification>,
    },
    /// Nothing: detectors are being rebuilt from history.
    Nowhere,
}

impl Sink {
    /// A backtest's sink.
    pub fn memory() -> Sink {
        Sink::Memory {
            history: Vec::new(),
            planned: Vec::new(),
        }
    }

    /// Whether transitions are rendered, routed and counted (not while rebuilding).
    pub fn notifies(&self) -> bool {
        !matches!(self, Sink::Nowhere)
    }

    /// The store, when live.
    pub fn state(&self) -> Option<&Arc<StateStore>> {
        match self {
            Sink::Store { state, .. } => Some(state),
            _ => None,
        }
    }

    /// An id for a new incident: the store's next, else a count (`open` incidents in
    /// memory besides the closed ones).
    pub fn next_id(&self, open: usize) -> i64 {
        match self {
            Sink::Store { state, .. } => state.next_incident_id().unwrap_or(0),
            Sink::Memory { history, .. } => (history.len() + open + 1) as i64,
            Sink::Nowhere => (open + 1) as i64,
        }
    }

    /// Silences in force at `now` (only the store has any).
    pub fn silences(&self, now: i64) -> Vec<SilenceRow> {
        self.state()
            .and_then(|s| s.silences(now).ok())
            .unwrap_or_default()
    }

    /// Keeps an incident that was closed and is being replaced by a new one.
    pub fn closed(&mut self, incident: Incident) {
        if let Sink::Memory { history, .. } = self {
            history.push(incident);
        }
    }

    /// Stores newer numbers of an incident without a transition.
    pub fn save_numbers(&self, incident: &Incident) {
        if let Some(state) = self.state()
            && incident.id != 0
            && let Ok(body) = serde_json::to_string(incident)
            && let Err(e) = state.update_incident_body(incident.id, incident.version, &body)
        {
            warn!(error = %e, "incident numbers not saved");
        }
    }

    /// Records one transition of `incident` with its timeline row and notifications;
    /// `coalesces` tells which receivers take only the newest pending notification.
    /// Returns false when the transition must not take effect: the store refused it
    /// (it will fire again) or already had it (a replay).
    pub fn record(
        &mut self,
        incident: &mut Incident,
        now: i64,
        timeline: TimelineRow,
        outbox: &[OutboxRow],
        coalesces: &dyn Fn(&str) -> bool,
    ) -> bool {
        match self {
            Sink::Store { state, wake } => {
                let record = IncidentRecord {
                    id: incident.id,
                    rule_id: incident.rule.clone(),
                    topic: incident.topic.clone(),
                    window_start: incident.window_start,
                    status: incident.status.as_str().to_owned(),
                    level: incident.level,
                    version: incident.version,
                    updated_at: now,
                    body: serde_json::to_string(&*incident).unwrap_or_default(),
                };
                match state.record_transition(&record, &[timeline], outbox, coalesces) {
                    Ok(Some(id)) => {
                        if incident.id != id {
                            incident.id = id;
                            // The body names its own id from now on.
                            if let Ok(body) = serde_json::to_string(&*incident) {
                                let _ = state.update_incident_body(id, incident.version, &body);
                            }
                        }
                        wake.notify_one();
                        true
                    }
                    Ok(None) => {
                        warn!(rule = %incident.rule, topic = %incident.topic, "incident already stored; not notifying again");
                        false
                    }
                    Err(e) => {
                        warn!(error = %e, "incident transition not stored; it will fire again");
                        false
                    }
                }
            }
            Sink::Memory { planned, .. } => {
                planned.extend(outbox.iter().map(|o| PlannedNotification {
                    dedup_key: incident.dedup_key.clone(),
                    event: o.event.clone(),
                    receiver: o.receiver.clone(),
                    at: o.next_attempt_at,
                }));
                true
            }
            Sink::Nowhere => true,
        }
    }

    /// What a backtest kept: closed incidents and planned notifications.
    pub fn into_kept(self) -> (Vec<Incident>, Vec<PlannedNotification>) {
        match self {
            Sink::Memory { history, planned } => (history, planned),
            _ => (Vec::new(), Vec::new()),
        }
    }
}
