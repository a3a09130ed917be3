//! `lauscher score` and `lauscher eval`: the scorer on the command line.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use lauscher_config::Config;
use lauscher_model::Lang;
use lauscher_model::{Contribution, Label};
use lauscher_scorer::eval::{
    ClassScores, Confusion, INTENTS, IntentConfusion, LABELS, LabeledPost, read_labeled,
};
use lauscher_scorer::{Scored, Scorer};
use serde_json::json;

use crate::cli::{EvalArgs, ScoreArgs, ScoringArgs};
use crate::commands::load_config;

/// The config when its file exists, else German and English with defaults.
fn scoring_config(args: &ScoringArgs) -> Result<(Config, Option<Lang>)> {
    let path = &args.config.config;
    let config = if path.exists() {
        load_config(path)?
    } else {
        Config::from_str_named("version: 1\nlanguages: [de, en]\n", "defaults", &|_| None)
            .map_err(|e| anyhow::anyhow!("{e}"))?
    };
    let lang = match &args.lang {
        None => None,
        Some(code) => {
            let lang: Lang = code.parse().map_err(|e| anyhow::anyhow!("--lang: {e}"))?;
            if !config.langs().contains(&lang) {
                bail!("--lang {code}: not among the configured languages");
            }
            Some(lang)
        }
    };
    Ok((config, lang))
}

fn scored_json(text: &str, s: &Scored) -> serde_json::Value {
    json!({
        "text": text,
        "lang": s.lang.code(),
        "score": s.sentiment.score,
        "label": s.sentiment.label,
        "intent": s.intent.intent,
        "intent_cues": s.intent.cues,
        "explanation": s.sentiment.explanation,
    })
}

