//! Business-hours calendars: how much of a span counts toward an SLA clock, and when a
//! clock that started at some instant runs out.
//!
//! A calendar is a set of local open intervals per weekday (several a day: a lunch break
//! is a gap) minus holidays, in one IANA time zone, or [`Calendar::Always`]. Local times
//! become instants through the zone, day by day, so the days of a DST change simply have
//! 23 or 25 hours: an interval starting in the skipped hour (spring) starts at the end of
//! the gap, an ambiguous start (autumn) takes the earlier instant and an ambiguous end the
//! later one, so an open interval never loses or gains time it did not have on the clock
//! on the wall.
//!
//! Cost: one walk over the days between the two instants, a few intervals each; clocks
//! are minutes to days long, so microseconds.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use lauscher_config::CalendarConfig;

/// The longest span a clock is walked over, in days: a calendar open an hour a year still
/// ends; a target beyond this is never due.
const MAX_DAYS: i64 = 3 * 366;

/// When SLA clocks run.
#[derive(Clone, Debug)]
pub enum Calendar {
    /// Every second counts.
    Always,
    /// Open hours per weekday in a zone, holidays closed.
    Hours {
        /// The zone the hours are local to.
        tz: Tz,
        /// Minutes after local midnight, `[start, end)`, sorted, per weekday (Monday 0).
        week: [Vec<(u32, u32)>; 7],
        /// Closed days.
        holidays: BTreeSet<NaiveDate>,
    },
}

impl Calendar {
    /// Builds the calendar a config describes.
    pub fn of(c: &CalendarConfig) -> Calendar {
        let mut week: [Vec<(u32, u32)>; 7] = Default::default();
        for (day, hours) in &c.week {
            let slot = &mut week[*day as usize];
            slot.extend(hours.iter().map(|h| (h.start.minute, h.end.minute)));
            slot.sort_unstable();
        }
        let holidays = c
            .holidays
            .iter()
            .filter_map(|d| NaiveDate::from_ymd_opt(d.year, d.month, d.day))
            .collect();
        Calendar::Hours {
            tz: c.timezone.0,
            week,
            holidays,
        }
    }

    /// The open intervals of the local day `date`, as unix seconds.
    fn day(tz: &Tz, week: &[Vec<(u32, u32)>; 7], date: NaiveDate) -> Vec<(i64, i64)> {
        let slots = &week[date.weekday().num_days_from_monday() as usize];
        slots
            .iter()
            .map(|&(a, b)| (instant(tz, date, a, true), instant(tz, date, b, false)))
            .filter(|(a, b)| a < b)
            .collect()
    }

    /// Seconds that count between `from` and `to` (0 when `to <= from`).
    pub fn seconds_between(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        match self {
            Calendar::Always => to - from,
            Calendar::Hours { tz, week, holidays } => {
                let mut date = local_date(tz, from) - Duration::days(1);
                let end = local_date(tz, to) + Duration::days(1);
                let mut total = 0;
                while date <= end {
                    if !holidays.contains(&date) {
                        for (a, b) in Calendar::day(tz, week, date) {
                            total += (b.min(to) - a.max(from)).max(0);
                        }
                    }
                    date += Duration::days(1);
                }
                total
            }
        }
    }

    /// The instant at which `secs` counting seconds have passed since `from`; `None` when
    /// the calendar is not open that long within three years.
    pub fn add(&self, from: i64, secs: i64) -> Option<i64> {
        match self {
            Calendar::Always => Some(from + secs),
            Calendar::Hours { tz, week, holidays } => {
                let mut left = secs.max(0);
                let mut date = local_date(tz, from) - Duration::days(1);
                for _ in 0..MAX_DAYS {
                    if !holidays.contains(&date) {
                        for (a, b) in Calendar::day(tz, week, date) {
                            let a = a.max(from);
                            if b <= a {
                                continue;
                            }
                            if b - a >= left {
                                return Some(a + left);
                            }
                            left -= b - a;
                        }
                    }
                    date += Duration::days(1);
                }
                None
            }
        }
    }
}

fn local_date(tz: &Tz, at: i64) -> NaiveDate {
    tz.timestamp_opt(at, 0)
        .single()
        .map_or_else(|| NaiveDate::MIN, |t| t.date_naive())
}

