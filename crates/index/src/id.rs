//! Mention ids in the index: two 64-bit halves, and the query that finds an id.
//!
//! A mention id is 128 random-looking bits. Indexed whole, each was a 16-byte term
//! (34 bytes a mention in the term dictionary, the largest share of its FST building)
//! plus a stored copy. Layout 5 keeps the low half as an indexed `u64` and both halves
//! as columns (`id_high`, `id_low`; `repost_high`, `repost_low` for a repost's
//! original): [`IdQuery`] looks the low half up and confirms each candidate's high half
//! in its column, so ids that share a low half (about one pair in 4·10⁹ hash ids at
//! 10M mentions; small ids made by hand, as in tests, differ there) are still told
//! apart.
//!
//! Cost of an [`IdQuery`]: one term lookup and one column read per candidate and
//! segment, like a term query. (A range query on the high half's column would instead
//! scan the column from the segment's start to the match: milliseconds per lookup at
//! 10M mentions, paid by every replacement during a reindex or crash replay.)

use lauscher_model::MentionId;
use tantivy::query::{EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::{Field, IndexRecordOption, Term};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError};

/// The high and low 64 bits of `id`, as the `id_high` and `id_low` fields (and
/// `repost_high`, `repost_low`) keep them.
pub(crate) fn halves(id: MentionId) -> (u64, u64) {
    ((id.0 >> 64) as u64, id.0 as u64)
}

/// The id whose halves are `high` and `low` (see [`halves`]).
pub(crate) fn id_of_halves(high: u64, low: u64) -> MentionId {
    MentionId((u128::from(high) << 64) | u128::from(low))
}

/// The documents whose id halves in the fields `low` (indexed) and `high` (a column)
/// are those of an id.
#[derive(Clone, Debug)]
pub(crate) struct IdQuery {
    low: Field,
    high: Field,
    id: MentionId,
}

impl IdQuery {
    /// Finds `id` in the fields `low` (indexed) and `high` (a column).
    pub(crate) fn new(low: Field, high: Field, id: MentionId) -> IdQuery {
        IdQuery { low, high, id }
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
        let (high, low) = halves(self.id);
        let term = Term::from_field_u64(self.low, low);
        let Some(mut postings) = reader
            .inverted_index(self.low)?
            .read_postings(&term, IndexRecordOption::Basic)?
        else {
            return Ok(Vec::new());
        };
        let column = reader
            .fast_fields()
            .u64(reader.schema().get_field_name(self.high))?;
        let mut docs = Vec::new();
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if column.first(doc) == Some(high) {
                docs.push(doc);
            }
            doc = postings.advance();
        }
        Ok(docs)
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
