//! Count distributions: Poisson and negative binomial tails, the firing threshold x*
//! for a significance level, and the Gamma–Poisson predictive for cold starts.
//!
//! Everything works in log space so that large means (hundreds of mentions per window)
//! neither underflow nor lose the tail. A threshold costs one pass over `0..x*`, so the
//! detector computes it once per evaluation step, never per mention.

/// A count model for one window: mean `mu` and, when over-dispersed, the negative
/// binomial size `r` (`Var = mu + mu²/r`); `None` is Poisson.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CountModel {
    /// Expected count.
    pub mu: f64,
    /// Negative binomial size; `None` for Poisson.
    pub r: Option<f64>,
}

/// The most counts any search walks; beyond it the model is treated as exhausted.
const MAX_K: u32 = 1_000_000;

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, n = 9; relative error below 1e-13).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).abs().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

impl CountModel {
    /// A Poisson model.
    pub fn poisson(mu: f64) -> CountModel {
        CountModel { mu, r: None }
    }

    /// `ln P(X = k)`.
    pub fn ln_pmf(&self, k: u32) -> f64 {
        let k = k as f64;
        let mu = self.mu.max(1e-12);
        match self.r {
            None => k * mu.ln() - mu - ln_gamma(k + 1.0),
            Some(r) => {
                let p = r / (r + mu);
                ln_gamma(k + r) - ln_gamma(r) - ln_gamma(k + 1.0) + r * p.ln() + k * (1.0 - p).ln()
            }
        }
    }

    /// `ln(P(X = k+1) / P(X = k))`.
    fn ln_step(&self, k: u32) -> f64 {
        let k = k as f64;
        let mu = self.mu.max(1e-12);
        match self.r {
            None => mu.ln() - (k + 1.0).ln(),
            Some(r) => ((k + r) / (k + 1.0)).ln() + (mu / (r + mu)).ln(),
        }
    }

    /// The variance.
    pub fn variance(&self) -> f64 {
        match self.r {
            None => self.mu,
            Some(r) => self.mu + self.mu * self.mu / r,
        }
    }

    /// `P(X ≥ x)`, accurate far into the tail (summed upward from `x` when `x` is above
    /// the mean, else one minus the lower sum).
    pub fn tail(&self, x: u32) -> f64 {
        if x == 0 {
            return 1.0;
        }
        if (x as f64) > self.mu {
            let mut lp = self.ln_pmf(x);
            let mut sum = 0.0;
            let mut k = x;
            while k < MAX_K {
                let term = lp.exp();
                sum += term;
                if term < sum * 1e-17 || (term == 0.0 && lp < -745.0 && (k as f64) > self.mu) {
                    break;
                }
                lp += self.ln_step(k);
                k += 1;
            }
            sum.min(1.0)
        } else {
            let mut lp = self.ln_pmf(0);
            let mut cdf = 0.0;
            for k in 0..x {
                cdf += lp.exp();
                lp += self.ln_step(k);
            }
            (1.0 - cdf).clamp(0.0, 1.0)
        }
    }

    /// The smallest `x` with `P(X ≥ x) < alpha`: the count that fires.
    pub fn threshold(&self, alpha: f64) -> u32 {
        // Start the walk where the mass is; the lower part contributes to the CDF only.
        let mut lp = self.ln_pmf(0);
        let mut cdf = 0.0;
        let mut k = 0;
        while k < MAX_K {
            // P(X ≥ k) = 1 − cdf(k − 1).
            if 1.0 - cdf < alpha {
                // Near 1 the subtraction loses digits; confirm with the exact tail.
                if self.tail(k) < alpha {
                    return k;
                }
            }
            cdf += lp.exp();
            lp += self.ln_step(k);
            k += 1;
        }
        MAX_K
    }
}

