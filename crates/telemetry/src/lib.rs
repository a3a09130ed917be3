//! Prometheus metrics and the typed events that update them.
//!
//! Metric names live here and nowhere else. Label values come from bounded sets: source
//! ids and topic ids from the config, error kinds from enums; never URLs or authors.
//! Each [`events`] struct logs and counts in one call, so a log line never goes
//! without its counter.

pub mod events;

use std::sync::LazyLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Every metric Lauscher exports.
pub struct Metrics {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    /// Source polls, by source and outcome (`fetched`, `not_modified`, `error`).
    pub polls_total: IntCounterVec,
    /// Mentions parsed from sources, by source.
    pub mentions_fetched_total: IntCounterVec,
    /// Mentions committed to the index, by source and topic (`none` for keep-all sources).
    pub mentions_indexed_total: IntCounterVec,
    /// Mentions dropped as duplicates, by source and kind (`id`, `content`, `near`).
    pub mentions_duplicate_total: IntCounterVec,
    /// Mentions dropped because they matched no topic, by source.
    pub mentions_unmatched_total: IntCounterVec,
    /// Input rejected (malformed import lines, entries without text), by source and reason.
    pub mentions_rejected_total: IntCounterVec,
    /// Fetch errors, by source and kind.
    pub fetch_errors_total: IntCounterVec,
    /// Time for one fetch including the body, by source.
    pub fetch_duration_seconds: HistogramVec,
    /// Batches waiting in each pipeline queue.
    pub queue_depth: IntGaugeVec,
    /// Documents in the index after the last commit.
    pub index_docs: IntGauge,
    /// Time for one index commit, including the state store write.
    pub commit_duration_seconds: Histogram,
    /// Rule reloads by outcome (`applied`, `rejected`).
    pub rule_reloads_total: IntCounterVec,
    /// Topic rules in force (packs included).
    pub rules_loaded: IntGauge,
    /// Alert signals by rule and outcome (`opened`, `escalated`, `updated`, ...).
    pub alerts_total: IntCounterVec,
    /// Incidents open, by level.
    pub incidents_open: IntGaugeVec,
    /// Notification attempts by receiver and outcome (`sent`, `retry`, `failed`,
    /// `expired`, `silenced`, `inhibited`).
    pub notifications_total: IntCounterVec,
    /// Notifications waiting for delivery, by receiver.
    pub outbox_pending: IntGaugeVec,
    /// From the index commit of the mention that tipped a window to the receiver's
    /// answer.
    pub alert_latency_seconds: Histogram,
    /// Service desk items by state (new, open, pending) and team.
    pub desk_backlog: IntGaugeVec,
    /// Service desk items new or open with an SLA clock past due, by team.
    pub desk_breached: IntGaugeVec,
    /// Post → first counting response of desk items, by source and intent (observed when
    /// the response is recorded).
    pub desk_first_response_seconds: HistogramVec,
}

/// Registers `metric` on `registry` and returns it.
#[expect(
    clippy::expect_used,
    reason = "static metric definitions; a duplicate name is a programming error caught by any test"
)]
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric name");
    metric
}

