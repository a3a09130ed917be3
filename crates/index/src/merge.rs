//! The last step of an import or a rebuild: its segments merged into one.
//!
//! A writer flushes a segment whenever its memory budget fills (64 MiB by default: every
//! ~25k posts on two threads), and tantivy's merge policy merges only once eight
//! segments of a size have piled up, so an import of 300k posts ended with 12 segments.
//! Each segment keeps its own term dictionaries and its own dictionary of the `phrases`
//! column, so most words and phrases were written once per segment. Merging the
//! import's segments into one at its end (`cargo bench --bench import`, 2026-12-07):
//! 300k generated posts 2.50 → 2.18 × the raw text (2.06 → 1.75 × without the doc
//! store); 1M generated posts 2.27 → 2.12 × (1.84 → 1.69 ×), peak memory 465 → 481 MiB,
//! posts per second within the machine's noise (the merge reads and writes the new
//! segments once more: ~2 s per 100 MB of index on this 2-core machine). Searches and
//! tallies then read one segment where they read twelve.
//!
//! Decisions: only segments written since a [`SegmentSet`] was taken are merged, so an
//! import into a large index does not rewrite it. The daemon does not merge at
//! shutdown, nor an online rebuild before its swap (a stop and a swap must be quick; the
//! merge policy keeps the segment count down over time). A merge killed mid-way leaves
//! the index as it was (tantivy swaps the segment list in one atomic write of
//! `meta.json`; its unfinished files are deleted at the next writer's start).

use std::collections::HashSet;

use tantivy::index::SegmentId;
use tantivy::indexer::NoMergePolicy;

use crate::{IndexError, OpenIndex};

/// tantivy's smallest writer budget: a merge adds no documents, so it needs no more.
const MERGE_WRITER_MEMORY: usize = 15_000_000;

/// The segments an index had at one moment: what a later [`crate::MentionIndex::merge_since`]
/// leaves as they are.
#[derive(Debug, Clone, Default)]
pub struct SegmentSet(HashSet<SegmentId>);

impl OpenIndex {
    pub(crate) fn segments(&self) -> Result<SegmentSet, IndexError> {
        let ids = self
            .index
            .searchable_segment_ids()
            .map_err(|source| self.error(source))?;
        Ok(SegmentSet(ids.into_iter().collect()))
    }

    pub(crate) fn merge_since(&self, before: &SegmentSet) -> Result<usize, IndexError> {
        let new: Vec<SegmentId> = self
            .index
            .searchable_segment_ids()
            .map_err(|source| self.error(source))?
            .into_iter()
            .filter(|id| !before.0.contains(id))
            .collect();
        if new.len() < 2 {
            return Ok(0);
        }
        let mut writer = self
            .index
            .writer_with_num_threads::<tantivy::TantivyDocument>(1, MERGE_WRITER_MEMORY)
            .map_err(|source| self.error(source))?;
        writer.set_merge_policy(Box::new(NoMergePolicy));
        writer
            .merge(&new)
            .wait()
            .map_err(|source| self.error(source))?;
        writer
            .wait_merging_threads()
            .map_err(|source| self.error(source))?;
        self.reload()?;
        Ok(new.len())
    }

    fn error(&self, source: tantivy::TantivyError) -> IndexError {
        IndexError::Tantivy {
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use lauscher_model::{Lang, TopicKind};

    use crate::{MentionIndex, SearchRequest, SegmentSet};

    fn commit(index: &MentionIndex, ids: &[u128], seq: u64) {
        let mut w = index.writer(32 << 20, 1).expect("writer");
        for &id in ids {
            let m = lauscher_testkit::scored(id, "Der Zug ist wieder verspätet")
                .lang("de")
                .topics(&["acme"], TopicKind::Brand)
                .build();
            w.add(&m, false).expect("add");
        }
        w.commit(seq).expect("commit");
        w.close().expect("close");
        index.reload().expect("reload");
    }

    fn found(index: &MentionIndex) -> Vec<u128> {
        let req = SearchRequest {
            query: "verspätet".into(),
            ..Default::default()
        };
        let mut ids: Vec<u128> = index
            .search(&req, None)
            .expect("search")
            .hits
            .into_iter()
            .map(|h| h.id.0)
            .collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn the_segments_written_since_a_set_merge_into_one_and_older_ones_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = MentionIndex::open(dir.path(), &[Lang::De]).expect("open");
        commit(&index, &[1, 2], 1);
        let before = index.segments().expect("segments");
        assert_eq!(index.merge_since(&before).expect("merge"), 0, "nothing new");
        commit(&index, &[3], 2);
        assert_eq!(index.merge_since(&before).expect("merge"), 0, "one new");
        commit(&index, &[4, 5], 3);
        assert_eq!(index.num_segments(), 3);

        assert_eq!(index.merge_since(&before).expect("merge"), 2);
        assert_eq!(index.num_segments(), 2, "the older segment stays");
        assert_eq!(found(&index), [1, 2, 3, 4, 5]);
        assert_eq!(index.last_commit_seq(), 3, "the commit's payload is kept");

        assert_eq!(index.merge_since(&SegmentSet::default()).expect("all"), 2);
        assert_eq!(index.num_segments(), 1);
        let reopened = MentionIndex::open(dir.path(), &[Lang::De]).expect("reopen");
        assert_eq!(found(&reopened), [1, 2, 3, 4, 5]);
        assert_eq!(reopened.num_segments(), 1);
    }
}
