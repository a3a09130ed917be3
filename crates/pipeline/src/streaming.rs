//! The stream runner: Jetstream, connected until shutdown, reconnecting with backoff.

use std::sync::Arc;
use std::time::Duration;

use lauscher_crawler::sources::{JetstreamSource, StreamBatch};
use lauscher_crawler::{BoxFuture, Crawler, FetchError, schedule};
use lauscher_state::Checkpoint;
use lauscher_telemetry::events::{SourcePollFailed, SourcePolled};
use rand::SeedableRng;
use tracing::info;

use crate::ingest::{Batch, PipelineError};
use crate::source::{Source, SourceContext};

/// Runs one streaming source until cancelled: connects, forwards what it reads as
/// batches (each with the checkpoint after it), and when the connection ends or fails
/// backs off as a failing poll does and reconnects to the next instance from the last
/// event read.
pub struct Streaming {
    /// The stream.
    pub stream: JetstreamSource,
    /// The shared HTTP machinery (profile lookups).
    pub crawler: Arc<Crawler>,
}

impl Source for Streaming {
    fn run(self: Box<Self>, cx: SourceContext) -> BoxFuture<'static, Result<(), PipelineError>> {
        Box::pin(async move {
            if cx.once {
                info!(source = %cx.config.id, "streams run in the daemon, not with --once");
                return Ok(());
            }
            self.read_until_cancelled(cx).await
        })
    }
}

impl Streaming {
    async fn read_until_cancelled(self, cx: SourceContext) -> Result<(), PipelineError> {
        let cancel = cx.cancel.clone();
        let id = cx.config.id.as_str();
        let mut checkpoint = cx.checkpoint.clone();
        let mut rng = rand::rngs::StdRng::from_os_rng();
        let mut failures: u32 = 0;
        let endpoints = self.stream.endpoints.clone();
        for endpoint in endpoints.iter().cycle() {
            let from = checkpoint.clone();
            let (tx, mut rx) = tokio::sync::mpsc::channel::<StreamBatch>(4);
            let mut healthy = false;
            let outcome = {
                let reading = self.stream.stream(&self.crawler, endpoint, &from, &tx);
                tokio::pin!(reading);
                loop {
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(()),
                        r = &mut reading => break r,
                        Some(batch) = rx.recv() => {
                            if !healthy {
                                healthy = true;
                                failures = 0;
                                if let Some(o) = &cx.observer {
                                    o(id, Ok(()));
                                }
                            }
                            checkpoint = forward(&cx, batch).await?;
                        }
                    }
                }
            };
            drop(tx);
            while let Some(batch) = rx.recv().await {
                checkpoint = forward(&cx, batch).await?;
            }
            failures += 1;
            let delay =
                schedule::failure_delay(failures, cx.backoff.0, cx.backoff.1, None, &mut rng);
            match outcome {
                Ok(()) => info!(source = id, url = %endpoint, "stream ended; reconnecting"),
                Err(err) => {
                    if let Some(o) = &cx.observer {
                        let status = match &err {
                            FetchError::Status { status, .. } => Some(*status),
                            _ => None,
                        };
                        o(id, Err((status, err.to_string())));
                    }
                    SourcePollFailed {
                        source: id,
                        url: endpoint.as_str(),
                        kind: err.kind(),
                        error: &err,
                        retry_in: delay,
                    }
                    .emit();
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(delay) => {}
            }
        }
        Ok(())
    }
}

/// Hands a stream's `batch` to the pipeline; returns its checkpoint.
async fn forward(cx: &SourceContext, batch: StreamBatch) -> Result<String, PipelineError> {
    let cancel = &cx.cancel;
    {
        SourcePolled {
            source: &cx.config.id,
            mentions: batch.mentions.len(),
            not_modified: false,
            elapsed: Duration::ZERO,
        }
        .emit();
        let checkpoint = batch.checkpoint.clone();
        let batch = Batch {
            source: cx.config.id.clone(),
            mentions: batch.mentions,
            checkpoint: Some(Checkpoint(batch.checkpoint)),
            deletes: batch.deletes,
            keep_all: cx.config.keep_all,
            ack: None,
        };
        tokio::select! {
            () = cancel.cancelled() => {}
            r = cx.sender.send(batch) => r?,
        }
        Ok(checkpoint)
    }
}
