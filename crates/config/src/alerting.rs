//! Alerting configuration: alert rules, the routing tree, receivers and the incident
//! policy, in one YAML file (`rules/alerts.yaml`, listed under `alerts:` in the config).
//!
//! ```yaml
//! version: 1
//! rules:
//!   - id: acme-complaints          # a-z, 0-9, - and _
//!     kind: spike                  # spike | influencer | sentiment_shift | source_health
//!     topics: [acme]               # topic ids ("*": every topic); one stream per topic
//!     label: negative              # filters: label, intent, lang, source
//!     intent: [complaint]
//!     budget: 1/90d                # false pages per stream and horizon; gives α
//! routing:
//!   receivers: [ops]               # the root route: everything not matched below
//!   routes:
//!     - matchers: ['intent="complaint"']
//!       receivers: [service-slack]
//!       escalation: {renotify: 15m, after: 15m, receivers: [duty-pagerduty]}
//! receivers:
//!   - {id: service-slack, kind: slack, url: "${SLACK_URL}"}
//! ```
//!
//! `${NAME}` is replaced by the environment variable, so secrets stay out of the file.
//! Every problem is reported at `file:line:col` with the offending line. The daemon
//! loads it at start; `lauscher check` validates it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use lauscher_model::{Intent, Label};
use serde::Deserialize;

use crate::config::expand_env;
use crate::error::ConfigError;
use crate::value::{HumanDuration, ReportLanguage, TimeZone};
use lauscher_query::Located;
use lauscher_query::YamlFile;
use lauscher_query::{check_id, yaml_error};

/// The whole alerting file, validated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    /// Format version; only `1` exists.
    pub version: u32,
    /// Settings every rule inherits unless it sets its own.
    #[serde(default)]
    pub defaults: RuleDefaults,
    /// The alert rules.
    #[serde(default)]
    pub rules: Vec<AlertRule>,
    /// Where incidents are sent.
    #[serde(default)]
    pub routing: Route,
    /// The receivers routes name.
    #[serde(default)]
    pub receivers: Vec<ReceiverConfig>,
    /// Receiver told when another receiver rejects a notification for good (a 4xx
    /// other than 408/425/429: a revoked webhook, a wrong key) or lets one expire, so
    /// a broken receiver never fails silently. Optional.
    #[serde(default)]
    pub fallback: Option<String>,
    /// The incident lifecycle.
    #[serde(default)]
    pub incidents: IncidentPolicy,
    /// Scheduled insight digests, sent through the receivers.
    #[serde(default)]
    pub digests: Vec<DigestConfig>,
    /// The service desk: which mentions become items, SLA policies and calendars.
    #[serde(default)]
    pub desk: Option<crate::desk::DeskConfig>,
    /// Message templates directory, relative to this file. Default `templates`; the
    /// bundled templates are used for languages without a file there.
    #[serde(default = "default_templates")]
    pub templates: PathBuf,
    /// The file this came from (for errors at run time).
    #[serde(skip)]
    pub file: String,
    /// The directory of the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_templates() -> PathBuf {
    PathBuf::from("templates")
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            version: 1,
            defaults: RuleDefaults::default(),
            rules: Vec::new(),
            routing: Route::default(),
            receivers: Vec::new(),
            fallback: None,
            incidents: IncidentPolicy::default(),
            digests: Vec::new(),
            desk: None,
            templates: default_templates(),
            file: String::new(),
            base_dir: PathBuf::new(),
        }
    }
}

/// Settings every rule inherits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDefaults {
    /// Time zone for hour-of-week seasonality and mute intervals. Default
    /// [`TimeZone::default`], Europe/Berlin.
    #[serde(default)]
    pub timezone: TimeZone,
    /// Language of the messages (a template must exist for it). Default `de`.
    #[serde(default = "default_language")]
    pub language: String,
    /// False pages per stream the user accepts, as `N/<duration>`. Default `1/90d`.
    #[serde(default = "default_budget")]
    pub budget: Budget,
}

fn default_language() -> String {
    "de".into()
}
fn default_budget() -> Budget {
    Budget {
        pages: 1.0,
        per: Duration::from_secs(90 * 86_400),
    }
}

impl Default for RuleDefaults {
    fn default() -> Self {
        RuleDefaults {
            timezone: TimeZone::default(),
            language: default_language(),
            budget: default_budget(),
        }
    }
}

/// A false-alarm budget: `pages` false incidents per `per`, per stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// How many false incidents are acceptable...
    pub pages: f64,
    /// ...per this horizon.
    pub per: Duration,
}

impl Budget {
    /// Effective independent tests per day for a 60-minute window slid every 5 minutes
    /// (simulated in design/alerting.md §3; not 24 and not 288).
    pub const TESTS_PER_DAY: f64 = 96.0;

    /// The per-test significance level: `pages / (days · 96)`.
    pub fn alpha(&self) -> f64 {
        let days = self.per.as_secs_f64() / 86_400.0;
        (self.pages / (days * Self::TESTS_PER_DAY)).clamp(1e-12, 0.5)
    }

    /// The pages it allows per 90 days (what `backtest` and `check` compare with).
    pub fn per_90d(&self) -> f64 {
        self.pages * 90.0 * 86_400.0 / self.per.as_secs_f64()
    }
}

impl FromStr for Budget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid budget {s:?}: expected pages/duration, e.g. 1/90d");
        let (n, d) = s.split_once('/').ok_or_else(bad)?;
        let pages: f64 = n.trim().parse().map_err(|_| bad())?;
        let per = HumanDuration::parse(d.trim()).map_err(|_| bad())?.0;
        if pages.is_nan() || pages <= 0.0 || per < Duration::from_secs(86_400) {
            return Err(format!(
                "invalid budget {s:?}: pages must be > 0 and the horizon at least 1d"
            ));
        }
        Ok(Budget { pages, per })
    }
}

