//! Tallies: counting the time, label, score, author and phrase columns of the mentions
//! a search matches, for the insight views.
//!
//! The views count a few fast fields over hundreds of thousands of mentions per
//! request. tantivy's aggregations take a JSON request and walk a tree of dynamic
//! buckets per document (40–80 ns per document and sub-aggregation here); these
//! collectors read each column a block of documents at a time into flat arrays indexed
//! by time bucket and term ordinal, which costs a few ns per document and value. They
//! run the same filtered query as [`MentionIndex::search`]; large segments are cut into
//! document ranges so that all cores scan even an index of one merged segment. Each
//! scan part holds its buckets (about 40 bytes each for labels) in memory.
//!
//! Time buckets are `count` intervals of `step` from `origin`; mentions outside them
//! are skipped, so a caller asks for exactly the window it reports.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{BooleanQuery, EnableScoring, Occur, Query};
use tantivy::{
    COLLECT_BLOCK_BUFFER_LEN, DocId, DocSet, Searcher, SegmentOrdinal, SegmentReader, TERMINATED,
};

use lauscher_query::RuleSet;

#[cfg(test)]
use crate::MentionIndex;
use crate::authors::{AuthorSet, SharedAuthors};
use crate::days::{
    DAY_NANOS, DayCount, DayHours, DayKey, DayPlan, Days, PhraseDays, PhraseHours, SegmentCache,
    SegmentDays, day_of, day_start,
};
use crate::spans::TimeSpans;
use crate::{IndexError, OpenIndex, SearchRequest};

/// Time buckets: `count` intervals of `step` starting at `origin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buckets {
    /// Start of the first bucket.
    pub origin: DateTime<Utc>,
    /// Length of each bucket.
    pub step: chrono::Duration,
    /// Number of buckets.
    pub count: usize,
}

impl Buckets {
    /// The buckets in nanoseconds, for the per-document lookup.
    pub(crate) fn grid(&self) -> Grid {
        let origin = self
            .origin
            .timestamp_nanos_opt()
            .unwrap_or(self.origin.timestamp().saturating_mul(1_000_000_000));
        let step = self
            .step
            .num_nanoseconds()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(u64::MAX)
            .max(1);
        Grid {
            origin,
            step,
            inv: 1.0 / step as f64,
            end: step.saturating_mul(self.count as u64),
            count: self.count,
        }
    }
}

/// A tally's window over what the segments hold ([`OpenIndex::held`]).
pub(crate) struct Held {
    /// Per segment, the first and last day it holds mentions on.
    pub(crate) days: Vec<Option<(i32, i32)>>,
    /// The buckets' span, the request's window and the segments' first and last times
    /// (widened to whole units), in nanoseconds: `[start, end)`.
    pub(crate) start: i64,
    pub(crate) end: i64,
}

/// [`Buckets`] in nanoseconds. The bucket of a timestamp is found by multiplying with
/// the step's reciprocal and correcting the rounding: a 64-bit division per document
/// would cost more than reading its columns.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grid {
    pub(crate) origin: i64,
    pub(crate) step: u64,
    inv: f64,
    /// `step · count`: the first offset past the last bucket.
    pub(crate) end: u64,
    count: usize,
}

impl Grid {
    /// The bucket of a timestamp (nanoseconds), if inside.
    #[inline]
    pub(crate) fn of(&self, ts: i64) -> Option<usize> {
        let d = u64::try_from(ts.checked_sub(self.origin)?).ok()?;
        if d >= self.end {
            return None;
        }
        let mut i = ((d as f64) * self.inv) as u64;
        // The float product can be one off either way.
        if i.saturating_mul(self.step) > d {
            i = i.saturating_sub(1);
        } else if (i + 1).saturating_mul(self.step) <= d {
            i += 1;
        }
        Some((i as usize).min(self.count - 1))
    }

    /// The end of the last bucket, in nanoseconds since the epoch.
    pub(crate) fn end_nanos(&self) -> i64 {
        self.origin
            .saturating_add(i64::try_from(self.end).unwrap_or(i64::MAX))
    }

    /// The time range of bucket `b` (which [`Grid::of`] returned).
    fn span(&self, b: usize) -> Span {
        Span {
            start: self
                .origin
                .wrapping_add((b as u64).wrapping_mul(self.step) as i64),
            len: self.step,
            bucket: b,
        }
    }
}

/// One bucket's time range in nanoseconds, remembered between documents: a timestamp
/// inside it needs no bucket arithmetic.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: i64,
    /// Length; 0 for no bucket.
    len: u64,
    bucket: usize,
}

impl Span {
    const EMPTY: Span = Span {
        start: 0,
        len: 0,
        bucket: 0,
    };

    #[inline]
    fn of(&self, ts: i64) -> Option<usize> {
        if (ts.wrapping_sub(self.start) as u64) < self.len {
            Some(self.bucket)
        } else {
            None
        }
    }
}

/// Mentions of one time bucket by sentiment label.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LabelTally {
    /// Negative mentions.
    pub negative: u64,
    /// Neutral mentions (and any other label).
    pub neutral: u64,
    /// Positive mentions.
    pub positive: u64,
    /// Sum of the sentiment scores.
    pub score_sum: f64,
    /// Distinct authors (exact; 0 unless asked for).
    pub authors: u64,
}

impl LabelTally {
    /// All mentions.
    pub fn total(&self) -> u64 {
        self.negative + self.neutral + self.positive
    }
}

/// Phrase counts per time bucket.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhraseTally {
    /// Matching mentions per bucket.
    pub docs: Vec<u64>,
    /// Mentions with the phrase per bucket, for each phrase counted.
    pub phrases: HashMap<String, Vec<u64>>,
    /// With [`PhraseSelection::Only`], the earliest publication time of each selected
    /// phrase among the mentions counted (phrases not found are absent).
    pub earliest: HashMap<String, DateTime<Utc>>,
}

/// The mentions of one group of phrases ([`MentionIndex::phrase_mentions`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhraseMentions {
    /// The earliest publication time.
    pub earliest: Option<DateTime<Utc>>,
    /// The newest mentions, newest first.
    pub newest: Vec<crate::IndexedMention>,
}

/// Which phrases a [`PhraseTally`] counts.
#[derive(Clone, Copy, Debug)]
pub enum PhraseSelection<'a> {
    /// The `n` most frequent per bucket, as far as each segment's own top `n·1.5 + 10`
    /// reach (as Elasticsearch's `shard_size`): the phrases of any segment's top list,
    /// each counted exactly in every segment (the scan counts every phrase, so this
    /// costs dictionary lookups, not a second scan).
    Top(usize),
    /// Exactly these phrases.
    Only(&'a [String]),
}

impl OpenIndex {
    /// Mentions by label per time bucket for the mentions `req` filters (its query,
    /// limit and offset aside). With `authors`, each bucket also counts its distinct
    /// authors, at a bitset of the index's author numbers per bucket and scan part (so
    /// ask for authors only with few buckets; see `authors` for the numbers).
    ///
    /// Without authors, in buckets of whole hours, the counts come from hour counts kept
    /// per segment and filter ([`crate::hours`]): the first tally under a filter reads
    /// the window's mentions as without them; later ones read only the window's cut
    /// first and last hour. The answer is the same either way.
    pub fn label_tally(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        buckets: Buckets,
        authors: bool,
    ) -> Result<Vec<LabelTally>, IndexError> {
        // Distinct authors do not add up across hours: counted per bucket, by a scan of
        // the author column alone (so only for a few buckets).
        let hours = if authors && buckets.count > MAX_AUTHOR_BUCKETS {
            None
        } else {
            self.label_tally_by_hours(req, rules, buckets)?
        };
        if let Some(mut out) = hours {
            if authors {
                self.count_authors(req, rules, buckets, &mut out)?;
            }
            return Ok(out);
        }
        let query = self.filtered_query(req, rules)?;
        let searcher = self.reader.searcher();
        let shared = if authors {
            Some(self.authors.of(&searcher).map_err(|e| self.tantivy(e))?)
        } else {
            None
        };
        let count = LabelCount {
            buckets,
            authors: shared.as_ref(),
        };
        scan(
            &searcher,
            &self.spans,
            query.as_ref(),
            &count,
            MIN_PART_DOCS,
        )
        .map_err(|e| self.tantivy(e))
    }

    /// Sets each bucket's distinct authors among the mentions `req` filters in it: one
    /// scan of the author column per bucket with mentions.
    fn count_authors(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        buckets: Buckets,
        out: &mut [LabelTally],
    ) -> Result<(), IndexError> {
        let searcher = self.reader.searcher();
        let shared = self.authors.of(&searcher).map_err(|e| self.tantivy(e))?;
        let count = AuthorCount { shared: &shared };
        for (b, tally) in out.iter_mut().enumerate() {
            let start = buckets.origin + buckets.step * b as i32;
            let Some(within) = req.narrowed(start, start + buckets.step) else {
                continue;
            };
            if tally.total() == 0 {
                continue;
            }
            let query = self.filtered_query(&within, rules)?;
            tally.authors = scan(
                &searcher,
                &self.spans,
                query.as_ref(),
                &count,
                MIN_PART_DOCS,
            )
            .map_err(|e| self.tantivy(e))?;
        }
        Ok(())
    }

    /// Phrase counts per time bucket for the mentions `req` filters.
    ///
    /// Selected phrases ([`PhraseSelection::Only`]) in buckets of a day or longer are
    /// counted through day counts kept per segment and filter ([`crate::days`]): the
    /// first such tally of a phrase under a filter reads the window's mentions as
    /// without them; later ones read the phrases only of the days a bucket boundary or
    /// the window's end cuts. The answer is the same either way.
    pub fn phrase_tally(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        buckets: Buckets,
        selection: PhraseSelection<'_>,
    ) -> Result<PhraseTally, IndexError> {
        if let PhraseSelection::Only(terms) = selection
            && let Some(out) = self.phrase_tally_by_days(req, rules, buckets, terms)?
        {
            return Ok(out);
        }
        self.tally(req, rules, &PhraseCount::new(buckets, selection))
    }

