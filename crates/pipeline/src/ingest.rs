//! The ingest stage, on two threads so that indexing one batch overlaps analysing the
//! next:
//!
//! - the *analyser* fingerprints a batch, drops duplicates (of committed mentions, via
//!   the state store, and of those in flight), analyses the rest on all cores and drops
//!   those matching no topic;
//! - the *indexer* adds the survivors to tantivy and commits on time, count, flush
//!   or drain; after each commit it reloads readers, writes checkpoints and seen rows to the
//!   state store in one transaction, and acknowledges the batches it covered.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lauscher_config::Config;
use lauscher_index::{MentionIndex, MentionWriter};
use lauscher_model::{Mention, MentionId, MentionSummary, ScoredMention, author_key};
use lauscher_query::ActiveRules;
use lauscher_scorer::Scorer;
use lauscher_state::{Checkpoint, Duplicate, Seen, SeenQuery, SeenRow, StateStore, author_hash};
use lauscher_telemetry::METRICS;
use lauscher_telemetry::events::IndexCommitted;
use lauscher_text::Fingerprint;
use lauscher_text::fingerprint::NearIndex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};

use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

/// Batches the ingest queue holds before senders wait.
const QUEUE_BATCHES: usize = 8;
/// Analysed batches waiting for the indexer before the analyser waits.
const ANALYSED_BATCHES: usize = 2;
/// Seen-set entries older than this are forgotten (re-polls after that are rare).
const SEEN_RETENTION_DAYS: i64 = 30;
/// Batches at least this large are analysed on all cores.
const PARALLEL_BATCH: usize = 256;

/// Why the pipeline failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The state store failed.
    #[error(transparent)]
    State(#[from] lauscher_state::StateError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] lauscher_index::IndexError),
    /// tantivy failed while writing.
    #[error("index write failed: {0}")]
    Write(#[from] tantivy_error::TantivyError),
    /// An ingest thread is gone (it failed earlier; its error was logged).
    #[error("ingest thread stopped")]
    Stopped,
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(String),
    /// The data directory could not be prepared.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// An online rebuild of the index failed (the index in force keeps serving).
    #[error("index rebuild: {0}")]
    Rebuild(String),
}

mod tantivy_error {
    pub use lauscher_index::writer::TantivyError;
}

/// Called after each commit with the summaries of the mentions it made durable.
pub type CommitHook = Box<dyn FnMut(Vec<MentionSummary>) + Send>;

/// Mentions from one poll or one slice of an import, with what to record once they are
/// committed.
#[derive(Debug)]
pub struct Batch {
    /// The source id.
    pub source: String,
    /// The mentions, in source order.
    pub mentions: Vec<Mention>,
    /// The source's checkpoint after this batch, stored once the batch is committed.
    pub checkpoint: Option<Checkpoint>,
    /// Mentions the source reports deleted: removed from the index in the same commit.
    pub deletes: Vec<MentionId>,
    /// Index mentions that match no topic too.
    pub keep_all: bool,
    /// Told what became of the batch once it is committed.
    pub ack: Option<oneshot::Sender<BatchReport>>,
}

/// What became of a batch, sent after its commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Mentions committed to the index.
    pub indexed: usize,
    /// Mentions dropped as duplicates.
    pub duplicates: usize,
    /// Mentions dropped for matching no topic.
    pub unmatched: usize,
}

enum Msg {
    Batch(Batch),
    Flush(oneshot::Sender<Result<(), String>>),
    Prune(DateTime<Utc>, oneshot::Sender<Result<(), String>>),
    Rebuild(RebuildStep),
}

