//! Mentions by label per hour, kept per segment and filter, so that a label tally over
//! months reads the mentions of the hours its window's ends cut instead of all of them.
//!
//! The timeline counts every mention of its window by label and score per hour (in
//! whole-hour zones; its days, weeks and months are folded from the hours) at every
//! call: at 10M mentions, 90 days of all mentions are 10M documents, four column values
//! each, about 50 ms, and the same again at the next refresh. A segment never changes (a
//! delete changes its delete count, part of the key), so its matching mentions' labels
//! and score sums per UTC hour hold until it is merged away. A label tally in buckets of
//! whole hours ([`OpenIndex::label_tally`] without authors) takes every whole hour of
//! its window from these counts and scans only the window's cut first and last hour
//! (the runs of their documents, [`crate::spans::TimeSpans`]). The answer is the same as
//! the scan's, to the mention and the ten-thousandth of a score. Measured at 10M
//! mentions (`LAUSCHER_BENCH_PROFILE=timeline`, README): the timeline 49 → 1.2 ms a call.
//!
//! The counts cover ranges of days, joined as the phrase counts' are
//! ([`crate::days::Days`]): the first tally under a filter scans the window's days as it
//! would without them, a window moving into a new day scans that day.
//!
//! Cost: 24 bytes per hour a segment holds matching mentions in, per filter, in the same
//! cache as the day counts (least recently used dropped past
//! [`crate::days::CACHE_BYTES`]). Distinct authors do not add up across hours: a tally
//! counting them over a few buckets (share of voice: two) takes its labels from the hour
//! counts and scans only the author column, once per bucket; over more, it scans as
//! before.

use std::ops::Range;
use std::sync::Arc;

use chrono::DateTime;
use tantivy::query::Query;
use tantivy::{DocId, Searcher, SegmentOrdinal};

use lauscher_query::RuleSet;

use crate::days::{Dated, Days, HOUR_NANOS, SegmentCache, SegmentDays, day_of, day_start};
use crate::spans::TimeSpans;
use crate::tally::{Buckets, LabelCount, LabelTally, MIN_PART_DOCS, scan_parts, scan_run};
use crate::{IndexError, OpenIndex, SearchRequest};

/// A window needs at least this many whole hours for kept counts to be used: below it
/// the scan of the window costs as little.
const MIN_KEPT_HOURS: i64 = 48;

/// Hours counted at once at most (a scan part holds 32 bytes per hour): a segment's
/// counts over a longer range are not kept, the tally scans.
const MAX_COUNTED_HOURS: usize = 24 * 4_000;

/// One hour's mentions of one segment under one filter: 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HourCount {
    /// Hours since 1970-01-01T00:00Z.
    hour: i32,
    /// Mentions by label: negative, neutral (and any other), positive.
    labels: [u32; 3],
    /// The sum of their scores in ten-thousandths.
    units: i64,
}

impl Dated for HourCount {
    fn day(&self) -> i32 {
        self.hour.div_euclid(24)
    }
}

/// The start of the hour holding `nanos`, in nanoseconds.
fn floor_hour(nanos: i64) -> i64 {
    nanos.div_euclid(HOUR_NANOS).saturating_mul(HOUR_NANOS)
}

