//! The append-only event log: every change to an item is one [`Event`], written in the
//! same transaction as the item's new state, never updated. The item is a fold of its
//! events ([`crate::Item::replay`]) and every KPI is computed from events alone
//! ([`crate::kpi`]), so a KPI bug is fixed by recomputing, not by migrating data.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use lauscher_model::{Intent, Label, MentionId, MentionSummary, Priority};
use serde::{Deserialize, Serialize};

/// Where an item stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Nobody owns it yet.
    New,
    /// An agent owns it and works on it.
    Open,
    /// Waiting on the author or a third party: next-response and resolution clocks stop.
    Pending,
    /// Done; the author's next post in the thread reopens it.
    Resolved,
    /// Given up for good, with a reason.
    Dismissed,
    /// Folded into another item.
    Merged,
    /// In a ticket system now: Lauscher's clocks stop, the ticket's state comes back.
    HandedOff,
}

impl ItemState {
    /// Every state.
    pub const ALL: [ItemState; 7] = [
        ItemState::New,
        ItemState::Open,
        ItemState::Pending,
        ItemState::Resolved,
        ItemState::Dismissed,
        ItemState::Merged,
        ItemState::HandedOff,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::New => "new",
            ItemState::Open => "open",
            ItemState::Pending => "pending",
            ItemState::Resolved => "resolved",
            ItemState::Dismissed => "dismissed",
            ItemState::Merged => "merged",
            ItemState::HandedOff => "handed_off",
        }
    }

    /// Whether agents still owe the author something (new, open, pending).
    pub fn is_live(self) -> bool {
        matches!(self, ItemState::New | ItemState::Open | ItemState::Pending)
    }

    /// Whether it counts in the backlog (new, open).
    pub fn is_backlog(self) -> bool {
        matches!(self, ItemState::New | ItemState::Open)
    }
}

impl fmt::Display for ItemState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ItemState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ItemState::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                format!("unknown state {s:?}: expected new, open, pending, resolved, dismissed, merged or handed_off")
            })
    }
}

/// Why an item was dismissed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DismissReason {
    /// Nothing to do.
    NotActionable,
    /// Another item covers it.
    Duplicate,
    /// Advertising, scams, floods.
    Spam,
    /// Insults or threats rather than a concern.
    Abuse,
    /// Posted by the brand itself.
    OwnPost,
    /// Answered on another channel.
    AnsweredElsewhere,
}

impl FromStr for DismissReason {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
            format!("unknown reason {s:?}: expected not_actionable, duplicate, spam, abuse, own_post or answered_elsewhere")
        })
    }
}

/// Agents' flag on an author.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorFlag {
    /// Posts to provoke: low priority, out of the complaint KPIs.
    Troll,
    /// Matters: at least high priority.
    Vip,
}

impl AuthorFlag {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorFlag::Troll => "troll",
            AuthorFlag::Vip => "vip",
        }
    }
}

impl FromStr for AuthorFlag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "troll" => Ok(AuthorFlag::Troll),
            "vip" => Ok(AuthorFlag::Vip),
            _ => Err(format!(
                "unknown author flag {s:?}: expected troll, vip or none"
            )),
        }
    }
}

/// What counts as a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseKind {
    /// An agent's receipt ("thanks, we are on it"), recorded by hand.
    Receipt,
    /// A reply by one of the brand's own accounts in the item's thread.
    ThreadReply,
    /// The ticket system's first agent answer after a hand-off.
    External,
}

/// The SLA clocks of an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Post → first response.
    FirstResponse,
    /// The author's follow-up → the next response.
    NextResponse,
    /// Post → resolved, pending time excluded.
    Resolution,
}

impl Clock {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Clock::FirstResponse => "first_response",
            Clock::NextResponse => "next_response",
            Clock::Resolution => "resolution",
        }
    }
}

/// A post as the desk keeps it: what agents need to see and KPIs group on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// The mention.
    pub mention: MentionId,
    /// Source id.
    pub source: String,
    /// Link to the post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Author key (folded handle).
    pub author: String,
    /// Followers, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<u64>,
    /// Topic ids.
    pub topics: Vec<String>,
    /// Intent.
    pub intent: Intent,
    /// Sentiment label.
    pub label: Label,
    /// Language code (`und` when undetermined).
    pub lang: String,
    /// Published (platform time).
    pub posted_at: DateTime<Utc>,
    /// Fetched by Lauscher.
    pub fetched_at: DateTime<Utc>,
    /// The first 200 characters.
    pub snippet: String,
}

impl Post {
    /// The desk's copy of a committed mention.
    pub fn of(m: &MentionSummary) -> Post {
        Post {
            mention: m.id,
            source: m.source.clone(),
            url: m.url.clone(),
            author: m.author_key.clone(),
            reach: m.reach,
            topics: m.topics.clone(),
            intent: m.intent,
            label: m.label,
            lang: m.lang.map_or("und", |l| l.code()).to_owned(),
            posted_at: m.published_at,
            fetched_at: m.fetched_at,
            snippet: m.snippet.clone(),
        }
    }
}

