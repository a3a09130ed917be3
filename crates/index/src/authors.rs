//! Author numbers shared by all segments, for counting distinct authors.
//!
//! Each segment numbers the terms of its `author` column in its own dictionary order,
//! so the same author has another ordinal in every segment. Counting distinct authors
//! over many segments would mean reading every counted author's name back and
//! de-duplicating the names. Instead each segment's ordinals are mapped once, when a
//! searcher first counts authors in that segment, to numbers shared by the whole index
//! (Elasticsearch's "global ordinals"); a count is then one bitset over those numbers
//! and a popcount.
//!
//! Cost: one pass over a segment's author dictionary (about 100 ns per author) the
//! first time it is counted, 4 bytes per author per live segment, and 12 bytes per
//! distinct author name (a 64-bit hash of it: two authors of one index sharing a hash
//! would be counted once, at odds of about n²/2⁶⁵). Numbers of authors whose segments
//! were all merged away are dropped when the table is rebuilt, which happens once it
//! holds more than twice the numbers its live segments use.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use rustc_hash::{FxBuildHasher, FxHashMap};
use tantivy::Searcher;
use tantivy::index::SegmentId;

/// Distinct authors by shared number ([`SharedAuthors`]): a bit each, so a set costs
/// the index's authors / 8 bytes and a union is an OR of words.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuthorSet(Vec<u64>);

impl AuthorSet {
    /// An empty set for `count` numbers.
    pub(crate) fn new(count: usize) -> Self {
        AuthorSet(vec![0; count.div_ceil(64)])
    }

    /// Adds number `n` (ignored past the set's count).
    #[inline]
    pub(crate) fn insert(&mut self, n: u32) {
        if let Some(w) = self.0.get_mut((n / 64) as usize) {
            *w |= 1 << (n % 64);
        }
    }

    /// Adds every author of `other`.
    pub(crate) fn union(&mut self, other: &AuthorSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    /// The authors in the set.
    pub(crate) fn len(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}

/// The shared author numbers of the segments of one searcher.
pub(crate) struct SharedAuthors {
    /// Per segment ordinal of the searcher: author column ordinal → shared number
    /// (empty for a segment without the column).
    pub(crate) segments: Vec<Arc<Vec<u32>>>,
    /// Numbers in use: every shared number is below this.
    pub(crate) count: usize,
}

/// The table of shared author numbers, kept by the index across searchers.
#[derive(Default)]
pub(crate) struct AuthorOrdinals {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    /// Hash of an author's name → its shared number.
    numbers: FxHashMap<u64, u32>,
    /// Segment → its ordinal-to-number map.
    segments: FxHashMap<SegmentId, Arc<Vec<u32>>>,
}

impl AuthorOrdinals {
    /// The shared numbers of `searcher`'s segments, mapping the segments not seen
    /// before.
    pub(crate) fn of(&self, searcher: &Searcher) -> tantivy::Result<SharedAuthors> {
        let mut table = match self.table.lock() {
            Ok(t) => t,
            // A panic while mapping left at worst a partial table: start again.
            Err(poisoned) => {
                let mut t = poisoned.into_inner();
                *t = Table::default();
                t
            }
        };
        let readers = searcher.segment_readers();
        let live: usize = readers
            .iter()
            .filter_map(|r| table.segments.get(&r.segment_id()))
            .map(|m| m.len())
            .sum();
        if table.numbers.len() > 2 * live.max(1 << 16) {
            *table = Table::default();
        }
        let mut segments = Vec::with_capacity(readers.len());
        for reader in readers {
            let id = reader.segment_id();
            if let Some(map) = table.segments.get(&id) {
                segments.push(map.clone());
                continue;
            }
            let mut map = Vec::new();
            if let Some(col) = reader.fast_fields().str("author")? {
                map.reserve(col.num_terms());
                let mut stream = col.dictionary().stream()?;
                while stream.advance() {
                    let hash = FxBuildHasher.hash_one(stream.key());
                    let next = u32::try_from(table.numbers.len()).unwrap_or(u32::MAX);
                    map.push(*table.numbers.entry(hash).or_insert(next));
                }
            }
            let map = Arc::new(map);
            table.segments.insert(id, map.clone());
            segments.push(map);
        }
        let ids: Vec<SegmentId> = readers.iter().map(|r| r.segment_id()).collect();
        table.segments.retain(|id, _| ids.contains(id));
        Ok(SharedAuthors {
            segments,
            count: table.numbers.len(),
        })
    }
}
