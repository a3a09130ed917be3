//! The time window of a query: mentions published in `[since, until)`.
//!
//! Every view asks for a window, most for one at the end of the index (a dashboard's
//! last 7 or 30 days). Tantivy's range query on the time column starts each segment's
//! scorer by reading the column from the segment's first document until it meets one
//! inside the window, so a window at the end read nearly the whole column per segment
//! and scan part, at every call; and priced at 0.8 × the segment's documents it never
//! drives an intersection, so a topic's postings were walked over all of its history,
//! each document's time looked up. [`PublishedWithin`] visits only the runs of
//! documents of the window's hours ([`TimeSpans`]): those of the hours wholly inside
//! the window match without their times read, those of its cut first and last hour are
//! read; it starts where the intersection's first seek asks, and is priced at those
//! documents, so a window narrower than its topic drives.
//!
//! The answer is the same as the range query's: a run of a whole hour holds only
//! documents published in it, and every other document is checked by its time (all of
//! a segment's, where its documents are in no useful order). Cost: the segment's
//! [`TimeSpans`] once (one pass over its time column, kept by the index), then the time
//! column over the runs of the cut hours, in blocks growing from 128 to 65,536
//! documents (a seek far ahead starts small again). Measured at 10M mentions (`cargo
//! bench --bench insights`, `LAUSCHER_BENCH_PROFILE=share_of_voice`, in turns): share of
//! voice 47–57 → 37–44 ms a call, whose author scans had read the time of each of a
//! topic's mentions.

use std::fmt;
use std::ops::{Range, RangeInclusive};
use std::sync::Arc;

use tantivy::columnar::{Column, ColumnIndex};
use tantivy::query::{
    AllScorer, ConstScorer, EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::{DocId, DocSet, Score, SeekDangerResult, SegmentReader, TERMINATED, TantivyError};

use crate::days::{HOUR_NANOS, SegmentCache};
use crate::spans::{HourDocs, TimeSpans, hour_of};

/// Mentions published in `[since, until)` (seconds since the epoch; `None` is unbounded).
#[derive(Clone)]
pub(crate) struct PublishedWithin {
    since: Option<i64>,
    until: Option<i64>,
    /// The index's kept [`TimeSpans`].
    spans: Arc<SegmentCache<TimeSpans>>,
}

impl fmt::Debug for PublishedWithin {
    // Printed queries key kept counts ([`crate::days`]): the window, not the cache.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublishedWithin({:?}..{:?})", self.since, self.until)
    }
}

impl PublishedWithin {
    pub(crate) fn new(
        since: Option<i64>,
        until: Option<i64>,
        spans: Arc<SegmentCache<TimeSpans>>,
    ) -> Self {
        PublishedWithin {
            since,
            until,
            spans,
        }
    }

    /// The window as column values, both ends included; `None` where it is empty.
    fn values(&self) -> Option<RangeInclusive<tantivy::DateTime>> {
        let lo = self.since.map_or(
            tantivy::DateTime::MIN,
            tantivy::DateTime::from_timestamp_secs,
        );
        let hi = match self.until {
            None => tantivy::DateTime::MAX,
            Some(u) => tantivy::DateTime::from_timestamp_nanos(
                u.checked_mul(1_000_000_000)?.checked_sub(1)?,
            ),
        };
        (lo <= hi).then_some(lo..=hi)
    }
}

