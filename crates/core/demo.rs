//! `lauscher demo`: the bundled sample stream, served as real feeds on 127.0.0.1 and
//! ingested by the real pipeline into a temporary data directory.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use lauscher_config::Config;
use lauscher_index::{MentionIndex, SearchRequest};
use lauscher_model::Label;
use lauscher_query::{RuleKind, RuleSet};
use lauscher_telemetry::METRICS;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

use crate::cli::DemoArgs;
use lauscher_daemon::Daemon;

const POSTS: &str = include_str!("demo/posts.tsv");
const CONFIG: &str = include_str!("demo/demo.yaml");
const TOPICS: &str = include_str!("demo/topics.yaml");
const ALERTS: &str = include_str!("demo/alerts.yaml");

/// Notifications the demo's webhook receiver got: (receiver, body).
type Hooks = Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>>;

struct Post {
    feed: &'static str,
    at: DateTime<Utc>,
    author: String,
    title: String,
    text: String,
}

fn posts(now: DateTime<Utc>) -> Vec<Post> {
    let mut out: Vec<Post> = POSTS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&'static str> = l.split('\t').collect();
            let [feed, minutes, author, title, text] = f[..] else {
                return None;
            };
            Some(Post {
                feed,
                at: now - Duration::minutes(minutes.parse().ok()?),
                author: author.to_owned(),
                title: title.to_owned(),
                text: text.to_owned(),
            })
        })
        .collect();
    out.extend(history(now));
    out
}

