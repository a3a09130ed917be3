//! Volume per interval, split by sentiment label, with the average score.
//!
//! The index tallies a fine UTC grid (5 or 15 minutes: every real zone's offset is a
//! multiple of 15 minutes; an hour for whole-hour zones) and the grid is folded into
//! the user's local intervals here: local midnights, DST days of 23 or 25 hours, weeks
//! from Monday. Intervals without mentions are present with zeros. A scan part holds
//! about 40 bytes per grid bucket.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use lauscher_index::{Buckets, MentionIndex};
use lauscher_query::RuleSet;
use rayon::prelude::*;
use serde::Serialize;

use crate::{Filters, InsightsError, LabelCounts, MAX_BUCKETS, Search};

/// A timeline interval: minutes that divide a day, or a week.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    minutes: i64,
}

impl Interval {
    /// The length in minutes.
    pub fn minutes(self) -> i64 {
        self.minutes
    }

    fn is_week(self) -> bool {
        self.minutes == 7 * 1440
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.minutes;
        if m % 10_080 == 0 {
            write!(f, "{}w", m / 10_080)
        } else if m % 1440 == 0 {
            write!(f, "{}d", m / 1440)
        } else if m % 60 == 0 {
            write!(f, "{}h", m / 60)
        } else {
            write!(f, "{m}m")
        }
    }
}

impl FromStr for Interval {
    type Err = InsightsError;
    fn from_str(s: &str) -> Result<Interval, InsightsError> {
        let bad = || {
            InsightsError::Invalid(format!(
                "invalid interval {s:?}: expected 5m, 10m, 15m, 30m, 1h, 2h, 3h, 4h, 6h, 8h, 12h, 1d or 1w (minutes that divide a day, or a week)"
            ))
        };
        let s = s.trim();
        let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
        let n: i64 = n.parse().map_err(|_| bad())?;
        let per = match unit {
            "m" => 1,
            "h" => 60,
            "d" => 1440,
            "w" => 10_080,
            _ => return Err(bad()),
        };
        let minutes = n.checked_mul(per).ok_or_else(bad)?;
        let ok = minutes == 10_080 || (minutes >= 5 && minutes % 5 == 0 && 1440 % minutes == 0);
        if !ok {
            return Err(bad());
        }
        Ok(Interval { minutes })
    }
}

/// One interval of a series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bucket {
    /// Start, local time (RFC 3339 with offset).
    pub start: String,
    /// End (exclusive), local time.
    pub end: String,
    /// Mentions.
    pub total: u64,
    /// By label.
    #[serde(flatten)]
    pub labels: LabelCounts,
    /// Mean sentiment score; `None` without mentions.
    pub avg_score: Option<f64>,
    /// The mentions behind it.
    pub search: Search,
}

/// The buckets of one topic (or of all mentions).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Series {
    /// The topic; `None`: every mention the filters pass.
    pub topic: Option<String>,
    /// Sums over the window.
    pub total: u64,
    /// By label, over the window.
    #[serde(flatten)]
    pub labels: LabelCounts,
    /// The intervals, oldest first, empty ones included.
    pub buckets: Vec<Bucket>,
}

/// A timeline view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timeline {
    /// The interval.
    pub interval: String,
    /// The time zone of the buckets.
    pub tz: String,
    /// One series per topic.
    pub series: Vec<Series>,
}

/// Local interval boundaries (UTC instants) covering `[since, until)`.
fn boundaries(
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    interval: Interval,
    tz: Tz,
) -> Vec<DateTime<Utc>> {
    let local_midnight = |d: chrono::NaiveDate| -> DateTime<Utc> {
        // Midnight may not exist (a DST jump at 00:00): the first instant of the day.
        (0..=120)
            .step_by(15)
            .find_map(|m| {
                tz.from_local_datetime(&d.and_time(NaiveTime::MIN + Duration::minutes(m)))
                    .earliest()
            })
            .map_or_else(
                || d.and_time(NaiveTime::MIN).and_utc(),
                |t| t.with_timezone(&Utc),
            )
    };
    let mut day = since.with_timezone(&tz).date_naive();
    if interval.is_week() {
        day -= Duration::days(day.weekday().num_days_from_monday() as i64);
    }
    let mut out = Vec::new();
    loop {
        let start = local_midnight(day);
        let next_day = if interval.is_week() {
            day + Duration::days(7)
        } else {
            day + Duration::days(1)
        };
        let end = local_midnight(next_day);
        let mut t = start;
        while t < end {
            if t >= until {
                out.push(t);
                return out;
            }
            out.push(t);
            t += Duration::minutes(interval.minutes());
        }
        day = next_day;
    }
}

/// Whether `tz`'s UTC offset is a whole number of hours at both ends of the window
/// (and so, for real zones, in between: DST moves by whole hours).
fn whole_hour_offsets(tz: Tz, since: DateTime<Utc>, until: DateTime<Utc>) -> bool {
    use chrono::Offset;
    [since, until].iter().all(|t| {
        t.with_timezone(&tz)
            .offset()
            .fix()
            .local_minus_utc()
            .rem_euclid(3600)
            == 0
    })
}

