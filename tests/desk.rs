//! The service desk end to end: posts pushed into the real daemon become desk items, a
//! brand reply in the thread is a first response, agents claim, acknowledge and resolve
//! through the API and the CLI, an SLA warning reaches a fake Slack, and kill -9 loses
//! nothing.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::util::{Daemon, Dir};

const TOKEN: &str = "desk-push-token-0123";

fn alerts(slack: &str) -> String {
    format!(
        "version: 1
receivers:
  - {{id: service-slack, kind: slack, url: \"{slack}/hook\"}}
desk:
  own_accounts:
    acme: [AcmeBahn]
  routes:
    - {{matchers: ['topic=\"acme\"'], team: service-de}}
  sla:
    - name: standard
      first_response: 60m
      next_response: 4h
      resolution: 3d
      warn: 0.75
      receivers: [service-slack]
"
    )
}

pub(crate) fn setup(slack: &str) -> Dir {
    let dir = Dir::new();
    dir.write_config(&format!(
        "  - id: inbox\n    kind: push\n    token: {TOKEN}\n    keep_all: true\n"
    ));
    dir.write("alerts.yaml", &alerts(slack));
    let config = std::fs::read_to_string(dir.config()).expect("config");
    std::fs::write(dir.config(), format!("{config}alerts: alerts.yaml\n")).expect("config");
    dir
}

pub(crate) fn line(
    id: &str,
    author: &str,
    minutes_ago: i64,
    text: &str,
    reply_to: Option<&str>,
) -> String {
    let at = (Utc::now() - chrono::Duration::minutes(minutes_ago)).to_rfc3339();
    let mut v = json!({
        "url": format!("https://social.example/{id}"),
        "author": author,
        "published_at": at,
        "text": text,
    });
    if let Some(r) = reply_to {
        v["reply_to"] = json!(format!("https://social.example/{r}"));
    }
    v.to_string()
}

pub(crate) fn push(daemon: &Daemon, lines: &[String]) {
    let (status, body) = daemon.post(
        "/api/v1/ingest",
        &[("authorization", &format!("Bearer {TOKEN}"))],
        &lines.join("\n"),
    );
    assert_eq!(status, 202, "{body}");
}

fn items(daemon: &Daemon, query: &str) -> Vec<Value> {
    daemon.get_json(&format!("/api/v1/desk/items?{query}"))["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub(crate) fn wait_items(daemon: &Daemon, query: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = items(daemon, query);
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {n} items: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn by_author<'a>(items: &'a [Value], author: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["post"]["author"] == author)
        .unwrap_or_else(|| panic!("no item by {author}: {items:?}"))
}

pub(crate) fn act(daemon: &Daemon, id: &Value, action: &str, body: Value) -> (u16, Value) {
    let (status, answer) = daemon.post(
        &format!("/api/v1/desk/items/{id}/{action}"),
        &[("content-type", "application/json")],
        &body.to_string(),
    );
    (status, serde_json::from_str(&answer).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn complaints_reach_the_queue_are_worked_measured_and_survive_kill_9() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let dir = setup(&slack.uri());
    let dir = tokio::task::spawn_blocking(move || {
        let daemon = dir.start_daemon();
        push(
            &daemon,
            &[
                // Posted 50 minutes ago: past 45 of its 60 minutes at once.
                line("1", "kim", 50, "Die Acme Bahn App stürzt beim Login ab, seit Tagen kaputt", None),
                line("2", "lea", 5, "Schon wieder 40 Minuten Verspätung bei Acme Bahn, das nervt", None),
                line("3", "max", 2, "Wann fährt heute der nächste Acme Bahn Zug nach Köln?", None),
                // Praise and the brand's own post are no items.
                line("4", "ola", 1, "Danke Acme Bahn, super freundliches Personal heute!", None),
                line("5", "AcmeBahn", 1, "Heute Bauarbeiten bei Acme Bahn zwischen A und B.", None),
            ],
        );
        let queue = wait_items(&daemon, "", 3);
        assert_eq!(queue.len(), 3, "{queue:?}");
        assert!(queue.iter().all(|i| i["team"] == "service-de" && i["state"] == "new"));
        assert_eq!(by_author(&queue, "max")["post"]["intent"], "question");
        // The oldest SLA comes first.
        assert_eq!(queue[0]["post"]["author"], "kim");

        // The brand answers lea in her thread: her first response, found, not clicked.
        push(
            &daemon,
            &[line("6", "AcmeBahn", 0, "Das tut uns leid, Lea, wir schauen nach.", Some("2"))],
        );
        let lea = by_author(&queue, "lea")["id"].clone();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let item = daemon.get_json(&format!("/api/v1/desk/items/{lea}"));
            if item["first_response"]["kind"] == "thread_reply" {
                assert_eq!(item["first_response"]["by"], "acmebahn");
                break;
            }
            assert!(Instant::now() < deadline, "no thread reply recorded: {item}");
            std::thread::sleep(Duration::from_millis(100));
        }

        // Anna claims kim's complaint, sends the receipt, then resolves it.
        let kim = by_author(&queue, "kim")["id"].clone();
        let seen = daemon.get_json(&format!("/api/v1/desk/items/{kim}"));
        let actions: Vec<&str> = seen["events"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["action"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(actions, ["created", "sla_warning"], "warned as soon as queued");
        let version = seen["version"].clone();
        let (status, item) = act(&daemon, &kim, "claim", json!({"by": "anna", "version": version}));
        assert_eq!(status, 200, "{item}");
        assert_eq!(item["state"], "open");
        let (status, stale) = act(&daemon, &kim, "resolve", json!({"by": "bob", "version": version}));
        assert_eq!(status, 409, "a stale version is refused: {stale}");
        let (status, item) =
            act(&daemon, &kim, "ack", json!({"by": "anna", "reference": "T-1234"}));
        assert_eq!(status, 200, "{item}");
        assert_eq!(item["first_response"]["kind"], "receipt");
        let (status, _) = act(&daemon, &kim, "teleport", json!({"by": "anna"}));
        assert_eq!(status, 400);
        let (status, _) = act(&daemon, &kim, "resolve", json!({}));
        assert_eq!(status, 400, "every action names its agent");

        // The CLI works the same queue.
        let api = daemon.base.clone();
        let out = dir
            .cmd(&["desk", "resolve", &kim.to_string(), "--by", "anna", "--api", &api])
            .output()
            .expect("cli");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = dir.cmd(&["desk", "list", "--api", &api]).output().expect("cli");
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(listed.contains("@lea") && listed.contains("@max"), "{listed}");
        assert!(!listed.contains("@kim"), "resolved items leave the queue: {listed}");

        // The SLA warning of kim's complaint reached Slack (sent before it was answered).
        let kpi = daemon.get_json("/api/v1/desk/kpi?since=2h");
        let k = &kpi["total"];
        assert_eq!(k["volume"], 3);
        assert_eq!(k["answered"], 2);
        assert_eq!(k["resolved"], 1);
        assert_eq!(k["backlog"]["new"], 2);
        // kim answered after ~50 min, lea within minutes: both within the hour.
        assert_eq!(k["service_levels"][0]["met"], 2);
        assert_eq!(k["service_levels"][0]["counted"], 2, "max's question is too young to count");

        let metrics = daemon.get("/metrics").1;
        assert!(
            metrics.contains("lauscher_desk_first_response_seconds_count{intent=\"complaint\",source=\"inbox\"} 2"),
            "{metrics}"
        );
        assert!(metrics.contains("lauscher_desk_backlog{"), "{metrics}");

        // kill -9: items, events and KPIs survive; the catch-up adds nothing twice.
        daemon.kill9();
        let daemon = dir.start_daemon();
        let mut again = daemon.get_json("/api/v1/desk/kpi?since=2h");
        // The oldest item's age moves with the clock; everything else is the log's.
        let mut before = kpi["total"].clone();
        for k in [&mut again["total"], &mut before] {
            k["backlog"]["oldest_age_s"] = Value::Null;
        }
        assert_eq!(again["total"], before, "KPIs recompute the same from the events");
        let all = items(&daemon, "state=new,open,pending,resolved");
        assert_eq!(all.len(), 3, "{all:?}");
        let shown = daemon.get_json(&format!("/api/v1/desk/items/{kim}"));
        let actions: Vec<&str> = shown["events"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["action"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            actions.starts_with(&["created"]) && actions.contains(&"responded") && actions.ends_with(&["resolved"]),
            "{actions:?}"
        );
        (dir, daemon)
    })
    .await
    .expect("test thread");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = slack.received_requests().await.unwrap_or_default();
        let texts: Vec<String> = got
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect();
        if texts
            .iter()
            .any(|t| t.contains("SLA warning") && t.contains("@kim"))
        {
            assert!(
                !texts.iter().any(|t| t.contains("@lea")),
                "lea was answered in time: {texts:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no SLA warning reached Slack: {texts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(dir);
}

fn token(dir: &Dir, name: &str, role: &str) -> String {
    let out = dir
        .cmd(&["token", "create", name, "--role", role, "--data-dir"])
        .arg(dir.data())
        .output()
        .expect("token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Sends a request with an optional bearer token; returns the status and body.
fn send(
    daemon: &Daemon,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", daemon.base);
    let mut req = if method == "GET" {
        client.get(url)
    } else {
        client.post(url)
    };
    req = req
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        match req.send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    })
}

fn call(daemon: &Daemon, method: &str, path: &str, token: Option<&str>, body: &str) -> u16 {
    send(daemon, method, path, token, body).0
}

/// Once a token exists the API needs one: viewers read, agents act (under the token's
/// name, whatever `by` says), revoked tokens stop working; health and the push inbox
/// stay as they were.
#[test]
fn tokens_with_roles_guard_the_api_and_name_the_actor() {
    let dir = setup("http://127.0.0.1:9");
    let agent = token(&dir, "anna", "agent");
    let viewer = token(&dir, "vera", "viewer");
    assert!(agent.starts_with("lsr_") && agent.len() > 60, "{agent}");
    let daemon = dir.start_daemon();
    push(
        &daemon,
        &[line(
            "1",
            "kim",
            1,
            "Die Acme Bahn App stürzt beim Login ab, seit Tagen kaputt",
            None,
        )],
    );
    assert_eq!(call(&daemon, "GET", "/healthz", None, ""), 200);
    assert_eq!(call(&daemon, "GET", "/api/v1/desk/items", None, ""), 401);
    assert_eq!(
        call(&daemon, "GET", "/api/v1/desk/items", Some("lsr_wrong"), ""),
        401
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let id = loop {
        let (_, page) = send(&daemon, "GET", "/api/v1/desk/items", Some(&viewer), "");
        let page: Value = serde_json::from_str(&page).unwrap_or(Value::Null);
        if let Some(id) = page["items"][0]["id"].as_i64() {
            break id;
        }
        assert!(Instant::now() < deadline, "no item");
        std::thread::sleep(Duration::from_millis(100));
    };
    let claim = format!("/api/v1/desk/items/{id}/claim");
    let mallory = r#"{"by": "mallory"}"#;
    assert_eq!(call(&daemon, "POST", &claim, Some(&viewer), mallory), 403);
    assert_eq!(call(&daemon, "POST", &claim, Some(&agent), mallory), 200);
    assert_eq!(
        call(&daemon, "POST", "/api/v1/reload", Some(&agent), ""),
        403
    );
    let (status, body) = daemon.get(&format!("/api/v1/desk/items/{id}"));
    assert_eq!(status, 401, "{body}");
    let out = dir
        .cmd(&[
            "desk",
            "show",
            &id.to_string(),
            "--json",
            "--api",
            &daemon.base,
        ])
        .env("LAUSCHER_TOKEN", &viewer)
        .output()
        .expect("cli");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("\"assignee\": \"anna\""),
        "the token names the actor: {shown}"
    );
    assert!(!shown.contains("mallory"), "{shown}");
    let out = dir
        .cmd(&["token", "revoke", "anna", "--data-dir"])
        .arg(dir.data())
        .output()
        .expect("revoke");
    assert!(out.status.success());
    std::thread::sleep(Duration::from_millis(5_500));
    let note = format!("/api/v1/desk/items/{id}/note");
    assert_eq!(
        call(&daemon, "POST", &note, Some(&agent), r#"{"body": "x"}"#),
        401
    );
    let listed = dir
        .cmd(&["token", "list", "--data-dir"])
        .arg(dir.data())
        .output()
        .expect("list");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("anna") && listed.contains("revoked"),
        "{listed}"
    );
    assert!(
        !listed.contains("lsr_"),
        "secrets are never shown again: {listed}"
    );
}

/// An agent corrects the scorer on two items; the correction shows on the item, and
/// `lauscher eval --corrections` measures the scorer on them and proposes the word both
/// share for the user lexicon.
#[test]
fn corrections_are_shown_and_teach_the_lexicon() {
    let dir = setup("http://127.0.0.1:9");
    let daemon = dir.start_daemon();
    push(
        &daemon,
        &[
            line(
                "1",
                "kim",
                2,
                "Warum ist die Acme Bahn heute so schnarchig?",
                None,
            ),
            line(
                "2",
                "lea",
                1,
                "Wieso fährt die Acme Bahn so schnarchig, ist das normal?",
                None,
            ),
        ],
    );
    let queue = wait_items(&daemon, "", 2);
    for item in &queue {
        assert_eq!(
            item["post"]["label"], "neutral",
            "the scorer does not know the word"
        );
        let (status, body) = act(
            &daemon,
            &item["id"],
            "correct",
            json!({"by": "anna", "label": "negative", "intent": "complaint"}),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["corrected_label"], "negative");
    }
    let (status, _) = act(&daemon, &queue[0]["id"], "correct", json!({"by": "anna"}));
    assert_eq!(status, 400, "a correction corrects something");
    let kpi = daemon.get_json("/api/v1/desk/kpi?since=1h");
    assert_eq!(
        kpi["total"]["by_intent"]["complaint"], 2,
        "the corrected intent is shown: {kpi}"
    );
    let (stopped, _) = daemon.terminate();
    assert!(stopped);
    let out = dir
        .cmd(&["eval", "--corrections", "--data-dir"])
        .arg(dir.data())
        .output()
        .expect("eval");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("n 2"), "{stdout}");
    assert!(stdout.contains("schnarchig: -1.5"), "{stdout}");
}

fn signed(secret: &str, body: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    format!(
        "sha256={}",
        hex::encode(aws_lc_rs::hmac::sign(&key, body.as_bytes()).as_ref())
    )
}

/// An item handed off to a ticket system's webhook reaches it once (signed, with its
/// idempotency key, also across kill -9); the ticket system's signed reports come back:
/// its first answer is the first response, `closed` resolves the item, a repeated
/// delivery changes nothing, a bad signature is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_handed_off_item_reaches_the_ticket_system_once_and_its_state_comes_back() {
    const SECRET: &str = "ticket-bridge-secret";
    let tickets = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/inbound"))
        .respond_with(ResponseTemplate::new(201).set_body_string("{\"id\": 4711}"))
        .mount(&tickets)
        .await;
    let dir = setup("http://127.0.0.1:9");
    let alerts = std::fs::read_to_string(dir.path().join("alerts.yaml")).expect("alerts");
    let alerts = alerts
        .replace(
            "receivers:\n",
            &format!(
                "receivers:\n  - {{id: tickets, kind: webhook, url: \"{}/inbound\", secret: {SECRET}}}\n",
                tickets.uri()
            ),
        )
        .replace("desk:\n", "desk:\n  handoff: [tickets]\n");
    dir.write("alerts.yaml", &alerts);
    let dir = tokio::task::spawn_blocking(move || {
        let daemon = dir.start_daemon();
        push(
            &daemon,
            &[line(
                "1",
                "kim",
                1,
                "Die Acme Bahn App stürzt beim Login ab, seit Tagen kaputt",
                None,
            )],
        );
        let queue = wait_items(&daemon, "", 1);
        let id = queue[0]["id"].clone();
        let (status, item) = act(
            &daemon,
            &id,
            "handoff",
            json!({"by": "anna", "target": "nowhere"}),
        );
        assert_eq!(status, 400, "{item}");
        let (status, item) = act(
            &daemon,
            &id,
            "handoff",
            json!({"by": "anna", "target": "tickets"}),
        );
        assert_eq!(status, 200, "{item}");
        assert_eq!(item["state"], "handed_off");
        let report = |delivery: &str, state: &str| {
            json!({
                "item": id,
                "delivery": delivery,
                "state": state,
                "external_id": 4711,
                "first_response_at": Utc::now().to_rfc3339(),
            })
            .to_string()
        };
        let hook = "/api/v1/desk/handoff/tickets";
        let body = report("d-1", "open");
        let (status, _) = daemon.post(hook, &[("x-lauscher-signature", "sha256=00")], &body);
        assert_eq!(status, 401, "a bad signature is refused");
        let (status, answer) = daemon.post(
            hook,
            &[("x-lauscher-signature", &signed(SECRET, &body))],
            &body,
        );
        assert_eq!(status, 200, "{answer}");
        let again = daemon.post(
            hook,
            &[("x-lauscher-signature", &signed(SECRET, &body))],
            &body,
        );
        assert_eq!(again.0, 200);
        let shown = daemon.get_json(&format!("/api/v1/desk/items/{id}"));
        assert_eq!(shown["first_response"]["kind"], "external", "{shown}");
        assert_eq!(shown["external"], json!(["4711", "open"]));
        let versions = shown["version"].clone();
        let again: Value = serde_json::from_str(&again.1).expect("json");
        assert_eq!(
            again["version"], versions,
            "a repeated delivery changes nothing"
        );
        // Kim writes again in the thread: the post goes to the same ticket.
        push(
            &daemon,
            &[line(
                "1b",
                "kim",
                0,
                "Immer noch kaputt, Acme Bahn.",
                Some("1"),
            )],
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while daemon.get_json(&format!("/api/v1/desk/items/{id}"))["follow_ups"]
            .as_array()
            .is_none_or(Vec::is_empty)
        {
            assert!(Instant::now() < deadline, "the follow-up joined the item");
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(2));
        daemon.kill9();
        let daemon = dir.start_daemon();
        let body = report("d-2", "closed");
        let (status, answer) = daemon.post(
            hook,
            &[("x-lauscher-signature", &signed(SECRET, &body))],
            &body,
        );
        assert_eq!(status, 200, "{answer}");
        let shown = daemon.get_json(&format!("/api/v1/desk/items/{id}"));
        assert_eq!(shown["state"], "resolved", "{shown}");
        std::thread::sleep(Duration::from_secs(2));
        (dir, daemon)
    })
    .await
    .expect("test thread");
    let got = tickets.received_requests().await.unwrap_or_default();
    let events: Vec<String> = got
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .map(|b| b["event"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        events,
        ["handoff", "follow_up"],
        "one hand-off request and the later post, also across kill -9"
    );
    let r = &got[0];
    assert_eq!(
        r.headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok()),
        Some("handoff:1:tickets")
    );
    assert!(r.headers.get("lauscher-signature").is_some());
    let body: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(body["version"], "lauscher.handoff/v1");
    assert_eq!(body["reference"], "LSR-1");
    assert_eq!(body["post"]["author"], "kim");
    let later: Value = serde_json::from_slice(&got[1].body).expect("json");
    assert_eq!(later["reference"], "LSR-1");
    assert_eq!(later["post"]["snippet"], "Immer noch kaputt, Acme Bahn.");
    drop(dir);
}

/// Agent availability through the API and the CLI: away, listed, back.
#[tokio::test(flavor = "multi_thread")]
async fn agents_go_away_and_come_back() {
    let dir = setup("http://127.0.0.1:9");
    tokio::task::spawn_blocking(move || {
        let daemon = dir.start_daemon();
        let (status, body) = daemon.post(
            "/api/v1/desk/agents/anna/away",
            &[("content-type", "application/json")],
            &json!({"away": true, "by": "lead"}).to_string(),
        );
        assert_eq!(status, 200, "{body}");
        let agents = daemon.get_json("/api/v1/desk/agents");
        assert_eq!(agents["away"][0]["agent"], "anna", "{agents}");
        assert_eq!(agents["away"][0]["set_by"], "user:lead", "{agents}");
        let (status, body) = daemon.post(
            "/api/v1/desk/agents/anna/away",
            &[("content-type", "application/json")],
            "{\"away\": \"maybe\"}",
        );
        assert_eq!(status, 400, "{body}");
        let out = dir
            .cmd(&[
                "desk",
                "away",
                "anna",
                "--back",
                "--api",
                &daemon.base,
                "--by",
                "anna",
            ])
            .output()
            .expect("lauscher desk away");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let agents = daemon.get_json("/api/v1/desk/agents");
        assert_eq!(agents["away"], json!([]), "{agents}");
    })
    .await
    .expect("test thread");
}