/// Five weeks of everyday talk about Acme Bahn before the bundled posts (7 a day,
/// generated), with the app-login complaint in weeks 2 and 4: the background the
/// complaints view measures against, and what makes the login complaint recurring.
fn history(now: DateTime<Utc>) -> Vec<Post> {
    const OPENERS: [&str; 8] = [
        "Mit der Acme Bahn entspannt nach",
        "Acme Bahn heute pünktlich angekommen in",
        "Took the Acme Bahn intercity to",
        "Acme Bahn Fernzug mit neuen Sitzen Richtung",
        "Booked an Acme Bahn weekend trip to",
        "Im Acme Bahn Bordbistro Kaffee getrunken auf dem Weg nach",
        "Quiet Acme Bahn morning train to",
        "Acme Bahn Sparpreis gefunden für die Fahrt nach",
    ];
    const CITIES: [&str; 8] = [
        "Hamburg",
        "Kiel",
        "Lübeck",
        "Bremen",
        "Hannover",
        "Berlin",
        "Rostock",
        "Flensburg",
    ];
    const CLOSERS: [&str; 5] = [
        "Aussicht auf die Elbe genossen.",
        "window seat and a good book.",
        "Kinder haben die ganze Fahrt gemalt.",
        "podcast episode finished right on arrival.",
        "Zeitung gelesen und Kreuzworträtsel gelöst.",
    ];
    const LOGIN: [&str; 5] = [
        "Acme Bahn App: Login geht nach dem Update wieder nicht, Ticket weg. Ärgerlich!",
        "Acme Bahn app login fails after the update, again. Terrible.",
        "Schon wieder kein Login in der Acme Bahn App, furchtbar.",
        "The Acme Bahn app login is broken again after the update, awful.",
        "Login bei der Acme Bahn App kaputt, Fahrkarte nicht abrufbar. Schlimm.",
    ];
    // Four weeks ago, in other words (identical texts would be dropped as duplicates).
    const LOGIN_EARLIER: [&str; 5] = [
        "Nach dem App-Update der Acme Bahn kein Login möglich, Support ratlos. Nervig!",
        "Acme Bahn, your app update broke the login. I missed my train, horrible.",
        "Login-Fehler in der Acme Bahn App seit dem Update, total frustrierend.",
        "Cannot log in to the Acme Bahn app since the update, login error every time. Awful.",
        "Die Acme Bahn App lässt mich nach dem Update nicht einloggen, Login scheitert. Mies.",
    ];
    let mut out = Vec::new();
    for day in 7..42i64 {
        for slot in 0..7i64 {
            let i = (day * 7 + slot) as usize;
            out.push(Post {
                feed: "social",
                at: now - Duration::days(day) + Duration::hours(7 + slot * 2),
                author: format!("@reisende_{}", i % 150),
                title: String::new(),
                text: format!(
                    "{} {}, {}",
                    OPENERS[i % 8],
                    CITIES[(i / 8) % 8],
                    CLOSERS[(i / 3) % 5]
                ),
            });
        }
    }
    for (week, texts) in [(2i64, LOGIN), (4, LOGIN_EARLIER)] {
        for (n, text) in texts.iter().enumerate() {
            out.push(Post {
                feed: "social",
                at: now - Duration::days(week * 7 + 1) - Duration::hours(n as i64 * 5),
                author: format!("@pendler_{week}_{n}"),
                title: String::new(),
                text: (*text).to_owned(),
            });
        }
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the three demo feeds: RSS 2.0, Atom, and RSS with HTML in CDATA.
fn render(now: DateTime<Utc>, base: &str) -> Vec<(&'static str, &'static str, String)> {
    let posts = posts(now);
    let mut news = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel>\
         <title>Verkehrsnachrichten (demo)</title><link>https://news.example/</link><description>demo</description>\n",
    );
    let mut social = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Social (demo)</title>\
         <id>tag:lauscher.demo,2026:social</id>\n",
    );
    social.push_str(&format!("<updated>{}</updated>\n", now.to_rfc3339()));
    let mut forum = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel>\
         <title>Reiseforum (demo)</title><link>https://forum.example/</link><description>demo</description>\n",
    );
    for (n, p) in posts.iter().enumerate() {
        match p.feed {
            "news" => news.push_str(&format!(
                "<item><title>{}</title><link>{base}/news/{n}?utm_source=rss</link><guid>{base}/news/{n}</guid>\
                 <pubDate>{}</pubDate><dc:creator>{}</dc:creator><description>{}</description></item>\n",
                xml_escape(&p.title),
                p.at.to_rfc2822(),
                xml_escape(&p.author),
                xml_escape(&p.text)
            )),
            "social" => social.push_str(&format!(
                "<entry><id>tag:lauscher.demo,2026:social-{n}</id><link href=\"{base}/social/{n}\"/><title></title>\
                 <author><name>{}</name></author><published>{}</published><updated>{}</updated>\
                 <content type=\"text\">{}</content></entry>\n",
                xml_escape(&p.author),
                p.at.to_rfc3339(),
                p.at.to_rfc3339(),
                xml_escape(&p.text)
            )),
            _ => forum.push_str(&format!(
                "<item><title>{}</title><link>{base}/forum/{n}</link><pubDate>{}</pubDate><dc:creator>{}</dc:creator>\
                 <description><![CDATA[{}]]></description></item>\n",
                xml_escape(&p.title),
                p.at.to_rfc2822(),
                xml_escape(&p.author),
                &p.text
            )),
        }
    }
    news.push_str("</channel></rss>\n");
    social.push_str("</feed>\n");
    forum.push_str("</channel></rss>\n");
    vec![
        ("news.xml", "application/rss+xml", news),
        ("social.atom", "application/atom+xml", social),
        ("forum.xml", "application/rss+xml", forum),
    ]
}

type Feeds = Arc<Vec<(&'static str, &'static str, String)>>;

