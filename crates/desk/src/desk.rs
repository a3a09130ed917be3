//! The desk itself: intake of committed mentions, agents' actions, the SLA tick, and
//! reads (items, events, KPIs) over the state store.
//!
//! Every write is one state-store transaction holding the item's new version, its events
//! and any notifications ([`StateStore::desk_commit`]), made under one lock so that the
//! intake, the clock and agents never interleave a read-modify-write. Agents' writes may
//! name the version they saw: a stale one is refused ([`DeskError::Stale`], HTTP 409).
//!
//! Intake, per committed mention, oldest first:
//! 1. a mention the desk holds already is skipped (replays after a restart are no-ops);
//!    one posted longer than `max_age` ago is skipped (archive imports are no queue);
//! 2. a post by one of the brand's own accounts (of any topic) is never an item; when it
//!    replies in the thread of an item of its topic, it is that item's response (a bot account's is recorded, never
//!    counted);
//! 3. a reply by the item's author in its thread within `follow_up` of the author's last
//!    post joins the item (reopening it when pending or resolved);
//! 4. otherwise a mention whose intent is one of `intents` and that a desk route matches
//!    becomes a new item, with the route's team, a priority (reach, open incidents on its
//!    topics), the first SLA policy that matches and its abuse flag ([`crate::abuse`],
//!    read from the first 200 characters): a threat is urgent and announced at once.
//!
//! Threads are followed through addresses: an item's posts' URLs and source addresses
//! (Mastodon status API URLs, Bluesky `at://` URIs) lead to it, and a reply names its
//! parent by one of them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use lauscher_alerts::render::DeskNotice;
use lauscher_alerts::route::{Labels, matches, route};
use lauscher_alerts::ticket::{TicketLedger, TicketReport};
use lauscher_config::{AlertingConfig, DeskConfig, ReceiverConfig};
use lauscher_model::{MentionSummary, Priority};
use lauscher_state::{DeskEventRow, DeskItemRow, DeskWrite, OutboxRow, StateError, StateStore};
use lauscher_telemetry::METRICS;
use tracing::{info, warn};

use crate::abuse::AbuseKind;
use crate::clock::SlaBook;
use crate::event::{
    Actor, AuthorFlag, Change, Clock, DismissReason, Event, ItemState, Post, ResponseKind,
};
use crate::item::{Item, Notice, Refused};
use crate::kpi::{KpiReport, KpiRequest};

/// Why a desk call failed.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// No such item.
    #[error("no desk item {0}")]
    NotFound(i64),
    /// The item changed since the caller read it.
    #[error("item {id} is at version {current}, not {expected}: reload it and try again")]
    Stale {
        /// The item.
        id: i64,
        /// The version the caller saw.
        expected: u32,
        /// The version stored.
        current: u32,
    },
    /// The change is not possible now.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// A stored row does not parse (written by a newer Lauscher, or damaged).
    #[error("desk item {id}: stored data unreadable: {message}")]
    Corrupt {
        /// The item.
        id: i64,
        /// The parser's message.
        message: String,
    },
}

/// Whether intake could do anything with `m` at `now`: it is not older than `max_age`,
/// and it is a reply (a follow-up or a brand's answer) or of an intent that makes items.
/// Cheap, so it runs on every committed mention before any lookup; most mentions (news,
/// praise, chatter) stop here.
pub fn concerns(config: &DeskConfig, m: &MentionSummary, now: i64) -> bool {
    now - m.published_at.timestamp() <= config.max_age.0.as_secs() as i64
        && (m.reply_to.is_some() || config.intents.contains(&m.intent))
}

/// What an agent does to an item.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Give it to an agent.
    Assign(String),
    /// Take it (refused when another agent owns it).
    Claim,
    /// Give it back to the team.
    Unassign,
    /// Add a tag.
    Tag(String),
    /// Remove a tag.
    Untag(String),
    /// Add an internal note.
    Note(String),
    /// Set the priority.
    Prioritize(Priority),
    /// Correct the scorer's label and/or intent of the opening post.
    Correct(
        Option<lauscher_model::Label>,
        Option<lauscher_model::Intent>,
    ),
    /// Record the receipt stamp sent to the author ("thanks, we are on it"), with an
    /// optional reference (a ticket number): the first response.
    Ack(Option<String>),
    /// Waiting on the author or a third party.
    Pending,
    /// Done.
    Resolve,
    /// Back to work.
    Reopen,
    /// Give it up, with a reason.
    Dismiss(DismissReason),
    /// Fold it into another item.
    Merge(i64),
    /// Hand it off to this receiver of `desk.handoff` (Zammad, Znuny or a signed
    /// webhook).
    Handoff(String),
}

/// Which items to list.
#[derive(Clone, Debug, Default)]
pub struct ItemFilter {
    /// Only these states (default: new, open, pending).
    pub states: Vec<ItemState>,
    /// Only this agent's.
    pub assignee: Option<String>,
    /// Only this team's.
    pub team: Option<String>,
    /// Only items with this topic.
    pub topic: Option<String>,
    /// Only items with a clock past due.
    pub breached: bool,
    /// At most this many.
    pub limit: usize,
}

/// An item with where its clocks stand, as lists show it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ItemView {
    /// The item.
    #[serde(flatten)]
    pub item: Item,
    /// The earliest due time of a running clock (unix seconds).
    pub sla_due: Option<i64>,
    /// Which clock that is.
    pub sla_clock: Option<Clock>,
    /// Whether a running clock is past due.
    pub breached: bool,
}

