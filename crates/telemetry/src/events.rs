//! Typed telemetry events: each logs one line and updates its counters together.

use std::fmt::Display;
use std::time::Duration;

use tracing::{info, warn};

use crate::METRICS;

/// A source poll failed.
pub struct SourcePollFailed<'a, E: Display> {
    /// The source id.
    pub source: &'a str,
    /// The URL that failed.
    pub url: &'a str,
    /// A short, bounded error kind (`timeout`, `http_503`, `parse`, ...).
    pub kind: &'a str,
    /// The full error.
    pub error: &'a E,
    /// When the source is polled next.
    pub retry_in: Duration,
}

impl<E: Display> SourcePollFailed<'_, E> {
    /// Logs and counts the failure.
    pub fn emit(self) {
        warn!(source = self.source, url = self.url, kind = self.kind, retry_in_secs = self.retry_in.as_secs(), error = %self.error, "source poll failed");
        METRICS
            .fetch_errors_total
            .with_label_values(&[self.source, self.kind])
            .inc();
        METRICS
            .polls_total
            .with_label_values(&[self.source, "error"])
            .inc();
    }
}

/// A source poll succeeded.
pub struct SourcePolled<'a> {
    /// The source id.
    pub source: &'a str,
    /// Mentions parsed (0 on 304).
    pub mentions: usize,
    /// Whether the server answered 304 or sent an unchanged body.
    pub not_modified: bool,
    /// Time the fetch took.
    pub elapsed: Duration,
}

impl SourcePolled<'_> {
    /// Logs and counts the poll.
    pub fn emit(self) {
        let outcome = if self.not_modified {
            "not_modified"
        } else {
            "fetched"
        };
        tracing::debug!(
            source = self.source,
            mentions = self.mentions,
            outcome,
            "source polled"
        );
        METRICS
            .polls_total
            .with_label_values(&[self.source, outcome])
            .inc();
        METRICS
            .mentions_fetched_total
            .with_label_values(&[self.source])
            .inc_by(self.mentions as u64);
        METRICS
            .fetch_duration_seconds
            .with_label_values(&[self.source])
            .observe(self.elapsed.as_secs_f64());
    }
}

/// The index committed a set of mentions.
pub struct IndexCommitted {
    /// Mentions added since the last commit.
    pub added: usize,
    /// Documents in the index now.
    pub docs: u64,
    /// Why the commit happened (`timeout`, `num_docs`, `drained`).
    pub trigger: &'static str,
    /// Time for the commit and the state write.
    pub elapsed: Duration,
}

impl IndexCommitted {
    /// Logs and records the commit.
    pub fn emit(self) {
        info!(
            added = self.added,
            docs = self.docs,
            trigger = self.trigger,
            elapsed_ms = self.elapsed.as_millis() as u64,
            "index committed"
        );
        METRICS.index_docs.set(self.docs as i64);
        METRICS
            .commit_duration_seconds
            .observe(self.elapsed.as_secs_f64());
    }
}
