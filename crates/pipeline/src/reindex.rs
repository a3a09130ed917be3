//! Rebuilding the index from its own stored mentions: a new layout, a better scorer or
//! changed rules, without the original sources.
//!
//! ```text
//! index/ (any layout, read-only) ─MentionDump─▶ analyse (current scorer and rules, all
//!   cores) ─▶ index.reindex/ (current layout) ─commit─▶ swap: index/ → index.previous/,
//!   index.reindex/ → index/
//! ```
//!
//! Decisions:
//! - Every stored mention is kept, matched by a topic now or not: reindexing re-analyses
//!   what was accepted, it does not filter it again. Topics are the current rules'.
//! - The stored language is passed on as the mention's language hint: it was either the
//!   source's (which beats detection) or detection's, and a new scorer rarely changes it.
//! - Ids stay, so the state store's seen set and checkpoints stay valid; the new index's
//!   commit carries the state store's commit number, so the pipeline sees them agree.
//! - The old index is kept as `index.previous/` until the next reindex (delete it when
//!   the new one serves well). The swap is two renames; [`finish_swap`] completes one a
//!   crash interrupted, and every open of the data directory calls it.
//! - Offline ([`reindex`], no daemon running): the reindex holds the old index's writer
//!   lock from start to swap, so a daemon started during it fails on the lock with a
//!   message instead of writing mentions the new index would not have. The lock is
//!   released just before the two renames (it lives in the directory being renamed): a
//!   daemon started in that instant would write into the index about to become
//!   `index.previous/`. This is the way for an index of an older layout, which no
//!   daemon opens for writing.
//! - Online ([`Rebuilder`], under a running daemon): the daemon keeps serving and
//!   writing the old index while the new one is built from a snapshot of it, every
//!   change the daemon makes meanwhile (mentions added, deleted, pruned) is copied to
//!   the new one, and the indexer swaps the two at a commit boundary
//!   (`POST /api/v1/index/rebuild`; `lauscher reindex` finds the daemon holding the
//!   lock and asks it to).
//!
//! Cost: a doc store read per mention plus the analysis and indexing an import pays.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lauscher_config::Config;
use lauscher_index::{IndexError, MentionDump, MentionIndex, MentionWriter, SegmentSet};
use lauscher_model::{Mention, ScoredMention};
use lauscher_query::{ActiveRules, RuleSet};
use lauscher_scorer::Scorer;
use lauscher_state::StateStore;
use lauscher_text::Fingerprint;
use tracing::{info, warn};

use crate::PipelineError;
use crate::ingest::{BatchSender, Change, RebuildStep, parallel_map};

/// Mentions analysed together (on all cores).
const BATCH: usize = 2_000;

/// What a reindex did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReindexSummary {
    /// Mentions rebuilt.
    pub mentions: u64,
    /// The old index's layout version.
    pub from_layout: u64,
    /// Where the old index now is.
    pub previous: PathBuf,
    /// How long it took.
    pub elapsed: Duration,
}

/// The index directory of `data_dir`.
pub fn index_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("index")
}

pub(crate) fn building_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("index.reindex")
}

fn previous_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("index.previous")
}

