//! Znuny's (and OTRS's) GenericInterface, through the web service we ship
//! (`deploy/znuny/Lauscher.yml`): the agent's `UserLogin` and `Password` in every
//! body (Znuny has no API tokens for incoming requests), the reference in the dynamic
//! field `LauscherRef`, state back by the `Ticket::Generic` invoker or `TicketGet`.
//!
//! | step | request (base: `…/nph-genericinterface.pl/Webservice/Lauscher`) |
//! |---|---|
//! | find | `POST /TicketSearch` `{DynamicField_LauscherRef: {Equals: "LSR-12"}}` → `{TicketID: [..]}` or `{}` |
//! | create | `POST /Ticket` `{Ticket: {Title, Queue, State: new, Priority, CustomerUser, Type?}, Article: {CommunicationChannel: Internal, SenderType: customer, IsVisibleForCustomer: 1, Subject, Body, ContentType}, DynamicField: [{Name: LauscherRef, Value}]}` → `{TicketID, TicketNumber, ArticleID}` |
//! | later post | `POST /TicketGet` `{TicketID, AllArticles: 1}`, then, unless an article has the post's subject, `PATCH /Ticket/{id}` `{TicketID, Article}` |
//! | state | `POST /TicketGet` `{TicketID, Extended: 1}` → `Ticket[0].State`, `StateType`, `Changed`, `FirstResponse` |
//! | invoker | `POST` to `/api/v1/desk/handoff/<receiver>` with Basic auth (password: the receiver's `secret`), body `{Event: {Event, TicketID}, Ticket: {…}}` |
//!
//! Decisions: the shipped web service routes search and get as `POST` (the sample
//! connector's `GET` would put the password in the URL, where proxies log it); Znuny
//! answers errors with `200` and an `Error` object, read here as a rejection; its
//! times (`2026-12-06 09:30:00`) are read as UTC, the system time zone since OTRS 6.

use base64::Engine;
use serde_json::{Value, json};

use super::{
    Handoff, InboundError, Ticket, TicketClient, TicketError, TicketReport, item_of_reference,
    reference_in_title, same_secret, text_of,
};

/// The dynamic field that carries the reference.
const FIELD: &str = "LauscherRef";

/// State types that end the work.
const CLOSED: [&str; 3] = ["closed", "merged", "removed"];

/// Our priority as Znuny's default priorities name it.
fn priority(p: &str) -> &'static str {
    match p {
        "low" => "2 low",
        "high" => "4 high",
        "urgent" => "5 very high",
        _ => "3 normal",
    }
}

/// One operation: the credentials join the body; an `Error` object is a rejection
/// (or worth a retry where Znuny says its backend failed).
async fn call(
    c: &TicketClient<'_>,
    method: reqwest::Method,
    path: &str,
    mut body: Value,
) -> Result<Value, TicketError> {
    body["UserLogin"] = json!(c.ticket.user.as_deref().unwrap_or(""));
    body["Password"] = json!(c.ticket.password.as_deref().unwrap_or(""));
    let v = c.call(method, path, &[], Some(&body)).await?;
    if let Some(e) = v.get("Error") {
        let code = e["ErrorCode"].as_str().unwrap_or("?");
        let msg = format!(
            "{path}: {code}: {}",
            e["ErrorMessage"].as_str().unwrap_or("")
        );
        return Err(if code.ends_with("InternalError") {
            TicketError::Retry(msg)
        } else {
            TicketError::Rejected(msg)
        });
    }
    Ok(v)
}

/// A ticket of `TicketGet`'s answer.
fn ticket_of(t: &Value) -> Option<Ticket> {
    let id = text_of(&t["TicketID"])?;
    let state = t["State"].as_str().unwrap_or("new").to_owned();
    let kind = t["StateType"].as_str().unwrap_or("");
    Some(Ticket {
        id,
        number: text_of(&t["TicketNumber"]),
        closed: CLOSED.contains(&kind),
        state,
        changed: text_of(&t["Changed"]),
        first_response_at: t["FirstResponse"].as_str().and_then(time_of),
    })
}

