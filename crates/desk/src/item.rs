//! A desk item: the fold of its events. [`Item::check`] says whether a change is allowed
//! in the item's state; [`Item::apply`] folds one event in. Both are pure, so the item
//! stored beside the events is only a cache: [`Item::replay`] rebuilds it.

use std::collections::{BTreeMap, BTreeSet};

use lauscher_model::Priority;
use serde::{Deserialize, Serialize};

use crate::event::{Actor, Change, Clock, DismissReason, Event, ItemState, Post, ResponseKind};

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not possible in the item's state.
    #[error("item {item} is {state}: cannot {action}")]
    State {
        /// The item.
        item: i64,
        /// Its state.
        state: ItemState,
        /// The refused action.
        action: &'static str,
    },
    /// A value the action needs is missing or wrong.
    #[error("{0}")]
    Invalid(String),
}

/// A response that reached the author.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// When (unix seconds): the brand post's time for thread replies.
    pub at: i64,
    /// Receipt, thread reply or external.
    pub kind: ResponseKind,
    /// Who: the agent, the brand handle or the ticket system.
    pub by: String,
}

/// An internal note.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// When (unix seconds).
    pub at: i64,
    /// Who.
    pub by: String,
    /// What.
    pub body: String,
}

/// An SLA notice already sent for one run of a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Notice {
    /// The clock.
    pub clock: Clock,
    /// When that run of the clock started.
    pub start: i64,
    /// A breach (else a warning).
    pub breach: bool,
}

/// A desk item as its events make it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Id.
    pub id: i64,
    /// Events applied (the optimistic-locking version).
    pub version: u32,
    /// State.
    pub state: ItemState,
    /// Priority.
    pub priority: Priority,
    /// Team.
    pub team: String,
    /// The owning agent.
    pub assignee: Option<String>,
    /// Tags.
    pub tags: BTreeSet<String>,
    /// Internal notes, oldest first.
    pub notes: Vec<Note>,
    /// The SLA policy that matched at intake.
    pub policy: String,
    /// An agent's correction of the opening post's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_label: Option<lauscher_model::Label>,
    /// An agent's correction of the opening post's intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected_intent: Option<lauscher_model::Intent>,
    /// The opening post's abuse flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abuse: Option<crate::abuse::Abuse>,
    /// The agents' flag on the author at intake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_flag: Option<crate::event::AuthorFlag>,
    /// The opening post.
    pub post: Post,
    /// The author's later posts in the thread.
    pub follow_ups: Vec<Post>,
    /// Queued at (unix seconds).
    pub queued_at: i64,
    /// The first counting response.
    pub first_response: Option<Response>,
    /// The last counting response.
    pub last_response: Option<Response>,
    /// Since when the author waits for a next response (a follow-up after a response).
    pub waiting_since: Option<i64>,
    /// First resolved (unix seconds).
    pub first_resolved_at: Option<i64>,
    /// Last resolved.
    pub resolved_at: Option<i64>,
    /// Times a follow-up or an agent reopened it after it was resolved or pending.
    pub reopened: u32,
    /// Why it was dismissed.
    pub dismissed: Option<DismissReason>,
    /// The item it was merged into.
    pub merged_into: Option<i64>,
    /// Since when it is pending.
    pub pending_since: Option<i64>,
    /// Closed pending spans `[from, to)`, for the resolution clock.
    pub paused: Vec<(i64, i64)>,
    /// Seconds each agent held it open.
    pub handled: BTreeMap<String, i64>,
    /// Who holds it open since when.
    pub holding: Option<(String, i64)>,
    /// Who resolved or dismissed it last.
    pub closed_by: Option<String>,
    /// The hand-off: receiver and reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<(String, String)>,
    /// The ticket's id and state in the ticket system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<(Option<String>, String)>,
    /// The ticket's number in the ticket system, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_number: Option<String>,
    /// Deliveries of the ticket system taken in (repeats are ignored).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub deliveries: BTreeSet<String>,
    /// SLA notices sent.
    pub notices: BTreeSet<Notice>,
    /// State changes, oldest first: `(at, state)`, for backlog over time.
    pub history: Vec<(i64, ItemState)>,
}

impl Item {
    /// The item a `created` event starts; `None` for any other first event.
    fn created(e: &Event) -> Option<Item> {
        let Change::Created {
            post,
            priority,
            team,
            policy,
            abuse,
            author_flag,
        } = &e.change
        else {
            return None;
        };
        Some(Item {
            id: e.item,
            version: e.seq,
            state: ItemState::New,
            priority: *priority,
            team: team.clone(),
            assignee: None,
            tags: BTreeSet::new(),
            notes: Vec::new(),
            policy: policy.clone(),
            abuse: abuse.clone(),
            author_flag: *author_flag,
            corrected_label: None,
            corrected_intent: None,
            post: post.clone(),
            follow_ups: Vec::new(),
            queued_at: e.at,
            first_response: None,
            last_response: None,
            waiting_since: None,
            first_resolved_at: None,
            resolved_at: None,
            reopened: 0,
            dismissed: None,
            merged_into: None,
            pending_since: None,
            paused: Vec::new(),
            handled: BTreeMap::new(),
            holding: None,
            closed_by: None,
            handoff: None,
            external: None,
            ticket_number: None,
            deliveries: BTreeSet::new(),
            notices: BTreeSet::new(),
            history: vec![(e.at, ItemState::New)],
        })
    }