impl<'de> Deserialize<'de> for Budget {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::deserialize_parsed(d, "a budget such as 1/90d", str::parse)
    }
}

/// What an alert rule detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// More distinct authors in the window than the seasonal baseline explains
    /// (negative binomial tail), with a CUSUM for slow build-ups beside it.
    Spike,
    /// One negative post by an author with large reach.
    Influencer,
    /// Net sentiment of a topic drops against its baseline.
    SentimentShift,
    /// A source failing, or silent far longer than its rhythm.
    SourceHealth,
}

impl AlertKind {
    /// The name used in labels, the API and templates.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Spike => "spike",
            AlertKind::Influencer => "influencer",
            AlertKind::SentimentShift => "sentiment_shift",
            AlertKind::SourceHealth => "source_health",
        }
    }
}

/// What a spike counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountUnit {
    /// Distinct authors: an author counts once per window (reposts collapse).
    #[default]
    Authors,
    /// Every mention.
    Mentions,
}

/// One alert rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Unique id (`[a-z0-9_-]`).
    pub id: String,
    /// What it detects.
    pub kind: AlertKind,
    /// Topic ids it watches, one stream each; `*` watches every topic. Not used by
    /// `source_health`.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Only mentions with this sentiment label.
    #[serde(default)]
    pub label: Option<Label>,
    /// Only mentions with one of these intents.
    #[serde(default)]
    pub intent: Vec<Intent>,
    /// Only mentions in one of these languages.
    #[serde(default)]
    pub lang: Vec<lauscher_model::Lang>,
    /// Only mentions from one of these sources.
    #[serde(default)]
    pub source: Vec<String>,
    /// Sliding window. Default `60m`.
    #[serde(default = "default_window")]
    pub window: HumanDuration,
    /// Evaluation step and bucket width; divides the window. Default `5m`.
    #[serde(default = "default_step")]
    pub step: HumanDuration,
    /// How long a window still accepts late mentions. Default `30m`.
    #[serde(default = "default_lateness")]
    pub lateness: HumanDuration,
    /// How long a new stream (a topic with no history in the index) only learns before
    /// it may page: its first hours say nothing about its rate, and a busy topic's
    /// first window would otherwise page against the prior. Default `6h`; `0s` for a
    /// topic known to be quiet.
    #[serde(default = "default_warmup")]
    pub warmup: HumanDuration,
    /// Distinct authors or every mention. Default authors.
    #[serde(default)]
    pub count: CountUnit,
    /// Fewest counted mentions that can fire. Default 5.
    #[serde(default = "default_min_count")]
    pub min_count: u32,
    /// Fewest times the expected count that can fire. Default 3.
    #[serde(default = "default_min_ratio")]
    pub min_ratio: f64,
    /// False-alarm budget (default from `defaults`).
    #[serde(default)]
    pub budget: Option<Budget>,
    /// Weight of the hour-of-day profile against each hour-of-week slot, in weeks.
    /// Default 32; lower it for a real weekly rhythm (a weekly TV show).
    #[serde(default = "default_kappa")]
    pub seasonal_shrink: f64,
    /// Run the slow build-up detector (a CUSUM on hourly residuals) beside the window
    /// test; it takes a third of the budget. Default false: on real volume a day-long
    /// 1.5× rise is the level's ordinary day-to-day wobble, so within a budget of one
    /// page a quarter it mostly cannot page in time to matter.
    #[serde(default = "default_cusum")]
    pub cusum: bool,
    /// Influencer: least follower count, besides the source's p99. Default 10000.
    #[serde(default = "default_min_reach")]
    pub min_reach: u64,
    /// Sentiment shift: drop in net sentiment that fires. Default 0.2.
    #[serde(default = "default_drop")]
    pub drop: f64,
    /// Sentiment shift: fewest mentions in the 24 h window. Default 30.
    #[serde(default = "default_min_mentions")]
    pub min_mentions: u32,
    /// Source health: consecutive failed polls that fire. Default 3.
    #[serde(default = "default_failures")]
    pub failures: u32,
    /// Time zone (default from `defaults`).
    #[serde(default)]
    pub timezone: Option<TimeZone>,
    /// Language of the messages (default from `defaults`).
    #[serde(default)]
    pub language: Option<String>,
    /// Free text shown in messages.
    #[serde(default)]
    pub description: Option<String>,
}

fn default_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(3600))
}
fn default_step() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}
fn default_warmup() -> HumanDuration {
    HumanDuration(Duration::from_secs(6 * 3600))
}
fn default_lateness() -> HumanDuration {
    HumanDuration(Duration::from_secs(1800))
}
fn default_min_count() -> u32 {
    5
}
fn default_min_ratio() -> f64 {
    3.0
}
fn default_kappa() -> f64 {
    32.0
}
fn default_cusum() -> bool {
    false
}
fn default_min_reach() -> u64 {
    10_000
}
fn default_drop() -> f64 {
    0.2
}
fn default_min_mentions() -> u32 {
    30
}
fn default_failures() -> u32 {
    3
}

