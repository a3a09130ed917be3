//! Runs every configured source on its schedule and feeds the pipeline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lauscher_config::{Config, SourceConfig};
use lauscher_crawler::sources::{JetstreamSource, StreamBatch};
use lauscher_crawler::{
    BoxFuture, Crawler, FetchError, HostThrottle, HttpFetcher, HttpSettings, Poller, RobotsCache,
    schedule,
};
use lauscher_state::{Checkpoint, StateStore};
use lauscher_telemetry::METRICS;
use lauscher_telemetry::events::{SourcePollFailed, SourcePolled};
use rand::SeedableRng;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::ingest::{Batch, BatchSender, PipelineError};
use crate::robots_store::StateRobotsStore;

/// Returns the User-Agent Lauscher sends: `Lauscher/<version> (+<contact>)`.
pub fn user_agent(contact: Option<&url::Url>) -> String {
    match contact {
        Some(c) => format!("Lauscher/{} (+{c})", env!("CARGO_PKG_VERSION")),
        None => format!("Lauscher/{}", env!("CARGO_PKG_VERSION")),
    }
}

/// Told the outcome of every poll: the source id and `Ok(())`, or the HTTP status (if
/// any) and the error. The alert router's source-health rule listens here.
pub type PollObserver = Arc<dyn Fn(&str, Result<(), (Option<u16>, String)>) + Send + Sync>;

/// What a running source is given: its settings, where it stood (its last committed
/// checkpoint), where its batches go, when to stop, whom to tell how polls go, and how
/// to back off.
pub struct SourceContext {
    /// The source's settings.
    pub config: SourceConfig,
    /// The last committed checkpoint (empty: never read).
    pub checkpoint: String,
    /// The pipeline's intake.
    pub sender: BatchSender,
    /// Fires at shutdown.
    pub cancel: CancellationToken,
    /// Told every poll's or connection's outcome (source health).
    pub observer: Option<PollObserver>,
    /// Least and most time between attempts after failures.
    pub backoff: (Duration, Duration),
    /// Read once and return (`run --once`); streams return at once.
    pub once: bool,
}

/// A source of any kind, as the daemon runs it: polling kinds through [`Polling`], the
/// stream through [`Streaming`]. (Push sources are not run: the API's inbox takes
/// their mentions.)
pub trait Source: Send {
    /// Runs until `cx.cancel` fires (or one round with `cx.once`).
    fn run(self: Box<Self>, cx: SourceContext) -> BoxFuture<'static, Result<(), PipelineError>>;
}

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
                    more = poll.more;
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

/// Starts every configured [`Source`]; returns when all have stopped
/// (after `cancel`, or after one poll each with `once`).
pub async fn run_sources(
    config: &Config,
    state: Arc<StateStore>,
    sender: BatchSender,
    cancel: CancellationToken,
    once: bool,
) -> Result<(), PipelineError> {
    run_sources_observed(config, state, sender, cancel, once, None).await
}

/// As [`run_sources`], telling `observer` every poll's outcome.
pub async fn run_sources_observed(
    config: &Config,
    state: Arc<StateStore>,
    sender: BatchSender,
    cancel: CancellationToken,
    once: bool,
    observer: Option<PollObserver>,
) -> Result<(), PipelineError> {
    if config.sources.is_empty() {
        if !once {
            cancel.cancelled().await;
        }
        return Ok(());
    }
    let settings = HttpSettings {
        user_agent: user_agent(config.crawler.contact.as_ref()),
        body_limit: config.crawler.body_limit.0,
        max_redirects: config.crawler.max_redirects,
        timeout: config.crawler.timeout.0,
        connect_timeout: config.crawler.connect_timeout.0,
        allow_private: false,
    };
    let http = HttpFetcher::new(&settings).map_err(|e| PipelineError::Http(e.to_string()))?;
    let private_http = match config.sources.iter().any(|s| s.allow_private) {
        true => Some(
            HttpFetcher::new(&HttpSettings {
                allow_private: true,
                ..settings
            })
            .map_err(|e| PipelineError::Http(e.to_string()))?,
        ),
        false => None,
    };
    let robots = config
        .crawler
        .robots
        .then(|| RobotsCache::new(Some(Arc::new(StateRobotsStore(state.clone())))));
    let crawler = Arc::new(Crawler {
        http,
        private_http,
        robots,
        throttle: HostThrottle::new(),
        host_interval: config.crawler.host_interval.0,
    });
    let mut tasks = JoinSet::new();
    for sc in &config.sources {
        let Some(source) = crate::sources::source(sc, &crawler) else {
            continue;
        };
        let cx = SourceContext {
            config: sc.clone(),
            checkpoint: state.checkpoint(&sc.id)?.unwrap_or_default().0,
            sender: sender.clone(),
            cancel: cancel.clone(),
            observer: observer.clone(),
            backoff: (config.crawler.backoff_min.0, config.crawler.backoff_max.0),
            once,
        };
        tasks.spawn(source.run(cx));
    }
    if tasks.is_empty() && !once {
        // Only push sources: they arrive through the API until shutdown.
        cancel.cancelled().await;
    }
    info!(sources = config.sources.len(), "sources started");
    drop(sender);
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                warn!(error = %e, "source stopped");
                first_error.get_or_insert(e);
            }
            Err(e) => {
                warn!(error = %e, "source task failed");
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
