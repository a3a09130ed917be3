//! The incident state machine: one incident per (rule, topic) wave.
//!
//! ```text
//!            fire                    ack                      quiet × N / resolve
//!   (none) ───────▶ firing ─────────────────▶ acknowledged ─────────────────────▶ resolved
//!                    ▲  │ level rises: notify   │ ack timeout (4h)                 │
//!                    │  └───────────────────────┴──────────▶ firing                │
//!                    └─────────────── fires again within 2h: reopen ───────────────┘
//! ```
//!
//! Pure: [`Incident::apply`] takes an input and the policy and returns the change it
//! made, if any; every change bumps the version, and the router stores the incident,
//! a timeline row and the notifications for that version in one transaction. An open
//! incident's level only rises. A manual resolve holds the incident quiet until the
//! stream has had a quiet window, so a still-running wave does not reopen it at once.

use std::collections::BTreeMap;
use std::time::Duration;

use lauscher_config::{Escalation, IncidentPolicy};
use serde::{Deserialize, Serialize};

use crate::detector::Evidence;

/// Where an incident stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Open and nobody has acknowledged it.
    Firing,
    /// Someone is on it.
    Acknowledged,
    /// Over.
    Resolved,
}

impl Status {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }
}

/// What happens to an incident.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The detector fires at `level`.
    Fire {
        /// Severity.
        level: u8,
        /// The numbers.
        evidence: Evidence,
        /// When (unix seconds).
        at: i64,
    },
    /// A window completed; `quiet` counts towards resolving.
    Evaluated {
        /// Whether it was quiet.
        quiet: bool,
        /// When.
        at: i64,
    },
    /// Someone acknowledges.
    Ack {
        /// Who.
        by: String,
        /// When.
        at: i64,
    },
    /// Someone resolves by hand.
    Resolve {
        /// Who.
        by: String,
        /// When.
        at: i64,
    },
    /// Time passes: ack timeout, SLA, re-notification and escalation.
    Tick {
        /// Now.
        at: i64,
    },
}

/// A change an input made: each one is a new version and a timeline row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Fired again after resolving, within the reopen window.
    Reopened,
    /// The level rose.
    Escalated {
        /// The old level.
        from: u8,
    },
    /// Someone acknowledged.
    Acknowledged,
    /// Acknowledged too long without resolving: firing again.
    AckTimedOut,
    /// Quiet long enough, or resolved by hand.
    Resolved {
        /// Who resolved it by hand (`None`: it went quiet).
        by: Option<String>,
    },
    /// Still unacknowledged: tell the same receivers again.
    Renotified,
    /// Still unacknowledged: tell the next level's receivers.
    EscalationStep,
    /// The SLA clock is about to run out.
    SlaWarning,
    /// The SLA clock ran out unacknowledged.
    SlaBreached,
}

impl Change {
    /// The event name in timelines, notifications and templates.
    pub fn event(&self) -> &'static str {
        match self {
            Change::Reopened => "reopened",
            Change::Escalated { .. } => "escalated",
            Change::Acknowledged => "acknowledged",
            Change::AckTimedOut => "ack_timeout",
            Change::Resolved { .. } => "resolved",
            Change::Renotified => "renotified",
            Change::EscalationStep => "escalation_step",
            Change::SlaWarning => "sla_warning",
            Change::SlaBreached => "sla_breached",
        }
    }
}

/// One incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Row id in the state store (0 before it is stored).
    pub id: i64,
    /// The alert rule.
    pub rule: String,
    /// The topic (or source, for source health).
    pub topic: String,
    /// The rule's kind.
    pub kind: String,
    /// Start of the window that opened it (unix seconds); with rule and topic, the key.
    pub window_start: i64,
    /// Where it stands.
    pub status: Status,
    /// 1 watch, 2 escalate, 3 shitstorm.
    pub level: u8,
    /// Bumped by every change.
    pub version: u32,
    /// Opened at (unix seconds).
    pub opened_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// Resolved at.
    pub resolved_at: Option<i64>,
    /// Acknowledged at.
    pub acked_at: Option<i64>,
    /// By whom.
    pub acked_by: Option<String>,
    /// Resolved by hand, by whom.
    pub resolved_by: Option<String>,
    /// The SLA clock's start: the first post of the wave.
    pub sla_start: i64,
    /// The SLA warning went out.
    pub sla_warned: bool,
    /// The SLA ran out.
    pub sla_breached: bool,
    /// The next level's receivers were told.
    pub escalated: bool,
    /// Re-notifications sent since it last (re)opened.
    pub renotified: u32,
    /// Last notification (for re-notification).
    pub notified_at: i64,
    /// Quiet windows in a row.
    pub quiet: u32,
    /// Resolved by hand: stays resolved until a quiet window.
    pub hold: bool,
    /// The latest numbers.
    pub evidence: Evidence,
    /// The highest count seen.
    pub peak: u32,
    /// Labels routes and silences match on.
    pub labels: BTreeMap<String, String>,
    /// PagerDuty `dedup_key`: `lauscher:<rule>:<topic>:<window_start>`.
    pub dedup_key: String,
}

