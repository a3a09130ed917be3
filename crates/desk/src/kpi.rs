//! Service KPIs, computed from the event log alone (items are replayed from their
//! events first), so that a fix to a formula recomputes history.
//!
//! Formulas (`t0` = when the author posted, platform time; durations in calendar
//! seconds; the cohort is the items whose `t0` falls in the window; dismissed and merged
//! items count in volume only):
//!
//! - **volume**: items in the cohort; `dismissed` and `merged` apart; items whose post
//!   insults, attacks or threatens ([`crate::abuse`]) count as `abusive` and in no other
//!   cohort figure (profanity alone changes nothing).
//! - **first response time (FRT)**: first counting response − `t0`, over answered items;
//!   median (the mean of the middle two for an even count), p90 (nearest rank:
//!   the ⌈0.9·n⌉-th smallest) and mean. Receipts, brand replies in the thread and ticket
//!   answers count; automated replies (bot accounts) never do.
//! - **service level SL@T**: items answered within T ÷ (items answered at any time +
//!   unanswered items older than T at report time). Unanswered items younger than T are
//!   left out: their outcome is not known yet (right-censoring).
//! - **time to resolution**: first resolution − `t0`, over items resolved at least once
//!   (a reopened item keeps its first resolution).
//! - **resolved share**: items resolved now ÷ items not dismissed or merged.
//! - **handle time**: per resolved item, the seconds agents held it open (assigned and
//!   open, summed over agents and reopenings); mean, median and p90.
//! - **detection lag**: fetched − posted, apart from FRT (listening is not push).
//! - **backlog**: every item (not only the cohort) new or open at report time, pending
//!   apart, `breached` those with a clock past due, and the oldest one's age; the
//!   series samples new + open at each step of the window.
//! - **first-response SLA attainment**: items whose first response came by its due time
//!   ÷ items whose first response came or whose clock ran out.
//!
//! By agent, an item belongs to the agent who first answered it by a receipt, else who
//! closed it, else who holds it (a reply before assignment is the replier's).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::clock::SlaBook;
use crate::event::{Clock, ItemState, ResponseKind};
use crate::item::Item;

/// What KPIs are grouped by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    /// The item's team.
    Team,
    /// The agent (see the module docs).
    Agent,
    /// The opening post's first topic.
    Topic,
    /// The source.
    Source,
    /// The intent.
    Intent,
}

impl FromStr for Dimension {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "team" => Dimension::Team,
            "agent" => Dimension::Agent,
            "topic" => Dimension::Topic,
            "source" => Dimension::Source,
            "intent" => Dimension::Intent,
            _ => {
                return Err(format!(
                    "unknown dimension {s:?}: expected team, agent, topic, source or intent"
                ));
            }
        })
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dimension::Team => "team",
            Dimension::Agent => "agent",
            Dimension::Topic => "topic",
            Dimension::Source => "source",
            Dimension::Intent => "intent",
        })
    }
}

/// What to compute.
#[derive(Clone, Debug)]
pub struct KpiRequest {
    /// Cohort start (unix seconds, inclusive).
    pub since: i64,
    /// Cohort end (exclusive).
    pub until: i64,
    /// Report time: censoring and the backlog are as of then.
    pub now: i64,
    /// Service-level targets in seconds. Default 1 h and 6 h.
    pub targets: Vec<i64>,
    /// Group by this too.
    pub by: Option<Dimension>,
    /// Backlog series step in seconds (0: no series).
    pub step: i64,
}

/// Summary statistics of durations in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Values.
    pub n: usize,
    /// Median.
    pub median: Option<f64>,
    /// 90th percentile (nearest rank).
    pub p90: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
}

impl Stats {
    /// The statistics of `values`.
    pub fn of(mut values: Vec<i64>) -> Stats {
        values.sort_unstable();
        let n = values.len();
        if n == 0 {
            return Stats::default();
        }
        let median = if n % 2 == 1 {
            values[n / 2] as f64
        } else {
            (values[n / 2 - 1] + values[n / 2]) as f64 / 2.0
        };
        let rank = ((0.9 * n as f64).ceil() as usize).clamp(1, n);
        Stats {
            n,
            median: Some(median),
            p90: Some(values[rank - 1] as f64),
            mean: Some(values.iter().sum::<i64>() as f64 / n as f64),
        }
    }
}

/// A service level at one target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceLevel {
    /// The target in seconds.
    pub target_s: i64,
    /// Answered within the target.
    pub met: usize,
    /// Answered at all, plus unanswered older than the target.
    pub counted: usize,
    /// `met / counted`.
    pub share: Option<f64>,
}

/// The backlog at report time.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Backlog {
    /// Unowned.
    pub new: usize,
    /// Owned, being worked.
    pub open: usize,
    /// Waiting on the author or a third party (not backlog).
    pub pending: usize,
    /// In a ticket system, not closed there yet (not backlog).
    pub handed_off: usize,
    /// New or open with a clock past due.
    pub breached: usize,
    /// Age of the oldest new or open item, seconds.
    pub oldest_age_s: Option<i64>,
}

