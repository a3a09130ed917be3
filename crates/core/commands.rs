//! The subcommands, wiring library crates together.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use lauscher_config::Config;
use lauscher_index::MentionIndex;
use lauscher_pipeline::explain::Explainer;
use lauscher_pipeline::{ImportSummary, Pipeline, import_jsonl};
use lauscher_query::{ActiveRules, RuleKind, RuleSet};
use lauscher_server::SearchParams;

use lauscher_model::Lang;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::cli::{CheckArgs, Cli, Command, ImportArgs, ReindexArgs, RunArgs, SearchArgs};

/// Runs the parsed command line.
pub async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let default_level = match cli.command {
        Command::Run(_) | Command::Demo(_) => "info",
        _ => "warn",
    };
    init_logging(cli.log.as_deref().unwrap_or(default_level));
    match cli.command {
        Command::Run(args) => run(args).await,
        Command::Demo(args) => crate::demo::run(args).await,
        Command::Import(args) => import(args).await,
        Command::Reindex(args) => reindex(args).await,
        Command::Search(args) => search(args).await,
        Command::Check(args) => check(args),
        Command::Score(args) => crate::score::score(args),
        Command::Eval(args) => crate::score::eval(args),
        Command::Backtest(args) => crate::alerting::backtest(args),
        Command::Insights(args) => crate::insights::run(args).await,
        Command::Report(args) => crate::insights::report(args).await,
        Command::Incidents(args) => crate::alerting::incidents(args).await,
        Command::Silences(args) => crate::alerting::silences(args).await,
        Command::Desk(args) => crate::desk::desk(args).await,
        Command::Token(args) => crate::desk::token(args),
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

pub fn load_config(path: &Path) -> Result<Config> {
    // The error already names file:line:col and shows the line.
    Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Loads the config's rule files and runs their examples, as the daemon accepts them.
pub fn load_rules(config: &Config) -> Result<RuleSet> {
    Ok(lauscher_daemon::load_rules(config)?)
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let config = load_config(&args.config.config)?;
    let listen = args.listen.unwrap_or(config.server.listen);
    let cancel = CancellationToken::new();
    spawn_signal_handler(cancel.clone());
    lauscher_daemon::Daemon::start(&config, &args.config.config, &args.data.data_dir, listen)
        .await?
        .run(&config, cancel, args.once)
        .await?;
    Ok(ExitCode::SUCCESS)
}

fn spawn_signal_handler(cancel: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        info!("shutdown requested");
        cancel.cancel();
    });
}

