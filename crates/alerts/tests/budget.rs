//! The false-page budget on streams that look like real mention volume (issue 16):
//! daily and weekly cycles, a level that wobbles from day to day, bursts that cluster
//! with heavy-tailed sizes, level shifts up and down, holidays, a source down for a
//! day; quiet streams with a few posts an hour and busy ones with thousands. Each shape
//! runs for a simulated year from a cold start with the default settings, with waves
//! injected every ten days: pages outside the waves stay within `budget: 1/90d`, and
//! the waves are caught with the delays printed.
//!
//! `cargo test -p lauscher-alerts --test budget -- --nocapture` prints the table the
//! issue note quotes.

mod common;

use chrono::{TimeZone, Utc};
use common::{STEP, T0, mention, params};
use lauscher_alerts::sim::{self, Burst, VolumeModel};
use lauscher_alerts::{Signal, SpikeDetector};
use lauscher_model::MentionSummary;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DAY: i64 = 86_400;

/// Prebuilt mentions by distinct authors, reused in turn (only the times change).
struct Pool {
    mentions: Vec<MentionSummary>,
    next: usize,
}

impl Pool {
    fn new(n: usize) -> Pool {
        let mentions = (0..n as u64).map(|i| mention(i, T0)).collect();
        Pool { mentions, next: 0 }
    }

    fn at(&mut self, t: i64) -> &MentionSummary {
        self.next = (self.next + 1) % self.mentions.len();
        let m = &mut self.mentions[self.next];
        let at = Utc.timestamp_opt(t, 0).single().expect("time");
        m.published_at = at;
        m.fetched_at = at;
        m
    }
}

/// Incidents as the router forms them: opened by a fire, resolved by three quiet
/// windows, reopened (the same incident) by a fire within two hours.
#[derive(Default)]
struct Incidents {
    open: bool,
    quiet: u32,
    closed_at: i64,
    /// (opened, first post of the wave)
    list: Vec<(i64, i64)>,
}

impl Incidents {
    fn signal(&mut self, d: &mut SpikeDetector, s: Signal, t: i64) {
        match s {
            Signal::Fire { evidence, .. } => {
                self.quiet = 0;
                if !self.open {
                    self.open = true;
                    d.set_incident_open(true);
                    if self.list.is_empty() || t - self.closed_at > 2 * 3600 {
                        self.list.push((t, evidence.first_post));
                        if std::env::var_os("LAUSCHER_SIM_DEBUG").is_some() {
                            eprintln!(
                                "day {:.2} {} x {} mu {:.1} ratio {:.2} cal {:?}",
                                (t - T0) as f64 / 86_400.0,
                                evidence.test,
                                evidence.observed,
                                evidence.expected,
                                evidence.observed as f64 / evidence.expected.max(0.01),
                                evidence.calibration.map(|c| (
                                    c.days as u32,
                                    c.episodes,
                                    c.base,
                                    c.scale,
                                    c.level
                                ))
                            );
                        }
                    }
                }
            }
            Signal::Evaluated { quiet, .. } => {
                if !quiet {
                    self.quiet = 0;
                } else if self.open {
                    self.quiet += 1;
                    if self.quiet >= 3 {
                        self.open = false;
                        self.closed_at = t;
                        d.set_incident_open(false);
                    }
                }
            }
        }
    }
}

struct Outcome {
    /// False pages in the first 8 weeks and after.
    false_early: usize,
    false_late: usize,
    days: i64,
    /// Per injected wave: delay of the first page after onset (minutes), if caught.
    waves: Vec<(f64, Option<i64>)>,
}

