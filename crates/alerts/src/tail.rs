//! [`TailHistory`]: a test statistic's own past on one stream, and the firing level
//! that past says meets the false-page budget ([`TailFit`]).
//!
//! Real mention volume is bursty: hours at three or four times the seasonal level come
//! several times a week without anything a service team would call an incident. A
//! parametric tail fitted to typical hours (Poisson, or a negative binomial by moments)
//! does not see that, and pages thirty times its budget. So each stream calibrates its
//! own level from the statistic it is tested on, by peaks over threshold (Davison and
//! Smith 1990; SPOT, Siffer et al. 2017, applies it to streams):
//!
//! - the statistic at every evaluation step, as the live test saw it (out of sample),
//!   for up to 8 weeks;
//! - base level `u` = its 97th percentile; **episodes** = runs above `u`, merged when
//!   fewer than `gap` steps apart (two hours: an incident reopens within two hours, so
//!   what is closer is one page); each episode's peak;
//! - the peaks' excesses over `u` are a generalised Pareto with scale σ and shape ξ,
//!   by probability-weighted moments (Hosking and Wallis 1987); σ is shrunk towards a
//!   prior with 8 episodes' weight and ξ towards 0 (exponential) with 30, and ξ is
//!   kept within ±0.3. A well-mixed stream's residuals have a light tail (ξ < 0) and
//!   keep their sensitivity; a bursty stream's have an exponential or heavier one;
//! - episodes above `u` come at `λ_u` per day, so the level that would have come at
//!   the budget's rate `λ_B` is `z* = u + σ/ξ · ((λ_u / λ_B)^ξ − 1)` (`σ · ln(λ_u/λ_B)`
//!   at ξ = 0).
//!
//! Incidents enter the history winsorised at the level in force (the caller's job), so
//! a shitstorm does not teach the stream that shitstorms are normal, and a false page
//! still counts as an episode.
//!
//! Costs: 4 bytes per step kept (8 weeks of 5-minute steps: 64 KiB per stream); a fit
//! sorts the history once (about 1 ms for 16k steps) and runs once a day.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Percentile of the history that starts an episode.
const BASE_QUANTILE: f64 = 0.97;
/// Percentile below which a step counts as back to normal.
const QUIET_QUANTILE: f64 = 0.90;
/// Prior weight of the prior scale, in episodes.
const PRIOR_EPISODES: f64 = 8.0;

/// One statistic's values over the stream's past, oldest first.
#[derive(Clone, Debug)]
pub struct TailHistory {
    values: VecDeque<f32>,
    capacity: usize,
    /// Steps per day.
    per_day: f64,
    /// Steps between episodes that still merge them.
    gap: usize,
}

/// What a stream's past says about one statistic's tail.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TailFit {
    /// Days of history fitted.
    pub days: f64,
    /// Episodes above the base level in that history.
    pub episodes: u32,
    /// The base level `u` (97th percentile).
    pub base: f64,
    /// Scale of the episode peaks above `u` (generalised Pareto).
    pub scale: f64,
    /// Shape ξ of the episode peaks above `u`: 0 exponential, below 0 a lighter tail
    /// (a well-mixed Poisson stream), above 0 a heavier one.
    #[serde(default)]
    pub shape: f64,
    /// The 90th percentile: at or below it a step is within the stream's usual range.
    pub quiet: f64,
    /// The level crossed at the budget's rate.
    pub level: f64,
}

impl TailFit {
    /// Episodes per 90 days the fitted (predictive) tail expects above `z`.
    pub fn episodes_per_90d(&self, z: f64) -> f64 {
        if self.days <= 0.0 {
            return 0.0;
        }
        let rate = (self.episodes as f64).max(1.0) / self.days;
        let y = (z - self.base).max(0.0) / self.scale.max(1e-9);
        let survival = if self.shape.abs() < 1e-6 {
            (-y).exp()
        } else {
            (1.0 + self.shape * y).max(0.0).powf(-1.0 / self.shape)
        };
        90.0 * rate * survival
    }
}

