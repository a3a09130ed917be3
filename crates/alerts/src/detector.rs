//! [`SpikeDetector`]: one stream's counts, its baseline and its firing decisions.
//!
//! Time is event time: a mention lands in the bucket of its `published_at` (its
//! `fetched_at` when the date lies more than 5 minutes in the future), and the
//! detector's clock is whatever the caller passes (the wall clock live, `fetched_at`
//! in a backtest), so live runs, imports and backtests agree.
//!
//! # The test
//!
//! A window of `x` counted authors against `μ` expected (the seasonal baseline) is
//! scored by its **residual** `z = ln((x + k)/(μ + k))`: the log ratio to the expected
//! count, smoothed by a pseudo-count `k` (the rule's `min_count`) so that two posts on a
//! silent night are not an infinite ratio. Mention volume is multiplicative noise on a
//! seasonal level, so the log ratio has the same spread at night and at noon.
//!
//! The firing level of `z` is the stream's own: [`crate::tail`] fits the peaks of the
//! residuals it saw, step by step over up to 8 weeks, and picks the level that would
//! have been crossed at the budget's rate (`budget: 1/90d`). The firing count is the
//! largest of
//! - the count at that level, `e^z*·(μ + k) − k`;
//! - the negative binomial `x*` at the budget's α (what a well-behaved stream needs
//!   anyway, and the only guide while the tail is young);
//! - the floors `min_count` and `min_ratio · μ`;
//! - while learning, a ratio floor: 6× in the first 3 days (no seasonality yet), 5×
//!   until a week of residuals exists.
//!
//! A new stream pages nothing in its first `warmup` (6 hours by default): its first
//! window says nothing about its rate.
//!
//! **Onset.** A window fires on the mention that tips it over the level, so the page
//! goes out as early as the evidence allows, and the SLA clock starts at the first
//! post of the run of above-expected buckets. Persistence comes from the 60-minute
//! window and the calibrated level, not from a second rule: we tried discounting a
//! window's busiest 5-minute bucket (a blip is not a wave), but feeds without dates put
//! a whole poll into the bucket of its fetch time, and a real wave delivered in one
//! poll would never page. Blips that are usual on a stream raise its own level instead.
//! A window is *quiet* (towards resolving) when its residual is within the stream's
//! usual range (its 90th percentile) and `x < 2μ`.
//!
//! **A new normal.** An incident open for 24 hours is a level shift, not a wave: the
//! baseline restarts its level from the incident's first hour with the hours' real
//! counts ([`SeasonalBaseline::restart_level`]), the windows turn quiet and the
//! incident resolves. Paging on a sustained shift therefore stops after 24 hours; a
//! shift down only makes the stream less sensitive until the 7-day level follows.
//! Day-of-week and hour-of-day patterns enter through the baseline's 168 factors.
//!
//! **Gaps.** A run of empty hours in which the baseline expected 20 or more is a gap
//! (source down, clock jump): its hours enter the baseline as no data and its steps
//! leave the residual history alone, so its end pages nothing.
//!
//! The budget is shared: with the CUSUM on, the window test gets two thirds, the CUSUM
//! ([`crate::cusum`]) one third.
//!
//! Costs: [`SpikeDetector::observe`] is O(1) (one bucket increment, one hash lookup for
//! the author, one compare against the firing count precomputed for the window);
//! [`SpikeDetector::advance`] does the per-step work (window sum, expected count,
//! threshold, one logarithm) once per step; the baseline and the tails refit once a
//! day. Memory: 4 bytes per step of residual history (64 KiB per stream for 8 weeks).

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lauscher_config::{AlertRule, CountUnit, RuleDefaults};
use lauscher_model::MentionSummary;
use serde::{Deserialize, Serialize};

use crate::baseline::HISTORY_HOURS;
use crate::baseline::SeasonalBaseline;
use crate::cusum::Cusum;
use crate::math::CountModel;
use crate::tail::{TailFit, TailHistory};

