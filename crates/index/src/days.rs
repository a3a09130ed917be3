//! Phrase counts per day, kept per segment and filter, so that a phrase tally over weeks
//! reads the mentions of a few days instead of all of them.
//!
//! The complaints view counts a few hundred candidate phrases in all of a topic's
//! mentions of the last ten weeks at every call (at 10M mentions: 2.6M mentions and
//! about 50M phrase values, half of the view's time), and again at the next call, whose
//! window ends only seconds later. A segment never changes (a delete changes its delete
//! count, which is part of the key), so how many of its mentions matching a filter have
//! a phrase on each UTC day holds until the segment is merged away. A tally of selected
//! phrases in buckets of a day or longer ([`DayPlan`]) takes every day lying wholly
//! inside one bucket from these counts. The days a bucket boundary or the window's end
//! cuts (the complaints view's ten weekly buckets ending "now" cut 11 of their 70 days)
//! are counted per hour once ([`DayHours`], kept per segment, filter and day: a window
//! ending "now" moves its boundaries within the same days all day), and the phrases are
//! read only of the hours a boundary cuts (the runs of documents holding those hours,
//! [`crate::spans::TimeSpans`], the others skipped by their time). The answer is the same as the
//! scan's, to the mention: the kept counts are exact, and the hours they do not settle
//! are counted as before.
//!
//! Each phrase's counts cover a range of days ([`Days`]). A tally first counts, per
//! segment, the phrases whose range lacks days it needs, over the days they lack (one
//! scan of the segment for all of them): a phrase asked for the first time costs the
//! scan of the window it was asked for, as without kept counts, and a window moving into
//! a new day costs the scan of that day. Measured at 10M mentions (`cargo bench --bench
//! insights`, README): the complaints view 447 → 70 ms for a week ending at midnight,
//! 408 → 165 ms for one ending "now"; with the runs of cut days and
//! [`crate::window`]'s time windows, 41 and 113 ms; with hour counts of the cut days,
//! the one ending "now" about 70–80 ms.
//!
//! Which phrases to count is kept too: each segment's own top lists per filter and
//! buckets ([`crate::tally`]'s `phrase_candidates`), which the complaints view asks for
//! over weeks ending at the next midnight, so that its candidates, and with them the
//! phrases it counts, stay the same all day.
//!
//! Cost: 12 bytes per day a phrase occurs on, per segment and filter, 16 bytes per hour
//! of a cut day it occurs in (the latest 64 cut days per segment and filter), and about 40
//! bytes per listed phrase per segment and bucket for the top lists; each cache drops
//! its least recently used entries past [`CACHE_BYTES`], and the entries of segments
//! merged away.

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use tantivy::index::SegmentId;

use crate::hours::HourCount;

/// Nanoseconds per day.
pub(crate) const DAY_NANOS: i64 = 86_400 * 1_000_000_000;

/// Nanoseconds per hour.
pub(crate) const HOUR_NANOS: i64 = 3_600 * 1_000_000_000;

/// The day (since 1970-01-01, UTC) of a time in nanoseconds since the epoch; every time
/// an `i64` of nanoseconds holds (±292 years) has one.
pub(crate) fn day_of(nanos: i64) -> i32 {
    let day = nanos.div_euclid(DAY_NANOS);
    i32::try_from(day).unwrap_or(if day < 0 { i32::MIN } else { i32::MAX })
}

/// The start of day `day` (days since 1970-01-01, UTC).
pub(crate) fn day_start(day: i32) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(i64::from(day) * 86_400, 0)
}

/// Kept values above this many bytes evict the least recently used entries.
pub(crate) const CACHE_BYTES: usize = 64 << 20;

/// Days between counted days and needed ones that are counted too, so that the ranges
/// join.
const MAX_GAP_DAYS: i32 = 7;

/// A window needs at least this many days lying wholly inside one bucket for kept
/// counts to be used: below it the scan of the few days costs as much.
const MIN_KEPT_DAYS: usize = 4;

