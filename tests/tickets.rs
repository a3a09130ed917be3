//! Hand-off to ticket systems: contract tests of the Zammad and Znuny clients against
//! local fakes that answer with the documented request and response shapes (neither
//! product runs in our CI), and the daemon end to end: a complaint is claimed,
//! acknowledged, handed off to a fake Zammad, closed by its signed webhook, and counted;
//! a kill -9 while Zammad makes the ticket still yields one ticket; a fake Znuny's
//! closed ticket is found by the poll.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, patch, post};
use lauscher_alerts::ticket::{TicketClient, TicketError};
use lauscher_config::ReceiverConfig;
use serde_json::{Value, json};

use crate::desk::{act, line, push, setup, wait_items};

const TOKEN: &str = "zammad-agent-token";
const SECRET: &str = "ticket-webhook-secret";
const ZNUNY_BASE: &str = "/znuny/nph-genericinterface.pl/Webservice/Lauscher";

/// A ticket in a fake system.
#[derive(Clone, Debug, Default)]
struct FakeTicket {
    id: u64,
    number: String,
    title: String,
    state: String,
    state_type: String,
    reference: Option<String>,
    articles: Vec<String>,
    changed: u64,
    body: Value,
}

/// What a fake ticket system holds and how it misbehaves.
#[derive(Default)]
struct Fake {
    tickets: Vec<FakeTicket>,
    requests: Vec<String>,
    /// Make the ticket, then answer 500 (the answer lost on the way).
    lose_next_create_answer: bool,
    /// Make the ticket, then wait this long before answering.
    hold_create: Option<Duration>,
}

type Shared = Arc<Mutex<Fake>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Fake> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fake ticket system on 127.0.0.1; its base URL and its state.
async fn serve(router: Router<Shared>) -> (String, Shared) {
    let shared: Shared = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = router.with_state(shared.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), shared)
}

// ---- Zammad: the shapes of docs.zammad.org api/ticket ----

fn zammad_ticket(t: &FakeTicket) -> Value {
    json!({"id": t.id, "number": t.number, "title": t.title, "state": t.state,
           "group": "Social Media", "updated_at": format!("2026-12-06T10:00:{:02}Z", t.changed % 60),
           "first_response_at": null})
}

fn zammad_auth(h: &HeaderMap) -> Result<(), (StatusCode, String)> {
    let given = h.get("authorization").and_then(|v| v.to_str().ok());
    if given == Some(&format!("Token token={TOKEN}")) {
        Ok(())
    } else {
        Err((
            StatusCode::UNAUTHORIZED,
            "{\"error\":\"authentication failed\"}".into(),
        ))
    }
}

async fn zammad_search(
    State(s): State<Shared>,
    h: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<String, (StatusCode, String)> {
    zammad_auth(&h)?;
    let query = q.get("query").cloned().unwrap_or_default();
    assert_eq!(q.get("expand").map(String::as_str), Some("true"));
    // Like a full-text search: sloppier than an exact match (LSR-1 finds LSR-12).
    let needle = query
        .trim_start_matches("title:")
        .trim_matches('"')
        .to_owned();
    let mut fake = lock(&s);
    fake.requests.push(format!("GET search {query}"));
    let found: Vec<Value> = fake
        .tickets
        .iter()
        .filter(|t| t.title.contains(&needle))
        .map(zammad_ticket)
        .collect();
    Ok(Value::Array(found).to_string())
}

async fn zammad_create(
    State(s): State<Shared>,
    h: HeaderMap,
    body: String,
) -> Result<(StatusCode, String), (StatusCode, String)> {
    zammad_auth(&h)?;
    let b: Value =
        serde_json::from_str(&body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    for field in ["title", "group", "article"] {
        if b.get(field).is_none() {
            return Err((StatusCode::UNPROCESSABLE_ENTITY, format!("{field} missing")));
        }
    }
    if b.get("customer_id").is_none() && b.get("customer").is_none() {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, "customer missing".into()));
    }
    let (answer, hold, lose) = {
        let mut fake = lock(&s);
        let id = 100 + fake.tickets.len() as u64;
        let t = FakeTicket {
            id,
            number: format!("31{id:03}"),
            title: b["title"].as_str().unwrap_or("").to_owned(),
            state: "new".into(),
            state_type: "new".into(),
            reference: None,
            articles: vec![b["article"]["subject"].as_str().unwrap_or("").to_owned()],
            changed: 0,
            body: b.clone(),
        };
        fake.requests.push(format!("POST tickets {}", t.title));
        // The create answer is compact: ids, no state name.
        let answer = json!({"id": t.id, "number": t.number, "title": t.title, "state_id": 1,
                            "group_id": 2, "article_ids": [1]});
        fake.tickets.push(t);
        let lose = std::mem::take(&mut fake.lose_next_create_answer);
        (answer, fake.hold_create, lose)
    };
    if let Some(d) = hold {
        tokio::time::sleep(d).await;
    }
    if lose {
        return Err((StatusCode::BAD_GATEWAY, "upstream timeout".into()));
    }
    Ok((StatusCode::CREATED, answer.to_string()))
}

