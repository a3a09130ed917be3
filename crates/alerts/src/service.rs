//! The running alert router: a thread that owns the [`AlertRouter`], fed through an
//! [`AlertHandle`] by the pipeline (commits), the crawler (polls) and the API (ack,
//! resolve), and ticking every second for windows, SLA clocks and escalation.
//!
//! Decision: the inbox is bounded ([`QUEUE`] commands), like every queue of the
//! pipeline. A full inbox blocks the indexer's commit hook, which fills the ingest
//! queues and stops fetching, so a slow router slows ingest instead of growing memory
//! without bound. Async callers (the crawler's poll outcomes, the API's ack and
//! resolve) never block a runtime thread: when the inbox is full they wait on a
//! blocking thread instead. Nothing is dropped.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use chrono::Utc;
use lauscher_model::MentionSummary;
use tokio::sync::oneshot;
use tracing::{error, info};

use crate::incident::Incident;
use crate::router::{AlertRouter, RouterError};

/// How often the router's clock advances without input.
const TICK: Duration = Duration::from_secs(1);
/// Commands the inbox holds before senders wait: a commit's batch of summaries is one
/// command, so this is many seconds of ingest at full speed.
pub const QUEUE: usize = 256;

enum Command {
    Committed(Vec<MentionSummary>),
    Polled {
        source: String,
        result: Result<(), (Option<u16>, String)>,
    },
    Ack {
        id: i64,
        by: String,
        reply: oneshot::Sender<Result<Incident, RouterError>>,
    },
    Resolve {
        id: i64,
        by: String,
        reply: oneshot::Sender<Result<Incident, RouterError>>,
    },
    Stop,
}

/// Sends work to the router thread. Cheap to clone.
#[derive(Clone)]
pub struct AlertHandle {
    tx: SyncSender<Command>,
}

impl AlertHandle {
    /// Mentions a commit made durable. Blocks while the inbox is full: call it from a
    /// thread of its own (the indexer's), not from async code.
    pub fn committed(&self, mentions: Vec<MentionSummary>) {
        let _ = self.tx.send(Command::Committed(mentions));
    }

    /// A source poll's outcome: `Err((http status, message))` on failure. Never blocks
    /// the caller; when the inbox is full the outcome waits on a blocking thread.
    pub fn polled(&self, source: &str, result: Result<(), (Option<u16>, String)>) {
        self.send_from_async(Command::Polled {
            source: source.to_owned(),
            result,
        });
    }

    /// Queues `cmd` without blocking the calling (runtime) thread. A command for a
    /// stopped router is dropped: an ack's caller then hears [`RouterError::Stopped`]
    /// from its reply channel.
    fn send_from_async(&self, cmd: Command) {
        let Err(TrySendError::Full(cmd)) = self.tx.try_send(cmd) else {
            return;
        };
        let tx = self.tx.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(move || tx.send(cmd));
            }
            Err(_) => {
                let _ = tx.send(cmd);
            }
        }
    }

    /// Acknowledges incident `id`.
    pub async fn ack(&self, id: i64, by: &str) -> Result<Incident, RouterError> {
        let (reply, rx) = oneshot::channel();
        self.send_from_async(Command::Ack {
            id,
            by: by.to_owned(),
            reply,
        });
        rx.await.map_err(|_| RouterError::Stopped)?
    }

    /// Resolves incident `id` by hand.
    pub async fn resolve(&self, id: i64, by: &str) -> Result<Incident, RouterError> {
        let (reply, rx) = oneshot::channel();
        self.send_from_async(Command::Resolve {
            id,
            by: by.to_owned(),
            reply,
        });
        rx.await.map_err(|_| RouterError::Stopped)?
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
        let (tx, rx) = sync_channel(QUEUE);
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

    /// Stops the thread after the work queued before: when this returns, every commit
    /// and poll outcome sent earlier was observed and its notifications are in the
    /// outbox.
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
                let _ = reply.send(router.ack(id, &by, now));
                true
            }
            Some(Command::Resolve { id, by, reply }) => {
                let _ = reply.send(router.resolve(id, &by, now));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inbox_is_bounded_and_async_senders_never_block() {
        let (handle, inbox) = AlertService::channel();
        for _ in 0..QUEUE {
            handle.polled("feed", Ok(()));
        }
        // Full: a commit would block now, and a poll outcome outside a runtime waits
        // for room, so try from a runtime, where it must return at once.
        assert!(matches!(
            handle.tx.try_send(Command::Committed(Vec::new())),
            Err(TrySendError::Full(_))
        ));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async { handle.polled("feed", Err((Some(500), "down".into()))) });
        // The waiting outcome arrives once there is room: nothing is dropped.
        let mut n = 0;
        while inbox.rx.recv_timeout(Duration::from_secs(5)).is_ok() {
            n += 1;
            if n == QUEUE + 1 {
                break;
            }
        }
        assert_eq!(n, QUEUE + 1);
    }
}
