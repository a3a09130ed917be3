//! Generic JSON webhooks: `lauscher.alert/v1`, `lauscher.digest/v1` and `lauscher.desk/v1`, optionally
//! signed (`Lauscher-Signature: t=…,v1=HMAC-SHA256`) and with the user's headers.

use lauscher_config::ReceiverConfig;
use serde_json::{Value, json};

use super::{HttpPost, Integration};
use crate::incident::Incident;
use crate::render::{DeskNotice, DigestMessage, Message};

/// A generic webhook.
pub(super) struct Webhook;

impl Integration for Webhook {
    fn incident(
        &self,
        incident: &Incident,
        event: &str,
        message: &Message,
        _: &ReceiverConfig,
    ) -> Value {
        json!({
            "version": "lauscher.alert/v1",
            "event": event,
            "title": message.title,
            "text": message.text,
            "incident": {
                "id": incident.id,
                "rule": incident.rule,
                "topic": incident.topic,
                "kind": incident.kind,
                "status": incident.status.as_str(),
                "level": incident.level,
                "version": incident.version,
                "dedup_key": incident.dedup_key,
                "opened_at": incident.opened_at,
                "updated_at": incident.updated_at,
                "sla_start": incident.sla_start,
                "acknowledged_by": incident.acked_by,
                "labels": incident.labels,
                "evidence": incident.evidence,
            },
        })
    }

    fn digest(&self, d: &DigestMessage<'_>) -> Value {
        digest_event(d)
    }

    fn desk(&self, n: &DeskNotice<'_>) -> Value {
        json!({
            "version": "lauscher.desk/v1",
            "event": n.event,
            "item": n.item,
            "clock": n.clock,
            "due": chrono::DateTime::from_timestamp(n.due, 0).map(|t| t.to_rfc3339()),
            "title": n.title,
            "text": n.text,
            "link": n.link,
        })
    }

    fn groups(&self) -> bool {
        false
    }

    fn post(&self, r: &ReceiverConfig, body: String, now: i64) -> Option<Result<HttpPost, String>> {
        let Some(url) = &r.url else {
            return Some(Err("no url".into()));
        };
        let mut headers: Vec<(String, String)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(secret) = &r.secret {
            headers.push((
                "Lauscher-Signature".into(),
                crate::deliver::signature(secret, now, &body),
            ));
        }
        Some(Ok(HttpPost {
            url: url.to_string(),
            headers,
            body,
        }))
    }
}

/// A digest as a machine-readable event (webhooks; PagerDuty takes none, the config
/// refuses it).
pub(super) fn digest_event(d: &DigestMessage<'_>) -> Value {
    json!({
        "version": "lauscher.digest/v1",
        "event": "digest",
        "digest": d.id,
        "period": d.period,
        "title": d.title,
        "text": d.summary,
        "markdown": d.markdown,
        "link": d.link,
    })
}
