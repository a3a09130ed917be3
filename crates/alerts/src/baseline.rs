//! The expected count of a window: a seasonal baseline over hourly history.
//!
//! `μ = Σ_{buckets} L · f(hour of week) · bucket/1h` where
//! - `f` are 168 hour-of-week factors from up to 8 weeks, each shrunk towards the
//!   hour-of-day profile times a day-of-week factor: `f_h = (n·f̂_h + κ·f_dow·f_hod)/(n+κ)`
//!   with `n` the weeks seen for slot `h` (κ = 32 by default: slot noise tripled false
//!   alarms at κ = 4 in our simulation);
//! - the level `L = EWMA(x)/EWMA(f)` with a 7-day half-life (dividing each night hour
//!   by its small factor would explode);
//! - over-dispersion `r̂ = Σμ²/Σ[(x−μ)²−μ]` over 4 weeks (Poisson when the denominator
//!   is not positive).
//!
//! With under 3 days of history the model is the Gamma–Poisson predictive of
//! [`crate::math::cold_start`], without seasonality; from 3 days on the hour-of-day
//! profile is shrunk towards flat with a weight of 2 days and each day of the week
//! with a weight of one day, so a few noisy days do not make an hour look empty and a
//! weekday not seen yet is not a silent one. Hours of open incidents enter the history winsorised at the
//! firing count, so a shitstorm does not teach the baseline that shitstorms are normal.
//!
//! **Gaps** (a source down for a day, a clock that jumps) are hours *without data*
//! (`NaN`), not zero counts: they enter neither level, factors nor dispersion, so the
//! end of a gap does not meet a baseline that learned silence.
//!
//! **A new normal** (a level shift after a launch) is learned by
//! [`SeasonalBaseline::restart_level`]: the level is then the EWMA of the hours since
//! the shift only, so the detector stops paging on it (see [`crate::detector`] for
//! when). Refitting costs one pass over 1,344 hours; it runs once a day (the level moves
//! by under 10% a day at a 7-day half-life).

use std::collections::VecDeque;

use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::math::{CountModel, cold_start};

/// Hours of history kept: 8 weeks.
pub const HISTORY_HOURS: usize = 8 * 168;
/// History below this is a cold start.
pub const COLD_HOURS: i64 = 3 * 24;
/// Weight, in days, of a flat profile against the observed hour-of-day profile.
const HOD_PRIOR_DAYS: f64 = 2.0;
/// Weight, in hours, of a flat week against the observed day-of-week factors (a day
/// of the week not seen yet is not an empty day).
const DOW_PRIOR_HOURS: f64 = 24.0;
/// Fewest hours since a level restart that define the new level.
const MIN_LEVEL_HOURS: usize = 12;
/// Hours over which dispersion is estimated: 4 weeks.
const DISPERSION_HOURS: usize = 4 * 168;
/// Level half-life in hours: 7 days.
const HALF_LIFE_HOURS: f64 = 168.0;
/// Refit the seasonal model after this many closed hours.
const REFIT_HOURS: i64 = 24;
/// Prior shape and rate (per hour) of the cold-start Gamma.
const PRIOR: (f64, f64) = (1.0, 1.0);

/// The hour of week (Monday 00:00 = 0) of the hour starting at `hour · 3600` in `tz`.
pub fn hour_of_week(tz: Tz, hour: i64) -> usize {
    match tz.timestamp_opt(hour * 3600, 0).single() {
        Some(t) => t.weekday().num_days_from_monday() as usize * 24 + t.hour() as usize,
        None => 0,
    }
}

/// Hourly history and the seasonal model fitted to it.
#[derive(Clone, Debug)]
pub struct SeasonalBaseline {
    tz: Tz,
    kappa: f64,
    /// Closed hourly counts, oldest first; `hours[0]` is hour `first_hour`.
    hours: VecDeque<f64>,
    first_hour: i64,
    /// Closed hours since the stream began (exposure), and their total count.
    exposure: i64,
    total: f64,
    /// Exposure at the last refit.
    fitted_at: i64,
    level: f64,
    factors: [f64; 168],
    dispersion: Option<f64>,
    /// Hour of week of `first_hour`, so slots need no time-zone lookup per hour.
    slot_cache: Vec<u8>,
    /// The level counts only hours from this one on (a level shift), when set.
    level_from: Option<i64>,
}