/// Volume per `interval` in `tz` for each of `filters.topics` (or all mentions).
pub fn timeline(
    index: &MentionIndex,
    rules: &RuleSet,
    filters: &Filters,
    interval: Interval,
    tz: Tz,
) -> Result<Timeline, InsightsError> {
    let span = (filters.until - filters.since).num_minutes().max(1);
    let buckets = (span + interval.minutes() - 1) / interval.minutes();
    if buckets > MAX_BUCKETS {
        return Err(InsightsError::TooManyBuckets {
            buckets,
            interval: interval.to_string(),
            max: MAX_BUCKETS,
        });
    }
    // The fine UTC grid the local intervals are folded from.
    let base = if interval.minutes() % 15 == 0 { 15 } else { 5 };
    // Whole-hour zones (most) can use an hourly grid for hourly and longer intervals:
    // fewer buckets to merge and return.
    let whole_hours = whole_hour_offsets(tz, filters.since, filters.until);
    let base = if (interval.minutes() % 60 == 0 && whole_hours) || span / base > 60_000 {
        60
    } else {
        base
    };
    let edges = boundaries(filters.since, filters.until, interval, tz);
    let topics: Vec<Option<&str>> = if filters.topics.is_empty() {
        vec![None]
    } else {
        filters.topics.iter().map(|t| Some(t.as_str())).collect()
    };
    // The grid starts at `since` rounded down to a multiple of `base` since the epoch,
    // so its buckets nest in the local intervals.
    let step = Duration::minutes(base);
    let origin_secs = filters.since.timestamp() - filters.since.timestamp().rem_euclid(base * 60);
    let origin = DateTime::from_timestamp(origin_secs, 0).unwrap_or(filters.since);
    let grid = Buckets {
        origin,
        step,
        count: usize::try_from(
            ((filters.until - origin).num_seconds() + base * 60 - 1) / (base * 60),
        )
        .unwrap_or(0),
    };
    // Topics are tallied in parallel too: small segments are one scan part each.
    let series_of = |topic: Option<&str>| -> Result<Series, InsightsError> {
        let window = filters.search(topic, filters.since, filters.until);
        let tallies = index.label_tally(&window.request(), Some(rules), grid, false)?;
        // Per local interval: labels, score sum.
        let n = edges.len().saturating_sub(1);
        let mut acc = vec![(LabelCounts::default(), 0.0f64); n];
        // Grid buckets arrive in time order: walk the edges along with them.
        let mut i = 0;
        for (g, t) in tallies.iter().enumerate() {
            if t.total() == 0 {
                continue;
            }
            let start = origin + Duration::minutes(base * g as i64);
            while i < edges.len() && edges[i] <= start {
                i += 1;
            }
            // The interval holding the grid bucket: the last edge at or before it.
            if i == 0 || i > n {
                continue;
            }
            let slot = &mut acc[i - 1];
            slot.0.add(&LabelCounts::from(t));
            slot.1 += t.score_sum;
        }
        let mut total = LabelCounts::default();
        let mut out = Vec::with_capacity(n);
        for (i, (labels, sum)) in acc.into_iter().enumerate() {
            // The first and last intervals are clipped to the window.
            let (start, end) = (edges[i].max(filters.since), edges[i + 1].min(filters.until));
            if start >= end {
                continue;
            }
            total.add(&labels);
            out.push(Bucket {
                start: start.with_timezone(&tz).to_rfc3339(),
                end: end.with_timezone(&tz).to_rfc3339(),
                total: labels.total(),
                labels,
                avg_score: (labels.total() > 0).then(|| sum / labels.total() as f64),
                search: filters.search(topic, start, end),
            });
        }
        Ok(Series {
            topic: topic.map(str::to_owned),
            total: total.total(),
            labels: total,
            buckets: out,
        })
    };
    let series = topics
        .into_par_iter()
        .map(series_of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Timeline {
        interval: interval.to_string(),
        tz: tz.name().to_owned(),
        series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_and_reject() {
        assert_eq!("1h".parse::<Interval>().map(|i| i.minutes()).ok(), Some(60));
        assert_eq!(
            "1w".parse::<Interval>().map(|i| i.minutes()).ok(),
            Some(10_080)
        );
        for bad in [
            "7m",
            "5h",
            "2d",
            "1y",
            "",
            "h",
            "0m",
            "9999999999999999999w",
            "999999999999999w",
        ] {
            assert!(bad.parse::<Interval>().is_err(), "{bad}");
        }
    }

    #[test]
    fn local_days_follow_daylight_saving() {
        let tz: Tz = "Europe/Berlin".parse().expect("tz");
        // 2026-03-29: clocks go forward, the day has 23 hours.
        let since = tz
            .with_ymd_and_hms(2026, 3, 28, 0, 0, 0)
            .single()
            .expect("t")
            .with_timezone(&Utc);
        let until = tz
            .with_ymd_and_hms(2026, 3, 31, 0, 0, 0)
            .single()
            .expect("t")
            .with_timezone(&Utc);
        let days = boundaries(since, until, "1d".parse().expect("1d"), tz);
        let hours: Vec<i64> = days.windows(2).map(|w| (w[1] - w[0]).num_hours()).collect();
        assert_eq!(hours, [24, 23, 24]);
        let hourly = boundaries(since, until, "1h".parse().expect("1h"), tz);
        assert_eq!(hourly.len() - 1, 24 + 23 + 24);
    }
}