/// PagerDuty limits `dedup_key` to 255 characters.
const DEDUP_KEY_MAX: usize = 255;

fn secs(d: Duration) -> i64 {
    d.as_secs() as i64
}

impl Incident {
    /// Opens an incident for a first firing.
    pub fn open(
        rule: &str,
        topic: &str,
        kind: &str,
        level: u8,
        evidence: Evidence,
        at: i64,
        mut labels: BTreeMap<String, String>,
    ) -> Incident {
        let window_start = evidence.window_start;
        let mut dedup_key = format!("lauscher:{rule}:{topic}:{window_start}");
        if dedup_key.len() > DEDUP_KEY_MAX {
            let hash = xxhash(topic);
            dedup_key = format!("lauscher:{rule}:{hash:016x}:{window_start}");
        }
        labels.insert("rule".into(), rule.into());
        labels.insert("topic".into(), topic.into());
        labels.insert("kind".into(), kind.into());
        labels.insert("level".into(), level.to_string());
        labels.insert("status".into(), Status::Firing.as_str().into());
        Incident {
            id: 0,
            rule: rule.into(),
            topic: topic.into(),
            kind: kind.into(),
            window_start,
            status: Status::Firing,
            level,
            version: 1,
            opened_at: at,
            updated_at: at,
            resolved_at: None,
            acked_at: None,
            acked_by: None,
            resolved_by: None,
            sla_start: evidence.first_post.min(at),
            sla_warned: false,
            sla_breached: false,
            escalated: false,
            renotified: 0,
            notified_at: at,
            quiet: 0,
            hold: false,
            peak: evidence.observed,
            evidence,
            labels,
            dedup_key,
        }
    }

    /// Whether it is firing or acknowledged.
    pub fn is_open(&self) -> bool {
        self.status != Status::Resolved
    }

    /// Applies `input`; returns the change, if any (then the version was bumped).
    pub fn apply(
        &mut self,
        input: &Input,
        policy: &IncidentPolicy,
        escalation: Option<&Escalation>,
    ) -> Option<Change> {
        let change = self.decide(input, policy, escalation)?;
        self.version += 1;
        self.updated_at = match input {
            Input::Fire { at, .. }
            | Input::Evaluated { at, .. }
            | Input::Ack { at, .. }
            | Input::Resolve { at, .. }
            | Input::Tick { at } => *at,
        };
        self.labels.insert("level".into(), self.level.to_string());
        self.labels
            .insert("status".into(), self.status.as_str().into());
        Some(change)
    }

