//! Searching the index: full text plus filters, newest first.

use chrono::{DateTime, TimeZone, Utc};
use lauscher_model::{
    Author, Contribution, Intent, Label, Mention, MentionId, MentionSummary, TargetSentiment,
    author_key, snippet,
};
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Term, Value};
use tantivy::{DocAddress, DocId, Order, TantivyDocument};

use lauscher_query::{MentionFields, RuleSet};

use crate::{IndexError, OpenIndex, rule};

/// A search: query text and filters. Every filter is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// Query text in tantivy's syntax: words (all must match), `"phrases"`, `OR`, `-not`,
    /// `title:word`. Empty matches everything. Words match their stemmed family in the
    /// configured languages and the exact (folded) form anywhere.
    pub query: String,
    /// Published at or after.
    pub since: Option<DateTime<Utc>>,
    /// Published before.
    pub until: Option<DateTime<Utc>>,
    /// Topic id (mentions tagged with it when they were ingested).
    pub topic: Option<String>,
    /// Rule id: mentions the rule matches now (retro-search; see [`crate::rule`]).
    pub rule: Option<String>,
    /// Language code (`de`, `en`, `und`).
    pub lang: Option<String>,
    /// Source id.
    pub source: Option<String>,
    /// Sentiment label.
    pub label: Option<Label>,
    /// Intent.
    pub intent: Option<Intent>,
    /// Mentions with any of these phrases (the stemmed keys the complaints view lists,
    /// `app crash`); read from the `phrases` column.
    #[serde(default)]
    pub phrases: Vec<String>,
    /// Collapse reposts under their original: reposts are left out and each hit says
    /// how often it was reposted (`collapse=reposts`).
    #[serde(default)]
    pub collapse: Option<Collapse>,
    /// Hits to return (default 20).
    pub limit: usize,
    /// Hits to skip.
    pub offset: usize,
}

impl SearchRequest {
    /// This request with its time window narrowed to `[since, until)`; `None` where
    /// nothing of it is left.
    pub(crate) fn narrowed(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Option<SearchRequest> {
        let since = self.since.map_or(since, |s| s.max(since));
        let until = self.until.map_or(until, |u| u.min(until));
        (since < until).then(|| SearchRequest {
            since: Some(since),
            until: Some(until),
            ..self.clone()
        })
    }
}

/// What a search collapses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Collapse {
    /// Reposts under their original.
    Reposts,
}

impl std::str::FromStr for Collapse {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "reposts" => Ok(Collapse::Reposts),
            _ => Err(format!("invalid collapse {s:?}: expected reposts")),
        }
    }
}

/// One mention as stored in the index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexedMention {
    /// Mention id.
    pub id: MentionId,
    /// Source id.
    pub source: String,
    /// Canonical URL.
    pub url: Option<String>,
    /// Author name.
    pub author: Option<String>,
    /// Author reach (followers).
    pub author_reach: Option<u64>,
    /// Published time.
    pub published_at: DateTime<Utc>,
    /// First fetched.
    pub fetched_at: DateTime<Utc>,
    /// Language code or `und`.
    pub lang: String,
    /// Title.
    pub title: Option<String>,
    /// Text.
    pub text: String,
    /// Sentiment score in [-1, 1].
    pub sentiment: f64,
    /// Sentiment label.
    pub label: String,
    /// Intent (`complaint`, `question`, `praise`, `other`).
    pub intent: String,
    /// The cues behind the intent. Not stored (index layout 5): empty until the mention
    /// is explained (`lauscher_pipeline::explain::Explainer`), like `targets` and
    /// `explanation`.
    pub intent_cues: Vec<String>,
    /// Matched topic ids.
    pub topics: Vec<String>,
    /// Sentiment toward each matched topic (computed when explained).
    pub targets: Vec<TargetSentiment>,
    /// What moved the sentiment score (computed when explained).
    pub explanation: Vec<Contribution>,
    /// Set when explaining it again did not reproduce the stored analysis (it was
    /// analysed by an earlier scorer or other topic rules): what differs. The cues then
    /// explain the current analysis, not the stored figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation_note: Option<String>,
    /// The original this mention reposts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repost_of: Option<MentionId>,
    /// The post this one answers, as the source names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// How often it was reposted (collapsed searches only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reposts: Option<usize>,
}

