//! Mention ids in the index: two 64-bit halves, a lookup key, and the query that finds
//! an id.
//!
//! A mention id is 128 random-looking bits. Indexed whole, each was a 16-byte term
//! (34 bytes a mention in the term dictionary, the largest share of its FST building)
//! plus a stored copy. Layout 5 kept the low half as an indexed `u64` and both halves
//! as columns: still one term per mention, 19 bytes each (0.20 × the raw text on 73k
//! real posts, the largest part of the index after the doc store, the `phrases` column
//! and the text's postings). Layout 6 indexes only a [`KEY_BITS`]-bit key of
//! the low half ([`key`]; `id_key`, and `repost_key` for a repost's original), so the
//! dictionary has at most 65,536 terms whatever the index's size; [`IdQuery`] reads the
//! key's postings and keeps the candidates whose halves match in the columns.
//!
//! Cost of an [`IdQuery`]: one term lookup per segment and two column reads per
//! candidate: about one candidate per 65,536 mentions (150 at 10M), microseconds. (A
//! range query on a column would instead scan the column: milliseconds per lookup at
//! 10M mentions, paid by every replacement during a reindex or crash replay.)
//! [`SegmentIds`] looks up many ids in a segment at once (the repost counts of a page
//! of hits).

use lauscher_model::MentionId;
use tantivy::columnar::Column;
use tantivy::query::{EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::{Field, IndexRecordOption, Term};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError};

use crate::schema::Fields;

/// The bits of an id's low half its lookup key keeps.
pub(crate) const KEY_BITS: u32 = 16;

/// The high and low 64 bits of `id`, as the `id_high` and `id_low` fields (and
/// `repost_high`, `repost_low`) keep them.
pub(crate) fn halves(id: MentionId) -> (u64, u64) {
    ((id.0 >> 64) as u64, id.0 as u64)
}

/// The lookup key of an id whose low half is `low` (the `id_key` and `repost_key`
/// fields): the top [`KEY_BITS`] bits of its product with 2⁶⁴/φ (Fibonacci hashing), so
/// that hash ids and numbered ids alike spread evenly over the keys. (The low half's
/// own top bits put every numbered id under key 0: with the insights bench's ids
/// 1..1M, each lookup read a million postings.)
pub(crate) fn key(low: u64) -> u64 {
    low.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - KEY_BITS)
}

/// The id whose halves are `high` and `low` (see [`halves`]).
pub(crate) fn id_of_halves(high: u64, low: u64) -> MentionId {
    MentionId((u128::from(high) << 64) | u128::from(low))
}

/// The three fields that keep one id of a mention: its own (`id_high`, `id_low`,
/// `id_key`) or the original it reposts (`repost_high`, `repost_low`, `repost_key`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct IdFields {
    high: Field,
    low: Field,
    key: Field,
}

impl IdFields {
    /// The mention's own id.
    pub(crate) fn mention(f: &Fields) -> IdFields {
        IdFields {
            high: f.id_high,
            low: f.id_low,
            key: f.id_key,
        }
    }

    /// The original a repost reposts.
    pub(crate) fn repost(f: &Fields) -> IdFields {
        IdFields {
            high: f.repost_high,
            low: f.repost_low,
            key: f.repost_key,
        }
    }

    /// Adds `id` to `doc`: its halves and its lookup key.
    pub(crate) fn add(self, doc: &mut tantivy::TantivyDocument, id: MentionId) {
        let (high, low) = halves(id);
        doc.add_u64(self.high, high);
        doc.add_u64(self.low, low);
        doc.add_u64(self.key, key(low));
    }
}

/// The documents of a mention id: what a get, a replacement or a deletion finds.
#[derive(Clone, Debug)]
pub(crate) struct IdQuery {
    fields: IdFields,
    id: MentionId,
}

impl IdQuery {
    /// The mention `id`.
    pub(crate) fn mention(f: &Fields, id: MentionId) -> IdQuery {
        IdQuery {
            fields: IdFields::mention(f),
            id,
        }
    }
}

impl Query for IdQuery {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl IdQuery {
    /// The documents of the segment `reader` with this id, ascending.
    fn docs(&self, reader: &SegmentReader) -> tantivy::Result<Vec<DocId>> {
        let mut docs = Vec::new();
        SegmentIds::open(reader, self.fields)?.for_each(self.id, |d| {
            docs.push(d);
        })?;
        Ok(docs)
    }
}

/// One segment's lookup of ids by one of the key fields (`id_key` or `repost_key`): its
/// postings and the two half columns, opened once for any number of ids.
///
/// Cost: opening is a field lookup; the columns are opened at the first candidate (a
/// column's opening reads the segment's column directory, microseconds, which a lookup
/// of many ids, such as the repost counts of a page of hits, pays once per segment
/// instead of once per id and segment); then one term lookup per id and two column
/// reads per candidate.
pub(crate) struct SegmentIds<'r> {
    reader: &'r SegmentReader,
    postings: std::sync::Arc<tantivy::InvertedIndexReader>,
    fields: IdFields,
    columns: Option<(Column<u64>, Column<u64>)>,
}

impl<'r> SegmentIds<'r> {
    /// The lookup of `reader`'s documents by the key of `fields`, confirmed in their
    /// columns.
    pub(crate) fn open(reader: &'r SegmentReader, fields: IdFields) -> tantivy::Result<Self> {
        Ok(SegmentIds {
            reader,
            postings: reader.inverted_index(fields.key)?,
            fields,
            columns: None,
        })
    }

    /// Calls `found` with each document with `id`, ascending, deleted ones included.
    pub(crate) fn for_each(
        &mut self,
        id: MentionId,
        mut found: impl FnMut(DocId),
    ) -> tantivy::Result<()> {
        let (high, low) = halves(id);
        let term = Term::from_field_u64(self.fields.key, key(low));
        let Some(mut postings) = self
            .postings
            .read_postings(&term, IndexRecordOption::Basic)?
        else {
            return Ok(());
        };
        let (lows, highs) = match &self.columns {
            Some(columns) => columns,
            None => {
                let fast = self.reader.fast_fields();
                let name = |f: Field| self.reader.schema().get_field_name(f);
                let columns = (
                    fast.u64(name(self.fields.low))?,
                    fast.u64(name(self.fields.high))?,
                );
                self.columns.insert(columns)
            }
        };
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if lows.first(doc) == Some(low) && highs.first(doc) == Some(high) {
                found(doc);
            }
            doc = postings.advance();
        }
        Ok(())
    }
}

impl Weight for IdQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let docs = self.docs(reader)?;
        if docs.is_empty() {
            return Ok(Box::new(EmptyScorer));
        }
        Ok(Box::new(Docs {
            docs,
            at: 0,
            score: boost,
        }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        match self.docs(reader)?.contains(&doc) {
            true => Ok(Explanation::new("IdQuery", 1.0)),
            false => Err(TantivyError::InvalidArgument(format!(
                "document {doc} is not mention {}",
                self.id
            ))),
        }
    }
}

/// The few documents an [`IdQuery`] found in a segment, ascending.
struct Docs {
    docs: Vec<DocId>,
    at: usize,
    score: Score,
}

impl DocSet for Docs {
    fn advance(&mut self) -> DocId {
        self.at = (self.at + 1).min(self.docs.len());
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.at).copied().unwrap_or(TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        self.docs.len() as u32
    }
}

impl Scorer for Docs {
    fn score(&mut self) -> Score {
        self.score
    }
}
