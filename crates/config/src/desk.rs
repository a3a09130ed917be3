//! The service desk section of the alerting file: which mentions become desk items, for
//! which team, the brand's own accounts, business-hours calendars and SLA policies.
//!
//! ```yaml
//! desk:
//!   intents: [complaint, question]     # default
//!   own_accounts:                      # per topic: the brand's handles (as sources name them)
//!     acme: [acmebahn, acmebahn@social.example]
//!   bots: [acme_autoreply]             # own handles whose replies never count as an answer
//!   routes:                            # first match wins; none: every item to team "service"
//!     - {matchers: ['topic="acme"'], team: service-de}
//!   calendars:
//!     - id: service-de
//!       timezone: Europe/Berlin
//!       week: {mon: ["08:00-12:00", "12:30-20:00"], sat: ["09:00-14:00"]}
//!       holidays: [2026-12-25, 2026-12-26]
//!   sla:                               # ordered: the first policy that matches wins
//!     - name: high-reach
//!       matchers: ['intent="complaint"']
//!       min_reach: 10000
//!       first_response: 30m
//!       resolution: 24h
//!       receivers: [service-slack]
//!     - name: default
//!       calendar: service-de
//!       first_response: {urgent: 15m, high: 30m, normal: 1h, low: 4h}
//!       next_response: 4h
//!       resolution: 3d
//! ```
//!
//! Decision: the desk lives in the alerting file because its SLA notices go through the
//! alerting file's receivers and routing tree; a second file would repeat them.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::time::Duration;

use lauscher_model::{Intent, Priority};
use lauscher_query::{Located, YamlFile, check_id};
use serde::Deserialize;

use crate::alerting::{DailyTimes, Matcher, TimeOfDay, Weekday};
use crate::value::{HumanDuration, TimeZone};

/// Labels desk matchers may use.
pub const DESK_LABELS: [&str; 8] = [
    "topic",
    "kind",
    "intent",
    "lang",
    "source",
    "team",
    "priority",
    "author_flag",
];

/// The calendar id meaning "every hour of every day".
pub const ALWAYS: &str = "24x7";

/// The `desk:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskConfig {
    /// Intents that make an item. Default complaint and question.
    #[serde(default = "default_intents")]
    pub intents: Vec<Intent>,
    /// The brand's own handles per topic id: their posts are never items; their replies
    /// in an item's thread are its response evidence.
    #[serde(default)]
    pub own_accounts: BTreeMap<String, Vec<String>>,
    /// Own handles that post automatically: their replies never count as a response.
    #[serde(default)]
    pub bots: Vec<String>,
    /// Which team gets an item; the first matching route wins. Without routes, every item
    /// goes to team `service`. A mention no route matches is no item.
    #[serde(default)]
    pub routes: Vec<DeskRoute>,
    /// A later post of the item's author in its thread joins the item within this long
    /// after the item's last post (reopening it when pending or resolved). Default `7d`.
    #[serde(default = "default_follow_up")]
    pub follow_up: HumanDuration,
    /// Posts older than this when fetched are not queued (an archive import is not a
    /// service queue). Default `3d`.
    #[serde(default = "default_max_age")]
    pub max_age: HumanDuration,
    /// Reach from which an item is `high` priority. Default 10,000.
    #[serde(default = "default_high_reach")]
    pub high_reach: u64,
    /// Reach from which an item is `urgent`. Default 100,000.
    #[serde(default = "default_urgent_reach")]
    pub urgent_reach: u64,
    /// Receivers items can be handed off to: Zammad and Znuny receivers, and webhook
    /// receivers (with a `secret`) for any other system's inbound webhook or a bridge.
    #[serde(default)]
    pub handoff: Vec<String>,
    /// Teams whose new items are handed out automatically.
    #[serde(default)]
    pub teams: Vec<TeamConfig>,
    /// Business-hours calendars SLA policies name (`24x7` needs none).
    #[serde(default)]
    pub calendars: Vec<CalendarConfig>,
    /// SLA policies, most restrictive first: the first that matches an item applies.
    /// Without policies, the default: first response 1h, next response 4h, resolution
    /// 3d, around the clock, warning at 75 %.
    #[serde(default)]
    pub sla: Vec<SlaPolicy>,
    /// Base URL of the Lauscher API as agents reach it, for item links in SLA notices.
    #[serde(default)]
    pub link: Option<url::Url>,
}