    /// The phrases worth counting exactly among the mentions `req` filters, per bucket:
    /// the `2·n` with the most mentions in the segments' own top lists (per segment and
    /// bucket the `n·1.5 + 10` most frequent, as [`PhraseSelection::Top`] names them),
    /// all buckets together, sorted. Each segment's lists are kept for the filter and the
    /// buckets ([`crate::days`]), so the same window asked again (a day-aligned one
    /// stays the same all day) scans only the segments written since; count the phrases
    /// with [`PhraseSelection::Only`], whose day counts are kept too.
    pub fn phrase_candidates(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        buckets: Buckets,
        n: usize,
    ) -> Result<Vec<String>, IndexError> {
        let query = self.filtered_query(req, rules)?;
        let filter: Arc<str> = format!("{query:?} {buckets:?} {n}").into();
        let searcher = self.reader.searcher();
        let (keys, live) = DayKey::of_segments(&searcher, &filter);
        let mut lists: Vec<Option<Arc<SegmentTops>>> =
            keys.iter().map(|k| self.tops.get(k)).collect();
        let unseen: Vec<SegmentOrdinal> = (0..keys.len())
            .filter(|i| lists[*i].is_none())
            .map(|i| i as SegmentOrdinal)
            .collect();
        if !unseen.is_empty() {
            let tally = PhraseCount::new(buckets, PhraseSelection::Top(n));
            let within: Vec<Vec<Range<DocId>>> = searcher
                .segment_readers()
                .iter()
                .zip(&lists)
                .map(|(r, l)| match l {
                    Some(_) => Vec::new(),
                    None => std::iter::once(0..r.max_doc()).collect(),
                })
                .collect();
            let parts = scan_parts(
                &searcher,
                &self.spans,
                query.as_ref(),
                &tally,
                MIN_PART_DOCS,
                Some(&within),
            )
            .map_err(|e| self.tantivy(e))?;
            // The parts of one segment share its ordinals: join their counts first.
            let mut joined: Vec<(SegmentOrdinal, OrdCounts)> = Vec::new();
            for (seg, part) in parts {
                let PhraseCounts::All(counts) = part.counts else {
                    continue;
                };
                join_segment_counts(&mut joined, seg, counts);
            }
            for seg in unseen {
                let mut tops: SegmentTops = vec![Vec::new(); buckets.count];
                if let Some((_, counts)) = joined.iter().find(|(s, _)| *s == seg)
                    && let Some(top) =
                        segment_top(&searcher, seg, counts, n).map_err(|e| self.tantivy(e))?
                {
                    for (list, out) in top.per_bucket.iter().zip(&mut tops) {
                        for (count, ord) in list {
                            if let Ok(i) = top.names.binary_search_by_key(ord, |(_, o)| *o) {
                                out.push((top.names[i].0.clone(), *count));
                            }
                        }
                    }
                }
                let size = tops.iter().flatten().map(|(t, _)| t.len() + 32).sum();
                let tops = Arc::new(tops);
                self.tops
                    .put(keys[seg as usize].clone(), tops.clone(), size, Some(&live));
                lists[seg as usize] = Some(tops);
            }
        }
        let mut out: Vec<String> = Vec::new();
        for b in 0..buckets.count {
            let mut sums: FxHashMap<&str, u64> = FxHashMap::default();
            for tops in lists.iter().flatten() {
                for (t, count) in tops.get(b).into_iter().flatten() {
                    *sums.entry(t.as_str()).or_default() += u64::from(*count);
                }
            }
            let mut ranked: Vec<(u64, &str)> = sums.into_iter().map(|(t, c)| (c, t)).collect();
            ranked.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
            out.extend(ranked.into_iter().take(2 * n).map(|(_, t)| t.to_owned()));
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// [`OpenIndex::phrase_tally`] of selected phrases through day counts kept per
    /// segment and filter ([`crate::days`]): the days wholly inside one bucket from the
    /// counts (counted first where a segment lacks them), the others scanned. `None`
    /// where the buckets or the window do not suit days (the caller scans).
    fn phrase_tally_by_days(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        buckets: Buckets,
        terms: &[String],
    ) -> Result<Option<PhraseTally>, IndexError> {
        let grid = buckets.grid();
        let searcher = self.reader.searcher();
        // The window: the buckets, the request's time range, and the days the segments
        // hold mentions on (a window reaching back years plans only those days).
        let Some(Held {
            days: spans,
            start,
            end,
        }) = self.held(&searcher, req, &grid, DAY_NANOS)?
        else {
            return Ok(None);
        };
        let Some(plan) = DayPlan::new(start, end, grid.step, |t| grid.of(t)) else {
            return Ok(None);
        };
        let (all_query, keys, live) = self.kept_keys(&searcher, req, rules)?;
        let mut unique: Vec<&str> = terms.iter().map(String::as_str).collect();
        unique.sort_unstable();
        unique.dedup();
        let mut kept: Vec<Option<Arc<SegmentDays>>> =
            keys.iter().map(|k| self.days.get(k)).collect();
        let day_docs = self.time_spans(&searcher)?;
        // Per segment, the phrases (and mention counts) lacking days the plan takes from
        // kept counts are counted over the days they lack, one segment at a time (a
        // part's counts are phrases × days).
        for (seg, key) in keys.iter().enumerate() {
            let Some(need) = spans[seg].and_then(|(a, b)| {
                let (from, to) = (a.max(plan.kept.0), b.min(plan.kept.1));
                (from <= to).then_some((from, to))
            }) else {
                continue;
            };
            let entry = kept[seg].as_deref();
            let mut hull: Option<(i32, i32)> = None;
            let mut widen = |lacks: Option<(i32, i32)>| {
                if let Some((a, b)) = lacks {
                    hull = Some(hull.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
                }
            };
            widen(Days::lacking(entry.and_then(|e| e.docs.as_deref()), need));
            let mut missing: Vec<String> = Vec::new();
            for t in &unique {
                let days = entry.and_then(|e| e.phrases.get(*t)).map(|p| &p.days);
                if let Some(lacks) = Days::lacking(days, need) {
                    missing.push((*t).to_owned());
                    widen(Some(lacks));
                }
            }
            let Some(hull) = hull else {
                continue;
            };
            let query = self.on_days(all_query.as_ref(), hull);
            let runs = day_docs[seg].days(hull.0, hull.1).runs;
            let Some(fresh) = count_days(
                &searcher,
                &self.spans,
                query.as_ref(),
                seg as SegmentOrdinal,
                runs,
                &missing,
                hull,
            )
            .map_err(|e| self.tantivy(e))?
            else {
                return Ok(None);
            };
            let days = Arc::new(match entry {
                Some(old) => old.with(fresh),
                None => fresh,
            });
            self.days
                .put(key.clone(), days.clone(), days.bytes(), Some(&live));
            kept[seg] = Some(days);
        }
        // Per segment and cut day, the phrases lacking hour counts, counted over the day.
        let cut_days: Vec<i32> = plan.cut_days().collect();
        for (seg, key) in keys.iter().enumerate() {
            for &day in &cut_days {
                if spans[seg].is_none_or(|(a, b)| day < a || day > b) {
                    continue;
                }
                let entry = kept[seg].as_deref();
                let hours = entry.and_then(|e| e.cut.get(&day));
                let missing: Vec<String> = unique
                    .iter()
                    .filter(|t| hours.is_none_or(|h| !h.phrases.contains_key(**t)))
                    .map(|t| (*t).to_owned())
                    .collect();
                if hours.is_some() && missing.is_empty() {
                    continue;
                }
                let query = self.on_days(all_query.as_ref(), (day, day));
                let runs = day_docs[seg].days(day, day).runs;
                let Some(fresh) = count_day_hours(
                    &searcher,
                    &self.spans,
                    query.as_ref(),
                    seg as SegmentOrdinal,
                    runs,
                    &missing,
                    day,
                )
                .map_err(|e| self.tantivy(e))?
                else {
                    return Ok(None);
                };
                let mut cut = SegmentDays::default();
                cut.cut.insert(day, Arc::new(fresh));
                let days = Arc::new(match entry {
                    Some(old) => old.with(cut),
                    None => cut,
                });
                self.days
                    .put(key.clone(), days.clone(), days.bytes(), Some(&live));
                kept[seg] = Some(days);
            }
        }
        // The hours no count settles, scanned.
        let mut out = if plan.scans.is_empty() {
            PhraseTally {
                docs: vec![0; buckets.count],
                phrases: terms
                    .iter()
                    .map(|t| (t.clone(), vec![0; buckets.count]))
                    .collect(),
                earliest: HashMap::new(),
            }
        } else {
            // The window's mentions in the runs of documents of the cut hours, those of
            // kept days and hours a run holds skipped by their time before their phrases
            // are read; the window narrowed to the first cut hour and the last, so that
            // its time filter reads no further.
            let mut cut = req.clone();
            if let (Some(first), Some(last)) = (plan.scans.first(), plan.scans.last()) {
                let at = |s: i64| DateTime::from_timestamp(s, 0);
                cut.since = cut.since.max(at(first.0));
                cut.until = match (cut.until, at(last.1)) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            let query = self.filtered_query(&cut, rules)?;
            // A segment whose kept counts name every phrase needs no dictionary lookups.
            let known: Vec<Option<Vec<u64>>> = kept
                .iter()
                .map(|d| {
                    let d = d.as_deref()?;
                    terms
                        .iter()
                        .map(|t| d.phrases.get(t).map(|p| p.ord))
                        .collect()
                })
                .collect();
            let tally = PhraseCount {
                known: Some(&known),
                kept: Some(&plan),
                ..PhraseCount::new(buckets, PhraseSelection::Only(terms))
            };
            let within: Vec<Vec<Range<DocId>>> = day_docs
                .iter()
                .map(|s| s.seconds(&plan.scans).runs)
                .collect();
            scan_parts(
                &searcher,
                &self.spans,
                query.as_ref(),
                &tally,
                MIN_PART_DOCS,
                Some(&within),
            )
            .and_then(|parts| tally.merge(&searcher, parts))
            .map_err(|e| self.tantivy(e))?
        };
        // The days wholly inside a bucket, and the hours of cut days, from the counts:
        // per phrase, into its own row (no lookup per count).
        let mut rows: Vec<Vec<u64>> = vec![vec![0; buckets.count]; unique.len()];
        let mut firsts: Vec<i64> = vec![i64::MAX; unique.len()];
        for d in kept.iter().flatten() {
            for c in d.docs.iter().flat_map(|d| &d.counts) {
                if let Some(b) = plan.bucket_of(c.day) {
                    out.docs[b] += u64::from(c.count);
                }
            }
            for (i, t) in unique.iter().enumerate() {
                let Some(p) = d.phrases.get(*t) else {
                    continue;
                };
                let (row, first) = (&mut rows[i], &mut firsts[i]);
                for c in &p.days.counts {
                    if let Some(b) = plan.bucket_of(c.day) {
                        row[b] += u64::from(c.count);
                        *first = (*first).min(c.first());
                    }
                }
            }
            for &day in &cut_days {
                let Some(hours) = d.cut.get(&day) else {
                    continue;
                };
                for (h, n) in hours.docs.iter().enumerate() {
                    if let Some(b) = plan.hour_bucket_of(day, h) {
                        out.docs[b] += u64::from(*n);
                    }
                }
                for (i, t) in unique.iter().enumerate() {
                    let Some(p) = hours.phrases.get(*t) else {
                        continue;
                    };
                    let (row, first) = (&mut rows[i], &mut firsts[i]);
                    for &(h, n, at) in &p.hours {
                        if let Some(b) = plan.hour_bucket_of(day, usize::from(h)) {
                            row[b] += u64::from(n);
                            *first = (*first).min(at);
                        }
                    }
                }
            }
        }
        for ((t, row), first) in unique.iter().zip(rows).zip(firsts) {
            if let Some(acc) = out.phrases.get_mut(*t) {
                for (a, n) in acc.iter_mut().zip(row) {
                    *a += n;
                }
            }
            if first == i64::MAX {
                continue;
            }
            let first = DateTime::from_timestamp_nanos(first);
            let at = out.earliest.entry((*t).to_owned()).or_insert(first);
            *at = (*at).min(first);
        }
        Ok(Some(out))
    }

    /// The window a tally of `req` in `grid` counts, over what the segments hold; `None`
    /// for an index without mentions.
    pub(crate) fn held(
        &self,
        searcher: &Searcher,
        req: &SearchRequest,
        grid: &Grid,
        unit: i64,
    ) -> Result<Option<Held>, IndexError> {
        let mut held: Option<(i64, i64)> = None;
        let mut days: Vec<Option<(i32, i32)>> = Vec::new();
        for r in searcher.segment_readers() {
            let spans = TimeSpans::kept(&self.spans, r).map_err(|e| self.tantivy(e))?;
            let ts = spans.column();
            let mut span = None;
            if ts.num_docs() > 0 {
                let (lo, hi) = (
                    ts.min_value().into_timestamp_nanos(),
                    ts.max_value().into_timestamp_nanos(),
                );
                held = Some(held.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
                span = Some((day_of(lo), day_of(hi)));
            }
            days.push(span);
        }
        let Some((lo, hi)) = held else {
            return Ok(None);
        };
        // The request's window as the time filter reads it: whole seconds, the end
        // excluded.
        let secs = |d: DateTime<Utc>| d.timestamp().saturating_mul(1_000_000_000);
        let start = [
            Some(grid.origin),
            req.since.map(secs),
            Some(lo.div_euclid(unit).saturating_mul(unit)),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(grid.origin);
        let end = [
            Some(grid.end_nanos()),
            req.until.map(secs),
            Some((hi.div_euclid(unit) + 1).saturating_mul(unit)),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(grid.end_nanos());
        Ok(Some(Held { days, start, end }))
    }

    /// The query of `req` without its time window, and the keys the kept counts of each
    /// of `searcher`'s segments under it go by, with the segments' ids.
    #[allow(clippy::type_complexity)]
    pub(crate) fn kept_keys(
        &self,
        searcher: &Searcher,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
    ) -> Result<(Box<dyn Query>, Vec<DayKey>, Vec<tantivy::index::SegmentId>), IndexError> {
        let all = SearchRequest {
            since: None,
            until: None,
            ..req.clone()
        };
        let all_query = self.filtered_query(&all, rules)?;
        let filter: Arc<str> = format!("{all_query:?}").into();
        let (keys, live) = DayKey::of_segments(searcher, &filter);
        Ok((all_query, keys, live))
    }

    /// `query` narrowed to the mentions published on the days `from..=to`.
    pub(crate) fn on_days(&self, query: &dyn Query, (from, to): (i32, i32)) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, query.box_clone()),
            (
                Occur::Must,
                self.time_range(day_start(from), day_start(to.saturating_add(1))),
            ),
        ]))
    }

    /// Where each segment's hours lie ([`TimeSpans`]), read once per segment.
    pub(crate) fn time_spans(
        &self,
        searcher: &Searcher,
    ) -> Result<Vec<Arc<TimeSpans>>, IndexError> {
        searcher
            .segment_readers()
            .par_iter()
            .map(|r| TimeSpans::kept(&self.spans, r).map_err(|e| self.tantivy(e)))
            .collect()
    }

    /// For each group of phrases, the mentions `req` filters that have any phrase of the
    /// group: the earliest publication time, and the newest `newest` mentions (newest
    /// first, ties in index order). One scan of the `phrases` column for all groups,
    /// where a `phrases` filter per group would scan it once per group; the newest are
    /// then loaded from the doc store (one block read each).
    ///
    /// A rule the index cannot translate exactly (proximity, `raw:`, `url:`) is checked
    /// on the newest as a search would: each group is then one search.
    pub fn phrase_mentions(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        groups: &[Vec<String>],
        newest: usize,
    ) -> Result<Vec<PhraseMentions>, IndexError> {
        if groups.is_empty() {
            // Nothing to find: no scan of the whole history.
            return Ok(Vec::new());
        }
        let mut query = self.build_query(req)?;
        let checked = matches!(self.add_rule(&mut query, req, rules)?, Some((_, _, false)));
        let searcher = self.reader.searcher();
        let found = scan(
            &searcher,
            &self.spans,
            query.as_ref(),
            &PhraseDocs {
                groups,
                keep: if checked { 0 } else { newest },
                ords: PerSegment::default(),
            },
            MIN_PART_DOCS,
        )
        .map_err(|e| self.tantivy(e))?;
        // Every group's newest, loaded once each and in index order: neighbours share a
        // doc store block, so each block is decompressed once, where loading group by
        // group decompressed the same blocks again (at 20 phrases, most of the view).
        let mut addrs: Vec<tantivy::DocAddress> = found
            .iter()
            .flat_map(|(_, docs)| docs.iter().map(|(_, addr)| *addr))
            .collect();
        addrs.sort_unstable();
        addrs.dedup();
        // In one contiguous run per core (each a loader of its own; blocks decompress in
        // parallel, and a block shared by two runs at most twice).
        let run = addrs
            .len()
            .div_ceil(rayon::current_num_threads().max(1))
            .max(64);
        let loaded: FxHashMap<tantivy::DocAddress, crate::IndexedMention> = addrs
            .par_chunks(run)
            .map(|chunk| {
                let mut loader = crate::search::Loader::kept(self, &searcher);
                chunk
                    .iter()
                    .map(|addr| Ok((*addr, loader.load(*addr)?)))
                    .collect::<Result<Vec<_>, IndexError>>()
            })
            .collect::<Result<Vec<_>, IndexError>>()?
            .into_iter()
            .flatten()
            .collect();
        let mut out = Vec::with_capacity(groups.len());
        for (group, (earliest, docs)) in groups.iter().zip(found) {
            let newest = if checked && newest > 0 {
                let mut r = req.clone();
                r.phrases.clone_from(group);
                r.limit = newest;
                r.offset = 0;
                self.search(&r, rules)?.hits
            } else {
                docs.into_iter()
                    .filter_map(|(_, addr)| loaded.get(&addr).cloned())
                    .collect()
            };
            out.push(PhraseMentions {
                earliest: earliest.map(DateTime::from_timestamp_nanos),
                newest,
            });
        }
        Ok(out)
    }

    /// The earliest publication time among the mentions `req` filters.
    pub fn earliest(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
    ) -> Result<Option<DateTime<Utc>>, IndexError> {
        let nanos = self.tally(req, rules, &Earliest)?;
        Ok(nanos.map(DateTime::from_timestamp_nanos))
    }

    /// Runs `tally` over the mentions `req` filters.
    fn tally<T: Tally>(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        tally: &T,
    ) -> Result<T::Out, IndexError> {
        let query = self.filtered_query(req, rules)?;
        let searcher = self.reader.searcher();
        scan(&searcher, &self.spans, query.as_ref(), tally, MIN_PART_DOCS)
            .map_err(|e| self.tantivy(e))
    }
}

/// What a scan counts: a part per document range of a segment, merged at the end.
pub(crate) trait Tally: Sync {
    /// The counts of one document range.
    type Part: Send;
    /// The merged answer.
    type Out;
    /// A new part for a range of the documents of `reader`, segment `seg` of the
    /// searcher, whose time column is `ts` (kept open by the index's time spans).
    fn part(
        &self,
        seg: SegmentOrdinal,
        reader: &SegmentReader,
        ts: &Column<tantivy::DateTime>,
    ) -> tantivy::Result<Self::Part>;
    /// Counts a block of matching, live documents (ascending).
    fn collect(&self, part: &mut Self::Part, docs: &[DocId]);
    /// Merges the parts, each with the segment it counted.
    fn merge(
        &self,
        searcher: &Searcher,
        parts: Vec<(SegmentOrdinal, Self::Part)>,
    ) -> tantivy::Result<Self::Out>;
}

/// Documents handed to [`Tally::collect`] at a time (about): a tantivy block is 64,
/// and reading a column 64 values at a time cost a dynamic call and a decoder setup per
/// column and block; 1,024 make them negligible and keep a block's values in L1.
const TALLY_BLOCK: usize = 1024;

/// Documents per scan part at least: below that, a thread costs more than it saves.
pub(crate) const MIN_PART_DOCS: u32 = 1 << 16;

/// The parts of a scan of the documents in `runs` of segment `seg` alone.
pub(crate) fn scan_run<T: Tally>(
    searcher: &Searcher,
    times: &SegmentCache<TimeSpans>,
    query: &dyn Query,
    tally: &T,
    seg: SegmentOrdinal,
    runs: Vec<Range<DocId>>,
) -> tantivy::Result<Vec<(SegmentOrdinal, T::Part)>> {
    let mut within: Vec<Vec<Range<DocId>>> = vec![Vec::new(); searcher.segment_readers().len()];
    if let Some(w) = within.get_mut(seg as usize) {
        *w = runs;
    }
    scan_parts(searcher, times, query, tally, MIN_PART_DOCS, Some(&within))
}

/// Scans the documents `query` matches: every segment, large ones cut into document
/// ranges, the parts on all cores (rayon's pool; tantivy's own pool runs one task per
/// segment, so one large segment would be scanned by one thread).
fn scan<T: Tally>(
    searcher: &Searcher,
    times: &SegmentCache<TimeSpans>,
    query: &dyn Query,
    tally: &T,
    min_part: u32,
) -> tantivy::Result<T::Out> {
    let parts = scan_parts(searcher, times, query, tally, min_part, None)?;
    tally.merge(searcher, parts)
}

/// The parts of a [`scan`], unmerged: of every document, or of the runs of documents
/// `within` names per segment ordinal (none where it names none).
pub(crate) fn scan_parts<T: Tally>(
    searcher: &Searcher,
    times: &SegmentCache<TimeSpans>,
    query: &dyn Query,
    tally: &T,
    min_part: u32,
    within: Option<&[Vec<Range<DocId>>]>,
) -> tantivy::Result<Vec<(SegmentOrdinal, T::Part)>> {
    let weight = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
    let threads = rayon::current_num_threads().max(1) as u32;
    let mut ranges = Vec::new();
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let max = reader.max_doc();
        let all = 0..max;
        let runs = match within {
            None => std::slice::from_ref(&all),
            Some(w) => w.get(ord).map_or(&[][..], Vec::as_slice),
        };
        for run in runs {
            let (from, to) = (run.start.min(max), run.end.min(max));
            let parts = ((to - from) / min_part.max(1)).clamp(1, threads);
            let len = (to - from).div_ceil(parts).max(1);
            let mut start = from;
            while start < to {
                ranges.push((ord as SegmentOrdinal, start..(start + len).min(to)));
                start += len;
            }
        }
    }
    ranges
        .into_par_iter()
        .map(|(ord, range)| {
            let reader = searcher.segment_reader(ord);
            let ts = TimeSpans::kept(times, reader)?;
            let mut part = tally.part(ord, reader, ts.column())?;
            let mut scorer = weight.scorer(reader, 1.0)?;
            if scorer.doc() < range.start {
                scorer.seek(range.start);
            }
            let alive = reader.alive_bitset();
            let mut block = [0 as DocId; COLLECT_BLOCK_BUFFER_LEN];
            let mut docs: Vec<DocId> = Vec::with_capacity(TALLY_BLOCK + COLLECT_BLOCK_BUFFER_LEN);
            loop {
                let n = scorer.fill_buffer(&mut block);
                // Blocks ascend: cut at the range's end.
                let filled = &block[..n];
                let cut = filled.partition_point(|d| *d < range.end);
                match alive {
                    None => docs.extend_from_slice(&filled[..cut]),
                    Some(alive) => {
                        docs.extend(filled[..cut].iter().copied().filter(|d| alive.is_alive(*d)))
                    }
                }
                let done = cut < n
                    || n < COLLECT_BLOCK_BUFFER_LEN
                    || scorer.doc() == TERMINATED
                    || scorer.doc() >= range.end;
                if docs.len() >= TALLY_BLOCK || (done && !docs.is_empty()) {
                    tally.collect(&mut part, &docs);
                    docs.clear();
                }
                if done {
                    break;
                }
            }
            Ok((ord, part))
        })
        .collect::<tantivy::Result<Vec<_>>>()
}

/// Reads the first value of each of `docs` into `out`.
fn first_vals<T>(col: &Column<T>, docs: &[DocId], out: &mut Vec<Option<T>>)
where
    T: PartialOrd + Copy + std::fmt::Debug + Send + Sync + 'static,
{
    out.clear();
    out.resize(docs.len(), None);
    col.first_vals(docs, out);
}

/// Reads the first value of each of `docs` into `out`, `missing` where a document has
/// none. A column every document has (the usual case) is read without the `Option`s.
fn vals<T>(col: &Column<T>, docs: &[DocId], out: &mut Vec<T>, missing: T)
where
    T: PartialOrd + Copy + std::fmt::Debug + Send + Sync + 'static,
{
    out.clear();
    out.resize(docs.len(), missing);
    match col.index {
        // A run of consecutive documents (every document of a range matches, the
        // usual case of a view without filters) is one bulk read.
        tantivy::columnar::ColumnIndex::Full
            if docs.len() > 1 && docs[docs.len() - 1] - docs[0] + 1 == docs.len() as u32 =>
        {
            col.values.get_range(u64::from(docs[0]), out)
        }
        tantivy::columnar::ColumnIndex::Full => col.values.get_vals(docs, out),
        _ => {
            for (o, doc) in out.iter_mut().zip(docs) {
                *o = col.first(*doc).unwrap_or(missing);
            }
        }
    }
}

/// Fills `out` with `missing` for `docs` (a column the segment does not have).
fn fill<T: Clone>(docs: &[DocId], out: &mut Vec<T>, missing: T) {
    out.clear();
    out.resize(docs.len(), missing);
}

/// The values of `doc` in a multi-valued column, read into `buf`.
fn doc_values<'b>(col: &Column<u64>, doc: DocId, buf: &'b mut Vec<u64>) -> &'b [u64] {
    let rows = col.index.value_row_ids(doc);
    let len = rows.end.saturating_sub(rows.start) as usize;
    buf.resize(len, 0);
    if len > 0 {
        col.values.get_range(u64::from(rows.start), &mut buf[..len]);
    }
    &buf[..len]
}