/// Ratio to the expected count a window needs in the first 3 days (no seasonality yet).
const COLD_RATIO_FLAT: f64 = 6.0;
/// Ratio a window needs until the stream has residuals of its own.
const COLD_RATIO: f64 = 5.0;
/// Days of residuals before the stream's own tail sets the level.
const MIN_TAIL_DAYS: f64 = 7.0;
/// Prior scale of the window residuals' peaks (about: each further 1.3× halves how
/// often a level is crossed).
const WINDOW_PRIOR_SCALE: f64 = 0.3;
/// Prior scale of the CUSUM's peaks.
const CUSUM_PRIOR_SCALE: f64 = 1.0;
/// Days of history before the CUSUM may alarm.
const CUSUM_DAYS: f64 = 14.0;
/// An incident open this long is a new normal (seconds).
const NEW_NORMAL_SECS: i64 = 24 * 3600;
/// Expected count over a run of empty hours that makes it a gap, not silence.
const GAP_EXPECTED: f64 = 20.0;
/// Share of the budget the window test takes when the CUSUM runs beside it.
const WINDOW_SHARE: f64 = 2.0 / 3.0;
/// Episodes closer than this are one page (an incident reopens within 2 hours).
const EPISODE_GAP_SECS: i64 = 2 * 3600;

/// The test statistic: `ln((x + k)/(μ + k))`.
pub fn residual(x: f64, mu: f64, k: f64) -> f64 {
    ((x + k) / (mu.max(0.0) + k)).ln()
}

/// The least count whose residual reaches `z`.
fn count_for(z: f64, mu: f64, k: f64) -> u32 {
    let x = z.exp() * (mu.max(0.0) + k) - k;
    if x.is_finite() {
        (x - 1e-9).ceil().clamp(0.0, u32::MAX as f64) as u32
    } else {
        u32::MAX
    }
}

/// Settings of one spike stream, from its rule.
#[derive(Clone, Debug)]
pub struct SpikeParams {
    /// Bucket width and evaluation step, seconds.
    pub step: i64,
    /// Buckets per window.
    pub window_steps: i64,
    /// How long a window accepts late mentions, seconds.
    pub lateness: i64,
    /// How long a new stream only learns, seconds.
    pub warmup: i64,
    /// Least count that fires.
    pub min_count: u32,
    /// Least ratio to the expected count that fires.
    pub min_ratio: f64,
    /// Per-test significance level.
    pub alpha: f64,
    /// Authors or mentions.
    pub unit: CountUnit,
    /// Whether the CUSUM runs.
    pub cusum: bool,
    /// Hours between false alarms the budget allows (the CUSUM's target ARL).
    pub budget_hours: f64,
    /// Seasonal shrinkage weight, weeks.
    pub kappa: f64,
    /// Time zone of the hour of week.
    pub tz: Tz,
}

impl SpikeParams {
    /// The settings of `rule`, with `defaults` filling what it leaves out.
    pub fn of(rule: &AlertRule, defaults: &RuleDefaults) -> SpikeParams {
        let budget = rule.budget(defaults);
        let step = rule.step.0.as_secs().max(1) as i64;
        SpikeParams {
            step,
            window_steps: (rule.window.0.as_secs() as i64 / step).max(1),
            lateness: rule.lateness.0.as_secs() as i64,
            warmup: rule.warmup.0.as_secs() as i64,
            min_count: rule.min_count.max(1),
            min_ratio: rule.min_ratio,
            alpha: budget.alpha(),
            unit: rule.count,
            cusum: rule.cusum,
            budget_hours: budget.per.as_secs_f64() / 3600.0 / budget.pages,
            kappa: rule.seasonal_shrink,
            tz: rule.timezone(defaults),
        }
    }

    /// The window length in seconds.
    pub fn window(&self) -> i64 {
        self.step * self.window_steps
    }
}

/// A mention quoted in an alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Mention id.
    pub id: String,
    /// Link.
    pub url: Option<String>,
    /// The start of the text.
    pub text: String,
    /// Author key.
    pub author: String,
    /// Followers, when known.
    pub reach: Option<u64>,
    /// Publication time.
    pub published_at: DateTime<Utc>,
}

