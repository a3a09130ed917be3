//! Shitstorm alerts end to end: a feed with a negative burst, the real daemon, and
//! webhook-, Slack- and PagerDuty-shaped receivers on 127.0.0.1.

use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::util::{Dir, TOPICS};

const SECRET: &str = "t0p-s3cret";

/// Eight authors complain about Acme within a minute; each text differs enough not to
/// be a near-duplicate.
fn burst_feed(now: chrono::DateTime<chrono::Utc>) -> String {
    let posts = [
        "Acme ist eine Katastrophe, der Zug ist schon wieder ausgefallen",
        "Schon wieder Verspätung bei Acme, ich bin so wütend und genervt",
        "Acme Kundenservice ist furchtbar, niemand antwortet seit Stunden",
        "Die Acme App stürzt beim Login ständig ab, absolut unbrauchbar",
        "Nie wieder Acme. Ticket bezahlt, Zug gestrichen, Erstattung abgelehnt",
        "Acme hat mein Gepäck verloren und die Hotline legt einfach auf",
        "Wie schlecht kann man sein, Acme? Klimaanlage kaputt, Toiletten gesperrt",
        "Mies, mieser, Acme: drei Stunden im Tunnel ohne jede Information",
    ];
    let updated = now.to_rfc3339();
    let entries: String = posts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            format!(
                "<entry><id>urn:post:{i}</id><title>{text}</title><link href=\"https://social.example/p/{i}\"/>\
                 <author><name>user{i}</name></author><updated>{updated}</updated><content>{text}</content></entry>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <title>social</title><id>urn:feed</id><updated>{updated}</updated>{entries}</feed>"
    )
}

/// A feed server answering `/social.xml` with [`burst_feed`] as of now.
async fn burst_feed_server() -> MockServer {
    let feeds = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/social.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(burst_feed(chrono::Utc::now()), "application/atom+xml"),
        )
        .mount(&feeds)
        .await;
    feeds
}

/// Makes `receivers` answer `status` to POSTs on each of `routes`.
async fn answer(receivers: &MockServer, routes: &[&str], status: u16) {
    for route in routes {
        Mock::given(method("POST"))
            .and(path(*route))
            .respond_with(ResponseTemplate::new(status))
            .mount(receivers)
            .await;
    }
}

/// A fast spike rule `id` on negative Acme posts, as a list item of `rules:`.
fn spike_rule(id: &str) -> String {
    format!(
        "  - id: {id}
    kind: spike
    topics: [acme]
    label: negative
    window: 10s
    step: 2s
    lateness: 2s
    warmup: 0s
"
    )
}

fn alerts_yaml(receivers: &str) -> String {
    format!(
        "version: 1
defaults:
  language: en
rules:
{}    budget: 1/180d
    description: Complaints about Acme spike
routing:
  receivers: [hook, slack, pd]
  escalation:
    renotify: 1h
    after: 4s
    receivers: [duty]
receivers:
  - id: hook
    kind: webhook
    url: {receivers}/hook
    secret: {SECRET}
  - id: slack
    kind: slack
    url: {receivers}/slack
  - id: pd
    kind: pagerduty
    routing_key: R0UT1NG
    url: {receivers}/pd
  - id: duty
    kind: pagerduty
    routing_key: DUTY
    url: {receivers}/duty
incidents:
  resolve_after_quiet: 2
",
        spike_rule("acme-storm")
    )
}

/// Writes the topics, `alerts` as `alerts.yaml`, and a config polling the feed server's
/// `/social.xml` every second with fast commits.
fn write_daemon_config(dir: &Dir, feeds: &str, alerts: &str) {
    dir.write("topics.yaml", TOPICS);
    dir.write("alerts.yaml", alerts);
    dir.write(
        "lauscher.yaml",
        &format!(
            "version: 1
crawler:
  contact: https://example.org/test
  host_interval: 10ms
index:
  commit_interval: 200ms
  writer_memory: 32MiB
sources:
  - id: social
    kind: feed
    url: {feeds}/social.xml
    interval: 1s
    allow_private: true
rules: [topics.yaml]
alerts: alerts.yaml
"
        ),
    );
}

