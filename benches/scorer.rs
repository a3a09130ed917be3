//! Scoring: language detection, sentiment and intent per post, next to a plain pass.
//!
//! R = per post `text.to_lowercase().split_whitespace().count()` over the same posts in
//! the same run. Three measurements, all on one thread:
//!
//! - `detect_only`: whatlang with the de/en allowlist (the floor scoring sits on);
//! - `score_detected`: [`Scorer::score_text`] with detection (what `lauscher eval` and
//!   the pipeline pay for a post without a language hint);
//! - `score_known_lang`: the same with the language given (a source's declared one).
//!
//! Target: scoring including language detection costs at most 25 × R per post.
//!
//! Run: `cargo bench --bench scorer` (`-- --quick` for a faster, noisier run).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use lauscher_config::Config;
use lauscher_model::Lang;
use lauscher_scorer::Scorer;
use lauscher_text::LanguageDetector;

#[allow(dead_code)]
mod corpus;

use corpus::{best_of, corpus, raw_pass};

const POSTS: usize = 20_000;

fn main() {
    let config =
        match Config::from_str_named("version: 1\nlanguages: [de, en]\n", "bench", &|_| None) {
            Ok(c) => c,
            Err(e) => panic!("bench config: {e}"),
        };
    let scorer = Scorer::new(&config);
    let detector = LanguageDetector::new(&[Lang::De, Lang::En]);
    let posts = corpus(POSTS, 42);
    let detect_all = |posts: &[(String, &str)]| -> usize {
        posts
            .iter()
            .filter(|(t, _)| detector.detect(t, None).lang().is_some())
            .count()
    };
    let score_all = |posts: &[(String, &str)]| -> f32 {
        posts
            .iter()
            .map(|(t, _)| scorer.score_text(t, None, None).sentiment.score)
            .sum()
    };
    let score_known = |posts: &[(String, &str)]| -> f32 {
        posts
            .iter()
            .map(|(t, l)| {
                let lang = if *l == "de" { Lang::De } else { Lang::En };
                scorer.score_text(t, Some(lang), None).sentiment.score
            })
            .sum()
    };
    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("scorer");
        g.throughput(Throughput::Elements(posts.len() as u64));
        g.sample_size(10);
        g.bench_function("raw_pass", |b| b.iter(|| black_box(raw_pass(&posts))));
        g.bench_function("detect_only", |b| b.iter(|| black_box(detect_all(&posts))));
        g.bench_function("score_detected", |b| {
            b.iter(|| black_box(score_all(&posts)))
        });
        g.bench_function("score_known_lang", |b| {
            b.iter(|| black_box(score_known(&posts)))
        });
        g.finish();
    }
    c.final_summary();

    let n = posts.len() as f64;
    let time = |runs: usize, f: &dyn Fn()| {
        best_of(runs, || {
            let t = Instant::now();
            f();
            t.elapsed()
        })
    };
    let r = time(25, &|| {
        black_box(raw_pass(&posts));
    });
    let d = time(5, &|| {
        black_box(detect_all(&posts));
    });
    let s = time(5, &|| {
        black_box(score_all(&posts));
    });
    let k = time(5, &|| {
        black_box(score_known(&posts));
    });
    let r_ns = r.as_nanos() as f64 / n;
    println!("\n| measurement | posts/s | ns/post | ratio |");
    println!("|---|---|---|---|");
    for (name, d, note) in [
        ("R raw pass", r, ""),
        ("language detection only (de/en)", d, ""),
        ("score incl. detection", s, " (target ≤ 25)"),
        ("score, language known", k, ""),
    ] {
        let ns = d.as_nanos() as f64 / n;
        println!(
            "| {name} | {:.0} | {ns:.0} | {:.1} × R{note} |",
            n / d.as_secs_f64(),
            ns / r_ns
        );
    }
}
