//! Where each UTC hour's documents lie in one segment, as runs of consecutive documents
//! published in the same hour, so that a pass over a few hours or days visits only their
//! documents, and a window's whole hours match without their times read.
//!
//! Mentions reach the index roughly in publication order (a crawler's newest posts, an
//! archive in file order), so a segment's documents are few runs of one hour each. A
//! merged segment is its sources one after the other, and tantivy's indexing threads
//! each write their own segments, so an hour's documents lie in a few runs spread over
//! the segment: at 10M mentions (`cargo bench --bench insights`, 12 segments of which 6
//! merged, 1.5M mentions each) 540–640 runs for 330–390 hours per merged segment, where
//! the first and the last document of each hour spanned 60–110 × the segment's
//! documents. A segment in no such order (runs shorter than [`MIN_MEAN_RUN`] documents
//! on average) keeps no runs: a pass then visits all of it and checks each time, the
//! same answer.
//!
//! Cost: one pass over the segment's time column, once per segment (deletes do not
//! change it); 16 bytes per run (a year of one segment in publication order: 137 KiB).

use std::ops::Range;
use std::sync::Arc;

use tantivy::DocId;
use tantivy::columnar::{Column, ColumnIndex};

use crate::days::{DayKey, HOUR_NANOS, SegmentCache};

/// Runs of fewer documents than this on average: the segment is in no useful order.
const MIN_MEAN_RUN: u32 = 16;

/// Runs kept at least before [`MIN_MEAN_RUN`] applies (a small segment of many hours).
const MIN_RUNS: usize = 256;

/// One run: documents `start..end`, all published in `hour`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    start: DocId,
    end: DocId,
    hour: i32,
}

/// The runs of one segment's hours ([`crate::spans`]).
#[derive(Debug)]
pub(crate) struct TimeSpans {
    /// Ascending by document; `None` for a segment in no useful order.
    runs: Option<Vec<Run>>,
    /// Indices into `runs`, ascending by hour, then document.
    by_hour: Vec<u32>,
    max_doc: DocId,
    /// The segment's time column, opened (opening it reads its blocks' headers: about
    /// 3,000 for 1.5M mentions, a tenth of a complaints view at 10M when every scorer
    /// and tally opened it).
    ts: Column<tantivy::DateTime>,
}

/// The documents of some hours in one segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HourDocs {
    /// Runs of documents, ascending, none empty, none touching the next.
    pub(crate) runs: Vec<Range<DocId>>,
    /// Whether every document of the runs is published in those hours; where not (a
    /// segment in no useful order), the runs are the whole segment.
    pub(crate) exact: bool,
}

/// The hour (since 1970-01-01T00:00Z) of a time in nanoseconds since the epoch; every
/// time an `i64` of nanoseconds holds has one.
pub(crate) fn hour_of(nanos: i64) -> i32 {
    // ±292 years are ±2.6M hours: always an `i32`.
    let hour = nanos.div_euclid(HOUR_NANOS);
    i32::try_from(hour).unwrap_or(if hour < 0 { i32::MIN } else { i32::MAX })
}