/// What one intake call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Intake {
    /// New items.
    pub created: usize,
    /// Follow-ups joined to items.
    pub follow_ups: usize,
    /// Brand replies recorded as responses.
    pub responses: usize,
}

/// What a write stores beside the item and its events.
#[derive(Default)]
struct Extras {
    mentions: Vec<(lauscher_model::MentionId, &'static str)>,
    addresses: Vec<String>,
    notifications: Vec<OutboxRow>,
}

/// The service desk over a state store.
pub struct Desk {
    state: Arc<StateStore>,
    config: DeskConfig,
    alerting: AlertingConfig,
    book: SlaBook,
    /// Topic id → kind (`brand`, `competitor`, `industry`), for matchers.
    kinds: BTreeMap<String, String>,
    lock: Mutex<()>,
    /// When each agent last got an item by auto-assignment (ties go to the one waiting
    /// longest; forgotten at restart, then names break ties).
    last_assigned: Mutex<BTreeMap<String, i64>>,
}

fn stored_item(row: &DeskItemRow) -> Result<Item, DeskError> {
    serde_json::from_str(&row.body).map_err(|e| DeskError::Corrupt {
        id: row.id,
        message: e.to_string(),
    })
}

/// Parses stored events.
pub fn stored_events(rows: &[DeskEventRow]) -> Result<Vec<Event>, DeskError> {
    rows.iter()
        .map(|r| {
            serde_json::from_str(&r.data).map_err(|e| DeskError::Corrupt {
                id: r.item_id,
                message: format!("event {}: {e}", r.seq),
            })
        })
        .collect()
}

impl Desk {
    /// The desk of the alerting file's `desk:` section; `None` without one. `kinds` maps
    /// topic ids to their kind.
    pub fn new(
        alerting: &AlertingConfig,
        state: Arc<StateStore>,
        kinds: BTreeMap<String, String>,
    ) -> Option<Desk> {
        let config = alerting.desk.clone()?;
        Some(Desk {
            book: SlaBook::new(&config),
            state,
            config,
            alerting: alerting.clone(),
            kinds,
            lock: Mutex::new(()),
            last_assigned: Mutex::new(BTreeMap::new()),
        })
    }

    /// The desk's configuration.
    pub fn config(&self) -> &DeskConfig {
        &self.config
    }

    /// The receiver of hand-off target `target` (named in `desk.handoff`).
    pub fn handoff_target(&self, target: &str) -> Option<&ReceiverConfig> {
        if !self.config.handoff.iter().any(|h| h == target) {
            return None;
        }
        self.alerting.receivers.iter().find(|r| r.id == target)
    }

    /// The SLA policies and calendars.
    pub fn book(&self) -> &SlaBook {
        &self.book
    }

