//! Zammad's REST API (docs.zammad.org, `api/ticket`): an agent's access token
//! (`Authorization: Token token=…`), tickets found by the reference in their title,
//! made with their first article, later posts added as articles, state read back by
//! webhook or `GET /api/v1/tickets/{id}?expand=true`.
//!
//! | step | request |
//! |---|---|
//! | find | `GET /api/v1/tickets/search?query=title:"LSR-12"&expand=true&limit=50`; only a title starting `[LSR-12]` counts |
//! | create | `POST /api/v1/tickets` `{title, group, customer_id: "guess:<e-mail>" (or a user id), priority, tags, article: {subject, body, type: note, internal: false, content_type: text/html}}` → `201 {id, number, …}` |
//! | later post | `GET /api/v1/ticket_articles/by_ticket/{id}`, then, unless an article has the post's subject, `PUT /api/v1/tickets/{id}` `{article: {…}}` |
//! | state | `GET /api/v1/tickets/{id}?expand=true` → `state` by name, `first_response_at`, `updated_at` |
//! | webhook | `POST` to `/api/v1/desk/handoff/<receiver>` with `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>` and `X-Zammad-Delivery`; the default payload's `ticket` (or ours, see the README) |
//!
//! Decision: the search needs Zammad's search index (Elasticsearch, which Zammad
//! recommends for every production system); its indexing lags a few seconds behind a
//! create, so a resend in that window could miss the ticket. The delivery worker's
//! first retry comes after a crash's restart or a backoff of seconds; Zammad without the
//! index searches its database directly.

use aws_lc_rs::hmac;
use serde_json::{Value, json};

use super::{
    Handoff, InboundError, Ticket, TicketClient, TicketError, TicketReport, item_of_reference,
    reference_in_title, text_of,
};

/// Ticket states that end the work.
const CLOSED: [&str; 3] = ["closed", "merged", "removed"];

fn auth(c: &TicketClient<'_>) -> [(&'static str, String); 1] {
    let token = c.ticket.token.as_deref().unwrap_or("");
    [("Authorization", format!("Token token={token}"))]
}

/// Our priority as Zammad's default priorities name it.
fn priority(p: &str) -> &'static str {
    match p {
        "low" => "1 low",
        "high" | "urgent" => "3 high",
        _ => "2 normal",
    }
}

/// A ticket of Zammad's JSON (expanded: `state` by name; compact: only `state_id`).
fn ticket_of(v: &Value) -> Option<Ticket> {
    let id = text_of(&v["id"])?;
    let state = match &v["state"] {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.get("name").and_then(Value::as_str)?.to_owned(),
        _ => "new".to_owned(),
    };
    Some(Ticket {
        id,
        number: text_of(&v["number"]),
        closed: CLOSED.contains(&state.as_str()),
        state,
        changed: text_of(&v["updated_at"]),
        first_response_at: v["first_response_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp()),
    })
}

pub(super) async fn find(
    c: &TicketClient<'_>,
    reference: &str,
) -> Result<Option<Ticket>, TicketError> {
    let query = format!("title:\"{reference}\"");
    let path = format!(
        "/api/v1/tickets/search?query={}&expand=true&limit=50",
        url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
    );
    let found = c.call(reqwest::Method::GET, &path, &auth(c), None).await?;
    // Expanded: an array of tickets; older versions answer `{tickets, assets}`.
    let tickets: Vec<&Value> = match &found {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => o
            .get("assets")
            .and_then(|a| a.get("Ticket"))
            .and_then(Value::as_object)
            .map(|m| m.values().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut mine: Vec<Ticket> = tickets
        .into_iter()
        .filter(|t| t["title"].as_str().and_then(reference_in_title) == Some(reference))
        .filter_map(ticket_of)
        .collect();
    // Should two exist (made by hand), the oldest is the one.
    mine.sort_by_key(|t| t.id.parse::<u64>().unwrap_or(u64::MAX));
    Ok(mine.into_iter().next())
}

pub(super) async fn create(c: &TicketClient<'_>, h: &Handoff) -> Result<Ticket, TicketError> {
    let customer = &c.ticket.customer;
    let mut body = json!({
        "title": h.title(),
        "group": c.ticket.queue,
        "priority": priority(h.priority()),
        "tags": format!(
            "lauscher,{},{}",
            h.body["intent"].as_str().unwrap_or("post"),
            h.body["post"]["source"].as_str().unwrap_or("social")
        ),
        "article": article(h),
    });
    // A user id as it is; an e-mail address found or created (`guess:`).
    body["customer_id"] = match customer.trim().parse::<u64>() {
        Ok(id) => json!(id),
        Err(_) => json!(format!("guess:{customer}")),
    };
    let made = c
        .call(
            reqwest::Method::POST,
            "/api/v1/tickets",
            &auth(c),
            Some(&body),
        )
        .await?;
    ticket_of(&made).ok_or_else(|| {
        TicketError::Retry(format!(
            "ticket for {} created without an id in the answer",
            h.reference
        ))
    })
}

fn article(h: &Handoff) -> Value {
    let html = html_escape::encode_text(&h.text())
        .trim_end()
        .replace('\n', "<br>");
    json!({
        "subject": h.subject(),
        "body": format!("<p>{html}</p>"),
        "type": "note",
        "internal": false,
        "content_type": "text/html",
    })
}

pub(super) async fn append(c: &TicketClient<'_>, id: &str, h: &Handoff) -> Result<(), TicketError> {
    let articles = c
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/ticket_articles/by_ticket/{id}"),
            &auth(c),
            None,
        )
        .await?;
    let subject = h.subject();
    let there = articles
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x["subject"].as_str() == Some(&subject)));
    if there {
        return Ok(());
    }
    c.call(
        reqwest::Method::PUT,
        &format!("/api/v1/tickets/{id}"),
        &auth(c),
        Some(&json!({"article": article(h)})),
    )
    .await?;
    Ok(())
}

