//! Alerting in the daemon, and the `incidents`, `silences` and `backtest` commands.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use lauscher_config::AlertingConfig;
use lauscher_index::MentionIndex;
use lauscher_query::RuleSet;
use lauscher_state::StateStore;

use crate::cli::{BacktestArgs, IncidentsArgs, IncidentsCommand, SilencesArgs, SilencesCommand};
use crate::commands::load_config;
use lauscher_daemon::alerting::REBUILD_DAYS;

/// Streams that opened more incidents in the last 90 days than their rule's budget
/// allows, from the state store in `data_dir` (none when there is none).
pub fn budget_warnings(alerting: &AlertingConfig, data_dir: &Path) -> Result<Vec<String>> {
    let path = data_dir.join("state.db");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let state =
        StateStore::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let since = Utc::now().timestamp() - 90 * 86_400;
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for key in state.incidents_opened_since(since)? {
        *counts.entry(key).or_default() += 1;
    }
    let mut out = Vec::new();
    for ((rule, topic), n) in counts {
        let Some(r) = alerting.rules.iter().find(|r| r.id == rule) else {
            continue;
        };
        let allowed = r.budget(&alerting.defaults).per_90d();
        if n as f64 > allowed {
            out.push(format!(
                "alert rule {rule:?} on topic {topic:?} opened {n} incidents in the last 90 days; its budget allows {allowed:.1} (check them with `lauscher backtest --rule {rule}`, raise min_count or the budget's horizon if they were noise)"
            ));
        }
    }
    Ok(out)
}

/// `lauscher backtest`.
pub fn backtest(args: BacktestArgs) -> Result<ExitCode> {
    let config = load_config(&args.config.config)?;
    let rules = RuleSet::load(&config.rule_paths(), &config.langs())
        .map_err(|e| anyhow::anyhow!("rules rejected:\n{e}"))?;
    let Some((alerting, templates)) = lauscher_daemon::alerting::load(&config, &rules)? else {
        bail!("the config names no alerting file (alerts: alerts.yaml)");
    };
    if let Some(rule) = &args.rule
        && !alerting.rules.iter().any(|r| &r.id == rule)
    {
        bail!("no alert rule {rule:?}");
    }
    let now = Utc::now();
    let since = lauscher_index::parse_time(&args.since, now).map_err(|e| anyhow::anyhow!(e))?;
    let until = match &args.until {
        Some(u) => lauscher_index::parse_time(u, now).map_err(|e| anyhow::anyhow!(e))?,
        None => now,
    };
    let dir = args.data.data_dir.join("index");
    if !dir.join("meta.json").exists() {
        bail!(
            "no index in {}: run `lauscher run` or `lauscher import` first",
            args.data.data_dir.display()
        );
    }
    let index = MentionIndex::open(&dir, &[])
        .with_context(|| format!("cannot open the index in {}", args.data.data_dir.display()))?;
    let warmup = since - chrono::Duration::days(REBUILD_DAYS);
    let mentions = index.summaries(warmup, until)?;
    let report = lauscher_alerts::backtest(
        alerting,
        templates,
        mentions,
        args.rule.as_deref(),
        since.timestamp(),
        until.timestamp(),
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let days = ((until - since).num_seconds() as f64 / 86_400.0).max(1.0 / 24.0);
    println!(
        "{} mentions replayed; {} incidents from {} to {} ({:.2} per 90 days)",
        report.mentions,
        report.incidents.len(),
        since.format("%Y-%m-%d %H:%M"),
        until.format("%Y-%m-%d %H:%M"),
        report.incidents.len() as f64 * 90.0 / days
    );
    for s in &report.streams {
        let level = s.calibration.as_ref().map_or_else(
            || "no history of its own yet".to_owned(),
            |c| {
                format!(
                    "level set from {:.0} days of its own history ({} bursts)",
                    c.days, c.episodes
                )
            },
        );
        println!(
            "{} {:<24} {:<24} would page {:.1} times per 90 days (budget {:.1}); {level}",
            if s.over_budget { "OVER" } else { "ok  " },
            s.rule,
            s.topic,
            s.per_90d,
            s.budget_per_90d,
        );
    }
    for i in &report.incidents {
        let at = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M").to_string())
        };
        println!(
            "{}  {:<24} {:<24} level {}  peak {:>4}  observed {:>4} expected {:>7.2}  p {:.1e}  {}{}",
            at(i.opened_at),
            i.rule,
            i.topic,
            i.level,
            i.peak,
            i.evidence.observed,
            i.evidence.expected,
            i.evidence.p_value,
            i.status.as_str(),
            i.resolved_at
                .map_or_else(String::new, |r| format!(" at {}", at(r))),
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn api_base(config_path: &Path, api: Option<&str>) -> Result<String> {
    if let Some(a) = api {
        return Ok(a.trim_end_matches('/').to_owned());
    }
    let listen = load_config(config_path)
        .map(|c| c.server.listen)
        .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 7700)));
    Ok(format!("http://{listen}"))
}

