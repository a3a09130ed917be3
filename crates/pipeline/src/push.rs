//! The push inbox: mentions posted to `POST /api/v1/ingest` by systems that cannot be
//! polled (a CRM, a chat export, a scraper of the operator's own).
//!
//! A push source in the config names a bearer token (and optionally an HMAC secret); a
//! request carries one mention as a JSON object or many as NDJSON, in the import file's
//! schema. The whole body is checked first: one malformed line refuses the request
//! (naming the line), so a client can send it again whole. Accepted mentions go through
//! the same batch path as every source and the answer waits for the acknowledgement of
//! the index commit that holds them: a 202 means they survive a `kill -9`. Pushing the
//! same mention again is harmless: its id makes it a duplicate.

use aws_lc_rs::{constant_time, hmac};
use chrono::Utc;
use lauscher_config::{Config, SourceKind};
use tokio::sync::oneshot;

use crate::import::parse_record;
use crate::ingest::{Batch, BatchReport, BatchSender};

/// Most mentions one request may carry.
pub const MAX_MENTIONS: usize = 10_000;

/// Why a push was refused.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// No bearer token, or one no push source has.
    #[error("missing or unknown bearer token")]
    Unauthorized,
    /// The source has a signing secret and the signature is missing or wrong.
    #[error("missing or wrong X-Lauscher-Signature (sha256=<hex HMAC of the body>)")]
    BadSignature,
    /// A line of the body is not a mention.
    #[error("line {line}: {msg}")]
    Malformed {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// The body holds no mention, or more than [`MAX_MENTIONS`].
    #[error("{0}")]
    Size(String),
    /// The pipeline is shutting down.
    #[error("shutting down, try again")]
    Closed,
}

/// One push source.
struct PushSource {
    id: String,
    token: String,
    secret: Option<hmac::Key>,
    keep_all: bool,
}

/// The inbox of every push source in the config.
pub struct PushInbox {
    sources: Vec<PushSource>,
    sender: BatchSender,
}

impl PushInbox {
    /// The inbox of `config`'s push sources; `None` when it has none.
    pub fn new(config: &Config, sender: BatchSender) -> Option<PushInbox> {
        let sources: Vec<PushSource> = config
            .sources
            .iter()
            .filter(|s| s.kind == SourceKind::Push)
            .filter_map(|s| {
                Some(PushSource {
                    id: s.id.clone(),
                    token: s.token.as_ref()?.0.clone(),
                    secret: s
                        .secret
                        .as_ref()
                        .map(|k| hmac::Key::new(hmac::HMAC_SHA256, k.0.as_bytes())),
                    keep_all: s.keep_all,
                })
            })
            .collect();
        (!sources.is_empty()).then_some(PushInbox { sources, sender })
    }

    /// Checks, parses and queues `body`; returns once it is committed.
    ///
    /// `authorization` is the `Authorization` header, `signature` the
    /// `X-Lauscher-Signature` header.
    pub async fn push(
        &self,
        authorization: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<BatchReport, PushError> {
        let token = authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(PushError::Unauthorized)?;
        let source = self
            .sources
            .iter()
            .find(|s| {
                constant_time::verify_slices_are_equal(s.token.as_bytes(), token.as_bytes()).is_ok()
            })
            .ok_or(PushError::Unauthorized)?;
        if let Some(key) = &source.secret {
            let given = signature
                .and_then(|s| s.trim().strip_prefix("sha256="))
                .and_then(|h| hex::decode(h).ok())
                .ok_or(PushError::BadSignature)?;
            hmac::verify(key, body, &given).map_err(|_| PushError::BadSignature)?;
        }
        let text = std::str::from_utf8(body).map_err(|e| PushError::Malformed {
            line: body[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1,
            msg: "not UTF-8".to_owned(),
        })?;
        let now = Utc::now();
        let mut mentions = Vec::new();
        // One JSON object, pretty-printed or not, or one object per line.
        let whole = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .filter(serde_json::Value::is_object);
        match whole {
            Some(one) => mentions.push(
                parse_record(&one.to_string(), &source.id, now)
                    .map_err(|msg| PushError::Malformed { line: 1, msg })?,
            ),
            None => {
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    if mentions.len() == MAX_MENTIONS {
                        return Err(PushError::Size(format!(
                            "more than {MAX_MENTIONS} mentions in one request"
                        )));
                    }
                    mentions.push(
                        parse_record(line, &source.id, now)
                            .map_err(|msg| PushError::Malformed { line: i + 1, msg })?,
                    );
                }
            }
        }
        if mentions.is_empty() {
            return Err(PushError::Size("no mention in the body".to_owned()));
        }
        // A pushed mention belongs to the source whose token sent it.
        for m in &mut mentions {
            m.source = source.id.clone();
        }
        let (tx, rx) = oneshot::channel();
        self.sender
            .send(Batch {
                source: source.id.clone(),
                mentions,
                checkpoint: None,
                deletes: Vec::new(),
                keep_all: source.keep_all,
                ack: Some(tx),
            })
            .await
            .map_err(|_| PushError::Closed)?;
        rx.await.map_err(|_| PushError::Closed)
    }
}