pub(super) async fn get(c: &TicketClient<'_>, id: &str) -> Result<Ticket, TicketError> {
    let v = c
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/tickets/{id}?expand=true"),
            &auth(c),
            None,
        )
        .await?;
    ticket_of(&v).ok_or_else(|| TicketError::Retry(format!("ticket {id}: unreadable answer")))
}

/// Zammad's webhook: `X-Hub-Signature: sha1=<hex HMAC-SHA1(secret, body)>`, the
/// delivery id in `X-Zammad-Delivery`, the ticket under `ticket`.
pub(super) fn inbound(
    secret: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<TicketReport, InboundError> {
    let given = header("x-hub-signature")
        .and_then(|v| v.trim().strip_prefix("sha1=").map(str::to_owned))
        .and_then(|h| hex::decode(h.trim()).ok());
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    if given.is_none_or(|g| hmac::verify(&key, body, &g).is_err()) {
        return Err(InboundError::Unauthorized(
            "missing or wrong X-Hub-Signature (sha1=<hex HMAC-SHA1 of the body>)".into(),
        ));
    }
    let delivery = header("x-zammad-delivery")
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| InboundError::Malformed("missing X-Zammad-Delivery".into()))?;
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| InboundError::Malformed(format!("webhook payload: {e}")))?;
    let t = &v["ticket"];
    let title = t["title"].as_str().unwrap_or("");
    let item = reference_in_title(title)
        .and_then(item_of_reference)
        .ok_or_else(|| {
            InboundError::Malformed(format!(
                "ticket title {title:?} names no Lauscher item ([LSR-<n>] …)"
            ))
        })?;
    let ticket = ticket_of(t)
        .ok_or_else(|| InboundError::Malformed("webhook payload: ticket without id".into()))?;
    Ok(TicketReport {
        item,
        delivery: format!("zammad:{}", delivery.trim()),
        ticket,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &str) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
        format!("sha1={}", hex::encode(hmac::sign(&key, body.as_bytes())))
    }

    #[test]
    fn a_signed_webhook_names_its_item_ticket_and_delivery() {
        let body =
            json!({"ticket": {"id": 31, "number": "31001", "title": "[LSR-4] complaint by @kim",
            "state": "closed", "updated_at": "2026-12-06T10:00:00Z",
            "first_response_at": "2026-12-06T09:30:00Z"}})
            .to_string();
        let sig = sign("s3cret", &body);
        let headers = |name: &str| match name {
            "x-hub-signature" => Some(sig.clone()),
            "x-zammad-delivery" => Some("d-77".to_owned()),
            _ => None,
        };
        let r = inbound("s3cret", &headers, body.as_bytes()).expect("report");
        assert_eq!(r.item, 4);
        assert_eq!(r.delivery, "zammad:d-77");
        assert_eq!(r.ticket.id, "31");
        assert_eq!(r.ticket.number.as_deref(), Some("31001"));
        assert!(r.ticket.closed);
        assert_eq!(r.ticket.first_response_at, Some(1_796_549_400));
        let wrong = |name: &str| match name {
            "x-hub-signature" => Some(sign("other", &body)),
            "x-zammad-delivery" => Some("d-77".to_owned()),
            _ => None,
        };
        assert!(matches!(
            inbound("s3cret", &wrong, body.as_bytes()),
            Err(InboundError::Unauthorized(_))
        ));
    }

    #[test]
    fn pending_and_open_states_do_not_close() {
        for (state, closed) in [
            ("open", false),
            ("pending reminder", false),
            ("merged", true),
        ] {
            let t = ticket_of(&json!({"id": 1, "state": state})).expect("ticket");
            assert_eq!(t.closed, closed, "{state}");
        }
        let t = ticket_of(&json!({"id": 1, "state": {"name": "closed"}})).expect("ticket");
        assert!(t.closed);
    }
}