async fn feed(
    State(feeds): State<Feeds>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((_, ctype, body)) = feeds.iter().find(|(n, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!(
        "\"{:016x}\"",
        lauscher_text::fingerprint::hash64(body.as_bytes())
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, *ctype),
            (header::ETAG, etag.as_str()),
        ],
        body.clone(),
    )
        .into_response()
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> Result<ExitCode> {
    let (listener, feed_addr) = lauscher_server::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .context("cannot start the demo feed server")?;
    let base = format!("http://{feed_addr}");
    let feeds: Feeds = Arc::new(render(Utc::now(), &base));
    let hooks: Hooks = Arc::default();
    let received = hooks.clone();
    let app = Router::new()
        .route("/feeds/{name}", get(feed))
        .route(
            "/hooks/{name}",
            axum::routing::post(move |Path(name): Path<String>, body: String| {
                let hooks = received.clone();
                async move {
                    let v = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
                    if let Ok(mut h) = hooks.lock() {
                        h.push((name, v));
                    }
                    StatusCode::OK
                }
            }),
        )
        .route("/robots.txt", get(|| async { "User-agent: *\nAllow: /\n" }))
        .with_state(feeds.clone());
    let feed_cancel = CancellationToken::new();
    let stop_feeds = feed_cancel.clone();
    let feed_server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop_feeds.cancelled().await })
            .await
    });
    let data = tempfile::Builder::new()
        .prefix("lauscher-demo-")
        .tempdir()
        .context("cannot create a temporary data directory")?;
    // The demo config and rules are written out and loaded like a user's, so reloads
    // (SIGHUP, POST /api/v1/reload) work on them too.
    let config_path = data.path().join("demo.yaml");
    std::fs::create_dir_all(data.path().join("topics"))
        .and_then(|()| std::fs::write(&config_path, CONFIG.replace("${LAUSCHER_DEMO_BASE}", &base)))
        .and_then(|()| std::fs::write(data.path().join("topics/demo.yaml"), TOPICS))
        .and_then(|()| {
            std::fs::write(
                data.path().join("alerts.yaml"),
                ALERTS.replace("${LAUSCHER_DEMO_BASE}", &base),
            )
        })
        .context("cannot write the demo configuration")?;
    let config = Config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "lauscher demo: sample feeds on {base}, data and config in {}",
        data.path().display()
    );
    // --once needs no fixed port; a free one avoids clashing with a running daemon.
    let port = if args.once { 0 } else { args.port };
    let daemon = Daemon::start(
        &config,
        &config_path,
        &data.path().join("data"),
        SocketAddr::from(([127, 0, 0, 1], port)),
    )
    .await?;
    let started = std::time::Instant::now();
    daemon.poll_once(&config).await?;
    let index = daemon.index();
    let elapsed = started.elapsed();
    let summary_config = config.clone();
    let rules = daemon.rules();
    let summary =
        tokio::task::spawn_blocking(move || summary(&index, &summary_config, &rules, elapsed))
            .await??;
    print!("{summary}");
    print!("{}", alerts_summary(&hooks).await);
    print!(
        "{}",
        desk_summary(&format!("http://{}", daemon.addr), &base).await?
    );
    let cancel = CancellationToken::new();
    if args.once {
        cancel.cancel();
    } else {
        let addr = daemon.addr;
        println!(
            "\nTry:\n  curl 'http://{addr}/api/v1/search?q=login&label=negative'\n  curl http://{addr}/metrics\nCtrl-C stops the demo."
        );
        let c = cancel.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            c.cancel();
        });
    }
    daemon.run(&config, cancel, args.once).await?;
    feed_cancel.cancel();
    let _ = feed_server.await;
    Ok(ExitCode::SUCCESS)
}

