//! The tantivy index of mentions: schema, analyzers, writer and search.
//!
//! Every open goes through [`MentionIndex::open`], which registers Lauscher's analyzers:
//! tantivy persists only analyzer *names*, so an index opened without them would fail
//! to find stemmed forms.
//!
//! One document per mention, keyed by its id (a replacing add deletes the old document first,
//! so replays after a crash never duplicate). A language-neutral `text` field with
//! positions serves phrases and brand names; one stemmed `text_<lang>` field per
//! configured language (no positions, so they stay cheap) serves word families.

pub mod analyzer;
mod authors;
mod days;
pub mod dump;
mod hours;
mod id;
mod merge;
pub mod rule;
pub mod schema;
pub mod search;
pub mod space;
mod spans;
pub mod tally;
mod window;
pub mod writer;

use std::path::Path;

use lauscher_model::Lang;
use std::sync::Arc;
use tantivy::directory::MmapDirectory;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use lauscher_model::{MentionId, MentionSummary};
use lauscher_query::RuleSet;
use tantivy::{Index, IndexReader, ReloadPolicy};

pub use dump::MentionDump;
pub use merge::{Merged, SegmentSet};
pub use schema::{Fields, SCHEMA_VERSION};
pub use search::{Collapse, IndexedMention, SearchPage, SearchRequest, parse_time};
pub use space::SpaceUsage;
pub use tally::{Buckets, LabelTally, PhraseMentions, PhraseSelection, PhraseTally};
pub use writer::MentionWriter;

/// Why the index failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// tantivy reported an error.
    #[error("index {path}: {source}")]
    Tantivy {
        /// The index directory.
        path: String,
        /// The tantivy error.
        source: tantivy::TantivyError,
    },
    /// The directory could not be opened.
    #[error("index {path}: {detail}")]
    Directory {
        /// The index directory.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The index was built by an older version of Lauscher, in a layout this one does
    /// not write: `lauscher reindex` rebuilds it from its own stored mentions.
    #[error(
        "index {path}: the index has layout {found} and this version of Lauscher writes layout {}; stop the daemon and run `lauscher reindex` to rebuild it from its stored mentions (the old index is kept in index.previous/)",
        schema::SCHEMA_VERSION
    )]
    OlderSchema {
        /// The index directory.
        path: String,
        /// The layout version found (0: older than versioned layouts).
        found: u64,
    },
    /// A search names a rule the rule set does not have.
    #[error("unknown rule {0:?}")]
    UnknownRule(String),
    /// A search query did not parse.
    #[error("invalid query {query:?}: {detail}")]
    Query {
        /// The query as given.
        query: String,
        /// What was wrong.
        detail: String,
    },
}

/// The settings of a new index: a zstd doc store in 64 KiB blocks. Stored text is most
/// of an index's bytes; zstd at its default level keeps short posts at about a third of
/// their size where LZ4 kept half, and a block is read whole for one hit (a
/// decompression of ~64 KiB, ~0.1 ms).
fn settings() -> tantivy::IndexSettings {
    tantivy::IndexSettings {
        docstore_compression: tantivy::store::Compressor::Zstd(Default::default()),
        docstore_blocksize: 64 << 10,
        ..Default::default()
    }
}

/// The layout version of `index`: its last commit's `"schema"`, the current one for an
/// index never committed (it was just created with the current schema), and 0 for a
/// committed index without one (written before layouts were versioned).
pub(crate) fn layout(index: &Index) -> u64 {
    let Ok(metas) = index.load_metas() else {
        return 0;
    };
    if metas.segments.is_empty() && metas.payload.is_none() {
        return schema::SCHEMA_VERSION;
    }
    metas
        .payload
        .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
        .and_then(|v| v["schema"].as_u64())
        .unwrap_or(0)
}

/// The mention index the daemon searches: the index directory in force, which a
/// rebuild replaces while searches go on ([`MentionIndex::replace`]). Each call reads
/// one directory's index from start to end: a call running during a replacement
/// answers from the old one.
pub struct MentionIndex {
    current: ArcSwap<OpenIndex>,
}

/// One open index directory: the tantivy index, its fields and a reader.
pub(crate) struct OpenIndex {
    path: String,
    index: Index,
    fields: Fields,
    reader: IndexReader,
    /// Author numbers shared by the segments, for distinct author counts.
    authors: authors::AuthorOrdinals,
    /// Phrase counts per day kept per segment and filter, for phrase tallies.
    days: days::SegmentCache<days::SegmentDays>,
    /// Each segment's phrase top lists kept per filter and buckets, for candidates.
    tops: days::SegmentCache<tally::SegmentTops>,
    /// Each segment's runs of hours and its opened time column, for time windows and
    /// scans of a few hours or days.
    spans: Arc<days::SegmentCache<spans::TimeSpans>>,
    /// Mentions loaded for pages and views, kept.
    kept: search::KeptMentions,
}