impl IndexedMention {
    /// The mention as it came in, for analysing it again: its detected language is
    /// the language hint (so it is not detected anew), as `lauscher reindex` does.
    pub fn to_mention(&self) -> Mention {
        Mention {
            id: self.id,
            source: self.source.clone(),
            url: self.url.clone(),
            author: self.author.as_ref().map(|name| Author {
                name: name.clone(),
                reach: self.author_reach,
            }),
            published_at: self.published_at,
            fetched_at: self.fetched_at,
            title: self.title.clone(),
            text: self.text.clone(),
            lang_hint: Some(self.lang.clone()).filter(|l| l != "und"),
            address: None,
            repost_of: self.repost_of,
            reply_to: self.reply_to.clone(),
        }
    }
}

/// A page of search results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    /// All matching mentions.
    pub total: usize,
    /// The requested page, newest first.
    pub hits: Vec<IndexedMention>,
}

/// Most candidates a retro-search that needs the live matcher's check reads.
const MAX_CHECKED: usize = 1_000_000;

impl OpenIndex {
    /// Runs `req` against the last reloaded commit; `rules` resolves `req.rule`.
    pub fn search(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
    ) -> Result<SearchPage, IndexError> {
        let mut query = self.build_query(req)?;
        let searcher = self.reader.searcher();
        let limit = if req.limit == 0 {
            20
        } else {
            req.limit.min(10_000)
        };
        if let Some((set, pos, false)) = self.add_rule(&mut query, req, rules)? {
            return self.search_checked(&searcher, query.as_ref(), set, pos, req, limit);
        }
        let top = TopDocs::with_limit(limit)
            .and_offset(req.offset)
            .order_by_fast_field::<tantivy::DateTime>("ts", Order::Desc);
        let (total, docs) = searcher
            .search(&query, &(Count, top))
            .map_err(|e| self.tantivy(e))?;
        let mut loader = Loader::kept(self, &searcher);
        let mut hits: Vec<IndexedMention> = docs
            .into_iter()
            .map(|(_, addr)| loader.load(addr))
            .collect::<Result<_, _>>()?;
        if req.collapse == Some(Collapse::Reposts) {
            self.count_reposts(&searcher, &mut hits)?;
        }
        Ok(SearchPage { total, hits })
    }

    /// Sets each hit's repost count (deleted reposts left out): per segment, one term
    /// lookup per hit ([`SegmentIds`](crate::id::SegmentIds)).
    fn count_reposts(
        &self,
        searcher: &tantivy::Searcher,
        hits: &mut [IndexedMention],
    ) -> Result<(), IndexError> {
        let mut counts = vec![0usize; hits.len()];
        for reader in searcher.segment_readers() {
            let alive = reader.alive_bitset();
            let repost = crate::id::IdFields::repost(&self.fields);
            let mut ids =
                crate::id::SegmentIds::open(reader, repost).map_err(|e| self.tantivy(e))?;
            for (hit, count) in hits.iter().zip(&mut counts) {
                ids.for_each(hit.id, |doc| {
                    if alive.is_none_or(|a| a.is_alive(doc)) {
                        *count += 1;
                    }
                })
                .map_err(|e| self.tantivy(e))?;
            }
        }
        for (hit, count) in hits.iter_mut().zip(counts) {
            hit.reposts = Some(count);
        }
        Ok(())
    }

    /// The query of `req`'s text and filters, narrowed to its rule: what aggregations
    /// and tallies count.
    pub(crate) fn filtered_query(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
    ) -> Result<Box<dyn Query>, IndexError> {
        let mut query = self.build_query(req)?;
        self.add_rule(&mut query, req, rules)?;
        Ok(query)
    }

