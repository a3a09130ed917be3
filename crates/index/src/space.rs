//! What an index's bytes are spent on, per part (terms, postings, positions, columns,
//! stored documents) and field: the benchmark's size table and `lauscher stats`.
//!
//! Cost: reads segment metadata only (file and section lengths), no postings.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{IndexError, OpenIndex};

/// Bytes of an index by part and field.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SpaceUsage {
    /// Every byte of the visible segments.
    pub total: u64,
    /// Documents in them.
    pub docs: u64,
    /// Segments.
    pub segments: usize,
    /// (part, field) → bytes. Parts: `terms`, `postings`, `positions`, `columns`,
    /// `norms`; the doc store is `stored` under the field `*`.
    pub parts: BTreeMap<(String, String), u64>,
}

impl SpaceUsage {
    /// The bytes of one part over all fields.
    pub fn part(&self, part: &str) -> u64 {
        self.parts
            .iter()
            .filter(|((p, _), _)| p == part)
            .map(|(_, n)| n)
            .sum()
    }
}

impl OpenIndex {
    /// The space the last reloaded commit's segments take.
    pub fn space_usage(&self) -> Result<SpaceUsage, IndexError> {
        let searcher = self.reader.searcher();
        let usage = searcher
            .space_usage()
            .map_err(|e| self.tantivy(tantivy::TantivyError::from(e)))?;
        let mut out = SpaceUsage {
            total: usage.total().get_bytes(),
            docs: searcher.num_docs(),
            segments: usage.segments().len(),
            parts: BTreeMap::new(),
        };
        for seg in usage.segments() {
            for (part, fields) in [
                ("terms", seg.termdict()),
                ("postings", seg.postings()),
                ("positions", seg.positions()),
                ("columns", seg.fast_fields()),
                ("norms", seg.fieldnorms()),
            ] {
                for f in fields.fields() {
                    *out.parts
                        .entry((part.to_owned(), f.field_name().to_owned()))
                        .or_default() += f.total().get_bytes();
                }
            }
            *out.parts
                .entry(("stored".to_owned(), "*".to_owned()))
                .or_default() += seg.store().total().get_bytes();
        }
        Ok(out)
    }
}