/// A node of the routing tree: matchers, receivers, children.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Label matchers, all of which must hold: `name="value"`, `name!="value"`,
    /// `name=~"regex"`, `name!~"regex"`. Names: rule, topic, kind, level, intent, lang,
    /// source, status.
    #[serde(default)]
    pub matchers: Vec<Matcher>,
    /// Receivers for incidents this route catches.
    #[serde(default)]
    pub receivers: Vec<String>,
    /// Keep looking at the next siblings after a match. Default false.
    #[serde(default, rename = "continue")]
    pub continue_: bool,
    /// Also notify when an incident resolves. Default true.
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// Re-notify and escalate unacknowledged incidents.
    #[serde(default)]
    pub escalation: Option<Escalation>,
    /// Weekly times when this route's notifications for these levels wait (e.g.
    /// nights for level 1); the incident still opens and records.
    #[serde(default)]
    pub mute: Vec<MuteInterval>,
    /// Labels whose values make a group: incidents of a group that change close
    /// together reach a chat or email receiver as one message. Inherited; the root's
    /// default is `[topic]`. `[]` puts everything in one group per route.
    #[serde(default)]
    pub group_by: Option<Vec<String>>,
    /// How long a new group waits for more incidents before its first message.
    /// Inherited; default `0s` (a shitstorm must not wait). Use `30s` on chatty routes.
    #[serde(default)]
    pub group_wait: Option<HumanDuration>,
    /// How long a group that has notified waits before it sends news of *other*
    /// incidents (they are batched). Inherited; default `5m`.
    #[serde(default)]
    pub group_interval: Option<HumanDuration>,
    /// Re-send an unacknowledged open incident this often, on routes without an
    /// escalation policy (which sets its own pace). Inherited; default `4h`.
    #[serde(default)]
    pub repeat_interval: Option<HumanDuration>,
    /// Child routes, tried in order.
    #[serde(default)]
    pub routes: Vec<Route>,
}

fn default_true() -> bool {
    true
}

/// Re-notification and escalation of an unacknowledged incident (PagerDuty's escalation
/// policy).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// Re-notify the route's receivers this often while unacknowledged. Default `15m`.
    #[serde(default = "default_renotify")]
    pub renotify: HumanDuration,
    /// Notify `receivers` too when still unacknowledged this long after opening.
    /// Default `15m`.
    #[serde(default = "default_renotify")]
    pub after: HumanDuration,
    /// The next level's receivers.
    #[serde(default)]
    pub receivers: Vec<String>,
    /// Re-notifications before it stops (per incident). Default 2.
    #[serde(default = "default_loops")]
    pub loops: u32,
}

fn default_renotify() -> HumanDuration {
    HumanDuration(Duration::from_secs(900))
}
fn default_loops() -> u32 {
    2
}

/// A weekly interval in the rule's time zone during which notifications wait.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuteInterval {
    /// `HH:MM-HH:MM`; may wrap midnight (`22:00-07:00`).
    pub times: DailyTimes,
    /// Weekdays (`mon` … `sun`); empty means every day.
    #[serde(default)]
    pub weekdays: Vec<Weekday>,
    /// Levels it mutes; empty means every level.
    #[serde(default)]
    pub levels: Vec<u8>,
}

impl MuteInterval {
    /// Weekday numbers, Monday = 0.
    pub fn weekday_numbers(&self) -> Vec<u32> {
        self.weekdays.iter().map(|&d| d as u32).collect()
    }
}

/// A day of the week, written `mon` … `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
#[expect(missing_docs, reason = "the names say it")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// A local time of day, written `HH:MM` (`24:00` is the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOfDay {
    /// Minutes after midnight, 0 ..= 1440.
    pub minute: u32,
}

impl FromStr for TimeOfDay {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid time {s:?}: expected HH:MM");
        let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 24 || m > 59 || h * 60 + m > 1440 {
            return Err(bad());
        }
        Ok(TimeOfDay { minute: h * 60 + m })
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::deserialize_parsed(d, "a time such as 08:00", str::parse)
    }
}

/// Local times of every day from `start` to `end`, written `HH:MM-HH:MM`; wraps midnight
/// when `end` is earlier (`22:00-07:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyTimes {
    /// Where it starts.
    pub start: TimeOfDay,
    /// Where it ends.
    pub end: TimeOfDay,
}

impl FromStr for DailyTimes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid mute times {s:?}: expected HH:MM-HH:MM");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        Ok(DailyTimes {
            start: a.parse().map_err(|_| bad())?,
            end: b.parse().map_err(|_| bad())?,
        })
    }
}

impl<'de> Deserialize<'de> for DailyTimes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::deserialize_parsed(d, "times such as 22:00-07:00", str::parse)
    }
}

/// One label matcher, written `name="value"` (`=`, `!=`, `=~`, `!~`).
#[derive(Debug, Clone, PartialEq)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// How the value is compared.
    pub op: MatchOp,
    /// The value or regular expression (anchored).
    pub value: String,
}

/// A matcher's comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Matches the regular expression (anchored).
    Re,
    /// Does not match the regular expression.
    NotRe,
}

/// Label names a matcher may use.
pub const MATCHER_LABELS: [&str; 8] = [
    "rule", "topic", "kind", "level", "intent", "lang", "source", "status",
];

impl FromStr for Matcher {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Matcher::parse(s, &MATCHER_LABELS)
    }
}

impl Matcher {
    /// Parses `name="value"` for a matcher whose names must be among `labels` (alert
    /// routes and the service desk match on different labels).
    pub fn parse(s: &str, labels: &[&str]) -> Result<Matcher, String> {
        let bad =
            || format!("invalid matcher {s:?}: expected name=\"value\" (operators =, !=, =~, !~)");
        let name_end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(bad)?;
        let name = s[..name_end].trim().to_owned();
        let rest = &s[name_end..];
        let (op, rest) = if let Some(r) = rest.strip_prefix("=~") {
            (MatchOp::Re, r)
        } else if let Some(r) = rest.strip_prefix("!~") {
            (MatchOp::NotRe, r)
        } else if let Some(r) = rest.strip_prefix("!=") {
            (MatchOp::Ne, r)
        } else if let Some(r) = rest.strip_prefix('=') {
            (MatchOp::Eq, r)
        } else {
            return Err(bad());
        };
        let rest = rest.trim();
        let value = rest
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(rest)
            .to_owned();
        if !labels.contains(&name.as_str()) {
            return Err(format!(
                "unknown label {name:?} in matcher {s:?}: expected one of {}",
                labels.join(", ")
            ));
        }
        if matches!(op, MatchOp::Re | MatchOp::NotRe) {
            regex::Regex::new(&format!("^(?:{value})$"))
                .map_err(|e| format!("invalid regular expression in matcher {s:?}: {e}"))?;
        }
        Ok(Matcher { name, op, value })
    }
}

