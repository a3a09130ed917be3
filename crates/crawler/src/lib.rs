//! Sources and the machinery to poll them politely.
//!
//! - [`http`]: the one HTTP client, with timeouts, redirect and body limits, conditional GET;
//! - [`address`]: which addresses a source may reach (no private ones unless it opts in);
//! - [`robots`]: robots.txt per origin, cached for a day;
//! - [`throttle`]: per-host request spacing;
//! - [`schedule`]: poll intervals with jitter, backoff with `Retry-After`;
//! - [`feed`] and [`repair`]: forgiving RSS/Atom/JSON Feed parsing;
//! - [`canonical`]: canonical URLs and deterministic mention ids;
//! - [`source`]: [`FeedSource`], which ties them together.

pub mod address;
pub mod canonical;
pub mod error;
pub mod feed;
pub mod http;
pub mod repair;
pub mod robots;
pub mod schedule;
pub mod source;
pub mod sources;
pub mod throttle;

pub use canonical::{canonical_url, mention_id};
pub use error::FetchError;
pub use http::{HttpFetcher, HttpSettings, Validators};
pub use robots::{RobotsCache, RobotsStore, StoredRobots};
pub use source::{BoxFuture, Crawler, Poll, Poller};
pub use sources::{Cursor, FeedSource};
pub use throttle::HostThrottle;