/// One day's count: 12 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DayCount {
    /// Days since 1970-01-01 (UTC).
    pub(crate) day: i32,
    /// Mentions that day.
    pub(crate) count: u32,
    /// The earliest of them, in seconds after the day's start (publication times are
    /// kept to the second).
    pub(crate) first_second: u32,
}

impl DayCount {
    /// A day's count with its earliest time (nanoseconds since the epoch).
    pub(crate) fn new(day: i32, count: u32, first: i64) -> Self {
        let second = (first - i64::from(day) * DAY_NANOS) / 1_000_000_000;
        DayCount {
            day,
            count,
            first_second: u32::try_from(second.clamp(0, 86_399)).unwrap_or(0),
        }
    }

    /// The earliest time counted (nanoseconds since the epoch).
    pub(crate) fn first(&self) -> i64 {
        i64::from(self.day) * DAY_NANOS + i64::from(self.first_second) * 1_000_000_000
    }
}

/// A count kept per day, or per part of a day, placed by its UTC day.
pub(crate) trait Dated: Copy {
    /// Days since 1970-01-01 (UTC).
    fn day(&self) -> i32;
}

impl Dated for DayCount {
    fn day(&self) -> i32 {
        self.day
    }
}

/// Counts over the days `from..=to` (days without mentions are left out), per day
/// ([`DayCount`]) or finer ([`crate::hours::HourCount`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Days<C = DayCount> {
    pub(crate) from: i32,
    pub(crate) to: i32,
    /// Ascending in time.
    pub(crate) counts: Vec<C>,
}

impl<C: Dated> Days<C> {
    /// Whether the days `from..=to` are counted.
    pub(crate) fn covers(&self, (from, to): (i32, i32)) -> bool {
        self.from <= from && to <= self.to
    }

    /// The days of `need` these counts lack, as the smallest range holding them, reaching
    /// back to the counted days across a gap of up to [`MAX_GAP_DAYS`] so that the two
    /// join into one range (the day a window's boundary cuts lies between two tallies'
    /// days: without it, their ranges would replace each other at every call).
    pub(crate) fn lacking(this: Option<&Days<C>>, need: (i32, i32)) -> Option<(i32, i32)> {
        match this {
            None => Some(need),
            Some(d) if d.covers(need) => None,
            Some(d) => {
                let from = if need.0 > d.to && need.0 - d.to <= MAX_GAP_DAYS {
                    d.to + 1
                } else {
                    need.0
                };
                let to = if need.1 < d.from && d.from - need.1 <= MAX_GAP_DAYS {
                    d.from - 1
                } else {
                    need.1
                };
                let before = (from < d.from).then_some((from, to.min(d.from - 1)));
                let after = (to > d.to).then_some((from.max(d.to + 1), to));
                match (before, after) {
                    (Some(b), Some(a)) => Some((b.0, a.1)),
                    (b, a) => b.or(a),
                }
            }
        }
    }

