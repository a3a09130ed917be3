//! The ingest pipeline and the daemon that runs it.
//!
//! ```text
//! FeedSource::poll ─Batch─▶ [bounded queue] ─▶ Ingestor thread:
//!     fingerprint ─▶ dedupe (pending set + state store) ─▶ analyse (language, sentiment,
//!     topics; parallel for large batches) ─▶ topic filter ─▶ index upsert
//!     commit (time, count, flush, drain) ─▶ reload readers ─▶ state: cursors + seen set
//! ```
//!
//! Delivery is at-least-once with idempotent stages: the queue blocks when full (a slow
//! index stops fetching, nothing is dropped); a source's cursor and the seen set are
//! written only after the index commit holding its mentions, so a crash replays the
//! uncommitted batches, and the index upsert (keyed by mention id) absorbs the replay.

pub mod daemon;
pub mod import;
pub mod ingest;
pub mod robots_store;

pub use daemon::{SourceRunner, run_sources};
pub use import::{ImportRecord, ImportSummary, import_jsonl};
pub use ingest::{Batch, BatchReport, BatchSender, Pipeline, PipelineError};