fn default_intents() -> Vec<Intent> {
    vec![Intent::Complaint, Intent::Question]
}
fn default_follow_up() -> HumanDuration {
    HumanDuration(Duration::from_secs(7 * 86_400))
}
fn default_max_age() -> HumanDuration {
    HumanDuration(Duration::from_secs(3 * 86_400))
}
fn default_high_reach() -> u64 {
    10_000
}
fn default_urgent_reach() -> u64 {
    100_000
}

impl Default for DeskConfig {
    fn default() -> Self {
        DeskConfig {
            intents: default_intents(),
            own_accounts: BTreeMap::new(),
            bots: Vec::new(),
            routes: Vec::new(),
            follow_up: default_follow_up(),
            max_age: default_max_age(),
            high_reach: default_high_reach(),
            urgent_reach: default_urgent_reach(),
            handoff: Vec::new(),
            teams: Vec::new(),
            calendars: Vec::new(),
            sla: Vec::new(),
            link: None,
        }
    }
}

/// A desk route: matchers and the team it gives items to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskRoute {
    /// All must hold; labels topic, kind, intent, lang, source and `author_flag`
    /// (`troll`, `vip`, empty when none).
    #[serde(default)]
    pub matchers: Vec<DeskMatcher>,
    /// The author's reach must be at least this. Default 0.
    #[serde(default)]
    pub min_reach: u64,
    /// The team (an id).
    pub team: String,
}

/// A matcher over desk labels ([`DESK_LABELS`]), written like an alert route's.
#[derive(Debug, Clone, PartialEq)]
pub struct DeskMatcher(pub Matcher);

impl<'de> Deserialize<'de> for DeskMatcher {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::deserialize_parsed(d, "a matcher such as topic=\"acme\"", |s| {
            Matcher::parse(s, &DESK_LABELS).map(DeskMatcher)
        })
    }
}

/// A team's agents and how new items reach them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    /// The team id routes name.
    pub id: String,
    /// Its agents (as they act: their token names or `by`).
    pub agents: Vec<String>,
    /// Hand new items out round robin: longest-waiting item first, to the agent with the
    /// fewest open items below `capacity` (ties: the one assigned longest ago). Default
    /// false: agents claim.
    #[serde(default)]
    pub auto_assign: bool,
    /// Open items per agent before they get no more (0: no limit). Default 10.
    #[serde(default = "default_capacity")]
    pub capacity: u32,
}

fn default_capacity() -> u32 {
    10
}

/// A business-hours calendar.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// Unique id, named by SLA policies.
    pub id: String,
    /// The zone the hours are local to. Default Europe/Berlin.
    #[serde(default)]
    pub timezone: TimeZone,
    /// Open hours per weekday (`mon` … `sun`), several intervals a day; a day not listed
    /// is closed.
    pub week: BTreeMap<Weekday, Vec<OpenHours>>,
    /// Closed dates (`2026-12-25`).
    #[serde(default)]
    pub holidays: BTreeSet<Date>,
}

/// Open hours of a day, `HH:MM-HH:MM` with the end after the start (`24:00` ends the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenHours {
    /// Opening time.
    pub start: TimeOfDay,
    /// Closing time.
    pub end: TimeOfDay,
}

impl std::str::FromStr for OpenHours {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t: DailyTimes = s
            .parse()
            .map_err(|_| format!("invalid open hours {s:?}: expected HH:MM-HH:MM"))?;
        if t.end.minute <= t.start.minute {
            return Err(format!(
                "invalid open hours {s:?}: the end must be after the start (split a night into two days)"
            ));
        }
        Ok(OpenHours {
            start: t.start,
            end: t.end,
        })
    }
}

impl<'de> Deserialize<'de> for OpenHours {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::deserialize_parsed(d, "open hours such as 08:00-12:00", str::parse)
    }
}

/// A calendar date, written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month, 1-12.
    pub month: u32,
    /// Day, 1-31.
    pub day: u32,
}

impl std::str::FromStr for Date {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid date {s:?}: expected YYYY-MM-DD");
        let mut parts = s.trim().splitn(3, '-');
        let mut next = || parts.next().ok_or_else(bad);
        let (y, m, d) = (next()?, next()?, next()?);
        let date = Date {
            year: y.parse().map_err(|_| bad())?,
            month: m.parse().map_err(|_| bad())?,
            day: d.parse().map_err(|_| bad())?,
        };
        let days = match date.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if date.year % 4 == 0 && (date.year % 100 != 0 || date.year % 400 == 0) => 29,
            2 => 28,
            _ => return Err(bad()),
        };
        if date.day == 0 || date.day > days {
            return Err(bad());
        }
        Ok(date)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::deserialize_parsed(d, "a date such as 2026-12-25", str::parse)
    }
}

