//! The ingest pipeline, the sources that feed it and the push inbox.
//!
//! ```text
//! Source::run (polling, streaming), push ─Batch─▶ [bounded queue, 8] ─▶ analyser thread:
//!     fingerprint ─▶ dedupe (in flight + state store) ─▶ analyse (language, sentiment,
//!     topics; on all cores for large batches) ─▶ topic filter
//!   ─▶ [bounded queue, 2] ─▶ indexer thread: index add, deletes ─▶ commit (time, count, flush,
//!     drain) ─▶ reload readers ─▶ state: checkpoints + seen set ─▶ acknowledgements
//! ```
//!
//! Delivery is at-least-once with idempotent stages: the queue blocks when full (a slow
//! index stops fetching, nothing is dropped); a source's checkpoint and the seen set are
//! written only after the index commit holding its mentions, so a crash replays the
//! uncommitted batches. Both writes carry a commit number; when they disagree at start
//! (a crash between them), replays replace documents by id instead of adding them.

pub mod daemon;
pub mod explain;
pub mod import;
pub mod ingest;
pub mod polling;
pub mod push;
pub mod reindex;
pub mod robots_store;
pub mod source;
pub mod sources;
pub mod streaming;

pub use daemon::{PollObserver, run_sources, run_sources_observed};
pub use import::{ImportRecord, ImportSummary, import_jsonl};
pub use ingest::{Batch, BatchReport, BatchSender, CommitHook, Pipeline, PipelineError};
