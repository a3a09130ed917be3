//! Per-host politeness: at most one request per host per interval.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Spaces requests to each host at least an interval apart (GCRA with a burst of one).
///
/// Hand-written rather than governor's keyed limiter because the interval differs per
/// host (a robots.txt `Crawl-delay` overrides the default), and this needs one map
/// entry per host and no background task. A waiting caller reserves its slot before it
/// sleeps, so concurrent sources on one host queue up fairly.
#[derive(Default)]
pub struct HostThrottle {
    next_slot: Mutex<HashMap<String, Instant>>,
}

impl HostThrottle {
    /// Returns a throttle with no history.
    pub fn new() -> Self {
        HostThrottle::default()
    }

    /// Waits until a request to `host` is allowed, `interval` after the previous one.
    pub async fn wait(&self, host: &str, interval: Duration) {
        let slot = {
            let now = Instant::now();
            let Ok(mut next) = self.next_slot.lock() else {
                return;
            };
            let slot = next.get(host).copied().filter(|s| *s > now).unwrap_or(now);
            next.insert(host.to_owned(), slot + interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_per_host_but_not_across_hosts() {
        let t = HostThrottle::new();
        let start = Instant::now();
        t.wait("a", Duration::from_secs(5)).await;
        t.wait("b", Duration::from_secs(5)).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        t.wait("a", Duration::from_secs(5)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }
}
