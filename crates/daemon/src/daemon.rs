//! The running daemon: pipeline, sources, alerting, digests and the API, started and
//! stopped together.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lauscher_alerts::AlertService;
use lauscher_config::Config;
use lauscher_index::MentionIndex;
use lauscher_pipeline::{CommitHook, Pipeline, PollObserver, run_sources_observed};
use lauscher_query::{ActiveRules, RuleSet};
use lauscher_server::{AlertsApi, ApiState};
use lauscher_telemetry::METRICS;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::alerting::RunningAlerts;
use crate::desk::RunningDesk;
use crate::error::DaemonError;
use crate::load_rules;
use crate::reload::{Reloader, spawn_reload_handler};

type Result<T> = std::result::Result<T, DaemonError>;

/// The daemon's parts: the pipeline, alerting and the API server beside it.
pub struct Daemon {
    pipeline: Pipeline,
    alerts: Option<RunningAlerts>,
    desk: Option<RunningDesk>,
    rules: Arc<ActiveRules>,
    /// Whether `/readyz` answers 200: while sources run, not while starting or draining.
    ready: Arc<AtomicBool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    server_cancel: CancellationToken,
    /// Where the API listens.
    pub addr: SocketAddr,
}

impl Daemon {
    /// Loads the rules, opens the data directory, starts the ingest threads, the API
    /// server and the SIGHUP reload handler. `config_path` is re-read on reload.
    pub async fn start(
        config: &Config,
        config_path: &Path,
        data_dir: &Path,
        listen: SocketAddr,
    ) -> Result<Daemon> {
        let rules = Arc::new(ActiveRules::new(load_rules(config)?));
        METRICS.rules_loaded.set(rules.get().rules().len() as i64);
        let reloader = Reloader {
            config_path: config_path.to_path_buf(),
            langs: config.langs(),
            rules: rules.clone(),
        };
        spawn_reload_handler(reloader.clone());
        let alerting = crate::alerting::load(config, &rules.get())?;
        let timezone = crate::alerting::timezone(alerting.as_ref().map(|(a, _)| a));
        let (alert_handle, alert_inbox) = AlertService::channel();
        let (desk_feed, desk_inbox) = crate::desk::channel();
        let hook: Option<CommitHook> = alerting.as_ref().map(|(a, _)| {
            let h = alert_handle.clone();
            let feed = a.desk.clone().map(|d| (d, desk_feed));
            Box::new(move |mentions: Vec<lauscher_model::MentionSummary>| {
                if let Some((desk, f)) = &feed {
                    // Only what the desk could act on is copied to its thread. The
                    // thread gone (it failed to start) loses nothing: the next start
                    // catches up from the index.
                    let now = chrono::Utc::now().timestamp();
                    let concerned: Vec<_> = mentions
                        .iter()
                        .filter(|m| lauscher_desk::concerns(desk, m, now))
                        .cloned()
                        .collect();
                    if !concerned.is_empty() {
                        let _ = f.send(concerned);
                    }
                }
                h.committed(mentions)
            }) as CommitHook
        });
        let pipeline =
            Pipeline::start_with_hook(config, data_dir, rules.clone(), hook).map_err(|source| {
                DaemonError::Data {
                    dir: data_dir.to_path_buf(),
                    source,
                }
            })?;
        let desk = alerting
            .as_ref()
            .and_then(|(a, _)| crate::desk::open(a, pipeline.state(), &rules.get()));
        let alerts = match alerting {
            Some((alerting, templates)) => Some(RunningAlerts::start(
                alerting,
                templates,
                pipeline.state(),
                pipeline.index(),
                rules.clone(),
                (alert_handle, alert_inbox),
                desk.clone(),
            )?),
            None => None,
        };
        let desk = match (desk, &alerts) {
            (Some(desk), Some(alerts)) => Some(
                RunningDesk::start(desk, pipeline.index(), desk_inbox, alerts.wake()).map_err(
                    |e| DaemonError::AlertsStart {
                        what: "cannot start the service desk",
                        detail: e.to_string(),
                    },
                )?,
            ),
            _ => None,
        };
        let (listener, addr) =
            lauscher_server::bind(listen)
                .await
                .map_err(|source| DaemonError::Listen {
                    addr: listen,
                    source,
                })?;
        let server_cancel = CancellationToken::new();
        let ready = Arc::new(AtomicBool::new(false));
        let rules_handle = rules.clone();
        let state = ApiState {
            index: pipeline.index(),
            ready: ready.clone(),
            rules: rules.clone(),
            reload: Arc::new(move || reloader.reload_logged("api")),
            alerts: alerts.as_ref().map(|a| AlertsApi {
                state: pipeline.state(),
                handle: a.handle(),
            }),
            desk: desk.as_ref().map(RunningDesk::desk),
            tokens: Some(lauscher_server::auth::Tokens::new(pipeline.state())),
            timezone,
            push: lauscher_pipeline::push::PushInbox::new(config, pipeline.sender()).map(Arc::new),
            retention_days: config.index.retention_days(),
            rebuild: Some(pipeline.rebuilder()),
            explainer: pipeline.explainer(),
        };
        let server = tokio::spawn(lauscher_server::serve(
            listener,
            state,
            lauscher_server::ApiLimits::default(),
            server_cancel.clone(),
        ));
        info!(addr = %addr, "api listening");
        println!("lauscher: api listening on http://{addr}");
        Ok(Daemon {
            pipeline,
            alerts,
            desk,
            rules: rules_handle,
            ready,
            server,
            server_cancel,
            addr,
        })
    }

