//! The daemon's wiring: the ingest pipeline, the sources that feed it, alerting (the
//! router thread, the delivery worker, digests), the service desk, rule reloads and the API server,
//! started together by [`Daemon::start`] and stopped together by [`Daemon::run`]
//! (drain, commit, stop). The binary parses arguments and calls this; the demo and the
//! end-to-end tests run the same code.

pub mod alerting;
mod daemon;
pub mod desk;
mod digest;
mod error;
mod reload;

pub use daemon::Daemon;
pub use error::DaemonError;
pub use reload::Reloader;

use lauscher_config::Config;
use lauscher_query::RuleSet;

/// Loads the config's rule files and runs their examples, as the daemon accepts them.
pub fn load_rules(config: &Config) -> Result<RuleSet, DaemonError> {
    RuleSet::load_checked(&config.rule_paths(), &config.langs())
        .map_err(|e| DaemonError::Rules(e.to_string()))
}