/// One change to an item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    /// The item was queued for `post`.
    Created {
        /// The opening post.
        post: Post,
        /// Priority at intake.
        priority: Priority,
        /// The team its route named.
        team: String,
        /// The SLA policy that matched.
        policy: String,
        /// Insults, threats or profanity found in the post.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        abuse: Option<crate::abuse::Abuse>,
        /// The agents' flag on the author at intake.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        author_flag: Option<AuthorFlag>,
    },
    /// The author posted again in the thread (reopens a pending or resolved item).
    FollowUp {
        /// The new post.
        post: Post,
    },
    /// An agent owns it now (a claim is an assignment to oneself).
    Assigned {
        /// The agent.
        to: String,
    },
    /// Nobody owns it.
    Unassigned,
    /// A tag was added.
    Tagged {
        /// The tag.
        tag: String,
    },
    /// A tag was removed.
    Untagged {
        /// The tag.
        tag: String,
    },
    /// An internal note.
    Noted {
        /// The note.
        body: String,
    },
    /// The priority was set.
    Prioritized {
        /// The new priority.
        priority: Priority,
    },
    /// A response reached the author (or an automatic one was seen: recorded, never
    /// counted).
    Responded {
        /// Receipt, thread reply or external.
        kind: ResponseKind,
        /// The brand's post, for thread replies.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        post: Option<Post>,
        /// Posted by a bot account or an auto-reply: never counts as a response.
        #[serde(default)]
        automated: bool,
        /// A reference the author was given (a ticket number).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// When the answer was given, where it was not now (a ticket system's answer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answered_at: Option<i64>,
    },
    /// An agent corrected what the scorer decided about the opening post; shown instead
    /// of the computed values, and the ground truth `lauscher eval --corrections` scores
    /// the scorer against.
    Corrected {
        /// The right sentiment label.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<Label>,
        /// The right intent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        intent: Option<Intent>,
    },
    /// Waiting on the author or a third party.
    Pending,
    /// Done.
    Resolved,
    /// Back to work by hand.
    Reopened,
    /// Given up, with a reason.
    Dismissed {
        /// Why.
        reason: DismissReason,
    },
    /// Folded into another item.
    Merged {
        /// The item it went into.
        into: i64,
    },
    /// Handed off to a ticket system (a Zammad, Znuny or signed webhook receiver).
    HandedOff {
        /// The receiver.
        target: String,
        /// The reference the ticket carries (`LSR-12`).
        reference: String,
    },
    /// The hand-off failed for good (rejected, or not delivered within the receiver's
    /// time to live): the item is back in the queue, its clocks run again.
    HandoffFailed {
        /// The receiver.
        target: String,
        /// What went wrong.
        error: String,
    },
    /// The ticket system reported on the ticket (signed, deduplicated by delivery).
    External {
        /// The receiver it came through.
        target: String,
        /// Its delivery id (a repeat is ignored).
        delivery: String,
        /// The ticket's state as the ticket system names it (`open`, `closed`).
        state: String,
        /// The ticket's id there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
        /// The ticket's number as agents see it, when reported.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        number: Option<String>,
    },
    /// An SLA clock reached its warning share.
    SlaWarning {
        /// Which clock.
        clock: Clock,
        /// When the clock started (unix seconds): one warning per clock run.
        start: i64,
        /// When it is due (unix seconds).
        due: i64,
    },
    /// An SLA clock ran out.
    SlaBreach {
        /// Which clock.
        clock: Clock,
        /// When the clock started (unix seconds).
        start: i64,
        /// When it was due (unix seconds).
        due: i64,
    },
}

impl Change {
    /// The action's name (`created`, `assigned`, ...), as stored beside the JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Change::Created { .. } => "created",
            Change::FollowUp { .. } => "follow_up",
            Change::Assigned { .. } => "assigned",
            Change::Unassigned => "unassigned",
            Change::Tagged { .. } => "tagged",
            Change::Untagged { .. } => "untagged",
            Change::Noted { .. } => "noted",
            Change::Prioritized { .. } => "prioritized",
            Change::Responded { .. } => "responded",
            Change::Corrected { .. } => "corrected",
            Change::Pending => "pending",
            Change::Resolved => "resolved",
            Change::Reopened => "reopened",
            Change::Dismissed { .. } => "dismissed",
            Change::Merged { .. } => "merged",
            Change::HandedOff { .. } => "handed_off",
            Change::HandoffFailed { .. } => "handoff_failed",
            Change::External { .. } => "external",
            Change::SlaWarning { .. } => "sla_warning",
            Change::SlaBreach { .. } => "sla_breach",
        }
    }
}

/// Who made a change: `user:<name>` (an agent), `system` (intake, clocks) or
/// `external:<name>` (a ticket system).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Actor {
    /// An agent, by name.
    User(String),
    /// Lauscher itself.
    System,
    /// Another system (a ticket system).
    External(String),
}

impl Actor {
    /// The agent's name, for user actors.
    pub fn user(&self) -> Option<&str> {
        match self {
            Actor::User(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(n) => write!(f, "user:{n}"),
            Actor::System => f.write_str("system"),
            Actor::External(n) => write!(f, "external:{n}"),
        }
    }
}

impl FromStr for Actor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            _ if s == "system" => Ok(Actor::System),
            Some(("user", n)) if !n.trim().is_empty() => Ok(Actor::User(n.trim().to_owned())),
            Some(("external", n)) if !n.trim().is_empty() => {
                Ok(Actor::External(n.trim().to_owned()))
            }
            _ => Err(format!(
                "invalid actor {s:?}: expected user:<name>, external:<name> or system"
            )),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One line of an item's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The item.
    pub item: i64,
    /// 1, 2, 3, … per item; the item's version after this event.
    pub seq: u32,
    /// When (unix seconds).
    pub at: i64,
    /// Who.
    pub actor: Actor,
    /// What.
    #[serde(flatten)]
    pub change: Change,
}