/// A step of an online rebuild ([`crate::reindex::Rebuilder`]), taken by the indexer in
/// its order with the batches sent before it.
pub(crate) enum RebuildStep {
    /// Commit, then copy every change to `tee` until the swap.
    Start {
        tee: std::sync::mpsc::Sender<Change>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Commit, send the last commit's number down the tee and close it, wait for the
    /// rebuilt index (`ready`), then put it in force.
    Swap {
        ready: Receiver<Result<(), String>>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Stop copying: the rebuild failed.
    Abort,
}

/// A change the indexer made while a rebuild runs, for the rebuilt index to make too.
pub(crate) enum Change {
    /// Mentions added.
    Add(Vec<ScoredMention>),
    /// Mentions deleted (at their source).
    Delete(Vec<MentionId>),
    /// Mentions published before this time deleted (retention).
    Prune(DateTime<Utc>),
    /// No more changes: the old index's last commit number.
    End(u64),
}

/// A batch after analysis, on its way to the indexer.
enum Analysed {
    Batch {
        source: String,
        /// Mentions to index, with their topics (or from a keep-all source).
        mentions: Vec<ScoredMention>,
        /// Every new mention of the batch, indexed or not, to remember as seen.
        seen: Vec<SeenRow>,
        checkpoint: Option<Checkpoint>,
        deletes: Vec<MentionId>,
        ack: Option<(oneshot::Sender<BatchReport>, BatchReport)>,
    },
    Flush(oneshot::Sender<Result<(), String>>),
    Prune(DateTime<Utc>, oneshot::Sender<Result<(), String>>),
    Rebuild(RebuildStep),
}

/// The running ingest stage. Send batches, flush to force a commit, shut down to drain.
pub struct Pipeline {
    tx: mpsc::Sender<Msg>,
    rebuilder: crate::reindex::Rebuilder,
    analyser: std::thread::JoinHandle<Result<(), PipelineError>>,
    indexer: std::thread::JoinHandle<Result<(), PipelineError>>,
    index: Arc<MentionIndex>,
    state: Arc<StateStore>,
    explainer: crate::explain::Explainer,
}

impl Pipeline {
    /// Opens the index and state store in `data_dir` and starts the ingest threads;
    /// mentions are tagged with the topics of the rule set in force in `rules` when their
    /// batch is analysed.
    pub fn start(
        config: &Config,
        data_dir: &Path,
        rules: Arc<ActiveRules>,
    ) -> Result<Pipeline, PipelineError> {
        Pipeline::start_with_hook(config, data_dir, rules, None)
    }

    /// As [`start`](Self::start), calling `on_commit` with the summaries of the
    /// mentions each commit made durable and searchable (the alert router's input).
    pub fn start_with_hook(
        config: &Config,
        data_dir: &Path,
        rules: Arc<ActiveRules>,
        on_commit: Option<CommitHook>,
    ) -> Result<Pipeline, PipelineError> {
        let dir_error = |source| PipelineError::DataDir {
            path: data_dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(dir_error)?;
        crate::reindex::finish_swap(data_dir)?;
        let state = Arc::new(StateStore::open(&data_dir.join("state.db"))?);
        let pruned = state.prune_seen(Utc::now().timestamp() - SEEN_RETENTION_DAYS * 86_400)?;
        if pruned > 0 {
            info!(pruned, "seen set pruned");
        }
        let index = Arc::new(MentionIndex::open(
            &data_dir.join("index"),
            &config.langs(),
        )?);
        // Two indexing threads on two cores measured best in the end-to-end benchmark
        // (one thread was 4% faster on a 100k import but 10-20% slower there).
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(2);
        let writer = index.writer(config.index.writer_memory.0 as usize, threads)?;
        METRICS.index_docs.set(index.num_docs() as i64);
        let (tx, rx) = mpsc::channel(QUEUE_BATCHES);
        let (analysed_tx, analysed_rx) = std::sync::mpsc::sync_channel(ANALYSED_BATCHES);
        let analyser_rules = rules.clone();
        let scorer = Arc::new(Scorer::new(config));
        let explainer = crate::explain::Explainer::new(scorer.clone());
        let analyser = Analyser {
            scorer,
            rules,
            state: state.clone(),
            in_flight: InFlight::new(config.index.commit_docs),
        };
        let mut index_seq = index.last_commit_seq();
        let mut state_seq = state.commit_seq()?;
        if index_seq == 0 && index.num_docs() == 0 && state_seq > 0 {
            // The index was deleted and the state store kept: forget what it held, so
            // its mentions can come in again.
            let forgotten = state.forget_index()?;
            warn!(
                forgotten,
                "new index beside an older state store: seen mentions and source checkpoints forgotten, so they can be indexed again"
            );
            (index_seq, state_seq) = (0, 0);
        }
        let replace_existing = index_seq != state_seq;
        if replace_existing {
            warn!(
                index_seq,
                state_seq,
                "index and state store disagree (a crash between commit and state write): replays replace documents by id"
            );
        }
        let reopen = Reopen {
            data_dir: data_dir.to_path_buf(),
            langs: config.langs(),
            memory: config.index.writer_memory.0 as usize,
            threads,
        };
        let indexer = Indexer {
            tee: None,
            reopen,
            commit_seq: index_seq.max(state_seq),
            replace_existing,
            index: index.clone(),
            state: state.clone(),
            writer: Some(writer),
            commit_interval: config.index.commit_interval.0,
            commit_docs: config.index.commit_docs,
            pending: Pending::default(),
            first_uncommitted: None,
            on_commit,
        };
        let analyser = std::thread::Builder::new()
            .name("lauscher-analyse".into())
            .spawn(move || analyser.run(rx, analysed_tx))
            .map_err(dir_error)?;
        let indexer = std::thread::Builder::new()
            .name("lauscher-index".into())
            .spawn(move || indexer.run(analysed_rx))
            .map_err(dir_error)?;
        let rebuilder = crate::reindex::Rebuilder::new(
            BatchSender { tx: tx.clone() },
            config,
            data_dir,
            analyser_rules,
        );
        Ok(Pipeline {
            tx,
            rebuilder,
            analyser,
            indexer,
            index,
            state,
            explainer,
        })
    }

    /// The index, for searches.
    pub fn index(&self) -> Arc<MentionIndex> {
        self.index.clone()
    }

    /// Explains loaded mentions with this pipeline's scorer.
    pub fn explainer(&self) -> crate::explain::Explainer {
        self.explainer.clone()
    }

    /// Rebuilds the index while this pipeline keeps serving and writing the old one
    /// ([`crate::reindex::Rebuilder`]). It sends to the pipeline like a
    /// [`BatchSender`]: drop it before [`Pipeline::shutdown`].
    pub fn rebuilder(&self) -> crate::reindex::Rebuilder {
        self.rebuilder.clone()
    }

    /// The state store.
    pub fn state(&self) -> Arc<StateStore> {
        self.state.clone()
    }

    /// A handle for sending batches from many tasks.
    pub fn sender(&self) -> BatchSender {
        BatchSender {
            tx: self.tx.clone(),
        }
    }

    /// Deletes the mentions published before `cutoff` and the seen rows first seen
    /// before it (retention), in the indexer's order with everything sent before, and
    /// waits for the commit.
    pub async fn prune(&self, cutoff: DateTime<Utc>) -> Result<(), PipelineError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Prune(cutoff, tx))
            .await
            .map_err(|_| PipelineError::Stopped)?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            _ => Err(PipelineError::Stopped),
        }
    }

