//! Seeded samplers for count streams: what the CUSUM calibration simulates and what the
//! statistical tests replay. No `rand_distr` for three samplers.

use rand::Rng;

/// Draws from Poisson(`mu`): inversion below 30, else a rounded normal (the tests and
/// the calibration only need the shape, and the normal is exact enough there).
pub fn poisson<R: Rng>(rng: &mut R, mu: f64) -> u32 {
    if mu <= 0.0 {
        return 0;
    }
    if mu < 30.0 {
        let l = (-mu).exp();
        let mut k = 0u32;
        let mut p = 1.0;
        loop {
            p *= rng.random::<f64>();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
    let z = normal(rng);
    (mu + z * mu.sqrt()).round().max(0.0) as u32
}

/// Draws a standard normal (Box–Muller).
pub fn normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Draws from Gamma(`shape`, scale 1) (Marsaglia–Tsang).
pub fn gamma<R: Rng>(rng: &mut R, shape: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.random::<f64>().max(1e-300);
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = rng.random();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// Draws from a negative binomial with mean `mu` and size `r` (a gamma-mixed Poisson);
/// `None` is Poisson.
pub fn count<R: Rng>(rng: &mut R, mu: f64, r: Option<f64>) -> u32 {
    match r {
        None => poisson(rng, mu),
        Some(r) => {
            let g = gamma(rng, r);
            poisson(rng, mu * g / r)
        }
    }
}