impl SeasonalBaseline {
    /// An empty history in `tz`, shrinking slots with weight `kappa` weeks.
    pub fn new(tz: Tz, kappa: f64) -> SeasonalBaseline {
        SeasonalBaseline {
            tz,
            kappa,
            hours: VecDeque::with_capacity(HISTORY_HOURS),
            first_hour: 0,
            exposure: 0,
            total: 0.0,
            fitted_at: -REFIT_HOURS,
            level: 0.0,
            factors: [1.0; 168],
            dispersion: None,
            slot_cache: Vec::new(),
            level_from: None,
        }
    }

    /// Whether the history is still shorter than 14 days.
    pub fn is_cold(&self) -> bool {
        self.exposure < COLD_HOURS
    }

    /// The fitted over-dispersion (hourly NB size), `None` when Poisson.
    pub fn dispersion(&self) -> Option<f64> {
        self.dispersion
    }

    /// Appends the count of the hour starting at `hour · 3600` (`NaN`: no data, a gap);
    /// hours skipped since the last one count as zero.
    pub fn close_hour(&mut self, hour: i64, count: f64) {
        if self.hours.is_empty() && self.exposure == 0 {
            self.first_hour = hour;
        }
        let next = self.first_hour + self.hours.len() as i64;
        if hour < next {
            return;
        }
        for _ in next..hour {
            self.push(0.0);
        }
        self.push(count);
        if !self.is_cold() && self.exposure - self.fitted_at >= REFIT_HOURS {
            self.refit();
        }
    }

    fn push(&mut self, count: f64) {
        if self.hours.len() == HISTORY_HOURS {
            self.hours.pop_front();
            self.first_hour += 1;
        }
        self.hours.push_back(count);
        if !count.is_nan() {
            self.exposure += 1;
            self.total += count;
        }
    }

