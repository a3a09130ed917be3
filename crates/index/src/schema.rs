//! The index schema and its field handles.

use std::collections::HashMap;

use lauscher_model::Lang;

use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, INDEXED, IndexRecordOption, STORED, STRING,
    Schema, TextFieldIndexing, TextOptions,
};

use crate::analyzer::{SOCIAL, stem_name};

/// Builds the schema for `langs`.
pub fn build(langs: &[Lang]) -> Schema {
    let mut sb = Schema::builder();
    sb.add_text_field("mention_id", STRING | STORED);
    let date = DateOptions::from(INDEXED | FAST | STORED).set_precision(DateTimePrecision::Seconds);
    sb.add_date_field("ts", date.clone());
    sb.add_date_field("fetched_at", date);
    for f in [
        "source",
        "author",
        "lang",
        "sentiment_label",
        "intent",
        "topic_kind",
        "topics",
    ] {
        sb.add_text_field(f, STRING | FAST | STORED);
    }
    // What topic rules filter on: hashtags and handles (`#bahn`, `@db_bahn`), the
    // author's folded name, and the URL's host with its parent domains.
    sb.add_text_field("tags", STRING | FAST);
    sb.add_text_field("author_key", STRING);
    sb.add_text_field("site", STRING | FAST);
    // Stemmed uni- and bigrams for recurring complaints (lauscher_text::phrases):
    // counted through the fast column, searched through the term index.
    sb.add_text_field("phrases", STRING | FAST);
    sb.add_f64_field("sentiment", FAST | STORED);
    sb.add_u64_field("author_reach", FAST | STORED);
    sb.add_u64_field("simhash", FAST | STORED);
    // The original a repost reposts (its mention id); absent on originals.
    sb.add_text_field("repost_of", STRING | FAST | STORED);
    sb.add_text_field("reply_to", STRING | STORED);
    sb.add_text_field("url", STORED);
    sb.add_text_field("explanation", STORED);
    let social = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(SOCIAL)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    sb.add_text_field("title", social.clone());
    sb.add_text_field("text", social);
    for lang in langs {
        sb.add_text_field(
            &format!("text_{}", lang.code()),
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(&stem_name(*lang))
                    .set_index_option(IndexRecordOption::WithFreqs),
            ),
        );
    }
    sb.build()
}

/// Handles to every field, resolved once per open.
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub struct Fields {
    pub mention_id: Field,
    pub ts: Field,
    pub fetched_at: Field,
    pub source: Field,
    pub author: Field,
    pub lang: Field,
    pub sentiment_label: Field,
    pub intent: Field,
    pub topic_kind: Field,
    pub topics: Field,
    pub tags: Field,
    pub author_key: Field,
    pub site: Field,
    pub phrases: Field,
    pub sentiment: Field,
    pub author_reach: Field,
    pub simhash: Field,
    pub repost_of: Field,
    /// Absent in indexes made before replies were kept: they open, without it.
    pub reply_to: Option<Field>,
    pub url: Field,
    pub explanation: Field,
    pub title: Field,
    pub text: Field,
    /// The stemmed field of each language the index was created with.
    pub stemmed: HashMap<Lang, Field>,
}

/// A field the index lacks: it was built by an older version of Lauscher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingField(pub &'static str);

impl Fields {
    /// Resolves the fields of an index built by [`build`]; names the first missing field
    /// of an index built by another version.
    pub fn from_schema(schema: &Schema) -> Result<Fields, MissingField> {
        let mut missing = None;
        let mut f = |name: &'static str| match schema.get_field(name) {
            Ok(field) => field,
            Err(_) => {
                missing.get_or_insert(name);
                Field::from_field_id(0)
            }
        };
        let stemmed = Lang::ALL
            .into_iter()
            .filter_map(|l| {
                schema
                    .get_field(&format!("text_{}", l.code()))
                    .ok()
                    .map(|f| (l, f))
            })
            .collect();
        let fields = Fields {
            mention_id: f("mention_id"),
            ts: f("ts"),
            fetched_at: f("fetched_at"),
            source: f("source"),
            author: f("author"),
            lang: f("lang"),
            sentiment_label: f("sentiment_label"),
            intent: f("intent"),
            topic_kind: f("topic_kind"),
            topics: f("topics"),
            tags: f("tags"),
            author_key: f("author_key"),
            site: f("site"),
            phrases: f("phrases"),
            sentiment: f("sentiment"),
            author_reach: f("author_reach"),
            simhash: f("simhash"),
            repost_of: f("repost_of"),
            reply_to: schema.get_field("reply_to").ok(),
            url: f("url"),
            explanation: f("explanation"),
            title: f("title"),
            text: f("text"),
            stemmed,
        };
        match missing {
            Some(name) => Err(MissingField(name)),
            None => Ok(fields),
        }
    }
}