/// An SLA policy: which items, on which calendar, with which targets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    /// Unique name (an id), recorded on each item it applies to.
    pub name: String,
    /// All must hold; labels topic, kind, intent, lang, source, team, priority.
    #[serde(default)]
    pub matchers: Vec<DeskMatcher>,
    /// The author's reach must be at least this. Default 0.
    #[serde(default)]
    pub min_reach: u64,
    /// A calendar id, or `24x7` (the default).
    #[serde(default = "default_calendar")]
    pub calendar: String,
    /// Post → first response (receipt, brand reply or ticket answer).
    pub first_response: Targets,
    /// The author's follow-up → the next response. Optional.
    #[serde(default)]
    pub next_response: Option<Targets>,
    /// Post → resolved (time pending does not count). Optional.
    #[serde(default)]
    pub resolution: Option<Targets>,
    /// Warn at this share of a target. Default 0.75 (45 of 60 minutes).
    #[serde(default = "default_warn")]
    pub warn: f64,
    /// Receivers of warnings and breaches; empty: the routing tree decides, on labels
    /// topic, kind, intent, lang, source and `status="sla_warning"`/`"sla_breach"`.
    #[serde(default)]
    pub receivers: Vec<String>,
}

fn default_calendar() -> String {
    ALWAYS.into()
}
fn default_warn() -> f64 {
    0.75
}

impl SlaPolicy {
    /// The policy used when the desk section names none.
    pub fn fallback() -> SlaPolicy {
        let h = |s| Targets::same(Duration::from_secs(s));
        SlaPolicy {
            name: "default".into(),
            matchers: Vec::new(),
            min_reach: 0,
            calendar: ALWAYS.into(),
            first_response: h(3600),
            next_response: Some(h(4 * 3600)),
            resolution: Some(h(3 * 86_400)),
            warn: default_warn(),
            receivers: Vec::new(),
        }
    }
}

/// Targets per priority, written as one duration for all (`1h`) or a mapping
/// (`{urgent: 15m, high: 30m, normal: 1h, low: 4h}`; missing priorities take normal's,
/// which is required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    /// Indexed by [`Priority`] (low, normal, high, urgent).
    pub by_priority: [Duration; 4],
}

impl Targets {
    /// The same target for every priority.
    pub fn same(d: Duration) -> Targets {
        Targets {
            by_priority: [d; 4],
        }
    }

    /// The target for `p`.
    pub fn of(&self, p: Priority) -> Duration {
        self.by_priority[p as usize]
    }
}

