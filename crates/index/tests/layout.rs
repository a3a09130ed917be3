//! Indexes of an older layout: refused for writing, read back whole for reindexing.

use lauscher_index::{IndexError, MentionDump, MentionIndex};
use lauscher_model::{Lang, MentionId};
use tantivy::schema::{FAST, INDEXED, STORED, STRING, Schema, TEXT};
use tantivy::{DateTime, Index, TantivyDocument};

/// Writes an index the way layout 1 did: hex ids, everything stored, a payload with
/// `"schema": 1`.
fn layout_one(dir: &std::path::Path) -> MentionId {
    let mut sb = Schema::builder();
    let id = sb.add_text_field("mention_id", STRING | STORED);
    let ts = sb.add_date_field("ts", INDEXED | FAST | STORED);
    let source = sb.add_text_field("source", STRING | FAST | STORED);
    let author = sb.add_text_field("author", STRING | FAST | STORED);
    let reach = sb.add_u64_field("author_reach", FAST | STORED);
    let text = sb.add_text_field("text", TEXT | STORED);
    let url = sb.add_text_field("url", STORED);
    let index = Index::create_in_dir(dir, sb.build()).expect("create");
    let mut w = index.writer_with_num_threads(1, 15 << 20).expect("writer");
    let mention = MentionId::from_key("url:https://x.example/1");
    let mut doc = TantivyDocument::default();
    doc.add_text(id, mention.to_string());
    doc.add_date(ts, DateTime::from_timestamp_secs(1_763_632_800));
    doc.add_text(source, "import");
    doc.add_text(author, "@anna");
    doc.add_u64(reach, 1200);
    doc.add_text(text, "Acme Bahn app crashes at login");
    doc.add_text(url, "https://x.example/1");
    w.add_document(doc).expect("add");
    let mut commit = w.prepare_commit().expect("prepare");
    commit.set_payload(r#"{"schema": 1, "commit_seq": 4}"#);
    commit.commit().expect("commit");
    mention
}

#[test]
fn an_older_layout_is_refused_with_the_way_out_and_read_back_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = layout_one(dir.path());
    match MentionIndex::open(dir.path(), &[Lang::De, Lang::En]) {
        Err(e @ IndexError::OlderSchema { found: 1, .. }) => {
            assert!(e.to_string().contains("lauscher reindex"), "{e}");
        }
        Err(e) => panic!("expected OlderSchema, got {e}"),
        Ok(_) => panic!("an older layout opened for writing"),
    }
    let dump = MentionDump::open(dir.path()).expect("dump");
    assert_eq!((dump.layout(), dump.len()), (1, 1));
    let mut read = Vec::new();
    dump.for_each(|m| {
        read.push(m);
        Ok::<(), IndexError>(())
    })
    .expect("read");
    let m = &read[0];
    assert_eq!(m.id, id);
    assert_eq!(m.text, "Acme Bahn app crashes at login");
    assert_eq!(m.source, "import");
    assert_eq!(m.url.as_deref(), Some("https://x.example/1"));
    let author = m.author.as_ref().expect("author");
    assert_eq!((author.name.as_str(), author.reach), ("@anna", Some(1200)));
    assert_eq!(m.published_at.timestamp(), 1_763_632_800);
}

/// Writes two mentions the way layout 4 did: the id as 16 stored and indexed bytes, a
/// repost's original as 32 hex digits in a string column.
fn layout_four(dir: &std::path::Path) -> (MentionId, MentionId) {
    let mut sb = Schema::builder();
    let id = sb.add_bytes_field("mention_id", INDEXED | STORED);
    let ts = sb.add_date_field("ts", FAST);
    let source = sb.add_text_field("source", STRING | FAST);
    let repost_of = sb.add_text_field("repost_of", STRING | FAST);
    let text = sb.add_text_field("text", TEXT | STORED);
    let index = Index::create_in_dir(dir, sb.build()).expect("create");
    let mut w = index.writer_with_num_threads(1, 15 << 20).expect("writer");
    let original = MentionId::from_key("url:https://x.example/1");
    let repost = MentionId::from_key("url:https://y.example/2");
    for (m, of) in [(original, None), (repost, Some(original))] {
        let mut doc = TantivyDocument::default();
        doc.add_bytes(id, &m.0.to_be_bytes());
        doc.add_date(ts, DateTime::from_timestamp_secs(1_763_632_800));
        doc.add_text(source, "import");
        if let Some(o) = of {
            doc.add_text(repost_of, o.to_string());
        }
        doc.add_text(text, "Acme Bahn app crashes at login");
        w.add_document(doc).expect("add");
    }
    let mut commit = w.prepare_commit().expect("prepare");
    commit.set_payload(r#"{"schema": 4, "commit_seq": 9}"#);
    commit.commit().expect("commit");
    (original, repost)
}

#[test]
fn layout_four_ids_and_originals_are_read_back_for_reindexing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (original, repost) = layout_four(dir.path());
    assert!(matches!(
        MentionIndex::open(dir.path(), &[Lang::De, Lang::En]),
        Err(IndexError::OlderSchema { found: 4, .. })
    ));
    let dump = MentionDump::open(dir.path()).expect("dump");
    let mut read = Vec::new();
    dump.for_each(|m| {
        read.push((m.id, m.repost_of));
        Ok::<(), IndexError>(())
    })
    .expect("read");
    read.sort();
    let mut expected = vec![(original, None), (repost, Some(original))];
    expected.sort();
    assert_eq!(read, expected);
}