impl OpenIndex {
    /// [`OpenIndex::label_tally`] without authors, through kept hour counts; `None`
    /// where they do not serve: buckets not of whole hours from a whole hour, fewer
    /// than [`MIN_KEPT_HOURS`] whole hours in the window, or an empty index.
    pub(crate) fn label_tally_by_hours(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        buckets: Buckets,
    ) -> Result<Option<Vec<LabelTally>>, IndexError> {
        let grid = buckets.grid();
        let whole_hours = u64::try_from(HOUR_NANOS).unwrap_or(u64::MAX);
        if grid.origin.rem_euclid(HOUR_NANOS) != 0 || !grid.step.is_multiple_of(whole_hours) {
            return Ok(None);
        }
        let searcher = self.reader.searcher();
        let Some(held) = self.held(&searcher, req, &grid, HOUR_NANOS)? else {
            return Ok(None);
        };
        let (spans, start, end) = (held.days, held.start, held.end);
        let grid_end = grid.end_nanos();
        // The whole hours inside the window, each inside one bucket (buckets are whole
        // hours from a whole hour).
        let kept_from = floor_hour(start.saturating_add(HOUR_NANOS - 1));
        let kept_to = floor_hour(end);
        if kept_to.saturating_sub(kept_from) < MIN_KEPT_HOURS * HOUR_NANOS {
            return Ok(None);
        }
        let (Ok(first_hour), Ok(end_hour)) = (
            i32::try_from(kept_from / HOUR_NANOS),
            i32::try_from(kept_to / HOUR_NANOS),
        ) else {
            return Ok(None);
        };
        let need = (day_of(kept_from), day_of(kept_to - 1));
        let (all_query, keys, live) = self.kept_keys(&searcher, req, rules)?;
        let day_docs = self.time_spans(&searcher)?;
        // Each segment's hours lacking days of the window, counted over those days.
        let mut kept: Vec<Option<Arc<Days<HourCount>>>> = Vec::with_capacity(keys.len());
        for (seg, key) in keys.iter().enumerate() {
            let Some(need) = spans[seg].and_then(|(a, b)| {
                let (from, to) = (a.max(need.0), b.min(need.1));
                (from <= to).then_some((from, to))
            }) else {
                kept.push(None);
                continue;
            };
            let entry = self.days.get(key);
            let have = entry.as_ref().and_then(|e| e.labels.clone());
            let Some(lacks) = Days::lacking(have.as_deref(), need) else {
                kept.push(have);
                continue;
            };
            let query = self.on_days(all_query.as_ref(), lacks);
            let runs = day_docs[seg].days(lacks.0, lacks.1).runs;
            let Some(fresh) = count_hours(
                &searcher,
                &self.spans,
                query.as_ref(),
                seg as SegmentOrdinal,
                runs,
                lacks,
            )
            .map_err(|e| self.tantivy(e))?
            else {
                return Ok(None);
            };
            let fresh = SegmentDays {
                labels: Some(Arc::new(fresh)),
                ..SegmentDays::default()
            };
            let days = Arc::new(match entry {
                Some(old) => old.with(fresh),
                None => fresh,
            });
            self.days
                .put(key.clone(), days.clone(), days.bytes(), Some(&live));
            kept.push(days.labels.clone());
        }
        // The cut first and last hour, scanned.
        let count = LabelCount {
            buckets,
            authors: None,
        };
        let mut labels = vec![[0u64; 3]; buckets.count];
        let mut units = vec![0i64; buckets.count];
        let at = DateTime::from_timestamp_nanos;
        for (since, until) in [(grid.origin, kept_from), (kept_to, grid_end)] {
            let Some(cut) = req.narrowed(at(since), at(until)) else {
                continue;
            };
            let query = self.filtered_query(&cut, rules)?;
            let parts = scan_parts(
                &searcher,
                &self.spans,
                query.as_ref(),
                &count,
                MIN_PART_DOCS,
                None,
            )
            .map_err(|e| self.tantivy(e))?;
            let (tallies, sums) = count.sum(parts);
            for (b, t) in tallies.iter().enumerate() {
                labels[b][0] += t.negative;
                labels[b][1] += t.neutral;
                labels[b][2] += t.positive;
                units[b] += sums[b];
            }
        }
        // The whole hours, from the counts.
        for days in kept.iter().flatten() {
            let from = days.counts.partition_point(|c| c.hour < first_hour);
            for c in days.counts[from..].iter().take_while(|c| c.hour < end_hour) {
                let Some(b) = grid.of(i64::from(c.hour) * HOUR_NANOS) else {
                    continue;
                };
                for (l, n) in labels[b].iter_mut().zip(c.labels) {
                    *l += u64::from(n);
                }
                units[b] += c.units;
            }
        }
        Ok(Some(
            labels
                .into_iter()
                .zip(units)
                .map(|([negative, neutral, positive], u)| LabelTally {
                    negative,
                    neutral,
                    positive,
                    score_sum: crate::schema::score_of_units(u),
                    authors: 0,
                })
                .collect(),
        ))
    }
}

/// The hour counts of segment `seg`'s documents in `run` that `query` matches, over the
/// days `from..=to`; `None` where that is more than [`MAX_COUNTED_HOURS`].
fn count_hours(
    searcher: &Searcher,
    times: &SegmentCache<TimeSpans>,
    query: &dyn Query,
    seg: SegmentOrdinal,
    runs: Vec<Range<DocId>>,
    (from, to): (i32, i32),
) -> tantivy::Result<Option<Days<HourCount>>> {
    let hours = usize::try_from((i64::from(to) - i64::from(from) + 1) * 24).unwrap_or(usize::MAX);
    // Hours are numbered in an `i32`: days past ±245,000 years are not kept.
    let (Some(first), Some(_)) = (
        from.checked_mul(24),
        to.checked_add(1).and_then(|t| t.checked_mul(24)),
    ) else {
        return Ok(None);
    };
    let Some(origin) = day_start(from).filter(|_| hours <= MAX_COUNTED_HOURS) else {
        return Ok(None);
    };
    let count = LabelCount {
        buckets: Buckets {
            origin,
            step: chrono::Duration::hours(1),
            count: hours,
        },
        authors: None,
    };
    let parts = scan_run(searcher, times, query, &count, seg, runs)?;
    let (tallies, units) = count.sum(parts);
    let counts = tallies
        .iter()
        .zip(units)
        .zip(first..)
        .filter(|((t, _), _)| t.total() > 0)
        .map(|((t, units), hour)| HourCount {
            hour,
            labels: [t.negative, t.neutral, t.positive]
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            units,
        })
        .collect();
    Ok(Some(Days { from, to, counts }))
}
