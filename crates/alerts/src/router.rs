//! [`AlertRouter`]: committed mentions in, incidents and notifications out.
//!
//! It owns one detector per stream (alert rule × topic) and the live incidents. Every
//! incident change is stored with its timeline row and outbox rows in one transaction
//! (see `lauscher-state`), then the delivery worker is woken. At start-up the detectors
//! are rebuilt by replaying the index's recent mentions with signals discarded, and
//! open incidents are loaded from the store, so a restart neither re-fires nor forgets.
//!
//! Without a state store (a backtest) incidents and the notifications they would have
//! sent are kept in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono_tz::Tz;
use lauscher_config::{AlertKind, AlertRule, AlertingConfig, Matcher};
use lauscher_model::{Label, MentionSummary};
use lauscher_state::{OutboxRow, OutboxStatus, StateStore, TimelineRow};
use lauscher_telemetry::METRICS;
use serde::Serialize;
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::book::IncidentBook;
use crate::detector::{Evidence, KeyMap, Sample, Signal, SpikeDetector, SpikeParams, key_hash};
use crate::incident::{Change, Incident, Input};
use crate::render::Templates;
use crate::route::{Labels, matches, muted_until, route};
use crate::shift::ShiftDetector;
use crate::sink::Sink;

/// Why an incident operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// No incident with that id.
    #[error("no incident {0}")]
    NotFound(i64),
    /// The operation does not apply in the incident's state.
    #[error("incident {id} is {status}")]
    Conflict {
        /// The incident.
        id: i64,
        /// Its status.
        status: &'static str,
    },
    /// The state store failed.
    #[error(transparent)]
    State(#[from] lauscher_state::StateError),
    /// The router thread is not running (the daemon is stopping).
    #[error("alert router stopped")]
    Stopped,
}

/// A notification a backtest would have sent.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedNotification {
    /// The incident key.
    pub dedup_key: String,
    /// The event.
    pub event: String,
    /// The receiver.
    pub receiver: String,
    /// When.
    pub at: i64,
}

enum Detector {
    Spike(Box<SpikeDetector>),
    Influencer(ReachHistogram),
    Shift(ShiftDetector),
}

struct Stream {
    rule: usize,
    topic: String,
    detector: Detector,
    /// Last step end evaluated for quiet windows (non-spike kinds).
    last_step: i64,
    last_fire: i64,
}

/// One spike stream as [`AlertRouter::spike_streams`] lists it.
#[derive(Clone, Debug)]
pub struct SpikeStream {
    /// Alert rule id.
    pub rule: String,
    /// Topic.
    pub topic: String,
    /// Pages its budget allows per 90 days.
    pub budget_per_90d: f64,
    /// How its own history set its window test's level, once it has one.
    pub calibration: Option<crate::tail::TailFit>,
}

/// Per-source log₂ histogram of author reach, for the p99 of the influencer rule.
#[derive(Default)]
struct ReachHistogram {
    per_source: KeyMap<[u32; 64]>,
}

impl ReachHistogram {
    fn p99(&self, source: &str) -> u64 {
        let Some(h) = self.per_source.get(&key_hash(source)) else {
            return 0;
        };
        let n: u32 = h.iter().sum();
        if n < 100 {
            // Too few authors for a percentile: the absolute floor decides.
            return 0;
        }
        let mut seen = 0;
        for (i, c) in h.iter().enumerate() {
            seen += c;
            if seen as f64 >= 0.99 * n as f64 {
                return 1u64 << i;
            }
        }
        u64::MAX
    }

    fn add(&mut self, source: &str, reach: u64) {
        let bucket = (64 - reach.leading_zeros()).min(63) as usize;
        self.per_source.entry(key_hash(source)).or_insert([0; 64])[bucket] += 1;
    }
}

/// One receiver of a notification and when it may go out.
#[derive(Debug)]
struct Recipient {
    receiver: String,
    not_before: i64,
    group_key: String,
    wait: i64,
    interval: i64,
}

/// When each (receiver, group) last sent or will next send: Alertmanager's group
/// timers, kept per receiver so a slow receiver does not hold back a fast one.
#[derive(Default)]
struct GroupClock {
    flush_at: HashMap<(String, String), i64>,
}

impl GroupClock {
    /// The time `r` may go out at, and books it.
    fn schedule(&mut self, r: &Recipient, batched: bool, now: i64) -> i64 {
        let key = (r.receiver.clone(), r.group_key.clone());
        let last = self.flush_at.get(&key).copied();
        let at = match last {
            _ if !batched => now,
            // A batch is still waiting: join it.
            Some(last) if last >= now => last,
            // The group notified recently: its next slot.
            Some(last) if now - last < r.interval => last + r.interval,
            // A new group, or one quiet for longer than its interval.
            _ => now + r.wait,
        }
        .max(r.not_before);
        self.flush_at.insert(key, last.map_or(at, |l| l.max(at)));
        at
    }
}