    /// Rebuilds an item from its events (oldest first); `None` when they do not start
    /// with `created`.
    pub fn replay(events: &[Event]) -> Option<Item> {
        let (first, rest) = events.split_first()?;
        let mut item = Item::created(first)?;
        for e in rest {
            item.apply(e);
        }
        Some(item)
    }

    /// When the author posted (the clocks' start, platform time).
    pub fn posted_at(&self) -> i64 {
        self.post.posted_at.timestamp()
    }

    /// When the author last posted in the thread.
    pub fn last_post_at(&self) -> i64 {
        self.follow_ups
            .last()
            .map_or(self.posted_at(), |p| p.posted_at.timestamp())
    }

    /// Whether `change` is allowed now.
    pub fn check(&self, change: &Change) -> Result<(), Refused> {
        let s = self.state;
        let refuse = || {
            Err(Refused::State {
                item: self.id,
                state: s,
                action: change.name(),
            })
        };
        let ok = match change {
            Change::Created { .. } => false,
            Change::FollowUp { .. }
            | Change::Tagged { .. }
            | Change::Untagged { .. }
            | Change::Noted { .. } => true,
            Change::Corrected { label, intent } => {
                if label.is_none() && intent.is_none() {
                    return Err(Refused::Invalid(
                        "correct what? (label and/or intent)".into(),
                    ));
                }
                true
            }
            Change::Assigned { to } => {
                if to.trim().is_empty() {
                    return Err(Refused::Invalid("assign to whom? (an agent name)".into()));
                }
                s.is_live()
            }
            Change::Unassigned | Change::Prioritized { .. } | Change::Dismissed { .. } => {
                s.is_live()
            }
            Change::Merged { into } => {
                if *into == self.id {
                    return Err(Refused::Invalid(
                        "an item cannot be merged into itself".into(),
                    ));
                }
                s.is_live()
            }
            Change::Responded { kind, .. } => {
                s.is_live()
                    || (*kind != ResponseKind::Receipt
                        && matches!(s, ItemState::Resolved | ItemState::HandedOff))
            }
            Change::HandedOff { .. } => s.is_live(),
            Change::HandoffFailed { target, .. } => {
                s == ItemState::HandedOff && self.handoff.as_ref().is_some_and(|(t, _)| t == target)
            }
            Change::External { delivery, .. } => {
                if self.deliveries.contains(delivery) {
                    return Err(Refused::Invalid(format!(
                        "delivery {delivery:?} was taken in already"
                    )));
                }
                matches!(s, ItemState::HandedOff | ItemState::Resolved)
            }
            Change::Pending => matches!(s, ItemState::New | ItemState::Open),
            Change::Resolved => s.is_live() || s == ItemState::HandedOff,
            Change::Reopened => matches!(s, ItemState::Pending | ItemState::Resolved),
            Change::SlaWarning { .. } | Change::SlaBreach { .. } => s.is_live(),
        };
        if ok { Ok(()) } else { refuse() }
    }

    fn set_state(&mut self, at: i64, state: ItemState) {
        if self.state == state {
            return;
        }
        if self.state == ItemState::Pending
            && let Some(from) = self.pending_since.take()
        {
            self.paused.push((from, at));
        }
        if state == ItemState::Pending {
            self.pending_since = Some(at);
        }
        self.state = state;
        self.history.push((at, state));
        self.hold(at);
    }

    /// Starts or stops the handle-time stopwatch after a change of state or owner: an
    /// agent holds the item while it is open and theirs.
    fn hold(&mut self, at: i64) {
        let holder = match (&self.assignee, self.state) {
            (Some(a), ItemState::Open) => Some(a.clone()),
            _ => None,
        };
        if self.holding.as_ref().map(|(a, _)| a) == holder.as_ref() {
            return;
        }
        if let Some((agent, since)) = self.holding.take() {
            *self.handled.entry(agent).or_default() += (at - since).max(0);
        }
        self.holding = holder.map(|a| (a, at));
    }

    /// A live state for an item someone picks up again: open when owned, else new.
    fn working(&self) -> ItemState {
        if self.assignee.is_some() {
            ItemState::Open
        } else {
            ItemState::New
        }
    }