/// Looks `terms` up in a string column's dictionary: the ordinal of each (or
/// `u64::MAX` when the segment does not have it).
fn ords_of(col: &StrColumn, terms: &[&str]) -> tantivy::Result<Vec<u64>> {
    terms
        .iter()
        .map(|t| Ok(col.dictionary().term_ord(t)?.unwrap_or(u64::MAX)))
        .collect()
}

/// Adds a scan part's counts of every phrase to those of its segment in `all` (the parts
/// of one segment share its ordinals).
fn join_segment_counts(
    all: &mut Vec<(SegmentOrdinal, OrdCounts)>,
    seg: SegmentOrdinal,
    counts: OrdCounts,
) {
    match all.iter_mut().find(|(s, _)| *s == seg) {
        Some((_, acc)) => acc.absorb(&counts),
        None => all.push((seg, counts)),
    }
}

/// Days counted at once at most, phrases × days (a scan part's counts and earliest times
/// take 12 bytes each): past it, a tally scans as it would without kept counts.
const MAX_DAY_CELLS: usize = 4 << 20;

/// Counts `terms` (and the mentions) per day on the days `from..=to` among the
/// documents of segment `seg` that `query` matches (the caller limits it to those days,
/// and `run` to the documents holding them; [`crate::days`]). `None` where that is too
/// many days to count at once.
fn count_days(
    searcher: &Searcher,
    times: &SegmentCache<TimeSpans>,
    query: &dyn Query,
    seg: SegmentOrdinal,
    runs: Vec<Range<DocId>>,
    terms: &[String],
    (from, to): (i32, i32),
) -> tantivy::Result<Option<SegmentDays>> {
    let span = usize::try_from(i64::from(to) - i64::from(from) + 1).unwrap_or(usize::MAX);
    if span.saturating_mul(terms.len().max(1)) > MAX_DAY_CELLS {
        return Ok(None);
    }
    let Some(origin) = day_start(from) else {
        return Ok(None);
    };
    let step = chrono::Duration::days(1);
    let cells = count_cells(searcher, times, query, seg, runs, terms, origin, step, span)?;
    let Cells {
        docs,
        counts,
        firsts,
        ords,
    } = cells;
    let rows = terms.len();
    let day = |i: usize| from + i as i32;
    let over = |counts: Vec<DayCount>| Days { from, to, counts };
    let mut out = SegmentDays {
        docs: Some(Arc::new(over(
            docs.iter()
                .enumerate()
                .filter(|(_, n)| **n > 0)
                .map(|(i, n)| DayCount::new(day(i), u32::try_from(*n).unwrap_or(u32::MAX), 0))
                .collect(),
        ))),
        ..SegmentDays::default()
    };
    for (row, t) in terms.iter().enumerate() {
        let days = (0..span)
            .filter(|i| counts[i * rows + row] > 0)
            .map(|i| DayCount::new(day(i), counts[i * rows + row], firsts[i * rows + row]))
            .collect();
        out.phrases.entry(t.clone()).or_insert_with(|| {
            Arc::new(PhraseDays {
                ord: ords[row],
                days: over(days),
            })
        });
    }
    Ok(Some(out))
}

