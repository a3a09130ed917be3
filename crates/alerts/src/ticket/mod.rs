//! Ticket systems as hand-off targets: Zammad (REST, [`zammad`]) and Znuny/OTRS
//! (GenericInterface, [`znuny`]), one module each.
//!
//! A hand-off is an outbox row (`lauscher.handoff/v1`, event `handoff` or `follow_up`)
//! to a receiver of kind `zammad` or `znuny`; the delivery worker hands it to
//! [`TicketClient::deliver`] instead of posting it. Neither system is idempotent
//! (Zammad has no idempotency key, zammad/zammad#5628; Znuny none either), so every
//! attempt **looks up before it creates**:
//!
//! - the ticket carries the item's reference (`LSR-12`): in its title (`[LSR-12] …`,
//!   found with Zammad's ticket search) or in the dynamic field `LauscherRef` (Znuny
//!   `TicketSearch`);
//! - a later post of the thread is an article whose subject names the post
//!   (`[LSR-12] post <mention id>`); the ticket's articles are read first, so a resend
//!   adds nothing.
//!
//! So a kill -9 between the system's answer and our commit, or a timeout after the
//! system made the ticket, still yields one ticket and one article per post. The
//! ticket's id and number go to the [`TicketLedger`] (the desk) before the row is
//! marked sent.
//!
//! What comes back: Zammad's webhook (HMAC-SHA1 in `X-Hub-Signature`, deduplicated by
//! `X-Zammad-Delivery`), Znuny's `Ticket::Generic` invoker (Basic auth), both read by
//! [`inbound`]; and [`TicketClient::status`], which the daemon calls for open hand-offs
//! every `ticket.poll` as a safety net. A closed, merged or removed ticket resolves the
//! item; the ticket system's first agent answer is the item's first response. A
//! hand-off rejected for good (wrong credentials, a queue that does not exist) or not
//! delivered within the receiver's `ttl` puts the item back in the queue
//! ([`TicketLedger::failed`]), for every kind of hand-off target.
//!
//! Cost: a hand-off is two requests (search, create), a later post three (search
//! unless the id is known, articles, update); polling one request per open hand-off.

pub mod zammad;
pub mod znuny;

use std::time::Duration;

use lauscher_config::{ReceiverConfig, ReceiverKind, TicketConfig, alerting::redact_url};

use crate::deliver::without_url;
use crate::receiver::truncate;
use serde_json::Value;

/// The largest answer read from a ticket system (a ticket's articles with their
/// bodies can be long; anything larger is refused, never read whole).
const MAX_ANSWER: usize = 16 << 20;

/// A ticket as Lauscher knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The ticket's id in the system (Zammad `id`, Znuny `TicketID`); empty when a
    /// webhook bridge reports none.
    pub id: String,
    /// The number agents see, when known.
    pub number: Option<String>,
    /// The state as the system names it (`open`, `closed successful`).
    pub state: String,
    /// Whether that state ends the work (closed, merged, removed).
    pub closed: bool,
    /// When the ticket last changed, as the system writes it (deduplicates polls).
    pub changed: Option<String>,
    /// The system's first agent answer (unix seconds), when there was one.
    pub first_response_at: Option<i64>,
}

/// A report about the ticket of a handed-off item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketReport {
    /// The desk item.
    pub item: i64,
    /// A unique id of this report: a repeat changes nothing.
    pub delivery: String,
    /// The ticket.
    pub ticket: Ticket,
}

/// Where tickets made or found are recorded (the service desk).
pub trait TicketLedger: Send + Sync {
    /// Records `report` for the item handed off to `target`; a repeated delivery must
    /// change nothing.
    fn record(&self, target: &str, report: &TicketReport) -> Result<(), String>;

    /// Hears that the hand-off request `body` to `target` failed for good (rejected, or
    /// expired undelivered), so the item goes back to the queue rather than wait for a
    /// ticket that will never exist.
    fn failed(&self, target: &str, body: &str, error: &str) -> Result<(), String>;
}