impl Sample {
    /// Quotes `m`.
    pub fn of(m: &MentionSummary) -> Sample {
        Sample {
            id: m.id.to_string(),
            url: m.url.clone(),
            text: m.snippet.clone(),
            author: m.author_key.clone(),
            reach: m.reach,
            published_at: m.published_at,
        }
    }
}

/// The numbers behind an alert.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Counted in the window.
    pub observed: u32,
    /// Expected in the window.
    pub expected: f64,
    /// Negative binomial size, `None` for Poisson.
    pub dispersion: Option<f64>,
    /// `P(X ≥ observed)` under the model.
    pub p_value: f64,
    /// The count that fires in this window.
    pub threshold: u32,
    /// Window length in minutes.
    pub window_minutes: u32,
    /// Window start and end.
    pub window_start: i64,
    /// Window end (exclusive), unix seconds.
    pub window_end: i64,
    /// Distinct authors in the window.
    pub authors: u32,
    /// Distinct sources in the window.
    pub sources: u32,
    /// Frequent words and word pairs of the counted posts.
    pub phrases: Vec<String>,
    /// Up to five posts.
    pub samples: Vec<Sample>,
    /// The first post of the wave (the SLA clock starts here), unix seconds.
    pub first_post: i64,
    /// Which test fired: `window`, `cusum`, `influencer`, `sentiment_shift`, `source_health`.
    pub test: String,
    /// Free-form details of non-spike tests (net sentiment, failures, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
    /// How the stream's own history set the firing level (window and CUSUM tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Box<TailFit>>,
}

/// What a detector reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Signal {
    /// The stream is anomalous at `level`.
    Fire {
        /// Severity 1–3.
        level: u8,
        /// The numbers.
        evidence: Evidence,
    },
    /// A window completed without firing; `quiet` when `p > 0.2` and `x < 2μ`.
    Evaluated {
        /// Window end, unix seconds.
        at: i64,
        /// Whether it counts towards resolving.
        quiet: bool,
    },
}

/// Author and source keys by their 64-bit hash: the per-mention lookup hashes a string
/// once (xxh3) instead of SipHash over it on every probe.
pub(crate) type KeyMap<V = i64> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

pub(crate) fn key_hash(key: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key.as_bytes())
}

/// A hasher for keys that already are well-mixed 64-bit hashes.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Most counted mentions kept for samples and phrases.
const RECENT: usize = 200;

/// One stream's spike detection: window counts, baseline, CUSUM.
#[derive(Clone, Debug)]
pub struct SpikeDetector {
    p: SpikeParams,
    baseline: SeasonalBaseline,
    cusum: Cusum,
    /// Window residuals per step (winsorised at the firing level while firing).
    tail: TailHistory,
    fit: Option<TailFit>,
    /// Hourly residuals (their median centres the CUSUM) and the CUSUM's path.
    hour_residuals: TailHistory,
    cusum_path: TailHistory,
    cusum_fit: Option<TailFit>,
    centre: f64,
    hours_since_fit: i64,
    /// Expected count over the current run of empty hours.
    zero_expected: f64,
    /// When the open incident started (unix seconds), whether the level restarted for
    /// it, and the real counts of its closed hours.
    open_since: Option<i64>,
    rebased: bool,
    open_hours: Vec<(i64, f64)>,
    /// Counted per bucket, for buckets `first..first + counts.len()`.
    counts: VecDeque<u32>,
    /// Earliest publication time counted per bucket (`i64::MAX`: none).
    first_post: VecDeque<i64>,
    first: i64,
    /// The in-progress bucket; `None` before the first call.
    current: Option<i64>,
    /// Hash of the author key → last bucket it was counted in.
    authors: KeyMap,
    /// Hash of the source → last bucket it had a counted mention in.
    sources: KeyMap,
    recent: VecDeque<(i64, Sample)>,
    /// The next hour (index) to close into the baseline.
    next_hour: i64,
    /// Count and model of the in-progress window.
    x: u32,
    model: CountModel,
    thresholds: [u32; 3],
    signalled: u8,
    /// An incident is open on this stream: closed hours enter the baseline winsorised.
    incident_open: bool,
    /// When the stream started (unix seconds): empty hours before it are no data.
    started: i64,
}

