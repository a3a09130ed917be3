//! Insight views and search over an index of 1 million generated posts (10 million
//! with `LAUSCHER_BENCH_MENTIONS=10000000`; building that takes many minutes and ~4 GB
//! of memory), next to a plain pass.
//!
//! R = `text.to_lowercase().split_whitespace().count()` over all posts (one thread).
//! Posts span 90 days, three topics (brand, competitor, industry), 50,000 authors.
//! Each view is run warm 30 times; p50 and p99 are printed with their ratio to R.
//! `search` is a page of 50 hits; `collapsed_search` the same search with reposts
//! collapsed under their originals (`collapse=reposts`: each hit's reposts counted);
//! `explained_search` the page with every hit's analysis explained again, as the API
//! shows it. One post in ten is a repost. `complaints` is one week ending at midnight;
//! `complaints_now` one week ending at another second at each call (37 s later), as a
//! dashboard's "last 7 days" does.
//!
//! Targets (issue 8): timeline and share of voice p99 ≤ R/50; complaints over a
//! one-week window ≤ R/5. At 10M (issue 20): timeline, share of voice, complaints and
//! search p99 ≤ 50 ms.
//!
//! Run: `cargo bench --bench insights` (building the index takes about a minute).
//! `LAUSCHER_BENCH_PROFILE=complaints_now` calls one view 100 times and nothing else,
//! for `perf record`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use criterion::Criterion;
use lauscher_index::MentionIndex;
use lauscher_insights::{Filters, Recurrence, complaints, share_of_voice, timeline, top};
use lauscher_model::Lang;
use lauscher_model::{Author, Label, Mention, MentionId, ScoredMention, Sentiment};
use lauscher_query::RuleSet;

#[allow(dead_code)]
mod corpus;

use corpus::{best_of, corpus, raw_pass};

/// What the index is built from; a kept index (`LAUSCHER_BENCH_INDEX`) records it, and
/// one built from another version of this corpus is not reused. Change it with the
/// corpus.
const CORPUS: &str = "generated posts of seed 11, planted complaints, one repost in ten\n";
/// Mentions indexed by default (`LAUSCHER_BENCH_MENTIONS` overrides).
const DEFAULT_POSTS: usize = 1_000_000;
const RULES: &str = "version: 1
rules:
  - {id: acme, kind: brand, name: Acme Bahn, query: acme}
  - {id: blitzbus, kind: competitor, name: Blitzbus, query: blitzbus}
  - {id: rail, kind: industry, name: Rail, query: zug}
";

/// Complaint phrases planted into the brand's negative posts of the last six weeks, so
/// the complaints view lists about as many phrases as on real posts (the word salad
/// alone makes none significant) and its per-phrase work (newest posts, first sighting)
/// is measured: phrase `k` starts in week `k % 6` of the six (0 the oldest) and is
/// appended to one in six of that week's negative brand posts from then on.
const PLANTED: [(&str, &str); 12] = [
    ("app stürzt beim login ab", "app crashes at login"),
    ("zug fällt schon wieder aus", "train cancelled again"),
    (
        "kundenservice nicht erreichbar",
        "customer service unreachable",
    ),
    ("rückerstattung fehlt noch", "refund still missing"),
    ("ticket doppelt abgebucht", "charged twice for the ticket"),
    ("wlan im zug kaputt", "wifi on the train broken"),
    ("klimaanlage ausgefallen", "air conditioning failed"),
    ("anschluss verpasst", "missed my connection"),
    ("reservierung verschwunden", "seat reservation vanished"),
    ("bordbistro geschlossen", "bistro closed again"),
    ("preiserhöhung frechheit", "price hike outrageous"),
    ("passwort zurücksetzen geht nicht", "password reset broken"),
];