/// Why a ticket request did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// Worth retrying: a timeout, a refused connection, 408, 425, 429 or 5xx.
    #[error("{0}")]
    Retry(String),
    /// The request is wrong (credentials, queue, a missing field): retrying will not
    /// help.
    #[error("{0}")]
    Rejected(String),
}

/// Why a report from a ticket system was not taken in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// The signature or credentials are missing or wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// The report cannot be read.
    #[error("{0}")]
    Malformed(String),
}

/// A client for one ticket-system receiver.
pub struct TicketClient<'a> {
    http: &'a reqwest::Client,
    receiver: &'a ReceiverConfig,
    ticket: &'a TicketConfig,
    system: System,
    base: String,
}

/// Which ticket system a client speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum System {
    Zammad,
    Znuny,
}

/// What a hand-off row asks for (the fields of `lauscher.handoff/v1` we use).
#[derive(Debug)]
pub(crate) struct Handoff {
    event: String,
    item: i64,
    reference: String,
    external_id: Option<String>,
    body: Value,
}

impl Handoff {
    fn parse(body: &str) -> Result<Handoff, TicketError> {
        let v: Value = serde_json::from_str(body)
            .map_err(|e| TicketError::Rejected(format!("unreadable hand-off: {e}")))?;
        let item = v["item"]
            .as_i64()
            .ok_or_else(|| TicketError::Rejected("hand-off without item".into()))?;
        let reference = v["reference"]
            .as_str()
            .ok_or_else(|| TicketError::Rejected("hand-off without reference".into()))?
            .to_owned();
        Ok(Handoff {
            event: v["event"].as_str().unwrap_or("handoff").to_owned(),
            item,
            external_id: v["external_id"].as_str().map(str::to_owned),
            reference,
            body: v,
        })
    }

    /// The ticket title: `[LSR-12] complaint by @kim on mastodon: <text>`, at most 200
    /// characters (Zammad's limit).
    fn title(&self) -> String {
        let p = &self.body["post"];
        let text = p["snippet"].as_str().unwrap_or("").replace('\n', " ");
        let head = format!(
            "[{}] {} by @{} on {}: {}",
            self.reference,
            self.body["intent"].as_str().unwrap_or("post"),
            p["author"].as_str().unwrap_or("?"),
            p["source"].as_str().unwrap_or("?"),
            text.trim()
        );
        truncate(&head, 200)
    }

    /// The subject of the article for this row's post: a hand-off's first article or a
    /// later post (`[LSR-12] post <mention id>`), which is how a resend finds it.
    fn subject(&self) -> String {
        let mention = &self.body["post"]["mention"];
        let mention = mention
            .as_str()
            .map_or_else(|| mention.to_string(), str::to_owned);
        format!("[{}] post {mention}", self.reference)
    }

    /// The article's text: who wrote what where, the labels, the links.
    fn text(&self) -> String {
        let b = &self.body;
        let p = &b["post"];
        let mut out = format!(
            "@{} on {}, {}:\n\n{}\n",
            p["author"].as_str().unwrap_or("?"),
            p["source"].as_str().unwrap_or("?"),
            p["posted_at"].as_str().unwrap_or(""),
            p["snippet"].as_str().unwrap_or("")
        );
        out.push('\n');
        if let Some(intent) = p["intent"].as_str().or(b["intent"].as_str()) {
            out.push_str(&format!(
                "Intent: {intent}, sentiment: {}\n",
                p["label"].as_str().or(b["label"].as_str()).unwrap_or("?")
            ));
        }
        if let Some(kind) = b["abuse"]["kind"].as_str() {
            out.push_str(&format!("Abuse: {kind}\n"));
        }
        if let Some(url) = p["url"].as_str() {
            out.push_str(&format!("Post: {url}\n"));
        }
        if let Some(link) = b["link"].as_str() {
            out.push_str(&format!("Lauscher: {link}\n"));
        }
        out.push_str(&format!("Reference: {}\n", self.reference));
        out
    }

    /// Our priority (`low` … `urgent`).
    fn priority(&self) -> &str {
        self.body["priority"].as_str().unwrap_or("normal")
    }
}

