//! Reading every mention back out of an index of any Lauscher layout, for
//! `lauscher reindex`.
//!
//! Every layout so far keeps what a mention *is* (text, title, URL, reply reference in
//! the doc store; dates, source, author, reach, language and repost reference in
//! columns); only the id changed form (32 hex digits before layout 2, 16 bytes since).
//! What a mention was *analysed as* (sentiment, intent, topics, phrases) is not read:
//! reindexing computes it again with the current scorer and rules.
//!
//! Cost: one doc store read per document, in document order (each 64 KiB block is
//! decompressed once), and a column read per field.

use std::path::Path;

use lauscher_model::{Author, Mention};
use tantivy::directory::MmapDirectory;
use tantivy::schema::Value;
use tantivy::{DocAddress, Index, IndexReader, ReloadPolicy, TantivyDocument};

use crate::IndexError;
use crate::search::SegmentColumns;

/// An index opened read-only, whatever its layout, to read its mentions back.
pub struct MentionDump {
    path: String,
    index: Index,
    reader: IndexReader,
    layout: u64,
}

impl MentionDump {
    /// Opens the index in `dir` for reading. It takes no lock: a daemon may keep writing
    /// to it, and the dump reads the commit that was last when it opened.
    pub fn open(dir: &Path) -> Result<MentionDump, IndexError> {
        let path = dir.display().to_string();
        let directory = MmapDirectory::open(dir).map_err(|e| IndexError::Directory {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        // Reading stored values and columns needs no analyzer.
        #[expect(
            clippy::disallowed_methods,
            reason = "read-only: no query is parsed and nothing is tokenized"
        )]
        let index = Index::open(directory).map_err(|source| IndexError::Tantivy {
            path: path.clone(),
            source,
        })?;
        let layout = crate::layout(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|source| IndexError::Tantivy {
                path: path.clone(),
                source,
            })?;
        Ok(MentionDump {
            path,
            index,
            reader,
            layout,
        })
    }

    /// Takes the index's writer lock (the one a daemon's writer holds) until the
    /// returned guard is dropped: fails, naming the directory, while a writer is open.
    pub fn hold_writer_lock(&self) -> Result<WriterLock, IndexError> {
        use tantivy::directory::{Directory, INDEX_WRITER_LOCK};
        self.index
            .directory()
            .acquire_lock(&INDEX_WRITER_LOCK)
            .map(WriterLock)
            .map_err(|e| IndexError::Directory {
                path: self.path.clone(),
                detail: format!("{e} (is the daemon running? stop it first)"),
            })
    }

    /// The index's layout version (see [`crate::schema::SCHEMA_VERSION`]).
    pub fn layout(&self) -> u64 {
        self.layout
    }

    /// Mentions in the index (deleted ones excluded).
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether the index holds no mention.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `each` with every mention, segment by segment in document order; stops at
    /// the first error (of the index or of `each`).
    pub fn for_each<E: From<IndexError>>(
        &self,
        mut each: impl FnMut(Mention) -> Result<(), E>,
    ) -> Result<(), E> {
        let searcher = self.reader.searcher();
        let schema = searcher.schema();
        let field = |name: &str| schema.get_field(name).ok();
        let (id_field, text, title, url, reply_to) = (
            field("mention_id"),
            field("text"),
            field("title"),
            field("url"),
            field("reply_to"),
        );
        let err = |source| IndexError::Tantivy {
            path: self.path.clone(),
            source,
        };
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let columns = SegmentColumns::open(segment).map_err(err)?;
            for doc_id in segment.doc_ids_alive() {
                let doc: TantivyDocument = searcher
                    .doc(DocAddress::new(ord as u32, doc_id))
                    .map_err(err)?;
                let stored = |f: Option<tantivy::schema::Field>| {
                    f.and_then(|f| doc.get_first(f))
                        .and_then(|v| v.as_str().map(str::to_owned))
                };
                let row = columns.row(doc_id);
                // Layouts before 5 stored the id (16 bytes, or hex digits before that).
                let id = row.id.or_else(|| {
                    id_field
                        .and_then(|f| doc.get_first(f))
                        .and_then(|v| match v.as_bytes() {
                            Some(b) => crate::writer::id_of_bytes(b),
                            None => v.as_str().and_then(|s| s.parse().ok()),
                        })
                });
                // A document without a readable id cannot be kept under its identity.
                let Some(id) = id else { continue };
                each(Mention {
                    id,
                    source: row.source,
                    url: stored(url),
                    author: row.author.map(|name| Author {
                        name,
                        reach: row.reach,
                    }),
                    published_at: row.published_at,
                    fetched_at: row.fetched_at,
                    title: stored(title),
                    text: stored(text).unwrap_or_default(),
                    lang_hint: row.lang.filter(|l| l != "und"),
                    address: None,
                    repost_of: row.repost_of,
                    reply_to: stored(reply_to),
                })?;
            }
        }
        Ok(())
    }
}

/// The writer lock of an index, held until dropped.
pub struct WriterLock(#[allow(dead_code)] tantivy::directory::DirectoryLock);
