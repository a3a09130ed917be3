//! Slow build-ups: a Poisson CUSUM on hourly counts beside the window test.
//!
//! `S = max(0, S + x·ln ρ − μ(ρ − 1))`, alarm at `S ≥ h`, then reset (Lucas). It sees
//! a sustained 1.5× rise that no single window makes significant. `h` is fitted per
//! stream by simulating the stream's own in-control counts so that false alarms match
//! the rule's budget; fits are cached by rounded mean, so similar streams share them.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::sim;

/// The shift the CUSUM is tuned to detect: 1.5× the expected rate.
pub const SHIFT: f64 = 1.5;

/// One stream's CUSUM.
#[derive(Clone, Debug)]
pub struct Cusum {
    s: f64,
    h: f64,
}

impl Cusum {
    /// A CUSUM with alarm level `h`.
    pub fn new(h: f64) -> Cusum {
        Cusum { s: 0.0, h }
    }

    /// The alarm level.
    pub fn h(&self) -> f64 {
        self.h
    }

    /// Changes the alarm level (after a refit), keeping the statistic.
    pub fn set_h(&mut self, h: f64) {
        self.h = h;
    }

    /// The statistic.
    pub fn statistic(&self) -> f64 {
        self.s
    }

    /// Adds an hour with `x` counted against `mu` expected; true on alarm (then resets).
    pub fn observe(&mut self, x: f64, mu: f64) -> bool {
        self.s = (self.s + x * SHIFT.ln() - mu * (SHIFT - 1.0)).max(0.0);
        if self.s >= self.h {
            self.s = 0.0;
            return true;
        }
        false
    }
}

/// Fitted `h` by (rounded log mean, rounded log dispersion, ARL hours).
type Fits = Mutex<HashMap<(u32, u32, u32), f64>>;

fn cache() -> &'static Fits {
    static CACHE: OnceLock<Fits> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Fits `h` so that a stream with hourly mean `mu` (NB size `r`, `None` Poisson)
/// alarms about once per `arl_hours` when nothing changes. Costs about 0.5M samples the
/// first time for a given (mean, dispersion, ARL), then a lookup.
pub fn calibrate(mu: f64, r: Option<f64>, arl_hours: f64) -> f64 {
    let key = (
        (mu.max(0.01).ln() * 20.0).round() as i64 as u32,
        r.map_or(0, |r| (r.ln() * 10.0).round() as i64 as u32 + 1),
        arl_hours.round() as u32,
    );
    let mut guard = cache().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = guard.get(&key) {
        return *h;
    }
    let hours = (arl_hours * 20.0).clamp(20_000.0, 200_000.0) as usize;
    let mut rng = StdRng::seed_from_u64(0x05ee_dc05_u64);
    let draws: Vec<f64> = (0..hours)
        .map(|_| sim::count(&mut rng, mu, r) as f64)
        .collect();
    let alarms = |h: f64| {
        let mut c = Cusum::new(h);
        draws.iter().filter(|&&x| c.observe(x, mu)).count()
    };
    let target = hours as f64 / arl_hours;
    let (mut lo, mut hi) = (0.1f64, 60.0f64);
    for _ in 0..30 {
        let mid = 0.5 * (lo + hi);
        if (alarms(mid) as f64) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    guard.insert(key, hi);
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_matches_the_design_note() {
        // design/alerting.md §4: μ = 5/h, ρ = 1.5 → h ≈ 5.75 for an ARL of 90 days.
        let h = calibrate(5.0, None, 90.0 * 24.0);
        assert!((4.8..6.8).contains(&h), "{h}");
    }

    #[test]
    fn a_sustained_doubling_alarms_within_hours() {
        let h = calibrate(5.0, None, 90.0 * 24.0);
        let mut c = Cusum::new(h);
        let mut rng = StdRng::seed_from_u64(7);
        let mut delays = Vec::new();
        for _ in 0..200 {
            let mut hours = 0;
            loop {
                hours += 1;
                if c.observe(sim::poisson(&mut rng, 10.0) as f64, 5.0) {
                    break;
                }
            }
            delays.push(hours);
        }
        let mean = delays.iter().sum::<usize>() as f64 / delays.len() as f64;
        assert!(mean < 8.0, "mean delay {mean} h");
    }
}