impl<'a> TicketClient<'a> {
    /// A client for `receiver`, which must be a ticket system with its `ticket`
    /// settings (the config checked that).
    pub fn new(
        http: &'a reqwest::Client,
        receiver: &'a ReceiverConfig,
    ) -> Result<TicketClient<'a>, TicketError> {
        let (Some(ticket), Some(url)) = (&receiver.ticket, &receiver.url) else {
            return Err(TicketError::Rejected(format!(
                "receiver {:?} is no ticket system with url and ticket:",
                receiver.id
            )));
        };
        let system = match receiver.kind {
            ReceiverKind::Zammad => System::Zammad,
            ReceiverKind::Znuny => System::Znuny,
            other => {
                return Err(TicketError::Rejected(format!(
                    "receiver {:?} is {}, not a ticket system",
                    receiver.id,
                    other.as_str()
                )));
            }
        };
        Ok(TicketClient {
            http,
            receiver,
            ticket,
            system,
            base: url.as_str().trim_end_matches('/').to_owned(),
        })
    }

    /// Carries out the hand-off row `body` (`handoff`: find or create the ticket;
    /// `follow_up`: add the post to it once) and returns the ticket.
    pub async fn deliver(&self, body: &str) -> Result<TicketReport, TicketError> {
        let h = Handoff::parse(body)?;
        let ticket = match h.event.as_str() {
            "handoff" => match self.find(&h.reference).await? {
                Some(t) => t,
                None => self.create(&h).await?,
            },
            "follow_up" => {
                let id = match &h.external_id {
                    Some(id) => id.clone(),
                    None => {
                        self.find(&h.reference)
                            .await?
                            .ok_or_else(|| {
                                TicketError::Retry(format!(
                                    "no ticket {} yet for a later post",
                                    h.reference
                                ))
                            })?
                            .id
                    }
                };
                self.append(&id, &h).await?;
                self.get(&id).await?
            }
            other => {
                return Err(TicketError::Rejected(format!(
                    "hand-off event {other:?}: expected handoff or follow_up"
                )));
            }
        };
        Ok(TicketReport {
            item: h.item,
            delivery: format!("{}:ticket:{}", self.receiver.id, ticket.id),
            ticket,
        })
    }

    /// What the ticket of `item` (carrying `reference`) is now, as a report: read by `id`
    /// when known, else found by its reference; `None` when there is none. The report's
    /// delivery id names the ticket's state and change time, so reading an unchanged
    /// ticket again is a repeat.
    pub async fn status(
        &self,
        item: i64,
        reference: &str,
        id: Option<&str>,
    ) -> Result<Option<TicketReport>, TicketError> {
        let ticket = match id {
            Some(id) => Some(self.get(id).await?),
            None => self.find(reference).await?,
        };
        Ok(ticket.map(|ticket| TicketReport {
            item,
            delivery: format!(
                "{}:poll:{}:{}:{}",
                self.receiver.id,
                ticket.id,
                ticket.state,
                ticket.changed.as_deref().unwrap_or("")
            ),
            ticket,
        }))
    }

    async fn find(&self, reference: &str) -> Result<Option<Ticket>, TicketError> {
        match self.system {
            System::Zammad => zammad::find(self, reference).await,
            System::Znuny => znuny::find(self, reference).await,
        }
    }

    async fn create(&self, h: &Handoff) -> Result<Ticket, TicketError> {
        match self.system {
            System::Zammad => zammad::create(self, h).await,
            System::Znuny => znuny::create(self, h).await,
        }
    }

    async fn append(&self, id: &str, h: &Handoff) -> Result<(), TicketError> {
        match self.system {
            System::Zammad => zammad::append(self, id, h).await,
            System::Znuny => znuny::append(self, id, h).await,
        }
    }

    async fn get(&self, id: &str) -> Result<Ticket, TicketError> {
        match self.system {
            System::Zammad => zammad::get(self, id).await,
            System::Znuny => znuny::get(self, id).await,
        }
    }

    /// One JSON request under the base URL; the kind's module adds authentication.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, TicketError> {
        let url = format!("{}{path}", self.base);
        let shown = self
            .receiver
            .url
            .as_ref()
            .map_or_else(String::new, redact_url);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .timeout(Duration::from_secs(10));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| {
            TicketError::Retry(format!("{shown} {method} {path}: {}", without_url(&e)))
        })?;
        let status = resp.status();
        let mut resp = resp;
        let mut raw = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) if raw.len() + c.len() <= MAX_ANSWER => raw.extend_from_slice(&c),
                Ok(Some(_)) => {
                    return Err(TicketError::Rejected(format!(
                        "{shown} {method} {path}: answer over {} MiB",
                        MAX_ANSWER >> 20
                    )));
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(TicketError::Retry(format!(
                        "{shown} {method} {path}: {}",
                        without_url(&e)
                    )));
                }
            }
        }
        let text = String::from_utf8_lossy(&raw);
        if !status.is_success() {
            let code = status.as_u16();
            let msg = format!(
                "{shown} {method} {path}: HTTP {code}: {}",
                truncate(text.trim(), 200)
            );
            return Err(
                if matches!(code, 408 | 425 | 429) || status.is_server_error() {
                    TicketError::Retry(msg)
                } else {
                    TicketError::Rejected(msg)
                },
            );
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| {
            TicketError::Retry(format!("{shown} {method} {path}: unreadable answer: {e}"))
        })
    }
}

