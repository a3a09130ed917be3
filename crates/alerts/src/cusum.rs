//! Slow build-ups: a CUSUM on hourly residuals beside the window test.
//!
//! Each closed hour gives a residual `z = ln((x + k)/(μ + k))` (the window test's
//! statistic, [`crate::detector`]); the CUSUM accumulates its excess over the stream's
//! own median residual, less a reference of half a 1.5× rise:
//! `S = max(0, S + z − median − ln(1.5)/2)` (Page 1954; the reference is the classic
//! half of the shift to detect). It sees a sustained 1.5–2× rise that no single window
//! makes significant.
//!
//! Its alarm level is not simulated from a parametric model (real volume's day-to-day
//! wobble would make a Poisson- or NB-calibrated CUSUM alarm every few days): the
//! stream records its own path of `S` and [`crate::tail::TailHistory`] picks the level
//! it would have crossed at the budget's rate. A stream needs 14 days of warm history
//! before its CUSUM may alarm.

/// The shift the CUSUM is tuned to detect: 1.5× the expected rate.
pub const SHIFT: f64 = 1.5;

/// One stream's CUSUM statistic.
#[derive(Clone, Debug, Default)]
pub struct Cusum {
    s: f64,
}

impl Cusum {
    /// Adds an hour whose residual exceeds the stream's median by `excess`; returns the
    /// statistic.
    pub fn observe(&mut self, excess: f64) -> f64 {
        self.s = (self.s + excess - SHIFT.ln() / 2.0).max(0.0);
        self.s
    }

    /// The statistic.
    pub fn statistic(&self) -> f64 {
        self.s
    }

    /// Starts over (after an alarm).
    pub fn reset(&mut self) {
        self.s = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_hours_keep_it_at_zero_and_a_doubling_accumulates() {
        let mut c = Cusum::default();
        for _ in 0..100 {
            assert_eq!(c.observe(0.0), 0.0);
        }
        // Hours at twice the usual level: each adds ln 2 − ln(1.5)/2 ≈ 0.49.
        for _ in 0..10 {
            c.observe(2f64.ln());
        }
        assert!((c.statistic() - 4.9).abs() < 0.1, "{}", c.statistic());
        c.reset();
        assert_eq!(c.statistic(), 0.0);
    }
}
