//! Email over SMTP: HTML with a text part, threaded per incident. The message is built
//! and sent by the deliverer's mailer (lettre); this module shapes what it sends.

use lauscher_config::ReceiverConfig;
use serde_json::{Value, json};

use super::{HttpPost, Integration};
use crate::incident::Incident;
use crate::render::{DigestMessage, Message};

/// An email receiver.
pub(super) struct Email;

impl Integration for Email {
    fn incident(
        &self,
        incident: &Incident,
        _: &str,
        message: &Message,
        _: &ReceiverConfig,
    ) -> Value {
        json!({
            "subject": format!("[Lauscher] {}", message.title),
            "text": message.text,
            "html": message.html,
            "thread": incident.dedup_key,
        })
    }

    /// The whole report: its HTML document, with the Markdown as the text part.
    fn digest(&self, d: &DigestMessage<'_>) -> Value {
        json!({
            "subject": d.title,
            "text": d.markdown,
            "document": d.html,
        })
    }

    fn merge(&self, bodies: &[Value]) -> Option<Value> {
        let n = bodies.len();
        let subjects: Vec<&str> = bodies
            .iter()
            .filter_map(|b| b["subject"].as_str())
            .map(|s| s.trim_start_matches("[Lauscher] "))
            .collect();
        let text = bodies
            .iter()
            .filter_map(|b| Some((b["subject"].as_str().unwrap_or(""), b["text"].as_str()?)))
            .map(|(subject, t)| format!("{subject}\n{t}"))
            .collect::<Vec<_>>()
            .join("\n\n");
        let html: Vec<&str> = bodies.iter().filter_map(|b| b["html"].as_str()).collect();
        Some(json!({
            "subject": format!("[Lauscher] {n}: {}", subjects.join(" · ")),
            "text": text,
            "html": html.join("\n"),
            "thread": bodies.first()?["thread"],
        }))
    }

    fn post(&self, _: &ReceiverConfig, _: String, _: i64) -> Option<Result<HttpPost, String>> {
        None
    }
}
