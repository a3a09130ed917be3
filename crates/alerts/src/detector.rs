//! [`SpikeDetector`]: one stream's counts, its baseline and its firing decisions.
//!
//! Time is event time: a mention lands in the bucket of its `published_at` (its
//! `fetched_at` when the date lies more than 5 minutes in the future), and the
//! detector's clock is whatever the caller passes (the wall clock live, `fetched_at`
//! in a backtest), so live runs, imports and backtests agree.
//!
//! Costs: [`SpikeDetector::observe`] is O(1) (one bucket increment, one hash lookup for
//! the author, one compare against the firing count precomputed for the window);
//! [`SpikeDetector::advance`] does the per-step work (window sum, expected count,
//! threshold) once per step, and the baseline refits once a day.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lauscher_model::MentionSummary;
use lauscher_rules::{AlertRule, CountUnit, RuleDefaults};
use serde::{Deserialize, Serialize};

use crate::baseline::SeasonalBaseline;
use crate::cusum::{self, Cusum};
use crate::math::CountModel;

/// Settings of one spike stream, from its rule.
#[derive(Clone, Debug)]
pub struct SpikeParams {
    /// Bucket width and evaluation step, seconds.
    pub step: i64,
    /// Buckets per window.
    pub window_steps: i64,
    /// How long a window accepts late mentions, seconds.
    pub lateness: i64,
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
            min_count: rule.min_count.max(1),
            min_ratio: rule.min_ratio,
            alpha: budget.alpha(),
            unit: rule.count,
            cusum: rule.cusum,
            budget_hours: budget.per.as_secs_f64() / 3600.0 / budget.pages,
            kappa: rule.seasonal_shrink,
            tz: rule
                .timezone(defaults)
                .parse()
                .unwrap_or(chrono_tz::Europe::Berlin),
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
    cusum: Option<Cusum>,
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
}

impl SpikeDetector {
    /// A detector with no history.
    pub fn new(p: SpikeParams) -> SpikeDetector {
        let baseline = SeasonalBaseline::new(p.tz, p.kappa);
        SpikeDetector {
            baseline,
            cusum: None,
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
        self.incident_open = open;
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
        let t1 = model
            .threshold(self.p.alpha)
            .max(self.p.min_count)
            .max((self.p.min_ratio * model.mu).ceil() as u32);
        // Levels 2 and 3 need 5× and 10× the expected count (design/alerting.md §8)
        // and, on quiet streams where that is trivially met, twice and four times the
        // firing count: five complaints on a silent topic are a watch, not a page.
        let t2 = t1.max((5.0 * model.mu).ceil() as u32).max(2 * t1);
        let t3 = t2.max((10.0 * model.mu).ceil() as u32).max(4 * t1).max(20);
        [t1, t2, t3]
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
            let p = model.tail(x);
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
            out.push(Signal::Evaluated {
                at: (current + 1) * self.p.step,
                quiet: p > 0.2 && (x as f64) < 2.0 * model.mu.max(0.5),
            });
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
            let mut counted = x as f64;
            if self.incident_open {
                let hourly = self.baseline.window_model(start, end, self.p.step);
                counted = counted.min(self.thresholds_for(&hourly)[0] as f64);
            }
            let was_cold = self.baseline.is_cold();
            self.baseline.close_hour(hour, counted);
            self.next_hour += 1;
            if self.p.cusum && !was_cold {
                let h = {
                    let r = self.baseline.dispersion();
                    let mean = self.baseline.hourly_rate(hour + 1).max(0.01);
                    cusum::calibrate(mean, r, self.p.budget_hours)
                };
                let c = self.cusum.get_or_insert_with(|| Cusum::new(h));
                c.set_h(h);
                if c.observe(x as f64, mu) && !self.incident_open {
                    let end_bucket = (end - 1).div_euclid(self.p.step);
                    let model = CountModel::poisson(mu);
                    let mut evidence = self.evidence(end_bucket, x, &model, 0, "cusum");
                    evidence.window_start = start;
                    evidence.window_end = end;
                    evidence.window_minutes = 60;
                    out.push(Signal::Fire { level: 1, evidence });
                }
            }
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
    use chrono::TimeZone;
    use lauscher_model::{Intent, Label, MentionId};

    fn params() -> SpikeParams {
        SpikeParams {
            step: 300,
            window_steps: 12,
            lateness: 1800,
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
        let at = Utc.timestamp_opt(t, 0).single().expect("time");
        MentionSummary {
            id: MentionId::from_key(&format!("{author}{t}")),
            source: "s".into(),
            author_key: author.into(),
            reach: None,
            published_at: at,
            fetched_at: at,
            lang: "de".into(),
            score: -0.5,
            label: Label::Negative,
            intent: Intent::Complaint,
            topics: vec!["acme".into()],
            url: None,
            snippet: format!("Zug verspätet wieder {author}"),
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
