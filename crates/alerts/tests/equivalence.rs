//! A live run and a backtest over the same posts open the same incidents
//! (design/alerting.md §13): the live router gets the posts in commit batches some
//! seconds after they were fetched, ticks on its own clock, stores incidents and is
//! restarted in the middle (rebuilt from history, open incidents loaded); the backtest
//! replays the same posts one by one in `fetched_at` order.

use std::sync::Arc;

use lauscher_alerts::{AlertRouter, Templates, backtest, sim};
use lauscher_config::AlertingConfig;
use lauscher_model::{Label, MentionSummary};
use lauscher_state::StateStore;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::Notify;

/// 2026-01-05, a Monday.
const T0: i64 = 1_767_571_200;
const WEEK: i64 = 7 * 86_400;

const ALERTS: &str = "version: 1
defaults: {timezone: UTC, language: en}
rules:
  - id: storm
    kind: spike
    topics: [acme]
    label: negative
routing:
  receivers: [hook]
receivers:
  - {id: hook, kind: webhook, url: 'http://127.0.0.1:9/hook'}
";

fn mention(n: u64, t: i64, label: Label) -> MentionSummary {
    MentionSummary {
        source: "social".into(),
        author_key: format!("author{n}"),
        label,
        snippet: format!("post {n}"),
        reply_to: None,
        address: None,
        ..lauscher_testkit::summary(n, t)
    }
}

/// Ten weeks of a seasonal stream at about 4 negative posts an hour (and as many
/// neutral ones), with two bursts in the last two weeks.
fn stream() -> Vec<MentionSummary> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut out = Vec::new();
    let mut n = 0;
    for minute in 0..(10 * WEEK / 60) {
        let t = T0 + minute * 60;
        let hour = (t / 3600).rem_euclid(24) as f64;
        let rate = 4.0 * (1.0 + 0.6 * (2.0 * std::f64::consts::PI * (hour - 9.0) / 24.0).cos());
        for label in [Label::Negative, Label::Neutral] {
            for _ in 0..sim::poisson(&mut rng, rate / 60.0) {
                n += 1;
                out.push(mention(n, t + (n as i64 % 60), label));
            }
        }
    }
    for start in BURSTS {
        for i in 0..40 {
            n += 1;
            out.push(mention(n, start + i * 45, Label::Negative));
        }
    }
    out.sort_by_key(|m| m.fetched_at);
    out
}

fn config() -> (AlertingConfig, Templates) {
    let config = AlertingConfig::parse(ALERTS, "alerts.yaml", &[], &|_| None).expect("config");
    let templates = Templates::load(std::path::Path::new("/nonexistent")).expect("templates");
    (config, templates)
}

/// Burst starts (unix seconds).
const BURSTS: [i64; 2] = [
    T0 + 8 * WEEK + 2 * 86_400 + 10 * 3600,
    T0 + 9 * WEEK + 3 * 86_400 + 15 * 3600,
];

#[test]
fn a_live_run_opens_the_incidents_a_backtest_finds() {
    live_equals_backtest(None);
}

#[test]
fn a_restart_between_waves_changes_nothing() {
    live_equals_backtest(Some(T0 + 9 * WEEK + 86_400 / 2));
}

#[test]
fn a_restart_inside_a_wave_changes_nothing() {
    live_equals_backtest(Some(BURSTS[1] + 25 * 60));
}

fn live_equals_backtest(restart_at: Option<i64>) {
    let posts = stream();
    let since = T0 + 8 * WEEK;
    let until = T0 + 10 * WEEK;

    let (alerting, templates) = config();
    let report =
        backtest(alerting, templates, posts.clone(), None, since, until).expect("backtest");
    let expected: Vec<(String, String, i64, u8)> = report
        .incidents
        .iter()
        .map(|i| (i.rule.clone(), i.topic.clone(), i.window_start, i.level))
        .collect();
    assert_eq!(
        expected.len(),
        2,
        "the two bursts, and nothing else: {expected:?}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let state = Arc::new(StateStore::open(&dir.path().join("state.db")).expect("state"));
    // Starts (or restarts) at `now` the way the daemon does: load incidents, rebuild
    // from the last 8 weeks of the index.
    let start = |now: i64| {
        let (alerting, templates) = config();
        let mut router = AlertRouter::new(
            alerting,
            templates,
            Some(state.clone()),
            Arc::new(Notify::new()),
            now,
        )
        .expect("router");
        let history = posts.iter().filter(|m| {
            m.fetched_at.timestamp() < now && m.fetched_at.timestamp() >= now - 8 * WEEK
        });
        router.rebuild(history, now);
        router
    };
    let mut router = start(since);
    // Commits every 30 s, seen by the router 3 s later; the clock ticks in between.
    let mut next = posts.partition_point(|m| m.fetched_at.timestamp() < since);
    let mut now = since;
    while now < until {
        now += 30;
        if restart_at.is_some_and(|r| now == r - r % 30 + 30) {
            drop(router);
            router = start(now);
        }
        let end = posts[next..].partition_point(|m| m.fetched_at.timestamp() < now - 3) + next;
        if end > next {
            router.observe(&posts[next..end], now);
            next = end;
        }
        router.tick(now);
    }

    let mut live: Vec<(String, String, i64, u8)> = state
        .list_incidents(None, 100)
        .expect("incidents")
        .into_iter()
        .map(|r| (r.rule_id, r.topic, r.window_start, r.level))
        .collect();
    live.sort_by_key(|i| i.2);
    assert_eq!(live, expected, "live run vs backtest");
    let resolved = state
        .list_incidents(Some("resolved"), 100)
        .expect("resolved");
    assert_eq!(resolved.len(), 2, "both waves ended in the live run too");
    // The same notifications, once each, restart or not.
    for i in &report.incidents {
        let planned: Vec<&str> = report
            .notifications
            .iter()
            .filter(|n| n.dedup_key == i.dedup_key)
            .map(|n| n.event.as_str())
            .collect();
        let stored = resolved
            .iter()
            .find(|r| r.window_start == i.window_start)
            .expect("stored incident");
        let sent: Vec<String> = state
            .notifications(stored.id)
            .expect("notifications")
            .into_iter()
            .map(|n| n.event)
            .collect();
        assert_eq!(sent, planned, "notifications of {}", i.dedup_key);
        assert_eq!(sent.iter().filter(|e| *e == "opened").count(), 1);
    }
}