/// Completes a swap a crash interrupted between its two renames: no `index/`, a
/// complete `index.reindex/`. Does nothing otherwise.
pub fn finish_swap(data_dir: &Path) -> Result<(), PipelineError> {
    let (index, building) = (index_dir(data_dir), building_dir(data_dir));
    if !index.exists() && building.join("meta.json").exists() {
        warn!(path = %building.display(), "completing an interrupted reindex swap");
        std::fs::rename(&building, &index).map_err(|source| PipelineError::DataDir {
            path: building.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// A new, empty index in `index.reindex/` (an unfinished one there is removed) and its
/// writer; the index handle merges the offline rebuild's segments at its end.
fn open_building(
    config: &Config,
    data_dir: &Path,
) -> Result<(MentionIndex, MentionWriter), PipelineError> {
    let building = building_dir(data_dir);
    if building.exists() {
        info!(path = %building.display(), "removing an unfinished reindex");
        std::fs::remove_dir_all(&building).map_err(|source| PipelineError::DataDir {
            path: building.display().to_string(),
            source,
        })?;
    }
    let index = MentionIndex::open(&building, &config.langs())?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(2);
    let writer = index.writer(config.index.writer_memory.0 as usize, threads)?;
    Ok((index, writer))
}

/// Analyses `batch` with the current scorer and rules, on all cores.
fn analyse(scorer: &Scorer, rules: &RuleSet, batch: Vec<Mention>) -> Vec<ScoredMention> {
    parallel_map(batch, |m| {
        let fp = Fingerprint::of(&m.text);
        scorer.score(m, &fp, rules)
    })
}

/// Hands `dump`'s mentions to `each` in batches of [`BATCH`] (the last one shorter).
fn in_batches(
    dump: &MentionDump,
    mut each: impl FnMut(Vec<Mention>) -> Result<(), PipelineError>,
) -> Result<(), PipelineError> {
    let mut batch: Vec<Mention> = Vec::with_capacity(BATCH);
    dump.for_each(|m| {
        batch.push(m);
        if batch.len() >= BATCH {
            each(std::mem::take(&mut batch))?;
        }
        Ok::<(), PipelineError>(())
    })?;
    each(batch)
}

/// The swap: the old index steps aside to `index.previous/` (replacing an older one),
/// the rebuilt one takes its name. Returns where the old one is.
pub(crate) fn swap_dirs(data_dir: &Path) -> Result<PathBuf, PipelineError> {
    let (old_dir, building, previous) = (
        index_dir(data_dir),
        building_dir(data_dir),
        previous_dir(data_dir),
    );
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| PipelineError::DataDir { path, source }
    };
    if previous.exists() {
        std::fs::remove_dir_all(&previous).map_err(io(&previous))?;
    }
    std::fs::rename(&old_dir, &previous).map_err(io(&old_dir))?;
    std::fs::rename(&building, &old_dir).map_err(io(&building))?;
    Ok(previous)
}

/// Rebuilds `data_dir`'s index with the current layout, scorer and `rules`; calls
/// `progress(done, total)` after every batch.
pub fn reindex(
    config: &Config,
    data_dir: &Path,
    rules: Arc<ActiveRules>,
    mut progress: impl FnMut(u64, u64),
) -> Result<ReindexSummary, PipelineError> {
    let started = Instant::now();
    finish_swap(data_dir)?;
    let old_dir = index_dir(data_dir);
    if !old_dir.join("meta.json").exists() {
        return Err(PipelineError::Index(IndexError::Directory {
            path: old_dir.display().to_string(),
            detail: "no index to rebuild".into(),
        }));
    }
    let dump = MentionDump::open(&old_dir)?;
    let lock = dump.hold_writer_lock()?;
    let total = dump.len();
    let state = StateStore::open(&data_dir.join("state.db"))?;
    let commit_seq = state.commit_seq()?;
    let (building, mut writer) = open_building(config, data_dir)?;
    let scorer = Scorer::new(config);
    let rule_set = rules.get();
    let mut done = 0u64;
    let mut flush = |batch: Vec<Mention>, done: &mut u64| -> Result<(), PipelineError> {
        let n = batch.len() as u64;
        for s in &analyse(&scorer, &rule_set, batch) {
            writer.add(s, false)?;
        }
        *done += n;
        progress(*done, total);
        Ok(())
    };
    in_batches(&dump, |batch| flush(batch, &mut done))?;
    writer.commit(commit_seq)?;
    writer.close()?;
    // A rebuild is an import into a fresh index: its segments are merged likewise. A
    // failed merge leaves the rebuilt index whole, only larger.
    if let Err(e) = building.merge_since(&SegmentSet::default()) {
        warn!(error = %e, "the rebuilt index's segments were not merged");
    }
    drop(building);
    let from_layout = dump.layout();
    drop(dump);
    drop(lock);
    let previous = swap_dirs(data_dir)?;
    info!(mentions = done, "reindex complete");
    Ok(ReindexSummary {
        mentions: done,
        from_layout,
        previous,
        elapsed: started.elapsed(),
    })
}

/// What an online rebuild is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RebuildState {
    /// None has run since the daemon started.
    #[default]
    Idle,
    /// One is running.
    Running,
    /// The last one put its index in force.
    Done,
    /// The last one failed; the old index stayed in force.
    Failed,
}

/// Where an online rebuild is.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct RebuildStatus {
    /// What it is doing.
    pub state: RebuildState,
    /// Mentions of the snapshot rebuilt so far.
    pub done: u64,
    /// Mentions in the snapshot.
    pub total: u64,
    /// Changes the daemon made meanwhile, copied to the new index.
    pub copied: u64,
    /// Start (RFC 3339).
    pub started_at: Option<String>,
    /// End (RFC 3339).
    pub finished_at: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Rebuilds the index of a running pipeline without stopping it: the old index keeps
/// serving searches and taking new mentions until the new one is complete.
///
/// 1. The indexer commits and from then on copies every change it makes to the
///    rebuild (a channel; the rebuild takes them between its batches).
/// 2. The rebuild reads the old index's latest commit ([`MentionDump`]), re-analyses it
///    with the current scorer and rules into `index.reindex/`, and applies the copied
///    changes: an added mention replaces the one with its id, a mention added or
///    deleted meanwhile is skipped in the snapshot, a retention cutoff applies to both.
/// 3. The indexer commits, sends its commit number and stops copying; the rebuild
///    applies the rest and commits with that number; the indexer swaps the
///    directories (as [`reindex`]) and puts the new index in force
///    ([`MentionIndex::replace`]): searches running meanwhile finish on the old one.
///
/// One rebuild at a time. A failed rebuild leaves the old index in force and removes
/// nothing but its own unfinished directory (at the next rebuild).
#[derive(Clone)]
pub struct Rebuilder {
    sender: BatchSender,
    config: Arc<Config>,
    data_dir: PathBuf,
    rules: Arc<ActiveRules>,
    status: Arc<std::sync::Mutex<RebuildStatus>>,
    /// Set when the pipeline shuts down: a running rebuild stops at its next batch.
    cancelled: Arc<std::sync::atomic::AtomicBool>,
}

impl Rebuilder {
    pub(crate) fn new(
        sender: BatchSender,
        config: &Config,
        data_dir: &Path,
        rules: Arc<ActiveRules>,
    ) -> Rebuilder {
        Rebuilder {
            sender,
            config: Arc::new(config.clone()),
            data_dir: data_dir.to_path_buf(),
            rules,
            status: Arc::default(),
            cancelled: Arc::default(),
        }
    }

    /// Stops a running rebuild at its next batch (the pipeline is shutting down).
    pub(crate) fn cancel(&self) {
        self.cancelled
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Where the current or last rebuild is.
    pub fn status(&self) -> RebuildStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut RebuildStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Starts a rebuild in the background; `false` when one is running.
    pub fn start(&self) -> bool {
        {
            let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
            if status.state == RebuildState::Running {
                return false;
            }
            *status = RebuildStatus {
                state: RebuildState::Running,
                started_at: Some(chrono::Utc::now().to_rfc3339()),
                ..RebuildStatus::default()
            };
        }
        let this = self.clone();
        tokio::spawn(async move {
            let result = this.run().await;
            if let Err(e) = &result {
                warn!(error = %e, "index rebuild failed; the old index stays in force");
            }
            this.update(|s| {
                s.finished_at = Some(chrono::Utc::now().to_rfc3339());
                match result {
                    Ok(n) => {
                        s.state = RebuildState::Done;
                        s.done = n;
                    }
                    Err(e) => {
                        s.state = RebuildState::Failed;
                        s.error = Some(e.to_string());
                    }
                }
            });
        });
        true
    }

    /// Runs a rebuild to its end; returns the mentions of the snapshot rebuilt.
    async fn run(&self) -> Result<u64, PipelineError> {
        let (tee, changes) = std::sync::mpsc::channel();
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.sender
            .rebuild_step(RebuildStep::Start { tee, reply })
            .await?;
        answer
            .await
            .map_err(|_| PipelineError::Stopped)?
            .map_err(PipelineError::Rebuild)?;
        let this = self.clone();
        let built = tokio::task::spawn_blocking(move || this.build(changes)).await;
        let built = match built {
            Ok(Ok(b)) => b,
            other => {
                let _ = self.sender.rebuild_step(RebuildStep::Abort).await;
                return Err(match other {
                    Ok(Err(e)) => e,
                    _ => PipelineError::Rebuild("the rebuild thread panicked".into()),
                });
            }
        };
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.sender
            .rebuild_step(RebuildStep::Swap { ready, reply })
            .await?;
        let done = built.done;
        let this = self.clone();
        let finished = tokio::task::spawn_blocking(move || {
            let r = this.finish(built);
            let _ = ready_tx.send(r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
            r
        })
        .await
        .map_err(|_| PipelineError::Rebuild("the rebuild thread panicked".into()))?;
        finished?;
        answer
            .await
            .map_err(|_| PipelineError::Stopped)?
            .map_err(PipelineError::Rebuild)?;
        info!(mentions = done, "online index rebuild complete");
        Ok(done)
    }

    /// Builds the new index from the old one's snapshot, taking copied changes between
    /// batches.
    fn build(&self, changes: std::sync::mpsc::Receiver<Change>) -> Result<Built, PipelineError> {
        let mut b = Built {
            // Not merged at the end, unlike the offline rebuild: ingest waits for the
            // swap, so the merge policy takes care of the segments later.
            writer: open_building(&self.config, &self.data_dir)?.1,
            changes,
            touched: std::collections::HashSet::new(),
            cutoff: None,
            end: None,
            done: 0,
        };
        let dump = MentionDump::open(&index_dir(&self.data_dir))?;
        let total = dump.len();
        self.update(|s| s.total = total);
        let scorer = Scorer::new(&self.config);
        let rule_set = self.rules.get();
        let flush = |batch: Vec<Mention>, b: &mut Built| -> Result<(), PipelineError> {
            let copied = b.take_changes(false)?;
            let n = batch.len() as u64;
            let fresh: Vec<Mention> = batch
                .into_iter()
                .filter(|m| {
                    !b.touched.contains(&m.id) && b.cutoff.is_none_or(|c| m.published_at >= c)
                })
                .collect();
            for s in &analyse(&scorer, &rule_set, fresh) {
                b.writer.add(s, false)?;
            }
            b.done += n;
            let done = b.done;
            self.update(|s| {
                s.done = done;
                s.copied += copied;
            });
            Ok(())
        };
        in_batches(&dump, |batch| flush(batch, &mut b))?;
        Ok(b)
    }

    /// Applies the last copied changes, up to the indexer's end, and commits with its
    /// commit number.
    fn finish(&self, mut b: Built) -> Result<(), PipelineError> {
        let copied = b.take_changes(true)?;
        self.update(|s| s.copied += copied);
        let seq = b
            .end
            .ok_or_else(|| PipelineError::Rebuild("the indexer sent no end".into()))?;
        b.writer.commit(seq)?;
        b.writer.close()?;
        Ok(())
    }
}

/// An index being rebuilt online, with what it learnt from the copied changes.
struct Built {
    writer: MentionWriter,
    changes: std::sync::mpsc::Receiver<Change>,
    /// Mentions added or deleted by the daemon meanwhile: the snapshot's copy is stale.
    touched: std::collections::HashSet<lauscher_model::MentionId>,
    /// The latest retention cutoff applied meanwhile.
    cutoff: Option<chrono::DateTime<chrono::Utc>>,
    /// The indexer's last commit number, once it stopped copying.
    end: Option<u64>,
    /// Snapshot mentions read.
    done: u64,
}

impl Built {
    /// Applies the copied changes waiting (with `to_end`, all of them up to the
    /// indexer's end); returns how many.
    fn take_changes(&mut self, to_end: bool) -> Result<u64, PipelineError> {
        let mut n = 0;
        loop {
            let change = if to_end {
                match self.changes.recv() {
                    Ok(c) => c,
                    Err(_) => break,
                }
            } else {
                match self.changes.try_recv() {
                    Ok(c) => c,
                    Err(_) => break,
                }
            };
            n += 1;
            match change {
                Change::Add(mentions) => {
                    for s in &mentions {
                        self.touched.insert(s.mention.id);
                        self.writer.add(s, true)?;
                    }
                }
                Change::Delete(ids) => {
                    for id in ids {
                        self.touched.insert(id);
                        self.writer.delete(id)?;
                    }
                }
                Change::Prune(cutoff) => {
                    self.writer.delete_published_before(cutoff)?;
                    self.cutoff = Some(self.cutoff.map_or(cutoff, |c| c.max(cutoff)));
                }
                Change::End(seq) => {
                    self.end = Some(seq);
                    break;
                }
            }
        }
        Ok(n)
    }
}
