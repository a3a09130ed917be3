//! The index schema and its field handles.

use std::collections::HashMap;

use lauscher_model::Lang;

use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, IndexRecordOption, NumericOptions, STORED, Schema,
    TextFieldIndexing, TextOptions,
};

use crate::analyzer::{SOCIAL, stem_name};

/// The layout version written into every commit's payload (`"schema"`). An index of an
/// older layout opens read-only for `lauscher reindex` ([`crate::dump`]) and is refused
/// for writing with [`crate::IndexError::OlderSchema`].
///
/// 6: a mention id is looked up by a 16-bit key of its low half (`id_key`,
/// `repost_key` for a repost's original), indexed without field norms; both halves are
/// columns only (was: the whole low half indexed, with norms). At most 65,536 terms
/// instead of one per mention: the id's term dictionary was 0.20 × the raw text on 73k
/// real posts ([`crate::id`] has the numbers).
///
/// 5: mention ids and repost originals as two 64-bit columns each, the low half
/// indexed (was: 16-byte terms, a stored copy, and the original's 32 hex digits as term
/// and column); no stored explanation. The cues behind a score (sentiment, intent, per-topic
/// sentiment) are computed again when a mention is shown (`lauscher_pipeline::explain`,
/// one scoring, ~40 µs a mention): stored as JSON they were 0.21 × the raw text on 73k
/// real posts, a fifth of the doc store.
///
/// 4: the sentiment score is a column of ten-thousandths (`i64`): about 15 bits per
/// mention where the `f64` took 64 (0.08 × the raw text on 73k real posts), and
/// four decimals are all a lexicon score means.
///
/// 3: phrases are a column only; no SimHash column (the state store keeps SimHashes
/// for near-duplicate checks; nothing read it from the index).
///
/// 2: nothing is stored that a column holds (dates, labels, topics, scores, author),
/// no field norms (results are ordered by time, never by BM25 score), no term
/// frequencies on the stemmed fields, dates found through their columns only, zstd
/// doc store.
pub const SCHEMA_VERSION: u64 = 6;

/// Builds the schema for `langs`.
///
/// Decisions, measured on 18k real posts (`benches/ingest.rs`): every indexed term costs
/// tantivy a dictionary entry at each flush and merge, every stored value a doc store
/// byte, so a value is indexed only where a filter or query looks it up, stored only
/// where no column holds it, and given a column only where a tally or a page of hits
/// reads it. Field norms and frequencies serve BM25, which no search uses (hits are
/// ordered by time).
pub fn build(langs: &[Lang]) -> Schema {
    let mut sb = Schema::builder();
    // The mention id (128 bits) as two 64-bit columns, so a hit's id is read without the
    // doc store, and a key looked up (get, replace, delete), a 16-bit hash of the low half
    // (`crate::id`: the columns confirm each candidate). Indexed whole, random 16-byte
    // terms cost the term dictionary 34 bytes a mention and a stored copy 16 more.
    let key = NumericOptions::default().set_indexed();
    sb.add_u64_field("id_high", FAST);
    sb.add_u64_field("id_low", FAST);
    sb.add_u64_field("id_key", key.clone());
    // Found through their columns: a range query on a fast field reads the column.
    let date = DateOptions::from(FAST).set_precision(DateTimePrecision::Seconds);
    sb.add_date_field("ts", date.clone());
    sb.add_date_field("fetched_at", date);
    // Filters and tallies: indexed and columnar, read back from the column.
    for f in [
        "source",
        "author",
        "lang",
        "sentiment_label",
        "intent",
        "topic_kind",
        "topics",
    ] {
        sb.add_text_field(f, keyword().set_fast("raw"));
    }
    // What topic rules filter on: hashtags and handles (`#bahn`, `@db_bahn`), the
    // author's folded name, and the URL's host with its parent domains.
    // The original a repost reposts, as its id's halves and key (as `id_high`, `id_low`,
    // `id_key`); absent on originals.
    sb.add_u64_field("repost_high", FAST);
    sb.add_u64_field("repost_low", FAST);
    sb.add_u64_field("repost_key", key);
    sb.add_text_field("tags", keyword().set_fast("raw"));
    sb.add_text_field("author_key", keyword());
    sb.add_text_field("site", keyword().set_fast("raw"));
    // Stemmed uni- and bigrams for recurring complaints (lauscher_text::phrases): a
    // column only. The tallies count it; a search for a phrase
    // (`phrases:["app crash" TO "app crash"]`, what the complaints view links to)
    // reads it too. As terms they were most of the term dictionary (0.6 × the raw
    // text on real posts) and of tantivy's indexing work, for a drill-down search.
    sb.add_text_field("phrases", TextOptions::default().set_fast("raw"));
    // Ten-thousandths of the score ([`score_units`]).
    sb.add_i64_field("sentiment", FAST);
    sb.add_u64_field("author_reach", FAST);
    sb.add_text_field("reply_to", STORED);
    sb.add_text_field("url", STORED);
    let social = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(SOCIAL)
            .set_fieldnorms(false)
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
                    .set_fieldnorms(false)
                    .set_index_option(IndexRecordOption::Basic),
            ),
        );
    }
    sb.build()
}

/// Units of the `sentiment` column per score point: a score in [-1, 1] is kept to four
/// decimals.
const SCORE_UNITS: f64 = 10_000.0;

/// The `sentiment` column's value of `score` (clamped to [-1, 1]; not a number is 0).
pub(crate) fn score_units(score: f32) -> i64 {
    let s = f64::from(score).clamp(-1.0, 1.0);
    if s.is_nan() {
        return 0;
    }
    (s * SCORE_UNITS).round() as i64
}

/// The score a `sentiment` column value stands for.
pub(crate) fn score_of_units(units: i64) -> f64 {
    units as f64 / SCORE_UNITS
}

/// A whole-value keyword: one term, no norms.
fn keyword() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_fieldnorms(false)
            .set_index_option(IndexRecordOption::Basic),
    )
}

/// Handles to every field, resolved once per open.
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub struct Fields {
    pub id_high: Field,
    pub id_low: Field,
    pub id_key: Field,
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
    pub repost_high: Field,
    pub repost_low: Field,
    pub repost_key: Field,
    pub reply_to: Field,
    pub url: Field,
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
            id_high: f("id_high"),
            id_low: f("id_low"),
            id_key: f("id_key"),
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
            repost_high: f("repost_high"),
            repost_low: f("repost_low"),
            repost_key: f("repost_key"),
            reply_to: f("reply_to"),
            url: f("url"),
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
