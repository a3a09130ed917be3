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
//! - The daemon must not be writing meanwhile: the reindex holds the old index's writer
//!   lock from start to swap, so a daemon started during it fails on the lock with a
//!   message instead of writing mentions the new index would not have, and a reindex
//!   started under a running daemon fails the same way before doing any work.
//!   The lock is released just before the two renames (it lives in the directory being
//!   renamed): a daemon started in that instant would write into the index about to
//!   become `index.previous/`.
//!
//! Cost: a doc store read per mention plus the analysis and indexing an import pays.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lauscher_config::Config;
use lauscher_index::{IndexError, MentionDump, MentionIndex};
use lauscher_model::Mention;
use lauscher_query::ActiveRules;
use lauscher_scorer::Scorer;
use lauscher_state::StateStore;
use lauscher_text::Fingerprint;
use tracing::{info, warn};

use crate::PipelineError;
use crate::ingest::parallel_map;

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

fn building_dir(data_dir: &Path) -> PathBuf {
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
    let mut writer = index.writer(config.index.writer_memory.0 as usize, threads)?;
    let scorer = Scorer::new(config);
    let rule_set = rules.get();
    let mut done = 0u64;
    let mut batch: Vec<Mention> = Vec::with_capacity(BATCH);
    let mut flush = |batch: Vec<Mention>, done: &mut u64| -> Result<(), PipelineError> {
        let n = batch.len() as u64;
        let scored = parallel_map(batch, |m| {
            let fp = Fingerprint::of(&m.text);
            scorer.score(m, &fp, &rule_set)
        });
        for s in &scored {
            writer.add(s, false)?;
        }
        *done += n;
        progress(*done, total);
        Ok(())
    };
    dump.for_each(|m| {
        batch.push(m);
        if batch.len() >= BATCH {
            flush(std::mem::take(&mut batch), &mut done)?;
        }
        Ok::<(), PipelineError>(())
    })?;
    flush(batch, &mut done)?;
    writer.commit(commit_seq)?;
    writer.close()?;
    drop(index);
    let from_layout = dump.layout();
    drop(dump);
    drop(lock);
    // The swap: the old index steps aside, the new one takes its name.
    let previous = previous_dir(data_dir);
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| PipelineError::DataDir { path, source }
    };
    if previous.exists() {
        std::fs::remove_dir_all(&previous).map_err(io(&previous))?;
    }
    std::fs::rename(&old_dir, &previous).map_err(io(&old_dir))?;
    std::fs::rename(&building, &old_dir).map_err(io(&building))?;
    info!(mentions = done, "reindex complete");
    Ok(ReindexSummary {
        mentions: done,
        from_layout,
        previous,
        elapsed: started.elapsed(),
    })
}