/// The service desk after the sample stream: the brand's social team answers one
/// complaint in its thread (pushed, as a real integration would), its bot auto-replies
/// to another (recorded, never counted), and a demo agent claims, acknowledges and
/// resolves a third through the API; then the queue and the KPIs.
async fn desk_summary(api: &str, base: &str) -> Result<String> {
    use crate::alerting::call;
    use std::fmt::Write;
    let client = reqwest::Client::new();
    let items = call(client.get(format!("{api}/api/v1/desk/items"))).await?;
    let items = items["items"].as_array().cloned().unwrap_or_default();
    let url_of = |i: &serde_json::Value| i["post"]["url"].as_str().unwrap_or("").to_owned();
    let now = Utc::now();
    let reply = |id: &str, author: &str, text: &str, to: &str| {
        serde_json::json!({
            "url": format!("{base}/social/reply-{id}"),
            "author": author,
            "published_at": now.to_rfc3339(),
            "text": text,
            "reply_to": to,
        })
        .to_string()
    };
    // The newest complaints get the answers (the list is oldest SLA first); abusive
    // posts are moderation, not service.
    let items: Vec<serde_json::Value> = items
        .into_iter()
        .rev()
        .filter(|i| i["abuse"]["kind"].is_null() || i["abuse"]["kind"] == "profanity")
        .collect();
    let mut lines = Vec::new();
    if let Some(first) = items.first() {
        lines.push(reply(
            "1",
            "AcmeBahn",
            "Das tut uns sehr leid! Wir prüfen das sofort und melden uns per DM.",
            &url_of(first),
        ));
    }
    if let Some(second) = items.get(1) {
        lines.push(reply(
            "2",
            "acmebahn_bot",
            "Danke für deine Nachricht! Wir antworten so schnell wie möglich.",
            &url_of(second),
        ));
    }
    if !lines.is_empty() {
        call(
            client
                .post(format!("{api}/api/v1/ingest"))
                .bearer_auth("demo-push-token-0123456789")
                .body(lines.join("\n")),
        )
        .await?;
    }
    if let Some(third) = items.get(2) {
        let id = &third["id"];
        for (action, extra) in [
            ("claim", serde_json::json!({})),
            ("ack", serde_json::json!({"reference": "DEMO-4711"})),
            ("resolve", serde_json::json!({})),
        ] {
            let mut body = serde_json::json!({"by": "demo-agent"});
            if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
                b.extend(e.clone());
            }
            call(
                client
                    .post(format!("{api}/api/v1/desk/items/{id}/{action}"))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string()),
            )
            .await?;
        }
    }
    // The brand reply is committed within the index's commit interval.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut kpi = serde_json::Value::Null;
    while std::time::Instant::now() < deadline {
        kpi = call(client.get(format!("{api}/api/v1/desk/kpi?since=3d"))).await?;
        if items.len() < 3 || kpi["total"]["answered"].as_u64() >= Some(2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let queue = call(client.get(format!("{api}/api/v1/desk/items"))).await?;
    let mut s = String::from(
        "\nservice desk (desk: in alerts.yaml; `lauscher desk list`, /api/v1/desk/items)\n",
    );
    let queue = queue["items"].as_array().cloned().unwrap_or_default();
    let _ = writeln!(s, "  {} items waiting, most urgent SLA first:", queue.len());
    let now = now.timestamp();
    for i in queue.iter().take(5) {
        let _ = writeln!(s, "  {}", crate::desk::line(i, now));
    }
    if queue.len() > 5 {
        let _ = writeln!(s, "  … and {} more", queue.len() - 5);
    }
    let _ = writeln!(s, "  KPIs of the last 3 days (`lauscher desk kpi`):");
    s.push_str(&crate::desk::kpi_text(&kpi["total"], "    "));
    Ok(s)
}

/// What the demo's webhook receiver got: the router opens an incident on the burst
/// of complaints and delivers it through the outbox, within a second or two.
async fn alerts_summary(hooks: &Hooks) -> String {
    use std::fmt::Write;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while hooks.lock().map(|h| h.is_empty()).unwrap_or(true) && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut s = String::from(
        "
alerts (alerts.yaml; delivered to the demo's webhook receiver)
",
    );
    let got = hooks.lock().map(|h| h.clone()).unwrap_or_default();
    if got.is_empty() {
        s.push_str("  no incident\n");
    }
    for (receiver, body) in got {
        let i = &body["incident"];
        let _ = writeln!(
            s,
            "  incident {} {} → {receiver}: {}",
            i["id"],
            body["event"].as_str().unwrap_or("?"),
            body["title"].as_str().unwrap_or("")
        );
        let _ = writeln!(
            s,
            "    {} authors in the last hour, {:.1} expected, p = {:.1e}, level {}",
            i["evidence"]["observed"],
            i["evidence"]["expected"].as_f64().unwrap_or(0.0),
            i["evidence"]["p_value"].as_f64().unwrap_or(1.0),
            i["level"]
        );
    }
    s
}

fn count(index: &MentionIndex, req: SearchRequest) -> Result<usize> {
    Ok(index
        .search(&SearchRequest { limit: 1, ..req }, None)?
        .total)
}

fn summary(
    index: &MentionIndex,
    config: &Config,
    rules: &RuleSet,
    elapsed: std::time::Duration,
) -> Result<String> {
    use std::fmt::Write;
    let mut s = String::new();
    let total = count(index, SearchRequest::default())?;
    let _ = writeln!(
        s,
        "\nIngested in {:.2}s: {total} mentions indexed",
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "\nsources        fetched  indexed  duplicates  unmatched"
    );
    for src in &config.sources {
        let id = src.id.as_str();
        let dup: u64 = ["id", "content", "near"]
            .iter()
            .map(|k| {
                METRICS
                    .mentions_duplicate_total
                    .with_label_values(&[id, k])
                    .get()
            })
            .sum();
        let _ = writeln!(
            s,
            "  {id:<12} {:>7}  {:>7}  {:>10}  {:>9}",
            METRICS
                .mentions_fetched_total
                .with_label_values(&[id])
                .get(),
            count(
                index,
                SearchRequest {
                    source: Some(id.into()),
                    ..Default::default()
                }
            )?,
            dup,
            METRICS
                .mentions_unmatched_total
                .with_label_values(&[id])
                .get(),
        );
    }
    let _ = writeln!(s, "\ntopics         mentions  negative  neutral  positive");
    for t in rules.rules().iter().filter(|r| r.kind != RuleKind::Pack) {
        let by = |label: Label| {
            count(
                index,
                SearchRequest {
                    topic: Some(t.id.clone()),
                    label: Some(label),
                    ..Default::default()
                },
            )
        };
        let _ = writeln!(
            s,
            "  {:<12} {:>8}  {:>8}  {:>7}  {:>8}   ({})",
            t.id,
            count(
                index,
                SearchRequest {
                    topic: Some(t.id.clone()),
                    ..Default::default()
                }
            )?,
            by(Label::Negative)?,
            by(Label::Neutral)?,
            by(Label::Positive)?,
            t.name
        );
    }
    let _ = writeln!(s, "\nlanguages");
    for lang in config.languages.iter().map(String::as_str).chain(["und"]) {
        let _ = writeln!(
            s,
            "  {lang:<12} {:>8}",
            count(
                index,
                SearchRequest {
                    lang: Some(lang.into()),
                    ..Default::default()
                }
            )?
        );
    }
    let burst = index.search(
        &SearchRequest {
            query: "login".into(),
            topic: Some("acme-bahn".into()),
            label: Some(Label::Negative),
            limit: 3,
            ..Default::default()
        },
        None,
    )?;
    let _ = writeln!(
        s,
        "\nnegative Acme Bahn mentions about \"login\": {} (a complaint burst); newest:",
        burst.total
    );
    for h in &burst.hits {
        let _ = writeln!(
            s,
            "  {} {:+.2} {}",
            h.published_at.format("%a %H:%M"),
            h.sentiment,
            h.text
        );
    }
    // Recurring complaint topics of the last week (`lauscher insights complaints`).
    let now = Utc::now();
    let filters = lauscher_insights::Filters {
        topics: vec!["acme-bahn".into()],
        since: now - Duration::days(7),
        until: now,
        ..Default::default()
    };
    let c = lauscher_insights::complaints(index, rules, &filters, 5, Default::default())
        .map_err(anyhow::Error::msg)?;
    let _ = writeln!(
        s,
        "
complaint topics of Acme Bahn, last 7 days ({} negative mentions; weekly counts oldest first):",
        c.foreground
    );
    for p in &c.phrases {
        let weekly: Vec<String> = p.weekly.iter().map(u64::to_string).collect();
        let _ = writeln!(
            s,
            "  {:<22} {:<9} {:>3} mentions, {:>4.1}× background, weeks [{}]",
            p.phrase,
            if p.status.is_empty() { "-" } else { &p.status },
            p.count,
            p.lift,
            weekly.join(" ")
        );
    }
    Ok(s)
}