/// Turns mentions into incidents and incidents into notifications.
pub struct AlertRouter {
    config: AlertingConfig,
    templates: Templates,
    /// Where transitions go: the store, memory (a backtest) or nowhere (rebuilding).
    sink: Sink,
    streams: Vec<Stream>,
    /// Topic (hashed) → stream index per rule.
    stream_index: KeyMap<Vec<Option<usize>>>,
    /// The newest incident per (rule, topic).
    incidents: IncidentBook,
    /// Consecutive failed polls per source.
    failures: HashMap<String, u32>,
    /// Per source: first mention, last mention, mentions seen (for "silent").
    rhythm: HashMap<String, (i64, i64, u64)>,
    /// Grouping timers.
    groups: GroupClock,
}

impl AlertRouter {
    /// A router for `config`. With a state store, loads the live incidents from it.
    pub fn new(
        config: AlertingConfig,
        templates: Templates,
        state: Option<Arc<StateStore>>,
        wake: Arc<Notify>,
        now: i64,
    ) -> Result<AlertRouter, RouterError> {
        let mut incidents = IncidentBook::default();
        let mut groups = GroupClock::default();
        if let Some(state) = &state {
            let since = now - config.incidents.reopen_within.0.as_secs() as i64;
            for rec in state.live_incidents(since)? {
                match serde_json::from_str::<Incident>(&rec.body) {
                    Ok(mut i) => {
                        i.id = rec.id;
                        incidents.insert(i);
                    }
                    Err(e) => warn!(id = rec.id, error = %e, "stored incident unreadable; skipped"),
                }
            }
            info!(incidents = incidents.len(), "incidents loaded");
            for (receiver, group, at) in state.group_flushes(now - 86_400)? {
                groups.flush_at.insert((receiver, group), at);
            }
        }
        let sink = match state {
            Some(state) => Sink::Store { state, wake },
            None => Sink::memory(),
        };
        let router = AlertRouter {
            config,
            templates,
            sink,
            streams: Vec::new(),
            stream_index: KeyMap::default(),
            incidents,
            failures: HashMap::new(),
            rhythm: HashMap::new(),
            groups,
        };
        router.update_open_gauge();
        Ok(router)
    }

    /// The alerting configuration.
    pub fn config(&self) -> &AlertingConfig {
        &self.config
    }

