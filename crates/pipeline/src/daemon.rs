//! Runs every configured source on its schedule and feeds the pipeline.

use std::sync::Arc;
use std::time::Duration;

use lauscher_config::{Config, SourceConfig, SourceKind};
use lauscher_crawler::{
    Crawler, Cursor, FeedSource, FetchError, HostThrottle, HttpFetcher, HttpSettings, Poll,
    RobotsCache, schedule,
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

/// Polls one source on its schedule until cancelled.
struct SourceRunner {
    observer: Option<PollObserver>,
    config: SourceConfig,
    source: FeedSource,
    crawler: Arc<Crawler>,
    state: Arc<StateStore>,
    sender: BatchSender,
    backoff: (Duration, Duration),
}

impl SourceRunner {
    /// Polls until `cancel` fires; with `once`, polls a single time and returns.
    ///
    /// A failing source backs off (exponentially, with jitter, never sooner than the
    /// server's `Retry-After`) and never affects other sources.
    async fn run(self, cancel: CancellationToken, once: bool) -> Result<(), PipelineError> {
        let id = self.config.id.as_str();
        let mut cursor = match self.state.checkpoint(id)? {
            Some(c) => Cursor::decode(&c.0, &self.config.url),
            None => Cursor::default(),
        };
        let mut rng = rand::rngs::StdRng::from_os_rng();
        let mut failures: u32 = 0;
        loop {
            let outcome = tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                r = self.source.poll(&self.crawler, &cursor) => r,
            };
            let delay = match outcome {
                Ok((Poll::NotModified, elapsed)) => {
                    failures = 0;
                    if let Some(o) = &self.observer {
                        o(id, Ok(()));
                    }
                    SourcePolled {
                        source: id,
                        mentions: 0,
                        not_modified: true,
                        elapsed,
                    }
                    .emit();
                    schedule::next_poll_delay(self.config.interval.0, None, &mut rng)
                }
                Ok((
                    Poll::Fetched {
                        mentions,
                        cursor: next,
                        recovered_from,
                        ttl_minutes,
                    },
                    elapsed,
                )) => {
                    failures = 0;
                    if let Some(o) = &self.observer {
                        o(id, Ok(()));
                    }
                    if let Some(err) = &recovered_from {
                        warn!(source = id, recovered = mentions.len(), error = %err, "malformed feed partially recovered");
                        METRICS
                            .mentions_rejected_total
                            .with_label_values(&[id, "malformed_feed"])
                            .inc();
                    }
                    SourcePolled {
                        source: id,
                        mentions: mentions.len(),
                        not_modified: false,
                        elapsed,
                    }
                    .emit();
                    let batch = Batch {
                        source: id.to_owned(),
                        mentions,
                        checkpoint: Some(Checkpoint(next.encode())),
                        keep_all: self.config.keep_all,
                        ack: None,
                    };
                    // Waits while the pipeline is busy: back-pressure stops fetching.
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(()),
                        r = self.sender.send(batch) => r?,
                    }
                    cursor = next;
                    schedule::next_poll_delay(self.config.interval.0, ttl_minutes, &mut rng)
                }
                Err(err) => {
                    failures += 1;
                    if let Some(o) = &self.observer {
                        let status = match &err {
                            FetchError::Status { status, .. } => Some(*status),
                            _ => None,
                        };
                        o(id, Err((status, err.to_string())));
                    }
                    let delay = schedule::failure_delay(
                        failures,
                        self.backoff.0,
                        self.backoff.1,
                        err.retry_after(),
                        &mut rng,
                    );
                    SourcePollFailed {
                        source: id,
                        url: self.config.url.as_str(),
                        kind: err.kind(),
                        error: &err,
                        retry_in: delay,
                    }
                    .emit();
                    if matches!(err, FetchError::Status { status: 410, .. }) {
                        // Gone for good: the health rule has been told (410 is a broken
                        // source); polling again would only repeat it.
                        warn!(source = id, url = %self.config.url, "source is gone (HTTP 410); no more polls until it is changed in the config");
                        return Ok(());
                    }
                    if matches!(err, FetchError::Disallowed { .. }) {
                        delay.max(self.config.interval.0)
                    } else {
                        delay
                    }
                }
            };
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

/// Starts a [`SourceRunner`] per configured source; returns when all have stopped
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
        let SourceKind::Feed = sc.kind;
        let runner = SourceRunner {
            observer: observer.clone(),
            source: FeedSource {
                id: sc.id.clone(),
                url: sc.url.clone(),
                language: sc.language.clone(),
                allow_private: sc.allow_private,
            },
            config: sc.clone(),
            crawler: crawler.clone(),
            state: state.clone(),
            sender: sender.clone(),
            backoff: (config.crawler.backoff_min.0, config.crawler.backoff_max.0),
        };
        tasks.spawn(runner.run(cancel.clone(), once));
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
