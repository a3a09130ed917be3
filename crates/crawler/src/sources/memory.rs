//! Mentions held in memory, handed out a batch per poll: a source for tests and for
//! programs that embed the pipeline, run by the same polling loop as every kind.
//!
//! Its checkpoint is the number of batches read, so after a restart it goes on from the
//! last committed batch, as a real source goes on from its cursor.

use lauscher_model::Mention;

use crate::error::FetchError;
use crate::source::{BoxFuture, Crawler, Poll, Poller};

/// A source reading from memory.
#[derive(Debug, Default)]
pub struct MemorySource {
    /// The batches, in order.
    pub batches: Vec<Vec<Mention>>,
}

impl Poller for MemorySource {
    fn poll<'a>(
        &'a self,
        _: &'a Crawler,
        checkpoint: &'a str,
    ) -> BoxFuture<'a, Result<Poll, FetchError>> {
        Box::pin(async move {
            let read: usize = checkpoint.parse().unwrap_or(0);
            let Some(batch) = self.batches.get(read) else {
                return Ok(Poll::default());
            };
            Ok(Poll {
                mentions: batch.clone(),
                checkpoint: Some((read + 1).to_string()),
                more: read + 1 < self.batches.len(),
                ..Poll::default()
            })
        })
    }
}
