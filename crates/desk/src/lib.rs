//! The service desk: every public complaint and question that needs an answer becomes an
//! item in a queue, on SLA clocks, measured by KPIs. Lauscher never posts: it queues,
//! clocks, measures and (later) hands off.
//!
//! - [`calendar`]: business hours, holidays, DST — how much time counts;
//! - [`event`]: the append-only event log, the only truth;
//! - [`item`]: an item as the fold of its events, and which changes its state allows;
//! - [`clock`]: SLA policies and the runs of each item's clocks;
//! - [`kpi`]: KPIs from events alone, with their formulas;
//! - [`desk`]: intake of committed mentions, agents' actions, the SLA tick, reads.
//!
//! States: `new` (unowned) → `open` (an agent owns it) → `pending` (waiting on the author;
//! next-response and resolution clocks stop) → `resolved`; `dismissed` (with a reason)
//! and `merged` end it. The author's next post in the thread moves a pending or resolved
//! item back to work.
//!
//! Decisions: the first-response clock starts at the post's platform time, not when
//! Lauscher fetched it (the author has waited since then; detection lag is reported
//! apart). A clock's due time is recomputed from the item and its policy whenever it is
//! read, so a priority change moves it; one warning and one breach are sent per run of a
//! clock. Hand-off to ticket systems, abuse flags, corrections and API roles are not
//! built yet.

pub mod abuse;
pub mod calendar;
pub mod clock;
pub mod desk;
pub mod event;
pub mod item;
pub mod kpi;

pub use calendar::Calendar;
pub use clock::{ClockRun, SlaBook};
pub use desk::{Action, Desk, DeskError, Intake, ItemFilter, ItemView, concerns, stored_events};
pub use event::{
    Actor, AuthorFlag, Change, Clock, DismissReason, Event, ItemState, Post, ResponseKind,
};
pub use item::{Item, Refused};
pub use kpi::{Dimension, KpiReport, KpiRequest, Kpis};