/// Reads what ticket system `receiver` reports on a ticket (its webhook or invoker):
/// checks the signature or credentials against the receiver's `secret`, then finds the
/// item by the reference the ticket carries. `header` looks a request header up.
pub fn inbound(
    receiver: &ReceiverConfig,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<TicketReport, InboundError> {
    let secret = receiver.secret.as_deref().unwrap_or("");
    if secret.is_empty() {
        return Err(InboundError::Unauthorized(format!(
            "receiver {:?} has no secret",
            receiver.id
        )));
    }
    match receiver.kind {
        ReceiverKind::Zammad => zammad::inbound(secret, header, body),
        ReceiverKind::Znuny => znuny::inbound(secret, header, body),
        other => Err(InboundError::Malformed(format!(
            "receiver {:?} is {}, not a ticket system",
            receiver.id,
            other.as_str()
        ))),
    }
}

/// The item a reference names: `LSR-12` → 12.
pub fn item_of_reference(reference: &str) -> Option<i64> {
    let digits = reference.trim().strip_prefix("LSR-")?;
    digits.parse().ok().filter(|n: &i64| *n > 0)
}

/// The reference at the start of a title: `[LSR-12] …` → `LSR-12`.
fn reference_in_title(title: &str) -> Option<&str> {
    let rest = title.trim_start().strip_prefix('[')?;
    let end = rest.find(']')?;
    let r = &rest[..end];
    item_of_reference(r).map(|_| r)
}

/// A JSON value that is a string or a number, as text (ids come as either).
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_items() {
        assert_eq!(item_of_reference("LSR-12"), Some(12));
        assert_eq!(item_of_reference("LSR-0"), None);
        assert_eq!(item_of_reference("LSR-x"), None);
        assert_eq!(
            reference_in_title("[LSR-7] complaint by @kim"),
            Some("LSR-7")
        );
        assert_eq!(reference_in_title("Re: [LSR-7]"), None);
    }

    #[test]
    fn a_title_is_at_most_200_characters_and_one_line() {
        let h = Handoff::parse(
            &serde_json::json!({
                "event": "handoff", "item": 3, "reference": "LSR-3", "intent": "complaint",
                "post": {"author": "kim", "source": "mastodon", "mention": "00ff",
                         "snippet": format!("Zug\nweg {}", "x".repeat(300))},
            })
            .to_string(),
        )
        .expect("hand-off");
        let t = h.title();
        assert!(
            t.starts_with("[LSR-3] complaint by @kim on mastodon: Zug weg"),
            "{t}"
        );
        assert_eq!(t.chars().count(), 200);
        assert_eq!(h.subject(), "[LSR-3] post 00ff");
    }
}