async fn zammad_get(
    State(s): State<Shared>,
    h: HeaderMap,
    Path(id): Path<u64>,
) -> Result<String, (StatusCode, String)> {
    zammad_auth(&h)?;
    let fake = lock(&s);
    let t = fake
        .tickets
        .iter()
        .find(|t| t.id == id)
        .ok_or((StatusCode::NOT_FOUND, "not found".into()))?;
    Ok(zammad_ticket(t).to_string())
}

async fn zammad_update(
    State(s): State<Shared>,
    h: HeaderMap,
    Path(id): Path<u64>,
    body: String,
) -> Result<String, (StatusCode, String)> {
    zammad_auth(&h)?;
    let b: Value =
        serde_json::from_str(&body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    let mut fake = lock(&s);
    fake.requests.push(format!("PUT ticket {id}"));
    let t = fake
        .tickets
        .iter_mut()
        .find(|t| t.id == id)
        .ok_or((StatusCode::NOT_FOUND, "not found".into()))?;
    if let Some(subject) = b["article"]["subject"].as_str() {
        t.articles.push(subject.to_owned());
        t.changed += 1;
    }
    Ok(zammad_ticket(t).to_string())
}

async fn zammad_articles(
    State(s): State<Shared>,
    h: HeaderMap,
    Path(id): Path<u64>,
) -> Result<String, (StatusCode, String)> {
    zammad_auth(&h)?;
    let fake = lock(&s);
    let t = fake
        .tickets
        .iter()
        .find(|t| t.id == id)
        .ok_or((StatusCode::NOT_FOUND, "not found".into()))?;
    let list: Vec<Value> = t
        .articles
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"id": i + 1, "ticket_id": id, "subject": s, "sender": "Customer"}))
        .collect();
    Ok(Value::Array(list).to_string())
}

fn zammad() -> Router<Shared> {
    Router::new()
        .route("/api/v1/tickets/search", get(zammad_search))
        .route("/api/v1/tickets", post(zammad_create))
        .route("/api/v1/tickets/{id}", get(zammad_get).put(zammad_update))
        .route(
            "/api/v1/ticket_articles/by_ticket/{id}",
            get(zammad_articles),
        )
}

// ---- Znuny: GenericInterface operations as routed by deploy/znuny/Lauscher.yml ----

fn znuny_error(code: &str, msg: &str) -> String {
    json!({"Error": {"ErrorCode": code, "ErrorMessage": msg}}).to_string()
}

fn znuny_auth(b: &Value, op: &str) -> Result<(), String> {
    if b["UserLogin"] == "lauscher" && b["Password"] == "agent-pw" {
        Ok(())
    } else {
        Err(znuny_error(
            &format!("{op}.AuthFail"),
            "Authorization failing!",
        ))
    }
}

fn znuny_ticket(t: &FakeTicket, articles: bool) -> Value {
    let mut v = json!({"TicketID": t.id.to_string(), "TicketNumber": t.number, "Title": t.title,
        "State": t.state, "StateType": t.state_type,
        "Changed": format!("2026-12-06 10:00:{:02}", t.changed % 60)});
    if articles {
        v["Article"] = t.articles.iter().map(|s| json!({"Subject": s})).collect();
    }
    v
}

async fn znuny_search(State(s): State<Shared>, body: String) -> String {
    let b: Value = serde_json::from_str(&body).unwrap_or_default();
    if let Err(e) = znuny_auth(&b, "TicketSearch") {
        return e;
    }
    let wanted = b["DynamicField_LauscherRef"]["Equals"]
        .as_str()
        .unwrap_or("");
    let mut fake = lock(&s);
    fake.requests.push(format!("POST TicketSearch {wanted}"));
    let ids: Vec<String> = fake
        .tickets
        .iter()
        .filter(|t| t.reference.as_deref() == Some(wanted))
        .map(|t| t.id.to_string())
        .collect();
    if ids.is_empty() {
        "{}".into()
    } else {
        json!({"TicketID": ids}).to_string()
    }
}

