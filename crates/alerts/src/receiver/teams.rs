//! Microsoft Teams Workflows webhooks: an Adaptive Card.

use lauscher_config::ReceiverConfig;
use serde_json::{Value, json};

use super::Integration;
use crate::incident::Incident;
use crate::render::{DigestMessage, Message};

/// A Teams Workflows webhook.
pub(super) struct Teams;

impl Integration for Teams {
    fn incident(
        &self,
        incident: &Incident,
        _: &str,
        message: &Message,
        _: &ReceiverConfig,
    ) -> Value {
        card(
            &message.title,
            &message.text,
            vec![json!({"type": "FactSet", "facts": [
                {"title": "Level", "value": incident.level.to_string()},
                {"title": "Status", "value": incident.status.as_str()},
                {"title": "Incident", "value": incident.id.to_string()},
            ]})],
        )
    }

    fn digest(&self, d: &DigestMessage<'_>) -> Value {
        card(d.title, &d.summary_with_link(), Vec::new())
    }

    fn merge(&self, bodies: &[Value]) -> Option<Value> {
        let mut first = bodies.first()?.clone();
        let mut cards = Vec::new();
        for b in bodies {
            let parts = b["attachments"][0]["content"]["body"].as_array();
            cards.extend(parts.into_iter().flatten().cloned());
        }
        first["attachments"][0]["content"]["body"] = Value::Array(cards);
        Some(first)
    }
}

/// A Teams Workflows message: an Adaptive Card with a title, a text and `more`.
fn card(title: &str, text: &str, more: Vec<Value>) -> Value {
    let mut body = vec![
        json!({"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true}),
        json!({"type": "TextBlock", "text": text, "wrap": true}),
    ];
    body.extend(more);
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            },
        }],
    })
}
