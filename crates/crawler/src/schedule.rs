//! When to poll a source next: jittered intervals, exponential backoff, `Retry-After`.

use std::time::Duration;

use rand::Rng;

/// Longest `Retry-After` honoured; a server asking for more is polled after this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Returns the delay before the next regular poll: the interval (or what the source
/// asked for, a feed's `<ttl>` or a rate limit's reset, when longer) jittered by ±10%
/// so sources started together drift apart.
pub fn next_poll_delay(
    interval: Duration,
    wait_at_least: Option<Duration>,
    rng: &mut impl Rng,
) -> Duration {
    let base = wait_at_least
        .filter(|wait| *wait > interval)
        .unwrap_or(interval);
    base.mul_f64(rng.random_range(0.9..=1.1))
}

/// Returns the delay after the `failures`-th consecutive failure (from 1): exponential
/// from `min`, capped at `max`, with full jitter over `[min, cap]`, and never sooner
/// than the server's `Retry-After`.
pub fn failure_delay(
    failures: u32,
    min: Duration,
    max: Duration,
    retry_after: Option<Duration>,
    rng: &mut impl Rng,
) -> Duration {
    let exp = min
        .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
        .min(max);
    let jittered = if exp > min {
        Duration::from_secs_f64(rng.random_range(min.as_secs_f64()..=exp.as_secs_f64()))
    } else {
        min
    };
    match retry_after {
        Some(ra) => jittered.max(ra.min(MAX_RETRY_AFTER)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_grows_stays_capped_and_honours_retry_after() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let (min, max) = (Duration::from_secs(60), Duration::from_secs(6 * 3600));
        for failures in 1..40 {
            let d = failure_delay(failures, min, max, None, &mut rng);
            assert!(d >= min && d <= max, "{failures}: {d:?}");
        }
        assert_eq!(failure_delay(1, min, max, None, &mut rng), min);
        let ra = Duration::from_secs(7200);
        assert!(failure_delay(1, min, max, Some(ra), &mut rng) >= ra);
    }

    #[test]
    fn polls_are_jittered_and_respect_ttl() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let i = Duration::from_secs(300);
        let d = next_poll_delay(i, None, &mut rng);
        assert!(d >= i.mul_f64(0.9) && d <= i.mul_f64(1.1));
        assert!(
            next_poll_delay(i, Some(Duration::from_secs(3600)), &mut rng)
                >= Duration::from_secs(3240)
        );
        assert!(next_poll_delay(i, Some(Duration::from_secs(60)), &mut rng) <= i.mul_f64(1.1));
    }
}