/// Counts `terms` (and the mentions) per hour of day `day` among the documents of
/// segment `seg` that `query` matches (the caller limits it to that day, and `run` to
/// the documents holding it). `None` where that is too many phrases to count at once.
fn count_day_hours(
    searcher: &Searcher,
    times: &SegmentCache<TimeSpans>,
    query: &dyn Query,
    seg: SegmentOrdinal,
    runs: Vec<Range<DocId>>,
    terms: &[String],
    day: i32,
) -> tantivy::Result<Option<DayHours>> {
    if terms.len().saturating_mul(24) > MAX_DAY_CELLS {
        return Ok(None);
    }
    let Some(origin) = day_start(day) else {
        return Ok(None);
    };
    let step = chrono::Duration::hours(1);
    let Cells {
        docs,
        counts,
        firsts,
        ..
    } = count_cells(searcher, times, query, seg, runs, terms, origin, step, 24)?;
    let rows = terms.len();
    let mut out = DayHours::default();
    for (d, n) in out.docs.iter_mut().zip(&docs) {
        *d = u32::try_from(*n).unwrap_or(u32::MAX);
    }
    for (row, t) in terms.iter().enumerate() {
        let hours = (0..24u8)
            .map(|h| (h, usize::from(h) * rows + row))
            .filter(|(_, i)| counts[*i] > 0)
            .map(|(h, i)| (h, counts[i], firsts[i]))
            .collect();
        out.phrases
            .insert(t.clone(), Arc::new(PhraseHours { hours }));
    }
    Ok(Some(out))
}

/// Mentions and selected phrases per bucket of one segment's scan: `counts` and `firsts`
/// (earliest times, nanoseconds) are bucket-major, a row per phrase.
struct Cells {
    docs: Vec<u64>,
    counts: Vec<u32>,
    firsts: Vec<i64>,
    /// Per phrase, its ordinal in the segment (`u64::MAX` where it lacks it).
    ords: Vec<u64>,
}

/// Counts `terms` and the mentions per bucket of `step` from `origin` (`span` of them)
/// among the documents in `run` of segment `seg` that `query` matches.
#[allow(clippy::too_many_arguments)]
fn count_cells(
    searcher: &Searcher,
    times: &SegmentCache<TimeSpans>,
    query: &dyn Query,
    seg: SegmentOrdinal,
    runs: Vec<Range<DocId>>,
    terms: &[String],
    origin: DateTime<Utc>,
    step: chrono::Duration,
    span: usize,
) -> tantivy::Result<Cells> {
    let tally = PhraseCount {
        first_by_bucket: true,
        ..PhraseCount::new(
            Buckets {
                origin,
                step,
                count: span,
            },
            PhraseSelection::Only(terms),
        )
    };
    let parts = scan_run(searcher, times, query, &tally, seg, runs)?;
    let rows = terms.len();
    let mut docs = vec![0u64; span];
    let mut counts = vec![0u32; rows * span];
    let mut firsts = vec![i64::MAX; rows * span];
    let mut ords = vec![u64::MAX; rows];
    for (_, part) in parts {
        for (d, n) in docs.iter_mut().zip(&part.docs) {
            *d += n;
        }
        if let PhraseCounts::Only {
            selected,
            counts: c,
            earliest,
            ..
        } = part.counts
        {
            ords = selected.ords(rows);
            for (a, n) in counts.iter_mut().zip(&c) {
                *a += n;
            }
            for (a, e) in firsts.iter_mut().zip(&earliest) {
                *a = (*a).min(*e);
            }
        }
    }
    Ok(Cells {
        docs,
        counts,
        firsts,
        ords,
    })
}

/// Labels, scores and authors per time bucket.
pub(crate) struct LabelCount<'a> {
    pub(crate) buckets: Buckets,
    /// Count distinct authors, by these shared numbers.
    pub(crate) authors: Option<&'a SharedAuthors>,
}

/// One scan part of a [`LabelCount`]; the buffers hold a block's column values.
pub(crate) struct LabelPart {
    grid: Grid,
    ts: Column<tantivy::DateTime>,
    label: Option<Column<u64>>,
    /// Label ordinal → 0 negative, 1 neutral (and anything else), 2 positive.
    label_slot: Vec<u8>,
    /// Ten-thousandths of the score.
    score: Column<i64>,
    author: Option<Column<u64>>,
    /// The segment's author ordinal → shared number.
    author_numbers: Arc<Vec<u32>>,
    /// Per bucket, its authors.
    author_bits: Vec<AuthorSet>,
    /// Per bucket, mentions by label slot (negative, neutral, positive): an index, not a
    /// branch per mention (labels come in no order a branch predictor could learn).
    labels: Vec<[u64; 3]>,
    /// Per bucket, the sum of the scores in ten-thousandths: exact, whatever the parts
    /// (an `f64` sum per mention cost a conversion each and depended on the split).
    units: Vec<i64>,
    ts_buf: Vec<tantivy::DateTime>,
    label_buf: Vec<u64>,
    score_buf: Vec<i64>,
    author_buf: Vec<u64>,
}

