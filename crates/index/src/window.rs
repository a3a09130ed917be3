//! The time window of a query: mentions published in `[since, until)`.
//!
//! Every view asks for a window, most for one at the end of the index (a dashboard's
//! last 7 or 30 days). Tantivy's range query on the time column starts each segment's
//! scorer by reading the column from the segment's first document until it meets one
//! inside the window, so a window at the end read nearly the whole column per segment
//! and scan part, at every call; and priced at 0.8 × the segment's documents it never
//! drives an intersection, so a topic's postings were walked over all of its history,
//! each document's time looked up. [`PublishedWithin`] reads the column only over the
//! documents of the window's hours ([`TimeSpans`]; mentions reach the index roughly in
//! publication order, so that is about the window's own documents), starts where the
//! intersection's first seek asks, and is priced at those documents, so a window
//! narrower than its topic drives.
//!
//! The answer is the same as the range query's: every document in the run is checked
//! against the window by its time. Cost: the segment's [`TimeSpans`] once (one pass over
//! its time column, kept by the index), then the time column over the run of the
//! window's hours, in blocks growing from 128 to 65,536 documents (a seek far ahead
//! starts small again).

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use tantivy::columnar::{Column, ColumnIndex};
use tantivy::query::{
    AllScorer, ConstScorer, EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::{DocId, DocSet, Score, SeekDangerResult, SegmentReader, TERMINATED, TantivyError};

use crate::days::{SegmentCache, TimeSpans, hour_of};

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
        let ts = reader.fast_fields().date("ts")?;
        let Some(window) = self.values() else {
            return Ok(Box::new(EmptyScorer));
        };
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
        let hour = |t: tantivy::DateTime| hour_of(t.into_timestamp_nanos());
        let first = hour((*window.start()).max(ts.min_value()));
        let last = hour((*window.end()).min(ts.max_value()));
        let spans = TimeSpans::kept(&self.spans, reader)?;
        let Some(run) = spans.hours(first, last) else {
            return Ok(Box::new(EmptyScorer));
        };
        Ok(Box::new(ConstScorer::new(
            WindowDocs::new(ts, window, run.start, run.end),
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

/// Blocks of documents read at a time: the first after a start or a far seek, and at
/// most (tantivy's range query: 128 and 100,000).
const FIRST_BLOCK: u32 = 128;
const MAX_BLOCK: u32 = 1 << 16;

/// The documents of one segment's run whose time lies in the window, read block by
/// block.
struct WindowDocs {
    ts: Column<tantivy::DateTime>,
    window: RangeInclusive<tantivy::DateTime>,
    /// The run's documents not read yet: `next..end`.
    next: DocId,
    end: DocId,
    /// Documents of the run.
    len: u32,
    block: u32,
    /// The matches of the blocks read, from `at` on.
    loaded: Vec<DocId>,
    at: usize,
}

impl WindowDocs {
    fn new(
        ts: Column<tantivy::DateTime>,
        window: RangeInclusive<tantivy::DateTime>,
        start: DocId,
        end: DocId,
    ) -> Self {
        let mut docs = WindowDocs {
            ts,
            window,
            next: start,
            end,
            len: end.saturating_sub(start),
            block: FIRST_BLOCK,
            loaded: Vec::new(),
            at: 0,
        };
        docs.load();
        docs
    }

    /// Reads blocks until one holds a match or the run ends.
    fn load(&mut self) {
        while self.at >= self.loaded.len() && self.next < self.end {
            let to = self.next.saturating_add(self.block).min(self.end);
            self.loaded.clear();
            self.at = 0;
            self.ts.get_docids_for_value_range(
                self.window.clone(),
                self.next..to,
                &mut self.loaded,
            );
            self.next = to;
            self.block = (self.block * 2).min(MAX_BLOCK);
        }
    }
}

impl DocSet for WindowDocs {
    fn advance(&mut self) -> DocId {
        self.at += 1;
        if self.at >= self.loaded.len() {
            self.load();
        }
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc() >= target {
            return self.doc();
        }
        if self.loaded.last().is_some_and(|last| *last >= target) {
            self.at += self.loaded[self.at..].partition_point(|d| *d < target);
            return self.doc();
        }
        // Past what was read: start reading at the target, in small blocks again.
        self.loaded.clear();
        self.at = 0;
        self.next = self.next.max(target);
        self.block = FIRST_BLOCK;
        self.load();
        self.doc()
    }

    fn seek_danger(&mut self, target: DocId) -> SeekDangerResult {
        if target >= self.end {
            return SeekDangerResult::SeekLowerBound(TERMINATED);
        }
        if self.loaded.last().is_some_and(|last| *last >= target) {
            let doc = self.seek(target);
            return if doc == target {
                SeekDangerResult::Found
            } else {
                SeekDangerResult::SeekLowerBound(doc)
            };
        }
        // One value looked up (an intersection driven by another clause asks for its
        // documents one by one).
        if self
            .ts
            .values_for_doc(target)
            .any(|t| self.window.contains(&t))
        {
            self.loaded.clear();
            self.loaded.push(target);
            self.at = 0;
            self.next = self.next.max(target + 1);
            SeekDangerResult::Found
        } else {
            SeekDangerResult::SeekLowerBound(target + 1)
        }
    }

    fn doc(&self) -> DocId {
        self.loaded.get(self.at).copied().unwrap_or(TERMINATED)
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