    /// Commits everything sent so far and waits for it.
    pub async fn flush(&self) -> Result<(), PipelineError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Flush(tx))
            .await
            .map_err(|_| PipelineError::Stopped)?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            _ => Err(PipelineError::Stopped),
        }
    }

    /// Drains the queue, commits and stops the threads. Every sender must be dropped
    /// first, or this waits for them.
    pub async fn shutdown(self) -> Result<(), PipelineError> {
        drop(self.tx);
        self.rebuilder.cancel();
        drop(self.rebuilder);
        let (analyser, indexer) = (self.analyser, self.indexer);
        let (analysed, indexed) =
            tokio::task::spawn_blocking(move || (analyser.join(), indexer.join()))
                .await
                .map_err(|_| PipelineError::Stopped)?;
        // The indexer's error is the cause when both failed (the analyser then only
        // saw the indexer's channel close).
        indexed.map_err(|_| PipelineError::Stopped)??;
        analysed.map_err(|_| PipelineError::Stopped)?
    }
}

/// Sends batches to the pipeline; waits while the queue is full.
#[derive(Clone)]
pub struct BatchSender {
    tx: mpsc::Sender<Msg>,
}

impl BatchSender {
    /// Hands a rebuild step to the indexer, behind everything sent before.
    pub(crate) async fn rebuild_step(&self, step: RebuildStep) -> Result<(), PipelineError> {
        self.tx
            .send(Msg::Rebuild(step))
            .await
            .map_err(|_| PipelineError::Stopped)
    }
}

impl BatchSender {
    /// Queues `batch`, waiting while the queue is full (back-pressure, never a drop).
    pub async fn send(&self, batch: Batch) -> Result<(), PipelineError> {
        self.tx
            .send(Msg::Batch(batch))
            .await
            .map_err(|_| PipelineError::Stopped)?;
        METRICS
            .queue_depth
            .with_label_values(&["ingest"])
            .set((self.tx.max_capacity() - self.tx.capacity()) as i64);
        Ok(())
    }