/// The instant of local `minute` on `date` (1440: the next midnight). In a DST gap, the
/// end of the gap; when ambiguous, the earlier instant for a `start`, else the later.
fn instant(tz: &Tz, date: NaiveDate, minute: u32, start: bool) -> i64 {
    let (date, minute) = if minute >= 1440 {
        (date + Duration::days(1), minute - 1440)
    } else {
        (date, minute)
    };
    let local = date
        .and_hms_opt(minute / 60, minute % 60, 0)
        .unwrap_or_else(|| NaiveDateTime::new(date, chrono::NaiveTime::MIN));
    let mut probe = local;
    for _ in 0..=180 {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) => return t.timestamp(),
            LocalResult::Ambiguous(early, late) => {
                return if start { early } else { late }.timestamp();
            }
            // In a gap: the first local minute after it.
            LocalResult::None => probe += Duration::minutes(1),
        }
    }
    local.and_utc().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin(week: &[(usize, &[(u32, u32)])], holidays: &[(i32, u32, u32)]) -> Calendar {
        let mut w: [Vec<(u32, u32)>; 7] = Default::default();
        for (d, hours) in week {
            w[*d] = hours.to_vec();
        }
        Calendar::Hours {
            tz: chrono_tz::Europe::Berlin,
            week: w,
            holidays: holidays
                .iter()
                .filter_map(|&(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
                .collect(),
        }
    }

    fn t(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.timestamp())
            .unwrap_or(0)
    }

    #[test]
    fn always_counts_every_second() {
        assert_eq!(Calendar::Always.add(100, 3600), Some(3700));
        assert_eq!(Calendar::Always.seconds_between(100, 3700), 3600);
    }

    #[test]
    fn hootsuite_friday_evening_post_is_due_monday_morning() {
        // Weekdays 09:00-17:00; a post Friday 16:45 with a 30-minute target has 15
        // minutes on Friday and 15 on Monday (Hootsuite's own example).
        let weekdays: &[(u32, u32)] = &[(540, 1020)];
        let cal = berlin(
            &[
                (0, weekdays),
                (1, weekdays),
                (2, weekdays),
                (3, weekdays),
                (4, weekdays),
            ],
            &[],
        );
        let due = cal.add(t("2026-11-27T16:45:00+01:00"), 1800);
        assert_eq!(due, Some(t("2026-11-30T09:15:00+01:00")));
    }

    #[test]
    fn lunch_break_and_holiday_do_not_count() {
        let day: &[(u32, u32)] = &[(480, 720), (750, 1200)];
        let cal = berlin(&[(3, day), (4, day)], &[(2026, 12, 24)]);
        // Thursday 2026-12-24 is a holiday; Friday 11:30 + 1h = 30 min before lunch,
        // 30 after it: 13:00.
        assert_eq!(
            cal.add(t("2026-12-24T10:00:00+01:00"), 3600),
            Some(t("2026-12-25T09:00:00+01:00"))
        );
        assert_eq!(
            cal.add(t("2026-12-25T11:30:00+01:00"), 3600),
            Some(t("2026-12-25T13:00:00+01:00"))
        );
        assert_eq!(
            cal.seconds_between(
                t("2026-12-25T11:30:00+01:00"),
                t("2026-12-25T13:00:00+01:00")
            ),
            3600
        );
    }

    #[test]
    fn dst_days_have_23_and_25_hours() {
        let all_day: &[(u32, u32)] = &[(0, 1440)];
        let cal = berlin(&[(6, all_day)], &[]);
        // Sunday 2026-03-29: clocks skip 02:00-03:00.
        assert_eq!(
            cal.seconds_between(t("2026-03-28T00:00:00Z"), t("2026-03-30T12:00:00Z")),
            23 * 3600
        );
        // Sunday 2026-10-25: 02:00-03:00 happens twice.
        assert_eq!(
            cal.seconds_between(t("2026-10-24T00:00:00Z"), t("2026-10-26T12:00:00Z")),
            25 * 3600
        );
        // An interval starting in the skipped hour starts at its end.
        let gap: &[(u32, u32)] = &[(150, 240)];
        let cal = berlin(&[(6, gap)], &[]);
        assert_eq!(
            cal.add(t("2026-03-29T00:00:00+01:00"), 60),
            Some(t("2026-03-29T03:01:00+02:00"))
        );
        // Business hours across the change stay wall-clock hours: Saturday 17:30 plus
        // one hour of a 09:00-18:00 calendar is Monday 09:30, an hour later in UTC.
        let nine_to_six: &[(u32, u32)] = &[(540, 1080)];
        let cal = berlin(&[(0, nine_to_six), (5, nine_to_six)], &[]);
        assert_eq!(
            cal.add(t("2026-03-28T17:30:00+01:00"), 3600),
            Some(t("2026-03-30T09:30:00+02:00"))
        );
    }

    #[test]
    fn a_calendar_never_open_is_never_due() {
        let cal = berlin(&[], &[]);
        assert_eq!(cal.add(0, 60), None);
    }
}