async fn znuny_create(State(s): State<Shared>, body: String) -> String {
    let b: Value = serde_json::from_str(&body).unwrap_or_default();
    if let Err(e) = znuny_auth(&b, "TicketCreate") {
        return e;
    }
    for f in ["Title", "Queue", "State", "Priority", "CustomerUser"] {
        if b["Ticket"][f].as_str().is_none_or(str::is_empty) {
            return znuny_error(
                "TicketCreate.MissingParameter",
                &format!("TicketCreate: Ticket->{f} parameter is missing or not valid!"),
            );
        }
    }
    for f in ["Subject", "Body", "ContentType", "CommunicationChannel"] {
        if b["Article"][f].as_str().is_none_or(str::is_empty) {
            return znuny_error(
                "TicketCreate.MissingParameter",
                &format!("TicketCreate: Article->{f} parameter is missing!"),
            );
        }
    }
    let reference = b["DynamicField"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["Name"] == "LauscherRef"))
        .and_then(|f| f["Value"].as_str())
        .map(str::to_owned);
    let mut fake = lock(&s);
    let id = 500 + fake.tickets.len() as u64;
    let t = FakeTicket {
        id,
        number: format!("2026120610{id:06}"),
        title: b["Ticket"]["Title"].as_str().unwrap_or("").to_owned(),
        state: "new".into(),
        state_type: "new".into(),
        reference,
        articles: vec![b["Article"]["Subject"].as_str().unwrap_or("").to_owned()],
        changed: 0,
        body: b.clone(),
    };
    fake.requests.push(format!("POST Ticket {}", t.title));
    let answer = json!({"TicketID": t.id.to_string(), "TicketNumber": t.number, "ArticleID": "1"});
    fake.tickets.push(t);
    answer.to_string()
}

async fn znuny_get(State(s): State<Shared>, body: String) -> String {
    let b: Value = serde_json::from_str(&body).unwrap_or_default();
    if let Err(e) = znuny_auth(&b, "TicketGet") {
        return e;
    }
    let id: u64 = b["TicketID"]
        .as_str()
        .and_then(|i| i.parse().ok())
        .unwrap_or(0);
    let fake = lock(&s);
    match fake.tickets.iter().find(|t| t.id == id) {
        Some(t) => json!({"Ticket": [znuny_ticket(t, b["AllArticles"] == 1)]}).to_string(),
        None => znuny_error(
            "TicketGet.AccessDenied",
            "User does not have access to the ticket!",
        ),
    }
}

async fn znuny_update(State(s): State<Shared>, Path(id): Path<u64>, body: String) -> String {
    let b: Value = serde_json::from_str(&body).unwrap_or_default();
    if let Err(e) = znuny_auth(&b, "TicketUpdate") {
        return e;
    }
    let mut fake = lock(&s);
    fake.requests.push(format!("PATCH Ticket {id}"));
    match fake.tickets.iter_mut().find(|t| t.id == id) {
        Some(t) => {
            t.articles
                .push(b["Article"]["Subject"].as_str().unwrap_or("").to_owned());
            t.changed += 1;
            json!({"TicketID": id.to_string(), "ArticleID": t.articles.len().to_string()})
                .to_string()
        }
        None => znuny_error("TicketUpdate.AccessDenied", "no such ticket"),
    }
}

fn znuny() -> Router<Shared> {
    Router::new()
        .route(&format!("{ZNUNY_BASE}/TicketSearch"), post(znuny_search))
        .route(&format!("{ZNUNY_BASE}/Ticket"), post(znuny_create))
        .route(&format!("{ZNUNY_BASE}/TicketGet"), post(znuny_get))
        .route(&format!("{ZNUNY_BASE}/Ticket/{{id}}"), patch(znuny_update))
}

// ---- contract tests ----

fn zammad_receiver(base: &str) -> ReceiverConfig {
    serde_json::from_value(
        json!({"id": "zammad", "kind": "zammad", "url": base, "secret": SECRET,
        "ticket": {"token": TOKEN, "queue": "Social Media", "customer": "social@example.de"}}),
    )
    .expect("receiver")
}

