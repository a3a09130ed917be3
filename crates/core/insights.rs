//! `lauscher insights`: the API's insight views, computed locally on the index (a
//! reader only, so it runs beside the daemon), printed as a table, JSON or CSV.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use lauscher_index::MentionIndex;
use lauscher_insights::{Params, View};
use serde_json::Value;

use crate::cli::{InsightsArgs, ReportArgs};
use crate::commands::{load_config, load_rules};

/// The index directory (which must exist), the rules in force, the user's time zone,
/// the report language and the index's retention in days, as both commands need them.
fn prepare(
    config: &std::path::Path,
    data_dir: &std::path::Path,
) -> Result<(
    std::path::PathBuf,
    lauscher_query::RuleSet,
    chrono_tz::Tz,
    lauscher_config::ReportLanguage,
    Option<u32>,
)> {
    let dir = data_dir.join("index");
    if !dir.join("meta.json").exists() {
        bail!(
            "no index in {}: run `lauscher run` or `lauscher import` first",
            data_dir.display()
        );
    }
    let config = load_config(config)?;
    let rules = load_rules(&config)?;
    let alerting = lauscher_daemon::alerting::load(&config, &rules)?;
    let tz = lauscher_daemon::alerting::timezone(alerting.as_ref().map(|(a, _)| a));
    let lang = alerting
        .as_ref()
        .and_then(|(a, _)| a.defaults.language.parse().ok())
        .unwrap_or_default();
    Ok((dir, rules, tz, lang, config.index.retention_days()))
}

/// Runs `lauscher report`.
pub async fn report(args: ReportArgs) -> Result<ExitCode> {
    let format = args.format;
    let (dir, rules, default_tz, default_lang, _) =
        prepare(&args.config.config, &args.data.data_dir)?;
    let lang = args.lang.unwrap_or(default_lang);
    let tz = args.tz.map_or(default_tz, |t| t.0);
    let week = match &args.week {
        Some(w) => w.parse().map_err(anyhow::Error::msg)?,
        None => lauscher_insights::Week::last_complete(Utc::now(), tz),
    };
    let text = tokio::task::spawn_blocking(move || -> Result<String> {
        let index = MentionIndex::open(&dir, &[])
            .with_context(|| format!("cannot open index {}", dir.display()))?;
        lauscher_insights::report(
            &index,
            &rules,
            lauscher_insights::Period::Week(week),
            tz,
            format,
            lang,
        )
        .map_err(anyhow::Error::msg)
    })
    .await??;
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `lauscher insights`.
pub async fn run(args: InsightsArgs) -> Result<ExitCode> {
    let view: View = args.view;
    let (dir, rules, tz, _, retention_days) = prepare(&args.config.config, &args.data.data_dir)?;
    let params = Params {
        topic: args.filters.topic,
        rule: args.filters.rule,
        lang: args.filters.lang,
        source: args.filters.source,
        since: args.filters.since,
        until: args.filters.until,
        label: args.filters.label,
        intent: args.filters.intent,
        interval: args.interval,
        tz: args.tz,
        n: args.n,
        weeks: args.weeks,
        rank: args.rank,
        recur: args.recur,
    };
    let value = tokio::task::spawn_blocking(move || -> Result<Value> {
        let index = MentionIndex::open(&dir, &[])
            .with_context(|| format!("cannot open index {}", dir.display()))?;
        lauscher_insights::run(
            view,
            &index,
            &rules,
            &params,
            (tz, retention_days),
            Utc::now(),
        )
        .map_err(anyhow::Error::msg)
    })
    .await??;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows = table(view, &value);
    if args.csv {
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
            writeln!(out, "{}", cells.join(","))?;
        }
    } else {
        print_aligned(&mut out, &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn num(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_f64() => format!("{:.3}", n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The header and rows of a view.
fn table(view: View, v: &Value) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    match view {
        View::Timeline => {
            rows.push(
                [
                    "topic",
                    "start",
                    "total",
                    "negative",
                    "neutral",
                    "positive",
                    "avg_score",
                ]
                .map(String::from)
                .to_vec(),
            );
            for s in v["series"].as_array().into_iter().flatten() {
                let topic = s["topic"].as_str().unwrap_or("*");
                for b in s["buckets"].as_array().into_iter().flatten() {
                    rows.push(vec![
                        topic.to_owned(),
                        num(&b["start"]),
                        num(&b["total"]),
                        num(&b["negative"]),
                        num(&b["neutral"]),
                        num(&b["positive"]),
                        num(&b["avg_score"]),
                    ]);
                }
            }
        }
        View::ShareOfVoice => {
            rows.push(
                [
                    "topic",
                    "kind",
                    "mentions",
                    "authors",
                    "share",
                    "net",
                    "negative",
                    "Δmentions",
                    "Δshare_pp",
                    "Δnet",
                ]
                .map(String::from)
                .to_vec(),
            );
            for t in v["topics"].as_array().into_iter().flatten() {
                let c = &t["current"];
                rows.push(vec![
                    num(&t["topic"]),
                    num(&t["kind"]),
                    num(&c["mentions"]),
                    num(&c["authors"]),
                    num(&c["share"]),
                    num(&c["net_sentiment"]),
                    num(&c["negative_share"]),
                    num(&t["mentions_change"]),
                    num(&t["share_change_pp"]),
                    num(&t["net_sentiment_change"]),
                ]);
            }
        }
        View::Complaints => {
            rows.push(
                [
                    "phrase",
                    "status",
                    "count",
                    "share",
                    "lift",
                    "weeks",
                    "weekly",
                    "first_seen",
                ]
                .map(String::from)
                .to_vec(),
            );
            for p in v["phrases"]
                .as_array()
                .into_iter()
                .chain(v["fading"].as_array())
                .flatten()
            {
                let weekly: Vec<String> = p["weekly"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(num)
                    .collect();
                rows.push(vec![
                    num(&p["phrase"]),
                    num(&p["status"]),
                    num(&p["count"]),
                    num(&p["share"]),
                    num(&p["lift"]),
                    num(&p["weeks_in_top"]),
                    weekly.join(" "),
                    p["first_seen"]
                        .as_str()
                        .map_or(String::new(), |s| s.chars().take(10).collect()),
                ]);
            }
        }
        View::Top => {
            rows.push(
                ["list", "key", "mentions", "reach"]
                    .map(String::from)
                    .to_vec(),
            );
            for list in [
                "authors_by_volume",
                "authors_by_reach",
                "sources",
                "hashtags",
                "sites",
            ] {
                for e in v[list].as_array().into_iter().flatten() {
                    rows.push(vec![
                        list.to_owned(),
                        num(&e["key"]),
                        num(&e["mentions"]),
                        num(&e["reach"]),
                    ]);
                }
            }
        }
    }
    rows
}

fn csv_cell(c: &str) -> String {
    if c.contains([',', '"', '\n']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c.to_owned()
    }
}

/// Left-aligned text, right-aligned numbers, two spaces between columns.
fn print_aligned(out: &mut impl Write, rows: &[Vec<String>]) -> std::io::Result<()> {
    let cols = rows.first().map_or(0, Vec::len);
    let width: Vec<usize> = (0..cols)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for (n, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let numeric = n > 0 && cell.parse::<f64>().is_ok();
            let pad = width[i] - cell.chars().count();
            if i > 0 {
                line.push_str("  ");
            }
            if numeric {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if i + 1 < row.len() {
                    line.push_str(&" ".repeat(pad));
                }
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}
