//! The one shape every source runs in: a [`Source`] given a [`SourceContext`].

use std::time::Duration;

use lauscher_config::SourceConfig;
use lauscher_crawler::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::daemon::PollObserver;
use crate::ingest::{BatchSender, PipelineError};

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

/// A source of any kind, as the daemon runs it: polling kinds through [`crate::polling::Polling`], the
/// stream through [`crate::streaming::Streaming`]. (Push sources are not run: the API's inbox takes
/// their mentions.)
pub trait Source: Send {
    /// Runs until `cx.cancel` fires (or one round with `cx.once`).
    fn run(self: Box<Self>, cx: SourceContext) -> BoxFuture<'static, Result<(), PipelineError>>;
}
