//! `lauscher import`: mentions pushed from a JSON Lines file through the same pipeline.
//!
//! One JSON object per line:
//!
//! | field | type | |
//! |---|---|---|
//! | `text` | string | required, non-empty |
//! | `url` or `id` | string | at least one; the canonical URL, else `source` + `id`, is the mention id |
//! | `published_at` | RFC 3339 string or unix seconds | required |
//! | `source` | string | default: the `--source` flag (`import`) |
//! | `author`, `followers`, `lang`, `title` | string, integer, ISO 639-1, string | optional |
//!
//! Unknown fields are ignored, so exports from other tools import as they are.

use std::io::BufRead;

use chrono::{DateTime, TimeZone, Utc};
use lauscher_crawler::{canonical_url, mention_id};
use lauscher_model::{Author, Mention};
use lauscher_text::Fingerprint;
use lauscher_text::normalize::html_to_text;
use serde::Deserialize;
use tokio::sync::oneshot;

use crate::ingest::{Batch, BatchReport, BatchSender, PipelineError};

/// Lines per batch sent to the pipeline.
const BATCH_LINES: usize = 1000;
/// Rejected lines listed in the summary; the rest are only counted.
const MAX_LISTED_REJECTS: usize = 100;

/// One line of an import file.
#[derive(Debug, Deserialize)]
pub struct ImportRecord {
    /// The source's own id for the post.
    pub id: Option<String>,
    /// The post's URL.
    pub url: Option<String>,
    /// The post's text (HTML is stripped).
    pub text: Option<String>,
    /// When it was published.
    pub published_at: Option<Timestamp>,
    /// Source id.
    pub source: Option<String>,
    /// Author handle or name.
    pub author: Option<String>,
    /// Author's followers.
    pub followers: Option<u64>,
    /// Language (ISO 639-1).
    pub lang: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// The post this one reposts: its `id` in the same source, or its URL.
    pub repost_of: Option<String>,
    /// The post this one answers, as the source names it (its URL where it has one).
    pub reply_to: Option<String>,
}

/// An RFC 3339 string or unix seconds.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Timestamp {
    /// Unix seconds.
    Seconds(i64),
    /// RFC 3339.
    Text(String),
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Non-empty lines read.
    pub read: usize,
    /// Mentions committed to the index.
    pub indexed: usize,
    /// Mentions dropped as duplicates.
    pub duplicates: usize,
    /// Mentions dropped for matching no topic.
    pub unmatched: usize,
    /// Lines rejected, with line number and reason (the first 100).
    pub rejected: Vec<(usize, String)>,
    /// All rejected lines.
    pub rejected_total: usize,
}

/// Reads `input` line by line and sends valid mentions to the pipeline in batches.
///
/// Runs on the calling (blocking) thread; `progress` is told the bytes and lines
/// consumed so far. Memory stays bounded whatever the input's size: one line buffer,
/// one batch, the pipeline's bounded queues, and one report receiver per batch. Malformed lines are recorded with their line number and skipped. Returns the
/// receivers of every batch's report; await them after a flush.
pub fn import_jsonl(
    input: impl BufRead,
    default_source: &str,
    keep_all: bool,
    sender: &BatchSender,
    mut progress: impl FnMut(u64, u64),
) -> Result<(ImportSummary, Vec<oneshot::Receiver<BatchReport>>), PipelineError> {
    let mut summary = ImportSummary::default();
    let mut acks = Vec::new();
    let mut batch: Vec<Mention> = Vec::with_capacity(BATCH_LINES);
    let mut bytes = 0u64;
    let now = Utc::now();
    let reject = |summary: &mut ImportSummary, line: usize, reason: String| {
        summary.rejected_total += 1;
        if summary.rejected.len() < MAX_LISTED_REJECTS {
            summary.rejected.push((line, reason));
        }
    };
    for (i, line) in input.split(b'\n').enumerate() {
        let lineno = i + 1;
        let raw = match line {
            Ok(raw) => raw,
            Err(e) => {
                reject(&mut summary, lineno, format!("read error: {e}"));
                break;
            }
        };
        bytes += raw.len() as u64 + 1;
        let text = String::from_utf8_lossy(&raw);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        summary.read += 1;
        match parse_record(text, default_source, now) {
            Ok(m) => batch.push(m),
            Err(reason) => reject(&mut summary, lineno, reason),
        }
        if batch.len() >= BATCH_LINES {
            acks.push(send(
                sender,
                std::mem::take(&mut batch),
                default_source,
                keep_all,
            )?);
            progress(bytes, summary.read as u64);
        }
    }
    if !batch.is_empty() {
        acks.push(send(sender, batch, default_source, keep_all)?);
    }
    progress(bytes, summary.read as u64);
    Ok((summary, acks))
}