impl SpikeDetector {
    /// A detector with no history.
    pub fn new(p: SpikeParams) -> SpikeDetector {
        let baseline = SeasonalBaseline::new(p.tz, p.kappa);
        let steps_per_day = 86_400.0 / p.step as f64;
        let steps = (HISTORY_HOURS as i64 * 3600 / p.step).max(1) as usize;
        let gap = (EPISODE_GAP_SECS / p.step).max(1) as usize;
        SpikeDetector {
            baseline,
            cusum: Cusum::default(),
            tail: TailHistory::new(steps, steps_per_day, gap),
            fit: None,
            hour_residuals: TailHistory::new(HISTORY_HOURS, 24.0, 2),
            cusum_path: TailHistory::new(HISTORY_HOURS, 24.0, 2),
            cusum_fit: None,
            centre: 0.0,
            hours_since_fit: 0,
            zero_expected: 0.0,
            open_since: None,
            rebased: false,
            open_hours: Vec::new(),
            counts: VecDeque::new(),
            first_post: VecDeque::new(),
            first: 0,
            current: None,
            authors: KeyMap::default(),
            sources: KeyMap::default(),
            recent: VecDeque::new(),
            next_hour: 0,
            x: 0,
            model: CountModel::poisson(0.0),
            thresholds: [u32::MAX; 3],
            signalled: 0,
            incident_open: false,
            started: 0,
            p,
        }
    }

    /// The settings.
    pub fn params(&self) -> &SpikeParams {
        &self.p
    }

    /// Tells the detector whether an incident is open (its hours enter the baseline
    /// winsorised at the firing count).
    pub fn set_incident_open(&mut self, open: bool) {
        if open && !self.incident_open {
            self.open_since = self.current.map(|c| c * self.p.step);
            self.rebased = false;
            self.open_hours.clear();
        }
        if !open {
            self.open_since = None;
            self.open_hours.clear();
        }
        self.incident_open = open;
    }

    /// The window test's calibration, once the stream has residuals of its own.
    pub fn calibration(&self) -> Option<&TailFit> {
        self.fit
            .as_ref()
            .filter(|_| self.tail.days() >= MIN_TAIL_DAYS)
    }

    /// The CUSUM's calibration, once it may alarm.
    pub fn cusum_calibration(&self) -> Option<&TailFit> {
        self.cusum_fit
            .as_ref()
            .filter(|_| self.p.cusum && self.cusum_path.days() >= CUSUM_DAYS)
    }

    fn pseudo(&self) -> f64 {
        self.p.min_count.max(1) as f64
    }

    fn budget_per_day(&self) -> f64 {
        24.0 / self.p.budget_hours.max(1.0)
    }

    fn refit_tails(&mut self) {
        self.hours_since_fit = 0;
        let per_day = self.budget_per_day();
        let share = if self.p.cusum { WINDOW_SHARE } else { 1.0 };
        self.fit = self.tail.fit(per_day * share, WINDOW_PRIOR_SCALE);
        if self.p.cusum {
            self.centre = self.hour_residuals.quantile(0.5).unwrap_or(0.0);
            self.cusum_fit = self
                .cusum_path
                .fit(per_day * (1.0 - share), CUSUM_PRIOR_SCALE);
        }
    }

    /// The count so far in the in-progress window and the count that fires it.
    pub fn window_state(&self) -> (u32, u32, f64) {
        (self.x, self.thresholds[0], self.model.mu)
    }

    fn bucket_of(&self, m: &MentionSummary) -> i64 {
        let published = m.published_at.timestamp();
        let fetched = m.fetched_at.timestamp();
        let t = if published > fetched + 300 {
            fetched
        } else {
            published
        };
        t.div_euclid(self.p.step)
    }