/// KPIs of one group of items.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Kpis {
    /// Items in the cohort (abusive ones apart).
    pub volume: usize,
    /// Cohort items that insult, attack or threaten: moderation, not service; counted
    /// here and in no other cohort figure.
    pub abusive: usize,
    /// Cohort items per intent.
    pub by_intent: BTreeMap<String, usize>,
    /// Dismissed cohort items.
    pub dismissed: usize,
    /// Merged cohort items.
    pub merged: usize,
    /// Answered cohort items.
    pub answered: usize,
    /// First response time.
    pub first_response: Stats,
    /// Service levels.
    pub service_levels: Vec<ServiceLevel>,
    /// First-response SLA: answered by the due time.
    pub sla_met: usize,
    /// First-response SLA: answered late or not yet and past due.
    pub sla_breached: usize,
    /// Time to (first) resolution.
    pub resolution: Stats,
    /// Items resolved now.
    pub resolved: usize,
    /// `resolved / (volume − dismissed − merged)`.
    pub resolved_share: Option<f64>,
    /// Reopenings (follow-ups after resolution or pending, reopen actions).
    pub reopened: u32,
    /// Handle time per resolved item.
    pub handle_time: Stats,
    /// Fetched − posted.
    pub detection_lag: Stats,
    /// The backlog now.
    pub backlog: Backlog,
}

/// The whole answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct KpiReport {
    /// Cohort start (unix seconds).
    pub since: i64,
    /// Cohort end.
    pub until: i64,
    /// Report time.
    pub now: i64,
    /// Every item.
    pub total: Kpis,
    /// The dimension of `groups`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Per group value.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, Kpis>,
    /// `(t, new + open, breached)` at each step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backlog_series: Vec<(i64, usize)>,
}

fn agent_of(item: &Item) -> String {
    if let Some(r) = &item.first_response
        && r.kind == ResponseKind::Receipt
        && let Some(name) = r.by.strip_prefix("user:")
    {
        return name.to_owned();
    }
    item.closed_by
        .clone()
        .or_else(|| item.assignee.clone())
        .unwrap_or_else(|| "-".into())
}

fn key_of(item: &Item, d: Dimension) -> String {
    match d {
        Dimension::Team => item.team.clone(),
        Dimension::Agent => agent_of(item),
        Dimension::Topic => item
            .post
            .topics
            .first()
            .cloned()
            .unwrap_or_else(|| "-".into()),
        Dimension::Source => item.post.source.clone(),
        Dimension::Intent => item.intent().as_str().to_owned(),
    }
}