    fn decide(
        &mut self,
        input: &Input,
        policy: &IncidentPolicy,
        escalation: Option<&Escalation>,
    ) -> Option<Change> {
        match input {
            Input::Fire {
                level,
                evidence,
                at,
            } => {
                self.quiet = 0;
                self.peak = self.peak.max(evidence.observed);
                match self.status {
                    Status::Resolved => {
                        let recent = self
                            .resolved_at
                            .is_some_and(|r| *at - r <= secs(policy.reopen_within.0));
                        if self.hold || !recent {
                            return None;
                        }
                        self.status = Status::Firing;
                        self.level = *level;
                        self.evidence = evidence.clone();
                        self.resolved_at = None;
                        self.resolved_by = None;
                        self.acked_at = None;
                        self.acked_by = None;
                        self.renotified = 0;
                        self.escalated = false;
                        self.notified_at = *at;
                        Some(Change::Reopened)
                    }
                    Status::Firing | Status::Acknowledged => {
                        if evidence.observed >= self.evidence.observed
                            || evidence.window_end > self.evidence.window_end
                        {
                            let mut e = evidence.clone();
                            // Numbers-only updates keep the posts and phrases quoted last.
                            if e.samples.is_empty() {
                                e.samples = std::mem::take(&mut self.evidence.samples);
                                e.phrases = std::mem::take(&mut self.evidence.phrases);
                                e.authors = e.authors.max(self.evidence.authors);
                                e.first_post = self.evidence.first_post;
                            }
                            self.evidence = e;
                        }
                        if *level > self.level {
                            let from = self.level;
                            self.level = *level;
                            self.notified_at = *at;
                            Some(Change::Escalated { from })
                        } else {
                            None
                        }
                    }
                }
            }
            Input::Evaluated { quiet, at } => {
                if !quiet {
                    self.quiet = 0;
                    return None;
                }
                self.quiet += 1;
                if self.status == Status::Resolved {
                    self.hold = false;
                    return None;
                }
                if self.quiet >= policy.resolve_after_quiet {
                    self.status = Status::Resolved;
                    self.resolved_at = Some(*at);
                    return Some(Change::Resolved { by: None });
                }
                None
            }
            Input::Ack { by, at } => {
                if self.status != Status::Firing {
                    return None;
                }
                self.status = Status::Acknowledged;
                self.acked_at = Some(*at);
                self.acked_by = Some(by.clone());
                Some(Change::Acknowledged)
            }
            Input::Resolve { by, at } => {
                if self.status == Status::Resolved {
                    return None;
                }
                self.status = Status::Resolved;
                self.resolved_at = Some(*at);
                self.resolved_by = Some(by.clone());
                self.hold = true;
                Some(Change::Resolved {
                    by: Some(by.clone()),
                })
            }
            Input::Tick { at } => {
                let at = *at;
                match self.status {
                    Status::Resolved => None,
                    Status::Acknowledged => {
                        let timed_out = self
                            .acked_at
                            .is_some_and(|a| at - a >= secs(policy.ack_timeout.0));
                        if !timed_out {
                            return None;
                        }
                        self.status = Status::Firing;
                        self.acked_at = None;
                        self.acked_by = None;
                        self.renotified = 0;
                        self.notified_at = at;
                        Some(Change::AckTimedOut)
                    }
                    Status::Firing => {
                        if !self.sla_breached && at - self.sla_start >= secs(policy.sla.0) {
                            self.sla_breached = true;
                            self.sla_warned = true;
                            return Some(Change::SlaBreached);
                        }
                        if !self.sla_warned && at - self.sla_start >= secs(policy.sla_warn.0) {
                            self.sla_warned = true;
                            return Some(Change::SlaWarning);
                        }
                        let e = escalation?;
                        if !self.escalated
                            && !e.receivers.is_empty()
                            && at - self.opened_at >= secs(e.after.0)
                        {
                            self.escalated = true;
                            self.notified_at = at;
                            return Some(Change::EscalationStep);
                        }
                        if self.renotified < e.loops && at - self.notified_at >= secs(e.renotify.0)
                        {
                            self.renotified += 1;
                            self.notified_at = at;
                            return Some(Change::Renotified);
                        }
                        None
                    }
                }
            }
        }
    }

    /// Minutes left on the SLA clock at `at` (negative once it ran out).
    pub fn sla_minutes_left(&self, policy: &IncidentPolicy, at: i64) -> i64 {
        (self.sla_start + secs(policy.sla.0) - at).div_euclid(60)
    }
}