pub(crate) async fn call(req: reqwest::RequestBuilder) -> Result<serde_json::Value> {
    // Once the daemon has tokens, commands send the one in LAUSCHER_TOKEN.
    let req = match std::env::var("LAUSCHER_TOKEN") {
        Ok(t) if !t.trim().is_empty() => req.bearer_auth(t.trim()),
        _ => req,
    };
    let resp = req
        .send()
        .await
        .context("cannot reach the daemon's API (is `lauscher run` up?)")?;
    let status = resp.status();
    // Our own API, but read bounded anyway (16 MiB is far above any answer).
    let mut resp = resp;
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.context("reading the API's answer")? {
        buf.extend_from_slice(&chunk);
        if buf.len() > 16 << 20 {
            bail!("the API's answer is too large");
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let body: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        let msg = body
            .get("error")
            .and_then(|e| e.as_str())
            .unwrap_or("request failed");
        bail!("{msg} (HTTP {})", status.as_u16());
    }
    Ok(body)
}

pub(crate) fn who() -> String {
    std::env::var("USER").unwrap_or_else(|_| "cli".into())
}

/// `lauscher incidents ...`: talks to the running daemon's API.
pub async fn incidents(args: IncidentsArgs) -> Result<ExitCode> {
    let base = api_base(&args.config.config, args.api.as_deref())?;
    let client = reqwest::Client::new();
    let body = match &args.command {
        IncidentsCommand::List { status } => {
            let query = status
                .as_ref()
                .map_or_else(String::new, |s| format!("?status={s}"));
            call(client.get(format!("{base}/api/v1/incidents{query}"))).await?
        }
        IncidentsCommand::Show { id } => {
            call(client.get(format!("{base}/api/v1/incidents/{id}"))).await?
        }
        IncidentsCommand::Ack { id, by } => {
            call(
                client
                    .post(format!("{base}/api/v1/incidents/{id}/ack"))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(serde_json::json!({"by": by.clone().unwrap_or_else(who)}).to_string()),
            )
            .await?
        }
        IncidentsCommand::Resolve { id, by } => {
            call(
                client
                    .post(format!("{base}/api/v1/incidents/{id}/resolve"))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(serde_json::json!({"by": by.clone().unwrap_or_else(who)}).to_string()),
            )
            .await?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    let line = |i: &serde_json::Value| {
        format!(
            "#{:<4} {:<12} level {}  {:<24} {:<24} observed {} expected {:.1}",
            i["id"],
            i["status"].as_str().unwrap_or(""),
            i["level"],
            i["rule"].as_str().unwrap_or(""),
            i["topic"].as_str().unwrap_or(""),
            i["evidence"]["observed"],
            i["evidence"]["expected"].as_f64().unwrap_or(0.0),
        )
    };
    match &args.command {
        IncidentsCommand::List { .. } => {
            let list = body["incidents"].as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no incidents");
            }
            for i in &list {
                println!("{}", line(i));
            }
        }
        IncidentsCommand::Show { .. } => {
            println!("{}", line(&body));
            for t in body["timeline"].as_array().cloned().unwrap_or_default() {
                println!(
                    "  {}  v{}  {:<16} {}",
                    t["at"].as_str().unwrap_or(""),
                    t["version"],
                    t["event"].as_str().unwrap_or(""),
                    t["detail"]
                );
            }
            for n in body["notifications"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                println!(
                    "  -> {:<16} v{} {:<14} {:<10} attempts {} {}",
                    n["receiver"].as_str().unwrap_or(""),
                    n["version"],
                    n["event"].as_str().unwrap_or(""),
                    n["status"].as_str().unwrap_or(""),
                    n["attempts"],
                    n["last_error"].as_str().unwrap_or("")
                );
            }
        }
        _ => println!("{}", line(&body)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `lauscher silences ...`.
pub async fn silences(args: SilencesArgs) -> Result<ExitCode> {
    let base = api_base(&args.config.config, args.api.as_deref())?;
    let client = reqwest::Client::new();
    let body = match &args.command {
        SilencesCommand::List => call(client.get(format!("{base}/api/v1/silences"))).await?,
        SilencesCommand::Add {
            matchers,
            duration,
            comment,
            by,
        } => {
            call(
                client
                    .post(format!("{base}/api/v1/silences"))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(
                        serde_json::json!({
                            "matchers": matchers,
                            "duration": duration,
                            "comment": comment.clone().unwrap_or_default(),
                            "created_by": by.clone().unwrap_or_else(who),
                        })
                        .to_string(),
                    ),
            )
            .await?
        }
        SilencesCommand::Expire { id } => {
            call(client.delete(format!("{base}/api/v1/silences/{id}"))).await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(ExitCode::SUCCESS)
}