    /// These counts and `newer`'s (of the same segment and filter, over other days): one
    /// range where the two meet or overlap, else `newer` alone.
    pub(crate) fn join(&self, newer: Days<C>) -> Days<C> {
        if newer.from > self.to.saturating_add(1) || self.from > newer.to.saturating_add(1) {
            return newer;
        }
        let mut counts: Vec<C> = self
            .counts
            .iter()
            .filter(|c| c.day() < newer.from || c.day() > newer.to)
            .copied()
            .chain(newer.counts)
            .collect();
        // Stable: a day's counts all come from one side, in time order.
        counts.sort_by_key(|c| c.day());
        Days {
            from: self.from.min(newer.from),
            to: self.to.max(newer.to),
            counts,
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.counts.len() * std::mem::size_of::<C>()
    }
}

/// One phrase's counts in one segment under one filter.
#[derive(Clone, Debug)]
pub(crate) struct PhraseDays {
    /// Its ordinal in the segment's `phrases` column (`u64::MAX`: the segment lacks it).
    pub(crate) ord: u64,
    pub(crate) days: Days,
}

/// One cut day's counts per hour in one segment under one filter: the days a window's
/// bucket boundaries cut stay the same all day for a window ending "now" (its
/// boundaries move with it, by the hour), so their hours wholly inside a bucket are
/// taken from these counts and only the hours a boundary cuts are scanned.
#[derive(Clone, Debug, Default)]
pub(crate) struct DayHours {
    /// Matching mentions per hour.
    pub(crate) docs: [u32; 24],
    /// The phrases counted so far.
    pub(crate) phrases: FxHashMap<String, Arc<PhraseHours>>,
}

/// One phrase's counts per hour of one cut day.
#[derive(Clone, Debug)]
pub(crate) struct PhraseHours {
    /// (hour of the day, mentions, the earliest in nanoseconds since the epoch), hours
    /// without mentions left out.
    pub(crate) hours: Vec<(u8, u32, i64)>,
}

impl DayHours {
    fn bytes(&self) -> usize {
        std::mem::size_of::<DayHours>()
            + self
                .phrases
                .iter()
                .map(|(k, p)| k.len() + 64 + p.hours.len() * 16)
                .sum::<usize>()
    }
}

/// Cut days kept per segment and filter at most: the latest are kept (a window ending
/// "now" cuts about one per bucket, the same all day).
const MAX_CUT_DAYS: usize = 64;

/// One segment's counts under one filter.
#[derive(Clone, Debug, Default)]
pub(crate) struct SegmentDays {
    /// Matching mentions per day (their earliest time unused).
    pub(crate) docs: Option<Arc<Days>>,
    /// The phrases counted so far.
    pub(crate) phrases: FxHashMap<String, Arc<PhraseDays>>,
    /// Matching mentions by label and their scores per hour ([`crate::hours`]).
    pub(crate) labels: Option<Arc<Days<HourCount>>>,
    /// The cut days counted per hour, by day.
    pub(crate) cut: FxHashMap<i32, Arc<DayHours>>,
}

impl SegmentDays {
    /// Memory held, roughly.
    pub(crate) fn bytes(&self) -> usize {
        self.docs.as_ref().map_or(0, |d| d.bytes())
            + self.labels.as_ref().map_or(0, |d| d.bytes())
            + self.cut.values().map(|d| 16 + d.bytes()).sum::<usize>()
            + self
                .phrases
                .iter()
                .map(|(k, p)| k.len() + 48 + p.days.bytes())
                .sum::<usize>()
    }

    /// These counts joined with `fresh`'s (of the same segment and filter).
    pub(crate) fn with(&self, fresh: SegmentDays) -> SegmentDays {
        let mut out = self.clone();
        if let Some(docs) = fresh.docs {
            let docs = Arc::unwrap_or_clone(docs);
            out.docs = Some(Arc::new(match &self.docs {
                Some(old) => old.join(docs),
                None => docs,
            }));
        }
        for (day, hours) in fresh.cut {
            let hours = match out.cut.get(&day) {
                // The same segment's mentions that day: the same docs, more phrases.
                Some(old) => {
                    let mut joined = DayHours::clone(old);
                    joined.phrases.extend(hours.phrases.clone());
                    Arc::new(joined)
                }
                None => hours,
            };
            out.cut.insert(day, hours);
        }
        if out.cut.len() > MAX_CUT_DAYS {
            let mut days: Vec<i32> = out.cut.keys().copied().collect();
            days.sort_unstable();
            for day in &days[..days.len() - MAX_CUT_DAYS] {
                out.cut.remove(day);
            }
        }
        if let Some(labels) = fresh.labels {
            let labels = Arc::unwrap_or_clone(labels);
            out.labels = Some(Arc::new(match &self.labels {
                Some(old) => old.join(labels),
                None => labels,
            }));
        }
        for (term, p) in fresh.phrases {
            let p = Arc::unwrap_or_clone(p);
            let days = match self.phrases.get(&term) {
                Some(old) => old.days.join(p.days),
                None => p.days,
            };
            out.phrases
                .insert(term, Arc::new(PhraseDays { ord: p.ord, days }));
        }
        out
    }
}

/// What a segment's kept values are looked up by: the segment as of its deletes, and a
/// filter (for day counts the filtered query without its time range, as printed).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DayKey {
    pub(crate) segment: SegmentId,
    pub(crate) deleted: u32,
    pub(crate) filter: Arc<str>,
}