fn cues(explanation: &[Contribution]) -> String {
    explanation
        .iter()
        .map(|c| format!("{} {:+.2}", c.cue, c.weight))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `lauscher score`.
pub fn score(args: ScoreArgs) -> Result<ExitCode> {
    let (config, lang) = scoring_config(&args.scoring)?;
    let scorer = Scorer::new(&config);
    let mut out = std::io::stdout().lock();
    if args.text != "-" {
        let s = scorer.score_text(&args.text, lang, None);
        if args.scoring.json {
            writeln!(out, "{}", scored_json(&args.text, &s))?;
        } else {
            writeln!(out, "lang      {}", s.lang.code())?;
            writeln!(
                out,
                "sentiment {} ({:+.3})",
                s.sentiment.label, s.sentiment.score
            )?;
            writeln!(
                out,
                "intent    {}{}",
                s.intent.intent,
                if s.intent.cues.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", s.intent.cues.join(", "))
                }
            )?;
            if s.sentiment.explanation.is_empty() {
                writeln!(out, "because   no cue fired")?;
            }
            for (i, c) in s.sentiment.explanation.iter().enumerate() {
                let head = if i == 0 { "because  " } else { "         " };
                writeln!(out, "{head} {:+.2}  {}", c.weight, c.cue)?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        let s = scorer.score_text(&line, lang, None);
        if args.scoring.json {
            writeln!(out, "{}", scored_json(&line, &s))?;
        } else {
            writeln!(
                out,
                "{}\t{:+.3}\t{}\t{}\t{}",
                s.sentiment.label,
                s.sentiment.score,
                s.intent.intent,
                s.lang.code(),
                line
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `lauscher eval`.
pub fn eval(args: EvalArgs) -> Result<ExitCode> {
    let (config, forced) = scoring_config(&args.scoring)?;
    let scorer = Scorer::new(&config);
    let (name, posts, skipped) = if args.corrections {
        let posts = corrected_posts(&args.data_dir)?;
        if posts.is_empty() {
            bail!(
                "no corrections in {}: agents correct items with `lauscher desk correct ID --label ... --intent ...`",
                args.data_dir.display()
            );
        }
        ("corrections".to_owned(), posts, Vec::new())
    } else {
        let file = args.file.clone().unwrap_or_default();
        let name = file.display().to_string();
        let reader: Box<dyn BufRead> = if name == "-" {
            Box::new(BufReader::new(std::io::stdin()))
        } else {
            Box::new(BufReader::new(
                File::open(&file).with_context(|| format!("{name}: cannot open"))?,
            ))
        };
        let (posts, skipped) = read_labeled(reader).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        (name, posts, skipped)
    };
    for s in &skipped {
        eprintln!("{name}:{}: skipped: {}", s.line, s.reason);
    }
    if posts.is_empty() {
        bail!("{name}: no labeled rows");
    }
    let langs = config.langs();
    let started = Instant::now();
    let scored: Vec<Scored> = posts
        .iter()
        .map(|p| {
            let lang = forced.or_else(|| p.lang.parse().ok().filter(|l| langs.contains(l)));
            scorer.score_text(&p.text, lang, None)
        })
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    let posts_per_sec = posts.len() as f64 / elapsed.max(1e-9);
    let mut all = Confusion::default();
    let mut intents = IntentConfusion::default();
    let mut per_lang: BTreeMap<String, Confusion> = BTreeMap::new();
    for (p, s) in posts.iter().zip(&scored) {
        all.add(p.label, s.sentiment.label);
        intents.add(p.intent, p.label, s.intent.intent);
        per_lang
            .entry(s.lang.code().to_owned())
            .or_default()
            .add(p.label, s.sentiment.label);
    }
    let mut out = std::io::stdout().lock();
    if args.scoring.json {
        let report = all.report();
        let doc = json!({
            "n": report.n,
            "accuracy": report.accuracy,
            "macro_f1": report.macro_f1,
            "per_class": report.per_class,
            "confusion": report.confusion,
            "per_lang": per_lang.iter().map(|(l, c)| (l.clone(), c.report())).collect::<BTreeMap<_, _>>(),
            "intent": intents.report(),
            "posts_per_sec": posts_per_sec,
            "skipped": skipped,
        });
        writeln!(out, "{doc}")?;
    } else {
        print_confusion(&mut out, &name, &all)?;
        print_intents(&mut out, &intents)?;
        writeln!(
            out,
            "speed: {posts_per_sec:.0} posts/s ({} posts in {elapsed:.2}s, one thread)",
            posts.len()
        )?;
        if per_lang.len() > 1 {
            for (lang, c) in &per_lang {
                writeln!(out)?;
                print_confusion(&mut out, &format!("lang {lang}"), c)?;
            }
        }
        if !skipped.is_empty() {
            writeln!(out, "skipped: {} rows (see standard error)", skipped.len())?;
        }
    }
    if args.corrections {
        print!("{}", propose_lexicon(&posts, &scored));
    }
    let mut shown = 0;
    for (p, s) in posts.iter().zip(&scored) {
        if shown >= args.mistakes {
            break;
        }
        if p.label != s.sentiment.label {
            shown += 1;
            eprintln!(
                "{}\tgold {}\tpredicted {} ({:+.2})\t{}\t[{}]",
                p.id,
                p.label,
                s.sentiment.label,
                s.sentiment.score,
                p.text,
                cues(&s.sentiment.explanation)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_intents(out: &mut impl Write, c: &IntentConfusion) -> Result<()> {
    let given: Vec<String> = INTENTS
        .iter()
        .enumerate()
        .map(|(i, intent)| format!("{intent} {}", c.given[i]))
        .collect();
    writeln!(out, "intents given: {}", given.join(", "))?;
    let k = c.complaint_of_negative();
    writeln!(
        out,
        "complaint as a detector of negative posts: precision {:.3}  recall {:.3}  F1 {:.3}",
        k.precision, k.recall, k.f1
    )?;
    if c.labelled() == 0 {
        return Ok(());
    }
    writeln!(
        out,
        "intent: n {}  macro-F1 {:.3}",
        c.labelled(),
        c.macro_f1()
    )?;
    let rows: Vec<(&str, ClassScores, &[u64])> = INTENTS
        .iter()
        .enumerate()
        .map(|(i, intent)| (intent.as_str(), c.class(*intent), c.matrix[i].as_slice()))
        .collect();
    print_classes(out, "com que pra oth", &rows)?;
    Ok(())
}

/// One row per class: precision, recall, F1, support and its row of the confusion
/// matrix under `columns` (the predicted classes' short names).
fn print_classes(
    out: &mut impl Write,
    columns: &str,
    rows: &[(&str, ClassScores, &[u64])],
) -> Result<()> {
    writeln!(
        out,
        "  {:<9} {:>9} {:>7} {:>6} {:>8}   confusion: predicted {columns}",
        "", "precision", "recall", "F1", "support"
    )?;
    for (name, s, counts) in rows {
        let counts: Vec<String> = counts.iter().map(|n| format!("{n:>3}")).collect();
        writeln!(
            out,
            "  {:<9} {:>9.3} {:>7.3} {:>6.3} {:>8}   {:21}{}",
            name,
            s.precision,
            s.recall,
            s.f1,
            s.support,
            "",
            counts.join(" ")
        )?;
    }
    Ok(())
}

fn print_confusion(out: &mut impl Write, title: &str, c: &Confusion) -> Result<()> {
    writeln!(
        out,
        "{title}: n {}  accuracy {:.3}  macro-F1 {:.3}",
        c.n(),
        c.accuracy(),
        c.macro_f1()
    )?;
    let rows: Vec<(&str, ClassScores, &[u64])> = LABELS
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), c.class(*l), c.matrix[i].as_slice()))
        .collect();
    print_classes(out, "neg neu pos", &rows)?;
    Ok(())
}

/// The posts agents corrected in the service desk, with the corrected label (else the
/// scorer's at the time) and intent; the text from the index, else the item's snippet.
fn corrected_posts(data_dir: &std::path::Path) -> Result<Vec<LabeledPost>> {
    let path = data_dir.join("state.db");
    if !path.exists() {
        bail!("no state store in {}", data_dir.display());
    }
    let state = lauscher_state::StateStore::open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let index_dir = data_dir.join("index");
    let index = if index_dir.join("meta.json").exists() {
        lauscher_index::MentionIndex::open(&index_dir, &[]).ok()
    } else {
        None
    };
    let mut out = Vec::new();
    for row in state.desk_items_with_action("corrected")? {
        let item: lauscher_desk::Item = serde_json::from_str(&row.body)
            .with_context(|| format!("desk item {}: unreadable", row.id))?;
        if item.corrected_label.is_none() && item.corrected_intent.is_none() {
            continue;
        }
        let text = index
            .as_ref()
            .and_then(|i| i.get(item.post.mention).ok().flatten())
            .map(|m| match m.title {
                Some(t) if !t.is_empty() => format!("{t}\n{}", m.text),
                _ => m.text,
            })
            .unwrap_or_else(|| item.post.snippet.clone());
        out.push(LabeledPost {
            id: item.post.mention.to_string(),
            lang: item.post.lang.clone(),
            label: item.label(),
            intent: item.corrected_intent,
            text,
        });
    }
    Ok(out)
}

/// User-lexicon entries the corrections suggest: words in at least two posts the scorer
/// got wrong with the same corrected label, in no post corrected to the opposite label,
/// and not yet moving the score. Printed as a lexicon file per language, for review.
fn propose_lexicon(posts: &[LabeledPost], scored: &[Scored]) -> String {
    use std::collections::BTreeSet;
    use std::fmt::Write;
    let words = |t: &str| -> BTreeSet<String> {
        t.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 4 && w.chars().all(char::is_alphabetic))
            .map(str::to_lowercase)
            .collect()
    };
    // (lang, word) -> (wrong posts per gold label, posts of any label per label)
    let mut wrong: BTreeMap<(String, String, &'static str), usize> = BTreeMap::new();
    let mut seen: BTreeMap<(String, String, &'static str), usize> = BTreeMap::new();
    for (p, s) in posts.iter().zip(scored) {
        let lang = s.lang.code().to_owned();
        let cues: BTreeSet<String> = s
            .sentiment
            .explanation
            .iter()
            .map(|c| c.cue.to_lowercase())
            .collect();
        for w in words(&p.text) {
            if cues.iter().any(|c| c.contains(&w)) {
                continue;
            }
            *seen
                .entry((lang.clone(), w.clone(), p.label.as_str()))
                .or_default() += 1;
            if s.sentiment.label != p.label && p.label != Label::Neutral {
                *wrong
                    .entry((lang.clone(), w, p.label.as_str()))
                    .or_default() += 1;
            }
        }
    }
    let mut by_lang: BTreeMap<String, Vec<(String, f32, usize)>> = BTreeMap::new();
    for ((lang, w, label), n) in wrong {
        let opposite = if label == "negative" {
            "positive"
        } else {
            "negative"
        };
        if n < 2 || seen.contains_key(&(lang.clone(), w.clone(), opposite)) {
            continue;
        }
        let weight = if label == "negative" { -1.5 } else { 1.5 };
        by_lang.entry(lang).or_default().push((w, weight, n));
    }
    let mut out = String::new();
    if by_lang.is_empty() {
        out.push_str(
            "\nno lexicon entries to propose (a word must explain at least two corrected posts)\n",
        );
        return out;
    }
    for (lang, entries) in by_lang {
        let _ = writeln!(
            out,
            "\n# proposed user lexicon ({lang}) from corrected posts; review before adding\nversion: 1\nlang: {lang}\nwords:"
        );
        for (w, weight, n) in entries {
            let _ = writeln!(out, "  {w}: {weight}   # {n} corrected posts");
        }
    }
    out
}