/// The `p` quantile of non-empty `sorted` values (nearest rank).
fn quantile_of(sorted: &[f32], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize] as f64
}

/// Peaks counted towards the shape's prior (it moves half way at this many).
const SHAPE_PRIOR_EPISODES: f64 = 30.0;
/// Largest shape magnitude used.
const MAX_SHAPE: f64 = 0.3;

/// Scale and shape of a generalised Pareto by probability-weighted moments (Hosking
/// and Wallis 1987) from excesses sorted ascending; `None` for fewer than 3 or a
/// degenerate sample.
fn pwm(sorted: &[f64]) -> Option<(f64, f64)> {
    let n = sorted.len();
    if n < 3 {
        return None;
    }
    let a0 = sorted.iter().sum::<f64>() / n as f64;
    let a1 = sorted
        .iter()
        .enumerate()
        .map(|(i, x)| (1.0 - (i as f64 + 0.65) / n as f64) * x)
        .sum::<f64>()
        / n as f64;
    let d = a0 - 2.0 * a1;
    if !(d > 1e-12 && a0 > 0.0) {
        return None;
    }
    Some((2.0 * a0 * a1 / d, 2.0 - a0 / d))
}

/// The excess over the base crossed once per `ratio` episodes.
fn gpd_quantile(scale: f64, shape: f64, ratio: f64) -> f64 {
    if shape.abs() < 1e-6 {
        scale * ratio.ln()
    } else {
        scale / shape * (ratio.powf(shape) - 1.0)
    }
}

impl TailHistory {
    /// Keeps up to `capacity` values recorded `per_day` times a day; episodes closer
    /// than `gap` steps are one.
    pub fn new(capacity: usize, per_day: f64, gap: usize) -> TailHistory {
        TailHistory {
            // Grows as it fills: a stream's unused histories (the CUSUM's when it is
            // off) cost nothing.
            values: VecDeque::new(),
            capacity: capacity.max(1),
            per_day: per_day.max(1e-9),
            gap: gap.max(1),
        }
    }

    /// Records the statistic of one step.
    pub fn push(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        if self.values.len() == self.capacity {
            self.values.pop_front();
        }
        self.values.push_back(value as f32);
    }

    /// Days of history recorded.
    pub fn days(&self) -> f64 {
        self.values.len() as f64 / self.per_day
    }

    /// The `p` quantile of the values, `None` without any.
    pub fn quantile(&self, p: f64) -> Option<f64> {
        if self.values.is_empty() {
            return None;
        }
        Some(quantile_of(&self.sorted(), p))
    }

    fn sorted(&self) -> Vec<f32> {
        let mut sorted: Vec<f32> = self.values.iter().copied().collect();
        sorted.sort_unstable_by(f32::total_cmp);
        sorted
    }