    /// Queues `batch` from a thread outside the runtime (an import reader), waiting
    /// while the queue is full.
    pub fn blocking_send(&self, batch: Batch) -> Result<(), PipelineError> {
        self.tx
            .blocking_send(Msg::Batch(batch))
            .map_err(|_| PipelineError::Stopped)
    }
}

/// Mentions analysed but perhaps not yet committed, so duplicates among them are caught
/// before the state store knows them. Ids and content hashes are kept in two
/// generations of at most `capacity` ids each, SimHashes in a [`NearIndex`] of the same
/// size: a generation is forgotten only long after its mentions were committed (the
/// indexer commits every `commit_docs` mentions), so memory stays bounded on endless
/// imports.
struct InFlight {
    current: Generation,
    previous: Generation,
    near: NearIndex,
    capacity: usize,
}

#[derive(Default)]
struct Generation {
    ids: HashSet<u128>,
    /// (content hash, author hash) of every text.
    authored: HashSet<(u128, u64)>,
    /// Content hash → the first mention with that text (originals only).
    originals: HashMap<u128, MentionId>,
}

impl InFlight {
    fn new(commit_docs: usize) -> Self {
        let capacity = commit_docs.saturating_mul(2).max(50_000);
        InFlight {
            current: Generation::default(),
            previous: Generation::default(),
            near: NearIndex::new(capacity * 2),
            capacity,
        }
    }

    fn seen(&self, m: &Mention, author: u64, fp: &Fingerprint) -> Option<Seen> {
        let generations = [&self.current, &self.previous];
        if generations.iter().any(|g| g.ids.contains(&m.id.0)) {
            return Some(Seen::Duplicate(Duplicate::Id));
        }
        if !fp.is_dedupable() {
            return None;
        }
        if generations
            .iter()
            .any(|g| g.authored.contains(&(fp.content_hash, author)))
        {
            return Some(Seen::Duplicate(Duplicate::Content));
        }
        if self.near.contains_near(fp.simhash, author) {
            return Some(Seen::Duplicate(Duplicate::Near));
        }
        generations
            .iter()
            .find_map(|g| g.originals.get(&fp.content_hash))
            .map(|&id| Seen::RepostOf(id))
    }

    /// Remembers `m` (by `author`, reposting `repost_of`); returns its seen row for the
    /// state store.
    fn remember(
        &mut self,
        m: &Mention,
        author: u64,
        fp: &Fingerprint,
        repost_of: Option<MentionId>,
        now: i64,
    ) -> SeenRow {
        if self.current.ids.len() >= self.capacity {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.ids.insert(m.id.0);
        let fingerprint = fp.is_dedupable().then(|| {
            self.current.authored.insert((fp.content_hash, author));
            if repost_of.is_none() {
                self.current
                    .originals
                    .entry(fp.content_hash)
                    .or_insert(m.id);
            }
            self.near.insert(fp.simhash, author);
            (fp.content_hash, fp.simhash)
        });
        SeenRow {
            id: m.id,
            author,
            fingerprint,
            repost_of,
            first_seen: now,
        }
    }
}

/// Maps `f` over `items` in order, on all cores (rayon's pool) when there are enough
/// items to pay for the hand-off ([`PARALLEL_BATCH`]).
///
/// The pool's threads live as long as the process, so the per-thread stem and
/// lexicon caches stay warm from batch to batch; threads spawned per batch started
/// every batch with cold caches. A panic in `f` is re-raised here, loudly, rather
/// than losing mentions silently (analysis does not panic on any input we know of).
pub(crate) fn parallel_map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    use rayon::prelude::*;
    if items.len() < PARALLEL_BATCH || rayon::current_num_threads() < 2 {
        return items.into_iter().map(f).collect();
    }
    let f = &f;
    items.into_par_iter().map(f).collect()
}

/// The first ingest thread: dedupe and analysis.
struct Analyser {
    scorer: Arc<Scorer>,
    rules: Arc<ActiveRules>,
    state: Arc<StateStore>,
    in_flight: InFlight,
}

