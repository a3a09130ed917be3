//! robots.txt: fetched once per origin, cached for a day, obeyed on every fetch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use texting_robots::Robot;
use url::Url;

use crate::http::{Fetched, HttpFetcher};

/// The product token matched against `User-agent:` lines.
pub const ROBOTS_AGENT: &str = "Lauscher";

/// How long a fetched robots.txt is trusted.
const TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a 5xx or unreachable robots.txt blocks the origin before we ask again.
const ERROR_TTL: Duration = Duration::from_secs(600);
/// Bytes of robots.txt read; the rest is ignored (as Google does past 500 KiB).
pub const ROBOTS_LIMIT: usize = 500 * 1024;

/// A robots.txt as stored between restarts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRobots {
    /// HTTP status of the robots.txt fetch (0: unreachable).
    pub status: u16,
    /// The body (at most [`ROBOTS_LIMIT`] bytes).
    pub body: Vec<u8>,
    /// When it was fetched.
    pub fetched_at: DateTime<Utc>,
}

/// Where robots.txt answers survive restarts (the state store, in the daemon).
pub trait RobotsStore: Send + Sync {
    /// Returns the stored answer for `origin` (`https://host:port`).
    fn load(&self, origin: &str) -> Option<StoredRobots>;
    /// Stores the answer for `origin`; failures are logged by the store, not fatal.
    fn save(&self, origin: &str, robots: &StoredRobots);
}

/// What robots.txt says about one origin.
enum Policy {
    AllowAll,
    DenyAll,
    Rules(Box<Robot>),
}

struct Entry {
    policy: Arc<Policy>,
    fetched_at: DateTime<Utc>,
    ttl: Duration,
}

/// The decision for one URL.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    /// Whether the URL may be fetched.
    pub allowed: bool,
    /// The origin's `Crawl-delay`, if any.
    pub crawl_delay: Option<Duration>,
}

/// Caches robots.txt per origin. 4xx means "no rules" (allow all); 5xx or an unreachable
/// server means "do not crawl" until asked again in 10 minutes.
pub struct RobotsCache {
    entries: Mutex<HashMap<String, Entry>>,
    store: Option<Arc<dyn RobotsStore>>,
}

impl RobotsCache {
    /// Returns an empty cache, backed by `store` when given.
    pub fn new(store: Option<Arc<dyn RobotsStore>>) -> Self {
        RobotsCache {
            entries: Mutex::new(HashMap::new()),
            store,
        }
    }

    /// Decides whether `url` may be fetched, fetching robots.txt through `http` first
    /// when the cached answer is missing or stale. An origin `http` may not reach at all
    /// ([`crate::FetchError::PrivateAddress`]) is an error and caches nothing, so a
    /// source without `allow_private` cannot deny the origin to one that has it.
    pub async fn check(&self, http: &HttpFetcher, url: &Url) -> Result<Verdict, crate::FetchError> {
        let origin = url.origin().ascii_serialization();
        let now = Utc::now();
        let cached = self.cached(&origin, now).or_else(|| {
            let stored = self.store.as_ref()?.load(&origin)?;
            let entry = entry_from(&stored);
            fresh(&entry, now).then(|| {
                let policy = entry.policy.clone();
                self.insert(&origin, entry);
                policy
            })
        });
        let policy = match cached {
            Some(p) => p,
            None => {
                let stored = fetch(http, &origin).await?;
                if let Some(store) = &self.store {
                    store.save(&origin, &stored);
                }
                let entry = entry_from(&stored);
                let policy = entry.policy.clone();
                self.insert(&origin, entry);
                policy
            }
        };
        Ok(match &*policy {
            Policy::AllowAll => Verdict {
                allowed: true,
                crawl_delay: None,
            },
            Policy::DenyAll => Verdict {
                allowed: false,
                crawl_delay: None,
            },
            Policy::Rules(robot) => Verdict {
                allowed: robot.allowed(url.as_str()),
                crawl_delay: robot
                    .delay
                    .filter(|d| d.is_finite() && *d > 0.0)
                    .map(|d| Duration::from_secs_f32(d.min(3600.0))),
            },
        })
    }

    fn cached(&self, origin: &str, now: DateTime<Utc>) -> Option<Arc<Policy>> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(origin)?;
        fresh(e, now).then(|| e.policy.clone())
    }

    fn insert(&self, origin: &str, entry: Entry) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(origin.to_owned(), entry);
        }
    }
}

fn fresh(e: &Entry, now: DateTime<Utc>) -> bool {
    (now - e.fetched_at).to_std().is_ok_and(|age| age < e.ttl)
}

async fn fetch(http: &HttpFetcher, origin: &str) -> Result<StoredRobots, crate::FetchError> {
    let fetched_at = Utc::now();
    let Ok(url) = Url::parse(&format!("{origin}/robots.txt")) else {
        return Ok(StoredRobots {
            status: 404,
            body: Vec::new(),
            fetched_at,
        });
    };
    Ok(match http.get_prefix(&url, ROBOTS_LIMIT).await {
        Ok(Fetched::Body(answer)) => StoredRobots {
            status: 200,
            body: answer.body.to_vec(),
            fetched_at,
        },
        Ok(Fetched::NotModified) => StoredRobots {
            status: 404,
            body: Vec::new(),
            fetched_at,
        },
        Err(crate::FetchError::Status { status, .. }) => StoredRobots {
            status,
            body: Vec::new(),
            fetched_at,
        },
        Err(e @ crate::FetchError::PrivateAddress { .. }) => return Err(e),
        Err(_) => StoredRobots {
            status: 0,
            body: Vec::new(),
            fetched_at,
        },
    })
}

fn entry_from(stored: &StoredRobots) -> Entry {
    let (policy, ttl) = match stored.status {
        200..=299 => match Robot::new(ROBOTS_AGENT, &stored.body) {
            Ok(robot) => (Policy::Rules(Box::new(robot)), TTL),
            // Unparseable rules are no rules.
            Err(_) => (Policy::AllowAll, TTL),
        },
        400..=499 => (Policy::AllowAll, TTL),
        _ => (Policy::DenyAll, ERROR_TTL),
    };
    Entry {
        policy: Arc::new(policy),
        fetched_at: stored.fetched_at,
        ttl,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(status: u16, body: &str, url: &str) -> bool {
        let e = entry_from(&StoredRobots {
            status,
            body: body.as_bytes().to_vec(),
            fetched_at: Utc::now(),
        });
        match &*e.policy {
            Policy::AllowAll => true,
            Policy::DenyAll => false,
            Policy::Rules(r) => r.allowed(url),
        }
    }

    #[test]
    fn statuses_map_to_policies() {
        assert!(verdict(404, "", "https://example.org/feed"));
        assert!(!verdict(503, "", "https://example.org/feed"));
        assert!(!verdict(
            200,
            "User-agent: *\nDisallow: /private",
            "https://example.org/private/feed"
        ));
        assert!(verdict(
            200,
            "User-agent: *\nDisallow: /private",
            "https://example.org/feed"
        ));
        assert!(!verdict(
            200,
            "User-agent: Lauscher\nDisallow: /",
            "https://example.org/feed"
        ));
    }
}
