//! PagerDuty Events API v2: trigger, acknowledge and resolve one alert per incident
//! (`dedup_key`); the routing key is added at send time.

use lauscher_config::ReceiverConfig;
use serde_json::{Value, json};

use super::{HttpPost, Integration, truncate, webhook};
use crate::incident::Incident;
use crate::render::{DeskNotice, DigestMessage, Message};

/// Where PagerDuty events go unless the receiver names another URL.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// A PagerDuty service (routing key).
pub(super) struct Pagerduty;

impl Integration for Pagerduty {
    fn incident(
        &self,
        incident: &Incident,
        event: &str,
        message: &Message,
        _: &ReceiverConfig,
    ) -> Value {
        let action = match event {
            "resolved" => "resolve",
            "acknowledged" => "acknowledge",
            _ => "trigger",
        };
        let severity = match incident.level {
            3 => "critical",
            2 => "error",
            _ => "warning",
        };
        let links: Vec<Value> = incident
            .evidence
            .samples
            .iter()
            .filter_map(|s| {
                s.url
                    .as_ref()
                    .map(|u| json!({"href": u, "text": truncate(&s.text, 80)}))
            })
            .collect();
        json!({
            "event_action": action,
            "dedup_key": incident.dedup_key,
            "payload": {
                "summary": truncate(&message.title, 1024),
                "source": "lauscher",
                "severity": severity,
                "timestamp": chrono::DateTime::from_timestamp(incident.updated_at, 0).map(|t| t.to_rfc3339()),
                "component": incident.topic,
                "group": incident.rule,
                "class": incident.kind,
                "custom_details": {
                    "text": message.text,
                    "observed": incident.evidence.observed,
                    "expected": incident.evidence.expected,
                    "p_value": incident.evidence.p_value,
                    "level": incident.level,
                },
            },
            "links": links,
        })
    }

    fn digest(&self, d: &DigestMessage<'_>) -> Value {
        webhook::digest_event(d)
    }

    fn desk(&self, n: &DeskNotice<'_>) -> Value {
        // One PagerDuty incident per item and clock: a breach after a warning updates it.
        json!({
            "event_action": "trigger",
            "dedup_key": format!("lauscher-desk:{}:{}", n.item, n.clock),
            "payload": {
                "summary": truncate(n.title, 1024),
                "source": "lauscher",
                "severity": if n.event == "sla_breach" { "error" } else { "warning" },
                "component": "desk",
                "class": n.event,
                "custom_details": {"text": n.text, "item": n.item, "clock": n.clock},
            },
            "links": n.link.map(|l| vec![json!({"href": l, "text": format!("item {}", n.item)})]).unwrap_or_default(),
        })
    }

    fn groups(&self) -> bool {
        false
    }

    fn about_receiver(&self, body: &mut Value, failed: &str) {
        // Its own PagerDuty incident, not the listening incident's.
        body["dedup_key"] = json!(format!("lauscher-receiver:{failed}"));
        body["event_action"] = json!("trigger");
    }

    fn post(&self, r: &ReceiverConfig, body: String, _: i64) -> Option<Result<HttpPost, String>> {
        // The routing key is a secret: added here, never stored in the outbox.
        let body = match serde_json::from_str::<Value>(&body) {
            Ok(mut v) => {
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("routing_key".into(), json!(r.routing_key));
                }
                v.to_string()
            }
            Err(_) => body,
        };
        Some(Ok(HttpPost {
            url: r
                .url
                .as_ref()
                .map_or_else(|| PAGERDUTY_URL.to_owned(), |u| u.to_string()),
            headers: Vec::new(),
            body,
        }))
    }
}