impl<'de> Deserialize<'de> for Matcher {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::deserialize_parsed(d, "a matcher such as topic=\"acme\"", str::parse)
    }
}

/// Where notifications go.
///
/// Decision: one struct for every kind, its kind-specific fields checked per kind at their
/// place (`url` is required and must be http(s) for chat and webhooks, smtp(s) for email;
/// PagerDuty needs `routing_key`; email `from` and `to`), rather than a
/// `#[serde(tag = "kind")]` enum. serde reads an internally tagged enum by buffering the
/// whole mapping first, which loses every value's line and column and cannot deny unknown
/// fields; errors at their value matter more here than the type. What each kind does with
/// its fields lives in one module per kind (`lauscher_alerts::receiver`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    /// Unique id, named by routes.
    pub id: String,
    /// The kind of endpoint.
    pub kind: ReceiverKind,
    /// Endpoint URL (webhook, slack, teams, mattermost; pagerduty to override the
    /// Events API address).
    #[serde(default)]
    pub url: Option<url::Url>,
    /// Webhook: HMAC-SHA256 signing secret (`Lauscher-Signature` header).
    #[serde(default)]
    pub secret: Option<String>,
    /// PagerDuty: the integration's routing key.
    #[serde(default)]
    pub routing_key: Option<String>,
    /// Mattermost: channel override; Slack ignores it (the URL names the channel).
    #[serde(default)]
    pub channel: Option<String>,
    /// Give up on a notification this long after it was queued. Default `24h`.
    #[serde(default = "default_ttl")]
    pub ttl: HumanDuration,
    /// Extra HTTP headers (webhook).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Email: the sender, `Name <addr@example.org>` or `addr@example.org`.
    #[serde(default)]
    pub from: Option<String>,
    /// Email: the recipients.
    #[serde(default)]
    pub to: Vec<String>,
    /// Zammad and Znuny: how tickets are made there (see [`TicketConfig`]).
    #[serde(default)]
    pub ticket: Option<TicketConfig>,
    /// Most notifications per time, as `N/s`, `N/m` or `N/h` (a GCRA limit: sends
    /// are spaced, never dropped). Defaults: slack and teams `1/s`, pagerduty `2/s`,
    /// email `1/s`, zammad and znuny `5/s`, webhook and mattermost unlimited.
    #[serde(default)]
    pub rate: Option<Rate>,
    /// Notifications that may go out at once before `rate` spaces them. Default 3.
    #[serde(default = "default_burst")]
    pub burst: u32,
}

fn default_burst() -> u32 {
    3
}

/// How a ticket system (receiver kind `zammad` or `znuny`) takes hand-offs: who
/// Lauscher is there, and where its tickets go. The receiver's `url` is the system's
/// base (`https://zammad.example.de`; for Znuny the web service's,
/// `https://host/znuny/nph-genericinterface.pl/Webservice/Lauscher`), its `secret`
/// checks what the system reports back (Zammad: the webhook's HMAC-SHA1 signature;
/// Znuny: the invoker's Basic-auth password).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketConfig {
    /// Zammad: an access token of an agent with `ticket.agent`.
    #[serde(default)]
    pub token: Option<String>,
    /// Znuny: the agent's login (`UserLogin`).
    #[serde(default)]
    pub user: Option<String>,
    /// Znuny: the agent's password.
    #[serde(default)]
    pub password: Option<String>,
    /// The Zammad group or Znuny queue new tickets go to.
    pub queue: String,
    /// The customer of new tickets: Zammad finds or creates it by e-mail
    /// (`guess:<address>`) or takes a user id; Znuny needs an existing customer user or
    /// an e-mail address.
    /// Social posters have no e-mail address, so one customer stands for them all.
    pub customer: String,
    /// Znuny: the ticket type, where `Ticket::Type` is on.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// How often open tickets are read back, as a safety net for a webhook that did
    /// not arrive. Default `10m`.
    #[serde(default = "default_poll")]
    pub poll: HumanDuration,
    /// How long the system's search may take to find a ticket just made (Zammad's
    /// search index lags behind a create by seconds): a hand-off is tried again no
    /// sooner than this after an attempt that may have made a ticket (a timeout, an
    /// error answer, a crash), so the retry's lookup finds it. Default `30s`.
    #[serde(default = "default_settle")]
    pub settle: HumanDuration,
}

fn default_settle() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

/// The error for a name that is no receiver notifications can go to.
pub(crate) fn unknown_receiver(name: &str) -> String {
    format!(
        "unknown receiver {name:?}: define it under receivers: (a ticket system, kind zammad or znuny, takes desk hand-offs only)"
    )
}