fn send(
    sender: &BatchSender,
    mentions: Vec<Mention>,
    source: &str,
    keep_all: bool,
) -> Result<oneshot::Receiver<BatchReport>, PipelineError> {
    let (tx, rx) = oneshot::channel();
    sender.blocking_send(Batch {
        source: source.to_owned(),
        mentions,
        checkpoint: None,
        deletes: Vec::new(),
        keep_all,
        ack: Some(tx),
    })?;
    Ok(rx)
}

/// Parses one line of an import file into a mention from `default_source` (unless the
/// line names its source), fetched `now`; the error says what is wrong with the line.
pub fn parse_record(
    line: &str,
    default_source: &str,
    now: DateTime<Utc>,
) -> Result<Mention, String> {
    let record: ImportRecord = serde_json::from_str(line)
        .map_err(|e| format!("invalid JSON at column {}: {e}", e.column()))?;
    to_mention(record, default_source, now)
}

fn to_mention(
    r: ImportRecord,
    default_source: &str,
    now: DateTime<Utc>,
) -> Result<Mention, String> {
    let text = r.text.as_deref().map(html_to_text).unwrap_or_default();
    if text.is_empty() {
        return Err("missing or empty \"text\"".into());
    }
    let published_at = match r.published_at {
        None => return Err("missing \"published_at\"".into()),
        Some(Timestamp::Seconds(s)) => Utc
            .timestamp_opt(s, 0)
            .single()
            .ok_or_else(|| format!("\"published_at\" {s} is out of range"))?,
        Some(Timestamp::Text(s)) => DateTime::parse_from_rfc3339(s.trim())
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| format!("\"published_at\" {s:?} is not RFC 3339: {e}"))?,
    };
    let url = match r.url.as_deref() {
        Some(u) => Some(
            canonical_url(u, None).ok_or_else(|| format!("\"url\" {u:?} is not an http(s) URL"))?,
        ),
        None => None,
    };
    if url.is_none() && r.id.as_deref().is_none_or(|i| i.trim().is_empty()) {
        return Err("needs \"url\" or \"id\"".into());
    }
    let source = r
        .source
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| default_source.to_owned());
    let title = r.title.map(|t| html_to_text(&t)).filter(|t| !t.is_empty());
    let repost_of = match r.repost_of.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(o) if o.starts_with("http://") || o.starts_with("https://") => {
            let url = canonical_url(o, None)
                .ok_or_else(|| format!("\"repost_of\" {o:?} is not a valid URL"))?;
            Some(mention_id(&source, Some(&url), None, || 0))
        }
        Some(o) => Some(mention_id(&source, None, Some(o), || 0)),
    };
    Ok(Mention {
        id: mention_id(&source, url.as_ref(), r.id.as_deref(), || {
            Fingerprint::of(&text).content_hash
        }),
        source,
        url: url.map(String::from),
        author: r
            .author
            .filter(|a| !a.trim().is_empty())
            .map(|name| Author {
                name,
                reach: r.followers,
            }),
        // Imports are history: event time is publication time (alerting backtests rely on it).
        published_at: published_at.min(now),
        fetched_at: published_at.min(now),
        title,
        text,
        lang_hint: r.lang,
        repost_of,
        address: None,
        reply_to: r.reply_to.filter(|p| !p.trim().is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Mention, String> {
        let r: ImportRecord = serde_json::from_str(line).map_err(|e| e.to_string())?;
        to_mention(r, "import", Utc::now())
    }

    #[test]
    fn accepts_minimal_records_and_explains_rejections() {
        let m = parse(r#"{"id":"1","text":"Hallo <b>Welt</b>","published_at":"2026-11-20T10:00:00+01:00","extra":1}"#).expect("valid");
        assert_eq!(m.text, "Hallo Welt");
        assert_eq!(m.published_at.to_rfc3339(), "2026-11-20T09:00:00+00:00");
        assert!(
            parse(r#"{"text":"x","published_at":1}"#)
                .err()
                .unwrap_or_default()
                .contains("url")
        );
        assert!(
            parse(r#"{"id":"1","published_at":1}"#)
                .err()
                .unwrap_or_default()
                .contains("text")
        );
        assert!(
            parse(r#"{"id":"1","text":"x","published_at":"yesterday"}"#)
                .err()
                .unwrap_or_default()
                .contains("RFC 3339")
        );
        assert!(
            parse(r#"{"url":"ftp://x","text":"x","published_at":1}"#)
                .err()
                .unwrap_or_default()
                .contains("http")
        );
    }
}
