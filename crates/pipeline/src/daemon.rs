//! Starts every configured source beside the pipeline: the shared HTTP machinery, one
//! task per source, and the User-Agent and health observer they share.

use std::sync::Arc;

use lauscher_config::Config;
use lauscher_crawler::{Crawler, HostThrottle, HttpFetcher, HttpSettings, RobotsCache};
use lauscher_state::StateStore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::ingest::{BatchSender, PipelineError};
use crate::robots_store::StateRobotsStore;
use crate::source::SourceContext;

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

/// Starts every configured [`Source`](crate::source::Source); returns when all have stopped
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
