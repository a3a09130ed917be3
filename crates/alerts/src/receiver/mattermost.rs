//! Mattermost incoming webhooks: Markdown text, optionally to another channel.

use lauscher_config::ReceiverConfig;
use serde_json::{Value, json};

use super::Integration;
use crate::incident::Incident;
use crate::render::{DigestMessage, Message};

/// A Mattermost incoming webhook.
pub(super) struct Mattermost;

impl Integration for Mattermost {
    fn incident(
        &self,
        incident: &Incident,
        _: &str,
        message: &Message,
        r: &ReceiverConfig,
    ) -> Value {
        let mut v = json!({
            "text": format!("**{}**\n{}", message.title, message.text),
            "username": "Lauscher",
            "props": {"dedup_key": incident.dedup_key},
        });
        if let (Some(c), Some(obj)) = (r.channel.as_deref(), v.as_object_mut()) {
            obj.insert("channel".into(), json!(c));
        }
        v
    }

    fn digest(&self, d: &DigestMessage<'_>) -> Value {
        json!({
            "text": format!("**{}**\n{}", d.title, d.summary_with_link()),
            "username": "Lauscher",
        })
    }

    fn merge(&self, bodies: &[Value]) -> Option<Value> {
        let mut first = bodies.first()?.clone();
        let texts: Vec<&str> = bodies.iter().filter_map(|b| b["text"].as_str()).collect();
        first["text"] = json!(texts.join("\n\n---\n\n"));
        Some(first)
    }
}
