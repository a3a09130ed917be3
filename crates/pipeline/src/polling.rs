//! The polling adapter, which runs every kind that is polled.

use std::sync::Arc;
use std::time::Instant;

use lauscher_crawler::{BoxFuture, Crawler, FetchError, Poller, schedule};
use lauscher_state::Checkpoint;
use lauscher_telemetry::METRICS;
use lauscher_telemetry::events::{SourcePollFailed, SourcePolled};
use rand::SeedableRng;
use tracing::warn;

use crate::ingest::{Batch, PipelineError};
use crate::source::{Source, SourceContext};

/// The polling adapter: runs one [`Poller`] on its schedule until cancelled, whatever
/// its kind. Every kind gets the same jittered interval, exponential backoff with full
/// jitter (never sooner than `Retry-After`), health reports, back-pressure from the
/// pipeline and checkpoints stored only after their mentions are committed.
pub struct Polling {
    /// The kind's poller.
    pub poller: Box<dyn Poller>,
    /// The shared HTTP machinery.
    pub crawler: Arc<Crawler>,
}

impl Source for Polling {
    fn run(self: Box<Self>, cx: SourceContext) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move { self.poll_until_cancelled(cx).await })
    }
}

impl Polling {
    /// Polls until `cancel` fires; with `once`, polls a single time (following pages
    /// the source says are waiting) and returns.
    ///
    /// A failing source backs off (exponentially, with jitter, never sooner than the
    /// server's `Retry-After`) and never affects other sources.
    async fn poll_until_cancelled(self, cx: SourceContext) -> Result<(), PipelineError> {
        let (cancel, once) = (cx.cancel.clone(), cx.once);
        let id = cx.config.id.as_str();
        let mut checkpoint = cx.checkpoint.clone();
        let mut rng = rand::rngs::StdRng::from_os_rng();
        let mut failures: u32 = 0;
        loop {
            let started = Instant::now();
            let outcome = tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                r = self.poller.poll(&self.crawler, &checkpoint) => r,
            };
            let elapsed = started.elapsed();
            let mut more = false;
            let delay = match outcome {
                Ok(poll) => {
                    failures = 0;
                    if let Some(o) = &cx.observer {
                        o(id, Ok(()));
                    }
                    if let Some(err) = &poll.recovered_from {
                        warn!(source = id, recovered = poll.mentions.len(), error = %err, "malformed feed partially recovered");
                        METRICS
                            .mentions_rejected_total
                            .with_label_values(&[id, "malformed_feed"])
                            .inc();
                    }
                    SourcePolled {
                        source: id,
                        mentions: poll.mentions.len(),
                        not_modified: poll.unchanged(),
                        elapsed,
                    }
                    .emit();
                    // More is read at once only when the checkpoint moved: a server that
                    // ignores the paging parameter cannot make the loop spin.
                    more = poll.more
                        && poll
                            .checkpoint
                            .as_ref()
                            .is_some_and(|next| *next != checkpoint);
                    let wait = poll.wait_at_least;
                    if !poll.unchanged() {
                        let next = poll.checkpoint.clone();
                        let batch = Batch {
                            source: id.to_owned(),
                            mentions: poll.mentions,
                            checkpoint: next.clone().map(Checkpoint),
                            deletes: Vec::new(),
                            keep_all: cx.config.keep_all,
                            ack: None,
                        };
                        // Waits while the pipeline is busy: back-pressure stops fetching.
                        tokio::select! {
                            () = cancel.cancelled() => return Ok(()),
                            r = cx.sender.send(batch) => r?,
                        }
                        if let Some(next) = next {
                            checkpoint = next;
                        }
                    }
                    schedule::next_poll_delay(cx.config.interval.0, wait, &mut rng)
                }
                Err(err) => {
                    failures += 1;
                    if let Some(o) = &cx.observer {
                        let status = match &err {
                            FetchError::Status { status, .. } => Some(*status),
                            _ => None,
                        };
                        o(id, Err((status, err.to_string())));
                    }
                    let delay = schedule::failure_delay(
                        failures,
                        cx.backoff.0,
                        cx.backoff.1,
                        err.retry_after(),
                        &mut rng,
                    );
                    SourcePollFailed {
                        source: id,
                        url: &cx.config.location(),
                        kind: err.kind(),
                        error: &err,
                        retry_in: delay,
                    }
                    .emit();
                    if matches!(err, FetchError::Status { status: 410, .. }) {
                        // Gone for good: the health rule has been told (410 is a broken
                        // source); polling again would only repeat it.
                        warn!(source = id, url = %cx.config.location(), "source is gone (HTTP 410); no more polls until it is changed in the config");
                        return Ok(());
                    }
                    if matches!(err, FetchError::Disallowed { .. }) {
                        delay.max(cx.config.interval.0)
                    } else {
                        delay
                    }
                }
            };
            // More waiting and no rate limit to respect: read it now.
            if more && delay <= cx.config.interval.0.mul_f64(1.1) {
                continue;
            }
            if once {
                return Ok(());
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }
}