impl<'de> Deserialize<'de> for Targets {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Targets;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration such as 1h, or {urgent: 15m, high: 30m, normal: 1h, low: 4h}",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Targets, E> {
                HumanDuration::parse(v)
                    .map(|d| Targets::same(d.0))
                    .map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Targets, A::Error> {
                let mut got: [Option<Duration>; 4] = [None; 4];
                while let Some(PriorityKey(p)) = map.next_key::<PriorityKey>()? {
                    let d: HumanDuration = map.next_value()?;
                    got[p as usize] = Some(d.0);
                }
                let normal = got[Priority::Normal as usize].ok_or_else(|| {
                    serde::de::Error::custom(
                        "targets need normal: (other priorities take its target)",
                    )
                })?;
                Ok(Targets {
                    by_priority: got.map(|d| d.unwrap_or(normal)),
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A priority as a mapping key, failing inside the key so the error stands under it.
struct PriorityKey(Priority);

impl<'de> Deserialize<'de> for PriorityKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::deserialize_parsed(d, "a priority: low, normal, high or urgent", |s| {
            s.parse::<Priority>().map(PriorityKey)
        })
    }
}

impl DeskConfig {
    /// The SLA policies in force: the configured ones, else [`SlaPolicy::fallback`].
    pub fn policies(&self) -> Vec<SlaPolicy> {
        if self.sla.is_empty() {
            vec![SlaPolicy::fallback()]
        } else {
            self.sla.clone()
        }
    }

    /// Whether `author_key` (folded, without `@`) is one of the brand's own handles for
    /// any of `topics`.
    pub fn is_own(&self, author_key: &str, topics: &[String]) -> bool {
        topics.iter().any(|t| {
            self.own_accounts
                .get(t)
                .is_some_and(|hs| hs.iter().any(|h| fold_handle(h) == author_key))
        })
    }

    /// Whether `author_key` is an own handle of any topic.
    pub fn is_own_anywhere(&self, author_key: &str) -> bool {
        self.own_accounts
            .values()
            .flatten()
            .any(|h| fold_handle(h) == author_key)
    }

    /// Whether `author_key` posts automatically.
    pub fn is_bot(&self, author_key: &str) -> bool {
        self.bots.iter().any(|h| fold_handle(h) == author_key)
    }

    pub(crate) fn validate(
        &self,
        f: &YamlFile<'_>,
        topics: &[String],
        receivers: &HashSet<&str>,
        signed_webhooks: &HashSet<&str>,
    ) -> Result<(), Located> {
        for (i, h) in self.handoff.iter().enumerate() {
            if !signed_webhooks.contains(h.as_str()) {
                return Err(f.at(
                    &format!("desk.handoff[{i}]"),
                    format!("hand-off target {h:?} must be a zammad or znuny receiver, or a webhook receiver with a secret (it signs both ways)"),
                ));
            }
        }
        if self.intents.is_empty() {
            return Err(f.at(
                "desk.intents",
                "desk.intents is empty: no mention would become an item",
            ));
        }
        for t in self.own_accounts.keys() {
            if !topics.is_empty() && !topics.contains(t) {
                return Err(f.at_key(
                    &format!("desk.own_accounts.{t}"),
                    format!("unknown topic {t:?}: own accounts are listed per topic id"),
                ));
            }
        }
        for (i, r) in self.routes.iter().enumerate() {
            check_id(&r.team).map_err(|m| f.at(&format!("desk.routes[{i}].team"), m))?;
        }
        let mut teams = HashSet::new();
        for (i, t) in self.teams.iter().enumerate() {
            check_id(&t.id).map_err(|m| f.at(&format!("desk.teams[{i}].id"), m))?;
            if !teams.insert(t.id.as_str()) {
                return Err(f.at(
                    &format!("desk.teams[{i}].id"),
                    format!("duplicate team {:?}", t.id),
                ));
            }
            if t.auto_assign && t.agents.is_empty() {
                return Err(f.at(
                    &format!("desk.teams[{i}].auto_assign"),
                    format!("team {:?} assigns automatically but lists no agents", t.id),
                ));
            }
        }
        let mut calendars = HashSet::from([ALWAYS]);
        for (i, c) in self.calendars.iter().enumerate() {
            let at = |k: &str| format!("desk.calendars[{i}].{k}");
            check_id(&c.id).map_err(|m| f.at(&at("id"), m))?;
            if !calendars.insert(c.id.as_str()) {
                return Err(f.at(&at("id"), format!("duplicate calendar id {:?}", c.id)));
            }
            if c.week.values().all(Vec::is_empty) {
                return Err(f.at(&at("week"), format!("calendar {:?} is never open", c.id)));
            }
            for (day, hours) in &c.week {
                let mut sorted = hours.clone();
                sorted.sort_by_key(|h| h.start.minute);
                if sorted
                    .windows(2)
                    .any(|w| w[1].start.minute < w[0].end.minute)
                {
                    return Err(f.at(
                        &at(&format!("week.{}", weekday_name(*day))),
                        "open hours of a day overlap",
                    ));
                }
            }
        }
        let mut names = HashSet::new();
        for (i, p) in self.sla.iter().enumerate() {
            let at = |k: &str| format!("desk.sla[{i}].{k}");
            check_id(&p.name).map_err(|m| f.at(&at("name"), m))?;
            if !names.insert(p.name.as_str()) {
                return Err(f.at(&at("name"), format!("duplicate SLA policy {:?}", p.name)));
            }
            if !calendars.contains(p.calendar.as_str()) {
                return Err(f.at(
                    &at("calendar"),
                    format!(
                        "unknown calendar {:?}: define it under desk.calendars or use 24x7",
                        p.calendar
                    ),
                ));
            }
            if !(0.0..=1.0).contains(&p.warn) || p.warn == 0.0 {
                return Err(f.at(&at("warn"), "warn must be a share in (0, 1]"));
            }
            let all = [
                Some(&p.first_response),
                p.next_response.as_ref(),
                p.resolution.as_ref(),
            ];
            if all
                .iter()
                .flatten()
                .any(|t| t.by_priority.iter().any(|d| d.is_zero()))
            {
                return Err(f.at(&at("first_response"), "SLA targets must be longer than 0s"));
            }
            for (j, r) in p.receivers.iter().enumerate() {
                if !receivers.contains(r.as_str()) {
                    return Err(f.at(
                        &at(&format!("receivers[{j}]")),
                        crate::alerting::unknown_receiver(r),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A handle as authors are keyed: lowercase, without a leading `@`.
pub fn fold_handle(h: &str) -> String {
    h.trim().trim_start_matches('@').to_lowercase()
}

fn weekday_name(d: Weekday) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][d as usize]
}