impl MentionIndex {
    /// Opens the index in `dir`, creating it with stemmed fields for `langs` when empty.
    ///
    /// An existing index keeps the languages it was created with; posts in a language
    /// added later are indexed unstemmed until the index is rebuilt.
    pub fn open(dir: &Path, langs: &[Lang]) -> Result<MentionIndex, IndexError> {
        Ok(MentionIndex {
            current: ArcSwap::from_pointee(OpenIndex::open(dir, langs)?),
        })
    }

    /// The index in force.
    pub(crate) fn current(&self) -> Arc<OpenIndex> {
        self.current.load_full()
    }

    /// Puts `other`'s index in force in place of this one's: calls from now on read
    /// it; calls already running finish on the old one, which closes when the last of
    /// them ends.
    pub fn replace(&self, other: MentionIndex) {
        self.current.store(other.current.load_full());
    }

    /// Reloads the reader so searches see the latest commit.
    pub fn reload(&self) -> Result<(), IndexError> {
        self.current().reload()
    }

    /// Returns the `commit_seq` of the last commit's payload (0 for a new index or a
    /// payload without one).
    pub fn last_commit_seq(&self) -> u64 {
        self.current().last_commit_seq()
    }

    /// Returns the number of documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.current().num_docs()
    }

    /// Returns the number of segments visible to searches (tantivy's searches run one
    /// task per segment; tallies cut large segments into document ranges).
    pub fn num_segments(&self) -> usize {
        self.current().num_segments()
    }

    /// Opens the one writer of this index (it holds a lock file; a second writer on the
    /// same directory fails with a lock error naming the directory).
    pub fn writer(&self, memory_bytes: usize, threads: usize) -> Result<MentionWriter, IndexError> {
        self.current().writer(memory_bytes, threads)
    }

    /// The segments of the index now, for a later [`merge_since`](Self::merge_since).
    pub fn segments(&self) -> Result<SegmentSet, IndexError> {
        self.current().segments()
    }

    /// Merges the segments written since `before` was taken into one per 128 MiB of
    /// segment files and waits for it (an import's or a rebuild's last step; its costs
    /// and decisions are in the `merge` module's docs). Needs the writer lock: no writer
    /// may be open.
    pub fn merge_since(&self, before: &SegmentSet) -> Result<Merged, IndexError> {
        self.current().merge_since(before)
    }

    /// Searches: see [`SearchRequest`]; hits newest first.
    pub fn search(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
    ) -> Result<SearchPage, IndexError> {
        self.current().search(req, rules)
    }

    /// Runs tantivy aggregations (the Elasticsearch JSON form) over the mentions `req`
    /// filters, reading columns only.
    pub fn aggregate(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        aggs: serde_json::Value,
    ) -> Result<serde_json::Value, IndexError> {
        self.current().aggregate(req, rules, aggs)
    }

    /// Summaries of the mentions published in `[since, until)`, unordered.
    pub fn summaries(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<MentionSummary>, IndexError> {
        self.current().summaries(since, until)
    }

    /// The mention with id `id`, if indexed.
    pub fn get(&self, id: MentionId) -> Result<Option<IndexedMention>, IndexError> {
        self.current().get(id)
    }

    /// Mentions by label per time bucket (see [`OpenIndex::label_tally`]).
    pub fn label_tally(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        buckets: Buckets,
        authors: bool,
    ) -> Result<Vec<LabelTally>, IndexError> {
        self.current().label_tally(req, rules, buckets, authors)
    }

    /// Phrases worth counting exactly (see [`OpenIndex::phrase_candidates`]).
    pub fn phrase_candidates(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        buckets: Buckets,
        n: usize,
    ) -> Result<Vec<String>, IndexError> {
        self.current().phrase_candidates(req, rules, buckets, n)
    }

    /// Phrase counts per time bucket (see [`OpenIndex::phrase_tally`]).
    pub fn phrase_tally(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        buckets: Buckets,
        selection: PhraseSelection<'_>,
    ) -> Result<PhraseTally, IndexError> {
        self.current().phrase_tally(req, rules, buckets, selection)
    }

    /// Per group of phrases, the earliest and the newest mentions (see
    /// [`OpenIndex::phrase_mentions`]).
    pub fn phrase_mentions(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        groups: &[Vec<String>],
        newest: usize,
    ) -> Result<Vec<PhraseMentions>, IndexError> {
        self.current().phrase_mentions(req, rules, groups, newest)
    }

    /// The earliest publication time among the mentions `req` filters.
    pub fn earliest(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
    ) -> Result<Option<DateTime<Utc>>, IndexError> {
        self.current().earliest(req, rules)
    }

    /// The index's bytes by part.
    pub fn space_usage(&self) -> Result<SpaceUsage, IndexError> {
        self.current().space_usage()
    }
}