impl Query for PublishedWithin {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for PublishedWithin {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let Some(window) = self.values() else {
            return Ok(Box::new(EmptyScorer));
        };
        let spans = TimeSpans::kept(&self.spans, reader)?;
        let ts = spans.column().clone();
        if ts.num_docs() == 0 || ts.max_value() < *window.start() || ts.min_value() > *window.end()
        {
            return Ok(Box::new(EmptyScorer));
        }
        if matches!(ts.index, ColumnIndex::Full)
            && ts.min_value() >= *window.start()
            && ts.max_value() <= *window.end()
        {
            return Ok(Box::new(AllScorer::new(reader.max_doc())));
        }
        let nanos = |t: &tantivy::DateTime| t.into_timestamp_nanos();
        let first = hour_of(nanos(&(*window.start()).max(ts.min_value())));
        let last = hour_of(nanos(&(*window.end()).min(ts.max_value())));
        // The hours wholly inside the window; the first and the last are cut where the
        // window starts or ends inside them.
        let inner = (
            hour_of(nanos(window.start()).saturating_add(HOUR_NANOS - 1)).max(first),
            hour_of(nanos(window.end()).saturating_add(1))
                .saturating_sub(1)
                .min(last),
        );
        let runs = if inner.0 > inner.1 {
            read(spans.hours(first, last))
        } else {
            let whole = spans.hours(inner.0, inner.1);
            let mut cut = Vec::new();
            if first < inner.0 {
                cut.push((first, first));
            }
            if last > inner.1 {
                cut.push((last, last));
            }
            if whole.exact {
                let mut runs = read(spans.hour_ranges(&cut));
                runs.extend(whole.runs.into_iter().map(|r| (r, true)));
                runs.sort_unstable_by_key(|(r, _)| r.start);
                runs
            } else {
                read(whole)
            }
        };
        if runs.is_empty() {
            return Ok(Box::new(EmptyScorer));
        }
        Ok(Box::new(ConstScorer::new(
            WindowDocs::new(ts, window, runs),
            boost,
        )))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.doc() > doc || scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} is not published within {self:?}"
            )));
        }
        Ok(Explanation::new("PublishedWithin", 1.0))
    }
}

/// Runs of documents whose times are to be read (`false`), or not (`true`).
fn read(docs: HourDocs) -> Vec<(Range<DocId>, bool)> {
    docs.runs.into_iter().map(|r| (r, false)).collect()
}

/// Blocks of documents read at a time: the first after a start or a far seek, and at
/// most (tantivy's range query: 128 and 100,000).
const FIRST_BLOCK: u32 = 128;
const MAX_BLOCK: u32 = 1 << 16;

/// The documents of one segment's runs whose time lies in the window, read block by
/// block; those of runs known to lie in it (the window's whole hours) without reading
/// their times, one after the other.
struct WindowDocs {
    ts: Column<tantivy::DateTime>,
    window: RangeInclusive<tantivy::DateTime>,
    /// Runs of documents, ascending, and whether they are known to lie in the window.
    runs: Vec<(Range<DocId>, bool)>,
    /// The run being visited, and its first document not visited yet.
    run: usize,
    next: DocId,
    /// Documents of the runs.
    len: u32,
    block: u32,
    /// The current document.
    doc: DocId,
    /// In a run known to lie in the window: its end.
    sure_end: Option<DocId>,
    /// Else the matches of the blocks read, from `at` on.
    loaded: Vec<DocId>,
    at: usize,
}

impl WindowDocs {
    fn new(
        ts: Column<tantivy::DateTime>,
        window: RangeInclusive<tantivy::DateTime>,
        runs: Vec<(Range<DocId>, bool)>,
    ) -> Self {
        let len = runs
            .iter()
            .map(|(r, _)| r.end.saturating_sub(r.start))
            .sum();
        let mut docs = WindowDocs {
            ts,
            window,
            runs,
            run: 0,
            next: 0,
            len,
            block: FIRST_BLOCK,
            doc: TERMINATED,
            sure_end: None,
            loaded: Vec::new(),
            at: 0,
        };
        docs.load();
        docs
    }

    /// Moves to the first match from `next` on: the next document of a known run, or
    /// the first match of the blocks read until one holds one; [`TERMINATED`] past
    /// the runs.
    fn load(&mut self) {
        self.sure_end = None;
        self.loaded.clear();
        self.at = 0;
        loop {
            let Some((run, sure)) = self.runs.get(self.run).cloned() else {
                self.doc = TERMINATED;
                return;
            };
            self.next = self.next.max(run.start);
            if self.next >= run.end {
                self.run += 1;
                continue;
            }
            if sure {
                self.doc = self.next;
                self.sure_end = Some(run.end);
                self.next = run.end;
                return;
            }
            let to = self.next.saturating_add(self.block).min(run.end);
            self.ts.get_docids_for_value_range(
                self.window.clone(),
                self.next..to,
                &mut self.loaded,
            );
            self.next = to;
            self.block = (self.block * 2).min(MAX_BLOCK);
            if let Some(first) = self.loaded.first() {
                self.doc = *first;
                return;
            }
        }
    }

