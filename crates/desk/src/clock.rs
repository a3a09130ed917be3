//! SLA clocks: which policy applies to an item, when each of its clocks is due, and which
//! warnings and breaches are owed.
//!
//! - **First response** runs from the post (platform time) until the first counting
//!   response; pending does not stop it (an author waiting for a first answer waits).
//! - **Next response** runs from the author's follow-up after a response until the next
//!   counting response.
//! - **Resolution** runs from the post until resolved; time spent pending does not count
//!   (it is added to the target in calendar seconds), and the clock stands still while
//!   pending.
//!
//! Durations are counted in the policy's calendar ([`Calendar`]).

use std::collections::BTreeMap;

use lauscher_config::{DeskConfig, SlaPolicy, Targets};

use crate::calendar::Calendar;
use crate::event::{Clock, ItemState};
use crate::item::Item;

/// The SLA policies and calendars of a desk.
#[derive(Clone, Debug)]
pub struct SlaBook {
    policies: Vec<SlaPolicy>,
    /// Applies when no configured policy matches.
    fallback: SlaPolicy,
    calendars: BTreeMap<String, Calendar>,
}

/// One run of a clock, as it stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockRun {
    /// Which clock.
    pub clock: Clock,
    /// When it started (unix seconds).
    pub start: i64,
    /// When it warns; `None` while paused or never.
    pub warn_at: Option<i64>,
    /// When it is due; `None` while paused or never.
    pub due: Option<i64>,
    /// When a response or resolution stopped it.
    pub stopped_at: Option<i64>,
}

impl ClockRun {
    /// Whether it ran out: stopped late, or still running past its due time at `now`.
    pub fn breached(&self, now: i64) -> bool {
        match (self.due, self.stopped_at) {
            (Some(d), Some(s)) => s > d,
            (Some(d), None) => now >= d,
            (None, _) => false,
        }
    }
}

impl SlaBook {
    /// The policies and calendars of `desk` (the fallback policy when it names none).
    pub fn new(desk: &DeskConfig) -> SlaBook {
        let mut calendars =
            BTreeMap::from([(lauscher_config::desk::ALWAYS.to_owned(), Calendar::Always)]);
        for c in &desk.calendars {
            calendars.insert(c.id.clone(), Calendar::of(c));
        }
        SlaBook {
            policies: desk.policies(),
            fallback: SlaPolicy::fallback(),
            calendars,
        }
    }

    /// The policies, in order.
    pub fn policies(&self) -> &[SlaPolicy] {
        &self.policies
    }

    /// The first policy whose matchers hold for `labels` and whose reach floor `reach`
    /// meets; [`SlaPolicy::fallback`] when none does.
    pub fn policy_for(&self, labels: &lauscher_alerts::route::Labels, reach: u64) -> &SlaPolicy {
        self.policies
            .iter()
            .find(|p| {
                reach >= p.min_reach
                    && p.matchers
                        .iter()
                        .all(|m| lauscher_alerts::route::matches(&m.0, labels))
            })
            .unwrap_or(&self.fallback)
    }

    /// The policy named `name`.
    pub fn policy(&self, name: &str) -> Option<&SlaPolicy> {
        self.policies
            .iter()
            .chain(std::iter::once(&self.fallback))
            .find(|p| p.name == name)
    }

    /// The calendar of `policy` (around the clock when unknown).
    pub fn calendar(&self, policy: &SlaPolicy) -> &Calendar {
        self.calendars
            .get(&policy.calendar)
            .unwrap_or(&Calendar::Always)
    }

    /// The runs of `item`'s clocks under its policy (an item whose policy was removed
    /// from the config keeps no clocks).
    pub fn runs(&self, item: &Item, now: i64) -> Vec<ClockRun> {
        let Some(p) = self.policy(&item.policy) else {
            return Vec::new();
        };
        let cal = self.calendar(p);
        let run = |clock, start: i64, targets: &Targets, extra: i64, stopped_at| {
            let target = targets.of(item.priority).as_secs() as i64;
            let warn = (target as f64 * p.warn).round() as i64;
            ClockRun {
                clock,
                start,
                warn_at: cal.add(start, warn + extra),
                due: cal.add(start, target + extra),
                stopped_at,
            }
        };
        let t0 = item.posted_at();
        let mut out = vec![run(
            Clock::FirstResponse,
            t0,
            &p.first_response,
            0,
            item.first_response.as_ref().map(|r| r.at),
        )];
        if let (Some(nr), Some(w)) = (&p.next_response, item.waiting_since) {
            out.push(run(Clock::NextResponse, w, nr, 0, None));
        }
        if let Some(res) = &p.resolution {
            let paused: i64 = item
                .paused
                .iter()
                .map(|&(a, b)| cal.seconds_between(a, b))
                .sum();
            let stopped = match item.state {
                ItemState::Resolved | ItemState::Dismissed | ItemState::Merged => {
                    item.resolved_at.or(Some(now))
                }
                _ => None,
            };
            let mut r = run(Clock::Resolution, t0, res, paused, stopped);
            if item.state == ItemState::Pending {
                r.warn_at = None;
                r.due = None;
            }
            out.push(r);
        }
        out
    }
}