/// The process-wide metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    #[expect(
        clippy::expect_used,
        reason = "static metric definitions; a failure is a programming error caught by any test"
    )]
    fn new() -> Metrics {
        let registry =
            Registry::new_custom(Some("lauscher".into()), None).expect("valid registry prefix");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter"),
            )
        };
        let polls_total = counter(
            "polls_total",
            "Source polls by outcome",
            &["source", "outcome"],
        );
        let mentions_fetched_total = counter(
            "mentions_fetched_total",
            "Mentions parsed from sources",
            &["source"],
        );
        let mentions_indexed_total = counter(
            "mentions_indexed_total",
            "Mentions committed to the index",
            &["source", "topic"],
        );
        let mentions_duplicate_total = counter(
            "mentions_duplicate_total",
            "Mentions dropped as duplicates",
            &["source", "kind"],
        );
        let mentions_unmatched_total = counter(
            "mentions_unmatched_total",
            "Mentions dropped for matching no topic",
            &["source"],
        );
        let mentions_rejected_total = counter(
            "mentions_rejected_total",
            "Input rejected as malformed",
            &["source", "reason"],
        );
        let fetch_errors_total = counter(
            "fetch_errors_total",
            "Fetch errors by kind",
            &["source", "kind"],
        );
        let fetch_duration_seconds = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "fetch_duration_seconds",
                    "Time for one fetch including the body",
                )
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
                &["source"],
            )
            .expect("valid histogram"),
        );
        let queue_depth = register(
            &registry,
            IntGaugeVec::new(
                Opts::new("queue_depth", "Batches waiting in a pipeline queue"),
                &["queue"],
            )
            .expect("valid gauge"),
        );
        let index_docs = register(
            &registry,
            IntGauge::new("index_docs", "Documents in the index").expect("valid gauge"),
        );
        let commit_duration_seconds = register(
            &registry,
            Histogram::with_opts(
                HistogramOpts::new(
                    "commit_duration_seconds",
                    "Time for one index commit with its state write",
                )
                .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            )
            .expect("valid histogram"),
        );
        let rule_reloads_total = counter(
            "rule_reloads_total",
            "Rule reloads by outcome: applied, or rejected (the old rules stay)",
            &["outcome"],
        );
        let rules_loaded = register(
            &registry,
            IntGauge::new("rules_loaded", "Topic rules in force, packs included")
                .expect("valid gauge"),
        );
        let alerts_total = counter(
            "alerts_total",
            "Alert rule signals by outcome",
            &["rule", "outcome"],
        );
        let incidents_open = register(
            &registry,
            IntGaugeVec::new(
                Opts::new("incidents_open", "Incidents open by level"),
                &["level"],
            )
            .expect("valid gauge"),
        );
        let notifications_total = counter(
            "notifications_total",
            "Notification attempts by receiver and outcome",
            &["receiver", "outcome"],
        );
        let outbox_pending = register(
            &registry,
            IntGaugeVec::new(
                Opts::new("outbox_pending", "Notifications waiting for delivery"),
                &["receiver"],
            )
            .expect("valid gauge"),
        );
        let desk_backlog = register(
            &registry,
            IntGaugeVec::new(
                Opts::new("desk_backlog", "Service desk items by state and team"),
                &["state", "team"],
            )
            .expect("valid gauge"),
        );
        let desk_breached = register(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "desk_breached",
                    "Service desk items new or open with an SLA clock past due",
                ),
                &["team"],
            )
            .expect("valid gauge"),
        );
        let desk_first_response_seconds = register(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "desk_first_response_seconds",
                    "Post to first counting response of service desk items",
                )
                .buckets(vec![
                    900.0, 1800.0, 2700.0, 3600.0, 14_400.0, 21_600.0, 28_800.0, 86_400.0,
                ]),
                &["source", "intent"],
            )
            .expect("valid histogram"),
        );
        let alert_latency_seconds = register(
            &registry,
            Histogram::with_opts(
                HistogramOpts::new(
                    "alert_latency_seconds",
                    "From the commit of the tipping mention to the receiver's answer",
                )
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 120.0]),
            )
            .expect("valid histogram"),
        );
        #[cfg(target_os = "linux")]
        {
            let _ = registry.register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ));
        }
        Metrics {
            registry,
            polls_total,
            mentions_fetched_total,
            mentions_indexed_total,
            mentions_duplicate_total,
            mentions_unmatched_total,
            mentions_rejected_total,
            fetch_errors_total,
            fetch_duration_seconds,
            queue_depth,
            index_docs,
            commit_duration_seconds,
            rule_reloads_total,
            rules_loaded,
            alerts_total,
            incidents_open,
            desk_backlog,
            desk_breached,
            desk_first_response_seconds,
            notifications_total,
            outbox_pending,
            alert_latency_seconds,
        }
    }

    /// Renders every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec only fails on metric families that violate the format,
        // which the typed constructors above rule out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}