    /// Fits the tail and picks the level crossed `budget_per_day` times a day, shrinking
    /// the scale towards `prior_scale`; `None` without history.
    pub fn fit(&self, budget_per_day: f64, prior_scale: f64) -> Option<TailFit> {
        if self.values.len() < 16 {
            return None;
        }
        let sorted = self.sorted();
        let base = quantile_of(&sorted, BASE_QUANTILE);
        let quiet = quantile_of(&sorted, QUIET_QUANTILE);
        // Episode peaks: runs above the base, merged across short dips.
        let mut peaks: Vec<f64> = Vec::new();
        let mut below = usize::MAX;
        for &v in &self.values {
            let v = v as f64;
            // At or above: a discrete statistic (a quiet stream's counts) often ties
            // its 97th percentile with its maximum.
            if v >= base {
                if below < self.gap
                    && let Some(p) = peaks.last_mut()
                {
                    *p = p.max(v);
                } else {
                    peaks.push(v);
                }
                below = 0;
            } else {
                below = below.saturating_add(1);
            }
        }
        let days = self.days();
        let mut excess: Vec<f64> = peaks.iter().map(|p| p - base).collect();
        excess.sort_unstable_by(f64::total_cmp);
        let n = excess.len() as f64;
        let (observed, shape) = pwm(&excess).unwrap_or((prior_scale, 0.0));
        let scale = ((n * observed + PRIOR_EPISODES * prior_scale) / (n + PRIOR_EPISODES))
            .max(prior_scale * 0.25);
        // The shape is noisy from tens of peaks: shrink it towards the exponential.
        // Then add the scale's own uncertainty: an exponential whose rate is known
        // from `n` draws predicts a Lomax, a generalised Pareto with shape 1/n, so a
        // level right on average does not page more than the budget on average.
        let draws = n + PRIOR_EPISODES;
        let shape =
            (shape * n / (n + SHAPE_PRIOR_EPISODES)).clamp(-MAX_SHAPE, MAX_SHAPE) + 1.0 / draws;
        // With no episode at all, act as if one had come in the whole history.
        let rate = n.max(1.0) / days.max(1e-9);
        let ratio = (rate / budget_per_day.max(1e-12)).max(1.0);
        let level = base + gpd_quantile(scale, shape, ratio);
        Some(TailFit {
            days,
            episodes: excess.len() as u32,
            base,
            scale,
            shape,
            quiet,
            level,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn exponential_peaks_give_the_budget_level() {
        // Hourly values: mostly noise, with independent exponential bursts (scale 0.5)
        // about once a day above 1.0. The level for one episode per 90 days is about
        // 1.0 + 0.5 · ln(90) ≈ 3.25.
        let mut h = TailHistory::new(56 * 24, 24.0, 2);
        let mut rng = StdRng::seed_from_u64(3);
        for i in 0..56 * 24 {
            let burst = i % 24 == 12;
            let v = if burst {
                1.0 + -0.5 * rng.random::<f64>().max(1e-12).ln()
            } else {
                0.2 * rng.random::<f64>()
            };
            h.push(v);
        }
        let fit = h.fit(1.0 / 90.0, 0.3).expect("fit");
        assert!(fit.episodes > 20, "{fit:?}");
        assert!((2.6..4.0).contains(&fit.level), "{fit:?}");
        let expected = fit.episodes_per_90d(fit.level);
        assert!((0.9..1.1).contains(&expected), "{expected}");
    }

    #[test]
    fn one_enormous_incident_does_not_move_the_level_much() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut values: Vec<f64> = (0..56 * 24)
            .map(|i| {
                if i % 24 == 12 {
                    1.0 + -0.5 * rng.random::<f64>().max(1e-12).ln()
                } else {
                    0.2 * rng.random::<f64>()
                }
            })
            .collect();
        let fit_of = |values: &[f64]| {
            let mut h = TailHistory::new(56 * 24, 24.0, 2);
            values.iter().for_each(|&v| h.push(v));
            h.fit(1.0 / 90.0, 0.3).expect("fit")
        };
        let before = fit_of(&values);
        // The detector records a firing window winsorised at the level in force.
        for v in &mut values[500..520] {
            *v = before.level;
        }
        let after = fit_of(&values);
        assert!(
            (after.level - before.level).abs() < 0.4,
            "{before:?} {after:?}"
        );
    }

    #[test]
    fn short_dips_do_not_split_an_episode() {
        let mut h = TailHistory::new(1000, 24.0, 2);
        for i in 0..200 {
            let v = if (100..110).contains(&i) && i != 105 {
                5.0
            } else {
                (i % 7) as f64 * 0.01
            };
            h.push(v);
        }
        let fit = h.fit(1.0 / 90.0, 0.3).expect("fit");
        assert_eq!(fit.episodes, 1, "{fit:?}");
    }
}