    /// The first run from the current one on that ends after `target`.
    fn run_after(&self, target: DocId) -> usize {
        let rest = self.runs.get(self.run..).unwrap_or_default();
        self.run + rest.partition_point(|(r, _)| r.end <= target)
    }

    /// Moves to `target` if what was visited holds it, else to the first match after it
    /// there; `None` where `target` lies past what was visited.
    fn seek_visited(&mut self, target: DocId) -> Option<DocId> {
        if self.doc >= target {
            return Some(self.doc);
        }
        match self.sure_end {
            Some(end) if target < end => {
                self.doc = target;
                Some(target)
            }
            Some(_) => None,
            None if self.loaded.last().is_some_and(|last| *last >= target) => {
                self.at += self.loaded[self.at..].partition_point(|d| *d < target);
                self.doc = self.loaded[self.at];
                Some(self.doc)
            }
            None => None,
        }
    }
}

impl DocSet for WindowDocs {
    fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED {
            return TERMINATED;
        }
        match self.sure_end {
            Some(end) if self.doc + 1 < end => {
                self.doc += 1;
                return self.doc;
            }
            Some(_) => {}
            None => {
                self.at += 1;
                if let Some(doc) = self.loaded.get(self.at) {
                    self.doc = *doc;
                    return self.doc;
                }
            }
        }
        self.load();
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if let Some(doc) = self.seek_visited(target) {
            return doc;
        }
        // Past what was visited: start at the target, reading in small blocks again.
        self.run = self.run_after(target);
        self.next = self.next.max(target);
        self.block = FIRST_BLOCK;
        self.load();
        self.doc
    }

    fn seek_danger(&mut self, target: DocId) -> SeekDangerResult {
        if let Some(doc) = self.seek_visited(target) {
            return if doc == target {
                SeekDangerResult::Found
            } else {
                SeekDangerResult::SeekLowerBound(doc)
            };
        }
        // One document looked up (an intersection driven by another clause asks for its
        // documents one by one): its value read where its run is not known.
        let i = self.run_after(target);
        let Some((run, sure)) = self.runs.get(i).cloned() else {
            return SeekDangerResult::SeekLowerBound(TERMINATED);
        };
        if target < run.start {
            return SeekDangerResult::SeekLowerBound(run.start);
        }
        if sure {
            self.run = i;
            self.loaded.clear();
            self.sure_end = Some(run.end);
            self.next = run.end;
            self.doc = target;
            return SeekDangerResult::Found;
        }
        if self
            .ts
            .values_for_doc(target)
            .any(|t| self.window.contains(&t))
        {
            self.run = i;
            self.sure_end = None;
            self.loaded.clear();
            self.loaded.push(target);
            self.at = 0;
            self.next = self.next.max(target + 1);
            self.doc = target;
            SeekDangerResult::Found
        } else {
            SeekDangerResult::SeekLowerBound(target + 1)
        }
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.len
    }

    fn cost(&self) -> u64 {
        // A block of the column is scanned faster than postings are decoded (tantivy
        // prices its own column scan at 0.8 per document).
        u64::from(self.len) * 4 / 5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_inverted_window_has_no_values() {
        let spans = Arc::new(SegmentCache::default());
        let w = |s, u| PublishedWithin::new(s, u, spans.clone());
        assert!(w(Some(10), Some(10)).values().is_none());
        assert!(w(Some(11), Some(10)).values().is_none());
        assert!(w(Some(10), Some(11)).values().is_some());
        assert!(w(None, None).values().is_some());
        assert_eq!(
            format!("{:?}", w(Some(1), None)),
            "PublishedWithin(Some(1)..None)"
        );
    }
}