impl Tally for LabelCount<'_> {
    type Part = LabelPart;
    type Out = Vec<LabelTally>;

    fn part(
        &self,
        seg: SegmentOrdinal,
        reader: &SegmentReader,
        ts: &Column<tantivy::DateTime>,
    ) -> tantivy::Result<LabelPart> {
        let ff = reader.fast_fields();
        let label = ff.str("sentiment_label")?;
        let mut label_slot = Vec::new();
        if let Some(col) = &label {
            label_slot = vec![1u8; col.num_terms()];
            for (ord, slot) in ords_of(col, &["negative", "positive"])?
                .into_iter()
                .zip([0u8, 2])
            {
                if let Some(s) = usize::try_from(ord)
                    .ok()
                    .and_then(|o| label_slot.get_mut(o))
                {
                    *s = slot;
                }
            }
        }
        let (author, author_numbers, numbers) = match self.authors {
            Some(shared) => (
                ff.str("author")?,
                shared
                    .segments
                    .get(seg as usize)
                    .cloned()
                    .unwrap_or_default(),
                shared.count,
            ),
            None => (None, Arc::default(), 0),
        };
        Ok(LabelPart {
            grid: self.buckets.grid(),
            ts: ts.clone(),
            label: label.map(|c| c.ords().clone()),
            label_slot,
            score: ff.i64("sentiment")?,
            author_bits: if author.is_some() {
                vec![AuthorSet::new(numbers); self.buckets.count]
            } else {
                Vec::new()
            },
            author: author.map(|a| a.ords().clone()),
            author_numbers,
            labels: vec![[0; 3]; self.buckets.count],
            units: vec![0; self.buckets.count],
            ts_buf: Vec::new(),
            label_buf: Vec::new(),
            score_buf: Vec::new(),
            author_buf: Vec::new(),
        })
    }

    fn collect(&self, p: &mut LabelPart, docs: &[DocId]) {
        vals(&p.ts, docs, &mut p.ts_buf, tantivy::DateTime::MIN);
        vals(&p.score, docs, &mut p.score_buf, 0);
        match &p.label {
            // Anything but an ordinal of "negative" or "positive" is neutral.
            Some(l) => vals(l, docs, &mut p.label_buf, u64::MAX),
            None => fill(docs, &mut p.label_buf, u64::MAX),
        }
        let authors = match &p.author {
            Some(a) => {
                vals(a, docs, &mut p.author_buf, u64::MAX);
                true
            }
            None => false,
        };
        let mut at = Span::EMPTY;
        for i in 0..docs.len() {
            // Mentions arrive roughly in time order: most fall in the last bucket.
            let ts = p.ts_buf[i].into_timestamp_nanos();
            let Some(b) = at.of(ts).or_else(|| {
                let b = p.grid.of(ts)?;
                at = p.grid.span(b);
                Some(b)
            }) else {
                continue;
            };
            let slot = p
                .label_slot
                .get(p.label_buf[i] as usize)
                .copied()
                .unwrap_or(1);
            if let Some(n) = p
                .labels
                .get_mut(b)
                .and_then(|l| l.get_mut(usize::from(slot)))
            {
                *n += 1;
            }
            p.units[b] += p.score_buf[i];
            if authors
                && let Some(&n) = p.author_numbers.get(p.author_buf[i] as usize)
                && let Some(set) = p.author_bits.get_mut(b)
            {
                set.insert(n);
            }
        }
    }

    fn merge(
        &self,
        _: &Searcher,
        parts: Vec<(SegmentOrdinal, LabelPart)>,
    ) -> tantivy::Result<Vec<LabelTally>> {
        let (mut out, units) = self.sum(parts);
        for (o, u) in out.iter_mut().zip(units) {
            o.score_sum = crate::schema::score_of_units(u);
        }
        Ok(out)
    }
}

impl LabelCount<'_> {
    /// The parts' tallies per bucket without their score sums, and those sums in
    /// ten-thousandths (exact, to be added to others before they become a score).
    pub(crate) fn sum(
        &self,
        parts: Vec<(SegmentOrdinal, LabelPart)>,
    ) -> (Vec<LabelTally>, Vec<i64>) {
        let mut out = vec![LabelTally::default(); self.buckets.count];
        let mut units = vec![0i64; self.buckets.count];
        // Author bits are shared numbers: the union of every part's is the count.
        let mut bits: Vec<AuthorSet> = Vec::new();
        for (_, part) in parts {
            for (o, l) in out.iter_mut().zip(&part.labels) {
                o.negative += l[0];
                o.neutral += l[1];
                o.positive += l[2];
            }
            for (u, p) in units.iter_mut().zip(&part.units) {
                *u += p;
            }
            if bits.is_empty() {
                bits = part.author_bits;
                continue;
            }
            for (a, b) in bits.iter_mut().zip(&part.author_bits) {
                a.union(b);
            }
        }
        for (o, b) in out.iter_mut().zip(&bits) {
            o.authors = b.len();
        }
        (out, units)
    }
}

/// A label tally with authors takes its labels from kept hour counts and its authors
/// from one scan per bucket up to this many buckets; past it, one scan counts all.
const MAX_AUTHOR_BUCKETS: usize = 8;

/// Distinct authors of the mentions scanned, by shared author number.
struct AuthorCount<'a> {
    shared: &'a SharedAuthors,
}

/// One scan part of an [`AuthorCount`].
struct AuthorPart {
    author: Option<Column<u64>>,
    /// The segment's author ordinal → shared number.
    numbers: Arc<Vec<u32>>,
    authors: AuthorSet,
    buf: Vec<u64>,
}

impl Tally for AuthorCount<'_> {
    type Part = AuthorPart;
    type Out = u64;

    fn part(
        &self,
        seg: SegmentOrdinal,
        reader: &SegmentReader,
        _: &Column<tantivy::DateTime>,
    ) -> tantivy::Result<AuthorPart> {
        Ok(AuthorPart {
            author: reader
                .fast_fields()
                .str("author")?
                .map(|a| a.ords().clone()),
            numbers: self
                .shared
                .segments
                .get(seg as usize)
                .cloned()
                .unwrap_or_default(),
            authors: AuthorSet::new(self.shared.count),
            buf: Vec::new(),
        })
    }

    fn collect(&self, p: &mut AuthorPart, docs: &[DocId]) {
        let Some(col) = &p.author else {
            return;
        };
        vals(col, docs, &mut p.buf, u64::MAX);
        for ord in &p.buf {
            if let Some(&n) = p.numbers.get(*ord as usize) {
                p.authors.insert(n);
            }
        }
    }

    fn merge(
        &self,
        _: &Searcher,
        parts: Vec<(SegmentOrdinal, AuthorPart)>,
    ) -> tantivy::Result<u64> {
        let mut all = AuthorSet::default();
        for (_, part) in parts {
            all.union(&part.authors);
        }
        Ok(all.len())
    }
}

/// Phrase counts per time bucket.
struct PhraseCount<'a> {
    buckets: Buckets,
    selection: PhraseSelection<'a>,
    /// The selected ordinals of each segment, looked up once for all its parts.
    selected: PerSegment<Selected>,
    /// Per segment ordinal of the searcher, the ordinals of a [`PhraseSelection::Only`]
    /// where already known (from kept day counts): no dictionary lookups.
    known: Option<&'a [Option<Vec<u64>>]>,
    /// Note the earliest time of each selected phrase per bucket, not only overall
    /// (for [`crate::days`]; such parts are not merged by [`Tally::merge`]).
    first_by_bucket: bool,
    /// Days whose counts are kept ([`crate::days`]): their mentions are skipped.
    kept: Option<&'a DayPlan>,
}

impl<'a> PhraseCount<'a> {
    fn new(buckets: Buckets, selection: PhraseSelection<'a>) -> Self {
        PhraseCount {
            buckets,
            selection,
            selected: PerSegment::default(),
            known: None,
            first_by_bucket: false,
            kept: None,
        }
    }
}

/// The selected phrase ordinals of one segment (a [`PhraseSelection::Only`], the
/// groups of [`MentionIndex::phrase_mentions`]): a bit per ordinal of the segment marks
/// the selected ones (an unselected value costs one bit test), and a table of
/// (ordinal, row), open addressing at most a quarter full, leads a selected one to its
/// row in the counts: 8 bytes per slot, so it stays in the cache (16 KiB for 500
/// phrases), where a rank among the bits (a running count per 64-bit word) read a
/// second array as large as the dictionary's bits, out of the cache for a large
/// segment. One bit per term of the segment's dictionary plus 32 bytes per selected
/// phrase.
struct Selected {
    bits: Vec<u64>,
    /// (ordinal, row) of each selected ordinal; `u32::MAX` marks an empty slot.
    slots: Vec<(u32, u32)>,
    /// `slots.len() − 1` (a power of two).
    mask: usize,
    /// How many ordinals are selected.
    len: usize,
}

impl Selected {
    /// `found` is (ordinal, row) of every selected phrase the segment has.
    fn new(num_terms: usize, found: Vec<(u64, u32)>) -> Self {
        let size = (found.len() * 4).next_power_of_two().max(16);
        let mut sel = Selected {
            bits: vec![0u64; num_terms.div_ceil(64)],
            slots: vec![(u32::MAX, 0); size],
            mask: size - 1,
            len: 0,
        };
        for (o, row) in found {
            let (Ok(o32), Some(w)) = (u32::try_from(o), sel.bits.get_mut((o / 64) as usize)) else {
                continue;
            };
            if o32 == u32::MAX || *w & (1 << (o % 64)) != 0 {
                continue;
            }
            *w |= 1 << (o % 64);
            let mut h = Self::hash(o32) & sel.mask;
            while sel.slots[h].0 != u32::MAX {
                h = (h + 1) & sel.mask;
            }
            sel.slots[h] = (o32, row);
            sel.len += 1;
        }
        sel
    }

    /// The ordinal of each of the first `rows` rows (`u64::MAX`: not in the segment, or
    /// a repeated phrase whose first row counts it).
    fn ords(&self, rows: usize) -> Vec<u64> {
        let mut out = vec![u64::MAX; rows];
        for &(o, row) in &self.slots {
            if o != u32::MAX
                && let Some(x) = out.get_mut(row as usize)
            {
                *x = u64::from(o);
            }
        }
        out
    }

    /// A slot for ordinal `o` (Fibonacci hashing; masked by the caller).
    #[inline]
    fn hash(o: u32) -> usize {
        (u64::from(o).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize
    }

    /// Appends the rows of the selected ordinals among `ords` to `rows`, without a
    /// branch on whether each is selected (that branch is taken at random in a tally of
    /// frequent phrases, and its mispredictions were most of a scan's time).
    #[inline]
    fn rows_of(&self, ords: &[u64], rows: &mut Vec<u32>) {
        let start = rows.len();
        rows.resize(start + ords.len(), 0);
        let mut n = start;
        for &o in ords {
            let word = self.bits.get((o / 64) as usize).copied().unwrap_or(0);
            let selected = (word >> (o % 64)) & 1 == 1;
            let (k, mut row) = self.slots[Self::hash(o as u32) & self.mask];
            if selected && k != o as u32 {
                // Not in its first slot (rare at a quarter full).
                row = self.row(o).unwrap_or(0) as u32;
            }
            rows[n] = row;
            n += usize::from(selected);
        }
        rows.truncate(n);
    }

    /// The row of ordinal `o`, when it is selected.
    #[inline]
    fn row(&self, o: u64) -> Option<usize> {
        let word = *self.bits.get((o / 64) as usize)?;
        if word & (1 << (o % 64)) == 0 {
            return None;
        }
        let o = o as u32;
        let mut h = Self::hash(o) & self.mask;
        loop {
            let (k, row) = *self.slots.get(h)?;
            if k == o {
                return Some(row as usize);
            }
            if k == u32::MAX {
                return None;
            }
            h = (h + 1) & self.mask;
        }
    }
}

/// A value computed once per segment of a scan and shared by the segment's parts
/// (looking terms up in a dictionary costs microseconds per term).
struct PerSegment<T> {
    slots: std::sync::Mutex<FxHashMap<SegmentOrdinal, SharedSlot<T>>>,
}

type SharedSlot<T> = Arc<std::sync::Mutex<Option<Arc<T>>>>;

impl<T> Default for PerSegment<T> {
    fn default() -> Self {
        PerSegment {
            slots: std::sync::Mutex::new(FxHashMap::default()),
        }
    }
}

impl<T> PerSegment<T> {
    /// The value of segment `seg`, made by `make` by the first part to ask (the others
    /// wait for it).
    fn get(
        &self,
        seg: SegmentOrdinal,
        make: impl FnOnce() -> tantivy::Result<T>,
    ) -> tantivy::Result<Arc<T>> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(seg).or_default().clone()
        };
        let mut value = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = value.as_ref() {
            return Ok(v.clone());
        }
        let v = Arc::new(make()?);
        *value = Some(v.clone());
        Ok(v)
    }
}