    fn guard(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn labels(&self, post: &Post, topic: Option<&str>, extra: &[(&str, &str)]) -> Labels {
        let mut l = Labels::new();
        if let Some(t) = topic {
            l.insert("topic".into(), t.to_owned());
            if let Some(k) = self.kinds.get(t) {
                l.insert("kind".into(), k.clone());
            }
        }
        l.insert("intent".into(), post.intent.as_str().into());
        l.insert("lang".into(), post.lang.clone());
        l.insert("source".into(), post.source.clone());
        for (k, v) in extra {
            l.insert((*k).into(), (*v).into());
        }
        l
    }

    /// Label sets of a post, one per topic (any may match).
    fn label_sets(&self, post: &Post, extra: &[(&str, &str)]) -> Vec<Labels> {
        if post.topics.is_empty() {
            return vec![self.labels(post, None, extra)];
        }
        post.topics
            .iter()
            .map(|t| self.labels(post, Some(t), extra))
            .collect()
    }

    fn team_for(&self, post: &Post, flag: &str) -> Option<String> {
        if self.config.routes.is_empty() {
            return Some("service".into());
        }
        let sets = self.label_sets(post, &[("author_flag", flag)]);
        let reach = post.reach.unwrap_or(0);
        self.config
            .routes
            .iter()
            .find(|r| {
                reach >= r.min_reach
                    && sets
                        .iter()
                        .any(|l| r.matchers.iter().all(|m| matches(&m.0, l)))
            })
            .map(|r| r.team.clone())
    }

    fn priority_for(&self, post: &Post) -> Result<Priority, DeskError> {
        let reach = post.reach.unwrap_or(0);
        let mut p = if reach >= self.config.urgent_reach {
            Priority::Urgent
        } else if reach >= self.config.high_reach {
            Priority::High
        } else {
            Priority::Normal
        };
        for inc in self.state.live_incidents(i64::MAX)? {
            if inc.status == "resolved" || !post.topics.contains(&inc.topic) {
                continue;
            }
            p = p.max(match inc.level {
                3.. => Priority::Urgent,
                2 => Priority::High,
                _ => Priority::Normal,
            });
        }
        Ok(p)
    }

    fn policy_for(&self, post: &Post, team: &str, priority: Priority, flag: &str) -> String {
        let extra = [
            ("team", team),
            ("priority", priority.as_str()),
            ("author_flag", flag),
        ];
        let reach = post.reach.unwrap_or(0);
        let sets = self.label_sets(post, &extra);
        // The first policy any of the post's topics matches.
        self.book
            .policies()
            .iter()
            .find(|p| {
                reach >= p.min_reach
                    && sets
                        .iter()
                        .any(|l| p.matchers.iter().all(|m| matches(&m.0, l)))
            })
            .map_or_else(|| "default".to_owned(), |p| p.name.clone())
    }

    fn load(&self, id: i64) -> Result<Item, DeskError> {
        let row = self.state.desk_item(id)?.ok_or(DeskError::NotFound(id))?;
        stored_item(&row)
    }

    /// Applies `changes` to `item` (or starts it from a `created` change) and writes the
    /// result with the given extras. Returns the new item.
    fn write(
        &self,
        item: Option<Item>,
        id: i64,
        changes: Vec<(Actor, Change)>,
        at: i64,
        extras: Extras,
    ) -> Result<Item, DeskError> {
        let Extras {
            mentions,
            addresses,
            notifications,
        } = extras;
        let base_version = item.as_ref().map_or(0, |i| i.version);
        let answered_before = item.as_ref().is_some_and(|i| i.first_response.is_some());
        let mut events = Vec::new();
        let mut item = item;
        for (n, (actor, change)) in changes.into_iter().enumerate() {
            let e = Event {
                item: id,
                seq: base_version + n as u32 + 1,
                at,
                actor,
                change,
            };
            match &mut item {
                Some(i) => i.apply(&e),
                None => item = Item::replay(std::slice::from_ref(&e)),
            }
            events.push(e);
        }
        let Some(item) = item else {
            return Err(DeskError::NotFound(id));
        };
        let json = |v: &dyn erased::Json| v.json();
        let row = DeskItemRow {
            id,
            state: item.state.as_str().into(),
            team: item.team.clone(),
            assignee: item.assignee.clone(),
            priority: item.priority as u8,
            posted_at: item.posted_at(),
            updated_at: at,
            version: item.version,
            body: json(&item),
        };
        let events = events
            .iter()
            .map(|e| DeskEventRow {
                item_id: id,
                seq: e.seq,
                at: e.at,
                actor: e.actor.to_string(),
                action: e.change.name().into(),
                data: json(e),
            })
            .collect();
        let w = DeskWrite {
            item: Some(row),
            base_version,
            events,
            mentions,
            addresses,
            notifications,
        };
        match self.state.desk_commit(std::slice::from_ref(&w))? {
            Ok(()) => {
                if let (false, Some(r)) = (answered_before, &item.first_response) {
                    METRICS
                        .desk_first_response_seconds
                        .with_label_values(&[&item.post.source, item.post.intent.as_str()])
                        .observe((r.at - item.posted_at()).max(0) as f64);
                }
                Ok(item)
            }
            Err(stale) => {
                let current = self.state.desk_item(stale.id)?.map_or(0, |r| r.version);
                Err(DeskError::Stale {
                    id: stale.id,
                    expected: base_version,
                    current,
                })
            }
        }
    }

    /// Takes committed mentions in (see the module docs).
    pub fn intake(&self, mentions: &[MentionSummary], now: i64) -> Result<Intake, DeskError> {
        let _g = self.guard();
        let concerned: Vec<&MentionSummary> = mentions
            .iter()
            .filter(|m| concerns(&self.config, m, now))
            .collect();
        let ids: Vec<_> = concerned.iter().map(|m| m.id).collect();
        let known = self.state.desk_known(&ids)?;
        let mut order: Vec<&MentionSummary> = concerned
            .into_iter()
            .filter(|m| !known.contains(&m.id))
            .collect();
        order.sort_by_key(|m| (m.published_at, m.id));
        let mut report = Intake::default();
        for m in order {
            let post = Post::of(m);
            let addresses: Vec<String> = m.address.iter().chain(m.url.iter()).cloned().collect();
            let parent = match &m.reply_to {
                Some(r) => self.state.desk_thread(r)?,
                None => None,
            };
            if self.config.is_own_anywhere(&m.author_key) {
                let Some(id) = parent else {
                    // A reply to a post not queued (yet): kept, in case that post comes
                    // in later (its source polled after the brand's).
                    if let Some(to) = &m.reply_to {
                        let json = serde_json::to_string(&post).unwrap_or_default();
                        let keep = self.config.max_age.0.as_secs() as i64;
                        self.state
                            .desk_keep_early_reply(m.id, to, &json, now, now - keep)?;
                    }
                    continue;
                };
                let item = self.load(id)?;
                // The brand answering in the thread: its handle must be one of the
                // item's brand (a reply often names no brand itself).
                if !self.config.is_own(&m.author_key, &item.post.topics) {
                    continue;
                }
                let change = Change::Responded {
                    kind: ResponseKind::ThreadReply,
                    post: Some(post),
                    automated: self.config.is_bot(&m.author_key),
                    reference: None,
                    answered_at: None,
                };
                if item.check(&change).is_err() {
                    continue;
                }
                self.write(
                    Some(item),
                    id,
                    vec![(Actor::System, change)],
                    now,
                    Extras {
                        mentions: vec![(m.id, "brand_reply")],
                        addresses,
                        ..Extras::default()
                    },
                )?;
                report.responses += 1;
                continue;
            }
            if let Some(id) = parent {
                let item = self.load(id)?;
                let within = m.published_at.timestamp() - item.last_post_at()
                    <= self.config.follow_up.0.as_secs() as i64;
                if item.post.author == m.author_key && within {
                    // A later post of a handed-off thread goes to the same ticket.
                    let notifications = match (&item.state, &item.handoff) {
                        (ItemState::HandedOff, Some((target, reference))) => {
                            self.follow_up_request(&item, target, reference, &post, now)
                        }
                        _ => Vec::new(),
                    };
                    self.write(
                        Some(item),
                        id,
                        vec![(Actor::System, Change::FollowUp { post })],
                        now,
                        Extras {
                            mentions: vec![(m.id, "follow_up")],
                            addresses,
                            notifications,
                        },
                    )?;
                    report.follow_ups += 1;
                    continue;
                }
            }
            if !self.config.intents.contains(&m.intent) {
                continue;
            }
            let author_flag = self
                .state
                .author_flag(&m.author_key)?
                .and_then(|f| f.flag.parse::<AuthorFlag>().ok());
            let flag_label = author_flag.map_or("", AuthorFlag::as_str);
            let Some(team) = self.team_for(&post, flag_label) else {
                continue;
            };
            let abuse = crate::abuse::check(&m.snippet);
            let mut priority = self.priority_for(&post)?;
            match author_flag {
                Some(AuthorFlag::Vip) => priority = priority.max(Priority::High),
                Some(AuthorFlag::Troll) => priority = Priority::Low,
                None => {}
            }
            if abuse.as_ref().is_some_and(|a| a.kind == AbuseKind::Threat) {
                priority = Priority::Urgent;
            }
            let policy = self.policy_for(&post, &team, priority, flag_label);
            let id = self.state.desk_next_id()?;
            let change = Change::Created {
                post,
                priority,
                team,
                policy,
                abuse,
                author_flag,
            };
            // A threat is announced at once, through the SLA policy's receivers.
            let notifications = Item::replay(&[Event {
                item: id,
                seq: 1,
                at: now,
                actor: Actor::System,
                change: change.clone(),
            }])
            .map(|i| self.notifications(&i, &change, 1, now))
            .unwrap_or_default();
            let item = self.write(
                None,
                id,
                vec![(Actor::System, change)],
                now,
                Extras {
                    mentions: vec![(m.id, "opening")],
                    addresses,
                    notifications,
                },
            )?;
            info!(item = id, team = %item.team, priority = %item.priority, policy = %item.policy, "desk item queued");
            report.created += 1;
            report.responses += self.early_replies(item, id, &m.address, &m.url, now)?;
        }
        Ok(report)
    }

    /// Brand replies that came in before `item`'s post, recorded as its responses.
    fn early_replies(
        &self,
        mut item: Item,
        id: i64,
        address: &Option<String>,
        url: &Option<String>,
        now: i64,
    ) -> Result<usize, DeskError> {
        let addresses: Vec<String> = address.iter().chain(url.iter()).cloned().collect();
        let mut n = 0;
        for json in self.state.desk_early_replies(&addresses)? {
            let Ok(reply) = serde_json::from_str::<Post>(&json) else {
                continue;
            };
            if !self.config.is_own(&reply.author, &item.post.topics) {
                continue;
            }
            let mention = reply.mention;
            let change = Change::Responded {
                kind: ResponseKind::ThreadReply,
                automated: self.config.is_bot(&reply.author),
                post: Some(reply),
                reference: None,
                answered_at: None,
            };
            item = self.write(
                Some(item),
                id,
                vec![(Actor::System, change)],
                now,
                Extras {
                    mentions: vec![(mention, "brand_reply")],
                    ..Extras::default()
                },
            )?;
            n += 1;
        }
        Ok(n)
    }

    /// Runs `action` on item `id` as `actor`; `version`, when given, must be the item's.
    pub fn act(
        &self,
        id: i64,
        action: Action,
        actor: Actor,
        version: Option<u32>,
        now: i64,
    ) -> Result<Item, DeskError> {
        let _g = self.guard();
        let item = self.load(id)?;
        if let Some(v) = version
            && v != item.version
        {
            return Err(DeskError::Stale {
                id,
                expected: v,
                current: item.version,
            });
        }
        let change = match action {
            Action::Assign(to) => Change::Assigned { to },
            Action::Claim => {
                let Some(me) = actor.user() else {
                    return Err(Refused::Invalid("only an agent can claim an item".into()).into());
                };
                if let Some(other) = item.owned_by_other(&actor) {
                    return Err(Refused::Invalid(format!(
                        "item {id} is {other}'s: assign it explicitly to take it over"
                    ))
                    .into());
                }
                Change::Assigned { to: me.to_owned() }
            }
            Action::Unassign => Change::Unassigned,
            Action::Tag(tag) => Change::Tagged {
                tag: clean(tag, "tag")?,
            },
            Action::Untag(tag) => Change::Untagged { tag },
            Action::Note(body) => Change::Noted {
                body: clean(body, "note")?,
            },
            Action::Prioritize(priority) => Change::Prioritized { priority },
            Action::Correct(label, intent) => Change::Corrected { label, intent },
            Action::Ack(reference) => Change::Responded {
                kind: ResponseKind::Receipt,
                post: None,
                automated: false,
                reference: reference.filter(|r| !r.trim().is_empty()),
                answered_at: None,
            },
            Action::Pending => Change::Pending,
            Action::Resolve => Change::Resolved,
            Action::Reopen => Change::Reopened,
            Action::Dismiss(reason) => Change::Dismissed { reason },
            Action::Handoff(target) => {
                if !self.config.handoff.contains(&target) {
                    return Err(Refused::Invalid(format!(
                        "unknown hand-off target {target:?}: expected one of desk.handoff ({})",
                        self.config.handoff.join(", ")
                    ))
                    .into());
                }
                Change::HandedOff {
                    reference: format!("LSR-{id}"),
                    target,
                }
            }
            Action::Merge(into) => {
                let target = self.load(into)?;
                if !target.state.is_live() {
                    return Err(Refused::Invalid(format!(
                        "item {into} is {}: merge into a live item",
                        target.state
                    ))
                    .into());
                }
                Change::Merged { into }
            }
        };
        item.check(&change)?;
        // Claiming or acknowledging an unowned item makes it the agent's.
        let mut changes = vec![(actor.clone(), change)];
        if let (Change::Responded { .. } | Change::Resolved, Some(me), None) =
            (&changes[0].1, actor.user(), &item.assignee)
            && item.state == ItemState::New
        {
            changes.insert(0, (actor.clone(), Change::Assigned { to: me.to_owned() }));
        }
        let notifications = match &changes.last().map(|c| &c.1) {
            Some(Change::HandedOff { target, reference }) => {
                self.handoff_request(&item, target, reference, now)
            }
            _ => Vec::new(),
        };
        let extras = Extras {
            notifications,
            ..Extras::default()
        };
        self.write(Some(item), id, changes, now, extras)
    }

    /// The hand-off request to `target`, queued in the outbox in the same transaction as
    /// the `handed_off` event: delivered with retries, signed by the receiver's secret,
    /// with the idempotency key `handoff:<item>:<target>` (the receiving side drops a
    /// repeat by it; neither a crash nor a retry makes a second ticket there).
    fn handoff_request(
        &self,
        item: &Item,
        target: &str,
        reference: &str,
        now: i64,
    ) -> Vec<OutboxRow> {
        let link = self.link(&format!("api/v1/desk/items/{}", item.id));
        let callback = self.link(&format!("api/v1/desk/handoff/{target}"));
        let body = serde_json::json!({
            "version": "lauscher.handoff/v1",
            "event": "handoff",
            "item": item.id,
            "reference": reference,
            "title": format!("{reference}: {} by @{} on {}", item.intent(), item.post.author, item.post.source),
            "team": item.team,
            "priority": item.priority,
            "intent": item.intent(),
            "label": item.label(),
            "abuse": item.abuse,
            "post": item.post,
            "follow_ups": item.follow_ups,
            "notes": item.notes,
            "link": link,
            "callback": callback,
        });
        // A hand-off that failed and is tried again is a new request (the outbox keeps
        // one row per key).
        let before = item
            .history
            .iter()
            .filter(|(_, s)| *s == ItemState::HandedOff)
            .count();
        let key = match before {
            0 => format!("handoff:{}:{target}", item.id),
            n => format!("handoff:{}:{target}:try{}", item.id, n + 1),
        };
        self.handoff_row(target, key, "handoff", &body, now)
    }

    /// One outbox request to hand-off target `target` (none if it is gone from the
    /// config).
    fn handoff_row(
        &self,
        target: &str,
        key: String,
        event: &str,
        body: &serde_json::Value,
        now: i64,
    ) -> Vec<OutboxRow> {
        let Some(rc) = self.alerting.receivers.iter().find(|r| r.id == target) else {
            return Vec::new();
        };
        let ttl = rc.ttl.0.as_secs() as i64;
        vec![OutboxRow::pending(
            &rc.id,
            key,
            event,
            body.to_string(),
            now,
            ttl,
        )]
    }

    /// `path` under the API's base URL as agents reach it (`desk.link`), if set. Joined
    /// as text: `Url::join` would drop a base path without a trailing slash.
    fn link(&self, path: &str) -> Option<String> {
        let base = self.config.link.as_ref()?;
        Some(format!("{}/{path}", base.as_str().trim_end_matches('/')))
    }

    /// A later post of a handed-off thread for the same ticket (`lauscher.handoff/v1`,
    /// event `follow_up`, keyed by the post so a retry adds it once).
    fn follow_up_request(
        &self,
        item: &Item,
        target: &str,
        reference: &str,
        post: &Post,
        now: i64,
    ) -> Vec<OutboxRow> {
        let body = serde_json::json!({
            "version": "lauscher.handoff/v1",
            "event": "follow_up",
            "item": item.id,
            "reference": reference,
            "external_id": item.external.as_ref().and_then(|(id, _)| id.clone()),
            "post": post,
        });
        let key = format!("handoff:{}:{target}:{}", item.id, post.mention);
        self.handoff_row(target, key, "handoff_follow_up", &body, now)
    }

    /// Takes in what the ticket system reports on a handed-off item (the caller checked
    /// the signature, or made the ticket itself): the ticket's state, id and number; its
    /// first agent answer as the first response (never for automatic answers); a closed
    /// ticket resolves the item. A delivery seen before changes nothing; a report about
    /// another ticket than the one the item has is refused.
    pub fn external(
        &self,
        target: &str,
        report: &TicketReport,
        now: i64,
    ) -> Result<Item, DeskError> {
        let _g = self.guard();
        let item_id = report.item;
        let item = self.load(item_id)?;
        if item.handoff.as_ref().map(|(t, _)| t.as_str()) != Some(target) {
            return Err(Refused::Invalid(format!(
                "item {item_id} was not handed off to {target:?}"
            ))
            .into());
        }
        if item.deliveries.contains(&report.delivery) {
            return Ok(item);
        }
        let t = &report.ticket;
        let external_id = Some(t.id.clone()).filter(|id| !id.is_empty());
        if let (Some(known), Some(given)) = (
            item.external.as_ref().and_then(|(id, _)| id.as_deref()),
            external_id.as_deref(),
        ) && known != given
        {
            return Err(Refused::Invalid(format!(
                "item {item_id} is ticket {known} at {target:?}, not {given}"
            ))
            .into());
        }
        let actor = Actor::External(target.to_owned());
        let mut changes = vec![(
            actor.clone(),
            Change::External {
                target: target.to_owned(),
                delivery: report.delivery.clone(),
                state: t.state.clone(),
                external_id,
                number: t.number.clone(),
            },
        )];
        if let Some(at) = t.first_response_at
            && item.first_response.is_none()
        {
            changes.push((
                actor.clone(),
                Change::Responded {
                    kind: ResponseKind::External,
                    post: None,
                    automated: false,
                    reference: None,
                    answered_at: Some(at),
                },
            ));
        }
        if t.closed && item.state == ItemState::HandedOff {
            changes.push((actor, Change::Resolved));
        }
        item.check(&changes[0].1)?;
        self.write(Some(item), item_id, changes, now, Extras::default())
    }

    /// Puts item `item_id`, whose hand-off to `target` failed for good, back in the queue
    /// (open when it has an assignee, else new); nothing when it moved on meanwhile.
    pub fn handoff_failed(
        &self,
        target: &str,
        item_id: i64,
        error: &str,
        now: i64,
    ) -> Result<(), DeskError> {
        let _g = self.guard();
        let item = self.load(item_id)?;
        let change = Change::HandoffFailed {
            target: target.to_owned(),
            error: error.to_owned(),
        };
        if item.check(&change).is_err() {
            return Ok(());
        }
        warn!(
            item = item_id,
            target, error, "hand-off failed; the item is back in the queue"
        );
        self.write(
            Some(item),
            item_id,
            vec![(Actor::System, change)],
            now,
            Extras::default(),
        )?;
        Ok(())
    }

    /// The items handed off to `target` whose ticket is not closed yet: `(item,
    /// reference, ticket id if known)`, for the poll that backs the webhook up.
    pub fn open_handoffs(
        &self,
        target: &str,
    ) -> Result<Vec<(i64, String, Option<String>)>, DeskError> {
        let rows = self.state.desk_items(&["handed_off"], 100_000)?;
        Ok(rows
            .iter()
            .filter_map(|r| stored_item(r).ok())
            .filter_map(|i| {
                let (t, reference) = i.handoff.clone()?;
                (t == target).then(|| {
                    let id = i.external.as_ref().and_then(|(id, _)| id.clone());
                    (i.id, reference, id)
                })
            })
            .collect())
    }

    /// Sends what the SLA clocks owe at `now`: one warning and one breach per run of a
    /// clock, as events with their notifications (a warning while the target can still
    /// be met, a breach only when the clock ran out after the item was queued). Returns
    /// how many notifications it queued.
    pub fn tick(&self, now: i64) -> Result<usize, DeskError> {
        let _g = self.guard();
        self.auto_assign(now)?;
        let rows = self
            .state
            .desk_items(&["new", "open", "pending"], 100_000)?;
        let mut sent = 0;
        let mut backlog: BTreeMap<(String, &'static str), i64> = BTreeMap::new();
        let mut breached: BTreeMap<String, i64> = BTreeMap::new();
        for row in rows {
            let item = match stored_item(&row) {
                Ok(i) => i,
                Err(e) => {
                    warn!(error = %e, "desk item skipped by the SLA clock");
                    continue;
                }
            };
            *backlog
                .entry((item.team.clone(), item.state.as_str()))
                .or_default() += 1;
            let runs = self.book.runs(&item, now);
            let late = runs
                .iter()
                .any(|r| r.stopped_at.is_none() && r.breached(now));
            *breached.entry(item.team.clone()).or_default() +=
                i64::from(late && item.state.is_backlog());
            let mut changes = Vec::new();
            for run in runs {
                if run.stopped_at.is_some() {
                    continue;
                }
                let has = |breach| {
                    item.notices.contains(&Notice {
                        clock: run.clock,
                        start: run.start,
                        breach,
                    })
                };
                match (run.due, run.warn_at) {
                    (Some(due), _) if now >= due && !has(true) => changes.push(Change::SlaBreach {
                        clock: run.clock,
                        start: run.start,
                        due,
                    }),
                    (Some(due), Some(w)) if now >= w && now < due && !has(false) && !has(true) => {
                        changes.push(Change::SlaWarning {
                            clock: run.clock,
                            start: run.start,
                            due,
                        });
                    }
                    _ => {}
                }
            }
            if changes.is_empty() {
                continue;
            }
            // A clock already run out when the post was queued (found late, or a first
            // start reading back days of posts) is recorded, not announced: nobody could
            // have met it, and a flood of such notices would bury the ones that matter.
            let notifications: Vec<OutboxRow> = changes
                .iter()
                .enumerate()
                .filter(
                    |(_, c)| !matches!(c, Change::SlaBreach { due, .. } if *due <= item.queued_at),
                )
                .flat_map(|(n, c)| self.notifications(&item, c, item.version + n as u32 + 1, now))
                .collect();
            sent += notifications.len();
            let changes = changes.into_iter().map(|c| (Actor::System, c)).collect();
            let extras = Extras {
                notifications,
                ..Extras::default()
            };
            self.write(Some(item), row.id, changes, now, extras)?;
        }
        METRICS.desk_backlog.reset();
        for ((team, state), n) in backlog {
            METRICS
                .desk_backlog
                .with_label_values(&[state, &team])
                .set(n);
        }
        METRICS.desk_breached.reset();
        for (team, n) in breached {
            METRICS.desk_breached.with_label_values(&[&team]).set(n);
        }
        Ok(sent)
    }

    /// Hands new items of auto-assigning teams out: longest-waiting first, each to the
    /// agent with the fewest open items below the team's capacity (ties: the one
    /// assigned longest ago, else by name).
    fn auto_assign(&self, now: i64) -> Result<(), DeskError> {
        let teams: Vec<_> = self.config.teams.iter().filter(|t| t.auto_assign).collect();
        if teams.is_empty() {
            return Ok(());
        }
        let away: std::collections::BTreeSet<String> = self
            .state
            .agents_away()?
            .into_iter()
            .map(|(a, _, _)| a)
            .collect();
        let rows = self.state.desk_items(&["new", "open"], 100_000)?;
        let mut load: BTreeMap<&str, u32> = BTreeMap::new();
        let mut waiting = Vec::new();
        for row in &rows {
            match (row.state.as_str(), &row.assignee) {
                ("open", Some(a)) => *load.entry(a.as_str()).or_default() += 1,
                ("new", _) => waiting.push(row),
                _ => {}
            }
        }
        let mut last = self.last_assigned.lock().unwrap_or_else(|p| p.into_inner());
        for row in waiting {
            let Some(team) = teams.iter().find(|t| t.id == row.team) else {
                continue;
            };
            let pick = team
                .agents
                .iter()
                .filter(|a| !away.contains(a.as_str()))
                .filter(|a| {
                    team.capacity == 0 || load.get(a.as_str()).copied().unwrap_or(0) < team.capacity
                })
                .min_by_key(|a| {
                    (
                        load.get(a.as_str()).copied().unwrap_or(0),
                        last.get(a.as_str()).copied().unwrap_or(i64::MIN),
                        a.as_str(),
                    )
                })
                .cloned();
            let Some(agent) = pick else {
                continue;
            };
            let item = stored_item(row)?;
            let change = Change::Assigned { to: agent.clone() };
            if item.check(&change).is_err() {
                continue;
            }
            self.write(
                Some(item),
                row.id,
                vec![(Actor::System, change)],
                now,
                Extras::default(),
            )?;
            if let Some(a) = team.agents.iter().find(|a| **a == agent) {
                *load.entry(a.as_str()).or_default() += 1;
            }
            last.insert(agent, now);
        }
        Ok(())
    }

    fn notifications(&self, item: &Item, change: &Change, seq: u32, now: i64) -> Vec<OutboxRow> {
        let (event, clock, due) = match change {
            Change::SlaWarning { clock, due, .. } | Change::SlaBreach { clock, due, .. } => {
                (change.name(), Some(*clock), *due)
            }
            Change::Created { .. }
                if item
                    .abuse
                    .as_ref()
                    .is_some_and(|a| a.kind == AbuseKind::Threat) =>
            {
                ("threat", None, now)
            }
            _ => return Vec::new(),
        };
        let policy = self.book.policy(&item.policy);
        let mut receivers: Vec<String> = policy.map(|p| p.receivers.clone()).unwrap_or_default();
        if receivers.is_empty() {
            for labels in self.label_sets(&item.post, &[("status", event)]) {
                for r in route(&self.alerting.routing, &labels) {
                    receivers.extend(r.receivers);
                }
            }
            receivers.sort();
            receivers.dedup();
        }
        let clock_name = clock.map_or("", Clock::as_str).replace('_', " ");
        let due_text = chrono::DateTime::from_timestamp(due, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        let title = if event == "threat" {
            format!(
                "Threat in item {}: {}",
                item.id,
                item.abuse
                    .as_ref()
                    .map(|a| a.cues.join("; "))
                    .unwrap_or_default()
            )
        } else if event == "sla_breach" {
            format!(
                "SLA breached: item {} ({} was due {due_text})",
                item.id, clock_name
            )
        } else {
            format!(
                "SLA warning: item {} ({} due {due_text})",
                item.id, clock_name
            )
        };
        let text = format!(
            "{} · @{} on {} · {} · priority {} · team {} · {}\n{}{}",
            item.intent(),
            item.post.author,
            item.post.source,
            item.state,
            item.priority,
            item.team,
            item.assignee
                .as_deref()
                .map_or("unassigned".to_owned(), |a| format!("owner {a}")),
            item.post.snippet,
            item.post
                .url
                .as_deref()
                .map(|u| format!("\n{u}"))
                .unwrap_or_default(),
        );
        let link = self.link(&format!("api/v1/desk/items/{}", item.id));
        let notice = DeskNotice {
            item: item.id,
            event,
            clock: clock.map_or("", Clock::as_str),
            due,
            title: &title,
            text: &text,
            link: link.as_deref(),
        };
        receivers
            .iter()
            .filter_map(|r| self.alerting.receivers.iter().find(|x| &x.id == r))
            .map(|rc| OutboxRow {
                version: seq,
                ..OutboxRow::pending(
                    &rc.id,
                    format!("desk:{}:{seq}:{}", item.id, rc.id),
                    event,
                    lauscher_alerts::receiver::of(rc.kind)
                        .desk(&notice)
                        .to_string(),
                    now,
                    rc.ttl.0.as_secs() as i64,
                )
            })
            .collect()
    }

    /// Sets (or with `None` clears) an agent's flag on an author: a troll's later posts
    /// are low priority and kept out of the complaint KPIs, a VIP's are at least high
    /// priority; routes may match `author_flag`. Items already queued keep theirs.
    pub fn flag_author(
        &self,
        author: &str,
        flag: Option<AuthorFlag>,
        reason: &str,
        actor: &Actor,
        now: i64,
    ) -> Result<(), DeskError> {
        let author = lauscher_config::desk::fold_handle(author);
        if author.is_empty() {
            return Err(Refused::Invalid("which author? (a handle)".into()).into());
        }
        let row = flag.map(|f| lauscher_state::AuthorFlagRow {
            author: author.clone(),
            flag: f.as_str().into(),
            reason: reason.trim().to_owned(),
            set_by: actor.to_string(),
            set_at: now,
        });
        self.state.set_author_flag(&author, row.as_ref())?;
        info!(author = %author, flag = flag.map_or("none", AuthorFlag::as_str), by = %actor, "author flag set");
        Ok(())
    }

    /// Marks `agent` away (auto-assignment passes them over; what they hold stays
    /// theirs, for a lead to reassign) or back.
    pub fn set_away(
        &self,
        agent: &str,
        away: bool,
        actor: &Actor,
        now: i64,
    ) -> Result<(), DeskError> {
        let agent = agent.trim();
        if agent.is_empty() {
            return Err(Refused::Invalid("which agent? (a name)".into()).into());
        }
        self.state
            .set_agent_away(agent, away, &actor.to_string(), now)?;
        info!(agent, away, by = %actor, "agent availability set");
        Ok(())
    }

    /// The agents who are away: `(agent, set by, since)`.
    pub fn agents_away(&self) -> Result<Vec<(String, String, i64)>, DeskError> {
        Ok(self.state.agents_away()?)
    }

    /// Every correction agents made: the opening post and the corrected label and
    /// intent (the latest of each), for `lauscher eval --corrections`.
    pub fn corrections(&self) -> Result<Vec<Item>, DeskError> {
        let rows = self.state.desk_items_with_action("corrected")?;
        let mut out = Vec::new();
        for row in rows {
            let item = stored_item(&row)?;
            if item.corrected_label.is_some() || item.corrected_intent.is_some() {
                out.push(item);
            }
        }
        Ok(out)
    }

    /// One item with its events.
    pub fn item(&self, id: i64) -> Result<(ItemView, Vec<Event>), DeskError> {
        let item = self.load(id)?;
        let events = stored_events(&self.state.desk_events(id)?)?;
        Ok((self.view(item, chrono::Utc::now().timestamp()), events))
    }

    fn view(&self, item: Item, now: i64) -> ItemView {
        let running: Vec<_> = self
            .book
            .runs(&item, now)
            .into_iter()
            .filter(|r| r.stopped_at.is_none() && r.due.is_some())
            .collect();
        let next = running.iter().min_by_key(|r| r.due);
        ItemView {
            sla_due: next.and_then(|r| r.due),
            sla_clock: next.map(|r| r.clock),
            breached: running.iter().any(|r| r.breached(now)),
            item,
        }
    }

    /// Items, most urgent SLA first (then oldest post).
    pub fn list(&self, f: &ItemFilter, now: i64) -> Result<Vec<ItemView>, DeskError> {
        let states: Vec<ItemState> = if f.states.is_empty() {
            vec![ItemState::New, ItemState::Open, ItemState::Pending]
        } else {
            f.states.clone()
        };
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let mut out = Vec::new();
        for row in self.state.desk_items(&names, 100_000)? {
            let item = stored_item(&row)?;
            if f.assignee
                .as_ref()
                .is_some_and(|a| item.assignee.as_ref() != Some(a))
                || f.team.as_ref().is_some_and(|t| &item.team != t)
                || f.topic
                    .as_ref()
                    .is_some_and(|t| !item.post.topics.contains(t))
            {
                continue;
            }
            let v = self.view(item, now);
            if f.breached && !v.breached {
                continue;
            }
            out.push(v);
        }
        out.sort_by_key(|v| (v.sla_due.unwrap_or(i64::MAX), v.item.posted_at(), v.item.id));
        out.truncate(if f.limit == 0 { 200 } else { f.limit });
        Ok(out)
    }

    /// KPIs, from the event log alone.
    pub fn kpi(&self, req: &KpiRequest) -> Result<KpiReport, DeskError> {
        let logs = self
            .state
            .desk_event_log(req.since, req.until, &["new", "open", "pending"])?;
        let mut items = Vec::with_capacity(logs.len());
        for rows in logs {
            let events = stored_events(&rows)?;
            if let Some(item) = Item::replay(&events) {
                items.push(item);
            }
        }
        Ok(crate::kpi::compute(&items, &self.book, req))
    }
}

fn clean(s: String, what: &str) -> Result<String, Refused> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Refused::Invalid(format!("empty {what}")));
    }
    if t.chars().count() > 10_000 {
        return Err(Refused::Invalid(format!(
            "{what} longer than 10,000 characters"
        )));
    }
    Ok(t.to_owned())
}

mod erased {
    /// JSON of a value the desk wrote itself (serialising its own types cannot fail).
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

impl TicketLedger for Desk {
    fn record(&self, target: &str, report: &TicketReport) -> Result<(), String> {
        self.external(target, report, chrono::Utc::now().timestamp())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn failed(&self, target: &str, body: &str, error: &str) -> Result<(), String> {
        let item = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["item"].as_i64())
            .ok_or("hand-off request without item")?;
        self.handoff_failed(target, item, error, chrono::Utc::now().timestamp())
            .map_err(|e| e.to_string())
    }
}