    /// Replays history (oldest `fetched_at` first) into the detectors without opening
    /// incidents or notifying, then marks streams with open incidents.
    ///
    /// The replay runs the incident machine on shadow incidents (no store, no
    /// notifications) so the detectors see the waves of the past as a live run did:
    /// an open incident keeps its wave out of the baseline. Without that, a restart
    /// would leave the baseline inflated by past bursts, and the router would be less
    /// sensitive than the one that ran through them.
    pub fn rebuild<'a>(&mut self, mentions: impl Iterator<Item = &'a MentionSummary>, now: i64) {
        let incidents = std::mem::take(&mut self.incidents);
        let sink = std::mem::replace(&mut self.sink, Sink::Nowhere);
        let mut n = 0usize;
        for m in mentions {
            self.observe(std::slice::from_ref(m), m.fetched_at.timestamp());
            n += 1;
        }
        self.tick(now);
        self.incidents = incidents;
        self.sink = sink;
        self.update_open_gauge();
        for s in &mut self.streams {
            let rule = &self.config.rules[s.rule].id;
            let open = self
                .incidents
                .get(&(rule.clone(), s.topic.clone()))
                .is_some_and(Incident::is_open);
            if let Detector::Spike(d) = &mut s.detector {
                d.set_incident_open(open);
            }
        }
        info!(
            mentions = n,
            streams = self.streams.len(),
            "alert detectors rebuilt"
        );
    }

    fn passes(rule: &AlertRule, m: &MentionSummary) -> bool {
        rule.label.is_none_or(|l| l == m.label)
            && (rule.intent.is_empty() || rule.intent.contains(&m.intent))
            && (rule.lang.is_empty() || m.lang.is_some_and(|l| rule.lang.contains(&l)))
            && (rule.source.is_empty() || rule.source.contains(&m.source))
    }

    fn stream(&mut self, rule: usize, topic: &str, now: i64) -> usize {
        if let Some(Some(i)) = self
            .stream_index
            .get(&key_hash(topic))
            .and_then(|v| v.get(rule))
        {
            return *i;
        }
        let r = &self.config.rules[rule];
        let detector = match r.kind {
            AlertKind::Spike => {
                let mut d = SpikeDetector::new(SpikeParams::of(r, &self.config.defaults));
                d.advance(now);
                Detector::Spike(Box::new(d))
            }
            AlertKind::Influencer => Detector::Influencer(ReachHistogram::default()),
            _ => Detector::Shift(ShiftDetector::new(r.drop, r.min_mentions)),
        };
        self.streams.push(Stream {
            rule,
            topic: topic.to_owned(),
            detector,
            last_step: now,
            last_fire: i64::MIN,
        });
        let i = self.streams.len() - 1;
        let n = self.config.rules.len();
        let slots = self
            .stream_index
            .entry(key_hash(topic))
            .or_insert_with(|| vec![None; n]);
        slots[rule] = Some(i);
        i
    }

    /// Counts committed mentions at `now` (unix seconds); fires, escalates and
    /// notifies as they tip windows.
    pub fn observe(&mut self, mentions: &[MentionSummary], now: i64) {
        self.advance(now);
        for m in mentions {
            let t = m.fetched_at.timestamp();
            match self.rhythm.get_mut(&m.source) {
                Some(r) => {
                    // A mention after a long gap: a silent incident ends.
                    if t - r.1 > 3600 && self.sink.notifies() {
                        self.source_spoke(&m.source, now);
                    }
                    if let Some(r) = self.rhythm.get_mut(&m.source) {
                        r.1 = r.1.max(t);
                        r.2 += 1;
                    }
                }
                None => {
                    self.rhythm.insert(m.source.clone(), (t, t, 1));
                }
            }
            for topic in &m.topics {
                let topic_key = key_hash(topic);
                for ri in 0..self.config.rules.len() {
                    let rule = &self.config.rules[ri];
                    if matches!(rule.kind, AlertKind::SourceHealth) || !rule.watches(topic) {
                        continue;
                    }
                    let passes = Self::passes(rule, m);
                    let (min_reach, kind) = (rule.min_reach, rule.kind);
                    let known = self
                        .stream_index
                        .get(&topic_key)
                        .and_then(|v| v.get(ri).copied().flatten());
                    let si = match known {
                        Some(si) => si,
                        None => self.stream(ri, topic, now),
                    };
                    let stream = &mut self.streams[si];
                    let signal = match &mut stream.detector {
                        Detector::Spike(d) if passes => d.observe(m),
                        Detector::Spike(_) => None,
                        Detector::Influencer(h) => {
                            let reach = m.reach.unwrap_or(0);
                            let p99 = h.p99(&m.source);
                            h.add(&m.source, reach);
                            let negative = m.label == Label::Negative
                                || m.intent == lauscher_model::Intent::Complaint;
                            (passes
                                && negative
                                && reach >= min_reach.max(p99)
                                && kind == AlertKind::Influencer)
                                .then(|| influencer_signal(m, p99))
                        }
                        Detector::Shift(d) => {
                            let passes_but_label = {
                                let r = &self.config.rules[ri];
                                (r.lang.is_empty() || m.lang.is_some_and(|l| r.lang.contains(&l)))
                                    && (r.source.is_empty() || r.source.contains(&m.source))
                            };
                            if passes_but_label {
                                d.observe(m.label, m.published_at.timestamp())
                                    .map(|s| shift_signal(&s, m.published_at.timestamp()))
                            } else {
                                None
                            }
                        }
                    };
                    if let Some(signal) = signal {
                        self.handle(si, signal, now);
                    }
                }
            }
        }
    }

    /// Moves every detector's clock to `now` and handles what they report.
    fn advance(&mut self, now: i64) {
        for si in 0..self.streams.len() {
            let step = self.config.rules[self.streams[si].rule]
                .step
                .0
                .as_secs()
                .max(1) as i64;
            let signals = match &mut self.streams[si].detector {
                Detector::Spike(d) => d.advance(now),
                Detector::Shift(d) => d
                    .advance(now)
                    .map(|s| vec![shift_signal(&s, now)])
                    .unwrap_or_default(),
                Detector::Influencer(_) => Vec::new(),
            };
            for signal in signals {
                self.handle(si, signal, now);
            }
            // Kinds without windows of their own are quiet in every step they do not fire.
            // Source health resolves on evidence (a good poll, a new mention), not on
            // time: a failing source polled every few hours would flap otherwise.
            let kind = self.config.rules[self.streams[si].rule].kind;
            if !matches!(self.streams[si].detector, Detector::Spike(_))
                && kind != AlertKind::SourceHealth
            {
                while self.streams[si].last_step + step <= now {
                    let end = self.streams[si].last_step + step;
                    self.streams[si].last_step = end;
                    let quiet = end - self.streams[si].last_fire > step;
                    self.handle(si, Signal::Evaluated { at: end, quiet }, now);
                }
            }
        }
    }

    /// Advances the clock: windows, quiet periods, SLA clocks, re-notification,
    /// escalation and acknowledgement timeouts.
    pub fn tick(&mut self, now: i64) {
        self.advance(now);
        if !self.sink.notifies() {
            return;
        }
        self.check_silent(now);
        let keys = self.incidents.open_streams();
        for key in keys {
            // Each tick makes at most a few changes (SLA warning, then escalation...).
            for _ in 0..4 {
                let Some(incident) = self.incidents.get(&key) else {
                    break;
                };
                let escalation = self.escalation_for(&incident.labels);
                let mut next = incident.clone();
                let change = next.apply(
                    &Input::Tick { at: now },
                    &self.config.incidents,
                    escalation.as_ref(),
                );
                let Some(change) = change else { break };
                self.commit(next, change, now);
            }
        }
    }

    /// Resolves the open incident at `key` now (one piece of evidence is enough: it
    /// feeds the quiet windows resolving needs).
    fn resolve_by_evidence(&mut self, key: &(String, String), now: i64) {
        let Some(i) = self.incidents.get(key).filter(|i| i.is_open()) else {
            return;
        };
        let mut next = i.clone();
        let policy = self.config.incidents.clone();
        for _ in 0..policy.resolve_after_quiet {
            let quiet = Input::Evaluated {
                quiet: true,
                at: now,
            };
            if let Some(change) = next.apply(&quiet, &policy, None) {
                self.commit(next, change, now);
                return;
            }
        }
    }

    fn source_spoke(&mut self, source: &str, now: i64) {
        if let Some(ri) = self.source_health_rule() {
            let key = (self.config.rules[ri].id.clone(), source.to_owned());
            self.resolve_by_evidence(&key, now);
        }
    }

    /// The source-health rule, if any (sources are its topics).
    fn source_health_rule(&self) -> Option<usize> {
        self.config
            .rules
            .iter()
            .position(|r| r.kind == AlertKind::SourceHealth)
    }

    /// A source whose expected mentions since its last one exceed `ln(1/α)` is silent:
    /// `P(0 | μ) = e^(−μ) < α`. A 3-per-hour feed is silent after about 3 hours, a blog
    /// posting twice a day after about 4.5 days. Needs a day and 10 mentions of rhythm.
    fn check_silent(&mut self, now: i64) {
        let Some(ri) = self.source_health_rule() else {
            return;
        };
        let alpha = self.config.rules[ri].budget(&self.config.defaults).alpha();
        let limit = (1.0 / alpha).ln();
        let silent: Vec<(String, f64, i64)> = self
            .rhythm
            .iter()
            .filter_map(|(source, &(first, last, n))| {
                let span_h = (last - first) as f64 / 3600.0;
                if n < 10 || span_h < 24.0 {
                    return None;
                }
                let rate = n as f64 / span_h;
                let expected = rate * (now - last) as f64 / 3600.0;
                (expected > limit).then(|| (source.clone(), expected, last))
            })
            .collect();
        let rule_id = self.config.rules[ri].id.clone();
        for (source, expected, last) in silent {
            let open = self
                .incidents
                .get(&(rule_id.clone(), source.clone()))
                .is_some_and(Incident::is_open);
            if open {
                continue;
            }
            let evidence = Evidence {
                observed: 0,
                expected,
                p_value: (-expected).exp(),
                window_start: last - last.rem_euclid(300),
                window_end: now,
                first_post: last,
                test: "source_health".into(),
                detail: Some(
                    serde_json::json!({"source": source, "state": "silent", "last_mention": last}),
                ),
                ..Evidence::default()
            };
            let si = self.stream(ri, &source, now);
            self.handle(si, Signal::Fire { level: 1, evidence }, now);
        }
    }

    /// The escalation policy of the routes `labels` reach; without one, Alertmanager's
    /// `repeat_interval`: the same receivers again at that pace while unacknowledged.
    fn escalation_for(&self, labels: &Labels) -> Option<lauscher_config::Escalation> {
        let routed = route(&self.config.routing, labels);
        if let Some(e) = routed.iter().find_map(|r| r.escalation.cloned()) {
            return Some(e);
        }
        let repeat = routed.iter().map(|r| r.group.repeat).min()?;
        Some(lauscher_config::Escalation {
            renotify: lauscher_config::HumanDuration(repeat),
            after: lauscher_config::HumanDuration(repeat),
            receivers: Vec::new(),
            loops: u32::MAX,
        })
    }

    /// Records a poll of `source`: `Ok(())` or an error with its HTTP status, if any.
    pub fn source_polled(
        &mut self,
        source: &str,
        result: Result<(), (Option<u16>, String)>,
        now: i64,
    ) {
        let Some(ri) = self.source_health_rule() else {
            return;
        };
        let key = (self.config.rules[ri].id.clone(), source.to_owned());
        match result {
            Ok(()) => {
                self.failures.remove(source);
                // A good poll ends "failing" and "broken", not "silent" (a silent feed
                // answers fine, with nothing new).
                let failing = self.incidents.get(&key).is_some_and(|i| {
                    i.is_open()
                        && i.evidence
                            .detail
                            .as_ref()
                            .is_none_or(|d| d["state"] != "silent")
                });
                if failing {
                    self.resolve_by_evidence(&key, now);
                }
            }
            Err((status, error)) => {
                let n = self.failures.entry(source.to_owned()).or_default();
                *n += 1;
                let broken = matches!(status, Some(401 | 403 | 410));
                if *n >= self.config.rules[ri].failures || broken {
                    let evidence = Evidence {
                        observed: *n,
                        window_start: now - now.rem_euclid(300),
                        window_end: now,
                        first_post: now,
                        test: "source_health".into(),
                        detail: Some(serde_json::json!({
                            "source": source,
                            "state": if broken { "broken" } else { "failing" },
                            "status": status,
                            "error": error,
                        })),
                        ..Evidence::default()
                    };
                    let si = self.stream(ri, source, now);
                    self.handle(si, Signal::Fire { level: 1, evidence }, now);
                }
            }
        }
    }

    fn handle(&mut self, si: usize, signal: Signal, now: i64) {
        if let Signal::Fire { .. } = signal {
            self.streams[si].last_fire = now;
        }
        let rule_i = self.streams[si].rule;
        let topic = self.streams[si].topic.clone();
        let key = (self.config.rules[rule_i].id.clone(), topic.clone());
        let policy = self.config.incidents.clone();
        let existing = self.incidents.get(&key).cloned();
        match signal {
            Signal::Fire { level, evidence } => {
                let rule = self.config.rules[rule_i].clone();
                if self.sink.notifies() {
                    METRICS
                        .alerts_total
                        .with_label_values(&[&rule.id, "fired"])
                        .inc();
                }
                if let Some(current) = existing {
                    let mut next = current.clone();
                    let escalation = self.escalation_for(&current.labels);
                    let input = Input::Fire {
                        level,
                        evidence: evidence.clone(),
                        at: now,
                    };
                    if let Some(change) = next.apply(&input, &policy, escalation.as_ref()) {
                        self.commit(next, change, now);
                        return;
                    }
                    if current.is_open() || current.hold {
                        // Numbers only: keep the newest in memory and in the store.
                        self.save_quietly(next);
                        return;
                    }
                    if current
                        .resolved_at
                        .is_some_and(|r| now - r <= policy.reopen_within.0.as_secs() as i64)
                    {
                        return;
                    }
                    self.sink.closed(current);
                }
                let mut labels = BTreeMap::new();
                labels.insert(
                    "intent".to_owned(),
                    if rule.intent.len() == 1 {
                        rule.intent[0].as_str().to_owned()
                    } else {
                        String::new()
                    },
                );
                labels.insert(
                    "lang".to_owned(),
                    rule.language(&self.config.defaults).to_owned(),
                );
                labels.insert(
                    "source".to_owned(),
                    if rule.kind == AlertKind::SourceHealth {
                        topic.clone()
                    } else {
                        rule.source.join(",")
                    },
                );
                let incident = Incident::open(
                    &rule.id,
                    &topic,
                    rule.kind.as_str(),
                    level,
                    evidence,
                    now,
                    labels,
                );
                self.commit_open(incident, now);
            }
            Signal::Evaluated { quiet, at } => {
                if let Some(current) = existing {
                    let mut next = current;
                    let changed = next.apply(&Input::Evaluated { quiet, at }, &policy, None);
                    match changed {
                        Some(change) => self.commit(next, change, now),
                        None => {
                            self.incidents.insert(next);
                        }
                    }
                }
            }
        }
    }

    fn set_detector_open(&mut self, rule: &str, topic: &str, open: bool) {
        if let Some(ri) = self.config.rules.iter().position(|r| r.id == rule)
            && let Some(Some(si)) = self
                .stream_index
                .get(&key_hash(topic))
                .and_then(|v| v.get(ri))
                .copied()
            && let Detector::Spike(d) = &mut self.streams[si].detector
        {
            d.set_incident_open(open);
        }
    }

    fn commit_open(&mut self, incident: Incident, now: i64) {
        if self.sink.notifies() {
            info!(rule = %incident.rule, topic = %incident.topic, level = incident.level, observed = incident.evidence.observed, expected = incident.evidence.expected, "incident opened");
        }
        self.commit_event(incident, "opened", serde_json::json!({}), now);
    }

    fn commit(&mut self, incident: Incident, change: Change, now: i64) {
        let detail = match &change {
            Change::Escalated { from } => serde_json::json!({"from": from, "to": incident.level}),
            Change::Resolved { by } => serde_json::json!({"by": by}),
            Change::Acknowledged => serde_json::json!({"by": incident.acked_by}),
            _ => serde_json::json!({}),
        };
        if self.sink.notifies() {
            info!(rule = %incident.rule, topic = %incident.topic, event = change.event(), level = incident.level, "incident changed");
        }
        self.commit_event(incident, change.event(), detail, now);
    }

    fn save_quietly(&mut self, incident: Incident) {
        let key = (incident.rule.clone(), incident.topic.clone());
        let peak_rose = self
            .incidents
            .get(&key)
            .is_none_or(|i| incident.evidence.observed > i.evidence.observed);
        if peak_rose {
            self.sink.save_numbers(&incident);
        }
        self.incidents.insert(incident);
    }

    /// Receivers for `event` of `incident`, each with the time it may go out (mute,
    /// then grouping).
    ///
    /// Grouping holds back only news of *new* incidents (opened, reopened, repeats)
    /// below level 3 in a group that notified within `group_interval`: they go out
    /// together at the group's next slot. Updates of an incident the receiver already
    /// knows (escalated, acknowledged, resolved, SLA) and shitstorms go at once: a late
    /// page is worse than a second message.
    fn recipients(&mut self, incident: &Incident, event: &str, tz: Tz, now: i64) -> Vec<Recipient> {
        let batched = matches!(event, "opened" | "reopened" | "renotified") && incident.level < 3;
        let mut out: Vec<Recipient> = Vec::new();
        for routed in route(&self.config.routing, &incident.labels) {
            let mut push = |r: &str, at: i64| {
                if !out.iter().any(|x| x.receiver == r) {
                    out.push(Recipient {
                        receiver: r.to_owned(),
                        not_before: at,
                        group_key: routed.group.key(&routed.path, &incident.labels),
                        wait: routed.group.wait.as_secs() as i64,
                        interval: routed.group.interval.as_secs() as i64,
                    });
                }
            };
            let not_before = muted_until(routed.mute, incident.level, tz, now).unwrap_or(now);
            let escalation_receivers: Vec<String> = routed
                .escalation
                .map(|e| e.receivers.clone())
                .unwrap_or_default();
            match event {
                "escalation_step" => {
                    for r in &escalation_receivers {
                        push(r, now);
                    }
                }
                "receiver_health" => {}
                "resolved" | "acknowledged" => {
                    if event == "acknowledged" || routed.send_resolved {
                        for r in &routed.receivers {
                            push(r, now);
                        }
                        if incident.escalated {
                            for r in &escalation_receivers {
                                push(r, now);
                            }
                        }
                    }
                }
                _ => {
                    for r in &routed.receivers {
                        push(r, not_before);
                    }
                    if incident.escalated {
                        for r in &escalation_receivers {
                            push(r, now);
                        }
                    }
                }
            }
        }
        for r in &mut out {
            r.not_before = self.groups.schedule(r, batched, now);
        }
        out
    }

    /// Whether a silence in force matches, or a stronger incident inhibits this one.
    fn suppressed(&self, incident: &Incident, now: i64) -> Option<&'static str> {
        for s in self
            .sink
            .silences(now)
            .iter()
            .filter(|s| s.starts_at <= now)
        {
            let matchers: Vec<Matcher> = serde_json::from_str::<Vec<String>>(&s.matchers)
                .unwrap_or_default()
                .iter()
                .filter_map(|m| m.parse().ok())
                .collect();
            if !matchers.is_empty() && matchers.iter().all(|m| matches(m, &incident.labels)) {
                return Some("silenced");
            }
        }
        for other in self
            .incidents
            .iter()
            .filter(|o| o.is_open() && o.topic == incident.topic && o.rule != incident.rule)
        {
            // A shitstorm on a topic mutes lesser incidents there; an open spike mutes
            // the slower views of the same wave.
            if other.level == 3 && incident.level < 3 {
                return Some("inhibited");
            }
            if other.kind == "spike" && incident.kind == "sentiment_shift" {
                return Some("inhibited");
            }
        }
        None
    }

    /// Commits one transition of `incident`: plans its notifications (render, route,
    /// group, mute, silence, inhibit), writes the timeline row, hands both to the sink,
    /// and books the incident.
    fn commit_event(
        &mut self,
        mut incident: Incident,
        event: &str,
        detail: serde_json::Value,
        now: i64,
    ) {
        if incident.id == 0 {
            // Reserve the id, so the first messages name the incident users ack.
            incident.id = self.sink.next_id(self.incidents.len());
        }
        let suppressed = self.suppressed(&incident, now);
        let outbox = if self.sink.notifies() {
            METRICS
                .alerts_total
                .with_label_values(&[&incident.rule, event])
                .inc();
            self.notifications(&incident, event, suppressed, now)
        } else {
            Vec::new()
        };
        let timeline = timeline_row(&incident, event, detail, suppressed, &outbox, now);
        let receivers = &self.config.receivers;
        let coalesces = |r: &str| {
            receivers
                .iter()
                .find(|rc| rc.id == r)
                .is_some_and(|rc| crate::receiver::of(rc.kind).groups())
        };
        if !self
            .sink
            .record(&mut incident, now, timeline, &outbox, &coalesces)
        {
            return;
        }
        self.book(incident);
    }

    /// The notifications of `event` of `incident`: its message rendered in the rule's
    /// language, routed to receivers at the times mutes and grouping allow, held back
    /// (`Silenced`) when `suppressed`.
    fn notifications(
        &mut self,
        incident: &Incident,
        event: &str,
        suppressed: Option<&'static str>,
        now: i64,
    ) -> Vec<OutboxRow> {
        let rule = self
            .config
            .rules
            .iter()
            .find(|r| r.id == incident.rule)
            .cloned();
        let defaults = &self.config.defaults;
        let lang = rule
            .as_ref()
            .map_or(defaults.language.as_str(), |r| r.language(defaults))
            .to_owned();
        let tz: Tz = rule
            .as_ref()
            .map_or(defaults.timezone.0, |r| r.timezone(defaults));
        let message = self.templates.render(
            &lang,
            incident,
            event,
            rule.as_ref(),
            &self.config.incidents,
            now,
            None,
        );
        let recipients = self.recipients(incident, event, tz, now);
        recipients
            .iter()
            .filter_map(|recipient| {
                let r = &recipient.receiver;
                let rc = self.config.receivers.iter().find(|rc| &rc.id == r)?;
                let status = match suppressed {
                    Some(why) => {
                        METRICS
                            .notifications_total
                            .with_label_values(&[r, why])
                            .inc();
                        OutboxStatus::Silenced
                    }
                    None => OutboxStatus::Pending,
                };
                Some(OutboxRow {
                    id: 0,
                    incident_id: incident.id,
                    version: incident.version,
                    receiver: r.clone(),
                    idempotency_key: String::new(),
                    event: event.to_owned(),
                    body: crate::receiver::of(rc.kind)
                        .incident(incident, event, &message, rc)
                        .to_string(),
                    status,
                    attempts: 0,
                    created_at: now,
                    next_attempt_at: recipient.not_before,
                    expires_at: recipient.not_before + rc.ttl.0.as_secs() as i64,
                    sent_at: None,
                    last_error: None,
                    group_key: recipient.group_key.clone(),
                })
            })
            .collect()
    }

    /// Keeps `incident` as the newest of its stream and tells the detector whether an
    /// incident is open there.
    fn book(&mut self, incident: Incident) {
        let open = incident.is_open();
        let (rule_id, topic) = (incident.rule.clone(), incident.topic.clone());
        self.incidents.insert(incident);
        self.set_detector_open(&rule_id, &topic, open);
        self.update_open_gauge();
    }

    fn update_open_gauge(&self) {
        METRICS.incidents_open.reset();
        for i in self.incidents.iter().filter(|i| i.is_open()) {
            METRICS
                .incidents_open
                .with_label_values(&[&i.level.to_string()])
                .inc();
        }
    }

    fn find(&self, id: i64) -> Result<Incident, RouterError> {
        self.incidents
            .by_id(id)
            .cloned()
            .ok_or(RouterError::NotFound(id))
    }

    /// Acknowledges incident `id`.
    pub fn ack(&mut self, id: i64, by: &str, now: i64) -> Result<Incident, RouterError> {
        self.manual(
            id,
            Input::Ack {
                by: by.to_owned(),
                at: now,
            },
            now,
        )
    }

    /// Resolves incident `id` by hand.
    pub fn resolve(&mut self, id: i64, by: &str, now: i64) -> Result<Incident, RouterError> {
        self.manual(
            id,
            Input::Resolve {
                by: by.to_owned(),
                at: now,
            },
            now,
        )
    }

    fn manual(&mut self, id: i64, input: Input, now: i64) -> Result<Incident, RouterError> {
        let current = self.find(id)?;
        let mut next = current.clone();
        match next.apply(&input, &self.config.incidents, None) {
            Some(change) => {
                self.commit(next.clone(), change, now);
                Ok(self.find(id).unwrap_or(next))
            }
            None => Err(RouterError::Conflict {
                id,
                status: current.status.as_str(),
            }),
        }
    }

    /// Incidents a backtest opened, oldest first, with those still open at the end.
    pub fn into_history(self) -> (Vec<Incident>, Vec<PlannedNotification>) {
        let (mut history, planned) = self.sink.into_kept();
        let mut open: Vec<Incident> = self.incidents.into_incidents();
        open.sort_by_key(|i| i.opened_at);
        history.extend(open);
        history.sort_by_key(|i| (i.opened_at, i.rule.clone(), i.topic.clone()));
        (history, planned)
    }

    /// Every spike stream with its budget and the calibration its own history gave
    /// its window test.
    pub fn spike_streams(&self) -> Vec<SpikeStream> {
        self.streams
            .iter()
            .filter_map(|s| match &s.detector {
                Detector::Spike(d) => {
                    let rule = &self.config.rules[s.rule];
                    Some(SpikeStream {
                        rule: rule.id.clone(),
                        topic: s.topic.clone(),
                        budget_per_90d: rule.budget(&self.config.defaults).per_90d(),
                        calibration: d.calibration().copied(),
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Whether any incident is open (its timers need the clock).
    pub fn any_open(&self) -> bool {
        self.incidents.unresolved().next().is_some()
    }

    /// Open incidents, for status pages.
    pub fn open_incidents(&self) -> Vec<&Incident> {
        self.incidents.unresolved().collect()
    }
}

/// The timeline row of a transition: `detail` with the numbers and who was notified
/// (or why nobody was).
fn timeline_row(
    incident: &Incident,
    event: &str,
    mut detail: serde_json::Value,
    suppressed: Option<&'static str>,
    outbox: &[OutboxRow],
    now: i64,
) -> TimelineRow {
    if let Some(obj) = detail.as_object_mut() {
        if let Some(why) = suppressed {
            obj.insert("notifications".into(), serde_json::json!(why));
        }
        obj.insert("level".into(), serde_json::json!(incident.level));
        obj.insert(
            "observed".into(),
            serde_json::json!(incident.evidence.observed),
        );
        obj.insert(
            "expected".into(),
            serde_json::json!(incident.evidence.expected),
        );
        obj.insert(
            "receivers".into(),
            serde_json::json!(
                outbox
                    .iter()
                    .map(|o| o.receiver.as_str())
                    .collect::<Vec<_>>()
            ),
        );
    }
    TimelineRow {
        version: incident.version,
        at: now,
        event: event.to_owned(),
        detail: detail.to_string(),
    }
}

fn influencer_signal(m: &MentionSummary, p99: u64) -> Signal {
    let t = m.published_at.timestamp();
    Signal::Fire {
        level: 2,
        evidence: Evidence {
            observed: 1,
            window_start: t - t.rem_euclid(300),
            window_end: t,
            authors: 1,
            sources: 1,
            samples: vec![Sample::of(m)],
            first_post: t,
            test: "influencer".into(),
            detail: Some(serde_json::json!({"reach": m.reach, "source_p99": p99})),
            ..Evidence::default()
        },
    }
}

fn shift_signal(s: &crate::shift::Shift, at: i64) -> Signal {
    Signal::Fire {
        level: 1,
        evidence: Evidence {
            observed: s.negative,
            window_start: at - at.rem_euclid(3600) - 86_400,
            window_end: at,
            window_minutes: 24 * 60,
            first_post: at - 86_400,
            test: "sentiment_shift".into(),
            detail: Some(
                serde_json::json!({"nss": s.nss, "baseline": s.baseline, "z": s.z, "n": s.n}),
            ),
            ..Evidence::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use lauscher_model::Intent;

    fn mention(source: &str, n: u64, t: i64) -> MentionSummary {
        MentionSummary {
            source: source.into(),
            score: 0.0,
            label: Label::Neutral,
            intent: Intent::Other,
            ..lauscher_testkit::summary(n, t)
        }
    }

    #[test]
    fn group_clock_batches_new_incidents_and_lets_updates_through() {
        let mut clock = GroupClock::default();
        let r = |not_before| Recipient {
            receiver: "chat".into(),
            not_before,
            group_key: "0|acme".into(),
            wait: 30,
            interval: 300,
        };
        let t = 1_000_000;
        assert_eq!(clock.schedule(&r(t), true, t), t + 30, "a new group waits");
        assert_eq!(
            clock.schedule(&r(t), true, t + 10),
            t + 30,
            "joins the batch"
        );
        assert_eq!(
            clock.schedule(&r(t), true, t + 100),
            t + 330,
            "after the group notified: its next slot"
        );
        assert_eq!(
            clock.schedule(&r(t), false, t + 101),
            t + 101,
            "updates go at once"
        );
        assert_eq!(
            clock.schedule(&r(t + 5000), false, t + 102),
            t + 5000,
            "a mute still holds"
        );
        assert_eq!(
            clock.schedule(&r(t), true, t + 10_000),
            t + 10_030,
            "a group quiet for longer than its interval starts anew"
        );
    }

    #[test]
    fn a_route_without_escalation_repeats_at_its_repeat_interval() {
        let text = "version: 1
rules:
  - {id: s, kind: spike, topics: [acme]}
routing:
  repeat_interval: 2h
  routes:
    - matchers: ['level=\"3\"']
      escalation: {renotify: 10m, after: 10m}
";
        let config = AlertingConfig::parse(text, "t", &[], &|_| None).expect("config");
        let templates = Templates::load(std::path::Path::new("/nonexistent")).expect("bundled");
        let router =
            AlertRouter::new(config, templates, None, Arc::new(Notify::new()), 0).expect("router");
        let mut labels = Labels::new();
        labels.insert("level".into(), "1".into());
        let e = router.escalation_for(&labels).expect("repeat");
        assert_eq!(e.renotify.0.as_secs(), 7200);
        assert!(e.receivers.is_empty());
        labels.insert("level".into(), "3".into());
        let e = router.escalation_for(&labels).expect("escalation");
        assert_eq!(e.renotify.0.as_secs(), 600);
    }

    #[test]
    fn a_source_silent_far_beyond_its_rhythm_opens_and_a_new_post_resolves() {
        let text = "version: 1\nrules:\n  - {id: sources, kind: source_health}\n";
        let config = AlertingConfig::parse(text, "t", &[], &|_| None).expect("config");
        let templates = Templates::load(std::path::Path::new("/nonexistent")).expect("bundled");
        let t0 = 1_767_571_200;
        let mut r =
            AlertRouter::new(config, templates, None, Arc::new(Notify::new()), t0).expect("router");
        // Hourly for two days.
        for h in 0..48 {
            let t = t0 + h * 3600;
            r.observe(&[mention("blog", h as u64, t)], t);
        }
        let last = t0 + 47 * 3600;
        r.tick(last + 5 * 3600);
        assert!(
            r.open_incidents().is_empty(),
            "5 h of silence is not yet unusual at 1/h"
        );
        r.tick(last + 10 * 3600);
        assert_eq!(
            r.open_incidents().len(),
            1,
            "10 h silent at 1/h: P(0) = e^-10"
        );
        r.tick(last + 11 * 3600);
        assert_eq!(
            r.open_incidents().len(),
            1,
            "one incident, not one per tick"
        );
        let t = last + 12 * 3600;
        r.observe(&[mention("blog", 99, t)], t);
        assert!(r.open_incidents().is_empty(), "speaking again resolves it");
        let (history, planned) = r.into_history();
        assert_eq!(history.len(), 1);
        assert!(planned.is_empty(), "no receivers configured");
    }
}
