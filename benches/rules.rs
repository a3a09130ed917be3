//! Topic rule matching: 500 rules against generated posts, next to a plain pass.
//!
//! R = per post `text.to_lowercase().split_whitespace().count()` over the same posts in
//! the same run. The rule set is 60 brands × 8 rule shapes (phrases, hashtags, handles,
//! references to complaint packs, NEAR, proximity, wildcards, a stem, a field filter,
//! exclusions) plus 20 packs: 500 rules. Half the posts name one of the brands, so far
//! more posts are candidates than with real rules (a few percent match there).
//! Target: matching costs at most 3 × R per post.
//!
//! Run: `cargo bench --bench rules` (`-- --quick` for a faster, noisier run).

use std::fmt::Write;
use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use lauscher_model::Lang;
use lauscher_query::{MentionFields, RuleSet};

#[allow(dead_code)]
mod corpus;

use corpus::{SplitMix, best_of, corpus, raw_pass};

const POSTS: usize = 20_000;
const SYLLABLES: &[&str] = &[
    "nord", "werk", "blitz", "tel", "kom", "flux", "vox", "strom", "rad", "lin", "trans", "mobil",
    "netz", "funk", "bahn",
];

fn brands() -> Vec<String> {
    let mut out = Vec::new();
    'outer: for a in SYLLABLES {
        for b in SYLLABLES {
            if a != b {
                out.push(format!("{a}{b}"));
                if out.len() == 60 {
                    break 'outer;
                }
            }
        }
    }
    out
}

fn rules(brands: &[String]) -> String {
    let mut y = String::from("version: 1\nrules:\n");
    let packs = [
        (
            "complaints-de",
            "verspät* OR ausfall* OR kaputt OR störung* OR \"seit tagen\" OR \"immer noch\" OR hotline",
        ),
        (
            "complaints-en",
            "delay* OR refund* OR \"still waiting\" OR broken OR crash* OR terrible",
        ),
        (
            "noise-jobs",
            "\"m/w/d\" OR stellenangebot* OR \"apply now\" OR #hiring",
        ),
    ];
    for (id, q) in packs {
        let _ = writeln!(y, "  - {{id: {id}, kind: pack, query: '{q}'}}");
    }
    for k in 0..17 {
        let _ = writeln!(
            y,
            "  - {{id: pack-{k}, kind: pack, query: 'word{k} OR \"phrase {k}\" OR thing{k}*'}}"
        );
    }
    for b in brands {
        let shapes = [
            format!("\"{b}\" OR #{b} OR @{b}"),
            format!("{b} AND ({{complaints-de}} OR {{complaints-en}})"),
            format!("{b} NEAR/3 (app OR login)"),
            format!("\"{b} service\"~2 OR \"{b} hotline\""),
            format!("{b} AND verspät* AND NOT ticket"),
            format!("{b} AND lang:de AND ~stem:verspätung"),
            format!("title:{b} OR (#{b} AND {{pack-1}})"),
            format!("{b} ONEAR/1 (fails OR fehler)"),
        ];
        for (i, q) in shapes.iter().enumerate() {
            let _ = writeln!(
                y,
                "  - {{id: {b}-{i}, kind: brand, name: {b}, query: '{q}', exclude: ['{{noise-jobs}}']}}"
            );
        }
    }
    y
}

fn main() {
    let brands = brands();
    let set = match RuleSet::from_texts(
        &[("bench.yaml".into(), rules(&brands))],
        &[Lang::De, Lang::En],
    ) {
        Ok(s) => s,
        Err(e) => panic!("bench rules: {e}"),
    };
    assert_eq!(set.rules().len(), 500);
    let mut rng = SplitMix(7);
    let posts: Vec<(String, &'static str)> = corpus(POSTS, 42)
        .into_iter()
        .map(|(mut text, lang)| {
            if rng.next().is_multiple_of(2) {
                let b = &brands[rng.next() as usize % brands.len()];
                text = format!("{b} {text}");
            }
            (text, lang)
        })
        .collect();
    let match_all = |posts: &[(String, &str)]| -> usize {
        posts
            .iter()
            .map(|(text, lang)| {
                set.topics(&MentionFields {
                    text,
                    lang,
                    source: "bench",
                    ..Default::default()
                })
                .len()
            })
            .sum()
    };
    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("rules");
        g.throughput(Throughput::Elements(posts.len() as u64));
        g.sample_size(10);
        g.bench_function("raw_pass", |b| b.iter(|| black_box(raw_pass(&posts))));
        g.bench_function("match_500_rules", |b| {
            b.iter(|| black_box(match_all(&posts)))
        });
        g.finish();
    }
    c.final_summary();

    let n = posts.len() as f64;
    let r1 = best_of(25, || {
        let t = Instant::now();
        black_box(raw_pass(&posts));
        t.elapsed()
    });
    let matched = match_all(&posts);
    let m = best_of(10, || {
        let t = Instant::now();
        black_box(match_all(&posts));
        t.elapsed()
    });
    let hit_posts = posts
        .iter()
        .filter(|(text, lang)| {
            !set.topics(&MentionFields {
                text,
                lang,
                source: "bench",
                ..Default::default()
            })
            .is_empty()
        })
        .count();
    let r1_ns = r1.as_nanos() as f64 / n;
    let m_ns = m.as_nanos() as f64 / n;
    println!("\n| measurement | posts/s | ns/post | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| R₁ raw pass, 1 thread | {:.0} | {r1_ns:.0} | 1 |",
        n / r1.as_secs_f64()
    );
    println!(
        "| 500 rules, 1 thread | {:.0} | {m_ns:.0} | {:.2} × R₁ (target ≤ 3) |",
        n / m.as_secs_f64(),
        m_ns / r1_ns
    );
    println!(
        "({matched} topic hits; {hit_posts} of {} posts match at least one rule)",
        posts.len()
    );
}
