//! What the statistical tests share: the default spike settings on 5-minute steps and
//! a mention by author `n`.

use lauscher_alerts::SpikeParams;
use lauscher_config::CountUnit;
use lauscher_model::MentionSummary;

/// The evaluation step, seconds.
pub const STEP: i64 = 300;
/// 2026-01-05, a Monday.
pub const T0: i64 = 1_767_571_200;

/// A rule's defaults: a 60-minute window on 5-minute steps, one page per 90 days.
pub fn params() -> SpikeParams {
    SpikeParams {
        step: STEP,
        window_steps: 12,
        lateness: 1800,
        warmup: 6 * 3600,
        min_count: 5,
        min_ratio: 3.0,
        alpha: 1.0 / (90.0 * 96.0),
        unit: CountUnit::Authors,
        cusum: false,
        budget_hours: 90.0 * 24.0,
        kappa: 32.0,
        tz: chrono_tz::UTC,
    }
}

/// A negative complaint by `author{n}` at `t`, from source `a` or `b`.
pub fn mention(n: u64, t: i64) -> MentionSummary {
    MentionSummary {
        source: if n.is_multiple_of(2) {
            "a".into()
        } else {
            "b".into()
        },
        author_key: format!("author{n}"),
        ..lauscher_testkit::summary(n, t)
    }
}