/// Checks the ticket-system fields of `r`: `ticket` belongs to zammad and znuny
/// receivers, each with its credentials, and a `secret` for what comes back.
fn check_ticket(r: &ReceiverConfig) -> Result<(), (&'static str, String)> {
    let id = &r.id;
    let Some(t) = &r.ticket else {
        if r.kind.is_ticket_system() {
            return Err((
                "kind",
                format!(
                    "receiver {id:?}: {} needs ticket: {{queue, customer, ...}}",
                    r.kind.as_str()
                ),
            ));
        }
        return Ok(());
    };
    let empty = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    match r.kind {
        ReceiverKind::Zammad if empty(&t.token) => Err((
            "ticket",
            format!("receiver {id:?}: zammad needs ticket.token (an agent's access token)"),
        )),
        ReceiverKind::Znuny if empty(&t.user) || empty(&t.password) => Err((
            "ticket",
            format!(
                "receiver {id:?}: znuny needs ticket.user and ticket.password (an agent's login)"
            ),
        )),
        ReceiverKind::Zammad | ReceiverKind::Znuny if empty(&r.secret) => Err((
            "kind",
            format!(
                "receiver {id:?}: a ticket system needs secret: (it checks what the system reports back)"
            ),
        )),
        ReceiverKind::Zammad | ReceiverKind::Znuny
            if t.queue.trim().is_empty() || t.customer.trim().is_empty() =>
        {
            Err((
                "ticket",
                format!("receiver {id:?}: ticket.queue and ticket.customer must not be empty"),
            ))
        }
        ReceiverKind::Zammad
            if !t.customer.contains('@') && t.customer.trim().parse::<u64>().is_err() =>
        {
            Err((
                "ticket",
                format!(
                    "receiver {id:?}: zammad needs ticket.customer as an e-mail address (found or created) or a user id"
                ),
            ))
        }
        ReceiverKind::Zammad | ReceiverKind::Znuny => Ok(()),
        other => Err((
            "ticket",
            format!(
                "receiver {id:?}: ticket: belongs to zammad and znuny receivers, not {}",
                other.as_str()
            ),
        )),
    }
}

fn default_poll() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}

/// A rate: `count` per `per`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// How many.
    pub count: u32,
    /// Per this long.
    pub per: Duration,
}

impl Rate {
    /// The spacing between two sends at this rate.
    pub fn interval(&self) -> Duration {
        self.per / self.count.max(1)
    }
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid rate {s:?}: expected N/s, N/m or N/h, e.g. 1/s");
        let (n, unit) = s.split_once('/').ok_or_else(bad)?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(bad());
        }
        Ok(Rate { count, per })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::value::deserialize_parsed(d, "a rate such as 1/s", str::parse)
    }
}

impl ReceiverConfig {
    /// The rate limit in force: the configured one or the kind's default.
    pub fn rate_limit(&self) -> Option<Rate> {
        let per_second = |count| {
            Some(Rate {
                count,
                per: Duration::from_secs(1),
            })
        };
        self.rate.or(match self.kind {
            ReceiverKind::Slack | ReceiverKind::Teams | ReceiverKind::Email => per_second(1),
            ReceiverKind::Pagerduty => per_second(2),
            ReceiverKind::Zammad | ReceiverKind::Znuny => per_second(5),
            ReceiverKind::Webhook | ReceiverKind::Mattermost => None,
        })
    }
}

fn default_ttl() -> HumanDuration {
    HumanDuration(Duration::from_secs(86_400))
}

/// Kinds of receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiverKind {
    /// Generic JSON webhook (`lauscher.alert/v1`), optionally HMAC-signed.
    Webhook,
    /// Slack incoming webhook (blocks).
    Slack,
    /// Microsoft Teams Workflows webhook (Adaptive Card).
    Teams,
    /// Mattermost incoming webhook.
    Mattermost,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// Email over SMTP: HTML with a text part.
    Email,
    /// Zammad's REST API: takes desk hand-offs only.
    Zammad,
    /// Znuny's (OTRS's) GenericInterface: takes desk hand-offs only.
    Znuny,
}

impl ReceiverKind {
    /// The name used in metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiverKind::Webhook => "webhook",
            ReceiverKind::Slack => "slack",
            ReceiverKind::Teams => "teams",
            ReceiverKind::Mattermost => "mattermost",
            ReceiverKind::Email => "email",
            ReceiverKind::Pagerduty => "pagerduty",
            ReceiverKind::Zammad => "zammad",
            ReceiverKind::Znuny => "znuny",
        }
    }

    /// Whether it is a ticket system: it takes desk hand-offs, never notifications.
    pub fn is_ticket_system(self) -> bool {
        matches!(self, ReceiverKind::Zammad | ReceiverKind::Znuny)
    }
}

/// A scheduled digest: the weekly (or daily) report for a team, sent once per period.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    /// Unique id (it names the digest in the state store: once per period).
    pub id: String,
    /// `week` (Monday to Monday) or `day`.
    #[serde(default)]
    pub every: DigestPeriod,
    /// Local time it goes out after its period ended, `HH:MM`. Default `08:00`.
    #[serde(default = "default_at")]
    pub at: TimeOfDay,
    /// Receivers (email gets the HTML report with a text part; chat a short summary).
    pub receivers: Vec<String>,
    /// `de` or `en`. Default: the defaults' language.
    #[serde(default)]
    pub language: Option<ReportLanguage>,
    /// Time zone of the period. Default: the defaults' time zone.
    #[serde(default)]
    pub timezone: Option<TimeZone>,
    /// Base URL of the Lauscher API as the team reaches it; chat summaries link to the
    /// full report there (`<link>/api/v1/report?...`). Optional.
    #[serde(default)]
    pub link: Option<url::Url>,
}

fn default_at() -> TimeOfDay {
    TimeOfDay { minute: 8 * 60 }
}

/// The period a digest covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestPeriod {
    /// Monday to Monday.
    #[default]
    Week,
    /// Midnight to midnight.
    Day,
}

/// The incident lifecycle settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentPolicy {
    /// Quiet evaluation windows in a row that resolve an incident. Default 3.
    #[serde(default = "default_quiet")]
    pub resolve_after_quiet: u32,
    /// An incident firing again this soon after resolving reopens. Default `2h`.
    #[serde(default = "default_reopen")]
    pub reopen_within: HumanDuration,
    /// An acknowledged incident fires again after this without resolving. Default `4h`.
    #[serde(default = "default_ack_timeout")]
    pub ack_timeout: HumanDuration,
    /// Answer within this from the first post of the wave. Default `60m`.
    #[serde(default = "default_sla")]
    pub sla: HumanDuration,
    /// Warn when the SLA clock reaches this unacknowledged. Default `45m`.
    #[serde(default = "default_sla_warn")]
    pub sla_warn: HumanDuration,
}

