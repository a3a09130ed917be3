//! The subcommands, wiring library crates together.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use lauscher_alerts::AlertService;
use lauscher_config::Config;
use lauscher_index::MentionIndex;
use lauscher_pipeline::{
    CommitHook, ImportSummary, Pipeline, PollObserver, import_jsonl, run_sources_observed,
};
use lauscher_query::{ActiveRules, RuleKind, RuleSet};
use lauscher_server::{AlertsApi, ApiState, SearchParams};

use crate::alerting::RunningAlerts;
use lauscher_model::Lang;
use lauscher_telemetry::METRICS;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::cli::{CheckArgs, Cli, Command, ImportArgs, RunArgs, SearchArgs};

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
        Command::Search(args) => search(args).await,
        Command::Check(args) => check(args),
        Command::Score(args) => crate::score::score(args),
        Command::Eval(args) => crate::score::eval(args),
        Command::Backtest(args) => crate::alerting::backtest(args),
        Command::Insights(args) => crate::insights::run(args).await,
        Command::Report(args) => crate::insights::report(args).await,
        Command::Incidents(args) => crate::alerting::incidents(args).await,
        Command::Silences(args) => crate::alerting::silences(args).await,
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
    RuleSet::load_checked(&config.rule_paths(), &config.langs())
        .map_err(|e| anyhow::anyhow!("rules rejected:\n{e}"))
}

/// Re-reads the config file's rule list and the rule files, and swaps the rule set in
/// force when every rule parses and every example passes. Settings other than `rules:`
/// (sources, languages, server, index) take effect at the next start.
#[derive(Clone)]
pub struct Reloader {
    config_path: PathBuf,
    langs: Vec<Lang>,
    rules: Arc<ActiveRules>,
}

impl Reloader {
    fn reload(&self) -> Result<String, String> {
        let config = Config::load(&self.config_path).map_err(|e| e.to_string())?;
        let set =
            RuleSet::load_checked(&config.rule_paths(), &self.langs).map_err(|e| e.to_string())?;
        let topics = set
            .rules()
            .iter()
            .filter(|r| r.kind != RuleKind::Pack)
            .count();
        let summary = format!(
            "{} rules ({topics} topics) from {}",
            set.rules().len(),
            self.config_path.display()
        );
        self.rules.replace(set);
        Ok(summary)
    }

    fn reload_logged(&self, trigger: &str) -> Result<String, String> {
        let result = self.reload();
        let outcome = if result.is_ok() {
            "applied"
        } else {
            "rejected"
        };
        METRICS
            .rule_reloads_total
            .with_label_values(&[outcome])
            .inc();
        METRICS
            .rules_loaded
            .set(self.rules.get().rules().len() as i64);
        match &result {
            Ok(summary) => info!(trigger, %summary, "rules reloaded"),
            Err(problems) => {
                tracing::error!(trigger, %problems, "rules rejected; the previous rules stay in force")
            }
        }
        result
    }
}

async fn run(args: RunArgs) -> Result<ExitCode> {
    let config = load_config(&args.config.config)?;
    let listen = args.listen.unwrap_or(config.server.listen);
    let cancel = CancellationToken::new();
    spawn_signal_handler(cancel.clone());
    Daemon::start(&config, &args.config.config, &args.data.data_dir, listen)
        .await?
        .run(&config, cancel, args.once)
        .await?;
    Ok(ExitCode::SUCCESS)
}

/// The daemon's parts: the pipeline, alerting and the API server beside it.
pub struct Daemon {
    pipeline: Pipeline,
    alerts: Option<RunningAlerts>,
    rules: Arc<ActiveRules>,
    /// Whether `/readyz` answers 200: while sources run, not while starting or draining.
    ready: Arc<AtomicBool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    server_cancel: CancellationToken,
    /// Where the API listens.
    pub addr: SocketAddr,
}