    fn start(&mut self, now_bucket: i64) {
        self.current = Some(now_bucket);
        self.started = now_bucket * self.p.step;
        // Mentions published up to a window plus the lateness before the first call
        // still count (a stream starts with the mention that creates it).
        let lookback = self.p.window_steps + self.p.lateness / self.p.step;
        self.first = now_bucket - lookback;
        let len = lookback as usize + 1;
        self.counts = VecDeque::from(vec![0; len]);
        self.first_post = VecDeque::from(vec![i64::MAX; len]);
        self.next_hour = (self.first * self.p.step).div_euclid(3600);
        self.prepare_window(now_bucket);
    }

    fn count_at(&self, b: i64) -> u32 {
        if b < self.first {
            return 0;
        }
        self.counts
            .get((b - self.first) as usize)
            .copied()
            .unwrap_or(0)
    }

    fn window_sum(&self, end_bucket: i64) -> u32 {
        (end_bucket - self.p.window_steps + 1..=end_bucket)
            .map(|b| self.count_at(b))
            .sum()
    }

    fn model_for(&self, end_bucket: i64) -> CountModel {
        let end = (end_bucket + 1) * self.p.step;
        self.baseline
            .window_model(end - self.p.window(), end, self.p.step)
    }

    fn thresholds_for(&self, model: &CountModel) -> [u32; 3] {
        if self
            .current
            .is_some_and(|c| (c + 1) * self.p.step - self.started < self.p.warmup)
        {
            return [u32::MAX; 3];
        }
        let learned = match self.calibration() {
            Some(fit) => count_for(fit.level, model.mu, self.pseudo()),
            None if self.baseline.is_cold() => (COLD_RATIO_FLAT * model.mu).ceil() as u32,
            None => (COLD_RATIO * model.mu).ceil() as u32,
        };
        let t1 = self.parametric_threshold(model).max(learned);
        // Levels 2 and 3 need 5× and 10× the expected count (design/alerting.md §8)
        // and, on quiet streams where that is trivially met, twice and four times the
        // firing count: five complaints on a silent topic are a watch, not a page.
        let t2 = t1.max((5.0 * model.mu).ceil() as u32).max(2 * t1);
        let t3 = t2.max((10.0 * model.mu).ceil() as u32).max(4 * t1).max(20);
        [t1, t2, t3]
    }

    /// The model's own firing count: the NB test at the budget's α and the floors.
    fn parametric_threshold(&self, model: &CountModel) -> u32 {
        model
            .threshold(self.p.alpha)
            .max(self.p.min_count)
            .max((self.p.min_ratio * model.mu).ceil() as u32)
    }

    fn prepare_window(&mut self, end_bucket: i64) {
        self.x = self.window_sum(end_bucket);
        self.model = self.model_for(end_bucket);
        self.thresholds = self.thresholds_for(&self.model);
        self.signalled = self.level_of(self.x, end_bucket);
    }

    fn sources_in(&self, end_bucket: i64) -> u32 {
        let start = end_bucket - self.p.window_steps + 1;
        self.sources.values().filter(|&&b| b >= start).count() as u32
    }

    fn level_of(&self, x: u32, end_bucket: i64) -> u8 {
        let t = &self.thresholds;
        if x < t[0] {
            0
        } else if x < t[1] {
            1
        } else if x < t[2] || self.sources_in(end_bucket) < 2 {
            2
        } else {
            3
        }
    }