impl Analyser {
    fn run(
        mut self,
        mut rx: mpsc::Receiver<Msg>,
        tx: SyncSender<Analysed>,
    ) -> Result<(), PipelineError> {
        let result = (|| {
            while let Some(msg) = rx.blocking_recv() {
                METRICS
                    .queue_depth
                    .with_label_values(&["ingest"])
                    .set(rx.len() as i64);
                let out = match msg {
                    Msg::Batch(batch) => self.analyse(batch)?,
                    Msg::Flush(reply) => Analysed::Flush(reply),
                    Msg::Prune(cutoff, reply) => Analysed::Prune(cutoff, reply),
                    Msg::Rebuild(step) => Analysed::Rebuild(step),
                };
                tx.send(out).map_err(|_| PipelineError::Stopped)?;
            }
            Ok(())
        })();
        if let Err(e) = &result {
            error!(error = %e, "analysis stopped");
        }
        result
    }

    fn analyse(&mut self, batch: Batch) -> Result<Analysed, PipelineError> {
        let now = Utc::now().timestamp();
        let mut report = BatchReport::default();
        let fingerprinted = parallel_map(batch.mentions, |m| {
            let fp = Fingerprint::of(&m.text);
            let author = author_hash(&author_key(
                m.author.as_ref().map(|a| a.name.as_str()),
                m.url.as_deref(),
                &m.source,
            ));
            (m, author, fp)
        });
        let queries: Vec<_> = fingerprinted
            .iter()
            .map(|(m, author, fp)| SeenQuery {
                id: m.id,
                author: *author,
                fingerprint: fp.is_dedupable().then_some((fp.content_hash, fp.simhash)),
            })
            .collect();
        let committed = self.state.find_duplicates(&queries)?;
        let mut fresh = Vec::with_capacity(fingerprinted.len());
        let mut seen = Vec::with_capacity(fingerprinted.len());
        for ((mut m, author, fp), committed) in fingerprinted.into_iter().zip(committed) {
            // A duplicate in flight wins over a repost of a committed original.
            let verdict = match committed {
                Some(Seen::Duplicate(d)) => Some(Seen::Duplicate(d)),
                other => self.in_flight.seen(&m, author, &fp).or(other),
            };
            match verdict {
                Some(Seen::Duplicate(d)) => {
                    report.duplicates += 1;
                    METRICS
                        .mentions_duplicate_total
                        .with_label_values(&[&batch.source, d.as_str()])
                        .inc();
                    continue;
                }
                Some(Seen::RepostOf(original)) if original != m.id => {
                    m.repost_of.get_or_insert(original);
                }
                _ => {}
            }
            seen.push(self.in_flight.remember(&m, author, &fp, m.repost_of, now));
            fresh.push((m, fp));
        }
        let scorer = &self.scorer;
        let rules = self.rules.get();
        let mut mentions = parallel_map(fresh, |(m, fp)| scorer.score(m, &fp, &rules));
        let before = mentions.len();
        if !batch.keep_all {
            mentions.retain(|s| !s.topics.is_empty());
            // The seen set holds what was indexed: an unmatched mention comes in again
            // when it comes again (a new rule, `--keep-all`).
            if mentions.len() < before {
                let kept: HashSet<u128> = mentions.iter().map(|s| s.mention.id.0).collect();
                seen.retain(|r| kept.contains(&r.id.0));
            }
        }
        report.unmatched = before - mentions.len();
        report.indexed = mentions.len();
        if report.unmatched > 0 {
            METRICS
                .mentions_unmatched_total
                .with_label_values(&[&batch.source])
                .inc_by(report.unmatched as u64);
        }
        Ok(Analysed::Batch {
            source: batch.source,
            mentions,
            seen,
            checkpoint: batch.checkpoint,
            deletes: batch.deletes,
            ack: batch.ack.map(|a| (a, report)),
        })
    }
}

/// What the next commit will record.
#[derive(Default)]
struct Pending {
    seen: Vec<SeenRow>,
    checkpoints: HashMap<String, Checkpoint>,
    acks: Vec<(oneshot::Sender<BatchReport>, BatchReport)>,
    indexed: HashMap<(String, String), u64>,
    added: usize,
    summaries: Vec<MentionSummary>,
}

/// What the indexer needs to open the index again after a rebuild's swap.
struct Reopen {
    data_dir: std::path::PathBuf,
    langs: Vec<lauscher_model::Lang>,
    memory: usize,
    threads: usize,
}