fn share(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// KPIs of `items` (replayed from the event log) under the clocks of `book`.
pub fn compute(items: &[Item], book: &SlaBook, req: &KpiRequest) -> KpiReport {
    let refs: Vec<&Item> = items.iter().collect();
    let mut report = KpiReport {
        since: req.since,
        until: req.until,
        now: req.now,
        total: kpis(&refs, book, req),
        by: req.by.map(|d| d.to_string()),
        ..KpiReport::default()
    };
    if let Some(d) = req.by {
        let mut groups: BTreeMap<String, Vec<&Item>> = BTreeMap::new();
        for i in items {
            groups.entry(key_of(i, d)).or_default().push(i);
        }
        report.groups = groups
            .into_iter()
            .map(|(k, v)| (k, kpis(&v, book, req)))
            .collect();
    }
    if req.step > 0 {
        let end = req.until.min(req.now);
        let mut t = req.since;
        while t <= end && report.backlog_series.len() < 10_000 {
            let n = items
                .iter()
                .filter(|i| i.state_at(t).is_some_and(ItemState::is_backlog))
                .count();
            report.backlog_series.push((t, n));
            t += req.step;
        }
    }
    report
}

fn kpis(items: &[&Item], book: &SlaBook, req: &KpiRequest) -> Kpis {
    let mut k = Kpis::default();
    let mut frt = Vec::new();
    let mut ttr = Vec::new();
    let mut handle = Vec::new();
    let mut lag = Vec::new();
    let mut unanswered_ages = Vec::new();
    let mut counted_items = 0;
    for item in items {
        let t0 = item.posted_at();
        if item.state.is_backlog() {
            if item.state == ItemState::New {
                k.backlog.new += 1;
            } else {
                k.backlog.open += 1;
            }
            let age = req.now - t0;
            k.backlog.oldest_age_s = Some(k.backlog.oldest_age_s.map_or(age, |a| a.max(age)));
            if book
                .runs(item, req.now)
                .iter()
                .any(|r| r.stopped_at.is_none() && r.breached(req.now))
            {
                k.backlog.breached += 1;
            }
        } else if item.state == ItemState::Pending {
            k.backlog.pending += 1;
        } else if item.state == ItemState::HandedOff {
            k.backlog.handed_off += 1;
        }
        if t0 < req.since || t0 >= req.until {
            continue;
        }
        if item.is_abusive() {
            k.abusive += 1;
            continue;
        }
        k.volume += 1;
        *k.by_intent
            .entry(item.intent().as_str().to_owned())
            .or_default() += 1;
        k.reopened += item.reopened;
        lag.push((item.post.fetched_at.timestamp() - t0).max(0));
        match item.state {
            ItemState::Dismissed => {
                k.dismissed += 1;
                continue;
            }
            ItemState::Merged => {
                k.merged += 1;
                continue;
            }
            _ => {}
        }
        counted_items += 1;
        match &item.first_response {
            Some(r) => {
                k.answered += 1;
                frt.push((r.at - t0).max(0));
            }
            None => unanswered_ages.push(req.now - t0),
        }
        if let Some(fr) = book
            .runs(item, req.now)
            .into_iter()
            .find(|r| r.clock == Clock::FirstResponse)
        {
            if fr.breached(req.now) {
                k.sla_breached += 1;
            } else if fr.stopped_at.is_some() {
                k.sla_met += 1;
            }
        }
        if let Some(r) = item.first_resolved_at {
            ttr.push((r - t0).max(0));
        }
        if item.state == ItemState::Resolved {
            k.resolved += 1;
            handle.push(item.handled.values().sum());
        }
    }
    k.service_levels = req
        .targets
        .iter()
        .map(|&t| {
            let met = frt.iter().filter(|&&f| f <= t).count();
            let counted = frt.len() + unanswered_ages.iter().filter(|&&a| a >= t).count();
            ServiceLevel {
                target_s: t,
                met,
                counted,
                share: share(met, counted),
            }
        })
        .collect();
    k.resolved_share = share(k.resolved, counted_items);
    k.first_response = Stats::of(frt);
    k.resolution = Stats::of(ttr);
    k.handle_time = Stats::of(handle);
    k.detection_lag = Stats::of(lag);
    k
}

/// The desk's part of the weekly (or daily) digest: a Markdown section, the same as
/// HTML, and one summary line for chat; German when `de`.
pub fn digest_section(k: &Kpis, de: bool) -> (String, String, String) {
    let dur = |s: Option<f64>| {
        s.map_or("–".to_owned(), |s| {
            let s = s.round() as i64;
            match s {
                s if s < 3600 => format!("{} min", s / 60),
                s if s < 2 * 86_400 => format!("{:.1} h", s as f64 / 3600.0),
                s => format!("{:.1} d", s as f64 / 86_400.0),
            }
        })
    };
    let pct = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{:.0} %", v * 100.0));
    let sl = |i: usize| {
        k.service_levels.get(i).map_or("–".to_owned(), |s| {
            format!("{} ({}/{})", pct(s.share), s.met, s.counted)
        })
    };
    let (title, lines) = if de {
        (
            "Service-Desk",
            vec![
                format!(
                    "Anliegen: {} (davon {} beleidigend/bedrohlich, gesondert gezählt)",
                    k.volume, k.abusive
                ),
                format!(
                    "Erste Antwort: Median {}, p90 {}",
                    dur(k.first_response.median),
                    dur(k.first_response.p90)
                ),
                format!("Service-Level in 1 h: {} · in 6 h: {}", sl(0), sl(1)),
                format!(
                    "Gelöst: {} · Lösungszeit Median {}",
                    pct(k.resolved_share),
                    dur(k.resolution.median)
                ),
                format!(
                    "Offen jetzt: {} neu, {} in Arbeit, {} überfällig",
                    k.backlog.new, k.backlog.open, k.backlog.breached
                ),
            ],
        )
    } else {
        (
            "Service desk",
            vec![
                format!("Items: {} ({} abusive, counted apart)", k.volume, k.abusive),
                format!(
                    "First response: median {}, p90 {}",
                    dur(k.first_response.median),
                    dur(k.first_response.p90)
                ),
                format!(
                    "Service level within 1 h: {} · within 6 h: {}",
                    sl(0),
                    sl(1)
                ),
                format!(
                    "Resolved: {} · time to resolution median {}",
                    pct(k.resolved_share),
                    dur(k.resolution.median)
                ),
                format!(
                    "Open now: {} new, {} in progress, {} overdue",
                    k.backlog.new, k.backlog.open, k.backlog.breached
                ),
            ],
        )
    };
    let markdown = format!(
        "\n## {title}\n\n{}\n",
        lines.iter().map(|l| format!("- {l}\n")).collect::<String>()
    );
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let html = format!(
        "<h2>{title}</h2><ul>{}</ul>",
        lines
            .iter()
            .map(|l| format!("<li>{}</li>", esc(l)))
            .collect::<String>()
    );
    let summary = format!(
        "{title}: {} · {} {} · SL 1h {}",
        k.volume,
        if de {
            "erste Antwort"
        } else {
            "first response"
        },
        dur(k.first_response.median),
        k.service_levels
            .first()
            .map_or("–".to_owned(), |s| pct(s.share))
    );
    (markdown, html, summary)
}