    /// Moves the clock to `now` (unix seconds), evaluating every window that completed
    /// since the last call and closing hours into the baseline.
    pub fn advance(&mut self, now: i64) -> Vec<Signal> {
        let target = now.div_euclid(self.p.step);
        let Some(mut current) = self.current else {
            self.start(target);
            return Vec::new();
        };
        let mut out = Vec::new();
        while current < target {
            // The window ending with bucket `current` is complete.
            let x = self.window_sum(current);
            let model = self.model_for(current);
            let thresholds = self.thresholds_for(&model);
            if x >= thresholds[0] {
                let level = self.level_of(x, current);
                // A window still firing at a level already signalled only updates the
                // numbers: no quoting posts or counting phrases (the incident keeps
                // those of its last notification).
                let evidence = if level > self.signalled {
                    self.evidence(current, x, &model, thresholds[0], "window")
                } else {
                    self.numbers(current, x, &model, thresholds[0], "window")
                };
                out.push(Signal::Fire { level, evidence });
            }
            let z = residual(x as f64, model.mu, self.pseudo());
            let usual = match self.calibration() {
                Some(fit) => z <= fit.quiet,
                None => model.tail(x) > 0.2,
            };
            out.push(Signal::Evaluated {
                at: (current + 1) * self.p.step,
                quiet: usual && (x as f64) < 2.0 * model.mu.max(0.5),
            });
            if !self.baseline.is_cold() && self.zero_expected < GAP_EXPECTED {
                let firing = x >= thresholds[0] || self.incident_open;
                let cap = residual(thresholds[0] as f64, model.mu, self.pseudo());
                self.tail.push(if firing { z.min(cap) } else { z });
            }
            current += 1;
            self.counts.push_back(0);
            self.first_post.push_back(i64::MAX);
            self.current = Some(current);
            self.close_hours(current * self.p.step, &mut out);
            self.prune(current);
            // Jumping over a long gap (a restart after days): skip empty steps fast.
            if target - current > self.p.window_steps + 1
                && self.x == 0
                && self.window_sum(current) == 0
            {
                let skip_to = target - self.p.window_steps - 1;
                if skip_to > current {
                    for _ in current..skip_to {
                        self.counts.push_back(0);
                        self.first_post.push_back(i64::MAX);
                    }
                    current = skip_to;
                    self.current = Some(current);
                    self.close_hours(current * self.p.step, &mut out);
                    self.prune(current);
                }
            }
            self.prepare_window(current);
        }
        out
    }

    fn close_hours(&mut self, now: i64, out: &mut Vec<Signal>) {
        while (self.next_hour + 1) * 3600 + self.p.lateness <= now {
            let hour = self.next_hour;
            let (start, end) = (hour * 3600, (hour + 1) * 3600);
            let mut x: u32 = 0;
            let mut b = start.div_euclid(self.p.step);
            while b * self.p.step < end {
                if b * self.p.step >= start {
                    x += self.count_at(b);
                }
                b += 1;
            }
            let mu = self.baseline.hourly_rate(hour);
            let warm = !self.baseline.is_cold();
            if x == 0 && warm {
                self.zero_expected += mu;
            } else {
                self.zero_expected = 0.0;
            }
            // Empty hours before the stream started are no data, not silence.
            let gap = self.zero_expected >= GAP_EXPECTED || (x == 0 && end <= self.started);
            let mut counted = x as f64;
            let mut restart = None;
            if self.incident_open {
                self.open_hours.push((hour, x as f64));
                let since = self.open_since.unwrap_or(now);
                if now - since >= NEW_NORMAL_SECS && !self.rebased {
                    restart = Some(since.div_euclid(3600));
                } else if !self.rebased {
                    let hourly = self.baseline.window_model(start, end, self.p.step);
                    counted = counted.min(self.thresholds_for(&hourly)[0] as f64);
                }
            }
            self.baseline
                .close_hour(hour, if gap { f64::NAN } else { counted });
            self.next_hour += 1;
            if let Some(from) = restart {
                // A new normal: the incident's hours count as they were.
                self.rebased = true;
                self.baseline.restart_level(from, &self.open_hours);
            }
            if warm && !gap {
                self.close_cusum_hour(hour, x, mu, out);
            }
            self.hours_since_fit += 1;
            if self.hours_since_fit >= 24
                || (self.fit.is_none() && self.tail.days() >= MIN_TAIL_DAYS)
            {
                self.refit_tails();
            }
        }
    }

    fn close_cusum_hour(&mut self, hour: i64, x: u32, mu: f64, out: &mut Vec<Signal>) {
        if !self.p.cusum {
            return;
        }
        let z = residual(x as f64, mu, self.pseudo());
        self.hour_residuals.push(z);
        let s = self.cusum.observe(z - self.centre);
        let level = self.cusum_calibration().map(|f| f.level);
        let alarm = level.is_some_and(|h| s >= h);
        self.cusum_path.push(match level {
            Some(h) if self.incident_open || alarm => s.min(h),
            _ => s,
        });
        if self.incident_open {
            self.cusum.reset();
        } else if alarm {
            self.cusum.reset();
            let (start, end) = (hour * 3600, (hour + 1) * 3600);
            let end_bucket = (end - 1).div_euclid(self.p.step);
            let model = CountModel::poisson(mu);
            let mut evidence = self.evidence(end_bucket, x, &model, 0, "cusum");
            evidence.window_start = start;
            evidence.window_end = end;
            evidence.window_minutes = 60;
            evidence.calibration = self.cusum_calibration().map(|f| Box::new(*f));
            out.push(Signal::Fire { level: 1, evidence });
        }
    }