fn xxhash(s: &str) -> u64 {
    // FNV-1a: stable across builds and platforms, enough to shorten a key.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use lauscher_config::value::HumanDuration;
    use proptest::prelude::*;

    fn evidence(observed: u32, at: i64) -> Evidence {
        Evidence {
            observed,
            window_start: at - 3600,
            window_end: at,
            first_post: at - 600,
            ..Evidence::default()
        }
    }

    fn escalation() -> Escalation {
        Escalation {
            renotify: HumanDuration(Duration::from_secs(900)),
            after: HumanDuration(Duration::from_secs(900)),
            receivers: vec!["duty".into()],
            loops: 2,
        }
    }

    #[test]
    fn lifecycle_with_escalation_sla_and_reopen() {
        let policy = IncidentPolicy::default();
        let esc = escalation();
        let t0 = 1_000_000;
        let mut i = Incident::open(
            "r",
            "acme",
            "spike",
            1,
            evidence(6, t0),
            t0,
            BTreeMap::new(),
        );
        let tick = |i: &mut Incident, at| i.apply(&Input::Tick { at }, &policy, Some(&esc));
        assert_eq!(tick(&mut i, t0 + 60), None);
        assert_eq!(tick(&mut i, t0 + 900), Some(Change::EscalationStep));
        assert_eq!(tick(&mut i, t0 + 1800), Some(Change::Renotified));
        // The SLA clock started 10 minutes before opening: warn at 45, breach at 60.
        assert_eq!(tick(&mut i, t0 + 35 * 60), Some(Change::SlaWarning));
        let fire = Input::Fire {
            level: 2,
            evidence: evidence(30, t0 + 2400),
            at: t0 + 2400,
        };
        assert_eq!(
            i.apply(&fire, &policy, None),
            Some(Change::Escalated { from: 1 })
        );
        let ack = Input::Ack {
            by: "ana".into(),
            at: t0 + 2500,
        };
        assert_eq!(i.apply(&ack, &policy, None), Some(Change::Acknowledged));
        assert_eq!(
            i.apply(&ack, &policy, None),
            None,
            "acknowledging twice changes nothing"
        );
        for k in 0..3 {
            let quiet = Input::Evaluated {
                quiet: true,
                at: t0 + 3000 + k * 300,
            };
            let change = i.apply(&quiet, &policy, None);
            assert_eq!(change.is_some(), k == 2);
        }
        assert_eq!(i.status, Status::Resolved);
        let again = Input::Fire {
            level: 1,
            evidence: evidence(7, t0 + 4000),
            at: t0 + 4000,
        };
        assert_eq!(i.apply(&again, &policy, None), Some(Change::Reopened));
    }

    #[test]
    fn manual_resolve_holds_until_quiet() {
        let policy = IncidentPolicy::default();
        let mut i = Incident::open("r", "t", "spike", 1, evidence(6, 0), 0, BTreeMap::new());
        let resolve = Input::Resolve {
            by: "ana".into(),
            at: 10,
        };
        assert!(i.apply(&resolve, &policy, None).is_some());
        let fire = Input::Fire {
            level: 1,
            evidence: evidence(8, 20),
            at: 20,
        };
        assert_eq!(i.apply(&fire, &policy, None), None);
        i.apply(
            &Input::Evaluated {
                quiet: true,
                at: 30,
            },
            &policy,
            None,
        );
        assert_eq!(i.apply(&fire, &policy, None), Some(Change::Reopened));
    }

    #[test]
    fn ack_times_out() {
        let policy = IncidentPolicy::default();
        let mut i = Incident::open("r", "t", "spike", 1, evidence(6, 0), 0, BTreeMap::new());
        i.apply(
            &Input::Ack {
                by: "a".into(),
                at: 1,
            },
            &policy,
            None,
        );
        assert_eq!(i.apply(&Input::Tick { at: 3600 }, &policy, None), None);
        assert_eq!(
            i.apply(&Input::Tick { at: 4 * 3600 + 1 }, &policy, None),
            Some(Change::AckTimedOut)
        );
        assert_eq!(i.status, Status::Firing);
    }

    fn input() -> impl Strategy<Value = (u8, u8, u32)> {
        (0u8..5, 1u8..4, 0u32..60)
    }

    proptest! {
        /// Against a reference model: versions rise by one per change, the level never
        /// falls while open, a resolved incident only reopens by firing, and an
        /// acknowledged one only returns to firing by timeout or reopening.
        #[test]
        fn machine_matches_model(inputs in proptest::collection::vec(input(), 1..80)) {
            let policy = IncidentPolicy::default();
            let esc = escalation();
            let mut i = Incident::open("r", "t", "spike", 1, evidence(6, 0), 0, BTreeMap::new());
            let mut at = 0i64;
            for (kind, level, dt) in inputs {
                at += dt as i64 * 60;
                let before = i.clone();
                let input = match kind {
                    0 => Input::Fire { level, evidence: evidence(10, at), at },
                    1 => Input::Evaluated { quiet: level > 1, at },
                    2 => Input::Ack { by: "a".into(), at },
                    3 => Input::Resolve { by: "a".into(), at },
                    _ => Input::Tick { at },
                };
                let change = i.apply(&input, &policy, Some(&esc));
                match &change {
                    Some(_) => prop_assert_eq!(i.version, before.version + 1),
                    None => prop_assert_eq!(i.version, before.version),
                }
                if before.is_open() && i.is_open() {
                    prop_assert!(i.level >= before.level);
                }
                if before.status == Status::Resolved && i.is_open() {
                    prop_assert_eq!(change.clone(), Some(Change::Reopened));
                }
                if before.status == Status::Acknowledged && i.status == Status::Firing {
                    prop_assert_eq!(change.clone(), Some(Change::AckTimedOut));
                }
                if i.status == Status::Resolved {
                    prop_assert!(i.resolved_at.is_some());
                }
            }
        }
    }
}