    /// Folds `e` in. Changes [`Item::check`] refuses are still applied as far as they
    /// make sense: the log is the truth, and replay must never fail.
    pub fn apply(&mut self, e: &Event) {
        self.version = e.seq;
        let at = e.at;
        match &e.change {
            Change::Created { .. } => {}
            Change::FollowUp { post } => {
                self.follow_ups.push(post.clone());
                let t = post.posted_at.timestamp();
                if self.first_response.is_some() && self.waiting_since.is_none() {
                    self.waiting_since = Some(t);
                }
                if matches!(self.state, ItemState::Pending | ItemState::Resolved) {
                    self.reopened += 1;
                    let w = self.working();
                    self.set_state(at, w);
                }
            }
            Change::Assigned { to } => {
                self.assignee = Some(to.clone());
                if self.state == ItemState::New {
                    self.set_state(at, ItemState::Open);
                } else {
                    self.hold(at);
                }
            }
            Change::Unassigned => {
                self.assignee = None;
                if self.state == ItemState::Open {
                    self.set_state(at, ItemState::New);
                } else {
                    self.hold(at);
                }
            }
            Change::Tagged { tag } => {
                self.tags.insert(tag.clone());
            }
            Change::Untagged { tag } => {
                self.tags.remove(tag);
            }
            Change::Noted { body } => self.notes.push(Note {
                at,
                by: e.actor.to_string(),
                body: body.clone(),
            }),
            Change::Prioritized { priority } => self.priority = *priority,
            Change::Corrected { label, intent } => {
                if label.is_some() {
                    self.corrected_label = *label;
                }
                if intent.is_some() {
                    self.corrected_intent = *intent;
                }
            }
            Change::Responded {
                kind,
                post,
                automated,
                answered_at,
                ..
            } => {
                if *automated {
                    return;
                }
                let (when, by) = match post {
                    Some(p) => (p.posted_at.timestamp(), p.author.clone()),
                    None => (answered_at.unwrap_or(at), e.actor.to_string()),
                };
                let r = Response {
                    at: when,
                    kind: *kind,
                    by,
                };
                if self.first_response.is_none() {
                    self.first_response = Some(r.clone());
                }
                if self.waiting_since.is_some_and(|w| w <= when) {
                    self.waiting_since = None;
                }
                self.last_response = Some(r);
            }
            Change::Pending => self.set_state(at, ItemState::Pending),
            Change::Resolved => {
                self.closed_by = e.actor.user().map(str::to_owned).or(self.assignee.clone());
                self.first_resolved_at.get_or_insert(at);
                self.resolved_at = Some(at);
                self.waiting_since = None;
                self.set_state(at, ItemState::Resolved);
            }
            Change::Reopened => {
                self.reopened += 1;
                let w = self.working();
                self.set_state(at, w);
            }
            Change::Dismissed { reason } => {
                self.dismissed = Some(*reason);
                self.closed_by = e.actor.user().map(str::to_owned);
                self.set_state(at, ItemState::Dismissed);
            }
            Change::Merged { into } => {
                self.merged_into = Some(*into);
                self.set_state(at, ItemState::Merged);
            }
            Change::HandedOff { target, reference } => {
                self.handoff = Some((target.clone(), reference.clone()));
                self.set_state(at, ItemState::HandedOff);
            }
            Change::HandoffFailed { .. } => {
                self.handoff = None;
                let back = if self.assignee.is_some() {
                    ItemState::Open
                } else {
                    ItemState::New
                };
                self.set_state(at, back);
            }
            Change::External {
                delivery,
                state,
                external_id,
                number,
                ..
            } => {
                self.deliveries.insert(delivery.clone());
                if number.is_some() {
                    self.ticket_number = number.clone();
                }
                let id = external_id
                    .clone()
                    .or_else(|| self.external.as_ref().and_then(|(id, _)| id.clone()));
                self.external = Some((id, state.clone()));
            }
            Change::SlaWarning { clock, start, .. } => {
                self.notices.insert(Notice {
                    clock: *clock,
                    start: *start,
                    breach: false,
                });
            }
            Change::SlaBreach { clock, start, .. } => {
                self.notices.insert(Notice {
                    clock: *clock,
                    start: *start,
                    breach: true,
                });
            }
        }
    }

    /// The state the item was in at `t` (`None` before it was queued).
    pub fn state_at(&self, t: i64) -> Option<ItemState> {
        self.history
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map(|(_, s)| *s)
    }

    /// The intent shown: an agent's correction, else the scorer's.
    pub fn intent(&self) -> lauscher_model::Intent {
        self.corrected_intent.unwrap_or(self.post.intent)
    }

    /// The label shown: an agent's correction, else the scorer's.
    pub fn label(&self) -> lauscher_model::Label {
        self.corrected_label.unwrap_or(self.post.label)
    }

    /// Whether the post insults, attacks or threatens, or its author is flagged a troll:
    /// kept out of the complaint KPIs.
    pub fn is_abusive(&self) -> bool {
        self.abuse.as_ref().is_some_and(|a| a.kind.is_abusive())
            || self.author_flag == Some(crate::event::AuthorFlag::Troll)
    }

    /// Whether `actor` may act as the one who claims: used by `claim` to refuse taking an
    /// item another agent owns.
    pub fn owned_by_other(&self, actor: &Actor) -> Option<&str> {
        match (&self.assignee, actor.user()) {
            (Some(a), Some(me)) if a != me => Some(a),
            _ => None,
        }
    }
}