fn default_quiet() -> u32 {
    3
}
fn default_reopen() -> HumanDuration {
    HumanDuration(Duration::from_secs(7200))
}
fn default_ack_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(4 * 3600))
}
fn default_sla() -> HumanDuration {
    HumanDuration(Duration::from_secs(3600))
}
fn default_sla_warn() -> HumanDuration {
    HumanDuration(Duration::from_secs(2700))
}

impl Default for IncidentPolicy {
    fn default() -> Self {
        IncidentPolicy {
            resolve_after_quiet: default_quiet(),
            reopen_within: default_reopen(),
            ack_timeout: default_ack_timeout(),
            sla: default_sla(),
            sla_warn: default_sla_warn(),
        }
    }
}

/// Receivers that have no business receiving secrets in their URLs being logged: the
/// part of a URL printed in errors and the API.
pub fn redact_url(url: &url::Url) -> String {
    match url.host_str() {
        Some(h) => format!("{}://{h}/…", url.scheme()),
        None => "(url)".into(),
    }
}

impl AlertRule {
    /// The rule's false-alarm budget.
    pub fn budget(&self, defaults: &RuleDefaults) -> Budget {
        self.budget.unwrap_or(defaults.budget)
    }

    /// The rule's time zone.
    pub fn timezone(&self, defaults: &RuleDefaults) -> chrono_tz::Tz {
        self.timezone.unwrap_or(defaults.timezone).0
    }

    /// The rule's message language.
    pub fn language<'a>(&'a self, defaults: &'a RuleDefaults) -> &'a str {
        self.language.as_deref().unwrap_or(&defaults.language)
    }

    /// Whether the rule watches `topic`.
    pub fn watches(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == "*" || t == topic)
    }
}