impl DayKey {
    /// The keys of `searcher`'s segments under `filter`, with the segments' ids.
    pub(crate) fn of_segments(
        searcher: &tantivy::Searcher,
        filter: &Arc<str>,
    ) -> (Vec<DayKey>, Vec<SegmentId>) {
        searcher
            .segment_readers()
            .iter()
            .map(|r| {
                let key = DayKey {
                    segment: r.segment_id(),
                    deleted: r.num_deleted_docs(),
                    filter: filter.clone(),
                };
                (key, r.segment_id())
            })
            .unzip()
    }
}

/// Values kept per segment and filter by one open index, up to [`CACHE_BYTES`].
pub(crate) struct SegmentCache<V> {
    inner: Mutex<Kept<V>>,
}

struct Kept<V> {
    /// Values with their size and last use.
    entries: FxHashMap<DayKey, (Arc<V>, usize, u64)>,
    clock: u64,
    bytes: usize,
}

impl<V> Kept<V> {
    /// Drops the entries of segments not in `live`.
    fn retain_live(&mut self, live: &[SegmentId]) {
        let Kept { entries, bytes, .. } = self;
        entries.retain(|k, (_, size, _)| {
            let keep = live.contains(&k.segment);
            if !keep {
                *bytes = bytes.saturating_sub(*size);
            }
            keep
        });
    }
}

impl<V> Default for SegmentCache<V> {
    fn default() -> Self {
        SegmentCache {
            inner: Mutex::new(Kept {
                entries: FxHashMap::default(),
                clock: 0,
                bytes: 0,
            }),
        }
    }
}

impl<V> SegmentCache<V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Kept<V>> {
        // A panic while inserting left at worst a stale entry: values are never partial.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops the entries of segments not in `live` (what a reload left: a value that
    /// holds a segment's column keeps its files mapped).
    pub(crate) fn retain_live(&self, live: &[SegmentId]) {
        self.lock().retain_live(live);
    }

    /// The value kept for `key`.
    pub(crate) fn get(&self, key: &DayKey) -> Option<Arc<V>> {
        let mut kept = self.lock();
        kept.clock += 1;
        let now = kept.clock;
        let (value, _, used) = kept.entries.get_mut(key)?;
        *used = now;
        Some(value.clone())
    }