fn bodies(requests: &[Request], route: &str) -> Vec<Value> {
    requests
        .iter()
        .filter(|r| r.url.path() == route)
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect()
}

fn events(requests: &[Request], route: &str) -> Vec<String> {
    bodies(requests, route)
        .iter()
        .map(|b| {
            b["event"]
                .as_str()
                .or(b["event_action"].as_str())
                .unwrap_or("?")
                .to_owned()
        })
        .collect()
}

async fn wait_until(what: &str, timeout: Duration, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_negative_burst_opens_one_incident_escalates_resolves_and_survives_kill_9() {
    let feeds = burst_feed_server().await;
    let receivers = MockServer::start().await;
    // Slack is down for the first two attempts.
    Mock::given(method("POST"))
        .and(path("/slack"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "1"))
        .up_to_n_times(2)
        .mount(&receivers)
        .await;
    answer(&receivers, &["/hook", "/slack", "/pd", "/duty"], 202).await;
    let dir = Dir::new();
    write_daemon_config(&dir, &feeds.uri(), &alerts_yaml(&receivers.uri()));
    let started = Instant::now();
    let daemon = tokio::task::block_in_place(|| dir.start_daemon());
    wait_until("the opened webhook", Duration::from_secs(20), async || {
        let r = receivers.received_requests().await.unwrap_or_default();
        events(&r, "/hook").iter().any(|e| e == "opened")
    })
    .await;
    let latency = started.elapsed();
    let first_feed = feeds.received_requests().await.unwrap_or_default().len();
    eprintln!("daemon start → opened webhook: {latency:?} ({first_feed} feed requests)");

    // kill -9 right after the transition was sent; the restart must not page again.
    tokio::task::block_in_place(|| daemon.kill9());
    let daemon = tokio::task::block_in_place(|| dir.start_daemon());

    wait_until(
        "the escalation to duty",
        Duration::from_secs(20),
        async || {
            let r = receivers.received_requests().await.unwrap_or_default();
            !events(&r, "/duty").is_empty()
        },
    )
    .await;
    wait_until(
        "the resolved webhook",
        Duration::from_secs(40),
        async || {
            let r = receivers.received_requests().await.unwrap_or_default();
            events(&r, "/hook").iter().any(|e| e == "resolved")
        },
    )
    .await;
    wait_until(
        "slack after its outage",
        Duration::from_secs(30),
        async || {
            let r = receivers.received_requests().await.unwrap_or_default();
            r.iter().filter(|r| r.url.path() == "/slack").count() >= 4
        },
    )
    .await;
    // Let anything that would be a duplicate arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let r = receivers.received_requests().await.unwrap_or_default();
    assert_eq!(
        events(&r, "/hook"),
        ["opened", "resolved"],
        "one webhook per state change"
    );
    assert_eq!(events(&r, "/pd"), ["trigger", "resolve"]);
    assert_eq!(
        events(&r, "/duty"),
        ["trigger", "resolve"],
        "escalated, then told of the end"
    );
    let slack: Vec<u16> = r
        .iter()
        .filter(|r| r.url.path() == "/slack")
        .map(|_| 0)
        .collect();
    assert_eq!(
        slack.len(),
        4,
        "two failed attempts, then opened and resolved"
    );

    // The webhook is signed: t=<unix>,v1=HMAC-SHA256(secret, "t.body").
    let hook = r.iter().find(|r| r.url.path() == "/hook").expect("webhook");
    let sig = hook
        .headers
        .get("lauscher-signature")
        .and_then(|v| v.to_str().ok())
        .expect("signature header");
    let t: i64 = sig
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .expect("timestamp");
    let body = String::from_utf8_lossy(&hook.body);
    assert_eq!(sig, lauscher_alerts::deliver::signature(SECRET, t, &body));
    assert!(hook.headers.get("idempotency-key").is_some());
    let opened: Value = serde_json::from_slice(&hook.body).expect("json");
    assert_eq!(opened["version"], "lauscher.alert/v1");
    assert_eq!(opened["incident"]["rule"], "acme-storm");
    assert_eq!(opened["incident"]["level"], 1);
    assert!(
        opened["incident"]["evidence"]["observed"]
            .as_u64()
            .unwrap_or(0)
            >= 5
    );
    assert!(
        opened["title"].as_str().unwrap_or("").contains("Acme"),
        "{opened}"
    );
    let pd = bodies(&r, "/pd");
    assert_eq!(pd[0]["routing_key"], "R0UT1NG");
    assert_eq!(pd[0]["dedup_key"], pd[1]["dedup_key"]);

    // One incident, its whole story in the API.
    let list = tokio::task::block_in_place(|| daemon.get_json("/api/v1/incidents"));
    let incidents = list["incidents"].as_array().expect("incidents");
    assert_eq!(incidents.len(), 1, "{list}");
    let id = incidents[0]["id"].as_i64().expect("id");
    let one = tokio::task::block_in_place(|| daemon.get_json(&format!("/api/v1/incidents/{id}")));
    assert_eq!(one["status"], "resolved");
    let timeline: Vec<&str> = one["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|t| t["event"].as_str())
        .filter(|e| *e != "notification")
        .collect();
    assert_eq!(timeline, ["opened", "escalation_step", "resolved"], "{one}");
    let slack_opened = one["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .find(|n| n["receiver"] == "slack" && n["event"] == "opened")
        .expect("slack notification")
        .clone();
    assert_eq!(slack_opened["status"], "sent");
    assert_eq!(slack_opened["attempts"], 3, "{slack_opened}");

    // The CLI mirrors the API.
    let out = tokio::task::block_in_place(|| {
        dir.cmd(&["incidents", "list", "--api", &daemon.base])
            .output()
            .expect("incidents list")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("acme-storm") && stdout.contains("resolved"),
        "{stdout}"
    );
    drop(daemon);

    // One incident in the last 90 days is over a budget of one per 180: `check` says so.
    let out = tokio::task::block_in_place(|| {
        dir.cmd(&["check", "--config"])
            .arg(dir.config())
            .arg("--data-dir")
            .arg(dir.data())
            .output()
            .expect("check")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("warning: alert rule \"acme-storm\" on topic \"acme\" opened 1 incidents in the last 90 days; its budget allows 0.5"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ack_stops_escalation_and_silences_keep_notifications_back() {
    let feeds = burst_feed_server().await;
    let receivers = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receivers)
        .await;
    let dir = Dir::new();
    // Escalation after 3s; the window is long enough that the incident stays open.
    let yaml = alerts_yaml(&receivers.uri())
        .replace("window: 10s", "window: 60s")
        .replace("after: 4s", "after: 3s");
    write_daemon_config(&dir, &feeds.uri(), &yaml);
    let daemon = tokio::task::block_in_place(|| dir.start_daemon());
    let base = daemon.base.clone();
    let client = reqwest::Client::new();
    let mut id = 0;
    wait_until("an incident", Duration::from_secs(20), async || {
        let body = client
            .get(format!("{base}/api/v1/incidents"))
            .send()
            .await
            .expect("list");
        let v: Value =
            serde_json::from_str(&body.text().await.unwrap_or_default()).unwrap_or(Value::Null);
        id = v["incidents"][0]["id"].as_i64().unwrap_or(0);
        id > 0
    })
    .await;
    let ack = client
        .post(format!("{base}/api/v1/incidents/{id}/ack"))
        .header("content-type", "application/json")
        .body(r#"{"by": "ana"}"#)
        .send()
        .await
        .expect("ack");
    assert_eq!(ack.status().as_u16(), 200);
    let again = client
        .post(format!("{base}/api/v1/incidents/{id}/ack"))
        .send()
        .await
        .expect("ack again");
    assert_eq!(
        again.status().as_u16(),
        409,
        "acknowledging twice is a conflict"
    );
    let missing = client
        .post(format!("{base}/api/v1/incidents/999/ack"))
        .send()
        .await
        .expect("ack missing");
    assert_eq!(missing.status().as_u16(), 404);
    // Past the escalation delay: nobody is paged, because someone is on it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let r = receivers.received_requests().await.unwrap_or_default();
    assert!(
        events(&r, "/duty").is_empty(),
        "acknowledged incidents do not escalate"
    );
    assert_eq!(events(&r, "/pd"), ["trigger", "acknowledge"]);

    // A silence on the topic: the manual resolve is recorded but not sent.
    let silence = client
        .post(format!("{base}/api/v1/silences"))
        .header("content-type", "application/json")
        .body(r#"{"matchers": ["topic=\"acme\""], "duration": "1h", "comment": "maintenance"}"#)
        .send()
        .await
        .expect("silence");
    assert_eq!(silence.status().as_u16(), 201);
    let bad = client
        .post(format!("{base}/api/v1/silences"))
        .header("content-type", "application/json")
        .body(r#"{"matchers": ["colour=\"red\""], "duration": "1h"}"#)
        .send()
        .await
        .expect("bad silence");
    assert_eq!(bad.status().as_u16(), 400);
    let resolved = client
        .post(format!("{base}/api/v1/incidents/{id}/resolve"))
        .send()
        .await
        .expect("resolve");
    assert_eq!(resolved.status().as_u16(), 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = receivers.received_requests().await.unwrap_or_default();
    assert_eq!(events(&r, "/pd"), ["trigger", "acknowledge"], "silenced");
    let one = tokio::task::block_in_place(|| daemon.get_json(&format!("/api/v1/incidents/{id}")));
    let silenced = one["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .filter(|n| n["status"] == "silenced")
        .count();
    assert!(silenced >= 3, "{one}");
}

/// A month of calm history with one burst, imported: the backtest finds exactly the
/// burst, with its numbers, and nothing in the calm weeks.
#[test]
fn import_then_backtest_finds_the_burst_and_only_the_burst() {
    let dir = Dir::new();
    dir.write("topics.yaml", TOPICS);
    dir.write(
        "alerts.yaml",
        "version: 1
defaults:
  language: en
rules:
  - id: acme-storm
    kind: spike
    topics: [acme]
    label: negative
routing:
  receivers: [hook]
receivers:
  - id: hook
    kind: webhook
    url: http://127.0.0.1:9/hook
",
    );
    dir.write(
        "lauscher.yaml",
        "version: 1
rules: [topics.yaml]
alerts: alerts.yaml
index:
  commit_interval: 200ms
  writer_memory: 32MiB
",
    );
    let start = chrono::Utc::now() - chrono::Duration::days(30);
    let start = start.timestamp() - start.timestamp().rem_euclid(3600);
    let complaints = [
        "Acme ist furchtbar, schon wieder verspätet",
        "Acme Zug ausgefallen, total genervt",
        "Acme Service ist eine Katastrophe",
        "Acme hat mein Ticket storniert, unverschämt",
        "Acme App kaputt, nichts geht mehr",
    ];
    let mut lines = Vec::new();
    let mut n = 0;
    // Two calm complaints a day by different people for 30 days ...
    for day in 0..30 {
        for k in 0..2 {
            n += 1;
            let t = start + day * 86_400 + 9 * 3600 + k * 5 * 3600;
            let text = format!("{} (Fall {n})", complaints[n % complaints.len()]);
            lines.push(serde_json::json!({"id": format!("calm{n}"), "text": text, "author": format!("calm{n}"), "published_at": t, "lang": "de"}));
        }
    }
    // ... and 25 authors within 40 minutes on day 20.
    let burst = start + 20 * 86_400 + 14 * 3600;
    for k in 0..25 {
        n += 1;
        let text = format!(
            "{} – Beschwerde Nummer {k} von Person {n}",
            complaints[k % complaints.len()]
        );
        lines.push(serde_json::json!({"id": format!("burst{k}"), "text": text, "author": format!("angry{k}"), "published_at": burst + k as i64 * 96, "lang": "de"}));
    }
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let file = dir.write("history.jsonl", &body);
    let summary = dir.import(&file);
    assert_eq!(summary["indexed"], lines.len() as u64, "{summary}");
    let out = dir
        .cmd(&["backtest", "--json", "--since", "28d", "--config"])
        .arg(dir.config())
        .arg("--data-dir")
        .arg(dir.data())
        .output()
        .expect("backtest");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    let incidents = report["incidents"].as_array().expect("incidents");
    assert_eq!(incidents.len(), 1, "{report:#}");
    let i = &incidents[0];
    let opened = i["opened_at"].as_i64().expect("opened_at");
    assert!(
        (burst..burst + 2400).contains(&opened),
        "opened {} s after the burst began",
        opened - burst
    );
    assert!(i["evidence"]["observed"].as_u64().unwrap_or(0) >= 5, "{i}");
    assert!(
        i["evidence"]["p_value"].as_f64().unwrap_or(1.0) < 1e-4,
        "{i}"
    );
    assert_eq!(report["notifications"][0]["receiver"], "hook");
    // The self-check: one incident over the replayed month is over a budget of one
    // page per 90 days, and the table says so.
    let stream = &report["streams"][0];
    assert_eq!(stream["rule"], "acme-storm", "{report:#}");
    assert_eq!(stream["incidents"], 1);
    assert_eq!(stream["budget_per_90d"], 1.0);
    let per_90d = stream["per_90d"].as_f64().expect("per_90d");
    assert!((2.0..4.0).contains(&per_90d), "{stream}");
    assert_eq!(stream["over_budget"], true);
    let text = dir
        .cmd(&["backtest", "--since", "28d", "--config"])
        .arg(dir.config())
        .arg("--data-dir")
        .arg(dir.data())
        .output()
        .expect("backtest");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("would page"), "{text}");
}

/// Two rules fire on one burst; the route groups them, email goes to an SMTP sink, and
/// a receiver that answers 404 is reported to the fallback.
#[tokio::test(flavor = "multi_thread")]
async fn grouped_chat_and_email_and_a_broken_receiver_reported_to_the_fallback() {
    let feeds = burst_feed_server().await;
    let receivers = MockServer::start().await;
    let smtp = crate::util::SmtpSink::start().await;
    answer(&receivers, &["/broken"], 404).await;
    answer(&receivers, &["/chat", "/ops"], 200).await;
    let uri = receivers.uri();
    let port = smtp.port;
    let alerts = format!(
        "version: 1
defaults:
  language: en
rules:
  - id: acme-storm
    kind: spike
    topics: [acme]
    label: negative
    window: 10s
    step: 2s
    lateness: 2s
    warmup: 0s
    description: Complaints about Acme spike
  - id: acme-volume
    kind: spike
    topics: [acme]
    window: 10s
    step: 2s
    lateness: 2s
    warmup: 0s
    description: Talk about Acme spikes
routing:
  receivers: [chat, mail, broken]
  group_wait: 1s
fallback: ops
receivers:
  - id: chat
    kind: slack
    url: {uri}/chat
  - id: mail
    kind: email
    url: smtp://127.0.0.1:{port}
    from: Lauscher <lauscher@acme.example>
    to: [service@acme.example]
  - id: broken
    kind: webhook
    url: {uri}/broken
  - id: ops
    kind: webhook
    url: {uri}/ops
incidents:
  resolve_after_quiet: 2
"
    );
    let dir = Dir::new();
    write_daemon_config(&dir, &feeds.uri(), &alerts);
    let daemon = tokio::task::block_in_place(|| dir.start_daemon());

    wait_until("the resolved emails", Duration::from_secs(60), async || {
        smtp.messages().len() >= 2
    })
    .await;
    // Let anything that would be a duplicate arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = receivers.received_requests().await.unwrap_or_default();

    // One chat message for the two new incidents of the group.
    let chat = bodies(&r, "/chat");
    let first = chat.first().expect("a chat message").to_string();
    assert!(
        first.contains("Complaints about Acme spike") && first.contains("Talk about Acme spikes"),
        "both incidents in the first message: {first}"
    );
    assert!(first.contains("divider"), "{first}");

    // The email: HTML with a text part, Message-ID from the idempotency key, and the
    // resolution threaded under the first message.
    let mails = smtp.messages();
    let opened = mails[0].replace("=\n", "").replace("=3D", "=");
    assert!(opened.contains("multipart/alternative"), "{opened}");
    assert!(opened.contains("text/plain") && opened.contains("text/html"));
    assert!(opened.contains("<!DOCTYPE html>"), "{opened}");
    assert!(
        opened.contains("Talk about Acme spikes") && opened.contains("Complaints about Acme spike"),
        "{opened}"
    );
    let header = |mail: &str, name: &str| {
        mail.lines()
            .find_map(|l| l.strip_prefix(name).map(str::trim).map(str::to_owned))
            .unwrap_or_default()
    };
    let id = header(&opened, "Message-ID:");
    assert!(
        id.starts_with("<lauscher.") && id.ends_with(".1.mail@acme.example>"),
        "{id}"
    );
    let resolved = &mails[mails.len() - 1];
    assert!(
        header(resolved, "In-Reply-To:").ends_with(".1.mail@acme.example>"),
        "{resolved}"
    );

    // The broken receiver: each notification tried once (404 is final), and the
    // fallback told once.
    let broken = r.iter().filter(|r| r.url.path() == "/broken").count();
    assert!(broken >= 2, "one request per incident: {broken}");
    let ops = bodies(&r, "/ops");
    assert_eq!(ops.len(), 1, "the fallback hears once: {ops:?}");
    assert_eq!(ops[0]["event"], "receiver_health");
    assert!(
        ops[0]["title"].as_str().unwrap_or("").contains("broken"),
        "{}",
        ops[0]
    );
    assert!(
        ops[0]["text"].as_str().unwrap_or("").contains("HTTP 404"),
        "{}",
        ops[0]
    );
    drop(daemon);
}

/// SIGTERM right after the first page went out: shutdown waits until every due
/// notification was answered, including one a receiver's rate limit holds back for a
/// second, instead of leaving it to the next start.
#[tokio::test(flavor = "multi_thread")]
async fn shutdown_sends_every_due_notification_before_it_exits() {
    let feeds = burst_feed_server().await;
    let receivers = MockServer::start().await;
    answer(&receivers, &["/hook"], 202).await;
    let alerts = format!(
        "version: 1
defaults:
  language: en
rules:
{}{}routing:
  receivers: [hook]
receivers:
  - id: hook
    kind: webhook
    url: {}/hook
    rate: 1/s
    burst: 1
",
        spike_rule("acme-storm"),
        spike_rule("acme-storm-copy"),
        receivers.uri()
    );
    let dir = Dir::new();
    write_daemon_config(&dir, &feeds.uri(), &alerts);
    let daemon = tokio::task::block_in_place(|| dir.start_daemon());
    wait_until("the first page", Duration::from_secs(20), async || {
        let r = receivers.received_requests().await.unwrap_or_default();
        !events(&r, "/hook").is_empty()
    })
    .await;
    let (ok, stderr) = tokio::task::block_in_place(|| daemon.terminate());
    assert!(ok, "{stderr}");
    let r = receivers.received_requests().await.unwrap_or_default();
    assert_eq!(
        events(&r, "/hook"),
        ["opened", "opened"],
        "both incidents paged before exit\n{stderr}"
    );
}

/// Issue 18 (hardening): the secrets of an alerting file (a Slack URL, a webhook's HMAC
/// secret and headers, a PagerDuty routing key, an SMTP password) reach no log line,
/// metric, `check` output, API answer or delivery error, even when every receiver fails.
#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_leave_the_config_even_when_receivers_fail() {
    const SECRETS: [&str; 5] = [
        "T0SLACKTOKEN",
        "HMACSECRET",
        "PDROUTINGKEY",
        "SMTPPASSWORD",
        "HEADERTOKEN",
    ];
    let feeds = burst_feed_server().await;
    let receivers = MockServer::start().await;
    answer(&receivers, &["/services/T0SLACKTOKEN"], 404).await;
    answer(&receivers, &["/hook", "/pd"], 500).await;
    let uri = receivers.uri();
    let alerts = format!(
        "version: 1
defaults:
  language: en
rules:
{}
routing:
  receivers: [hook, slack, pd, mail]
fallback: hook
receivers:
  - id: hook
    kind: webhook
    url: {uri}/hook
    secret: HMACSECRET
    headers:
      Authorization: Bearer HEADERTOKEN
  - id: slack
    kind: slack
    url: {uri}/services/T0SLACKTOKEN
  - id: pd
    kind: pagerduty
    routing_key: PDROUTINGKEY
    url: {uri}/pd
  - id: mail
    kind: email
    url: smtps://lauscher:SMTPPASSWORD@127.0.0.1:1
    from: Lauscher <lauscher@example.org>
    to: [service@example.org]
",
        spike_rule("acme-storm")
    );
    let dir = Dir::new();
    write_daemon_config(&dir, &feeds.uri(), &alerts);
    let daemon = tokio::task::block_in_place(|| dir.start_daemon());
    wait_until(
        "every receiver tried",
        Duration::from_secs(30),
        async || {
            let r = receivers.received_requests().await.unwrap_or_default();
            ["/hook", "/services/T0SLACKTOKEN", "/pd"]
                .iter()
                .all(|p| r.iter().any(|x| x.url.path() == *p))
        },
    )
    .await;
    // Let the email attempt fail and the fallback notice go out.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut seen = Vec::new();
    let (list, metrics) = tokio::task::block_in_place(|| {
        (
            daemon.get_json("/api/v1/incidents"),
            daemon.get("/metrics").1,
        )
    });
    seen.push(("/metrics", metrics));
    seen.push(("/api/v1/incidents", list.to_string()));
    let id = list["incidents"][0]["id"].as_i64().expect("an incident");
    let one = tokio::task::block_in_place(|| daemon.get_json(&format!("/api/v1/incidents/{id}")));
    let one = one.to_string();
    assert!(
        one.contains("HTTP 500") && one.contains("Connection refused"),
        "the failed attempts are shown: {one}"
    );
    seen.push(("/api/v1/incidents/{id}", one));
    let check = tokio::task::block_in_place(|| {
        dir.cmd(&["check", "--config"])
            .arg(dir.config())
            .output()
            .expect("check runs")
    });
    seen.push(("check", String::from_utf8_lossy(&check.stdout).into_owned()));
    seen.push((
        "check (stderr)",
        String::from_utf8_lossy(&check.stderr).into_owned(),
    ));
    let (_, log) = tokio::task::block_in_place(|| daemon.terminate());
    assert!(
        log.contains("notification not sent"),
        "the failures were logged: {log}"
    );
    seen.push(("daemon log", log));
    for (place, text) in &seen {
        for secret in SECRETS {
            assert!(
                !text.contains(secret),
                "{secret} appears in {place}:\n{text}"
            );
        }
    }
}