impl TimeSpans {
    /// The runs of a segment's hours, read from its time column.
    pub(crate) fn of(ts: &Column<tantivy::DateTime>, max_doc: DocId) -> TimeSpans {
        let limit = MIN_RUNS.max((max_doc / MIN_MEAN_RUN) as usize);
        let mut runs: Vec<Run> = Vec::new();
        let mut note = |doc: DocId, hour: Option<i32>| -> bool {
            match (runs.last_mut(), hour) {
                (Some(run), Some(hour)) if run.hour == hour && run.end == doc => {
                    run.end = doc + 1;
                }
                (_, Some(hour)) => runs.push(Run {
                    start: doc,
                    end: doc + 1,
                    hour,
                }),
                // A document without a time is in no hour's run.
                (_, None) => {}
            }
            runs.len() <= limit
        };
        let hour = |t: tantivy::DateTime| hour_of(t.into_timestamp_nanos());
        const CHUNK: DocId = 4096;
        let mut buf = Vec::new();
        let mut start = 0;
        let mut ordered = true;
        'read: while start < max_doc {
            let end = start.saturating_add(CHUNK).min(max_doc);
            if matches!(ts.index, ColumnIndex::Full) {
                // Every document has a time (the usual case): a bulk read.
                buf.clear();
                buf.resize((end - start) as usize, tantivy::DateTime::MIN);
                ts.values.get_range(u64::from(start), &mut buf);
                for (t, doc) in buf.iter().zip(start..) {
                    if !note(doc, Some(hour(*t))) {
                        ordered = false;
                        break 'read;
                    }
                }
            } else {
                for doc in start..end {
                    if !note(doc, ts.first(doc).map(hour)) {
                        ordered = false;
                        break 'read;
                    }
                }
            }
            start = end;
        }
        TimeSpans::from_runs(ordered.then_some(runs), max_doc, ts.clone())
    }

    fn from_runs(
        runs: Option<Vec<Run>>,
        max_doc: DocId,
        ts: Column<tantivy::DateTime>,
    ) -> TimeSpans {
        let mut by_hour: Vec<u32> = Vec::new();
        if let Some(runs) = &runs {
            // At most a sixteenth of a segment's documents: a `u32` each.
            by_hour = (0..runs.len() as u32).collect();
            by_hour.sort_by_key(|i| (runs[*i as usize].hour, runs[*i as usize].start));
        }
        TimeSpans {
            runs,
            by_hour,
            max_doc,
            ts,
        }
    }

    /// The segment's time column.
    pub(crate) fn column(&self) -> &Column<tantivy::DateTime> {
        &self.ts
    }

    /// The runs and the time column of `reader`'s segment, kept in `cache` (a few KiB
    /// per segment; those of segments merged away go at the index's next reload); its
    /// time column is opened only where they are not kept. Every scan and time window
    /// reads the time column from here.
    pub(crate) fn kept(
        cache: &SegmentCache<TimeSpans>,
        reader: &tantivy::SegmentReader,
    ) -> tantivy::Result<Arc<TimeSpans>> {
        // Runs change with neither deletes nor filters: one key per segment.
        let key = DayKey {
            segment: reader.segment_id(),
            deleted: 0,
            filter: Arc::from(""),
        };
        if let Some(spans) = cache.get(&key) {
            return Ok(spans);
        }
        let ts = reader.fast_fields().date("ts")?;
        let spans = Arc::new(TimeSpans::of(&ts, reader.max_doc()));
        cache.put(key, spans.clone(), spans.bytes(), None);
        Ok(spans)
    }

    /// The documents published in the hours `from..=to`.
    pub(crate) fn hours(&self, from: i32, to: i32) -> HourDocs {
        self.hour_ranges(&[(from, to)])
    }

    /// The documents published on the days `from..=to`.
    pub(crate) fn days(&self, from: i32, to: i32) -> HourDocs {
        self.hours(
            from.saturating_mul(24),
            to.saturating_mul(24).saturating_add(23),
        )
    }

    /// The documents published in the hours `[start, end)` of any of `ranges` (seconds;
    /// whole hours).
    pub(crate) fn seconds(&self, ranges: &[(i64, i64)]) -> HourDocs {
        let hour = |s: i64| i32::try_from(s.div_euclid(3_600)).ok();
        let hours: Vec<(i32, i32)> = ranges
            .iter()
            .filter_map(|(s, e)| Some((hour(*s)?, hour(e.checked_sub(1)?)?)))
            .collect();
        self.hour_ranges(&hours)
    }

    /// The documents published in the hours of any of `ranges` (`from..=to` each).
    pub(crate) fn hour_ranges(&self, ranges: &[(i32, i32)]) -> HourDocs {
        let Some(runs) = &self.runs else {
            let whole = if ranges.iter().any(|(a, b)| a <= b) && self.max_doc > 0 {
                std::iter::once(0..self.max_doc).collect()
            } else {
                Vec::new()
            };
            return HourDocs {
                runs: whole,
                exact: false,
            };
        };
        let mut picked: Vec<u32> = Vec::new();
        for &(from, to) in ranges {
            let i = self
                .by_hour
                .partition_point(|k| runs[*k as usize].hour < from);
            let j = self
                .by_hour
                .partition_point(|k| runs[*k as usize].hour <= to);
            picked.extend(self.by_hour.get(i..j.max(i)).unwrap_or_default());
        }
        // Run indices ascend with their documents.
        picked.sort_unstable();
        picked.dedup();
        let mut out: Vec<Range<DocId>> = Vec::new();
        for k in picked {
            let run = runs[k as usize];
            match out.last_mut() {
                Some(last) if last.end == run.start => last.end = run.end,
                _ => out.push(run.start..run.end),
            }
        }
        HourDocs {
            runs: out,
            exact: true,
        }
    }

    /// Bytes kept.
    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of::<TimeSpans>() + self.runs.as_ref().map_or(0, |r| r.len() * 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(start: DocId, end: DocId, hour: i32) -> Run {
        Run { start, end, hour }
    }

    #[test]
    fn runs_name_the_documents_of_the_hours_asked() {
        // Day 10 in documents 0..100 (hours 0 and 23), day 11 in 100..200 and again at
        // 450 (written late), day 13 in 200..300 and, merged after it, 300..350.
        let h = |day: i32, hour: i32| day * 24 + hour;
        let spans = TimeSpans::from_runs(
            Some(vec![
                run(0, 50, h(10, 0)),
                run(50, 100, h(10, 23)),
                run(100, 200, h(11, 5)),
                run(200, 300, h(13, 0)),
                run(300, 350, h(10, 0)),
                run(350, 450, h(13, 1)),
                run(450, 451, h(11, 5)),
            ]),
            451,
            Column::build_empty_column(451),
        );
        let docs = |runs: &[(DocId, DocId)]| HourDocs {
            runs: runs.iter().map(|(a, b)| *a..*b).collect(),
            exact: true,
        };
        assert_eq!(spans.days(10, 10), docs(&[(0, 100), (300, 350)]));
        assert_eq!(spans.days(11, 11), docs(&[(100, 200), (450, 451)]));
        assert_eq!(spans.days(12, 12), docs(&[]));
        // Runs that touch are one.
        assert_eq!(spans.days(12, 13), docs(&[(200, 300), (350, 450)]));
        assert_eq!(spans.days(10, 13), docs(&[(0, 451)]));
        assert_eq!(spans.hours(h(10, 1), h(10, 23)), docs(&[(50, 100)]));
        let hour = |d: i32, h: i64| {
            (
                i64::from(d) * 86_400 + h * 3_600,
                i64::from(d) * 86_400 + (h + 1) * 3_600,
            )
        };
        assert_eq!(
            spans.seconds(&[hour(10, 0), hour(13, 0)]),
            docs(&[(0, 50), (200, 350)])
        );
        assert_eq!(spans.seconds(&[hour(10, 1)]), docs(&[]));
        // In no order: the whole segment, not exact.
        let scattered = TimeSpans::from_runs(None, 451, Column::build_empty_column(451));
        let whole = HourDocs {
            exact: false,
            ..docs(&[(0, 451)])
        };
        assert_eq!(scattered.days(12, 12), whole);
        assert_eq!(scattered.days(13, 12).runs, Vec::<Range<DocId>>::new());
    }
}