/// The Gamma–Poisson predictive for a window of `exposure` hours after `count` mentions
/// over `observed` hours, with a Gamma(`a0`, `b0`) prior on the hourly rate: a negative
/// binomial with size `a0 + count` and mean `(a0 + count) · exposure / (b0 + observed)`.
///
/// With no history (`a0 = b0 = 1`, one hour) `P(X ≥ x) = 2⁻ˣ`, so a fresh stream needs
/// 14 authors in its first hour at the default α: quiet rather than noisy.
pub fn cold_start(count: f64, observed: f64, exposure: f64, a0: f64, b0: f64) -> CountModel {
    let r = a0 + count;
    CountModel {
        mu: r * exposure / (b0 + observed),
        r: Some(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALPHA: f64 = 1.0 / (90.0 * 96.0);

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for n in 1..20u32 {
            f *= n as f64;
            assert!((ln_gamma(n as f64 + 1.0) - f.ln()).abs() < 1e-10, "{n}");
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn poisson_tail_matches_reference() {
        // R: ppois(15, 10, lower.tail = FALSE) = 0.0487404
        let t = CountModel::poisson(10.0).tail(16);
        assert!((t - 0.048_740_4).abs() < 1e-6, "{t}");
        // R: ppois(33, 7.8, lower.tail = FALSE) = 2.1e-11 order; check monotone and tiny.
        assert!(CountModel::poisson(7.8).tail(34) < 1e-10);
    }

    #[test]
    fn nb_tail_matches_reference() {
        // R: pnbinom(23, size = 5, mu = 5, lower.tail = FALSE) = 0.0001277...
        let t = CountModel {
            mu: 5.0,
            r: Some(5.0),
        }
        .tail(24);
        assert!((t - 1.0e-4).abs() < 5e-5, "{t}");
        // NB with huge r converges to Poisson.
        let nb = CountModel {
            mu: 5.0,
            r: Some(1e9),
        }
        .tail(12);
        let p = CountModel::poisson(5.0).tail(12);
        assert!((nb - p).abs() < 1e-6);
    }

    #[test]
    fn threshold_table_of_the_design_note() {
        // design/alerting.md §3: μ per window → x* (Poisson, NB r = 5) at α = 1.16e-4.
        let table = [
            (0.1, 4, 4),
            (0.5, 6, 6),
            (2.0, 10, 13),
            (5.0, 16, 24),
            (10.0, 25, 42),
            (50.0, 79, 183),
        ];
        for (mu, poisson, nb) in table {
            assert_eq!(
                CountModel::poisson(mu).threshold(ALPHA),
                poisson,
                "Poisson μ={mu}"
            );
            assert_eq!(
                CountModel { mu, r: Some(5.0) }.threshold(ALPHA),
                nb,
                "NB μ={mu}"
            );
        }
    }

    #[test]
    fn cold_start_is_quiet() {
        // No history: P(X ≥ x) = 2^-x, so x* = 14.
        let m = cold_start(0.0, 0.0, 1.0, 1.0, 1.0);
        assert!((m.tail(3) - 0.125).abs() < 1e-12);
        assert_eq!(m.threshold(ALPHA), 14);
        // After 2 days with 10 mentions: mean 0.22, x* = 5.
        let m = cold_start(10.0, 48.0, 1.0, 1.0, 1.0);
        assert!((m.mu - 0.2245).abs() < 1e-3);
        assert_eq!(m.threshold(ALPHA), 5);
    }

    #[test]
    fn large_means_do_not_underflow() {
        let m = CountModel::poisson(2000.0);
        let x = m.threshold(ALPHA);
        assert!((2150..2200).contains(&x), "{x}");
    }

    proptest::proptest! {
        #[test]
        fn threshold_rises_with_mu_and_falls_with_alpha(mu in 0.01f64..200.0, d in 0.0f64..5.0, r in proptest::option::of(0.5f64..50.0)) {
            let a = CountModel { mu, r };
            let b = CountModel { mu: mu + d, r };
            proptest::prop_assert!(a.threshold(ALPHA) <= b.threshold(ALPHA));
            proptest::prop_assert!(a.threshold(ALPHA) >= a.threshold(ALPHA * 10.0));
        }
    }
}
