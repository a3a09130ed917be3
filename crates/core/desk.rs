//! `lauscher desk ...`: the service desk of the running daemon, through its API.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Value, json};

use crate::alerting::{api_base, call, who};
use crate::cli::{DeskArgs, DeskCommand, TokenArgs, TokenCommand};

fn age(secs: i64) -> String {
    match secs {
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 2 * 86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d", s / 86_400),
    }
}

pub(crate) fn line(i: &Value, now: i64) -> String {
    let posted = i["post"]["posted_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(now, |t| t.timestamp());
    let due = match (i["sla_due"].as_i64(), i["breached"].as_bool()) {
        (_, Some(true)) => "BREACHED".to_owned(),
        (Some(d), _) if d >= now => format!("due {}", age(d - now)),
        _ => String::new(),
    };
    format!(
        "#{:<4} {:<8} {:<6} {:<9} {:<10} {:<12} {:>6}  {:<12} @{}: {}",
        i["id"],
        i["state"].as_str().unwrap_or(""),
        i["priority"].as_str().unwrap_or(""),
        i["corrected_intent"]
            .as_str()
            .or(i["post"]["intent"].as_str())
            .unwrap_or(""),
        i["team"].as_str().unwrap_or(""),
        i["assignee"].as_str().unwrap_or("-"),
        age(now - posted),
        due,
        i["post"]["author"].as_str().unwrap_or(""),
        i["post"]["snippet"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(70)
            .collect::<String>(),
    )
}

fn stat(v: &Value) -> String {
    let m = |k: &str| {
        v[k].as_f64()
            .map_or("-".to_owned(), |s| age(s.round() as i64))
    };
    format!("median {} · p90 {} · n {}", m("median"), m("p90"), v["n"])
}

/// One KPI block as text.
pub(crate) fn kpi_text(k: &Value, indent: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let pct = |v: &Value| {
        v.as_f64()
            .map_or("-".to_owned(), |s| format!("{:.0} %", s * 100.0))
    };
    let _ = writeln!(
        out,
        "{indent}volume {} ({} dismissed, {} merged) · answered {} · reopened {} · abusive apart {}",
        k["volume"], k["dismissed"], k["merged"], k["answered"], k["reopened"], k["abusive"]
    );
    let _ = writeln!(
        out,
        "{indent}first response   {}",
        stat(&k["first_response"])
    );
    for sl in k["service_levels"].as_array().cloned().unwrap_or_default() {
        let _ = writeln!(
            out,
            "{indent}service level @{:<4} {} ({} of {})",
            age(sl["target_s"].as_i64().unwrap_or(0)),
            pct(&sl["share"]),
            sl["met"],
            sl["counted"]
        );
    }
    let _ = writeln!(
        out,
        "{indent}first-response SLA met {} · breached {}",
        k["sla_met"], k["sla_breached"]
    );
    let _ = writeln!(out, "{indent}resolution       {}", stat(&k["resolution"]));
    let _ = writeln!(
        out,
        "{indent}resolved share   {} ({})",
        pct(&k["resolved_share"]),
        k["resolved"]
    );
    let _ = writeln!(out, "{indent}handle time      {}", stat(&k["handle_time"]));
    let _ = writeln!(
        out,
        "{indent}detection lag    {}",
        stat(&k["detection_lag"])
    );
    let b = &k["backlog"];
    let _ = writeln!(
        out,
        "{indent}backlog now      {} new · {} open · {} pending · {} breached · oldest {}",
        b["new"],
        b["open"],
        b["pending"],
        b["breached"],
        b["oldest_age_s"].as_i64().map_or("-".to_owned(), age)
    );
    out
}

fn with_query(url: &str, q: &[(&str, String)]) -> Result<url::Url> {
    Ok(url::Url::parse_with_params(url, q)?)
}

/// `lauscher desk ...`.
pub async fn desk(args: DeskArgs) -> Result<ExitCode> {
    let base = api_base(&args.config.config, args.api.as_deref())?;
    let client = reqwest::Client::new();
    let by = args.by.clone().unwrap_or_else(who);
    let post = |id: i64, action: &str, extra: Value| {
        let mut body = json!({"by": by, "version": args.if_version});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        client
            .post(format!("{base}/api/v1/desk/items/{id}/{action}"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
    };
    let now = chrono::Utc::now().timestamp();
    let many = |ids: &[i64], action: &'static str, extra: Value| {
        ids.iter()
            .map(|&id| (id, post(id, action, extra.clone())))
            .collect::<Vec<_>>()
    };
    let requests = match &args.command {
        DeskCommand::List {
            state,
            assignee,
            team,
            breached,
        } => {
            let mut q = vec![];
            for (k, v) in [("state", state), ("assignee", assignee), ("team", team)] {
                if let Some(v) = v {
                    q.push((k, v.clone()));
                }
            }
            if *breached {
                q.push(("breached", "true".into()));
            }
            let body =
                call(client.get(with_query(&format!("{base}/api/v1/desk/items"), &q)?)).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                let items = body["items"].as_array().cloned().unwrap_or_default();
                if items.is_empty() {
                    println!("the queue is empty");
                }
                for i in &items {
                    println!("{}", line(i, now));
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        DeskCommand::Show { id } => {
            let body = call(client.get(format!("{base}/api/v1/desk/items/{id}"))).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                println!("{}", line(&body, now));
                println!(
                    "  version {} · policy {} · {}",
                    body["version"],
                    body["policy"].as_str().unwrap_or(""),
                    body["post"]["url"].as_str().unwrap_or("")
                );
                for e in body["events"].as_array().cloned().unwrap_or_default() {
                    let at = chrono::DateTime::from_timestamp(e["at"].as_i64().unwrap_or(0), 0)
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_default();
                    println!(
                        "  {at}  v{:<3} {:<14} {:<12} {}",
                        e["seq"],
                        e["action"].as_str().unwrap_or(""),
                        e["actor"].as_str().unwrap_or(""),
                        e.get("reference")
                            .or_else(|| e.get("body"))
                            .or_else(|| e.get("to"))
                            .or_else(|| e.get("reason"))
                            .or_else(|| e.get("clock"))
                            .map(|v| v.to_string())
                            .unwrap_or_default()
                    );
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        DeskCommand::Kpi { since, until, per } => {
            let mut q = vec![];
            for (k, v) in [("since", since), ("until", until), ("by", per)] {
                if let Some(v) = v {
                    q.push((k, v.clone()));
                }
            }
            let body =
                call(client.get(with_query(&format!("{base}/api/v1/desk/kpi"), &q)?)).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                print!("{}", kpi_text(&body["total"], ""));
                if let Some(groups) = body["groups"].as_object() {
                    for (k, v) in groups {
                        println!("{} {k}:", body["by"].as_str().unwrap_or(""));
                        print!("{}", kpi_text(v, "  "));
                    }
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        DeskCommand::Flag {
            author,
            flag,
            reason,
        } => {
            let body = json!({"flag": flag, "reason": reason, "by": by});
            let answer = post_under(&client, &base, &["authors", author, "flag"], body).await?;
            println!("{}", serde_json::to_string(&answer)?);
            return Ok(ExitCode::SUCCESS);
        }
        DeskCommand::Away { agent, back } => {
            let body = json!({"away": !*back, "by": by});
            let answer = post_under(&client, &base, &["agents", agent, "away"], body).await?;
            println!("{}", serde_json::to_string(&answer)?);
            return Ok(ExitCode::SUCCESS);
        }
        DeskCommand::Handoff { id, target } => many(&[*id], "handoff", json!({"target": target})),
        DeskCommand::Correct { id, label, intent } => {
            many(&[*id], "correct", json!({"label": label, "intent": intent}))
        }
        DeskCommand::Claim { ids } => many(ids, "claim", json!({})),
        DeskCommand::Assign { to, ids } => many(ids, "assign", json!({"to": to})),
        DeskCommand::Ack { id, reference } => many(&[*id], "ack", json!({"reference": reference})),
        DeskCommand::Pending { ids } => many(ids, "pending", json!({})),
        DeskCommand::Resolve { ids } => many(ids, "resolve", json!({})),
        DeskCommand::Reopen { id } => many(&[*id], "reopen", json!({})),
        DeskCommand::Dismiss { reason, ids } => many(ids, "dismiss", json!({"reason": reason})),
        DeskCommand::Tag { tag, ids } => many(ids, "tag", json!({"tag": tag})),
        DeskCommand::Note { id, body } => many(&[*id], "note", json!({"body": body})),
        DeskCommand::Merge { id, into } => many(&[*id], "merge", json!({"into": into})),
    };
    let mut failed = false;
    for (id, req) in requests {
        match call(req).await {
            Ok(item) if args.json => println!("{}", serde_json::to_string(&item)?),
            Ok(item) => println!(
                "#{id} {} (version {})",
                item["state"].as_str().unwrap_or(""),
                item["version"]
            ),
            Err(e) => {
                failed = true;
                eprintln!("#{id}: {e:#}");
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `lauscher token ...`: works on the state store directly (beside a running daemon too).
pub fn token(args: TokenArgs) -> Result<ExitCode> {
    use anyhow::{Context, bail};
    use lauscher_server::auth::{Role, new_secret, token_hash};
    let path = args.data_dir.join("state.db");
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let state = lauscher_state::StateStore::open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let now = chrono::Utc::now().timestamp();
    match args.command {
        TokenCommand::Create { name, role } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > 64 || name.chars().any(char::is_whitespace) {
                bail!(
                    "invalid token name {name:?}: 1-64 characters without spaces (an agent's name)"
                );
            }
            let secret = new_secret().map_err(anyhow::Error::msg)?;
            if !state.add_token(&name, role.as_str(), &token_hash(&secret), now)? {
                bail!("a token named {name:?} exists (revoked ones keep their name)");
            }
            eprintln!("token {name:?} ({role}) made; shown once, keep it safe:");
            println!("{secret}");
        }
        TokenCommand::List => {
            for t in state.tokens()? {
                let made = chrono::DateTime::from_timestamp(t.created_at, 0)
                    .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                let status = t
                    .revoked_at
                    .and_then(|r| chrono::DateTime::from_timestamp(r, 0))
                    .map_or("live".to_owned(), |r| {
                        format!("revoked {}", r.format("%Y-%m-%d %H:%M"))
                    });
                println!("{:<24} {:<7} made {made}  {status}", t.name, t.role);
            }
        }
        TokenCommand::Revoke { name } => {
            if !state.revoke_token(&name, now)? {
                bail!("no live token named {name:?}");
            }
            println!("token {name:?} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// POSTs `body` to `<base>/api/v1/desk/<segments>` (each segment escaped as a path part:
/// handles and names may hold `@` or `/`).
async fn post_under(
    client: &reqwest::Client,
    base: &str,
    segments: &[&str],
    body: Value,
) -> Result<Value> {
    let mut url = url::Url::parse(&format!("{base}/"))?;
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("bad API URL {base}"))?
        .pop_if_empty()
        .extend(["api", "v1", "desk"])
        .extend(segments);
    call(
        client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string()),
    )
    .await
}