    /// Keeps `value` (about `size` bytes) for `key`, drops the entries of segments not in
    /// `live` (where given), then the least recently used ones past [`CACHE_BYTES`].
    pub(crate) fn put(&self, key: DayKey, value: Arc<V>, size: usize, live: Option<&[SegmentId]>) {
        let mut kept = self.lock();
        kept.clock += 1;
        let now = kept.clock;
        if let Some((_, old, _)) = kept.entries.insert(key, (value, size, now)) {
            kept.bytes = kept.bytes.saturating_sub(old);
        }
        kept.bytes += size;
        if let Some(live) = live {
            kept.retain_live(live);
        }
        while kept.bytes > CACHE_BYTES && kept.entries.len() > 1 {
            let Some(oldest) = kept
                .entries
                .iter()
                .min_by_key(|(_, (_, _, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((_, size, _)) = kept.entries.remove(&oldest) {
                kept.bytes = kept.bytes.saturating_sub(size);
            }
        }
    }
}

/// Which days of a window a tally takes from kept counts, which hours of the days a
/// boundary cuts it takes from kept hour counts ([`DayHours`]), and which hours it scans.
#[derive(Debug)]
pub(crate) struct DayPlan {
    first_day: i64,
    /// Per day from `first_day`: the bucket it lies wholly in, `u32::MAX` where the day
    /// is cut.
    bucket: Vec<u32>,
    /// Per day from `first_day`, of a cut day: per hour, the bucket it lies wholly in,
    /// `u32::MAX` where the hour is scanned.
    hours: Vec<[u32; 24]>,
    /// The hours to scan, as `[start, end)` in seconds, neighbours joined.
    pub(crate) scans: Vec<(i64, i64)>,
    /// The first and last day taken from kept counts.
    pub(crate) kept: (i32, i32),
}

impl DayPlan {
    /// The plan for counting `[start, end)` (nanoseconds) into buckets of `step`
    /// nanoseconds, `bucket_of` giving a time's bucket. `None` where kept counts would
    /// not pay: buckets shorter than a day, or fewer than [`MIN_KEPT_DAYS`] whole days.
    pub(crate) fn new(
        start: i64,
        end: i64,
        step: u64,
        bucket_of: impl Fn(i64) -> Option<usize>,
    ) -> Option<DayPlan> {
        if step < DAY_NANOS as u64 || end <= start {
            return None;
        }
        let first_day = start.div_euclid(DAY_NANOS);
        let last_day = (end - 1).div_euclid(DAY_NANOS);
        // Days past i32 are not kept (nor are they dates anyone counts).
        i32::try_from(first_day).ok()?;
        i32::try_from(last_day).ok()?;
        let days = usize::try_from(last_day - first_day + 1).ok()?;
        let mut plan = DayPlan {
            first_day,
            bucket: Vec::with_capacity(days),
            hours: Vec::with_capacity(days),
            scans: Vec::new(),
            kept: (i32::MAX, i32::MIN),
        };
        let mut kept = 0;
        // The bucket `[t0, t1)` lies wholly in, inside the window.
        let whole = |t0: i64, t1: i64| match (bucket_of(t0), bucket_of(t1 - 1)) {
            (Some(a), Some(b)) if a == b && t0 >= start && t1 <= end => u32::try_from(a).ok(),
            _ => None,
        };
        for day in first_day..=last_day {
            let d0 = day * DAY_NANOS;
            let d1 = d0 + DAY_NANOS;
            let mut hours = [u32::MAX; 24];
            match whole(d0, d1) {
                Some(b) => {
                    kept += 1;
                    plan.bucket.push(b);
                    let day = i32::try_from(day).ok()?;
                    plan.kept = (plan.kept.0.min(day), plan.kept.1.max(day));
                }
                None => {
                    plan.bucket.push(u32::MAX);
                    for (h, slot) in hours.iter_mut().enumerate() {
                        let h0 = d0 + h as i64 * HOUR_NANOS;
                        if h0 + HOUR_NANOS <= start || h0 >= end {
                            // Outside the window: neither kept nor scanned.
                            continue;
                        }
                        if let Some(b) = whole(h0, h0 + HOUR_NANOS) {
                            *slot = b;
                            continue;
                        }
                        let (s0, s1) = (h0 / 1_000_000_000, (h0 + HOUR_NANOS) / 1_000_000_000);
                        match plan.scans.last_mut() {
                            Some(last) if last.1 == s0 => last.1 = s1,
                            _ => plan.scans.push((s0, s1)),
                        }
                    }
                }
            }
            plan.hours.push(hours);
        }
        (kept >= MIN_KEPT_DAYS).then_some(plan)
    }

    /// The bucket day `day` lies wholly in, if it is taken from kept counts.
    #[inline]
    pub(crate) fn bucket_of(&self, day: i32) -> Option<usize> {
        let i = usize::try_from(i64::from(day) - self.first_day).ok()?;
        let b = *self.bucket.get(i)?;
        (b != u32::MAX).then_some(b as usize)
    }

    /// The bucket hour `hour` (0–23) of cut day `day` lies wholly in, if it is taken
    /// from kept hour counts.
    pub(crate) fn hour_bucket_of(&self, day: i32, hour: usize) -> Option<usize> {
        let i = usize::try_from(i64::from(day) - self.first_day).ok()?;
        let b = *self.hours.get(i)?.get(hour)?;
        (b != u32::MAX).then_some(b as usize)
    }

    /// Whether a mention published at `nanos` is taken from kept counts (of its day or
    /// its hour), not scanned.
    #[inline]
    pub(crate) fn keeps(&self, nanos: i64) -> bool {
        let Ok(i) = usize::try_from(nanos.div_euclid(DAY_NANOS) - self.first_day) else {
            return false;
        };
        match self.bucket.get(i) {
            Some(&b) if b != u32::MAX => true,
            Some(_) => {
                let hour = (nanos.rem_euclid(DAY_NANOS) / HOUR_NANOS) as usize;
                self.hours[i].get(hour).is_some_and(|b| *b != u32::MAX)
            }
            None => false,
        }
    }

    /// The cut days with hours taken from kept hour counts.
    pub(crate) fn cut_days(&self) -> impl Iterator<Item = i32> + '_ {
        self.bucket
            .iter()
            .zip(&self.hours)
            .zip(self.first_day..)
            .filter(|((b, hours), _)| **b == u32::MAX && hours.iter().any(|h| *h != u32::MAX))
            .filter_map(|(_, day)| i32::try_from(day).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000_000;

    #[test]
    fn a_plan_keeps_whole_days_inside_a_bucket_and_scans_the_cut_ones() {
        // Two buckets of three days from day 10, 06:30: days 10 (cut by the start), 13
        // (cut between the buckets) and 16 (cut by the end) are cut; of them, the hours
        // wholly inside a bucket are kept, the 06:00 hours scanned.
        let start = 10 * DAY_NANOS + 6 * H + H / 2;
        let step = 3 * DAY_NANOS;
        let of = |t: i64| {
            let d = t - start;
            (d >= 0 && d < 2 * step).then_some((d / step) as usize)
        };
        let plan = DayPlan::new(start, start + 2 * step, step as u64, of).expect("plan");
        let whole: Vec<(i32, Option<usize>)> = (9..18).map(|d| (d, plan.bucket_of(d))).collect();
        assert_eq!(
            whole,
            vec![
                (9, None),
                (10, None),
                (11, Some(0)),
                (12, Some(0)),
                (13, None),
                (14, Some(1)),
                (15, Some(1)),
                (16, None),
                (17, None),
            ]
        );
        assert_eq!(plan.kept, (11, 15));
        assert_eq!(plan.cut_days().collect::<Vec<_>>(), vec![10, 13, 16]);
        let hours = |day: i32| -> Vec<Option<usize>> {
            (0..24).map(|h| plan.hour_bucket_of(day, h)).collect()
        };
        let run = |n: usize, b: Option<usize>| vec![b; n];
        assert_eq!(hours(10), [run(7, None), run(17, Some(0))].concat());
        assert_eq!(
            hours(13),
            [run(6, Some(0)), run(1, None), run(17, Some(1))].concat()
        );
        assert_eq!(hours(16), [run(6, Some(1)), run(18, None)].concat());
        assert!(plan.keeps(11 * DAY_NANOS));
        assert!(plan.keeps(13 * DAY_NANOS + 5 * H));
        assert!(!plan.keeps(13 * DAY_NANOS + 6 * H + 1));
        assert!(!plan.keeps(10 * DAY_NANOS + 5 * H));
        let (day, hour) = (86_400, 3_600);
        assert_eq!(
            plan.scans,
            vec![
                (10 * day + 6 * hour, 10 * day + 7 * hour),
                (13 * day + 6 * hour, 13 * day + 7 * hour),
                (16 * day + 6 * hour, 16 * day + 7 * hour)
            ]
        );
        // Buckets of an hour, or a window of a few days, are scanned as they are.
        assert!(DayPlan::new(start, start + 48 * H, H as u64, |_| Some(0)).is_none());
        assert!(DayPlan::new(start, start + 2 * DAY_NANOS, step as u64, of).is_none());
    }

    fn days(from: i32, to: i32, with: &[i32]) -> Days {
        Days {
            from,
            to,
            counts: with
                .iter()
                .map(|d| DayCount::new(*d, 1, i64::from(*d) * DAY_NANOS))
                .collect(),
        }
    }

    #[test]
    fn counts_over_days_know_what_they_lack_and_join_where_they_meet() {
        let kept = days(10, 20, &[10, 15, 20]);
        assert_eq!(Days::lacking(Some(&kept), (12, 18)), None);
        assert_eq!(Days::lacking(Some(&kept), (12, 22)), Some((21, 22)));
        assert_eq!(Days::lacking(Some(&kept), (5, 12)), Some((5, 9)));
        assert_eq!(Days::lacking(Some(&kept), (5, 25)), Some((5, 25)));
        assert_eq!(Days::<DayCount>::lacking(None, (5, 25)), Some((5, 25)));
        // A day apart (the day a boundary cuts): counted too, so the ranges join.
        assert_eq!(Days::lacking(Some(&kept), (22, 25)), Some((21, 25)));
        assert_eq!(Days::lacking(Some(&kept), (2, 8)), Some((2, 9)));
        // Far apart: only what is needed.
        assert_eq!(Days::lacking(Some(&kept), (40, 45)), Some((40, 45)));
        // A window moved into the next day: the new day joins the range.
        let joined = kept.join(days(21, 22, &[22]));
        assert_eq!(joined, days(10, 22, &[10, 15, 20, 22]));
        // Overlapping ranges: the newer counts replace the days they share.
        let joined = kept.join(days(18, 25, &[19, 25]));
        assert_eq!(joined, days(10, 25, &[10, 15, 19, 25]));
        // Apart: only the newer range is kept.
        assert_eq!(kept.join(days(30, 31, &[30])), days(30, 31, &[30]));
    }

    #[test]
    fn the_cache_drops_dead_segments_and_the_least_recently_used() {
        let cache = SegmentCache::<SegmentDays>::default();
        let put = |key, days: Arc<SegmentDays>, live: &[SegmentId]| {
            let size = days.bytes();
            cache.put(key, days, size, Some(live));
        };
        let (a, b) = (SegmentId::generate_random(), SegmentId::generate_random());
        let key = |segment, filter: &str| DayKey {
            segment,
            deleted: 0,
            filter: filter.into(),
        };
        let days = Arc::new(SegmentDays::default());
        put(key(a, "x"), days.clone(), &[a, b]);
        put(key(b, "x"), days.clone(), &[a, b]);
        assert!(cache.get(&key(a, "x")).is_some());
        assert!(cache.get(&key(a, "y")).is_none());
        // Segment a merged away: its counts go with it.
        put(key(b, "y"), days.clone(), &[b]);
        assert!(cache.get(&key(a, "x")).is_none());
        assert!(cache.get(&key(b, "x")).is_some());
        // Past the budget, the least recently used go first.
        let big = Arc::new(SegmentDays {
            docs: Some(Arc::new(Days {
                from: 0,
                to: 0,
                counts: vec![DayCount::new(0, 1, 0); CACHE_BYTES / 12 / 2 + 1],
            })),
            ..SegmentDays::default()
        });
        put(key(b, "big1"), big.clone(), &[b]);
        assert!(cache.get(&key(b, "x")).is_some());
        put(key(b, "big2"), big, &[b]);
        assert!(cache.get(&key(b, "big1")).is_none());
        assert!(cache.get(&key(b, "big2")).is_some());
        assert!(cache.get(&key(b, "x")).is_some());
    }
}