/// Dictionaries up to this many terms get a dense table in [`OrdCounts`] (32 MiB).
/// Counting 4M Zipf-distributed ordinals in two parts (best of five, 2026-12-07):
/// dense 56 / 203 / 232 ms, map 172 / 285 / 211 ms for dictionaries of 0.2M / 2M / 8M
/// terms; past 8M the map is faster and its memory is only what the scan saw.
const DENSE_TERMS: usize = 1 << 23;

/// Counts per time bucket of every ordinal of one segment's `phrases` column that
/// occurs: a slot per ordinal seen, found through a dense table of the segment's
/// ordinals (4 bytes per dictionary term, where a hash map keyed by ordinal and bucket
/// cost a hash and a probe per value and was a third of the complaints view), or,
/// for a dictionary past [`DENSE_TERMS`] (real posts' long tail of word pairs grows
/// with a segment), a map of the ordinals seen: a table of the whole dictionary,
/// allocated and zeroed for every part of every scan, then costs more than the
/// lookups it saves, and its memory grows with the segment, not the scan.
struct OrdCounts {
    /// Ordinal → 1 + its slot.
    slots: Slots,
    /// The ordinal of each slot.
    ords: Vec<u64>,
    /// `buckets` counts per slot.
    counts: Vec<u32>,
    buckets: usize,
}

/// Where [`OrdCounts`] finds an ordinal's slot.
enum Slots {
    /// Per ordinal of the dictionary, 1 + its slot (0: not seen).
    Dense(Vec<u32>),
    /// 1 + the slot of each ordinal seen, below `num_terms`.
    Sparse {
        map: FxHashMap<u64, u32>,
        num_terms: u64,
    },
}

impl OrdCounts {
    fn new(num_terms: usize, buckets: usize) -> Self {
        Self::with_dense_limit(num_terms, buckets, DENSE_TERMS)
    }

    /// [`OrdCounts::new`] with a dense table only up to `dense` terms.
    fn with_dense_limit(num_terms: usize, buckets: usize, dense: usize) -> Self {
        let slots = if num_terms <= dense {
            Slots::Dense(vec![0; num_terms])
        } else {
            Slots::Sparse {
                map: FxHashMap::default(),
                num_terms: num_terms as u64,
            }
        };
        OrdCounts {
            slots,
            ords: Vec::new(),
            counts: Vec::new(),
            buckets,
        }
    }

    /// Adds `n` to ordinal `ord` in bucket `b` (an ordinal outside the dictionary is
    /// ignored).
    #[inline]
    fn add(&mut self, ord: u64, b: usize, n: u32) {
        let OrdCounts {
            slots,
            ords,
            counts,
            buckets,
        } = self;
        let mut open = || {
            ords.push(ord);
            counts.resize(counts.len() + *buckets, 0);
            ords.len() as u32
        };
        let slot = match slots {
            Slots::Dense(table) => {
                let Some(slot) = table.get_mut(ord as usize) else {
                    return;
                };
                if *slot == 0 {
                    *slot = open();
                }
                *slot
            }
            Slots::Sparse { map, num_terms } => {
                if ord >= *num_terms {
                    return;
                }
                *map.entry(ord).or_insert_with(open)
            }
        };
        let at = (slot as usize - 1) * *buckets + b;
        if let Some(c) = counts.get_mut(at) {
            *c += n;
        }
    }

    /// The counts of ordinal `ord`, one per bucket (`None` when not seen).
    fn of(&self, ord: u64) -> Option<&[u32]> {
        let slot = match &self.slots {
            Slots::Dense(table) => *table.get(ord as usize)?,
            Slots::Sparse { map, .. } => *map.get(&ord)?,
        } as usize;
        let start = slot.checked_sub(1)? * self.buckets;
        self.counts.get(start..start + self.buckets)
    }

    /// Adds the counts of another part of the same segment.
    fn absorb(&mut self, other: &OrdCounts) {
        for (i, &ord) in other.ords.iter().enumerate() {
            for b in 0..self.buckets {
                let n = other.counts[i * self.buckets + b];
                if n > 0 {
                    self.add(ord, b, n);
                }
            }
        }
    }
}

/// A segment's own top lists per bucket: (phrase, count).
pub(crate) type SegmentTops = Vec<Vec<(String, u32)>>;

/// A segment's counts of every phrase, its `phrases` column, and its own candidates
/// (name, ordinal) of a [`PhraseSelection::Top`].
type TopOfSegment = (OrdCounts, StrColumn, Vec<(String, u64)>);

/// How a scan part counts phrases.
enum PhraseCounts {
    /// Every phrase.
    All(OrdCounts),
    /// Selected phrases: per bucket, a count per row of `selected` (bucket-major: a
    /// document's bucket is found once, its phrases' counts are then one add each),
    /// and per row the earliest time counted (`i64::MAX`: none), or per bucket and row
    /// ([`PhraseCount::first_by_bucket`]).
    Only {
        selected: Arc<Selected>,
        /// The selected phrases.
        rows: usize,
        counts: Vec<u32>,
        earliest: Vec<i64>,
    },
}

/// One scan part of a [`PhraseCount`].
struct PhrasePart {
    grid: Grid,
    ts: Column<tantivy::DateTime>,
    phrases: Option<Column<u64>>,
    counts: PhraseCounts,
    docs: Vec<u64>,
    ts_buf: Vec<tantivy::DateTime>,
    ord_buf: Vec<u64>,
    /// The rows of a document's selected phrases.
    row_buf: Vec<u32>,
    /// Values read so far, and how many of them were selected.
    values: usize,
    hits: usize,
}

impl Tally for PhraseCount<'_> {
    type Part = PhrasePart;
    type Out = PhraseTally;

    fn part(
        &self,
        seg: SegmentOrdinal,
        reader: &SegmentReader,
        ts: &Column<tantivy::DateTime>,
    ) -> tantivy::Result<PhrasePart> {
        let phrases = reader.fast_fields().str("phrases")?;
        let counts = match (self.selection, &phrases) {
            (PhraseSelection::Only(terms), Some(col)) => {
                let selected = self.selected.get(seg, || {
                    let ords = match self.known.and_then(|k| k.get(seg as usize)?.as_ref()) {
                        Some(ords) => ords.clone(),
                        None => {
                            let refs: Vec<&str> = terms.iter().map(String::as_str).collect();
                            ords_of(col, &refs)?
                        }
                    };
                    let found: Vec<(u64, u32)> = ords
                        .into_iter()
                        .zip(0u32..)
                        .filter(|(o, _)| *o != u64::MAX)
                        .collect();
                    Ok(Selected::new(col.num_terms(), found))
                })?;
                let firsts = if self.first_by_bucket {
                    self.buckets.count
                } else {
                    1
                };
                PhraseCounts::Only {
                    selected,
                    rows: terms.len(),
                    counts: vec![0; terms.len() * self.buckets.count],
                    earliest: vec![i64::MAX; terms.len() * firsts],
                }
            }
            (_, Some(col)) => {
                PhraseCounts::All(OrdCounts::new(col.num_terms(), self.buckets.count))
            }
            (_, None) => PhraseCounts::All(OrdCounts::new(0, self.buckets.count)),
        };
        // A segment holding none of the selected phrases only counts its mentions.
        let none_selected =
            matches!(&counts, PhraseCounts::Only { selected, .. } if selected.len == 0);
        Ok(PhrasePart {
            grid: self.buckets.grid(),
            ts: ts.clone(),
            phrases: phrases.filter(|_| !none_selected).map(|c| c.ords().clone()),
            counts,
            docs: vec![0; self.buckets.count],
            ts_buf: Vec::new(),
            ord_buf: Vec::new(),
            row_buf: Vec::new(),
            values: 0,
            hits: 0,
        })
    }

    fn collect(&self, p: &mut PhrasePart, docs: &[DocId]) {
        vals(&p.ts, docs, &mut p.ts_buf, tantivy::DateTime::MIN);
        let mut at = Span::EMPTY;
        for (i, doc) in docs.iter().enumerate() {
            let ts = p.ts_buf[i].into_timestamp_nanos();
            let Some(b) = at.of(ts).or_else(|| {
                let b = p.grid.of(ts)?;
                at = p.grid.span(b);
                Some(b)
            }) else {
                continue;
            };
            if let Some(plan) = self.kept
                && plan.keeps(ts)
            {
                continue;
            }
            p.docs[b] += 1;
            let Some(ords) = &p.phrases else {
                continue;
            };
            let values = doc_values(ords, *doc, &mut p.ord_buf);
            match &mut p.counts {
                PhraseCounts::All(counts) => {
                    for &o in values {
                        counts.add(o, b, 1);
                    }
                }
                PhraseCounts::Only {
                    selected,
                    rows,
                    counts,
                    earliest,
                } => {
                    // Where many values are selected (a background of frequent phrases)
                    // a branch per value is mispredicted often, where few are (one
                    // phrase's first sighting) it almost never is and costs less than
                    // the branchless lookup: the part's values so far decide.
                    p.row_buf.clear();
                    if p.hits * 8 > p.values {
                        selected.rows_of(values, &mut p.row_buf);
                    } else {
                        p.row_buf.extend(
                            values
                                .iter()
                                .filter_map(|o| selected.row(*o))
                                .map(|r| r as u32),
                        );
                    }
                    p.values += values.len();
                    p.hits += p.row_buf.len();
                    let base = b * *rows;
                    let first_base = if self.first_by_bucket { base } else { 0 };
                    for &row in &p.row_buf {
                        let row = row as usize;
                        if let Some(c) = counts.get_mut(base + row) {
                            *c += 1;
                        }
                        // Rarely earlier than what was seen: a store only then.
                        if let Some(e) = earliest.get_mut(first_base + row)
                            && ts < *e
                        {
                            *e = ts;
                        }
                    }
                }
            }
        }
    }

    fn merge(
        &self,
        searcher: &Searcher,
        parts: Vec<(SegmentOrdinal, PhrasePart)>,
    ) -> tantivy::Result<PhraseTally> {
        debug_assert!(!self.first_by_bucket, "per-bucket firsts are read by days");
        let nb = self.buckets.count;
        let mut out = PhraseTally {
            docs: vec![0; nb],
            phrases: HashMap::new(),
            earliest: HashMap::new(),
        };
        let mut earliest_of: HashMap<&str, i64> = HashMap::new();
        let mut add = |phrase: &str, counts: &mut dyn Iterator<Item = u64>| {
            let acc = match out.phrases.get_mut(phrase) {
                Some(acc) => acc,
                None => out.phrases.entry(phrase.to_owned()).or_insert(vec![0; nb]),
            };
            for (a, c) in acc.iter_mut().zip(counts) {
                *a += c;
            }
        };
        // The parts of one segment share its ordinals: join their counts first.
        let mut all: Vec<(SegmentOrdinal, OrdCounts)> = Vec::new();
        let mut docs = vec![0u64; nb];
        for (seg, part) in parts {
            for (d, n) in docs.iter_mut().zip(&part.docs) {
                *d += n;
            }
            match part.counts {
                PhraseCounts::Only {
                    counts, earliest, ..
                } => {
                    if let PhraseSelection::Only(terms) = self.selection {
                        for (i, t) in terms.iter().enumerate() {
                            add(
                                t,
                                &mut (0..nb).map(|b| u64::from(counts[b * terms.len() + i])),
                            );
                            if let Some(&e) = earliest.get(i).filter(|e| **e != i64::MAX) {
                                let at = earliest_of.entry(t.as_str()).or_insert(e);
                                *at = (*at).min(e);
                            }
                        }
                    }
                }
                PhraseCounts::All(counts) => join_segment_counts(&mut all, seg, counts),
            }
        }
        if let PhraseSelection::Top(n) = self.selection {
            // Per segment and bucket, the `n·1.5 + 10` most frequent ordinals, named; then
            // every named phrase's counts in every segment, which the segments' counts of
            // all their ordinals hold: exact counts of the candidates in the same scan.
            let mut named: Vec<TopOfSegment> = Vec::with_capacity(all.len());
            for (seg, counts) in all {
                if let Some(top) = segment_top(searcher, seg, &counts, n)? {
                    named.push((counts, top.col, top.names));
                }
            }
            let mut union: Vec<&str> = named
                .iter()
                .flat_map(|(.., names)| names.iter().map(|(t, _)| t.as_str()))
                .collect();
            union.sort_unstable();
            union.dedup();
            for (counts, col, names) in &named {
                // A segment's own candidates come with their ordinals; the others are
                // looked up in its dictionary.
                let mut own: Vec<(&str, u64)> =
                    names.iter().map(|(t, o)| (t.as_str(), *o)).collect();
                own.sort_unstable();
                let others: Vec<&str> = union
                    .iter()
                    .copied()
                    .filter(|t| own.binary_search_by(|(o, _)| o.cmp(t)).is_err())
                    .collect();
                let found = ords_of(col, &others)?;
                let ords = own.iter().copied().chain(
                    others
                        .into_iter()
                        .zip(found)
                        .filter(|(_, o)| *o != u64::MAX),
                );
                for (name, o) in ords {
                    let of = counts.of(o).unwrap_or_default();
                    add(name, &mut of.iter().map(|c| u64::from(*c)));
                }
            }
        }
        if let PhraseSelection::Only(terms) = self.selection {
            // Every selected phrase is answered, zeros included.
            for t in terms {
                add(t, &mut std::iter::empty());
            }
        }
        out.docs = docs;
        out.earliest = earliest_of
            .into_iter()
            .map(|(t, e)| (t.to_owned(), DateTime::from_timestamp_nanos(e)))
            .collect();
        Ok(out)
    }
}