async fn import(args: ImportArgs) -> Result<ExitCode> {
    let config = load_config(&args.config.config)?;
    let rules = Arc::new(ActiveRules::new(load_rules(&config)?));
    let pipeline = Pipeline::start(&config, &args.data.data_dir, rules).with_context(|| {
        format!(
            "cannot open data directory {}",
            args.data.data_dir.display()
        )
    })?;
    // The segments the import writes are merged at its end, one per 128 MiB of files
    // (lauscher_index's `merge` module: a smaller index, fewer segments to read).
    let index = pipeline.index();
    let before = index
        .segments()
        .with_context(|| format!("cannot read {}", args.data.data_dir.display()))?;
    let sender = pipeline.sender();
    let (input, total_bytes): (Box<dyn BufRead + Send>, u64) = if args.file.as_os_str() == "-" {
        (Box::new(std::io::BufReader::new(std::io::stdin())), 0)
    } else {
        let file = std::fs::File::open(&args.file)
            .with_context(|| format!("cannot open {}", args.file.display()))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        (
            Box::new(std::io::BufReader::with_capacity(1 << 20, file)),
            len,
        )
    };
    let bar = (std::io::stderr().is_terminal() && total_bytes > 0).then(|| {
        let bar = indicatif::ProgressBar::new(total_bytes);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {msg} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let progress_bar = bar.clone();
    let source = args.source.clone();
    let keep_all = args.keep_all;
    let started = std::time::Instant::now();
    let (mut summary, acks) = tokio::task::spawn_blocking(move || {
        import_jsonl(input, &source, keep_all, &sender, |bytes, posts| {
            if let Some(b) = &progress_bar {
                b.set_position(bytes);
                let rate = posts as f64 / started.elapsed().as_secs_f64().max(1e-9);
                b.set_message(format!("{rate:.0} posts/s"));
            }
        })
    })
    .await
    .context("import reader failed")??;
    pipeline.shutdown().await?;
    if let Some(b) = &bar {
        b.set_message("merging the imported segments");
    }
    let merging = std::time::Instant::now();
    let merged = tokio::task::spawn_blocking(move || index.merge_since(&before))
        .await
        .context("merge failed")?;
    match merged {
        Ok(m) => info!(
            segments = m.segments,
            bytes = m.bytes,
            segments_after = m.segments_after,
            bytes_after = m.bytes_after,
            took_ms = merging.elapsed().as_millis() as u64,
            "imported segments merged"
        ),
        // Everything is committed already: the index is whole, only larger.
        Err(e) => warn!(error = %e, "the imported segments were not merged"),
    }
    for ack in acks {
        if let Ok(report) = ack.await {
            summary.indexed += report.indexed;
            summary.duplicates += report.duplicates;
            summary.unmatched += report.unmatched;
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    print_import_summary(&summary, started.elapsed(), args.json)?;
    Ok(ExitCode::SUCCESS)
}

async fn reindex(args: ReindexArgs) -> Result<ExitCode> {
    let index_dir = lauscher_pipeline::reindex::index_dir(&args.data.data_dir);
    // Only a writer lock held elsewhere means a daemon: an index that does not open is
    // reported by the offline rebuild, at its path.
    let held =
        lauscher_index::MentionDump::open(&index_dir).is_ok_and(|d| d.hold_writer_lock().is_err());
    if held {
        // A daemon writes the index: it rebuilds online and keeps serving meanwhile.
        return rebuild_online(&args).await;
    }
    let config = load_config(&args.config.config)?;
    let rules = Arc::new(ActiveRules::new(load_rules(&config)?));
    let bar = mentions_bar();
    let progress_bar = bar.clone();
    let data_dir = args.data.data_dir.clone();
    let summary = tokio::task::spawn_blocking(move || {
        lauscher_pipeline::reindex::reindex(&config, &data_dir, rules, |done, total| {
            if let Some(b) = &progress_bar {
                b.set_length(total);
                b.set_position(done);
            }
        })
    })
    .await
    .context("reindex failed")?
    .with_context(|| format!("cannot reindex {}", args.data.data_dir.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let rate = summary.mentions as f64 / summary.elapsed.as_secs_f64().max(1e-9);
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::json!({
            "mentions": summary.mentions, "from_layout": summary.from_layout,
            "layout": lauscher_index::SCHEMA_VERSION,
            "previous": summary.previous.display().to_string(),
            "seconds": summary.elapsed.as_secs_f64(), "mentions_per_sec": rate,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(
            out,
            "reindexed {} mentions (layout {} -> {}) in {:.1}s, {:.0}/s; the old index is in {}",
            summary.mentions,
            summary.from_layout,
            lauscher_index::SCHEMA_VERSION,
            summary.elapsed.as_secs_f64(),
            rate,
            summary.previous.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar over mentions (rate and ETA) when stderr is a terminal.
fn mentions_bar() -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {human_pos}/{human_len} mentions, {per_sec}, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    })
}

/// Asks the running daemon to rebuild its index online and follows its progress.
async fn rebuild_online(args: &ReindexArgs) -> Result<ExitCode> {
    let base = crate::alerting::api_base(&args.config.config, args.api.as_deref())?;
    let url = format!("{base}/api/v1/index/rebuild");
    let client = reqwest::Client::new();
    eprintln!(
        "a daemon holds the index: asking it to rebuild online ({url}); it keeps serving meanwhile"
    );
    crate::alerting::call(client.post(&url)).await?;
    let bar = mentions_bar();
    let status = loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let status = crate::alerting::call(client.get(&url)).await?;
        if let Some(b) = &bar {
            b.set_length(status["total"].as_u64().unwrap_or(0));
            b.set_position(status["done"].as_u64().unwrap_or(0));
        }
        if status["state"] != "running" {
            break status;
        }
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if status["state"] != "done" {
        anyhow::bail!(
            "the daemon's rebuild failed: {}; its old index stays in force",
            status["error"].as_str().unwrap_or("unknown error")
        );
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{status}")?;
    } else {
        writeln!(
            out,
            "the daemon rebuilt {} mentions online (and copied {} changes made meanwhile); the old index is in {}",
            status["done"],
            status["copied"],
            args.data.data_dir.join("index.previous").display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_import_summary(s: &ImportSummary, elapsed: std::time::Duration, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let rate = s.read as f64 / elapsed.as_secs_f64().max(1e-9);
    if json {
        let rejected: Vec<_> = s
            .rejected
            .iter()
            .map(|(line, reason)| serde_json::json!({"line": line, "reason": reason}))
            .collect();
        let v = serde_json::json!({
            "read": s.read, "indexed": s.indexed, "duplicates": s.duplicates, "unmatched": s.unmatched,
            "rejected": s.rejected_total, "rejected_lines": rejected,
            "seconds": elapsed.as_secs_f64(), "posts_per_sec": rate,
            "peak_rss_bytes": peak_rss_bytes(),
        });
        writeln!(out, "{v}")?;
        return Ok(());
    }
    writeln!(out, "read        {:>9}", s.read)?;
    writeln!(out, "indexed     {:>9}", s.indexed)?;
    writeln!(out, "duplicates  {:>9}", s.duplicates)?;
    writeln!(
        out,
        "unmatched   {:>9}  (no topic matched; --keep-all indexes them)",
        s.unmatched
    )?;
    writeln!(out, "rejected    {:>9}", s.rejected_total)?;
    for (line, reason) in &s.rejected {
        writeln!(out, "  line {line}: {reason}")?;
    }
    if s.rejected_total > s.rejected.len() {
        writeln!(
            out,
            "  ... and {} more",
            s.rejected_total - s.rejected.len()
        )?;
    }
    write!(out, "{:.1}s, {:.0} posts/s", elapsed.as_secs_f64(), rate)?;
    match peak_rss_bytes() {
        Some(b) => writeln!(out, ", peak memory {} MiB", b >> 20)?,
        None => writeln!(out)?,
    }
    Ok(())
}

/// The process's peak resident memory (Linux `VmHWM`), where the system tells.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

async fn search(args: SearchArgs) -> Result<ExitCode> {
    let dir = args.data.data_dir.join("index");
    if !dir.join("meta.json").exists() {
        bail!(
            "no index in {}: run `lauscher run` or `lauscher import` first",
            args.data.data_dir.display()
        );
    }
    let f = args.filters;
    // JSON hits carry the cues behind their analysis, computed again with the config's
    // scorer and rules (the index keeps none); without a config they go out without.
    let explain = args.json && args.config.config.exists();
    let config = match f.rule.is_some() || explain {
        true => Some(load_config(&args.config.config)?),
        false => None,
    };
    let rules = match &config {
        Some(c) => Some(load_rules(c)?),
        None => None,
    };
    let explainer = match &config {
        Some(c) if explain => Some(Explainer::for_config(c)),
        _ => None,
    };
    if args.json && explainer.is_none() {
        eprintln!(
            "no config at {}: hits are printed without the cues behind their analysis",
            args.config.config.display()
        );
    }
    let params = SearchParams {
        q: args.query,
        rule: f.rule,
        since: f.since,
        until: f.until,
        topic: f.topic,
        lang: f.lang,
        source: f.source,
        label: f.label,
        intent: f.intent,
        phrase: args.phrase,
        collapse: args.collapse,
        limit: Some(args.limit),
        offset: None,
    };
    let req = params.into_request().map_err(anyhow::Error::msg)?;
    let page = tokio::task::spawn_blocking(move || -> Result<_> {
        let index = MentionIndex::open(&dir, &[])
            .with_context(|| format!("cannot open index {}", dir.display()))?;
        let mut page = index.search(&req, rules.as_ref())?;
        if let (Some(explainer), Some(rules)) = (explainer, &rules) {
            explainer.explain_page(&mut page, rules);
        }
        Ok(page)
    })
    .await??;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &page)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{} mentions", page.total)?;
    for h in &page.hits {
        let text: String = h.text.chars().take(160).collect();
        writeln!(
            out,
            "{}  {:<8} {:>5.2} {:<9} {:<3} {:<12} {}",
            h.published_at.format("%Y-%m-%d %H:%M"),
            h.label,
            h.sentiment,
            h.intent,
            h.lang,
            h.topics.join(","),
            h.author.as_deref().unwrap_or("-")
        )?;
        writeln!(out, "    {text}")?;
        if let Some(url) = &h.url {
            writeln!(out, "    {url}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let config_path = &args.config.config;
    let (paths, langs) = if args.rules.is_empty() || config_path.exists() {
        match Config::load(config_path) {
            Ok(c) => {
                println!(
                    "{}: ok ({} sources, languages {})",
                    config_path.display(),
                    c.sources.len(),
                    c.languages.join(", ")
                );
                let paths = if args.rules.is_empty() {
                    c.rule_paths()
                } else {
                    args.rules.clone()
                };
                (paths, c.langs())
            }
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(1));
            }
        }
    } else {
        (args.rules.clone(), vec![Lang::De, Lang::En])
    };
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let set = match RuleSet::load(&paths, &langs) {
        Ok(set) => set,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    let failures = set.check_examples();
    let examples: usize = set
        .rules()
        .iter()
        .map(|r| r.examples.must_match.len() + r.examples.no_match.len())
        .sum();
    let topics = set
        .rules()
        .iter()
        .filter(|r| r.kind != RuleKind::Pack)
        .count();
    for f in &failures {
        eprintln!("{f}");
    }
    if !failures.is_empty() {
        eprintln!(
            "{}: {} of {examples} examples failed",
            shown.join(", "),
            failures.len()
        );
        return Ok(ExitCode::from(1));
    }
    let untested: Vec<&str> = set
        .rules()
        .iter()
        .filter(|r| r.examples.must_match.is_empty())
        .map(|r| r.id.as_str())
        .collect();
    println!(
        "{}: ok ({} rules: {topics} topics, {} packs; {examples} examples pass)",
        shown.join(", "),
        set.rules().len(),
        set.rules().len() - topics,
    );
    if !untested.is_empty() {
        println!(
            "note: rules without a `match` example: {}",
            untested.join(", ")
        );
    }
    if let Ok(config) = Config::load(config_path)
        && let Some(path) = config.alerts_path()
    {
        match lauscher_daemon::alerting::load(&config, &set) {
            Ok(Some((a, _))) => {
                println!(
                    "{}: ok ({} alert rules, {} receivers)",
                    path.display(),
                    a.rules.len(),
                    a.receivers.len()
                );
                for warning in crate::alerting::budget_warnings(&a, &args.data.data_dir)? {
                    println!("warning: {warning}");
                }
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