fn plant_complaints(posts: &mut [(String, &'static str)]) {
    let n = posts.len();
    let weeks_from = n - n * 42 / 90;
    for (i, (text, lang)) in posts.iter_mut().enumerate() {
        // Brand (topic i % 3 == 0) and negative (label i % 4 == 0) in the last 6 weeks.
        if i % 12 != 0 || i < weeks_from || (i / 12) % 6 != 0 {
            continue;
        }
        let week = ((i - weeks_from) * 6 / (n - weeks_from).max(1)).min(5);
        let k = (i / 72) % PLANTED.len();
        if k % 6 > week {
            continue;
        }
        let (de, en) = PLANTED[k];
        text.push(' ');
        text.push_str(if *lang == "de" { de } else { en });
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let mentions: usize = std::env::var("LAUSCHER_BENCH_MENTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_POSTS);
    // Generated when needed: a kept index profiled (`LAUSCHER_BENCH_PROFILE`) needs none.
    let generated = std::cell::OnceCell::new();
    let posts = || {
        generated.get_or_init(|| {
            let mut posts = corpus(mentions, 11);
            plant_complaints(&mut posts);
            posts
        })
    };
    let langs = [Lang::De, Lang::En];
    let rules = match RuleSet::from_texts(&[("bench.yaml".into(), RULES.into())], &langs) {
        Ok(r) => r,
        Err(e) => panic!("rules: {e}"),
    };
    // `LAUSCHER_BENCH_INDEX=dir` keeps the index there and reuses it when it holds as
    // many mentions from the same corpus (building 10M takes minutes); by default a
    // temporary directory.
    let temp = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let kept = std::env::var_os("LAUSCHER_BENCH_INDEX").map(std::path::PathBuf::from);
    let dir = kept.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let index = match MentionIndex::open(&dir, &langs) {
        Ok(i) => i,
        Err(e) => panic!("index: {e}"),
    };
    // A kept index is reused only when it was built from this corpus, of this size.
    let built_from = dir.join("bench-corpus");
    let reuse = kept.is_some()
        && index.num_docs() == mentions as u64
        && std::fs::read_to_string(&built_from).is_ok_and(|c| c == CORPUS);
    if !reuse && index.num_docs() > 0 {
        panic!(
            "{} holds another index (of another size or corpus): remove it",
            dir.display()
        );
    }
    let until = Utc
        .with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let span = 90 * 86_400i64;
    let built = Instant::now();
    if !reuse {
        let mut w = match index.writer(256 << 20, 2) {
            Ok(w) => w,
            Err(e) => panic!("writer: {e}"),
        };
        for (i, (text, lang)) in posts().iter().enumerate() {
            let at = until - chrono::Duration::seconds(span - (i as i64 * span) / mentions as i64);
            let label = [
                Label::Negative,
                Label::Neutral,
                Label::Positive,
                Label::Neutral,
            ][i % 4];
            let m = ScoredMention {
                mention: Mention {
                    id: MentionId(i as u128 + 1),
                    source: format!("source{}", i % 4),
                    url: Some(format!("https://site{}.example/p/{i}", i % 50)),
                    author: Some(Author {
                        name: format!("user{}", (i * 7919) % 50_000),
                        reach: Some((i as u64 * 31) % 20_000),
                    }),
                    published_at: at,
                    fetched_at: at,
                    title: None,
                    text: text.clone(),
                    lang_hint: None,
                    address: None,
                    // One post in ten reposts the original eleven posts before it
                    // (no repost of a repost).
                    repost_of: (i % 10 == 9 && i > 11).then(|| MentionId((i - 11) as u128 + 1)),
                    reply_to: None,
                },
                lang: lang.parse().ok(),
                sentiment: Sentiment {
                    score: match label {
                        Label::Negative => -0.5,
                        Label::Positive => 0.5,
                        Label::Neutral => 0.0,
                    },
                    label,
                    explanation: Vec::new(),
                },
                intent: Default::default(),
                topics: vec![["acme", "blitzbus", "rail"][i % 3].into()],
                targets: Vec::new(),
                topic_kinds: Vec::new(),
                phrases: lauscher_text::phrases::phrases(text, lang.parse().ok()),
                simhash: 0,
            };
            if let Err(e) = w.add(&m, false) {
                panic!("add: {e}");
            }
        }
        if let Err(e) = w.commit(0).and_then(|_| w.close()) {
            panic!("commit: {e}");
        }
        if let Err(e) = std::fs::write(&built_from, CORPUS) {
            panic!("{}: {e}", built_from.display());
        }
    }
    if let Err(e) = index.reload() {
        panic!("reload: {e}");
    }
    println!(
        "index of {mentions} posts built in {:.1?}: {} segments",
        built.elapsed(),
        index.num_segments()
    );

    let days = |d: i64| chrono::Duration::days(d);
    let all = Filters {
        since: until - days(90),
        until,
        ..Filters::default()
    };
    let month = Filters {
        since: until - days(30),
        until,
        ..Filters::default()
    };
    let acme_month = Filters {
        topics: vec!["acme".into()],
        ..month.clone()
    };
    let acme_week = Filters {
        topics: vec!["acme".into()],
        since: until - days(7),
        until,
        ..Filters::default()
    };
    let berlin: chrono_tz::Tz = chrono_tz::Europe::Berlin;
    // Hits as the API shows them: with their analysis explained again (one scoring each).
    let config = match lauscher_config::Config::from_str_named(
        "version: 1\nlanguages: [de, en]\n",
        "bench.yaml",
        &|_| None,
    ) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    };
    let explainer = lauscher_pipeline::explain::Explainer::for_config(&config);
    let search_page = |explain: bool, collapse: Option<lauscher_index::Collapse>| {
        let req = lauscher_index::SearchRequest {
            query: "verspätung".into(),
            since: Some(until - days(7)),
            until: Some(until),
            topic: Some("acme".into()),
            limit: 50,
            collapse,
            ..Default::default()
        };
        let mut page = index.search(&req, Some(&rules))?;
        if explain {
            explainer.explain_page(&mut page, &rules);
        }
        Ok::<_, lauscher_index::IndexError>(page)
    };
    let search = |explain: bool, collapse: Option<lauscher_index::Collapse>| {
        search_page(explain, collapse).map(|page| page.hits.len())
    };
    let calls = std::sync::atomic::AtomicI64::new(0);
    let run = |name: &str| -> usize {
        let r = match name {
            "timeline" => timeline(
                &index,
                &rules,
                &all,
                "1d".parse().unwrap_or_else(|e| panic!("{e}")),
                berlin,
            )
            .map(|t| t.series.len()),
            "share_of_voice" => share_of_voice(&index, &rules, &month).map(|s| s.topics.len()),
            "top" => top(&index, &rules, &acme_month, 10).map(|t| t.sources.len()),
            "search" => search(false, None).map_err(lauscher_insights::InsightsError::from),
            "collapsed_search" => search(false, Some(lauscher_index::Collapse::Reposts))
                .map_err(lauscher_insights::InsightsError::from),
            "explained_search" => {
                search(true, None).map_err(lauscher_insights::InsightsError::from)
            }
            "complaints_now" => {
                // A window ending "now", as the API's: 5 h before the corpus ends, 37 s
                // later at each call (a dashboard refreshing), so the weeks' boundaries
                // cut days and move.
                let k = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let now = until - chrono::Duration::hours(5) + chrono::Duration::seconds(37 * k);
                let filters = Filters {
                    since: now - days(7),
                    until: now,
                    ..acme_week.clone()
                };
                complaints(&index, &rules, &filters, 20, Recurrence::default())
                    .map(|c| c.phrases.len())
            }
            _ => complaints(&index, &rules, &acme_week, 20, Recurrence::default())
                .map(|c| c.phrases.len()),
        };
        match r {
            Ok(n) => n,
            Err(e) => panic!("{name}: {e}"),
        }
    };
    // The first call counts the topic's phrases per day in every segment (kept for the
    // calls after it).
    let first = Instant::now();
    let listed = run("complaints");
    println!(
        "complaints lists {listed} phrases (one week of the brand); first call {:.1?}",
        first.elapsed()
    );
    match search_page(false, Some(lauscher_index::Collapse::Reposts)) {
        Ok(page) => println!(
            "the collapsed search's {} hits have {} reposts",
            page.hits.len(),
            page.hits.iter().filter_map(|h| h.reposts).sum::<usize>()
        ),
        Err(e) => panic!("collapsed search: {e}"),
    }
    let views = [
        "timeline",
        "share_of_voice",
        "top",
        "complaints",
        "complaints_now",
        "search",
        "collapsed_search",
        "explained_search",
    ];
    // `LAUSCHER_BENCH_PROFILE=view` runs that view 100 times and nothing else, to
    // profile it (`perf record`).
    if let Ok(view) = std::env::var("LAUSCHER_BENCH_PROFILE") {
        if !views.contains(&view.as_str()) {
            panic!("LAUSCHER_BENCH_PROFILE={view}: not a view (one of {views:?})");
        }
        let t = Instant::now();
        for _ in 0..100 {
            black_box(run(&view));
        }
        println!("{view}: 100 calls in {:.1?}", t.elapsed());
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    {
        let mut g = c.benchmark_group("insights");
        g.sample_size(10);
        g.bench_function("raw_pass_1m", |b| b.iter(|| black_box(raw_pass(posts()))));
        for v in views {
            g.bench_function(v, |b| b.iter(|| black_box(run(v))));
        }
        g.finish();
    }
    c.final_summary();

    let r = best_of(5, || {
        let t = Instant::now();
        black_box(raw_pass(posts()));
        t.elapsed()
    });
    println!("\nR (raw pass over {mentions} posts): {r:.1?}\n");
    println!("| view | p50 | p99 | p99 / R | target |");
    println!("|---|---|---|---|---|");
    for (v, target) in [
        ("timeline", "≤ R/50"),
        ("share_of_voice", "≤ R/50"),
        ("top", "-"),
        ("complaints", "≤ R/5"),
        ("complaints_now", "≤ R/5"),
        ("search", "-"),
        ("collapsed_search", "-"),
        ("explained_search", "-"),
    ] {
        let mut times: Vec<Duration> = (0..30)
            .map(|_| {
                let t = Instant::now();
                black_box(run(v));
                t.elapsed()
            })
            .collect();
        times.sort();
        let p99 = percentile(&times, 0.99);
        println!(
            "| {v} | {:.1?} | {p99:.1?} | R/{:.0} | {target} |",
            percentile(&times, 0.5),
            r.as_secs_f64() / p99.as_secs_f64()
        );
    }
}