/// One segment's own candidates of a [`PhraseSelection::Top`].
struct SegmentTop {
    /// Its `phrases` column.
    col: StrColumn,
    /// Per bucket, (count, ordinal) of its most frequent phrases.
    per_bucket: Vec<Vec<(u32, u64)>>,
    /// Their names with their ordinals, by ordinal.
    names: Vec<(String, u64)>,
}

/// Segment `seg`'s own candidates of a [`PhraseSelection::Top`]`(n)` from its counts of
/// every phrase: per bucket the `n·1.5 + 10` most frequent (as Elasticsearch's
/// `shard_size`), named; `None` for a segment without phrases.
fn segment_top(
    searcher: &Searcher,
    seg: SegmentOrdinal,
    counts: &OrdCounts,
    n: usize,
) -> tantivy::Result<Option<SegmentTop>> {
    let Some(col) = searcher.segment_reader(seg).fast_fields().str("phrases")? else {
        return Ok(None);
    };
    let top = n + n / 2 + 10;
    let nb = counts.buckets;
    let mut per_bucket: Vec<Vec<(u32, u64)>> = vec![Vec::new(); nb];
    for (i, &ord) in counts.ords.iter().enumerate() {
        for (list, &n) in per_bucket.iter_mut().zip(&counts.counts[i * nb..]) {
            if n > 0 {
                list.push((n, ord));
            }
        }
    }
    let mut chosen: Vec<u64> = Vec::new();
    for list in &mut per_bucket {
        if list.len() > top {
            list.select_nth_unstable_by(top, |a, b| b.cmp(a));
            list.truncate(top);
        }
        chosen.extend(list.iter().map(|(_, o)| *o));
    }
    chosen.sort_unstable();
    chosen.dedup();
    let mut names = Vec::with_capacity(chosen.len());
    col.dictionary().sorted_ords_to_term_cb(&chosen, |t| {
        names.push(String::from_utf8_lossy(t).into_owned());
    })?;
    Ok(Some(SegmentTop {
        col,
        per_bucket,
        names: names.into_iter().zip(chosen).collect(),
    }))
}

/// Per group of phrases, the earliest time and the newest `keep` documents with any
/// phrase of the group.
struct PhraseDocs<'a> {
    groups: &'a [Vec<String>],
    keep: usize,
    /// Each segment's ordinals of the groups' phrases, looked up once for all its parts.
    ords: PerSegment<GroupOrds>,
}

/// The ordinals of [`PhraseDocs`]' groups' phrases in one segment: a selected one's row
/// is its entry in `groups_of`, the groups holding it.
struct GroupOrds {
    selected: Selected,
    groups_of: Vec<Vec<usize>>,
}

/// One scan part of [`PhraseDocs`].
struct PhraseDocsPart {
    ts: Column<tantivy::DateTime>,
    phrases: Option<Column<u64>>,
    /// The ordinals of the groups' phrases.
    ords: Arc<GroupOrds>,
    earliest: Vec<Option<i64>>,
    /// Per group, the newest documents kept so far: a min-heap on (time, newer doc).
    newest: Vec<Newest>,
    ts_buf: Vec<Option<tantivy::DateTime>>,
    ord_buf: Vec<u64>,
    hit: Vec<usize>,
}

/// The newest documents kept: a min-heap on (time, lower document id), so its top is
/// the first to give way.
type Newest = std::collections::BinaryHeap<std::cmp::Reverse<(i64, std::cmp::Reverse<DocId>)>>;

/// Per group: the earliest time (nanoseconds) and the newest documents, newest first.
type GroupDocs = Vec<(Option<i64>, Vec<(i64, tantivy::DocAddress)>)>;

impl Tally for PhraseDocs<'_> {
    type Part = PhraseDocsPart;
    type Out = GroupDocs;

    fn part(
        &self,
        seg: SegmentOrdinal,
        reader: &SegmentReader,
        ts: &Column<tantivy::DateTime>,
    ) -> tantivy::Result<PhraseDocsPart> {
        let col = reader.fast_fields().str("phrases")?;
        let ords = self.ords.get(seg, || {
            // (ordinal, group) of every phrase the segment has, then the groups per
            // ordinal.
            let mut pairs: Vec<(u64, usize)> = Vec::new();
            if let Some(col) = &col {
                for (g, group) in self.groups.iter().enumerate() {
                    let refs: Vec<&str> = group.iter().map(String::as_str).collect();
                    for o in ords_of(col, &refs)? {
                        if o != u64::MAX {
                            pairs.push((o, g));
                        }
                    }
                }
            }
            pairs.sort_unstable();
            pairs.dedup();
            let mut found: Vec<(u64, u32)> = Vec::new();
            let mut groups_of: Vec<Vec<usize>> = Vec::new();
            for (o, g) in pairs {
                if found.last().is_none_or(|(last, _)| *last != o) {
                    found.push((o, groups_of.len() as u32));
                    groups_of.push(Vec::new());
                }
                if let Some(gs) = groups_of.last_mut() {
                    gs.push(g);
                }
            }
            let num_terms = col.as_ref().map_or(0, |c| c.num_terms());
            Ok(GroupOrds {
                selected: Selected::new(num_terms, found),
                groups_of,
            })
        })?;
        Ok(PhraseDocsPart {
            ts: ts.clone(),
            // A segment holding none of the groups' phrases has nothing to read.
            phrases: col
                .filter(|_| !ords.groups_of.is_empty())
                .map(|c| c.ords().clone()),
            ords,
            earliest: vec![None; self.groups.len()],
            newest: vec![std::collections::BinaryHeap::new(); self.groups.len()],
            ts_buf: Vec::new(),
            ord_buf: Vec::new(),
            hit: Vec::new(),
        })
    }

    fn collect(&self, p: &mut PhraseDocsPart, docs: &[DocId]) {
        let Some(ords) = &p.phrases else {
            return;
        };
        first_vals(&p.ts, docs, &mut p.ts_buf);
        for (i, doc) in docs.iter().enumerate() {
            let Some(ts) = p.ts_buf[i].map(|t| t.into_timestamp_nanos()) else {
                continue;
            };
            p.hit.clear();
            for &o in doc_values(ords, *doc, &mut p.ord_buf) {
                if let Some(gs) = p.ords.selected.row(o).and_then(|r| p.ords.groups_of.get(r)) {
                    p.hit.extend(gs.iter().copied());
                }
            }
            p.hit.sort_unstable();
            p.hit.dedup();
            for &g in &p.hit {
                let e = &mut p.earliest[g];
                *e = Some(e.map_or(ts, |m| m.min(ts)));
                if self.keep == 0 {
                    continue;
                }
                let heap = &mut p.newest[g];
                let entry = std::cmp::Reverse((ts, std::cmp::Reverse(*doc)));
                if heap.len() < self.keep {
                    heap.push(entry);
                } else if heap.peek().is_some_and(|least| entry < *least) {
                    heap.pop();
                    heap.push(entry);
                }
            }
        }
    }

    fn merge(
        &self,
        _: &Searcher,
        parts: Vec<(SegmentOrdinal, PhraseDocsPart)>,
    ) -> tantivy::Result<GroupDocs> {
        let mut out: GroupDocs = vec![(None, Vec::new()); self.groups.len()];
        for (seg, part) in parts {
            for (g, (e, heap)) in part.earliest.into_iter().zip(part.newest).enumerate() {
                let (min, docs) = &mut out[g];
                if let Some(e) = e {
                    *min = Some(min.map_or(e, |m: i64| m.min(e)));
                }
                docs.extend(heap.into_iter().map(
                    |std::cmp::Reverse((ts, std::cmp::Reverse(doc)))| {
                        (ts, tantivy::DocAddress::new(seg, doc))
                    },
                ));
            }
        }
        for (_, docs) in &mut out {
            docs.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            docs.truncate(self.keep);
        }
        Ok(out)
    }
}