/// Runs `model` for `days` from a cold start; every ten days from day 60 on a wave of
/// `sizes[i % len]` times the level (lasting 3 hours, ramps alternating 0 and 60
/// minutes) is injected at a random hour.
fn run(model: &VolumeModel, days: i64, sizes: &[f64], seed: u64) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let end = T0 + days * DAY;
    let routine = model.bursts(&mut rng, T0, end);
    let wobble = model.wobble(&mut rng, days + 1);
    let mut waves = Vec::new();
    let mut day = 60;
    let mut i = 0;
    while !sizes.is_empty() && day < days - 1 {
        let start = T0 + day * DAY + rng.random_range(0..24) * 3600;
        waves.push(Burst {
            start,
            excess: sizes[i % sizes.len()] - 1.0,
            ramp: if i % 2 == 0 { 1 } else { 3600 },
            hold: 3 * 3600,
            half_life: 1800,
        });
        day += 10;
        i += 1;
    }
    let mut pool = Pool::new(60_000);
    let mut d = SpikeDetector::new(params());
    let mut inc = Incidents::default();
    d.advance(T0);
    let (mut next_burst, mut active): (usize, Vec<Burst>) = (0, Vec::new());
    let mut mix = 1.0;
    let mut t = T0;
    while t < end {
        for s in d.advance(t) {
            inc.signal(&mut d, s, t);
        }
        if t % 3600 == 0 {
            mix = model.hourly_r.map_or(1.0, |r| sim::gamma(&mut rng, r) / r);
        }
        while next_burst < routine.len() && routine[next_burst].start <= t {
            active.push(routine[next_burst]);
            next_burst += 1;
        }
        active.retain(|b| b.active(t));
        let day = (t - T0) / DAY;
        let excess: f64 = active.iter().map(|b| b.at(t)).sum::<f64>()
            + waves.iter().map(|w| w.at(t)).sum::<f64>();
        let mu = model.rate(t, day) * wobble[day as usize] * mix * (1.0 + excess) / 12.0;
        let k = sim::poisson(&mut rng, mu);
        for j in 0..k {
            let m = pool.at(t + (j as i64 * 7919) % STEP);
            if let Some(s) = d.observe(m) {
                inc.signal(&mut d, s, t);
            }
        }
        t += STEP;
    }
    let in_wave = |at: i64| {
        waves
            .iter()
            .any(|w| (w.start..w.start + w.hold + w.ramp + 3 * 3600).contains(&at))
    };
    let mut out = Outcome {
        false_early: 0,
        false_late: 0,
        days,
        waves: Vec::new(),
    };
    for &(opened, _) in &inc.list {
        if !in_wave(opened) {
            if opened < T0 + 56 * DAY {
                out.false_early += 1;
            } else {
                out.false_late += 1;
            }
        }
    }
    for w in &waves {
        let caught = inc
            .list
            .iter()
            .find(|(opened, _)| (w.start..w.start + w.ramp + w.hold).contains(opened))
            .map(|(opened, _)| (opened - w.start) / 60);
        out.waves.push((w.excess + 1.0, caught));
        if std::env::var_os("LAUSCHER_SIM_DEBUG").is_some() {
            eprintln!(
                "wave day {:.2} size {:.0} ramp {} caught {caught:?}",
                (w.start - T0) as f64 / 86_400.0,
                w.excess + 1.0,
                w.ramp
            );
        }
    }
    out
}

fn shapes() -> Vec<(&'static str, VolumeModel, u64)> {
    let base = VolumeModel {
        per_hour: 30.0,
        daily_peak: 3.0,
        weekend: 0.7,
        day_wobble: 0.2,
        hourly_r: Some(20.0),
        bursts_per_day: 2.0,
        burst_median: 1.0,
        burst_spread: 0.7,
        burst_cluster: 0.3,
        shifts: Vec::new(),
        holidays: Vec::new(),
    };
    vec![
        (
            "quiet 2/h, no bursts",
            VolumeModel {
                per_hour: 2.0,
                day_wobble: 0.15,
                hourly_r: None,
                bursts_per_day: 0.0,
                ..base.clone()
            },
            2,
        ),
        (
            "quiet 5/h, bursty",
            VolumeModel {
                per_hour: 5.0,
                bursts_per_day: 0.5,
                ..base.clone()
            },
            2,
        ),
        ("daily 30/h, bursty", base.clone(), 2),
        (
            "busy 1000/h, bursty",
            VolumeModel {
                per_hour: 1000.0,
                daily_peak: 3.0,
                weekend: 0.8,
                day_wobble: 0.15,
                hourly_r: Some(30.0),
                bursts_per_day: 3.0,
                burst_spread: 0.6,
                burst_cluster: 0.4,
                ..base.clone()
            },
            1,
        ),
        (
            "level shifts ×2.5 up, ×0.4 down",
            VolumeModel {
                per_hour: 40.0,
                shifts: vec![(120, 2.5), (250, 0.4)],
                ..base.clone()
            },
            1,
        ),
        (
            "holidays and a source down for a day",
            VolumeModel {
                per_hour: 60.0,
                holidays: vec![
                    (100, 0.3),
                    (101, 0.3),
                    (102, 0.3),
                    (103, 0.3),
                    (175, 0.0),
                    (300, 0.2),
                ],
                ..base.clone()
            },
            1,
        ),
    ]
}

