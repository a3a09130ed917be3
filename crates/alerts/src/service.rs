//! The running alert router: a thread that owns the [`AlertRouter`], fed through an
//! [`AlertHandle`] by the pipeline (commits), the crawler (polls) and the API (ack,
//! resolve), and ticking every second for windows, SLA clocks and escalation.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use chrono::Utc;
use lauscher_model::MentionSummary;
use tokio::sync::oneshot;
use tracing::{error, info};

use crate::incident::Incident;
use crate::router::AlertRouter;

/// How often the router's clock advances without input.
const TICK: Duration = Duration::from_secs(1);

enum Command {
    Committed(Vec<MentionSummary>),
    Polled {
        source: String,
        result: Result<(), (Option<u16>, String)>,
    },
    Ack {
        id: i64,
        by: String,
        reply: oneshot::Sender<Result<Incident, String>>,
    },
    Resolve {
        id: i64,
        by: String,
        reply: oneshot::Sender<Result<Incident, String>>,
    },
    Stop,
}

/// Sends work to the router thread. Cheap to clone.
#[derive(Clone)]
pub struct AlertHandle {
    tx: Sender<Command>,
}

impl AlertHandle {
    /// Mentions a commit made durable.
    pub fn committed(&self, mentions: Vec<MentionSummary>) {
        let _ = self.tx.send(Command::Committed(mentions));
    }

    /// A source poll's outcome: `Err((http status, message))` on failure.
    pub fn polled(&self, source: &str, result: Result<(), (Option<u16>, String)>) {
        let _ = self.tx.send(Command::Polled {
            source: source.to_owned(),
            result,
        });
    }

    /// Acknowledges incident `id`.
    pub async fn ack(&self, id: i64, by: &str) -> Result<Incident, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Ack {
                id,
                by: by.to_owned(),
                reply,
            })
            .map_err(|_| "alert router stopped".to_owned())?;
        rx.await.map_err(|_| "alert router stopped".to_owned())?
    }

    /// Resolves incident `id` by hand.
    pub async fn resolve(&self, id: i64, by: &str) -> Result<Incident, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Resolve {
                id,
                by: by.to_owned(),
                reply,
            })
            .map_err(|_| "alert router stopped".to_owned())?;
        rx.await.map_err(|_| "alert router stopped".to_owned())?
    }
}

/// The router thread.
pub struct AlertService {
    handle: AlertHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AlertService {
    /// A channel for the router, so the pipeline can be started with the handle before
    /// the router is built (it is rebuilt from the index the pipeline opens).
    pub fn channel() -> (AlertHandle, AlertInbox) {
        let (tx, rx) = channel();
        (AlertHandle { tx }, AlertInbox { rx })
    }

    /// Starts the thread running `router` on `inbox`.
    pub fn start(
        router: AlertRouter,
        handle: AlertHandle,
        inbox: AlertInbox,
    ) -> std::io::Result<AlertService> {
        let thread = std::thread::Builder::new()
            .name("lauscher-alerts".into())
            .spawn(move || run(router, inbox.rx))?;
        Ok(AlertService {
            handle,
            thread: Some(thread),
        })
    }

    /// A handle for sending work.
    pub fn handle(&self) -> AlertHandle {
        self.handle.clone()
    }

    /// Stops the thread after the work queued before.
    pub fn stop(mut self) {
        let _ = self.handle.tx.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The receiving end of [`AlertService::channel`].
pub struct AlertInbox {
    rx: Receiver<Command>,
}

fn run(mut router: AlertRouter, rx: Receiver<Command>) {
    let mut last_tick = Instant::now();
    info!("alert router running");
    loop {
        let cmd = match rx.recv_timeout(TICK.saturating_sub(last_tick.elapsed())) {
            Ok(c) => Some(c),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let now = Utc::now().timestamp();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match cmd {
            Some(Command::Committed(m)) => {
                router.observe(&m, now);
                true
            }
            Some(Command::Polled { source, result }) => {
                router.source_polled(&source, result, now);
                true
            }
            Some(Command::Ack { id, by, reply }) => {
                let _ = reply.send(router.ack(id, &by, now).map_err(|e| e.to_string()));
                true
            }
            Some(Command::Resolve { id, by, reply }) => {
                let _ = reply.send(router.resolve(id, &by, now).map_err(|e| e.to_string()));
                true
            }
            Some(Command::Stop) => false,
            None => true,
        }));
        match outcome {
            Ok(false) => return,
            Ok(true) => {}
            Err(_) => error!("alert router panicked on one input; it keeps running"),
        }
        if last_tick.elapsed() >= TICK {
            router.tick(now);
            last_tick = Instant::now();
        }
    }
}
