//! Pipeline throughput, measured as ratios against a plain pass over the same posts.
//!
//! R = per post `text.to_lowercase().split_whitespace().count()`: the floor for touching
//! every character as text. Groups (criterion):
//! - `analyse`: R vs fingerprint + language + sentiment + topics, one thread;
//! - `ingest`: R vs the real pipeline (dedupe against SQLite, parallel analysis, tantivy
//!   indexing, commit) into a fresh data directory.
//!
//! After criterion, a best-of-3 report prints posts/s for R₁, R₂ (two threads) and the
//! end-to-end pipeline in two modes (language from metadata; whatlang restricted to the
//! configured languages), with the ratio the issue targets: end to end ≥ R₂/60.
//!
//! Run: `cargo bench --bench pipeline` (`-- --quick` for a faster, noisier run).
//! The corpus is generated (seeded), never committed.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput};
use lauscher_config::Config;
use lauscher_model::Lang;
use lauscher_model::{Author, Mention, MentionId};
use lauscher_pipeline::{Batch, Pipeline};
use lauscher_query::{ActiveRules, RuleSet};
use lauscher_scorer::Scorer;
use lauscher_text::Fingerprint;

#[allow(dead_code)]
mod corpus;

use corpus::{best_of, corpus, raw_pass, raw_pass_2};

const POSTS: usize = 20_000;
const BATCH: usize = 1_000;

fn config() -> Config {
    let text = "version: 1\nindex:\n  commit_interval: 1s\n  writer_memory: 128MiB\n";
    match Config::from_str_named(text, "bench.yaml", &|_| None) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    }
}

fn rules() -> Arc<ActiveRules> {
    let text = "version: 1\nrules:\n  - id: acme\n    kind: brand\n    name: Acme\n    query: acme OR acmebahn OR \"acme bahn\"\n  - id: blitzbus\n    kind: competitor\n    name: Blitzbus\n    query: blitzbus\n";
    match RuleSet::from_texts(&[("bench.yaml".into(), text.into())], &[Lang::De, Lang::En]) {
        Ok(set) => Arc::new(ActiveRules::new(set)),
        Err(e) => panic!("bench rules: {e}"),
    }
}

fn mentions(posts: &[(String, &'static str)], hints: bool) -> Vec<Mention> {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    posts
        .iter()
        .enumerate()
        .map(|(i, (text, lang))| Mention {
            id: MentionId::from_key(&format!("bench:{i}")),
            source: "bench".into(),
            url: None,
            author: Some(Author {
                name: format!("user{}", i % 5000),
                reach: None,
            }),
            published_at: at + chrono::Duration::seconds(i as i64),
            fetched_at: at,
            title: None,
            text: text.clone(),
            lang_hint: hints.then(|| (*lang).to_owned()),
            address: None,
            repost_of: None,
            reply_to: None,
        })
        .collect()
}

/// Runs the whole pipeline over `ms` into a fresh directory; returns the ingest time.
fn ingest(rt: &tokio::runtime::Runtime, config: &Config, ms: Vec<Mention>) -> Duration {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    rt.block_on(async {
        let pipeline = match Pipeline::start(config, dir.path(), rules()) {
            Ok(p) => p,
            Err(e) => panic!("pipeline: {e}"),
        };
        let sender = pipeline.sender();
        let started = Instant::now();
        let mut ms = ms;
        while !ms.is_empty() {
            let rest = ms.split_off(ms.len().min(BATCH));
            let batch = std::mem::replace(&mut ms, rest);
            let b = Batch {
                source: "bench".into(),
                mentions: batch,
                checkpoint: None,
                deletes: Vec::new(),
                keep_all: true,
                ack: None,
            };
            if let Err(e) = sender.send(b).await {
                panic!("send: {e}");
            }
        }
        drop(sender);
        if let Err(e) = pipeline.shutdown().await {
            panic!("shutdown: {e}");
        }
        started.elapsed()
    })
}

fn main() {
    let posts = corpus(POSTS, 42);
    let config = config();
    let scorer = Scorer::new(&config);
    let rule_set = rules().get();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    };
    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("analyse");
        g.throughput(Throughput::Elements(posts.len() as u64));
        g.sample_size(10);
        g.bench_function("raw_pass", |b| b.iter(|| black_box(raw_pass(&posts))));
        let ms = mentions(&posts, false);
        g.bench_function("analyse_allowlist", |b| {
            b.iter(|| {
                for m in &ms {
                    let fp = Fingerprint::of(&m.text);
                    black_box(scorer.score(m.clone(), &fp, &rule_set));
                }
            })
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("ingest");
        g.throughput(Throughput::Elements(posts.len() as u64));
        g.sample_size(10);
        g.bench_function("raw_pass", |b| b.iter(|| black_box(raw_pass(&posts))));
        g.bench_function("end_to_end_allowlist", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| ingest(&rt, &config, mentions(&posts, false)))
                    .sum()
            })
        });
        g.finish();
    }
    c.final_summary();

    // Ratio report, best of 3, all measured in this run.
    let n = posts.len() as f64;
    let r1 = best_of(25, || {
        let t = Instant::now();
        black_box(raw_pass(&posts));
        t.elapsed()
    });
    let r2 = best_of(25, || {
        let t = Instant::now();
        black_box(raw_pass_2(&posts));
        t.elapsed()
    });
    let ms = mentions(&posts, false);
    let analyse = best_of(3, || {
        let t = Instant::now();
        for m in &ms {
            let fp = Fingerprint::of(&m.text);
            black_box(scorer.score(m.clone(), &fp, &rule_set));
        }
        t.elapsed()
    });
    let e2e_allow = best_of(3, || ingest(&rt, &config, mentions(&posts, false)));
    let e2e_meta = best_of(3, || ingest(&rt, &config, mentions(&posts, true)));
    let per_sec = |d: Duration| n / d.as_secs_f64();
    let r1_ns = r1.as_nanos() as f64 / n;
    let analyse_ns = analyse.as_nanos() as f64 / n;
    println!("\n| measurement | posts/s | ns/post (1 thread) | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| R₁ raw pass, 1 thread | {:.0} | {r1_ns:.0} | 1 |",
        per_sec(r1)
    );
    println!("| R₂ raw pass, 2 threads | {:.0} | | 1 |", per_sec(r2));
    println!(
        "| analysis (fingerprint, whatlang de/en, sentiment, topics), 1 thread | {:.0} | {analyse_ns:.0} | N = {:.1} × R₁ |",
        per_sec(analyse),
        analyse_ns / r1_ns
    );
    for (name, d) in [
        ("end to end, whatlang de/en allowlist", e2e_allow),
        ("end to end, language from metadata", e2e_meta),
    ] {
        println!(
            "| {name} | {:.0} | | R₂/{:.1} (target ≤ R₂/60) |",
            per_sec(d),
            per_sec(r2) / per_sec(d)
        );
    }
}