    fn prune(&mut self, current: i64) {
        let keep_from = (current - self.p.window_steps - self.p.lateness / self.p.step - 1)
            .min((self.next_hour * 3600).div_euclid(self.p.step));
        while self.first < keep_from && !self.counts.is_empty() {
            self.counts.pop_front();
            self.first_post.pop_front();
            self.first += 1;
        }
        // Authors and sources older than a window no longer matter; prune rarely.
        if self.authors.len() > 4096 && current % self.p.window_steps == 0 {
            let cutoff = current - 2 * self.p.window_steps;
            self.authors.retain(|_, b| *b >= cutoff);
            self.sources.retain(|_, b| *b >= cutoff);
        }
    }

    /// Counts `m` (after [`advance`](Self::advance) to the current time); returns a
    /// firing signal when it tips a window over its threshold.
    pub fn observe(&mut self, m: &MentionSummary) -> Option<Signal> {
        let current = match self.current {
            Some(c) => c,
            None => {
                let b = m.fetched_at.timestamp().div_euclid(self.p.step);
                self.start(b);
                b
            }
        };
        let b = self.bucket_of(m).min(current);
        if b < self.first {
            return None;
        }
        let author = key_hash(&m.author_key);
        if self.p.unit == CountUnit::Authors {
            match self.authors.get_mut(&author) {
                Some(last) if (b - *last).abs() < self.p.window_steps => return None,
                Some(last) => *last = (*last).max(b),
                None => {
                    self.authors.insert(author, b);
                }
            }
        } else {
            let last = self.authors.entry(author).or_insert(b);
            *last = (*last).max(b);
        }
        let i = (b - self.first) as usize;
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        if let Some(f) = self.first_post.get_mut(i) {
            *f = (*f).min(m.published_at.timestamp());
        }
        let last = self.sources.entry(key_hash(&m.source)).or_insert(b);
        *last = (*last).max(b);
        // Samples are only needed when a window fires: copy posts once the window is
        // at least half way to firing, so quiet streams stay allocation-free.
        if 2 * (self.x + 1) >= self.thresholds[0] || b <= current - self.p.window_steps {
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back((b, Sample::of(m)));
        }
        let lateness_steps = self.p.lateness / self.p.step;
        if b > current - self.p.window_steps {
            self.x += 1;
            if self.x >= self.thresholds[self.signalled.min(2) as usize] {
                let level = self.level_of(self.x, current);
                if level > self.signalled {
                    self.signalled = level;
                    let model = self.model;
                    return Some(Signal::Fire {
                        level,
                        evidence: self.evidence(
                            current,
                            self.x,
                            &model,
                            self.thresholds[0],
                            "window",
                        ),
                    });
                }
            }
            None
        } else if b >= current - self.p.window_steps - lateness_steps {
            // A late mention: re-check the completed windows that hold it.
            let last = (b + self.p.window_steps - 1).min(current - 1);
            for end in b..=last {
                if end + self.p.window_steps + lateness_steps < current {
                    continue;
                }
                let x = self.window_sum(end);
                let model = self.model_for(end);
                let t = self.thresholds_for(&model);
                if x == t[0] {
                    let level = self.level_of(x, end);
                    return Some(Signal::Fire {
                        level,
                        evidence: self.evidence(end, x, &model, t[0], "window"),
                    });
                }
            }
            None
        } else {
            None
        }
    }