fn znuny_receiver(base: &str) -> ReceiverConfig {
    serde_json::from_value(
        json!({"id": "znuny", "kind": "znuny", "url": format!("{base}{ZNUNY_BASE}"),
        "secret": SECRET, "ticket": {"user": "lauscher", "password": "agent-pw",
        "queue": "Social Media", "customer": "social@example.de"}}),
    )
    .expect("receiver")
}

fn handoff(item: i64, mention: &str, event: &str, external_id: Option<&str>) -> String {
    json!({
        "version": "lauscher.handoff/v1", "event": event, "item": item,
        "reference": format!("LSR-{item}"), "intent": "complaint", "label": "negative",
        "priority": "high", "external_id": external_id,
        "post": {"mention": mention, "source": "mastodon", "author": "kim",
                 "url": format!("https://social.example/{mention}"),
                 "snippet": "Die App stürzt beim Login ab", "posted_at": "2026-12-06T09:00:00Z"},
        "link": "https://lauscher.example/api/v1/desk/items/1",
    })
    .to_string()
}

#[tokio::test]
async fn zammad_gets_one_ticket_per_item_and_one_article_per_post_whatever_is_resent() {
    let (base, fake) = serve(zammad()).await;
    let http = reqwest::Client::new();
    let r = zammad_receiver(&base);
    let client = TicketClient::new(&http, &r).expect("client");
    // Another item's ticket whose title a full-text search also finds for LSR-1.
    lock(&fake).tickets.push(FakeTicket {
        id: 7,
        title: "[LSR-12] question by @x on bluesky".into(),
        state: "open".into(),
        ..FakeTicket::default()
    });
    let first = client
        .deliver(&handoff(1, "aa01", "handoff", None))
        .await
        .expect("made");
    assert_eq!(first.item, 1);
    assert_eq!(first.ticket.id, "101");
    assert_eq!(first.ticket.number.as_deref(), Some("31101"));
    // Resent (a crash before our commit): found by its title, not made again.
    let again = client
        .deliver(&handoff(1, "aa01", "handoff", None))
        .await
        .expect("found");
    assert_eq!(again.ticket.id, "101");
    assert_eq!(
        again.delivery, first.delivery,
        "the same report: recorded once"
    );
    {
        let f = lock(&fake);
        assert_eq!(f.tickets.len(), 2, "one ticket made: {:?}", f.requests);
        let made = &f.tickets[1].body;
        assert!(
            made["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("[LSR-1] complaint by @kim on mastodon: Die App")),
            "{made}"
        );
        assert_eq!(made["group"], "Social Media");
        assert_eq!(made["customer_id"], "guess:social@example.de");
        assert_eq!(made["priority"], "3 high");
        assert_eq!(made["tags"], "lauscher,complaint,mastodon");
        assert_eq!(made["article"]["type"], "note");
        assert_eq!(made["article"]["internal"], false);
        assert_eq!(made["article"]["content_type"], "text/html");
        assert_eq!(made["article"]["subject"], "[LSR-1] post aa01");
        let html = made["article"]["body"].as_str().unwrap_or("");
        assert!(html.contains("https://social.example/aa01"), "{html}");
        assert!(html.contains("Reference: LSR-1"), "{html}");
    }
    // The answer to a create is lost after Zammad made the ticket: the retry finds it.
    lock(&fake).lose_next_create_answer = true;
    let lost = client.deliver(&handoff(2, "bb02", "handoff", None)).await;
    assert!(matches!(lost, Err(TicketError::Retry(_))), "{lost:?}");
    let found = client
        .deliver(&handoff(2, "bb02", "handoff", None))
        .await
        .expect("found after a lost answer");
    assert_eq!(found.ticket.id, "102");
    assert_eq!(lock(&fake).tickets.len(), 3);
    // A later post is one article, also when resent, with or without the known id.
    for known in [Some("101"), None, Some("101")] {
        client
            .deliver(&handoff(1, "aa02", "follow_up", known))
            .await
            .expect("article");
    }
    {
        let f = lock(&fake);
        assert_eq!(
            f.tickets[1].articles,
            ["[LSR-1] post aa01", "[LSR-1] post aa02"],
            "{:?}",
            f.requests
        );
    }
    // State comes back by id, closed when closed.
    lock(&fake).tickets[1].state = "closed".into();
    let t = client
        .status(1, "LSR-1", Some("101"))
        .await
        .expect("read")
        .expect("ticket")
        .ticket;
    assert!(t.closed);
    assert_eq!(t.state, "closed");
    // A wrong token is a rejection, not a retry.
    let mut wrong = zammad_receiver(&base);
    if let Some(t) = wrong.ticket.as_mut() {
        t.token = Some("nope".into());
    }
    let client = TicketClient::new(&http, &wrong).expect("client");
    let refused = client.deliver(&handoff(3, "cc03", "handoff", None)).await;
    assert!(
        matches!(&refused, Err(TicketError::Rejected(m)) if m.contains("HTTP 401")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn znuny_gets_one_ticket_per_item_with_its_dynamic_field_and_errors_are_rejections() {
    let (base, fake) = serve(znuny()).await;
    let http = reqwest::Client::new();
    let r = znuny_receiver(&base);
    let client = TicketClient::new(&http, &r).expect("client");
    let first = client
        .deliver(&handoff(4, "dd04", "handoff", None))
        .await
        .expect("made");
    assert_eq!(first.ticket.id, "500");
    assert_eq!(first.ticket.number.as_deref(), Some("2026120610000500"));
    let again = client
        .deliver(&handoff(4, "dd04", "handoff", None))
        .await
        .expect("found");
    assert_eq!(again.ticket.id, "500");
    client
        .deliver(&handoff(4, "dd05", "follow_up", None))
        .await
        .expect("article");
    client
        .deliver(&handoff(4, "dd05", "follow_up", Some("500")))
        .await
        .expect("article again");
    {
        let f = lock(&fake);
        assert_eq!(f.tickets.len(), 1, "{:?}", f.requests);
        let t = &f.tickets[0];
        assert_eq!(t.reference.as_deref(), Some("LSR-4"));
        assert_eq!(t.articles, ["[LSR-4] post dd04", "[LSR-4] post dd05"]);
        let b = &t.body;
        assert_eq!(b["Ticket"]["Queue"], "Social Media");
        assert_eq!(b["Ticket"]["State"], "new");
        assert_eq!(b["Ticket"]["Priority"], "4 high");
        assert_eq!(b["Ticket"]["CustomerUser"], "social@example.de");
        assert_eq!(b["Article"]["CommunicationChannel"], "Internal");
        assert_eq!(b["Article"]["SenderType"], "customer");
        assert_eq!(b["Article"]["ContentType"], "text/plain; charset=utf8");
    }
    lock(&fake).tickets[0].state = "closed successful".into();
    lock(&fake).tickets[0].state_type = "closed".into();
    let t = client
        .status(4, "LSR-4", None)
        .await
        .expect("read")
        .expect("found by reference")
        .ticket;
    assert!(t.closed);
    assert_eq!(t.state, "closed successful");
    // Znuny's errors come with 200: a wrong password is a rejection naming the code.
    let mut wrong = znuny_receiver(&base);
    if let Some(t) = wrong.ticket.as_mut() {
        t.password = Some("nope".into());
    }
    let client = TicketClient::new(&http, &wrong).expect("client");
    let refused = client.deliver(&handoff(5, "ee05", "handoff", None)).await;
    assert!(
        matches!(&refused, Err(TicketError::Rejected(m)) if m.contains("TicketSearch.AuthFail")),
        "{refused:?}"
    );
}

// ---- end to end ----

fn with_ticket_system(dir: &crate::util::Dir, receiver: &str, target: &str) {
    let alerts = std::fs::read_to_string(dir.path().join("alerts.yaml")).expect("alerts");
    let alerts = alerts
        .replace("receivers:\n", &format!("receivers:\n  - {receiver}\n"))
        .replace("desk:\n", &format!("desk:\n  handoff: [{target}]\n"));
    dir.write("alerts.yaml", &alerts);
}

fn zammad_hook(item_title: &str, id: u64, state: &str) -> String {
    json!({"ticket": {"id": id, "number": format!("31{id:03}"), "title": item_title,
        "state": state, "updated_at": "2026-12-06T11:00:00Z",
        "first_response_at": chrono::Utc::now().to_rfc3339()},
        "article": {"subject": "Antwort", "sender": "Agent"}})
    .to_string()
}

fn sha1_signed(body: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        SECRET.as_bytes(),
    );
    format!(
        "sha1={}",
        hex::encode(aws_lc_rs::hmac::sign(&key, body.as_bytes()).as_ref())
    )
}

fn wait_until(what: &str, pred: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pred() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The story: a complaint is posted, becomes an item, is claimed, gets a
/// receipt, is handed off to Zammad, whose webhook closes it, and the KPIs say so; a
/// kill -9 while Zammad makes the ticket of a second item still yields one ticket.
#[tokio::test(flavor = "multi_thread")]
async fn a_complaint_goes_to_zammad_once_and_its_webhook_closes_it() {
    let (base, fake) = serve(zammad()).await;
    let dir = setup("http://127.0.0.1:9");
    with_ticket_system(
        &dir,
        &format!(
            "{{id: zammad, kind: zammad, url: \"{base}\", secret: {SECRET}, ticket: {{token: {TOKEN}, queue: Social Media, customer: social@example.de, settle: 1s}}}}"
        ),
        "zammad",
    );
    let f = fake.clone();
    tokio::task::spawn_blocking(move || {
        let daemon = dir.start_daemon();
        push(
            &daemon,
            &[
                line(
                    "1",
                    "kim",
                    5,
                    "Die Acme Bahn App stürzt beim Login ab, seit Tagen kaputt",
                    None,
                ),
                line(
                    "2",
                    "lou",
                    4,
                    "Acme Bahn, mein Zug ist schon wieder ausgefallen, unfassbar",
                    None,
                ),
            ],
        );
        let queue = wait_items(&daemon, "", 2);
        let kim = queue
            .iter()
            .find(|i| i["post"]["author"] == "kim")
            .expect("kim's item")["id"]
            .clone();
        let (status, item) = act(&daemon, &kim, "claim", json!({"by": "anna"}));
        assert_eq!(status, 200, "{item}");
        let (status, item) = act(
            &daemon,
            &kim,
            "ack",
            json!({"by": "anna", "reference": "wir kümmern uns"}),
        );
        assert_eq!(status, 200, "{item}");
        let (status, item) = act(
            &daemon,
            &kim,
            "handoff",
            json!({"by": "anna", "target": "zammad"}),
        );
        assert_eq!(status, 200, "{item}");
        assert_eq!(item["state"], "handed_off");
        wait_until("the ticket id reached the item", || {
            daemon.get_json(&format!("/api/v1/desk/items/{kim}"))["external"][0] == "100"
        });
        let shown = daemon.get_json(&format!("/api/v1/desk/items/{kim}"));
        assert_eq!(shown["ticket_number"], "31100", "{shown}");
        let title = lock(&f).tickets[0].title.clone();
        assert!(
            title.starts_with(&format!("[LSR-{kim}] complaint by @kim")),
            "{title}"
        );

        // Zammad's trigger fires its webhook when an agent closes the ticket.
        let hook = "/api/v1/desk/handoff/zammad";
        let body = zammad_hook(&title, 100, "closed");
        let (status, answer) = daemon.post(
            hook,
            &[("x-hub-signature", "sha1=00"), ("x-zammad-delivery", "d-1")],
            &body,
        );
        assert_eq!(status, 401, "a bad signature is refused: {answer}");
        let headers = [
            ("x-hub-signature", sha1_signed(&body)),
            ("x-zammad-delivery", "d-1".to_owned()),
        ];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, answer) = daemon.post(hook, &headers, &body);
        assert_eq!(status, 200, "{answer}");
        let (status, again) = daemon.post(hook, &headers, &body);
        assert_eq!(status, 200, "{again}");
        let first: Value = serde_json::from_str(&answer).expect("json");
        let again: Value = serde_json::from_str(&again).expect("json");
        assert_eq!(
            again["version"], first["version"],
            "a replayed delivery changes nothing"
        );
        let shown = daemon.get_json(&format!("/api/v1/desk/items/{kim}"));
        assert_eq!(shown["state"], "resolved", "{shown}");
        assert_eq!(shown["external"], json!(["100", "closed"]));
        assert_eq!(
            shown["first_response"]["kind"], "receipt",
            "the receipt came first: {shown}"
        );

        // The second item: Zammad makes its ticket but answers only after we died.
        let lou = queue
            .iter()
            .find(|i| i["post"]["author"] == "lou")
            .expect("lou's item")["id"]
            .clone();
        lock(&f).hold_create = Some(Duration::from_secs(30));
        let (status, item) = act(
            &daemon,
            &lou,
            "handoff",
            json!({"by": "ben", "target": "zammad"}),
        );
        assert_eq!(status, 200, "{item}");
        wait_until("Zammad made the second ticket", || {
            lock(&f).tickets.len() == 2
        });
        daemon.kill9();
        lock(&f).hold_create = None;
        let daemon = dir.start_daemon();
        wait_until(
            "the second ticket id reached the item after kill -9",
            || daemon.get_json(&format!("/api/v1/desk/items/{lou}"))["external"][0] == "101",
        );
        assert_eq!(
            lock(&f).tickets.len(),
            2,
            "one ticket per item across kill -9"
        );

        let kpi = daemon.get_json("/api/v1/desk/kpi?since=2h");
        let all = &kpi["total"];
        assert_eq!(all["volume"], 2, "{kpi}");
        assert_eq!(all["answered"], 1, "{kpi}");
        assert_eq!(all["resolved"], 1, "{kpi}");
        (dir, daemon)
    })
    .await
    .expect("test thread");
    let f = lock(&fake);
    let creates = f
        .requests
        .iter()
        .filter(|r| r.starts_with("POST tickets"))
        .count();
    assert_eq!(creates, 2, "{:?}", f.requests);
}

/// A Znuny ticket closed by an agent resolves the item through the poll, without any
/// webhook.
#[tokio::test(flavor = "multi_thread")]
async fn a_closed_znuny_ticket_is_found_by_the_poll() {
    let (base, fake) = serve(znuny()).await;
    let dir = setup("http://127.0.0.1:9");
    with_ticket_system(
        &dir,
        &format!(
            "{{id: znuny, kind: znuny, url: \"{base}{ZNUNY_BASE}\", secret: {SECRET}, ticket: {{user: lauscher, password: agent-pw, queue: Social Media, customer: social@example.de, poll: 1s}}}}"
        ),
        "znuny",
    );
    let f = fake.clone();
    let dir = tokio::task::spawn_blocking(move || {
        let daemon = dir.start_daemon();
        push(
            &daemon,
            &[line(
                "1",
                "kim",
                5,
                "Die Acme Bahn App stürzt beim Login ab, seit Tagen kaputt",
                None,
            )],
        );
        let id = wait_items(&daemon, "", 1)[0]["id"].clone();
        let (status, item) = act(
            &daemon,
            &id,
            "handoff",
            json!({"by": "anna", "target": "znuny"}),
        );
        assert_eq!(status, 200, "{item}");
        wait_until("the ticket reached the item", || {
            daemon.get_json(&format!("/api/v1/desk/items/{id}"))["external"][0] == "500"
        });
        {
            let mut g = lock(&f);
            g.tickets[0].state = "closed successful".into();
            g.tickets[0].state_type = "closed".into();
            g.tickets[0].changed += 1;
        }
        wait_until("the poll resolved the item", || {
            daemon.get_json(&format!("/api/v1/desk/items/{id}"))["state"] == "resolved"
        });
        let shown = daemon.get_json(&format!("/api/v1/desk/items/{id}"));
        assert_eq!(shown["external"], json!(["500", "closed successful"]));
        dir
    })
    .await
    .expect("test thread");
    drop(dir);
}

/// A hand-off the ticket system rejects for good (a revoked token) puts the item back in
/// the queue, with the error in its events, instead of leaving it waiting for a ticket
/// that will never exist.
#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_hand_off_puts_the_item_back_in_the_queue() {
    let (base, fake) = serve(zammad()).await;
    let dir = setup("http://127.0.0.1:9");
    with_ticket_system(
        &dir,
        &format!(
            "{{id: zammad, kind: zammad, url: \"{base}\", secret: {SECRET}, ticket: {{token: revoked, queue: Social Media, customer: social@example.de}}}}"
        ),
        "zammad",
    );
    let dir = tokio::task::spawn_blocking(move || {
        let daemon = dir.start_daemon();
        push(
            &daemon,
            &[line(
                "1",
                "kim",
                5,
                "Die Acme Bahn App stürzt beim Login ab, seit Tagen kaputt",
                None,
            )],
        );
        let id = wait_items(&daemon, "", 1)[0]["id"].clone();
        let (status, item) = act(&daemon, &id, "claim", json!({"by": "anna"}));
        assert_eq!(status, 200, "{item}");
        let (status, item) = act(
            &daemon,
            &id,
            "handoff",
            json!({"by": "anna", "target": "zammad"}),
        );
        assert_eq!(status, 200, "{item}");
        wait_until("the item is back with anna", || {
            daemon.get_json(&format!("/api/v1/desk/items/{id}"))["state"] == "open"
        });
        let shown = daemon.get_json(&format!("/api/v1/desk/items/{id}"));
        let events = shown["events"].to_string();
        assert!(
            events.contains("handoff_failed") && events.contains("HTTP 401"),
            "{shown}"
        );
        // Handed off again, it is a new request, tried and refused again.
        let (status, item) = act(
            &daemon,
            &id,
            "handoff",
            json!({"by": "anna", "target": "zammad"}),
        );
        assert_eq!(status, 200, "{item}");
        wait_until("the second hand-off failed too", || {
            daemon.get_json(&format!("/api/v1/desk/items/{id}"))["events"]
                .as_array()
                .is_some_and(|e| e.iter().filter(|e| e["action"] == "handoff_failed").count() == 2)
        });
        dir
    })
    .await
    .expect("test thread");
    assert!(lock(&fake).tickets.is_empty());
    drop(dir);
}

/// kill -9 after every step of the story (queued, claimed, acknowledged, handed off,
/// closed by the webhook) loses nothing and makes one ticket.
#[tokio::test(flavor = "multi_thread")]
async fn kill_9_after_every_step_loses_nothing_and_makes_one_ticket() {
    let (base, fake) = serve(zammad()).await;
    let dir = setup("http://127.0.0.1:9");
    with_ticket_system(
        &dir,
        &format!(
            "{{id: zammad, kind: zammad, url: \"{base}\", secret: {SECRET}, ticket: {{token: {TOKEN}, queue: Social Media, customer: social@example.de, settle: 1s}}}}"
        ),
        "zammad",
    );
    let f = fake.clone();
    let dir = tokio::task::spawn_blocking(move || {
        let item =
            |d: &crate::util::Daemon, id: &Value| d.get_json(&format!("/api/v1/desk/items/{id}"));
        let daemon = dir.start_daemon();
        push(
            &daemon,
            &[line(
                "1",
                "kim",
                5,
                "Die Acme Bahn App stürzt beim Login ab, seit Tagen kaputt",
                None,
            )],
        );
        let id = wait_items(&daemon, "", 1)[0]["id"].clone();
        daemon.kill9();
        let daemon = dir.start_daemon();
        assert_eq!(item(&daemon, &id)["state"], "new");

        let (status, answer) = act(&daemon, &id, "claim", json!({"by": "anna"}));
        assert_eq!(status, 200, "{answer}");
        daemon.kill9();
        let daemon = dir.start_daemon();
        let shown = item(&daemon, &id);
        assert_eq!(
            (&shown["state"], &shown["assignee"]),
            (&json!("open"), &json!("anna"))
        );

        let (status, answer) = act(&daemon, &id, "ack", json!({"by": "anna"}));
        assert_eq!(status, 200, "{answer}");
        daemon.kill9();
        let daemon = dir.start_daemon();
        assert_eq!(item(&daemon, &id)["first_response"]["kind"], "receipt");

        let (status, answer) = act(
            &daemon,
            &id,
            "handoff",
            json!({"by": "anna", "target": "zammad"}),
        );
        assert_eq!(status, 200, "{answer}");
        daemon.kill9();
        let daemon = dir.start_daemon();
        wait_until("the ticket reached the item", || {
            item(&daemon, &id)["external"][0] == "100"
        });

        let title = lock(&f).tickets[0].title.clone();
        let body = zammad_hook(&title, 100, "closed");
        let headers = [
            ("x-hub-signature", sha1_signed(&body)),
            ("x-zammad-delivery", "d-9".to_owned()),
        ];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, answer) = daemon.post("/api/v1/desk/handoff/zammad", &headers, &body);
        assert_eq!(status, 200, "{answer}");
        daemon.kill9();
        let daemon = dir.start_daemon();
        assert_eq!(item(&daemon, &id)["state"], "resolved");
        let kpi = daemon.get_json("/api/v1/desk/kpi?since=2h");
        let all = &kpi["total"];
        assert_eq!(
            (&all["volume"], &all["answered"], &all["resolved"]),
            (&json!(1), &json!(1), &json!(1)),
            "{kpi}"
        );
        dir
    })
    .await
    .expect("test thread");
    let f = lock(&fake);
    assert_eq!(f.tickets.len(), 1, "{:?}", f.requests);
    drop(f);
    drop(dir);
}