/// The second ingest thread: the index writer and the commits.
struct Indexer {
    /// While a rebuild runs: where every change is copied.
    tee: Option<std::sync::mpsc::Sender<Change>>,
    reopen: Reopen,
    /// Sequence number of the last index commit; stored with it and in the state store.
    commit_seq: u64,
    /// Delete documents with the same id before adding. Only needed after a crash
    /// between an index commit and its state write: then the index holds mentions the
    /// seen set does not know, and their replay must replace, not duplicate, them.
    /// Otherwise every mention reaching the indexer is new (dedupe dropped known ids),
    /// and skipping the delete saves tantivy a term lookup per document per segment.
    replace_existing: bool,
    index: Arc<MentionIndex>,
    state: Arc<StateStore>,
    writer: Option<MentionWriter>,
    commit_interval: Duration,
    commit_docs: usize,
    pending: Pending,
    first_uncommitted: Option<Instant>,
    on_commit: Option<CommitHook>,
}

impl Indexer {
    fn run(mut self, rx: Receiver<Analysed>) -> Result<(), PipelineError> {
        let result = self.run_loop(&rx);
        if let Err(e) = &result {
            error!(error = %e, "indexing stopped");
        }
        // Dropping the receiver makes the analyser fail fast instead of hanging.
        drop(rx);
        if let Some(writer) = self.writer.take()
            && let Err(e) = writer.close()
        {
            error!(error = %e, "index writer close failed");
        }
        result
    }

