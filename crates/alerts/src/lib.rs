//! Alerting: shitstorm detection, incidents, escalation, routing and delivery.
//!
//! ```text
//! Committed mentions ─▶ AlertRouter ─▶ per stream (rule × topic):
//!     SpikeDetector (window residual against the stream's own tail + CUSUM) |
//!     influencer | sentiment shift
//!   ─▶ Incident state machine ─▶ routing tree, silences, mutes, inhibition
//!   ─▶ state store: incident + timeline + outbox rows, one transaction
//!   ─▶ Deliverer: webhook (HMAC), Slack, Teams, Mattermost, PagerDuty; retries
//! ```
//!
//! - [`math`]: count distributions and thresholds;
//! - [`baseline`]: the seasonal expected count;
//! - [`tail`]: a statistic's own past and the level that meets the budget;
//! - [`detector`]: [`SpikeDetector`], one stream's counts and decisions;
//! - [`cusum`]: slow build-ups; [`shift`]: sentiment shift;
//! - [`incident`]: the incident state machine; [`book`]: the newest incident per stream;
//! - [`route`]: routing tree, silences and mutes; [`render`]: message texts from
//!   templates; [`receiver`]: one module per receiver kind (bodies, grouping, posting);
//! - [`router`]: [`AlertRouter`], the stages from signal to notification;
//!   [`sink`]: where they end (the store, memory in a backtest, nowhere while
//!   rebuilding); [`deliver`]: the outbox worker;
//! - [`backtest`]: replay rules over history;
//! - [`sim`]: seeded samplers and a generator of realistic mention volume for the
//!   statistical tests.

pub mod backtest;
pub mod baseline;
pub mod book;
pub mod cusum;
pub mod deliver;
pub mod detector;
pub mod incident;
pub mod math;
pub mod phrases;
pub mod receiver;
pub mod render;
pub mod route;
pub mod router;
pub mod service;
pub mod shift;
pub mod sim;
pub mod sink;
pub mod tail;
pub mod ticket;

pub use backtest::{BacktestReport, backtest};
pub use deliver::{DRAIN_LIMIT, Deliverer};
pub use detector::{Evidence, Signal, SpikeDetector, SpikeParams};
pub use incident::{Change, Incident, Input, Status};
pub use render::Templates;
pub use router::{AlertRouter, PlannedNotification, RouterError, SpikeStream};
pub use service::{AlertHandle, AlertInbox, AlertService};