    /// Learns a new normal: from now on the level is the EWMA of the hours since
    /// `from_hour` only, with `counts` (hour, real count) replacing what entered the
    /// history winsorised, and the model is refitted at once.
    pub fn restart_level(&mut self, from_hour: i64, counts: &[(i64, f64)]) {
        for &(hour, x) in counts {
            let i = hour - self.first_hour;
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| self.hours.get_mut(i))
                && !slot.is_nan()
            {
                self.total += x - *slot;
                *slot = x;
            }
        }
        self.level_from = Some(from_hour);
        if !self.is_cold() {
            self.refit();
        }
    }

    fn slot(&self, hour: i64) -> usize {
        let base = hour.rem_euclid(168) as usize;
        match self.slot_cache.get(base) {
            Some(&s) => s as usize,
            None => hour_of_week(self.tz, hour),
        }
    }

    /// Refits factors, level and dispersion from the history.
    pub fn refit(&mut self) {
        self.fitted_at = self.exposure;
        // Offsets between UTC hours and local hours of week change only with DST, so a
        // cache keyed by hour mod 168 refreshed at each refit is exact between changes.
        let start = self.first_hour + self.hours.len() as i64;
        let mut cache = vec![0u8; 168];
        for h in start..start + 168 {
            cache[h.rem_euclid(168) as usize] = hour_of_week(self.tz, h) as u8;
        }
        // History hours may sit on the other side of a DST change; look those up.
        let n = self.hours.len();
        let slots: Vec<usize> = (0..n)
            .map(|i| hour_of_week(self.tz, self.first_hour + i as i64))
            .collect();
        self.slot_cache = cache;
        if n == 0 {
            return;
        }
        let known = self.hours.iter().filter(|x| !x.is_nan()).count();
        let mean = self.hours.iter().filter(|x| !x.is_nan()).sum::<f64>() / known.max(1) as f64;
        if mean <= 0.0 {
            self.factors = [1.0; 168];
            self.level = 0.0;
            self.dispersion = None;
            return;
        }
        let (mut slot_sum, mut slot_n) = ([0.0f64; 168], [0.0f64; 168]);
        let (mut hod_sum, mut hod_n) = ([0.0f64; 24], [0.0f64; 24]);
        let (mut dow_sum, mut dow_n) = ([0.0f64; 7], [0.0f64; 7]);
        for (x, &s) in self.hours.iter().zip(&slots) {
            if x.is_nan() {
                continue;
            }
            slot_sum[s] += x;
            slot_n[s] += 1.0;
            hod_sum[s % 24] += x;
            hod_n[s % 24] += 1.0;
            dow_sum[s / 24] += x;
            dow_n[s / 24] += 1.0;
        }
        let ratio = |sum: f64, n: f64| if n > 0.0 { sum / n / mean } else { 1.0 };
        let hod = |h: usize| {
            let n = hod_n[h];
            (n * ratio(hod_sum[h], n) + HOD_PRIOR_DAYS) / (n + HOD_PRIOR_DAYS)
        };
        let dow = |d: usize| {
            let n = dow_n[d];
            (n * ratio(dow_sum[d], n) + DOW_PRIOR_HOURS) / (n + DOW_PRIOR_HOURS)
        };
        for s in 0..168 {
            let target = dow(s / 24) * hod(s % 24);
            let own = ratio(slot_sum[s], slot_n[s]);
            let n = slot_n[s];
            self.factors[s] = (n * own + self.kappa * target) / (n + self.kappa);
        }
        let decay = 0.5f64.powf(1.0 / HALF_LIFE_HOURS);
        let (mut wx, mut wf, mut w) = (0.0, 0.0, 1.0);
        // After a level shift only the hours since count, once there are enough.
        let since = self
            .level_from
            .map_or(0, |h| (h - self.first_hour).clamp(0, n as i64) as usize);
        let since = if n - since >= MIN_LEVEL_HOURS {
            since
        } else {
            0
        };
        for (x, &s) in self.hours.iter().zip(&slots).skip(since).rev() {
            if x.is_nan() {
                continue;
            }
            wx += w * x;
            wf += w * self.factors[s];
            w *= decay;
        }
        self.level = if wf > 0.0 { wx / wf } else { 0.0 };
        let (mut num, mut den) = (0.0, 0.0);
        let skip = n.saturating_sub(DISPERSION_HOURS);
        for (x, &s) in self.hours.iter().zip(&slots).skip(skip.max(since)) {
            if x.is_nan() {
                continue;
            }
            let mu = self.level * self.factors[s];
            num += mu * mu;
            den += (x - mu) * (x - mu) - mu;
        }
        self.dispersion = (den > 0.0 && num > 0.0).then(|| (num / den).max(0.05));
    }

    /// The expected hourly rate for the hour starting at `hour · 3600`.
    pub fn hourly_rate(&self, hour: i64) -> f64 {
        if self.is_cold() {
            return (PRIOR.0 + self.total) / (PRIOR.1 + self.exposure as f64);
        }
        self.level * self.factors[self.slot(hour)]
    }

    /// The count model of the window `[start, end)` (unix seconds) counted in buckets
    /// of `bucket` seconds.
    pub fn window_model(&self, start: i64, end: i64, bucket: i64) -> CountModel {
        let hours = (end - start) as f64 / 3600.0;
        if self.is_cold() {
            return cold_start(self.total, self.exposure as f64, hours, PRIOR.0, PRIOR.1);
        }
        let mut mu = 0.0;
        let mut t = start;
        while t < end {
            mu += self.hourly_rate(t.div_euclid(3600)) * bucket as f64 / 3600.0;
            t += bucket;
        }
        // A quiet stream's estimate can reach 0; keep the prior's floor so one post is
        // not infinitely surprising (the count floor decides there anyway).
        let floor = PRIOR.0 * hours / (PRIOR.1 + self.exposure as f64);
        CountModel {
            mu: mu.max(floor),
            // Sizes of independent NB counts with a common p add up.
            r: self.dispersion.map(|r| r * hours.max(1e-3)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_start_then_seasonal_level() {
        let mut b = SeasonalBaseline::new(chrono_tz::Europe::Berlin, 32.0);
        assert!(b.is_cold());
        let m = b.window_model(0, 3600, 300);
        assert!((m.mu - 1.0).abs() < 1e-9, "{m:?}");
        let start = 1_767_225_600 / 3600; // 2026-01-01
        for h in 0..(21 * 24) {
            b.close_hour(start + h, 5.0);
        }
        assert!(!b.is_cold());
        let m = b.window_model((start + 600) * 3600, (start + 601) * 3600, 300);
        assert!((m.mu - 5.0).abs() < 0.05, "{m:?}");
        assert_eq!(m.r, None, "constant counts are not over-dispersed");
    }

    #[test]
    fn hour_of_week_follows_berlin_dst() {
        // 2026-07-06 is a Monday; 08:00 UTC is 10:00 in Berlin (CEST).
        let hour = 1_783_296_000 / 3600 + 8;
        assert_eq!(hour_of_week(chrono_tz::Europe::Berlin, hour), 10);
        assert_eq!(hour_of_week(chrono_tz::UTC, hour), 8);
    }
}
