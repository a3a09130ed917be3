//! Rule reloads while the daemon runs: on SIGHUP and on `POST /api/v1/reload`.

use std::path::PathBuf;
use std::sync::Arc;

use lauscher_config::Config;
use lauscher_model::Lang;
use lauscher_query::{ActiveRules, RuleKind, RuleSet};
use lauscher_telemetry::METRICS;
use tracing::info;

/// Re-reads the config file's rule list and the rule files, and swaps the rule set in
/// force when every rule parses and every example passes. Settings other than `rules:`
/// (sources, languages, server, index) take effect at the next start.
#[derive(Clone)]
pub struct Reloader {
    pub(crate) config_path: PathBuf,
    pub(crate) langs: Vec<Lang>,
    pub(crate) rules: Arc<ActiveRules>,
}

impl Reloader {
    fn reload(&self) -> Result<String, String> {
        let config = Config::load(&self.config_path).map_err(|e| e.to_string())?;
        let set =
            RuleSet::load_checked(&config.rule_paths(), &self.langs).map_err(|e| e.to_string())?;
        let topics = set
            .rules()
            .iter()
            .filter(|r| r.kind != RuleKind::Pack)
            .count();
        let summary = format!(
            "{} rules ({topics} topics) from {}",
            set.rules().len(),
            self.config_path.display()
        );
        self.rules.replace(set);
        Ok(summary)
    }

    pub(crate) fn reload_logged(&self, trigger: &str) -> Result<String, String> {
        let result = self.reload();
        let outcome = if result.is_ok() {
            "applied"
        } else {
            "rejected"
        };
        METRICS
            .rule_reloads_total
            .with_label_values(&[outcome])
            .inc();
        METRICS
            .rules_loaded
            .set(self.rules.get().rules().len() as i64);
        match &result {
            Ok(summary) => info!(trigger, %summary, "rules reloaded"),
            Err(problems) => {
                tracing::error!(trigger, %problems, "rules rejected; the previous rules stay in force")
            }
        }
        result
    }
}

/// Reloads the rules on SIGHUP (Unix only).
pub(crate) fn spawn_reload_handler(reloader: Reloader) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            let r = reloader.clone();
            let _ = tokio::task::spawn_blocking(move || r.reload_logged("SIGHUP")).await;
        }
    });
    #[cfg(not(unix))]
    let _ = reloader;
}
