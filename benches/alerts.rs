//! Alert detection cost per mention, next to a plain pass over the same posts.
//!
//! R = per post `text.to_lowercase().split_whitespace().count()`. Two measurements on
//! one thread over 100k committed mentions spread over a day (5,000 authors):
//!
//! - `spike_detector`: one [`SpikeDetector`] stream, clock advanced per mention
//!   (the O(1) path: bucket increment, author lookup, compare);
//! - `alert_router`: the whole router (three rules: spike, influencer, sentiment shift,
//!   one stream each per topic) in batches of 500, as the pipeline's commits deliver them.
//!
//! The spike rule pages from its first window (`warmup: 0s`), so the streams start
//! cold and fire at nearly every step, the dearest case.
//!
//! Target: detection adds no measurable cost per mention: the detector at most 1 × R,
//! the whole router at most 0.5 × R.
//!
//! Run: `cargo bench --bench alerts` (`-- --quick` for a faster, noisier run).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput};
use lauscher_alerts::{AlertRouter, SpikeDetector, SpikeParams, Templates};
use lauscher_config::{AlertRule, AlertingConfig};
use lauscher_model::{Intent, Label, MentionId, MentionSummary};

#[allow(dead_code)]
mod corpus;

use corpus::{best_of, corpus, raw_pass};

const POSTS: usize = 100_000;

fn alerting() -> AlertingConfig {
    let text = "version: 1
rules:
  - {id: storm, kind: spike, topics: [\"*\"], label: negative, warmup: 0s}
  - {id: vip, kind: influencer, topics: [\"*\"]}
  - {id: mood, kind: sentiment_shift, topics: [\"*\"]}
";
    match AlertingConfig::parse(text, "bench", &[], &|_| None) {
        Ok(c) => c,
        Err(e) => panic!("bench alerting config: {e}"),
    }
}

fn main() {
    let posts = corpus(POSTS, 7);
    let t0 = 1_767_571_200i64;
    let mentions: Vec<MentionSummary> = posts
        .iter()
        .enumerate()
        .map(|(i, (text, lang))| {
            let t = t0 + (i as i64 * 86_400) / POSTS as i64;
            let at = Utc.timestamp_opt(t, 0).single().unwrap_or_default();
            MentionSummary {
                id: MentionId(i as u128),
                source: format!("s{}", i % 4),
                author_key: format!("author{}", (i * 7919) % 5000),
                reach: Some((i as u64 * 31) % 20_000),
                published_at: at,
                fetched_at: at,
                lang: lang.parse().ok(),
                score: -0.3,
                label: [Label::Negative, Label::Neutral, Label::Positive][i % 3],
                intent: Intent::Other,
                topics: vec![["acme", "blitzbus"][i % 2].to_owned()],
                url: None,
                snippet: text.chars().take(200).collect(),
                reply_to: None,
                address: None,
            }
        })
        .collect();
    let config = alerting();
    let rule: AlertRule = config.rules[0].clone();
    let params = SpikeParams::of(&rule, &config.defaults);
    let detect = |ms: &[MentionSummary]| -> usize {
        let mut d = SpikeDetector::new(params.clone());
        let mut fired = 0;
        for m in ms {
            fired += d.advance(m.fetched_at.timestamp()).len();
            fired += usize::from(d.observe(m).is_some());
        }
        fired
    };
    let templates = match Templates::load(std::path::Path::new("rules/templates")) {
        Ok(t) => t,
        Err(e) => panic!("templates: {e}"),
    };
    let route = |ms: &[MentionSummary]| -> usize {
        let templates = match Templates::load(std::path::Path::new("rules/templates")) {
            Ok(t) => t,
            Err(e) => panic!("templates: {e}"),
        };
        let mut router = match AlertRouter::new(
            alerting(),
            templates,
            None,
            Arc::new(tokio::sync::Notify::new()),
            t0,
        ) {
            Ok(r) => r,
            Err(e) => panic!("router: {e}"),
        };
        for batch in ms.chunks(500) {
            let now = batch.last().map_or(t0, |m| m.fetched_at.timestamp());
            router.observe(batch, now);
        }
        router.into_history().0.len()
    };
    drop(templates);
    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("alerts");
        g.throughput(Throughput::Elements(POSTS as u64));
        g.sample_size(10);
        g.bench_function("raw_pass", |b| b.iter(|| black_box(raw_pass(&posts))));
        g.bench_function("spike_detector", |b| {
            b.iter(|| black_box(detect(&mentions)))
        });
        g.bench_function("alert_router", |b| b.iter(|| black_box(route(&mentions))));
        g.finish();
    }
    c.final_summary();

    let n = POSTS as f64;
    let time = |runs: usize, f: &dyn Fn()| {
        best_of(runs, || {
            let t = Instant::now();
            f();
            t.elapsed()
        })
    };
    let r = time(15, &|| {
        black_box(raw_pass(&posts));
    });
    let d = time(5, &|| {
        black_box(detect(&mentions));
    });
    let a = time(5, &|| {
        black_box(route(&mentions));
    });
    let r_ns = r.as_nanos() as f64 / n;
    println!("\n| measurement | mentions/s | ns/mention | ratio |");
    println!("|---|---|---|---|");
    for (name, d) in [
        ("R raw pass", r),
        ("spike detector, one stream", d),
        ("alert router, 3 rules × 2 topics", a),
    ] {
        let ns = d.as_nanos() as f64 / n;
        println!(
            "| {name} | {:.0} | {ns:.0} | {:.2} × R |",
            n / d.as_secs_f64(),
            ns / r_ns
        );
    }
}