    /// Narrows `query` to `req.rule`'s index translation; returns the rule set, the
    /// rule's position and whether the translation is exact (`None` without a rule).
    pub(crate) fn add_rule<'r>(
        &self,
        query: &mut Box<dyn Query>,
        req: &SearchRequest,
        rules: Option<&'r RuleSet>,
    ) -> Result<Option<(&'r RuleSet, usize, bool)>, IndexError> {
        let Some(id) = &req.rule else {
            return Ok(None);
        };
        let (set, pos) = rules
            .and_then(|set| set.position(id).map(|p| (set, p)))
            .ok_or_else(|| IndexError::UnknownRule(id.clone()))?;
        let translated = rule::translate(&set.rules()[pos].expr, &self.fields);
        let base = std::mem::replace(query, Box::new(AllQuery));
        *query = Box::new(BooleanQuery::new(vec![
            (Occur::Must, base),
            (Occur::Must, translated.query),
        ]));
        Ok(Some((set, pos, translated.exact)))
    }

    /// Runs tantivy aggregations (`aggs`, in the Elasticsearch JSON form tantivy takes)
    /// over the mentions `req` filters (its query, limit and offset aside from the
    /// filters are ignored), and returns the results as JSON. Reads fast fields only:
    /// no stored document is loaded, so it costs a column scan of the matching docs.
    ///
    /// A rule filter uses the rule's index translation; for the few rules whose
    /// translation is a superset (proximity, `raw:`, `url:`), the counts include the
    /// superset's extra mentions.
    pub fn aggregate(
        &self,
        req: &SearchRequest,
        rules: Option<&RuleSet>,
        aggs: serde_json::Value,
    ) -> Result<serde_json::Value, IndexError> {
        use tantivy::aggregation::agg_req::Aggregations;
        use tantivy::aggregation::{AggContextParams, AggregationCollector};

        let query = self.filtered_query(req, rules)?;
        let aggs: Aggregations = serde_json::from_value(aggs).map_err(|e| IndexError::Query {
            query: "aggregation".into(),
            detail: e.to_string(),
        })?;
        let collector = AggregationCollector::from_aggs(aggs, AggContextParams::default());
        let searcher = self.reader.searcher();
        let results = searcher
            .search(&query, &collector)
            .map_err(|e| self.tantivy(e))?;
        serde_json::to_value(results).map_err(|e| IndexError::Query {
            query: "aggregation".into(),
            detail: e.to_string(),
        })
    }

    /// Retro-search for rules that need the live matcher: reads every candidate newest
    /// first, keeps those the rule matches, and pages over them.
    fn search_checked(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn Query,
        set: &RuleSet,
        rule: usize,
        req: &SearchRequest,
        limit: usize,
    ) -> Result<SearchPage, IndexError> {
        let candidates = searcher
            .search(query, &Count)
            .map_err(|e| self.tantivy(e))?
            .min(MAX_CHECKED);
        if candidates == 0 {
            return Ok(SearchPage {
                total: 0,
                hits: Vec::new(),
            });
        }
        let top = TopDocs::with_limit(candidates)
            .order_by_fast_field::<tantivy::DateTime>("ts", Order::Desc);
        let docs = searcher.search(query, &top).map_err(|e| self.tantivy(e))?;
        let mut total = 0;
        let mut hits = Vec::new();
        let mut loader = Loader::new(self, searcher);
        for (_, addr) in docs {
            let m = loader.load(addr)?;
            let fields = MentionFields {
                text: &m.text,
                title: m.title.as_deref(),
                lang: &m.lang,
                source: &m.source,
                author: m.author.as_deref(),
                url: m.url.as_deref(),
            };
            if !set.matches(rule, &fields) {
                continue;
            }
            if total >= req.offset && hits.len() < limit {
                hits.push(m);
            }
            total += 1;
        }
        Ok(SearchPage { total, hits })
    }

    /// Summaries of the mentions published in `[since, until)`, for rebuilding alert
    /// counters and backtests; unordered. Reads every matching stored document (about
    /// 200k/s), so callers bound the range (8 weeks at start-up).
    pub fn summaries(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<MentionSummary>, IndexError> {
        let req = SearchRequest {
            since: Some(since),
            until: Some(until),
            ..SearchRequest::default()
        };
        let query = self.build_query(&req)?;
        let searcher = self.reader.searcher();
        let docs = searcher
            .search(&query, &DocSetCollector)
            .map_err(|e| self.tantivy(e))?;
        let mut out = Vec::with_capacity(docs.len());
        // In document order: columns open once per segment, doc store blocks read once.
        let mut docs: Vec<DocAddress> = docs.into_iter().collect();
        docs.sort_unstable();
        let mut loader = Loader::new(self, &searcher);
        for addr in docs {
            let m = loader.load(addr)?;
            out.push(MentionSummary {
                id: m.id,
                author_key: author_key(m.author.as_deref(), m.url.as_deref(), &m.source),
                source: m.source,
                reach: m.author_reach,
                published_at: m.published_at,
                fetched_at: m.fetched_at,
                lang: m.lang.parse().ok(),
                score: m.sentiment as f32,
                label: m.label.parse().unwrap_or(Label::Neutral),
                intent: m.intent.parse().unwrap_or(Intent::Other),
                topics: m.topics,
                snippet: snippet(&m.text),
                reply_to: None,
                address: None,
                url: m.url,
            });
        }
        Ok(out)
    }

    /// Returns the mention with id `id`, if indexed.
    pub fn get(&self, id: MentionId) -> Result<Option<IndexedMention>, IndexError> {
        let searcher = self.reader.searcher();
        let q = crate::id::IdQuery::mention(&self.fields, id);
        let docs = searcher
            .search(&q, &TopDocs::with_limit(1).order_by_score())
            .map_err(|e| self.tantivy(e))?;
        match docs.first() {
            Some((_, addr)) => Ok(Some(self.load(&searcher, *addr)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn tantivy(&self, source: tantivy::TantivyError) -> IndexError {
        IndexError::Tantivy {
            path: self.path.clone(),
            source,
        }
    }

    /// Mentions published in `[since, until)` (to the second, the column's precision;
    /// an open end is unbounded): a range over the `ts` column.
    pub(crate) fn time_range(
        &self,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Box<dyn Query> {
        Box::new(crate::window::PublishedWithin::new(
            since.map(|d| d.timestamp()),
            until.map(|d| d.timestamp()),
            self.spans.clone(),
        ))
    }

    pub(crate) fn build_query(&self, req: &SearchRequest) -> Result<Box<dyn Query>, IndexError> {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let text = req.query.trim();
        if !text.is_empty() && text != "*" {
            let mut fields = vec![f.title, f.text];
            fields.extend(f.stemmed.values().copied());
            let mut parser = QueryParser::for_index(&self.index, fields);
            parser.set_conjunction_by_default();
            let q = parser.parse_query(text).map_err(|e| IndexError::Query {
                query: req.query.clone(),
                detail: e.to_string(),
            })?;
            clauses.push((Occur::Must, q));
        }
        let term = |field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(t) = &req.topic {
            clauses.push((Occur::Must, term(f.topics, t)));
        }
        if let Some(l) = &req.lang {
            clauses.push((Occur::Must, term(f.lang, l)));
        }
        if let Some(s) = &req.source {
            clauses.push((Occur::Must, term(f.source, s)));
        }
        if let Some(i) = req.intent {
            clauses.push((Occur::Must, term(f.intent, i.as_str())));
        }
        if let Some(l) = req.label {
            clauses.push((Occur::Must, term(f.sentiment_label, l.as_str())));
        }
        if !req.phrases.is_empty() {
            // The column-only field answers a one-value range (tantivy scans the
            // column block by block, skipping to the other clauses' documents).
            let any: Vec<(Occur, Box<dyn Query>)> = req
                .phrases
                .iter()
                .map(|p| {
                    let t = Term::from_field_text(f.phrases, p);
                    let q: Box<dyn Query> = Box::new(RangeQuery::new(
                        std::ops::Bound::Included(t.clone()),
                        std::ops::Bound::Included(t),
                    ));
                    (Occur::Should, q)
                })
                .collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        if req.collapse == Some(Collapse::Reposts) {
            clauses.push((Occur::Must, Box::new(AllQuery)));
            clauses.push((
                Occur::MustNot,
                Box::new(tantivy::query::ExistsQuery::new("repost_low".into(), false)),
            ));
        }
        if req.since.is_some() || req.until.is_some() {
            clauses.push((Occur::Must, self.time_range(req.since, req.until)));
        }
        Ok(match clauses.len() {
            0 => Box::new(AllQuery),
            _ => Box::new(BooleanQuery::new(clauses)),
        })
    }

    /// Loads the mention at `addr` (see [`Loader`]).
    pub(crate) fn load(
        &self,
        searcher: &tantivy::Searcher,
        addr: DocAddress,
    ) -> Result<IndexedMention, IndexError> {
        Loader::new(self, searcher).load(addr)
    }
}

/// Mentions kept at most by [`KeptMentions`] (with their text, about 1 KiB each).
const KEPT_MENTIONS: usize = 8192;

/// Mentions loaded for pages of hits and a view's newest posts, kept by segment and
/// document: a dashboard asking again (its window ends seconds later) finds most of
/// the same ones, each of which cost a doc store block read and decompression (64 KiB,
/// zstd; tantivy keeps 100 blocks per segment, fewer than a view's newest posts of
/// twenty phrases touch). A segment never changes, so a kept mention stays true; those
/// of segments merged away are never asked for again and go as the least recently
/// used. Bulk reads (summaries, checked searches) pass it by. Cost: up to
/// [`KEPT_MENTIONS`] mentions, a lookup per load.
pub(crate) struct KeptMentions {
    inner: std::sync::Mutex<lru::LruCache<(tantivy::index::SegmentId, DocId), IndexedMention>>,
}

impl Default for KeptMentions {
    fn default() -> Self {
        KeptMentions {
            inner: std::sync::Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(KEPT_MENTIONS).unwrap_or(std::num::NonZeroUsize::MIN),
            )),
        }
    }
}

impl KeptMentions {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, lru::LruCache<(tantivy::index::SegmentId, DocId), IndexedMention>>
    {
        // A panic while inserting left at worst an entry missing: values are whole.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Loads mentions: stored text, title and URL from the doc store (one block read and
/// decompression each), everything else from the segment's columns, opened once per
/// segment as long as consecutive loads stay in it.
pub(crate) struct Loader<'a> {
    index: &'a OpenIndex,
    searcher: &'a tantivy::Searcher,
    open: Option<(u32, SegmentColumns)>,
    /// Where loaded mentions are kept and looked up first, if anywhere.
    kept: Option<&'a KeptMentions>,
}

impl<'a> Loader<'a> {
    /// A loader for bulk reads: every mention from the doc store.
    pub(crate) fn new(index: &'a OpenIndex, searcher: &'a tantivy::Searcher) -> Self {
        Loader {
            index,
            searcher,
            open: None,
            kept: None,
        }
    }

    /// A loader for pages and a view's newest posts: mentions kept by the index
    /// ([`KeptMentions`]) first.
    pub(crate) fn kept(index: &'a OpenIndex, searcher: &'a tantivy::Searcher) -> Self {
        Loader {
            kept: Some(&index.kept),
            ..Loader::new(index, searcher)
        }
    }

    /// The mention at `addr`.
    pub(crate) fn load(&mut self, addr: DocAddress) -> Result<IndexedMention, IndexError> {
        let Some(kept) = self.kept else {
            return self.read(addr);
        };
        let key = (
            self.searcher.segment_reader(addr.segment_ord).segment_id(),
            addr.doc_id,
        );
        if let Some(m) = kept.lock().get(&key) {
            return Ok(m.clone());
        }
        let m = self.read(addr)?;
        kept.lock().put(key, m.clone());
        Ok(m)
    }

    /// The mention at `addr`, from the doc store and the columns.
    fn read(&mut self, addr: DocAddress) -> Result<IndexedMention, IndexError> {
        let searcher = self.searcher;
        let columns = match &mut self.open {
            Some((seg, columns)) if *seg == addr.segment_ord => columns,
            slot => {
                let columns = SegmentColumns::open(searcher.segment_reader(addr.segment_ord))
                    .map_err(|e| self.index.tantivy(e))?;
                &slot.insert((addr.segment_ord, columns)).1
            }
        };
        let doc: TantivyDocument = searcher.doc(addr).map_err(|e| self.index.tantivy(e))?;
        let f = &self.index.fields;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        let d = addr.doc_id;
        let row = columns.row(d);
        Ok(IndexedMention {
            id: row.id.unwrap_or(MentionId(0)),
            source: row.source,
            url: text(f.url),
            author: row.author,
            author_reach: row.reach,
            published_at: row.published_at,
            fetched_at: row.fetched_at,
            lang: row.lang.unwrap_or_default(),
            title: text(f.title),
            text: text(f.text).unwrap_or_default(),
            sentiment: columns
                .sentiment
                .first(d)
                .map(crate::schema::score_of_units)
                .unwrap_or_default(),
            label: columns.label.first(d).unwrap_or_default(),
            intent: columns.intent.first(d).unwrap_or_default(),
            intent_cues: Vec::new(),
            topics: columns.topics.all(d),
            targets: Vec::new(),
            explanation: Vec::new(),
            explanation_note: None,
            repost_of: row.repost_of,
            reply_to: text(f.reply_to),
            reposts: None,
        })
    }
}

/// The columns a page of hits reads, opened once per segment (a few µs each).
pub(crate) struct SegmentColumns {
    ts: Option<Column<tantivy::DateTime>>,
    fetched_at: Option<Column<tantivy::DateTime>>,
    source: Words,
    author: Words,
    lang: Words,
    label: Words,
    intent: Words,
    topics: Words,
    id_high: Numbers<u64>,
    id_low: Numbers<u64>,
    repost_high: Numbers<u64>,
    repost_low: Numbers<u64>,
    /// The original's id as 32 hex digits, in layouts before 5 (read by reindex).
    repost_hex: Words,
    sentiment: Numbers<i64>,
    author_reach: Numbers<u64>,
}

impl SegmentColumns {
    /// Opens the columns of `segment`; a column an older index lacks reads as empty.
    pub(crate) fn open(segment: &tantivy::SegmentReader) -> tantivy::Result<SegmentColumns> {
        let ff = segment.fast_fields();
        let words = |name: &str| -> tantivy::Result<Words> { Ok(Words(ff.str(name)?)) };
        Ok(SegmentColumns {
            ts: ff.date("ts").ok(),
            fetched_at: ff.date("fetched_at").ok(),
            source: words("source")?,
            author: words("author")?,
            lang: words("lang")?,
            label: words("sentiment_label")?,
            intent: words("intent")?,
            topics: words("topics")?,
            id_high: Numbers(ff.u64("id_high").ok()),
            id_low: Numbers(ff.u64("id_low").ok()),
            repost_high: Numbers(ff.u64("repost_high").ok()),
            repost_low: Numbers(ff.u64("repost_low").ok()),
            repost_hex: Words(ff.str("repost_of").ok().flatten()),
            sentiment: Numbers(ff.i64("sentiment").ok()),
            author_reach: Numbers(ff.u64("author_reach").ok()),
        })
    }

    fn date(column: &Option<Column<tantivy::DateTime>>, doc: DocId) -> DateTime<Utc> {
        column
            .as_ref()
            .and_then(|c| c.first(doc))
            .and_then(|d| Utc.timestamp_opt(d.into_timestamp_secs(), 0).single())
            .unwrap_or_default()
    }

    /// When the mention at `doc` was published.
    pub(crate) fn published(&self, doc: DocId) -> DateTime<Utc> {
        Self::date(&self.ts, doc)
    }

    /// When the mention at `doc` was first fetched.
    pub(crate) fn fetched(&self, doc: DocId) -> DateTime<Utc> {
        Self::date(&self.fetched_at, doc)
    }
}

/// What [`SegmentColumns::row`] reads of a mention's own metadata (not its analysis).
pub(crate) struct ColumnRow {
    /// `None` in layouts before 5, which stored it (see `dump`).
    pub id: Option<MentionId>,
    pub source: String,
    pub author: Option<String>,
    pub reach: Option<u64>,
    pub published_at: DateTime<Utc>,
    pub fetched_at: DateTime<Utc>,
    pub lang: Option<String>,
    pub repost_of: Option<MentionId>,
}

impl SegmentColumns {
    /// The metadata of the mention at `doc` (no analysis result).
    pub(crate) fn row(&self, doc: DocId) -> ColumnRow {
        let id = |high: &Numbers<u64>, low: &Numbers<u64>| {
            Some(crate::id::id_of_halves(high.first(doc)?, low.first(doc)?))
        };
        ColumnRow {
            id: id(&self.id_high, &self.id_low),
            source: self.source.first(doc).unwrap_or_default(),
            author: self.author.first(doc),
            reach: self.author_reach.first(doc),
            published_at: self.published(doc),
            fetched_at: self.fetched(doc),
            lang: self.lang.first(doc),
            repost_of: id(&self.repost_high, &self.repost_low)
                .or_else(|| self.repost_hex.first(doc).and_then(|s| s.parse().ok())),
        }
    }
}

/// A string column (absent in a segment without values).
struct Words(Option<StrColumn>);

impl Words {
    fn first(&self, doc: DocId) -> Option<String> {
        let col = self.0.as_ref()?;
        let ord = col.term_ords(doc).next()?;
        let mut out = String::new();
        col.ord_to_str(ord, &mut out).ok()?.then_some(out)
    }

    fn all(&self, doc: DocId) -> Vec<String> {
        let Some(col) = self.0.as_ref() else {
            return Vec::new();
        };
        col.term_ords(doc)
            .filter_map(|ord| {
                let mut out = String::new();
                col.ord_to_str(ord, &mut out).ok()?.then_some(out)
            })
            .collect()
    }
}

/// A numeric column (absent in a segment without values).
struct Numbers<T>(Option<Column<T>>);

impl<T: PartialOrd + Copy + Send + Sync + std::fmt::Debug + 'static> Numbers<T> {
    fn first(&self, doc: DocId) -> Option<T> {
        self.0.as_ref()?.first(doc)
    }
}

/// Parses a time filter: a relative age (`30m`, `24h`, `7d`, `2w`: that long before
/// `now`), an RFC 3339 timestamp, or a date (`2026-11-20`, midnight UTC).
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Some(unit) = s.chars().last().filter(|c| c.is_ascii_alphabetic()) {
        let digits = &s[..s.len() - 1];
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            let n: i64 = digits
                .parse()
                .map_err(|_| format!("invalid time {s:?}: number too large"))?;
            let secs = match unit {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 7 * 86_400,
                _ => {
                    return Err(format!(
                        "invalid time {s:?}: unknown unit {unit:?}, expected s, m, h, d or w"
                    ));
                }
            };
            return n
                .checked_mul(secs)
                .and_then(chrono::TimeDelta::try_seconds)
                .and_then(|d| now.checked_sub_signed(d))
                .ok_or_else(|| format!("invalid time {s:?}: too far back"));
        }
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(Utc.from_utc_datetime(&t));
    }
    Err(format!(
        "invalid time {s:?}: expected an age (30m, 24h, 7d), an RFC 3339 timestamp or a date (2026-11-20)"
    ))
}
