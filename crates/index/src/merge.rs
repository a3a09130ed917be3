//! The last step of an import or a rebuild: its segments merged into few.
//!
//! A writer flushes a segment whenever its memory budget fills (64 MiB by default: every
//! ~25k posts on two threads), and tantivy's merge policy merges only once eight
//! segments of a size have piled up, so an import of 300k posts ended with 12 segments.
//! Each segment keeps its own term dictionaries and its own dictionary of the `phrases`
//! column, so most words and phrases were written once per segment. Merged at the
//! import's end, into one segment per [`MERGE_BYTES`] of segment files (2026-12-07):
//!
//! | import (`lauscher import --keep-all`) | segments | index × raw text | without doc store | merge |
//! |---|---|---|---|---|
//! | 73k real posts (`cargo bench --bench import`) | 4 → 1 | 2.88 → 2.51 × | 2.30 → 1.93 × | 0.6 s of 3.4 s |
//! | 300k generated posts (same bench) | 12 → 1 | 2.50 → 2.18 × | 2.06 → 1.75 × | ~1.5 s of 13.6 s |
//! | 1M real-shaped posts (the 73k repeated) | 9 → 2 | 231 → 214 MB (−8 %) | | 5.2 s of 60 s |
//!
//! So an import takes 9–17 % longer, once, and its index is 8–13 % smaller for good, in
//! fewer segments for every search and tally to read. Peak memory of the 1M import:
//! 396–441 MiB (407–423 before); merged in one go, the pages it read through its memory
//! maps took it to 516 MiB, hence the groups.
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

/// The most bytes of segment files merged into one segment. A merge reads its segments
/// through memory maps, and the pages it reads count as the process's resident memory
/// until the reader lets go of them: merging the 17 segments of 1M real posts (200 MB)
/// at once took an import's peak from ~410 to 516 MiB, past its 512 MiB budget.
const MERGE_BYTES: u64 = 128 << 20;

/// tantivy's smallest writer budget: a merge adds no documents, so it needs no more.
const MERGE_WRITER_MEMORY: usize = 15_000_000;

/// The segments an index had at one moment: what a later [`crate::MentionIndex::merge_since`]
/// leaves as they are.
#[derive(Debug, Clone, Default)]
pub struct SegmentSet(HashSet<SegmentId>);

/// What [`crate::MentionIndex::merge_since`] did: the new segments and their bytes before and
/// after.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Merged {
    /// Segments written since the set was taken, before the merge.
    pub segments: usize,
    /// Their bytes.
    pub bytes: u64,
    /// The segments they are now (as many as before when none were merged).
    pub segments_after: usize,
    /// Their bytes now.
    pub bytes_after: u64,
}

impl OpenIndex {
    pub(crate) fn segments(&self) -> Result<SegmentSet, IndexError> {
        let ids = self
            .index
            .searchable_segment_ids()
            .map_err(|source| self.tantivy(source))?;
        Ok(SegmentSet(ids.into_iter().collect()))
    }

    pub(crate) fn merge_since(&self, before: &SegmentSet) -> Result<Merged, IndexError> {
        let new = self.segments_since(before)?;
        let mut report = Merged {
            segments: new.len(),
            bytes: new.iter().map(|s| s.1).sum(),
            ..Merged::default()
        };
        let groups = groups(&new, MERGE_BYTES);
        if !groups.is_empty() {
            let mut writer = self
                .index
                .writer_with_num_threads::<tantivy::TantivyDocument>(1, MERGE_WRITER_MEMORY)
                .map_err(|source| self.tantivy(source))?;
            writer.set_merge_policy(Box::new(NoMergePolicy));
            for group in groups {
                writer
                    .merge(&group)
                    .wait()
                    .map_err(|source| self.tantivy(source))?;
                // The reader lets go of the merged segments' maps, and of the pages the
                // merge read through them.
                self.reload()?;
            }
            // The last group's inputs were still open in the reader when its merge ended.
            writer
                .garbage_collect_files()
                .wait()
                .map_err(|source| self.tantivy(source))?;
            writer
                .wait_merging_threads()
                .map_err(|source| self.tantivy(source))?;
        }
        let now = self.segments_since(before)?;
        report.segments_after = now.len();
        report.bytes_after = now.iter().map(|s| s.1).sum();
        Ok(report)
    }