impl OpenIndex {
    /// Opens the index in `dir`, creating it with stemmed fields for `langs` when empty.
    ///
    /// An existing index keeps the languages it was created with; posts in a language
    /// added later are indexed unstemmed until the index is rebuilt.
    fn open(dir: &Path, langs: &[Lang]) -> Result<OpenIndex, IndexError> {
        let path = dir.display().to_string();
        std::fs::create_dir_all(dir).map_err(|e| IndexError::Directory {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let tantivy_err = |source| IndexError::Tantivy {
            path: path.clone(),
            source,
        };
        let directory = MmapDirectory::open(dir).map_err(|e| IndexError::Directory {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let index = if Index::exists(&directory).map_err(|e| IndexError::Directory {
            path: path.clone(),
            detail: e.to_string(),
        })? {
            // The one sanctioned open: analyzers are registered right below.
            #[expect(
                clippy::disallowed_methods,
                reason = "MentionIndex::open registers analyzers after this"
            )]
            let index = Index::open(directory).map_err(tantivy_err)?;
            index
        } else {
            Index::create(directory, schema::build(langs), settings()).map_err(tantivy_err)?
        };
        let mut index = index;
        // Searches and aggregations read segments in parallel (one thread per core):
        // the insight views scan columns of many documents.
        index
            .set_default_multithread_executor()
            .map_err(tantivy_err)?;
        analyzer::register(&index);
        let older = |found| IndexError::OlderSchema {
            path: path.clone(),
            found,
        };
        let found = layout(&index);
        if found != schema::SCHEMA_VERSION {
            return Err(older(found));
        }
        let fields = Fields::from_schema(&index.schema()).map_err(|_| older(found))?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(tantivy_err)?;
        Ok(OpenIndex {
            path,
            index,
            fields,
            reader,
            authors: authors::AuthorOrdinals::default(),
            days: days::SegmentCache::default(),
            tops: days::SegmentCache::default(),
            spans: Arc::default(),
            kept: search::KeptMentions::default(),
        })
    }

    /// Reloads the reader so searches see the latest commit.
    pub fn reload(&self) -> Result<(), IndexError> {
        self.reader.reload().map_err(|source| IndexError::Tantivy {
            path: self.path.clone(),
            source,
        })?;
        // The time spans hold their segments' time columns: those of segments merged
        // away go now, so that their files are not kept mapped.
        let live: Vec<tantivy::index::SegmentId> = self
            .reader
            .searcher()
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        self.spans.retain_live(&live);
        Ok(())
    }

    /// Returns the `commit_seq` of the last commit's payload (0 for a new index or a
    /// payload without one).
    pub fn last_commit_seq(&self) -> u64 {
        self.index
            .load_metas()
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
            .and_then(|v| v["commit_seq"].as_u64())
            .unwrap_or(0)
    }

    /// Returns the number of documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Returns the number of segments visible to searches (tantivy's searches run one
    /// task per segment; tallies cut large segments into document ranges).
    pub fn num_segments(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Opens the one writer of this index (it holds a lock file; a second writer on the
    /// same directory fails with a lock error naming the directory).
    pub fn writer(&self, memory_bytes: usize, threads: usize) -> Result<MentionWriter, IndexError> {
        MentionWriter::new(&self.index, self.fields.clone(), memory_bytes, threads).map_err(
            |source| IndexError::Tantivy {
                path: self.path.clone(),
                source,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use lauscher_model::{MentionId, ScoredMention, TopicKind};

    fn mention(id: u128, lang: &str, text: &str, topic: &str) -> ScoredMention {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 20, 10, id as u32 % 60, 0)
            .single()
            .unwrap_or_default();
        lauscher_testkit::scored(id, text)
            .lang(lang)
            .at(at)
            .topics(&[topic], TopicKind::Brand)
            .build()
    }

    fn search(index: &MentionIndex, query: &str) -> Vec<u128> {
        let req = SearchRequest {
            query: query.into(),
            ..Default::default()
        };
        index
            .search(&req, None)
            .map(|p| p.hits.into_iter().map(|h| h.id.0).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_reopened_index_still_finds_stemmed_forms_and_adds_can_replace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let langs = [Lang::De, Lang::En];
        {
            let index = MentionIndex::open(dir.path(), &langs).expect("open");
            let mut w = index.writer(32 << 20, 1).expect("writer");
            w.add(
                &mention(1, "de", "Wieder Verspätungen in Zürich", "acme"),
                false,
            )
            .expect("add");
            w.add(&mention(2, "en", "The app keeps crashing", "acme"), false)
                .expect("add");
            w.add(&mention(2, "en", "The app keeps crashing", "acme"), true)
                .expect("replace");
            w.commit(3).expect("commit");
            w.close().expect("close");
        }
        let index = MentionIndex::open(dir.path(), &langs).expect("reopen");
        assert_eq!(index.num_docs(), 2);
        assert_eq!(index.last_commit_seq(), 3);
        assert_eq!(search(&index, "verspätung"), [1]);
        assert_eq!(search(&index, "zurich"), [1]);
        assert_eq!(search(&index, "crashes"), [2]);
        assert_eq!(search(&index, "\"keeps crashing\""), [2]);
        assert_eq!(search(&index, ""), [2, 1]);
        assert!(matches!(
            index.search(
                &SearchRequest {
                    query: "(".into(),
                    ..Default::default()
                },
                None
            ),
            Err(IndexError::Query { .. })
        ));
        let got = index.get(MentionId(1)).ok().flatten().map(|m| m.text);
        assert_eq!(got.as_deref(), Some("Wieder Verspätungen in Zürich"));
    }

    /// Loaded mentions are kept by segment and document: a page asked again after its
    /// mention was replaced shows what is stored now.
    #[test]
    fn a_page_asked_again_after_a_replacement_shows_the_new_mention() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = MentionIndex::open(dir.path(), &[Lang::En]).expect("open");
        let texts = |index: &MentionIndex| -> Vec<String> {
            let page = index
                .search(&SearchRequest::default(), None)
                .expect("search");
            page.hits.into_iter().map(|h| h.text).collect()
        };
        let mut w = index.writer(32 << 20, 1).expect("writer");
        w.add(&mention(1, "en", "The app keeps crashing", "acme"), false)
            .expect("add");
        w.commit(1).expect("commit");
        index.reload().expect("reload");
        assert_eq!(texts(&index), ["The app keeps crashing"]);
        assert_eq!(texts(&index), ["The app keeps crashing"]);
        w.add(&mention(1, "en", "The app works again", "acme"), true)
            .expect("replace");
        w.commit(2).expect("commit");
        w.close().expect("close");
        index.reload().expect("reload");
        assert_eq!(texts(&index), ["The app works again"]);
    }

    #[test]
    fn ids_sharing_their_lookup_key_are_still_told_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = MentionIndex::open(dir.path(), &[Lang::En]).expect("open");
        // Ids sharing a low half, and another low half with the same lookup key.
        let low = 0xABCD_0000_0000_0007u128;
        let other = (low as u64 + 1..)
            .find(|&l| crate::id::key(l) == crate::id::key(low as u64))
            .map_or(0, u128::from);
        let (a, b) = ((1u128 << 64) | low, (2u128 << 64) | low);
        let mut original = mention(a, "en", "The app keeps crashing", "acme");
        original.mention.id = MentionId(a);
        let mut repost = mention(b, "en", "RT: The app keeps crashing", "acme");
        repost.mention.repost_of = Some(MentionId(a));
        let c = (4u128 << 64) | low;
        let mut second = mention(c, "en", "RT: The app keeps crashing!", "acme");
        second.mention.repost_of = Some(MentionId(a));
        let mut w = index.writer(32 << 20, 1).expect("writer");
        w.add(&original, false).expect("add");
        w.add(&repost, false).expect("add");
        w.add(&second, false).expect("add");
        w.commit(1).expect("commit");
        index.reload().expect("reload");
        let got = |id| index.get(MentionId(id)).ok().flatten();
        assert_eq!(
            got(a).map(|m| m.text).as_deref(),
            Some("The app keeps crashing")
        );
        let shown = got(b).expect("the repost");
        assert_eq!(
            (shown.id, shown.repost_of),
            (MentionId(b), Some(MentionId(a)))
        );
        assert!(
            got((3u128 << 64) | low).is_none(),
            "same low half, another id"
        );
        assert!(
            got((1u128 << 64) | other).is_none(),
            "same key and high half, another low half"
        );
        let reposts = || {
            let page = index
                .search(
                    &SearchRequest {
                        collapse: Some(Collapse::Reposts),
                        ..Default::default()
                    },
                    None,
                )
                .expect("search");
            page.hits.iter().map(|h| h.reposts).collect::<Vec<_>>()
        };
        assert_eq!(reposts(), [Some(2)]);
        w.delete(MentionId(c)).expect("delete");
        w.commit(2).expect("commit");
        index.reload().expect("reload");
        assert_eq!(reposts(), [Some(1)], "a deleted repost is not counted");
        w.delete(MentionId(a)).expect("delete");
        w.commit(3).expect("commit");
        index.reload().expect("reload");
        assert!(got(a).is_none());
        assert_eq!(got(b).map(|m| m.id), Some(MentionId(b)));
    }
}
