//! Sentiment shift: net sentiment `(pos − neg)/n` over 24 h against its 28-day level.
//!
//! Hourly: `σ² = p₊ + p₋ − (p₊ − p₋)²` from the baseline shares, `z = (NSS − NSS₀)/(σ/√n)`.
//! Fires when the drop is at least `drop`, `n ≥ min_mentions` and `z < −2.77`
//! (α ≈ 2.8·10⁻³ at about 4 effective tests a day). Single labels are noisy, but the
//! bias is the same in window and baseline. Needs 7 days of baseline before it fires.

use std::collections::VecDeque;

use lauscher_model::Label;

/// The z below which a drop is significant.
pub const Z_FIRE: f64 = -2.77;
/// Baseline hours before the detector may fire.
const WARM_HOURS: u32 = 7 * 24;

/// One topic's sentiment-shift state.
#[derive(Clone, Debug)]
pub struct ShiftDetector {
    hours: VecDeque<[u32; 3]>,
    current_hour: Option<i64>,
    current: [u32; 3],
    pos: f64,
    neg: f64,
    warm: u32,
    drop: f64,
    min_n: u32,
}

/// A significant drop.
#[derive(Clone, Debug, PartialEq)]
pub struct Shift {
    /// Net sentiment in the 24 h window.
    pub nss: f64,
    /// Baseline net sentiment.
    pub baseline: f64,
    /// The z statistic.
    pub z: f64,
    /// Mentions in the window.
    pub n: u32,
    /// Negative mentions in the window.
    pub negative: u32,
}

impl ShiftDetector {
    /// A detector firing on drops of `drop` with at least `min_n` mentions.
    pub fn new(drop: f64, min_n: u32) -> ShiftDetector {
        ShiftDetector {
            hours: VecDeque::with_capacity(24),
            current_hour: None,
            current: [0; 3],
            pos: 0.0,
            neg: 0.0,
            warm: 0,
            drop,
            min_n,
        }
    }

    /// Counts a mention of `label` at `t` (unix seconds); returns a shift when an hour
    /// closed with one.
    pub fn observe(&mut self, label: Label, t: i64) -> Option<Shift> {
        let fired = self.advance(t);
        let i = match label {
            Label::Positive => 0,
            Label::Negative => 1,
            Label::Neutral => 2,
        };
        self.current[i] += 1;
        fired
    }

    /// Closes hours up to `t`; returns a shift found at the last closed hour.
    pub fn advance(&mut self, t: i64) -> Option<Shift> {
        let hour = t.div_euclid(3600);
        let Some(mut cur) = self.current_hour else {
            self.current_hour = Some(hour);
            return None;
        };
        let mut fired = None;
        while cur < hour {
            fired = self.close(self.current);
            self.current = [0; 3];
            cur += 1;
            if hour - cur > 48 {
                // A long gap: the window is empty; skip to a day before `hour`.
                for _ in 0..24 {
                    self.close([0; 3]);
                }
                cur = hour;
            }
        }
        self.current_hour = Some(hour);
        fired
    }

    fn close(&mut self, counts: [u32; 3]) -> Option<Shift> {
        if self.hours.len() == 24 {
            self.hours.pop_front();
        }
        self.hours.push_back(counts);
        let n = counts.iter().sum::<u32>();
        if n > 0 {
            // 28-day EWMA of the shares, weighted by volume per hour.
            let a = 1.0 - 0.5f64.powf(1.0 / (28.0 * 24.0));
            let a = if self.warm < WARM_HOURS {
                (1.0 / (self.warm + 1) as f64).max(a)
            } else {
                a
            };
            self.pos += a * (counts[0] as f64 / n as f64 - self.pos);
            self.neg += a * (counts[1] as f64 / n as f64 - self.neg);
        }
        self.warm = self.warm.saturating_add(1);
        if self.warm < WARM_HOURS {
            return None;
        }
        let mut w = [0u32; 3];
        for h in &self.hours {
            for i in 0..3 {
                w[i] += h[i];
            }
        }
        let n = w.iter().sum::<u32>();
        if n < self.min_n || n == 0 {
            return None;
        }
        let nss = (w[0] as f64 - w[1] as f64) / n as f64;
        let base = self.pos - self.neg;
        let var = (self.pos + self.neg - base * base).max(1e-6);
        let z = (nss - base) / (var.sqrt() / (n as f64).sqrt());
        (base - nss >= self.drop && z < Z_FIRE).then_some(Shift {
            nss,
            baseline: base,
            z,
            n,
            negative: w[1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_to_negative_fires() {
        let mut d = ShiftDetector::new(0.2, 30);
        let mut t = 0;
        // Ten days of 30% positive, 20% negative, 10 per hour.
        for _ in 0..240 {
            for i in 0..10 {
                let label = match i {
                    0..3 => Label::Positive,
                    3..5 => Label::Negative,
                    _ => Label::Neutral,
                };
                assert_eq!(d.observe(label, t), None);
            }
            t += 3600;
        }
        let mut fired = None;
        for _ in 0..24 {
            for i in 0..10 {
                let label = if i < 5 {
                    Label::Negative
                } else {
                    Label::Neutral
                };
                if let Some(s) = d.observe(label, t) {
                    fired.get_or_insert(s);
                }
            }
            t += 3600;
        }
        let s = fired.expect("fires");
        assert!(s.z < Z_FIRE && s.nss < s.baseline - 0.2, "{s:?}");
    }
}
