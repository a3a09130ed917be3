//! The one writer of the index: adds mentions (replacing by id when asked), commits on demand.

use lauscher_model::ScoredMention;
use lauscher_query::site_keys;
use lauscher_text::token::{fold, tags};
use tantivy::indexer::LogMergePolicy;
use tantivy::schema::Term;
use tantivy::{DateTime, Index, IndexWriter, TantivyDocument};

use crate::id::{IdFields, IdQuery};
use crate::schema::Fields;

/// Adds mentions to the index and commits them.
///
/// `add` hands the document to tantivy's indexing threads (it blocks only when their
/// queue is full); nothing is visible or durable until [`MentionWriter::commit`].
/// Commit cadence is the caller's decision: the pipeline commits on time, count or drain.
pub struct MentionWriter {
    writer: IndexWriter,
    fields: Fields,
}

impl MentionWriter {
    pub(crate) fn new(
        index: &Index,
        fields: Fields,
        memory_bytes: usize,
        threads: usize,
    ) -> tantivy::Result<Self> {
        let writer = index.writer_with_num_threads(threads.max(1), memory_bytes)?;
        let mut policy = LogMergePolicy::default();
        // Upserts leave deleted docs behind; merge them away sooner than the default.
        policy.set_del_docs_ratio_before_merge(0.3);
        writer.set_merge_policy(Box::new(policy));
        Ok(MentionWriter { writer, fields })
    }

    /// Deletes every mention published before `cutoff` (retention), from the next commit.
    pub fn delete_published_before(
        &mut self,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> tantivy::Result<()> {
        let field = self.fields.ts;
        let upper = Term::from_field_date(field, DateTime::from_timestamp_secs(cutoff.timestamp()));
        let range = tantivy::query::RangeQuery::new(
            std::ops::Bound::Unbounded,
            std::ops::Bound::Excluded(upper),
        );
        self.writer.delete_query(Box::new(range))?;
        Ok(())
    }

    /// Deletes the mention `id` (a post its source reports deleted), from the next commit.
    pub fn delete(&mut self, id: lauscher_model::MentionId) -> tantivy::Result<()> {
        let f = &self.fields;
        self.writer
            .delete_query(Box::new(IdQuery::mention(f, id)))?;
        Ok(())
    }

    /// Adds `m`; with `replace`, first deletes any document with the same mention id.
    ///
    /// Replacing costs tantivy a term lookup and a column read in every segment at the
    /// next commit, so callers that know the id is new (the pipeline's dedupe does) pass
    /// `false`.
    pub fn add(&mut self, m: &ScoredMention, replace: bool) -> tantivy::Result<()> {
        let f = &self.fields;
        if replace {
            self.writer
                .delete_query(Box::new(IdQuery::mention(f, m.mention.id)))?;
        }
        let mut doc = TantivyDocument::default();
        IdFields::mention(f).add(&mut doc, m.mention.id);
        doc.add_date(
            f.ts,
            DateTime::from_timestamp_secs(m.mention.published_at.timestamp()),
        );
        doc.add_date(
            f.fetched_at,
            DateTime::from_timestamp_secs(m.mention.fetched_at.timestamp()),
        );
        doc.add_text(f.source, &m.mention.source);
        if let Some(a) = &m.mention.author {
            doc.add_text(f.author, &a.name);
            doc.add_text(f.author_key, fold(a.name.trim().trim_start_matches('@')));
            if let Some(reach) = a.reach {
                doc.add_u64(f.author_reach, reach);
            }
        }
        doc.add_text(f.lang, lauscher_model::lang::code::of(m.lang));
        doc.add_text(f.sentiment_label, m.sentiment.label.as_str());
        doc.add_i64(f.sentiment, crate::schema::score_units(m.sentiment.score));
        doc.add_text(f.intent, m.intent.intent.as_str());
        for t in &m.topics {
            doc.add_text(f.topics, t);
        }
        for k in &m.topic_kinds {
            doc.add_text(f.topic_kind, k.as_str());
        }
        if let Some(parent) = &m.mention.reply_to {
            doc.add_text(f.reply_to, parent);
        }
        if let Some(original) = m.mention.repost_of {
            IdFields::repost(f).add(&mut doc, original);
        }
        if let Some(url) = &m.mention.url {
            doc.add_text(f.url, url);
            for key in site_keys(url) {
                doc.add_text(f.site, key);
            }
        }
        let title = m.mention.title.as_deref().unwrap_or_default();
        for tag in tags(&m.mention.text).chain(tags(title)) {
            doc.add_text(f.tags, tag);
        }
        for p in &m.phrases {
            doc.add_text(f.phrases, p);
        }
        if let Some(title) = &m.mention.title {
            doc.add_text(f.title, title);
        }
        doc.add_text(f.text, &m.mention.text);
        if let Some(field) = m.lang.and_then(|l| f.stemmed.get(&l)) {
            if let Some(title) = &m.mention.title {
                doc.add_text(*field, title);
            }
            doc.add_text(*field, &m.mention.text);
        }
        self.writer.add_document(doc)?;
        Ok(())
    }

    /// Commits everything added so far as commit number `commit_seq` (stored with the
    /// commit beside the layout version, for crash reconciliation); returns the commit's
    /// opstamp.
    pub fn commit(&mut self, commit_seq: u64) -> tantivy::Result<u64> {
        let mut prepared = self.writer.prepare_commit()?;
        let payload = serde_json::json!({
            "schema": crate::schema::SCHEMA_VERSION,
            "commit_seq": commit_seq,
        });
        prepared.set_payload(&payload.to_string());
        let opstamp = prepared.commit()?;
        Ok(opstamp)
    }

    /// Waits for merges to finish and releases the lock.
    pub fn close(self) -> tantivy::Result<()> {
        self.writer.wait_merging_threads()
    }
}

/// The mention id stored whole by layouts before 5 (16 bytes, big-endian).
pub(crate) fn id_of_bytes(bytes: &[u8]) -> Option<lauscher_model::MentionId> {
    let b = <[u8; 16]>::try_from(bytes).ok()?;
    Some(lauscher_model::MentionId(u128::from_be_bytes(b)))
}

/// tantivy's error type, re-exported so callers need not depend on tantivy.
pub use tantivy::TantivyError;
