//! `lauscher import` end to end, as a user runs it, against R and Python's VADER on the
//! same posts in the same run; with the index's size per raw text byte and peak memory.
//!
//! The real binary imports a JSON Lines file into a fresh data directory (dedupe,
//! language, sentiment, intent, topics, phrases, index, commits, state store), best of
//! three. R₂ = `text.to_lowercase().split_whitespace().count()` per post on two
//! threads, timed here. VADER = `benches/vader.py` on the same texts, when Python has
//! `vaderSentiment` (skipped otherwise). The index is measured after the import ended,
//! its segments merged (`lauscher_index`'s `merge` module): the wall clock includes the
//! merge.
//!
//! The corpus is generated (seeded, never committed) and real-shaped: post lengths
//! from a short-heavy distribution, German, English and 10 % other languages, a
//! long-tail vocabulary (so bigrams are as varied as real text's), handles, hashtags,
//! emoji, URLs, retweets and exact and near duplicates. Or bring real posts:
//! `LAUSCHER_BENCH_CORPUS=posts.jsonl` (the import format) is imported as it is.
//!
//! Run: `cargo bench --bench import` (`LAUSCHER_BENCH_POSTS=200000` for more posts;
//! `LAUSCHER_BENCH_SAVE=posts.jsonl` keeps the generated corpus).

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[allow(dead_code)]
mod corpus;

use corpus::{SplitMix, best_of, raw_pass_2};

/// Posts of the generated corpus (override: `LAUSCHER_BENCH_POSTS`).
const POSTS: usize = 100_000;

/// A real-shaped generated corpus as import lines.
fn generated(n: usize) -> Vec<String> {
    let mut rng = SplitMix(7);
    // A long-tail vocabulary: the hand-written words first (most frequent), then
    // pronounceable made-up words, picked log-uniformly (Zipf-like).
    let syllables = [
        "ka", "ter", "lo", "min", "ba", "sch", "un", "gen", "ver", "ra", "to", "el", "an", "ström",
        "über", "pa", "ne", "is", "re", "di", "co", "ment", "ing", "al",
    ];
    let mut made = Vec::with_capacity(30_000);
    for _ in 0..30_000 {
        let k = 2 + (rng.next() % 3) as usize;
        let w: String = (0..k)
            .map(|_| syllables[(rng.next() % syllables.len() as u64) as usize])
            .collect();
        made.push(w);
    }
    let other = [
        "le train est encore en retard",
        "el servicio es muy malo hoy",
        "il treno è in ritardo di nuovo",
        "de trein is weer te laat vandaag",
    ];
    let pick = |rng: &mut SplitMix, list: &[&str]| -> String {
        // Log-uniform over hand-written words (first) and made-up ones.
        let span = (list.len() + made.len()) as f64;
        let i = (span.powf((rng.next() % 10_000) as f64 / 10_000.0) as usize).saturating_sub(1);
        match list.get(i) {
            Some(w) => (*w).to_owned(),
            None => made[(i - list.len()) % made.len()].clone(),
        }
    };
    let mut lines: Vec<String> = Vec::with_capacity(n);
    let mut texts: Vec<String> = Vec::with_capacity(n);
    for i in 0..n {
        let roll = rng.next() % 100;
        let text = if roll < 4 && !texts.is_empty() {
            // A retweet of an earlier post.
            let j = (rng.next() as usize) % texts.len();
            format!("RT @user{}: {}", rng.next() % 5000, texts[j])
        } else if roll < 7 && !texts.is_empty() {
            // The same text again, by someone else or the same author.
            texts[(rng.next() as usize) % texts.len()].clone()
        } else if roll < 17 {
            other[(rng.next() % other.len() as u64) as usize].to_owned()
                + &format!(" @user{} #{}", rng.next() % 5000, rng.next() % 90)
        } else {
            let (words, brand) = if roll < 58 {
                (corpus::DE, "Acme Bahn")
            } else {
                (corpus::EN, "Blitzbus")
            };
            // Short-heavy lengths: half under 90 characters, a tail to 280.
            let target = 20 + ((rng.next() % 260) * (rng.next() % 260) / 260) as usize;
            let mut t = String::with_capacity(target + 40);
            if rng.next().is_multiple_of(3) {
                t.push_str(brand);
            }
            while t.len() < target {
                if !t.is_empty() {
                    t.push(' ');
                }
                match rng.next() % 30 {
                    0 => {
                        t.push_str(["😡", "👍", "😊", "🙄", "🎉", "😤"][(rng.next() % 6) as usize])
                    }
                    1 => t.push_str(&format!("@user{}", rng.next() % 5000)),
                    2 => t.push_str(&format!("#{}", pick(&mut rng, words))),
                    _ => t.push_str(&pick(&mut rng, words)),
                }
            }
            if rng.next().is_multiple_of(5) {
                t.push_str(&format!(" https://t.co/{:x}", rng.next() % 0xffff_ffff));
            }
            t
        };
        let line = serde_json::json!({
            "id": i.to_string(),
            "text": text,
            "published_at": 1_763_000_000 + (i as i64) * 13,
            "author": format!("@user{}", rng.next() % 20_000),
        });
        lines.push(line.to_string());
        texts.push(text);
    }
    lines
}

/// The text of each import line.
fn texts(lines: &[String]) -> Vec<(String, &'static str)> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(|t| (t.to_owned(), "")))
        .collect()
}

