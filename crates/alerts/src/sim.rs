//! Seeded samplers for count streams, and [`VolumeModel`], a generator of realistic
//! mention volume: what the statistical tests replay. No `rand_distr` for three samplers.

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

/// A generated mention-volume stream that looks like real volume: a daily and weekly
/// cycle, a day-to-day wobble of the level, hourly over-dispersion, bursts that come in
/// clusters with heavy-tailed sizes, level shifts and holidays. It gives the expected
/// count of each 5-minute bucket; counts are Poisson draws around it.
///
/// The shapes are ours and general (no data set's numbers), for the statistical tests
/// of the false-page budget.
#[derive(Clone, Debug)]
pub struct VolumeModel {
    /// Mean mentions per hour.
    pub per_hour: f64,
    /// Day peak over the daily mean (1 = flat); the peak is at 14:00.
    pub daily_peak: f64,
    /// Weekend level relative to weekdays.
    pub weekend: f64,
    /// Standard deviation of the day's log level (day-to-day wobble).
    pub day_wobble: f64,
    /// Hourly gamma mixing size (`None`: none).
    pub hourly_r: Option<f64>,
    /// Burst clusters per day.
    pub bursts_per_day: f64,
    /// Median excess of a burst's peak over the level (peak = level × (1 + excess));
    /// excesses are log-normal with `burst_spread`.
    pub burst_median: f64,
    /// Log-normal spread of the burst excess.
    pub burst_spread: f64,
    /// Chance that a burst is followed by another within a few hours.
    pub burst_cluster: f64,
    /// Level shifts: from this day on, the level is multiplied by the factor.
    pub shifts: Vec<(i64, f64)>,
    /// Holidays: these days run at this fraction of the level.
    pub holidays: Vec<(i64, f64)>,
}

/// A burst in a generated stream: starts at `start` (unix seconds), peaks at `peak`
/// times the level after `ramp` seconds and decays with half-life `half_life`.
#[derive(Clone, Copy, Debug)]
pub struct Burst {
    /// Start, unix seconds.
    pub start: i64,
    /// Excess at the peak (0.5 = 1.5× the level).
    pub excess: f64,
    /// Seconds from start to peak.
    pub ramp: i64,
    /// Seconds it stays at the peak.
    pub hold: i64,
    /// Half-life of the decay after the hold, seconds.
    pub half_life: i64,
}

impl Burst {
    /// The multiplier excess at time `t`.
    pub fn at(&self, t: i64) -> f64 {
        let dt = t - self.start;
        if dt < 0 {
            0.0
        } else if dt < self.ramp {
            self.excess * dt as f64 / self.ramp as f64
        } else if dt < self.ramp + self.hold {
            self.excess
        } else {
            let after = (dt - self.ramp - self.hold) as f64;
            self.excess * 0.5f64.powf(after / self.half_life.max(1) as f64)
        }
    }

    /// Whether it still adds more than 1% at `t`.
    pub fn active(&self, t: i64) -> bool {
        t >= self.start && (t < self.start + self.ramp + self.hold || self.at(t) > 0.01)
    }
}

impl VolumeModel {
    /// Draws the stream's routine bursts over `[from, to)`.
    pub fn bursts<R: Rng>(&self, rng: &mut R, from: i64, to: i64) -> Vec<Burst> {
        let mut out = Vec::new();
        if self.bursts_per_day <= 0.0 {
            return out;
        }
        let mut t = from as f64;
        let mean_gap = 86_400.0 / self.bursts_per_day;
        loop {
            t += -mean_gap * rng.random::<f64>().max(1e-12).ln();
            if t >= to as f64 {
                break;
            }
            let mut start = t as i64;
            loop {
                let excess = self.burst_median * (self.burst_spread * normal(rng)).exp();
                let half_life = (600.0 * (1.5 * normal(rng)).exp()).clamp(120.0, 6.0 * 3600.0);
                out.push(Burst {
                    start,
                    excess,
                    ramp: (rng.random::<f64>() * 1800.0) as i64,
                    hold: (rng.random::<f64>() * 900.0) as i64,
                    half_life: half_life as i64,
                });
                if rng.random::<f64>() >= self.burst_cluster {
                    break;
                }
                start += (1800.0 + rng.random::<f64>() * 4.0 * 3600.0) as i64;
            }
        }
        out.sort_by_key(|b| b.start);
        out
    }

    /// Draws one day's level wobble for each day in `[from, to)` (unix days).
    pub fn wobble<R: Rng>(&self, rng: &mut R, days: i64) -> Vec<f64> {
        (0..days.max(0))
            .map(|_| (self.day_wobble * normal(rng)).exp())
            .collect()
    }

    /// The expected count per hour at `t` without bursts or mixing: level, cycles,
    /// shifts and holidays (`day` counts from the stream's start).
    pub fn rate(&self, t: i64, day: i64) -> f64 {
        let hour = (t / 3600).rem_euclid(24) as f64;
        let weekday = (t / 86_400 + 3).rem_euclid(7); // day 0 of the epoch was a Thursday
        let amp = (self.daily_peak - 1.0) / (self.daily_peak + 1.0);
        let cycle = 1.0 + amp * (2.0 * std::f64::consts::PI * (hour - 14.0) / 24.0).cos();
        let weekend = if weekday >= 5 { self.weekend } else { 1.0 };
        let week_mean = (5.0 + 2.0 * self.weekend) / 7.0;
        let shift: f64 = self
            .shifts
            .iter()
            .filter(|(from, _)| day >= *from)
            .map(|(_, f)| f)
            .product();
        let holiday = self
            .holidays
            .iter()
            .find(|(d, _)| *d == day)
            .map_or(1.0, |(_, f)| *f);
        self.per_hour * cycle * weekend / week_mean * shift * holiday
    }
}