/// One shape's figures: false pages per 90 days (all, first 8 weeks, after), waves
/// caught per size, and the median delay of the 10× and 20× waves.
struct Figures {
    per_90d: f64,
    early_90d: f64,
    late_90d: f64,
    caught: [(usize, usize); 4],
    median_delay: i64,
}

fn figures(model: &VolumeModel, seeds: u64, sizes: &[f64]) -> Figures {
    // A year of routine volume per stream: every page is false.
    let (mut early, mut late) = (0usize, 0usize);
    for seed in 0..seeds {
        let o = run(model, 365, &[], 100 + seed);
        assert_eq!(o.days, 365);
        early += o.false_early;
        late += o.false_late;
    }
    // Waves every ten days from day 60 on, in a stream of their own.
    let o = run(model, 220, sizes, 900);
    let mut caught = [(0usize, 0usize); 4];
    let mut delays = Vec::new();
    for (i, (size, delay)) in o.waves.iter().enumerate() {
        let slot = &mut caught[i % 4];
        slot.1 += 1;
        if let Some(d) = delay {
            slot.0 += 1;
            if *size >= 10.0 {
                delays.push(*d);
            }
        }
    }
    delays.sort_unstable();
    let seeds = seeds as f64;
    Figures {
        per_90d: (early + late) as f64 / seeds / (365.0 / 90.0),
        early_90d: early as f64 / seeds / (56.0 / 90.0),
        late_90d: late as f64 / seeds / ((365 - 56) as f64 / 90.0),
        caught,
        median_delay: delays.get(delays.len() / 2).copied().unwrap_or(-1),
    }
}

#[test]
fn pages_stay_within_the_budget_and_waves_are_caught() {
    let only = std::env::var("LAUSCHER_SIM_SHAPE").ok();
    let sizes = [3.0, 5.0, 10.0, 20.0];
    let shapes: Vec<_> = shapes()
        .into_iter()
        .filter(|(name, _, _)| only.as_deref().is_none_or(|o| name.starts_with(o)))
        .collect();
    // Shapes are independent: one thread each.
    let results: Vec<Figures> = std::thread::scope(|scope| {
        let handles: Vec<_> = shapes
            .iter()
            .map(|(_, model, seeds)| scope.spawn(|| figures(model, *seeds, &sizes)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("simulation thread"))
            .collect()
    });
    let mut table = vec![
        "| shape | false pages per 90 d (first 8 weeks / after) | waves caught 3× 5× 10× 20× | median delay 10×, 20× (min) |".to_owned(),
        "|---|---|---|---|".to_owned(),
    ];
    let mut failures = Vec::new();
    for ((name, _, seeds), f) in shapes.iter().zip(&results) {
        table.push(format!(
            "| {name} ({seeds} × 1 year) | {:.2} ({:.2} / {:.2}) | {} | {} |",
            f.per_90d,
            f.early_90d,
            f.late_90d,
            f.caught
                .iter()
                .map(|(c, n)| format!("{c}/{n}"))
                .collect::<Vec<_>>()
                .join(" "),
            f.median_delay
        ));
        // One or two simulated stream-years hold 4–8 pages at the budget's rate: a
        // shape may exceed it by that count's noise, the shapes together may not.
        if f.per_90d > 1.3 {
            failures.push(format!("{name}: {:.2} false pages per 90 d", f.per_90d));
        }
        // Waves of 20× the level stand out of every shape's routine bursts.
        let (c, n) = f.caught[3];
        if c + 1 < n {
            failures.push(format!("{name}: caught {c}/{n} waves of 20×"));
        }
    }
    let pages: f64 = shapes
        .iter()
        .zip(&results)
        .map(|((_, _, seeds), f)| f.per_90d * *seeds as f64)
        .sum();
    let streams: f64 = shapes.iter().map(|(_, _, seeds)| *seeds as f64).sum();
    let mean = pages / streams.max(1.0);
    table.push(format!("| all shapes | {mean:.2} | | |"));
    if mean > 1.0 {
        failures.push(format!("all shapes: {mean:.2} false pages per 90 d"));
    }
    eprintln!("{}", table.join("\n"));
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        table.join("\n")
    );
}