/// The smallest `ts` of the matching documents, in nanoseconds.
struct Earliest;

/// One scan part of [`Earliest`].
struct EarliestPart {
    ts: Column<tantivy::DateTime>,
    min: Option<i64>,
    buf: Vec<Option<tantivy::DateTime>>,
}

impl Tally for Earliest {
    type Part = EarliestPart;
    type Out = Option<i64>;

    fn part(
        &self,
        _: SegmentOrdinal,
        _: &SegmentReader,
        ts: &Column<tantivy::DateTime>,
    ) -> tantivy::Result<EarliestPart> {
        Ok(EarliestPart {
            ts: ts.clone(),
            min: None,
            buf: Vec::new(),
        })
    }

    fn collect(&self, p: &mut EarliestPart, docs: &[DocId]) {
        first_vals(&p.ts, docs, &mut p.buf);
        for t in p.buf.iter().flatten() {
            let t = t.into_timestamp_nanos();
            p.min = Some(p.min.map_or(t, |m| m.min(t)));
        }
    }

    fn merge(
        &self,
        _: &Searcher,
        parts: Vec<(SegmentOrdinal, EarliestPart)>,
    ) -> tantivy::Result<Option<i64>> {
        Ok(parts.into_iter().filter_map(|(_, p)| p.min).min())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use lauscher_model::Lang;
    use lauscher_model::{Intent, Label, TopicKind};

    /// A selected ordinal finds its row through its rank, across word boundaries; any
    /// other ordinal, inside the dictionary or beyond it, finds none.
    #[test]
    fn a_selection_finds_the_row_of_each_selected_ordinal() {
        let found = vec![(199, 1), (3, 5), (64, 0), (65, 2), (3, 5)];
        let s = Selected::new(200, found);
        let rows: Vec<Option<usize>> = [3, 64, 65, 199, 0, 4, 63, 66, 198, 200, 10_000]
            .into_iter()
            .map(|o| s.row(o))
            .collect();
        let mut batch = vec![7];
        s.rows_of(&[3, 0, 64, 200, 65, 3, 199, 63], &mut batch);
        assert_eq!(
            batch,
            [7, 5, 0, 2, 5, 1],
            "appended, in order, unselected left out"
        );
        assert_eq!(
            rows,
            [
                Some(5),
                Some(0),
                Some(2),
                Some(1),
                None,
                None,
                None,
                None,
                None,
                None,
                None
            ]
        );
    }

    /// Counts per ordinal and bucket, dense or by map: added, read back, joined with
    /// another part's.
    #[test]
    fn ordinal_counts_add_up_per_bucket_and_across_parts() {
        for dense in [usize::MAX, 0] {
            let mut a = OrdCounts::with_dense_limit(100, 3, dense);
            a.add(7, 0, 1);
            a.add(7, 2, 2);
            a.add(99, 1, 1);
            a.add(100, 1, 1); // outside the dictionary: ignored
            let mut b = OrdCounts::with_dense_limit(100, 3, dense);
            b.add(99, 1, 4);
            b.add(0, 2, 1);
            a.absorb(&b);
            assert_eq!(a.of(7), Some(&[1, 0, 2][..]), "dense up to {dense}");
            assert_eq!(a.of(99), Some(&[0, 5, 0][..]));
            assert_eq!(a.of(0), Some(&[0, 0, 1][..]));
            assert_eq!(a.of(50), None);
            assert_eq!(a.of(100), None);
            assert_eq!(a.ords, [7, 99, 0], "slots in the order first seen");
        }
    }

    /// Cutting one segment into document ranges counts every document once, and
    /// authors seen in both halves once.
    #[test]
    fn parts_of_one_segment_count_like_the_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = MentionIndex::open(dir.path(), &[Lang::En]).expect("index");
        let t0 = Utc
            .with_ymd_and_hms(2026, 11, 2, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let mut w = index.writer(32 << 20, 1).expect("writer");
        for i in 0..301u32 {
            let at = t0 + Duration::minutes(i64::from(i) * 13);
            let text = format!("login fails again {}", ["today", "now"][(i % 2) as usize]);
            let m = lauscher_testkit::scored(u128::from(i) + 1, &text)
                .lang("en")
                .source("social")
                .url(None)
                .author(&format!("user{}", i % 17), None)
                .at(at)
                .sentiment(0.0, [Label::Negative, Label::Neutral][(i % 2) as usize])
                .intent(Intent::Other)
                .topics(&[], TopicKind::Brand)
                .build();
            w.add(&m, false).expect("add");
        }
        w.commit(0).expect("commit");
        w.close().expect("close");
        index.reload().expect("reload");
        let searcher = index.current().reader.searcher();
        assert_eq!(searcher.segment_readers().len(), 1);
        let query = index
            .current()
            .build_query(&SearchRequest::default())
            .expect("query");
        let buckets = Buckets {
            origin: t0,
            step: Duration::days(1),
            count: 3,
        };
        let shared = index.current().authors.of(&searcher).expect("authors");
        let spans = index.current().spans.clone();
        let labels = LabelCount {
            buckets,
            authors: Some(&shared),
        };
        let phrases = ["login".to_owned(), "now".to_owned()];
        let phrase = PhraseCount::new(buckets, PhraseSelection::Only(&phrases));
        let whole = scan(&searcher, &spans, query.as_ref(), &labels, u32::MAX).expect("whole");
        let parts = scan(&searcher, &spans, query.as_ref(), &labels, 7).expect("parts");
        assert_eq!(whole, parts);
        assert_eq!(whole.iter().map(LabelTally::total).sum::<u64>(), 301);
        assert!(whole.iter().all(|t| t.authors == 17));
        let whole = scan(&searcher, &spans, query.as_ref(), &phrase, u32::MAX).expect("whole");
        let parts = scan(&searcher, &spans, query.as_ref(), &phrase, 7).expect("parts");
        assert_eq!(whole, parts);
        assert_eq!(whole.phrases["login"].iter().sum::<u64>(), 301);
        assert_eq!(whole.phrases["now"].iter().sum::<u64>(), 150);
        let top = PhraseCount::new(buckets, PhraseSelection::Top(5));
        assert_eq!(
            scan(&searcher, &spans, query.as_ref(), &top, u32::MAX).expect("whole"),
            scan(&searcher, &spans, query.as_ref(), &top, 7).expect("parts")
        );
    }

    /// One scan for all groups finds what a search and an earliest per group find,
    /// across segments.
    #[test]
    fn phrase_mentions_equal_a_search_per_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = MentionIndex::open(dir.path(), &[Lang::En]).expect("index");
        let t0 = Utc
            .with_ymd_and_hms(2026, 11, 2, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let texts = [
            "login fails again",
            "the app crashes at login",
            "train late again",
        ];
        let mut w = index.writer(32 << 20, 1).expect("writer");
        for i in 0..120u32 {
            // Distinct times, not in index order.
            let at = t0 + Duration::minutes(i64::from((i * 37) % 120));
            let m = lauscher_testkit::scored(u128::from(i) + 1, texts[(i % 3) as usize])
                .lang("en")
                .at(at)
                .build();
            w.add(&m, false).expect("add");
            if i == 59 {
                w.commit(0).expect("commit");
            }
        }
        w.commit(1).expect("commit");
        w.close().expect("close");
        index.reload().expect("reload");
        assert!(index.num_segments() >= 2);
        let buckets = Buckets {
            origin: t0,
            step: Duration::days(1),
            count: 1,
        };
        let top = index
            .phrase_tally(
                &SearchRequest::default(),
                None,
                buckets,
                PhraseSelection::Top(10),
            )
            .expect("top");
        let mut keys: Vec<String> = top.phrases.into_keys().collect();
        keys.sort();
        assert!(keys.len() >= 3, "{keys:?}");
        let groups = vec![
            vec![keys[0].clone()],
            vec![keys[1].clone(), keys[2].clone()],
            vec!["no such phrase".to_owned()],
        ];
        let req = SearchRequest {
            since: Some(t0 + Duration::minutes(10)),
            ..SearchRequest::default()
        };
        let found = index
            .phrase_mentions(&req, None, &groups, 7)
            .expect("phrase mentions");
        assert_eq!(found.len(), 3);
        for (group, got) in groups.iter().zip(&found) {
            let one = SearchRequest {
                phrases: group.clone(),
                limit: 7,
                ..req.clone()
            };
            let ids = |hits: &[crate::IndexedMention]| -> Vec<String> {
                hits.iter().map(|m| m.id.to_string()).collect()
            };
            let expected = index.search(&one, None).expect("search").hits;
            assert_eq!(ids(&got.newest), ids(&expected), "{group:?}");
            assert_eq!(
                got.earliest,
                index.earliest(&one, None).expect("earliest"),
                "{group:?}"
            );
        }
        assert!(found[2].newest.is_empty() && found[2].earliest.is_none());
        assert_eq!(found[0].newest.len(), 7);
    }

    /// An author posting in several segments counts once, also after more segments
    /// (and new authors) arrive and after a merge.
    #[test]
    fn distinct_authors_span_segments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = MentionIndex::open(dir.path(), &[Lang::En]).expect("index");
        let t0 = Utc
            .with_ymd_and_hms(2026, 11, 2, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let buckets = Buckets {
            origin: t0,
            step: Duration::days(1),
            count: 2,
        };
        let mut w = index.writer(32 << 20, 1).expect("writer");
        let mut id = 0u128;
        let mut add = |w: &mut crate::MentionWriter, author: &str, day: i64| {
            id += 1;
            let m = lauscher_testkit::scored(id, "the train is late")
                .lang("en")
                .author(author, None)
                .at(t0 + Duration::days(day) + Duration::minutes(id as i64))
                .build();
            w.add(&m, false).expect("add");
        };
        let counts = |index: &MentionIndex| -> Vec<u64> {
            index.reload().expect("reload");
            index
                .label_tally(&SearchRequest::default(), None, buckets, true)
                .expect("tally")
                .iter()
                .map(|t| t.authors)
                .collect()
        };
        for a in ["anna", "ben", "cem"] {
            add(&mut w, a, 0);
        }
        w.commit(0).expect("commit");
        assert_eq!(counts(&index), [3, 0]);
        // A second segment: ben again on day 0, dora new; anna on day 1.
        add(&mut w, "ben", 0);
        add(&mut w, "dora", 0);
        add(&mut w, "anna", 1);
        w.commit(1).expect("commit");
        assert_eq!(counts(&index), [4, 1]);
        assert!(index.num_segments() >= 2);
        add(&mut w, "emil", 1);
        add(&mut w, "anna", 1);
        w.commit(2).expect("commit");
        assert_eq!(counts(&index), [4, 2]);
        w.close().expect("close");
        let ids = index
            .current()
            .reader
            .searcher()
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect::<Vec<_>>();
        let mut writer: tantivy::IndexWriter =
            index.current().index.writer(32 << 20).expect("writer");
        let _ = writer.merge(&ids).wait().expect("merge");
        writer.wait_merging_threads().expect("wait");
        index.reload().expect("reload");
        assert_eq!(index.num_segments(), 1);
        assert_eq!(counts(&index), [4, 2]);
    }
}
