//! Slack incoming webhooks: blocks (header, text, context).

use lauscher_config::ReceiverConfig;
use serde_json::{Value, json};

use super::{Integration, titles, truncate};
use crate::incident::Incident;
use crate::render::{DigestMessage, Message};

/// A Slack incoming webhook (one channel).
pub(super) struct Slack;

impl Integration for Slack {
    fn incident(
        &self,
        incident: &Incident,
        _: &str,
        message: &Message,
        _: &ReceiverConfig,
    ) -> Value {
        json!({
            "text": message.title,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": truncate(&message.title, 150)}},
                {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&message.text, 2900)}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
                    "incident {} · level {} · {} · {}", incident.id, incident.level, incident.status.as_str(), incident.dedup_key)}]},
            ],
        })
    }

    fn digest(&self, d: &DigestMessage<'_>) -> Value {
        json!({
            "text": d.title,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": truncate(d.title, 150)}},
                {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&d.summary_with_link(), 2900)}},
            ],
        })
    }

    fn merge(&self, bodies: &[Value]) -> Option<Value> {
        let mut blocks = Vec::new();
        for b in bodies {
            if !blocks.is_empty() {
                blocks.push(json!({"type": "divider"}));
            }
            blocks.extend(b["blocks"].as_array().into_iter().flatten().cloned());
        }
        // Slack takes at most 50 blocks a message.
        blocks.truncate(50);
        let n = bodies.len();
        Some(json!({"text": format!("{n}: {}", titles(bodies).join(" · ")), "blocks": blocks}))
    }
}