    fn poll_observer(&self) -> Option<PollObserver> {
        let handle = self.alerts.as_ref()?.handle();
        Some(Arc::new(move |source: &str, result| {
            handle.polled(source, result)
        }))
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.rules.get()
    }

    /// The index, for summaries.
    pub fn index(&self) -> Arc<MentionIndex> {
        self.pipeline.index()
    }

    /// Polls every source once and commits.
    pub async fn poll_once(&self, config: &Config) -> Result<()> {
        self.ready.store(true, Ordering::Release);
        run_sources_observed(
            config,
            self.pipeline.state(),
            self.pipeline.sender(),
            CancellationToken::new(),
            true,
            self.poll_observer(),
        )
        .await?;
        self.pipeline.flush().await?;
        Ok(())
    }

    /// Deletes what `keep` (the index's retention) no longer keeps, at start and every
    /// hour until `cancel` (once with `once`); a failure is logged and tried again.
    async fn apply_retention(
        &self,
        keep: Option<std::time::Duration>,
        cancel: &CancellationToken,
        once: bool,
    ) {
        let Some(keep) = keep.and_then(|k| chrono::Duration::from_std(k).ok()) else {
            return;
        };
        loop {
            if let Err(e) = self.pipeline.prune(chrono::Utc::now() - keep).await {
                tracing::warn!(error = %e, "retention not applied; trying again in an hour");
            }
            if once {
                return;
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            }
        }
    }

    /// Runs sources until `cancel` (or one round with `once`), then drains, commits
    /// and stops the server.
    pub async fn run(self, config: &Config, cancel: CancellationToken, once: bool) -> Result<()> {
        let sources = if cancel.is_cancelled() {
            Ok(())
        } else {
            self.ready.store(true, Ordering::Release);
            let polling = run_sources_observed(
                config,
                self.pipeline.state(),
                self.pipeline.sender(),
                cancel.clone(),
                once,
                self.poll_observer(),
            );
            let keep = config.index.retention.map(|r| r.0);
            tokio::join!(polling, self.apply_retention(keep, &cancel, once)).0
        };
        self.ready.store(false, Ordering::Release);
        info!("draining");
        // The API first: its push inbox holds a sender of the pipeline's queue, which
        // drains only once every sender is gone.
        self.server_cancel.cancel();
        let served = self.server.await;
        let drained = self.pipeline.shutdown().await;
        if let Some(desk) = self.desk {
            desk.stop().await;
        }
        if let Some(alerts) = self.alerts {
            alerts.stop().await;
        }
        sources?;
        drained?;
        served
            .map_err(|e| DaemonError::Server(e.to_string()))?
            .map_err(|e| DaemonError::Server(e.to_string()))?;
        info!("stopped");
        Ok(())
    }
}
