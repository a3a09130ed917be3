//! The incident book: the newest incident of every stream (rule × topic), open or
//! recently resolved, which the router decides against. Live, it is loaded from the
//! state store at start; in a backtest it starts empty.
//!
//! Cost: one hash lookup per decision; at most one incident per stream is kept (a
//! closed one is replaced by the next, and the sink keeps history where it is wanted).

use std::collections::HashMap;

use crate::incident::{Incident, Status};

/// Which stream an incident belongs to: its rule id and topic.
pub type StreamKey = (String, String);

/// The newest incident per stream.
#[derive(Debug, Default)]
pub struct IncidentBook {
    by_stream: HashMap<StreamKey, Incident>,
}

impl IncidentBook {
    /// The newest incident of the stream `key`.
    pub fn get(&self, key: &StreamKey) -> Option<&Incident> {
        self.by_stream.get(key)
    }

    /// Keeps `incident` as the newest of its stream.
    pub fn insert(&mut self, incident: Incident) {
        let key = (incident.rule.clone(), incident.topic.clone());
        self.by_stream.insert(key, incident);
    }

    /// The incident with id `id`.
    pub fn by_id(&self, id: i64) -> Option<&Incident> {
        self.by_stream.values().find(|i| i.id == id)
    }

    /// Every incident in the book.
    pub fn iter(&self) -> impl Iterator<Item = &Incident> {
        self.by_stream.values()
    }

    /// The incidents not resolved yet (acknowledged ones included).
    pub fn unresolved(&self) -> impl Iterator<Item = &Incident> {
        self.iter().filter(|i| i.status != Status::Resolved)
    }

    /// The streams whose incident is open, for the clock to advance.
    pub fn open_streams(&self) -> Vec<StreamKey> {
        self.by_stream
            .iter()
            .filter(|(_, i)| i.is_open())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// How many incidents the book holds.
    pub fn len(&self) -> usize {
        self.by_stream.len()
    }

    /// Whether the book is empty.
    pub fn is_empty(&self) -> bool {
        self.by_stream.is_empty()
    }

    /// Every incident, the book given up.
    pub fn into_incidents(self) -> Vec<Incident> {
        self.by_stream.into_values().collect()
    }
}