    /// The numbers of a window, without posts and phrases.
    fn numbers(
        &self,
        end_bucket: i64,
        x: u32,
        model: &CountModel,
        threshold: u32,
        test: &str,
    ) -> Evidence {
        let start_bucket = end_bucket - self.p.window_steps + 1;
        Evidence {
            observed: x,
            expected: model.mu,
            dispersion: model.r,
            p_value: model.tail(x),
            threshold,
            window_minutes: (self.p.window() / 60) as u32,
            window_start: start_bucket * self.p.step,
            window_end: (end_bucket + 1) * self.p.step,
            sources: self.sources_in(end_bucket),
            first_post: start_bucket * self.p.step,
            test: test.into(),
            calibration: self.calibration().map(|f| Box::new(*f)),
            ..Evidence::default()
        }
    }

    fn evidence(
        &self,
        end_bucket: i64,
        x: u32,
        model: &CountModel,
        threshold: u32,
        test: &str,
    ) -> Evidence {
        let mut evidence = self.numbers(end_bucket, x, model, threshold, test);
        let start_bucket = end_bucket - self.p.window_steps + 1;
        let in_window: Vec<&Sample> = self
            .recent
            .iter()
            .filter(|(b, _)| (start_bucket..=end_bucket).contains(b))
            .map(|(_, s)| s)
            .collect();
        let mut samples: Vec<Sample> = in_window
            .iter()
            .rev()
            .take(5)
            .map(|s| (*s).clone())
            .collect();
        samples.reverse();
        // The wave starts at the earliest bucket of the run of above-expected buckets
        // ending in this one.
        let per_bucket = model.mu / self.p.window_steps as f64;
        let mut b = end_bucket;
        let mut wave = None;
        while b >= self.first && (self.count_at(b) as f64) > per_bucket && self.count_at(b) > 0 {
            wave = Some(b);
            b -= 1;
        }
        let first_post = wave
            .and_then(|w| self.first_post.get((w - self.first) as usize).copied())
            .filter(|&t| t != i64::MAX)
            .or_else(|| in_window.iter().map(|s| s.published_at.timestamp()).min())
            .unwrap_or(evidence.window_start);
        evidence.authors = self
            .authors
            .values()
            .filter(|&&b| (start_bucket..=end_bucket).contains(&b))
            .count() as u32;
        // The newest 60 posts tell what a wave is about; more only costs.
        evidence.phrases =
            crate::phrases::top(in_window.iter().rev().take(60).map(|s| s.text.as_str()), 5);
        evidence.samples = samples;
        evidence.first_post = first_post;
        evidence
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use lauscher_model::MentionId;

    fn params() -> SpikeParams {
        SpikeParams {
            step: 300,
            window_steps: 12,
            lateness: 1800,
            warmup: 0,
            min_count: 5,
            min_ratio: 3.0,
            alpha: 1.0 / (90.0 * 96.0),
            unit: CountUnit::Authors,
            cusum: false,
            budget_hours: 2160.0,
            kappa: 32.0,
            tz: chrono_tz::UTC,
        }
    }

    fn mention(author: &str, t: i64) -> MentionSummary {
        MentionSummary {
            id: MentionId::from_key(&format!("{author}{t}")),
            source: "s".into(),
            author_key: author.into(),
            snippet: format!("Zug verspätet wieder {author}"),
            reply_to: None,
            address: None,
            ..lauscher_testkit::summary(0, t)
        }
    }

    #[test]
    fn a_fresh_stream_needs_fourteen_authors() {
        let mut d = SpikeDetector::new(params());
        let t0 = 1_767_225_600;
        d.advance(t0);
        let mut fired = None;
        for i in 0..20 {
            if let Some(Signal::Fire { evidence, .. }) =
                d.observe(&mention(&format!("a{i}"), t0 + i))
            {
                fired.get_or_insert(evidence.observed);
            }
        }
        assert_eq!(fired, Some(14));
    }

    #[test]
    fn reposts_by_one_author_count_once() {
        let mut d = SpikeDetector::new(params());
        let t0 = 1_767_225_600;
        d.advance(t0);
        for i in 0..30 {
            assert_eq!(d.observe(&mention("same", t0 + i)), None);
        }
        assert_eq!(d.window_state().0, 1);
    }
}