/// `2026-12-06 09:30:00` (UTC) as unix seconds.
fn time_of(s: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

pub(super) async fn find(
    c: &TicketClient<'_>,
    reference: &str,
) -> Result<Option<Ticket>, TicketError> {
    let found = call(
        c,
        reqwest::Method::POST,
        "/TicketSearch",
        json!({format!("DynamicField_{FIELD}"): {"Equals": reference}}),
    )
    .await?;
    // One id comes as a string in some versions, several as a list.
    let mut ids: Vec<String> = match &found["TicketID"] {
        Value::Array(a) => a.iter().filter_map(text_of).collect(),
        other => text_of(other).into_iter().collect(),
    };
    ids.sort_by_key(|id| id.parse::<u64>().unwrap_or(u64::MAX));
    match ids.first() {
        Some(id) => get(c, id).await.map(Some),
        None => Ok(None),
    }
}

fn article(h: &Handoff) -> Value {
    json!({
        "CommunicationChannel": "Internal",
        "SenderType": "customer",
        "IsVisibleForCustomer": 1,
        "Subject": h.subject(),
        "Body": h.text(),
        "ContentType": "text/plain; charset=utf8",
    })
}

pub(super) async fn create(c: &TicketClient<'_>, h: &Handoff) -> Result<Ticket, TicketError> {
    let mut ticket = json!({
        "Title": h.title(),
        "Queue": c.ticket.queue,
        "State": "new",
        "Priority": priority(h.priority()),
        "CustomerUser": c.ticket.customer,
    });
    if let Some(kind) = &c.ticket.kind {
        ticket["Type"] = json!(kind);
    }
    let made = call(
        c,
        reqwest::Method::POST,
        "/Ticket",
        json!({
            "Ticket": ticket,
            "Article": article(h),
            "DynamicField": [{"Name": FIELD, "Value": h.reference}],
        }),
    )
    .await?;
    let id = text_of(&made["TicketID"]).ok_or_else(|| {
        TicketError::Retry(format!(
            "ticket for {} created without a TicketID in the answer",
            h.reference
        ))
    })?;
    Ok(Ticket {
        id,
        number: text_of(&made["TicketNumber"]),
        state: "new".into(),
        closed: false,
        changed: None,
        first_response_at: None,
    })
}

pub(super) async fn append(c: &TicketClient<'_>, id: &str, h: &Handoff) -> Result<(), TicketError> {
    let got = call(
        c,
        reqwest::Method::POST,
        "/TicketGet",
        json!({"TicketID": id, "AllArticles": 1}),
    )
    .await?;
    let subject = h.subject();
    let there = got["Ticket"][0]["Article"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x["Subject"].as_str() == Some(&subject)));
    if there {
        return Ok(());
    }
    call(
        c,
        reqwest::Method::PATCH,
        &format!("/Ticket/{id}"),
        json!({"TicketID": id, "Article": article(h)}),
    )
    .await?;
    Ok(())
}

pub(super) async fn get(c: &TicketClient<'_>, id: &str) -> Result<Ticket, TicketError> {
    let got = call(
        c,
        reqwest::Method::POST,
        "/TicketGet",
        json!({"TicketID": id, "Extended": 1}),
    )
    .await?;
    ticket_of(&got["Ticket"][0])
        .ok_or_else(|| TicketError::Rejected(format!("/TicketGet: no ticket {id}")))
}

/// The `Ticket::Generic` invoker's request: Basic auth whose password is the
/// receiver's secret; the item from the ticket's `LauscherRef` (or its title).
pub(super) fn inbound(
    secret: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<TicketReport, InboundError> {
    let password = header("authorization")
        .and_then(|v| v.trim().strip_prefix("Basic ").map(str::to_owned))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| {
            let s = String::from_utf8(raw).ok()?;
            s.split_once(':').map(|(_, p)| p.to_owned())
        });
    if password.is_none_or(|p| !same_secret(p.as_bytes(), secret.as_bytes())) {
        return Err(InboundError::Unauthorized(
            "missing or wrong Basic authorization (the password is the receiver's secret)".into(),
        ));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| InboundError::Malformed(format!("invoker payload: {e}")))?;
    let t = &v["Ticket"];
    let field = t[format!("DynamicField_{FIELD}")]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            t["DynamicField"].as_array().and_then(|a| {
                a.iter()
                    .find(|f| f["Name"].as_str() == Some(FIELD))
                    .and_then(|f| f["Value"].as_str().map(str::to_owned))
            })
        });
    let item = field
        .as_deref()
        .and_then(item_of_reference)
        .or_else(|| {
            t["Title"]
                .as_str()
                .and_then(reference_in_title)
                .and_then(item_of_reference)
        })
        .ok_or_else(|| {
            InboundError::Malformed(format!(
                "ticket names no Lauscher item (dynamic field {FIELD} or a title [LSR-<n>] …)"
            ))
        })?;
    let ticket = ticket_of(t).ok_or_else(|| {
        InboundError::Malformed("invoker payload: Ticket without TicketID".into())
    })?;
    let event = v["Event"]["Event"].as_str().unwrap_or("event");
    let delivery = format!(
        "znuny:{}:{event}:{}",
        ticket.id,
        ticket.changed.as_deref().unwrap_or("")
    );
    Ok(TicketReport {
        item,
        delivery,
        ticket,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invoker_is_read_with_basic_auth_and_its_dynamic_field() {
        let body = json!({
            "Event": {"Event": "TicketStateUpdate", "TicketID": "55"},
            "Ticket": {"TicketID": "55", "TicketNumber": "2026120610000017", "Title": "x",
                "State": "closed successful", "StateType": "closed", "Changed": "2026-12-06 11:00:00",
                "DynamicField": [{"Name": "LauscherRef", "Value": "LSR-9"}]},
        })
        .to_string();
        let ok = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("znuny:s3cret")
        );
        let headers = |name: &str| (name == "authorization").then(|| ok.clone());
        let r = inbound("s3cret", &headers, body.as_bytes()).expect("report");
        assert_eq!(r.item, 9);
        assert!(r.ticket.closed);
        assert_eq!(r.ticket.state, "closed successful");
        assert_eq!(r.delivery, "znuny:55:TicketStateUpdate:2026-12-06 11:00:00");
        let none = |_: &str| None;
        assert!(matches!(
            inbound("s3cret", &none, body.as_bytes()),
            Err(InboundError::Unauthorized(_))
        ));
    }

    #[test]
    fn znuny_times_are_utc() {
        assert_eq!(time_of("1970-01-02 00:00:00"), Some(86_400));
        assert_eq!(time_of("gestern"), None);
    }
}
