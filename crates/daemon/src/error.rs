//! What can stop the daemon from starting or from stopping cleanly.

use std::net::SocketAddr;
use std::path::PathBuf;

use lauscher_pipeline::PipelineError;

/// A daemon error; each names what it was about.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A rule file does not parse or an example fails (every problem, located).
    #[error("rules rejected:\n{0}")]
    Rules(String),
    /// The alerting file or its templates are wrong (located in the message).
    #[error("{0}")]
    Alerting(String),
    /// The data directory cannot be opened.
    #[error("cannot open data directory {}: {source}", dir.display())]
    Data {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: PipelineError,
    },
    /// The API address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Alerting could not start: incidents, history or the router thread.
    #[error("{what}: {detail}")]
    AlertsStart {
        /// What failed.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// The pipeline failed while running or draining.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The API server failed.
    #[error("api server failed: {0}")]
    Server(String),
}