impl AlertingConfig {
    /// Reads and validates the file at `path`; `topics` are the known topic ids (empty:
    /// not checked) and `langs` the configured languages.
    pub fn load(path: &Path, topics: &[String]) -> Result<AlertingConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            file: path.to_owned(),
            source,
        })?;
        let mut config =
            AlertingConfig::parse(&text, &path.display().to_string(), topics, &|name| {
                std::env::var(name).ok()
            })?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(config)
    }

    /// Parses and validates `text`, naming it `file` in errors.
    pub fn parse(
        text: &str,
        file: &str,
        topics: &[String],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AlertingConfig, Located> {
        let expanded = expand_env(text, file, env)?;
        let mut config: AlertingConfig =
            serde_norway::from_str(&expanded).map_err(|e| yaml_error(&e, file, text))?;
        config.file = file.to_owned();
        config.validate(&YamlFile::new(file, text), topics)?;
        Ok(config)
    }

    fn validate(&self, f: &YamlFile<'_>, topics: &[String]) -> Result<(), Located> {
        if self.version != 1 {
            return Err(f.at(
                "version",
                format!("unsupported version {}: expected 1", self.version),
            ));
        }
        let mut ids = HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let in_rule = |key: &str, msg: String| f.at(&format!("rules[{i}].{key}"), msg);
            check_id(&rule.id).map_err(|m| in_rule("id", m))?;
            if !ids.insert(rule.id.clone()) {
                return Err(in_rule(
                    "id",
                    format!("duplicate alert rule id {:?}", rule.id),
                ));
            }
            if rule.kind != AlertKind::SourceHealth && rule.topics.is_empty() {
                return Err(in_rule(
                    "kind",
                    format!(
                        "alert rule {:?} watches no topic: add topics: [<topic id>] or [\"*\"]",
                        rule.id
                    ),
                ));
            }
            for (j, t) in rule.topics.iter().enumerate() {
                if t != "*" && !topics.is_empty() && !topics.contains(t) {
                    return Err(in_rule(
                        &format!("topics[{j}]"),
                        format!("alert rule {:?}: unknown topic {t:?}", rule.id),
                    ));
                }
            }
            let (w, s) = (rule.window.0, rule.step.0);
            if s < Duration::from_secs(1)
                || w < s
                || !w.as_millis().is_multiple_of(s.as_millis())
                || w.as_millis() / s.as_millis() > 288
            {
                return Err(in_rule(
                    "window",
                    format!(
                        "alert rule {:?}: the window ({}) must be a multiple of the step ({}), at most 288 steps",
                        rule.id, rule.window, rule.step
                    ),
                ));
            }
            if !(1.0..=100.0).contains(&rule.min_ratio) {
                return Err(in_rule(
                    "min_ratio",
                    "min_ratio must be between 1 and 100".into(),
                ));
            }
            if !(0.01..=1.0).contains(&rule.drop) {
                return Err(in_rule("drop", "drop must be between 0.01 and 1".into()));
            }
            if !(0.0..=1000.0).contains(&rule.seasonal_shrink) {
                return Err(in_rule(
                    "seasonal_shrink",
                    "seasonal_shrink must be between 0 and 1000 weeks".into(),
                ));
            }
        }
        // Ticket systems take hand-offs only: routes, digests and the fallback cannot
        // name them.
        let receivers: HashSet<&str> = self
            .receivers
            .iter()
            .filter(|r| !r.kind.is_ticket_system())
            .map(|r| r.id.as_str())
            .collect();
        let mut seen = HashSet::new();
        for (i, r) in self.receivers.iter().enumerate() {
            let in_recv = |key: &str, msg: String| f.at(&format!("receivers[{i}].{key}"), msg);
            check_id(&r.id).map_err(|m| in_recv("id", m))?;
            if !seen.insert(r.id.as_str()) {
                return Err(in_recv("id", format!("duplicate receiver id {:?}", r.id)));
            }
            match r.kind {
                ReceiverKind::Email => {
                    let scheme = r.url.as_ref().map(url::Url::scheme);
                    let tls = r.url.as_ref().and_then(|u| {
                        u.query_pairs()
                            .find(|(k, _)| k == "tls")
                            .map(|(_, v)| v.into_owned())
                    });
                    let tls_ok =
                        matches!(tls.as_deref(), None | Some("required" | "opportunistic"));
                    if !matches!(scheme, Some("smtp" | "smtps")) || !tls_ok {
                        return Err(in_recv(
                            if r.url.is_some() { "url" } else { "kind" },
                            format!(
                                "receiver {:?}: email needs url: smtps://user:pass@host:465 (TLS), smtp://user:pass@host:587?tls=required (STARTTLS) or smtp://host:25 (plain: a local relay only)",
                                r.id
                            ),
                        ));
                    }
                    let Some(from) = &r.from else {
                        return Err(in_recv(
                            "kind",
                            format!("receiver {:?}: email needs from:", r.id),
                        ));
                    };
                    check_mailbox(from).map_err(|m| in_recv("from", m))?;
                    if r.to.is_empty() {
                        return Err(in_recv(
                            "kind",
                            format!("receiver {:?}: email needs to: [address, ...]", r.id),
                        ));
                    }
                    for (j, to) in r.to.iter().enumerate() {
                        check_mailbox(to).map_err(|m| in_recv(&format!("to[{j}]"), m))?;
                    }
                }
                ReceiverKind::Pagerduty => {
                    if r.routing_key.as_deref().unwrap_or("").is_empty() {
                        return Err(in_recv(
                            "kind",
                            format!("receiver {:?}: pagerduty needs routing_key", r.id),
                        ));
                    }
                }
                _ => {
                    let Some(url) = &r.url else {
                        return Err(in_recv(
                            "kind",
                            format!("receiver {:?}: {} needs url", r.id, r.kind.as_str()),
                        ));
                    };
                    if !matches!(url.scheme(), "http" | "https") {
                        return Err(in_recv(
                            "url",
                            format!("receiver {:?}: url must be http or https", r.id),
                        ));
                    }
                    if r.kind == ReceiverKind::Teams
                        && url
                            .host_str()
                            .is_some_and(|h| h.ends_with("webhook.office.com"))
                    {
                        return Err(in_recv(
                            "url",
                            format!(
                                "receiver {:?}: Office 365 connector URLs (webhook.office.com) were retired in 2026; create a Teams Workflows webhook instead",
                                r.id
                            ),
                        ));
                    }
                }
            }
            check_ticket(r).map_err(|(key, m)| in_recv(key, m))?;
        }
        let mut digest_ids = HashSet::new();
        for (i, d) in self.digests.iter().enumerate() {
            let in_digest = |key: &str, msg: String| f.at(&format!("digests[{i}].{key}"), msg);
            check_id(&d.id).map_err(|m| in_digest("id", m))?;
            if !digest_ids.insert(d.id.as_str()) {
                return Err(in_digest("id", format!("duplicate digest id {:?}", d.id)));
            }
            if d.receivers.is_empty() {
                return Err(in_digest("receivers", "a digest needs receivers".into()));
            }
            for (j, r) in d.receivers.iter().enumerate() {
                let at = format!("receivers[{j}]");
                match self.receivers.iter().find(|x| &x.id == r) {
                    None => {
                        return Err(in_digest(&at, unknown_receiver(r)));
                    }
                    Some(x) if x.kind.is_ticket_system() => {
                        return Err(in_digest(&at, unknown_receiver(r)));
                    }
                    Some(x) if x.kind == ReceiverKind::Pagerduty => {
                        return Err(in_digest(
                            &at,
                            format!(
                                "receiver {r:?} is PagerDuty: a digest is no page; use email or chat"
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        if let Some(fb) = &self.fallback
            && !receivers.contains(fb.as_str())
        {
            return Err(f.at(
                "fallback",
                format!("unknown fallback receiver {fb:?}: define it under receivers:"),
            ));
        }
        check_route(&self.routing, "routing", &receivers, f)?;
        if let Some(desk) = &self.desk {
            let signed: HashSet<&str> = self
                .receivers
                .iter()
                .filter(|r| {
                    (r.kind == ReceiverKind::Webhook || r.kind.is_ticket_system())
                        && r.secret.is_some()
                })
                .map(|r| r.id.as_str())
                .collect();
            desk.validate(f, topics, &receivers, &signed)?;
        }
        let p = &self.incidents;
        if p.sla_warn.0 > p.sla.0 {
            return Err(f.at("incidents.sla_warn", "sla_warn must not be later than sla"));
        }
        if p.resolve_after_quiet == 0 {
            return Err(f.at(
                "incidents.resolve_after_quiet",
                "resolve_after_quiet must be at least 1",
            ));
        }
        Ok(())
    }
}

fn check_route(
    route: &Route,
    path: &str,
    receivers: &HashSet<&str>,
    f: &YamlFile<'_>,
) -> Result<(), Located> {
    let unknown = |name: &str| unknown_receiver(name);
    for (j, name) in route.receivers.iter().enumerate() {
        if !receivers.contains(name.as_str()) {
            return Err(f.at(&format!("{path}.receivers[{j}]"), unknown(name)));
        }
    }
    if let Some(e) = &route.escalation {
        for (j, name) in e.receivers.iter().enumerate() {
            if !receivers.contains(name.as_str()) {
                return Err(f.at(&format!("{path}.escalation.receivers[{j}]"), unknown(name)));
            }
        }
    }
    for (j, label) in route.group_by.iter().flatten().enumerate() {
        if !LABELS.contains(&label.as_str()) {
            return Err(f.at(
                &format!("{path}.group_by[{j}]"),
                format!(
                    "invalid group_by label {label:?}: expected one of {}",
                    LABELS.join(", ")
                ),
            ));
        }
    }
    if let (Some(g), Some(r)) = (route.group_interval, route.repeat_interval)
        && r.0 < g.0
    {
        return Err(f.at(
            &format!("{path}.repeat_interval"),
            "repeat_interval must not be shorter than group_interval",
        ));
    }
    for (j, child) in route.routes.iter().enumerate() {
        check_route(child, &format!("{path}.routes[{j}]"), receivers, f)?;
    }
    Ok(())
}

/// Labels an incident carries, for matchers and `group_by`.
pub const LABELS: [&str; 8] = [
    "rule", "topic", "kind", "level", "intent", "lang", "source", "status",
];

fn check_mailbox(s: &str) -> Result<(), String> {
    s.parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|e| format!("invalid email address {s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AlertingConfig, Located> {
        AlertingConfig::parse(text, "alerts.yaml", &["acme".into()], &|_| None)
    }

    #[test]
    fn budget_gives_alpha() {
        let b: Budget = "1/90d".parse().expect("budget");
        assert!((b.alpha() - 1.157e-4).abs() < 1e-6, "{}", b.alpha());
        assert!("0/90d".parse::<Budget>().is_err());
        assert!("1/1h".parse::<Budget>().is_err());
    }

    #[test]
    fn matchers_parse_and_reject() {
        let m: Matcher = r#"intent="complaint""#.parse().expect("matcher");
        assert_eq!(
            (m.name.as_str(), m.op, m.value.as_str()),
            ("intent", MatchOp::Eq, "complaint")
        );
        let m: Matcher = r#"level=~"2|3""#.parse().expect("matcher");
        assert_eq!(m.op, MatchOp::Re);
        assert!("colour=\"red\"".parse::<Matcher>().is_err());
        assert!("level=~\"(\"".parse::<Matcher>().is_err());
    }

    #[test]
    fn unknown_receiver_is_located() {
        let text = "version: 1\nrouting:\n  receivers: [nobody]\n";
        let e = parse(text).expect_err("unknown receiver");
        assert_eq!((e.line, e.col), (3, 15), "{e}");
        assert!(e.msg.contains("unknown receiver"), "{e}");
    }

    #[test]
    fn rule_errors_point_into_the_rule() {
        let text = "version: 1\nrules:\n  - id: a\n    kind: spike\n    topics: [acme]\n  - id: b\n    kind: spike\n    topics: [acme]\n    window: 7m\n";
        let e = parse(text).expect_err("window not a multiple of step");
        assert_eq!(e.line, 9, "{e}");
        let text = "version: 1\nrules:\n  - id: a\n    kind: spike\n    topics: [nope]\n";
        let e = parse(text).expect_err("unknown topic");
        assert_eq!(e.line, 5, "{e}");
    }

    #[test]
    fn time_zones_parse_where_written_and_errors_point_at_the_value() {
        let text = "version: 1\ndefaults:\n  timezone: America/New_York\nrules:\n  - id: a\n    kind: spike\n    topics: [acme]\n  - id: b\n    kind: spike\n    topics: [acme]\n    timezone: UTC\n";
        let c = parse(text).expect("valid");
        assert_eq!(
            c.rules[0].timezone(&c.defaults),
            chrono_tz::America::New_York
        );
        assert_eq!(c.rules[1].timezone(&c.defaults), chrono_tz::UTC);
        assert_eq!(
            AlertingConfig::default().defaults.timezone,
            TimeZone::default(),
            "one default"
        );
        let e = parse(&text.replace("timezone: UTC", "timezone: Mars/Olympus"))
            .expect_err("unknown zone");
        assert_eq!((e.line, e.col), (11, 15), "{e}");
        assert!(e.msg.contains("unknown time zone \"Mars/Olympus\""), "{e}");
    }

    #[test]
    fn email_grouping_rates_and_fallback_are_validated() {
        let ok = "version: 1
routing:
  receivers: [mail]
  group_by: [topic, level]
  group_wait: 30s
fallback: mail
receivers:
  - id: mail
    kind: email
    url: smtps://user:pw@mail.example.org:465
    from: Lauscher <lauscher@example.org>
    to: [service@example.org]
    rate: 10/m
    burst: 5
";
        let c = parse(ok).expect("valid");
        let r = &c.receivers[0];
        assert_eq!(
            r.rate_limit().map(|r| r.interval()),
            Some(Duration::from_secs(6))
        );
        let e = parse(&ok.replace("to: [service@example.org]", "to: [not an address]"))
            .expect_err("bad address");
        assert_eq!(e.line, 12, "{e}");
        assert!(e.msg.contains("invalid email address"), "{e}");
        let e = parse(&ok.replace("smtps://", "https://")).expect_err("not smtp");
        assert!(e.msg.contains("smtps://"), "{e}");
        let e = parse(&ok.replace("[topic, level]", "[topic, colour]")).expect_err("label");
        assert_eq!(e.line, 4, "{e}");
        assert!(e.msg.contains("group_by"), "{e}");
        let e = parse(&ok.replace("fallback: mail", "fallback: nobody")).expect_err("fallback");
        assert_eq!(e.line, 6, "{e}");
        let e = parse(&ok.replace("10/m", "10/week")).expect_err("rate");
        assert!(e.msg.contains("invalid rate"), "{e}");
    }

    #[test]
    fn teams_connectors_are_rejected() {
        let text = "version: 1\nreceivers:\n  - id: t\n    kind: teams\n    url: https://acme.webhook.office.com/x\n";
        let e = parse(text).expect_err("retired connector");
        assert_eq!(e.line, 5, "{e}");
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../../../rules/alerts.yaml");
        let env = |name: &str| {
            Some(if name.contains("SMTP") {
                "smtps://u:p@mail.example.org:465".to_owned()
            } else {
                "https://hooks.example.org/x".to_owned()
            })
        };
        AlertingConfig::parse(text, "alerts.yaml", &[], &env).expect("example parses");
    }
}