    fn run_loop(&mut self, rx: &Receiver<Analysed>) -> Result<(), PipelineError> {
        loop {
            let msg = match self.first_uncommitted {
                Some(first) => {
                    let remaining =
                        (first + self.commit_interval).saturating_duration_since(Instant::now());
                    match rx.recv_timeout(remaining) {
                        Ok(msg) => Some(msg),
                        Err(RecvTimeoutError::Timeout) => {
                            self.commit("timeout")?;
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => None,
                    }
                }
                None => rx.recv().ok(),
            };
            match msg {
                Some(Analysed::Batch {
                    source,
                    mentions,
                    seen,
                    checkpoint,
                    deletes,
                    ack,
                }) => {
                    self.add(source, mentions, seen, checkpoint, &deletes, ack)?;
                    if self.pending.added >= self.commit_docs
                        || self.pending.seen.len() >= self.commit_docs
                    {
                        self.commit("num_docs")?;
                    }
                }
                Some(Analysed::Flush(reply)) => {
                    let r = self.commit("flush");
                    let _ = reply.send(r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                    r?;
                }
                Some(Analysed::Prune(cutoff, reply)) => {
                    let r = self.prune(cutoff);
                    let _ = reply.send(r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                    r?;
                }
                Some(Analysed::Rebuild(step)) => self.rebuild_step(step)?,
                None => {
                    self.commit("drained")?;
                    return Ok(());
                }
            }
        }
    }

    fn add(
        &mut self,
        source: String,
        mentions: Vec<ScoredMention>,
        seen: Vec<SeenRow>,
        checkpoint: Option<Checkpoint>,
        deletes: &[MentionId],
        ack: Option<(oneshot::Sender<BatchReport>, BatchReport)>,
    ) -> Result<(), PipelineError> {
        let writer = self.writer.as_mut().ok_or(PipelineError::Stopped)?;
        let added = mentions.len();
        // Counted per batch (one source), so the metric keys are built once per topic.
        let mut by_topic: HashMap<&str, u64> = HashMap::new();
        for s in &mentions {
            writer.add(s, self.replace_existing)?;
            if self.on_commit.is_some() {
                self.pending.summaries.push(MentionSummary::of(s));
            }
            if s.topics.is_empty() {
                *by_topic.entry("none").or_default() += 1;
            }
            for t in &s.topics {
                *by_topic.entry(t).or_default() += 1;
            }
        }
        for (topic, n) in by_topic {
            *self
                .pending
                .indexed
                .entry((source.clone(), topic.to_owned()))
                .or_default() += n;
        }
        // After the adds: a post created and deleted in one batch is gone.
        for id in deletes {
            writer.delete(*id)?;
        }
        self.copy(move || Change::Add(mentions));
        if !deletes.is_empty() {
            self.copy(|| Change::Delete(deletes.to_vec()));
        }
        self.pending.added += added + deletes.len();
        self.pending.seen.extend(seen);
        if let Some(checkpoint) = checkpoint {
            self.pending.checkpoints.insert(source, checkpoint);
        }
        self.pending.acks.extend(ack);
        if self.first_uncommitted.is_none() {
            self.first_uncommitted = Some(Instant::now());
        }
        Ok(())
    }

    /// Deletes what retention no longer keeps, then commits.
    fn prune(&mut self, cutoff: DateTime<Utc>) -> Result<(), PipelineError> {
        let writer = self.writer.as_mut().ok_or(PipelineError::Stopped)?;
        writer.delete_published_before(cutoff)?;
        self.copy(|| Change::Prune(cutoff));
        // A delete is a change to commit, like an added mention.
        self.pending.added += 1;
        self.commit("retention")?;
        let forgotten = self.state.prune_seen(cutoff.timestamp())?;
        info!(%cutoff, forgotten, "retention applied");
        Ok(())
    }

    /// Copies a change to a running rebuild (a rebuild that went away stops it).
    fn copy(&mut self, change: impl FnOnce() -> Change) {
        if let Some(tee) = &self.tee
            && tee.send(change()).is_err()
        {
            warn!("index rebuild went away; no longer copying changes to it");
            self.tee = None;
        }
    }

    /// Takes a step of an online rebuild. Its failures are the rebuild's: they are
    /// answered to it, and ingest goes on with the index in force, unless the writer
    /// itself was lost.
    fn rebuild_step(&mut self, step: RebuildStep) -> Result<(), PipelineError> {
        match step {
            RebuildStep::Start { tee, reply } => {
                let r = self.commit("rebuild");
                if r.is_ok() {
                    self.tee = Some(tee);
                }
                let _ = reply.send(r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                r
            }
            RebuildStep::Abort => {
                self.tee = None;
                Ok(())
            }
            RebuildStep::Swap { ready, reply } => {
                let r = self.swap(&ready);
                let _ = reply.send(r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                match r {
                    Err(e) if self.writer.is_none() => Err(e),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Puts the rebuilt index in force: commits the old one, closes the tee with the
    /// last commit number, waits until the rebuild has committed the same, then swaps
    /// the directories and reopens. Ingest waits meanwhile (the rebuild's last changes
    /// and a commit: about a second).
    fn swap(&mut self, ready: &Receiver<Result<(), String>>) -> Result<(), PipelineError> {
        self.commit("rebuild")?;
        let tee = self.tee.take().ok_or_else(|| {
            PipelineError::Rebuild("the rebuild stopped receiving changes".into())
        })?;
        tee.send(Change::End(self.commit_seq))
            .map_err(|_| PipelineError::Rebuild("the rebuild went away".into()))?;
        drop(tee);
        match ready.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(PipelineError::Rebuild(e)),
            Err(_) => return Err(PipelineError::Rebuild("the rebuild went away".into())),
        }
        if let Some(writer) = self.writer.take() {
            writer.close()?;
        }
        let swapped = crate::reindex::swap_dirs(&self.reopen.data_dir);
        // Whatever the swap did, write into what is at `index/` now.
        let dir = crate::reindex::index_dir(&self.reopen.data_dir);
        let fresh = MentionIndex::open(&dir, &self.reopen.langs)?;
        let writer = fresh.writer(self.reopen.memory, self.reopen.threads)?;
        self.index.replace(fresh);
        self.writer = Some(writer);
        METRICS.index_docs.set(self.index.num_docs() as i64);
        swapped.map(|_| ())
    }

    fn commit(&mut self, trigger: &'static str) -> Result<(), PipelineError> {
        let p = std::mem::take(&mut self.pending);
        self.first_uncommitted = None;
        if p.added == 0 && p.seen.is_empty() && p.checkpoints.is_empty() && p.acks.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        if p.added > 0 {
            let writer = self.writer.as_mut().ok_or(PipelineError::Stopped)?;
            let seq = self.commit_seq + 1;
            writer.commit(seq)?;
            self.commit_seq = seq;
            self.index.reload()?;
        }
        let checkpoints: Vec<(String, Checkpoint)> = p.checkpoints.into_iter().collect();
        self.state.record_commit(
            &checkpoints,
            &p.seen,
            Utc::now().timestamp(),
            self.commit_seq,
        )?;
        for ((source, topic), n) in p.indexed {
            METRICS
                .mentions_indexed_total
                .with_label_values(&[&source, &topic])
                .inc_by(n);
        }
        IndexCommitted {
            added: p.added,
            docs: self.index.num_docs(),
            trigger,
            elapsed: started.elapsed(),
        }
        .emit();
        if let Some(hook) = self.on_commit.as_mut()
            && !p.summaries.is_empty()
        {
            hook(p.summaries);
        }
        for (ack, report) in p.acks {
            let _ = ack.send(report);
        }
        Ok(())
    }
}