/// One import into a fresh data directory; returns its summary and the directory.
fn import(config: &Path, file: &Path) -> (serde_json::Value, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_lauscher"))
        .args(["import", "--json", "--keep-all", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data.path())
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("run lauscher: {e}"));
    if !out.status.success() {
        panic!("import failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let summary = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("summary: {e}"));
    (summary, data)
}

fn vader(texts_file: &Path) -> Option<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/vader.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(texts_file)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .flatten()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let lines: Vec<String> = match std::env::var("LAUSCHER_BENCH_CORPUS") {
        Ok(path) => std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .lines()
            .map(str::to_owned)
            .collect(),
        Err(_) => generated(
            std::env::var("LAUSCHER_BENCH_POSTS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(POSTS),
        ),
    };
    let posts = texts(&lines);
    let raw_bytes: usize = posts.iter().map(|(t, _)| t.len()).sum();
    let file = dir.path().join("posts.jsonl");
    let texts_file = dir.path().join("texts.txt");
    let write = |path: &Path, rows: &mut dyn Iterator<Item = &str>| {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        );
        for r in rows {
            let _ = writeln!(f, "{r}");
        }
    };
    write(&file, &mut lines.iter().map(String::as_str));
    // `LAUSCHER_BENCH_SAVE=path` keeps the corpus, to import it again by hand.
    if let Ok(keep) = std::env::var("LAUSCHER_BENCH_SAVE") {
        let _ = std::fs::copy(&file, &keep);
    }
    write(
        &texts_file,
        &mut posts.iter().map(|(t, _)| t.as_str()).map(|t| t.trim()),
    );
    let config = dir.path().join("lauscher.yaml");
    let rules = dir.path().join("topics.yaml");
    let _ = std::fs::write(
        &rules,
        "version: 1\nrules:\n  - id: acme\n    kind: brand\n    name: Acme\n    query: acme OR \"acme bahn\"\n  - id: blitzbus\n    kind: competitor\n    name: Blitzbus\n    query: blitzbus\n",
    );
    let _ = std::fs::write(
        &config,
        "version: 1\nlanguages: [de, en]\nrules: [topics.yaml]\n",
    );

    let n = posts.len() as f64;
    let r2 = best_of(25, || {
        let t = Instant::now();
        std::hint::black_box(raw_pass_2(&posts));
        t.elapsed()
    });
    let mut best: Option<(Duration, serde_json::Value, tempfile::TempDir)> = None;
    for _ in 0..3 {
        let t = Instant::now();
        let (summary, data) = import(&config, &file);
        let took = t.elapsed();
        if best.as_ref().is_none_or(|(b, _, _)| took < *b) {
            best = Some((took, summary, data));
        }
    }
    let Some((took, summary, data)) = best else {
        return;
    };
    let vader = vader(&texts_file);
    let index = lauscher_index::MentionIndex::open(&data.path().join("index"), &[])
        .unwrap_or_else(|e| panic!("open index: {e}"));
    let usage = index
        .space_usage()
        .unwrap_or_else(|e| panic!("space usage: {e}"));
    let stored = usage.part("stored");
    let per_sec = n / took.as_secs_f64();
    let r2_per_sec = n / r2.as_secs_f64();
    let rss = summary["peak_rss_bytes"].as_u64().unwrap_or(0);
    println!(
        "\n{} posts, {:.1} MB of text ({:.0} bytes/post); indexed {}, duplicates {}",
        posts.len(),
        raw_bytes as f64 / 1e6,
        raw_bytes as f64 / n,
        summary["indexed"],
        summary["duplicates"]
    );
    println!("\n| measurement | value | ratio |");
    println!("|---|---|---|");
    println!("| R₂ raw pass, 2 threads | {r2_per_sec:.0} posts/s | 1 |");
    println!(
        "| `lauscher import --keep-all`, wall clock incl. start and final commit | {per_sec:.0} posts/s | R₂/{:.0} |",
        r2_per_sec / per_sec
    );
    match vader {
        Some(v) => println!(
            "| Python vaderSentiment, scoring alone, 1 core | {v:.0} posts/s | import = {:.2} × VADER (target ≥ 5) |",
            per_sec / v
        ),
        None => println!("| Python vaderSentiment | skipped (pip install vaderSentiment) | |"),
    }
    println!(
        "| index on disk, {} segments | {:.1} MB | {:.2} × raw text (target ≤ 1.5) |",
        usage.segments,
        usage.total as f64 / 1e6,
        usage.total as f64 / raw_bytes as f64
    );
    println!(
        "| index without the doc store | {:.1} MB | {:.2} × raw text (target ≤ 0.8) |",
        (usage.total - stored) as f64 / 1e6,
        (usage.total - stored) as f64 / raw_bytes as f64
    );
    println!("| peak RSS of the import | {} MiB | |", rss >> 20);
    println!(
        "\nLargest parts of the index:\n\n| part | field | bytes | × raw text |\n|---|---|---|---|"
    );
    let mut parts: Vec<_> = usage.parts.iter().collect();
    parts.sort_by_key(|(_, b)| std::cmp::Reverse(**b));
    for ((part, field), bytes) in parts.into_iter().take(12) {
        println!(
            "| {part} | {field} | {bytes} | {:.2} |",
            *bytes as f64 / raw_bytes as f64
        );
    }
}