impl Daemon {
    /// Loads the rules, opens the data directory, starts the ingest threads, the API
    /// server and the SIGHUP reload handler. `config_path` is re-read on reload.
    pub async fn start(
        config: &Config,
        config_path: &Path,
        data_dir: &Path,
        listen: SocketAddr,
    ) -> Result<Daemon> {
        let rules = Arc::new(ActiveRules::new(load_rules(config)?));
        METRICS.rules_loaded.set(rules.get().rules().len() as i64);
        let reloader = Reloader {
            config_path: config_path.to_path_buf(),
            langs: config.langs(),
            rules: rules.clone(),
        };
        spawn_reload_handler(reloader.clone());
        let alerting = crate::alerting::load(config, &rules.get())?;
        let timezone = crate::alerting::timezone(alerting.as_ref().map(|(a, _)| a));
        let (alert_handle, alert_inbox) = AlertService::channel();
        let hook: Option<CommitHook> = alerting.as_ref().map(|_| {
            let h = alert_handle.clone();
            Box::new(move |mentions| h.committed(mentions)) as CommitHook
        });
        let pipeline = Pipeline::start_with_hook(config, data_dir, rules.clone(), hook)
            .with_context(|| format!("cannot open data directory {}", data_dir.display()))?;
        let alerts = match alerting {
            Some((alerting, templates)) => Some(RunningAlerts::start(
                alerting,
                templates,
                pipeline.state(),
                pipeline.index(),
                rules.clone(),
                alert_handle,
                alert_inbox,
            )?),
            None => None,
        };
        let (listener, addr) = lauscher_server::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let server_cancel = CancellationToken::new();
        let ready = Arc::new(AtomicBool::new(false));
        let rules_handle = rules.clone();
        let state = ApiState {
            index: pipeline.index(),
            ready: ready.clone(),
            rules: rules.clone(),
            reload: Arc::new(move || reloader.reload_logged("api")),
            alerts: alerts.as_ref().map(|a| AlertsApi {
                state: pipeline.state(),
                handle: a.handle(),
            }),
            timezone,
            push: lauscher_pipeline::push::PushInbox::new(config, pipeline.sender()).map(Arc::new),
        };
        let server = tokio::spawn(lauscher_server::serve(
            listener,
            state,
            lauscher_server::ApiLimits::default(),
            server_cancel.clone(),
        ));
        info!(addr = %addr, "api listening");
        println!("lauscher: api listening on http://{addr}");
        Ok(Daemon {
            pipeline,
            alerts,
            rules: rules_handle,
            ready,
            server,
            server_cancel,
            addr,
        })
    }

    fn poll_observer(&self) -> Option<PollObserver> {
        let handle = self.alerts.as_ref()?.handle();
        Some(Arc::new(move |source: &str, result| {
            handle.polled(source, result)
        }))
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.rules.get()
    }

    /// The index, for summaries.
    pub fn index(&self) -> Arc<MentionIndex> {
        self.pipeline.index()
    }

    /// Polls every source once and commits.
    pub async fn poll_once(&self, config: &Config) -> Result<()> {
        self.ready.store(true, Ordering::Release);
        run_sources_observed(
            config,
            self.pipeline.state(),
            self.pipeline.sender(),
            CancellationToken::new(),
            true,
            self.poll_observer(),
        )
        .await?;
        self.pipeline.flush().await?;
        Ok(())
    }

    /// Runs sources until `cancel` (or one round with `once`), then drains, commits
    /// and stops the server.
    pub async fn run(self, config: &Config, cancel: CancellationToken, once: bool) -> Result<()> {
        let sources = if cancel.is_cancelled() {
            Ok(())
        } else {
            self.ready.store(true, Ordering::Release);
            run_sources_observed(
                config,
                self.pipeline.state(),
                self.pipeline.sender(),
                cancel,
                once,
                self.poll_observer(),
            )
            .await
        };
        self.ready.store(false, Ordering::Release);
        info!("draining");
        let drained = self.pipeline.shutdown().await;
        if let Some(alerts) = self.alerts {
            alerts.stop().await;
        }
        self.server_cancel.cancel();
        let served = self.server.await;
        sources?;
        drained?;
        served
            .context("api server task failed")?
            .context("api server failed")?;
        info!("stopped");
        Ok(())
    }
}

/// Reloads the rules on SIGHUP (Unix only).
fn spawn_reload_handler(reloader: Reloader) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            let r = reloader.clone();
            let _ = tokio::task::spawn_blocking(move || r.reload_logged("SIGHUP")).await;
        }
    });
    #[cfg(not(unix))]
    let _ = reloader;
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
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
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
        import_jsonl(input, &source, keep_all, &sender, |bytes| {
            if let Some(b) = &progress_bar {
                b.set_position(bytes);
            }
        })
    })
    .await
    .context("import reader failed")??;
    pipeline.shutdown().await?;
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
    writeln!(out, "{:.1}s, {:.0} posts/s", elapsed.as_secs_f64(), rate)?;
    Ok(())
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
    let rules = match &f.rule {
        Some(_) => Some(load_rules(&load_config(&args.config.config)?)?),
        None => None,
    };
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
        collapse: args.collapse,
        limit: Some(args.limit),
        offset: None,
    };
    let req = params.into_request().map_err(anyhow::Error::msg)?;
    let page = tokio::task::spawn_blocking(move || -> Result<_> {
        let index = MentionIndex::open(&dir, &[])
            .with_context(|| format!("cannot open index {}", dir.display()))?;
        Ok(index.search(&req, rules.as_ref())?)
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
        match crate::alerting::load(&config, &set) {
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
