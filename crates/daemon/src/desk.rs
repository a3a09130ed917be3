//! The service desk in the daemon: the intake thread fed by index commits, the SLA
//! clock, and the catch-up at start.
//!
//! Mentions reach the desk after their index commit. A crash between the commit and the
//! desk's write is caught up at the next start: the mentions of the last `max_age` are
//! read back from the index and taken in again (intake skips what it holds). Those read
//! back carry no source address (Mastodon, Bluesky), so a brand reply committed in that
//! window is found by its URL only.
//!
//! Tickets handed off to Zammad or Znuny are read back every `ticket.poll` (10 min by
//! default), a safety net for a webhook that was never set up or did not arrive; a
//! report that changes nothing (same ticket, state and change time) is not recorded
//! twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use chrono::Utc;
use lauscher_alerts::ticket::TicketClient;
use lauscher_config::{AlertingConfig, ReceiverConfig};
use lauscher_desk::Desk;
use lauscher_index::MentionIndex;
use lauscher_model::MentionSummary;
use lauscher_query::RuleSet;
use lauscher_state::StateStore;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often the SLA clock looks at the live items.
const TICK: Duration = Duration::from_secs(10);

/// Where committed mentions are sent for the desk.
pub type DeskFeed = mpsc::Sender<Vec<MentionSummary>>;

/// The desk while the daemon runs.
pub struct RunningDesk {
    desk: Arc<Desk>,
    intake: std::thread::JoinHandle<()>,
    clock: JoinHandle<()>,
    polls: Vec<JoinHandle<()>>,
    cancel: CancellationToken,
}

/// A channel for committed mentions, made before the pipeline starts.
pub fn channel() -> (DeskFeed, mpsc::Receiver<Vec<MentionSummary>>) {
    mpsc::channel()
}

/// The desk of the alerting file, when it has a `desk:` section.
pub fn open(
    alerting: &AlertingConfig,
    state: Arc<StateStore>,
    rules: &RuleSet,
) -> Option<Arc<Desk>> {
    let kinds: BTreeMap<String, String> = rules
        .rules()
        .iter()
        .filter_map(|r| Some((r.id.clone(), r.kind.topic_kind()?.as_str().to_owned())))
        .collect();
    Desk::new(alerting, state, kinds).map(Arc::new)
}

impl RunningDesk {
    /// Catches up on the index's recent mentions, then starts the intake thread and the
    /// SLA clock (`wake` tells the delivery worker of new notices).
    pub fn start(
        desk: Arc<Desk>,
        index: Arc<MentionIndex>,
        feed: mpsc::Receiver<Vec<MentionSummary>>,
        wake: Arc<Notify>,
    ) -> std::io::Result<RunningDesk> {
        let now = Utc::now();
        let back = chrono::Duration::from_std(desk.config().max_age.0).unwrap_or_default();
        match index.summaries(now - back, now + chrono::Duration::days(1)) {
            Ok(recent) => match desk.intake(&recent, now.timestamp()) {
                Ok(n) if n.created + n.follow_ups + n.responses > 0 => {
                    info!(
                        created = n.created,
                        follow_ups = n.follow_ups,
                        responses = n.responses,
                        "desk caught up on recent mentions"
                    );
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "desk catch-up failed"),
            },
            Err(e) => warn!(error = %e, "desk catch-up: cannot read recent mentions"),
        }
        let d = desk.clone();
        let woken = wake.clone();
        let intake = std::thread::Builder::new()
            .name("desk-intake".into())
            .spawn(move || {
                // Ends when every sender (the pipeline's hook) is gone.
                for batch in feed {
                    let now = Utc::now().timestamp();
                    match d.intake(&batch, now) {
                        // A post found late may owe a warning at once: run the clock now
                        // rather than at its next tick.
                        Ok(n) if n.created > 0 => match d.tick(now) {
                            Ok(0) => {}
                            Ok(_) => woken.notify_one(),
                            Err(e) => warn!(error = %e, "desk SLA clock failed"),
                        },
                        Ok(_) => {}
                        Err(e) => {
                            warn!(error = %e, mentions = batch.len(), "desk intake failed; the next start catches up");
                        }
                    }
                }
            })?;
        let cancel = CancellationToken::new();
        let d = desk.clone();
        let stop = cancel.clone();
        let clock = tokio::spawn(async move {
            let mut every = tokio::time::interval(TICK);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = every.tick() => {}
                }
                let d = d.clone();
                match tokio::task::spawn_blocking(move || d.tick(Utc::now().timestamp())).await {
                    Ok(Ok(n)) if n > 0 => wake.notify_one(),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => warn!(error = %e, "desk SLA clock failed"),
                    Err(e) => warn!(error = %e, "desk SLA clock panicked"),
                }
            }
        });
        let polls = desk
            .config()
            .handoff
            .iter()
            .filter_map(|t| desk.handoff_target(t))
            .filter(|r| r.kind.is_ticket_system())
            .map(|r| tokio::spawn(poll(desk.clone(), r.clone(), cancel.clone())))
            .collect();
        Ok(RunningDesk {
            desk,
            intake,
            clock,
            polls,
            cancel,
        })
    }

    /// The desk, for the API.
    pub fn desk(&self) -> Arc<Desk> {
        self.desk.clone()
    }

    /// Stops the clock and waits (at most 5 s) for the intake thread, which ends once
    /// the pipeline, stopped first, dropped its hook; what it did not take in is caught
    /// up at the next start.
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.clock.await;
        for p in self.polls {
            let _ = p.await;
        }
        for _ in 0..50 {
            if self.intake.is_finished() {
                let _ = self.intake.join();
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        warn!("desk intake still busy at stop; the next start catches up");
    }
}

/// Reads the open hand-offs to ticket system `receiver` back every `ticket.poll`, from
/// the first poll after start, until `stop`.
async fn poll(desk: Arc<Desk>, receiver: ReceiverConfig, stop: CancellationToken) {
    let every = receiver
        .ticket
        .as_ref()
        .map_or(Duration::from_secs(600), |t| t.poll.0)
        .max(Duration::from_secs(1));
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("Lauscher/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let d = desk.clone();
        let id = receiver.id.clone();
        let open = match tokio::task::spawn_blocking(move || d.open_handoffs(&id)).await {
            Ok(Ok(open)) => open,
            Ok(Err(e)) => {
                warn!(receiver = %receiver.id, error = %e, "hand-offs not read for the ticket poll");
                continue;
            }
            Err(_) => continue,
        };
        let client = match TicketClient::new(&http, &receiver) {
            Ok(c) => c,
            Err(e) => {
                warn!(receiver = %receiver.id, error = %e, "ticket poll off");
                return;
            }
        };
        for (item, reference, ticket_id) in open {
            if stop.is_cancelled() {
                return;
            }
            let report = match client.status(item, &reference, ticket_id.as_deref()).await {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    warn!(receiver = %receiver.id, item, error = %e, "ticket not read back");
                    continue;
                }
            };
            let d = desk.clone();
            let target = receiver.id.clone();
            match tokio::task::spawn_blocking(move || {
                d.external(&target, &report, Utc::now().timestamp())
            })
            .await
            {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    warn!(receiver = %receiver.id, item, error = %e, "ticket state not recorded")
                }
                Err(_) => {}
            }
        }
    }
}