    /// The searchable segments not in `before`, with their bytes.
    fn segments_since(&self, before: &SegmentSet) -> Result<Vec<(SegmentId, u64)>, IndexError> {
        let metas = self
            .index
            .searchable_segment_metas()
            .map_err(|source| self.tantivy(source))?;
        // (The metas are dropped on return: a segment's files are deleted only once no
        // `SegmentMeta` of it is alive.)
        Ok(metas
            .iter()
            .filter(|m| !before.0.contains(&m.id()))
            .map(|m| (m.id(), self.bytes_of(m)))
            .collect())
    }

    /// The bytes of a segment's files (a file that cannot be read weighs nothing in the
    /// grouping).
    fn bytes_of(&self, meta: &tantivy::index::SegmentMeta) -> u64 {
        use tantivy::index::SegmentComponent as C;
        let dir = std::path::Path::new(&self.path);
        [
            C::Postings,
            C::Positions,
            C::Terms,
            C::Store,
            C::FastFields,
            C::FieldNorms,
        ]
        .into_iter()
        .filter_map(|c| std::fs::metadata(dir.join(meta.relative_path(c))).ok())
        .map(|m| m.len())
        .sum()
    }
}

/// Consecutive runs of `segments` (id, bytes) of at most `limit` bytes together, each
/// of at least two segments (a segment alone is left as it is).
fn groups(segments: &[(SegmentId, u64)], limit: u64) -> Vec<Vec<SegmentId>> {
    let mut groups = Vec::new();
    let mut group: Vec<SegmentId> = Vec::new();
    let mut bytes = 0u64;
    for &(id, size) in segments {
        if !group.is_empty() && bytes.saturating_add(size) > limit {
            groups.push(std::mem::take(&mut group));
            bytes = 0;
        }
        group.push(id);
        bytes = bytes.saturating_add(size);
    }
    groups.push(group);
    groups.retain(|g| g.len() >= 2);
    groups
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
        let nothing = index.merge_since(&before).expect("merge");
        assert_eq!((nothing.segments, nothing.segments_after), (0, 0));
        commit(&index, &[3], 2);
        let one = index.merge_since(&before).expect("merge");
        assert_eq!((one.segments, one.segments_after), (1, 1), "one new: left");
        assert_eq!(one.bytes, one.bytes_after);
        commit(&index, &[4, 5], 3);
        assert_eq!(index.num_segments(), 3);

        let two = index.merge_since(&before).expect("merge");
        assert_eq!((two.segments, two.segments_after), (2, 1));
        assert!(two.bytes_after < two.bytes, "{two:?}");
        assert_eq!(index.num_segments(), 2, "the older segment stays");
        assert_eq!(found(&index), [1, 2, 3, 4, 5]);
        assert_eq!(index.last_commit_seq(), 3, "the commit's payload is kept");

        let all = index.merge_since(&SegmentSet::default()).expect("all");
        assert_eq!((all.segments, all.segments_after), (2, 1));
        assert_eq!(index.num_segments(), 1);
        let stores = std::fs::read_dir(dir.path())
            .expect("read dir")
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "store"))
            .count();
        assert_eq!(stores, 1, "the merged segments' files are deleted");
        let reopened = MentionIndex::open(dir.path(), &[Lang::De]).expect("reopen");
        assert_eq!(found(&reopened), [1, 2, 3, 4, 5]);
        assert_eq!(reopened.num_segments(), 1);
    }

    #[test]
    fn segments_are_grouped_in_order_up_to_the_byte_limit_and_never_alone() {
        let ids: Vec<super::SegmentId> = (0..7)
            .map(|_| super::SegmentId::generate_random())
            .collect();
        let sizes = [50, 50, 50, 10, 200, 5, 5];
        let segments: Vec<_> = ids.iter().copied().zip(sizes).collect();
        assert_eq!(
            super::groups(&segments, 128),
            [
                vec![ids[0], ids[1]],
                vec![ids[2], ids[3]],
                vec![ids[5], ids[6]]
            ],
            "the 200-byte segment is left alone"
        );
        assert!(super::groups(&segments[..1], 128).is_empty());
        assert!(super::groups(&[], 128).is_empty());
        assert_eq!(super::groups(&segments, 1 << 20).len(), 1);
    }
}
